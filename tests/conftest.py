"""Shared fixtures: building sites, serving a folder over HTTP, a browser.

Browser tests use Debian's Chromium through Playwright. They fail, never
skip, when it is missing: CI installs it (see .ci/run).
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

# Every build the tests run, here and in the commands they start, checks that the groups it
# keeps unmade (their sources unchanged) are as the last build made them (build.CHECK_UNREACHED).
os.environ["DOSSIER_CHECK_UNREACHED"] = "1"

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def published_pages(out: Path) -> list[Path]:
    """The HTML pages of an output that a host serves: Dossier's own hidden files (.dossier-*)
    are not uploaded (docs/publishing.md)."""
    return sorted(p for p in out.rglob("*.html") if not p.relative_to(out).parts[0].startswith(".dossier-"))


def run_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """Run `python build.py ARGS` as a user would, capturing its output."""
    return subprocess.run([sys.executable, str(REPO / "build.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture
def demo_copy(tmp_path: Path) -> Path:
    """A private copy of the demo dossier at the repo root."""
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(REPO / "site.yaml", site)
    shutil.copytree(REPO / "content", site / "content")
    return site


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_root(tmp_path: Path):
    """Serve a folder on 127.0.0.1 (free port). Yields a function(folder, prefix) -> base URL.

    With a prefix such as "some/path/", the folder is served under that
    sub-path, as a host would publish a site in a subfolder.
    """
    servers = []

    def serve(folder: Path, prefix: str = "") -> str:
        root = folder
        if prefix:
            root = tmp_path / "http-root"
            target = root / prefix.strip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(folder.resolve(), target_is_directory=True)
        handler = functools.partial(_QuietHandler, directory=str(root))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/{prefix.strip('/') + '/' if prefix else ''}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Chromium is missing: apt-get install -y chromium (see .ci/run)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    pg = context.new_page()
    pg.errors = []  # uncaught page errors and CSP violations, for assertions
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    yield pg
    context.close()
