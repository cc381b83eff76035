"""`serve`: the real CLI in a subprocess, talked to over HTTP, its event stream and Chromium.

Every wait polls with a deadline; nothing relies on a fixed sleep.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import markupsafe
import pytest

from conftest import REPO, run_cli
from dossier.build import build
from dossier.serve import ChangeQueue, LiveState, SiteWatcher, WritingRoom, locate, open_server
from dossier.serve import _changed_words as changed_words
from dossier.serve import _stop_on_signals as serve_stop_on_signals

pytestmark = pytest.mark.timeout(120)

# The demo article these tests edit: one with claims, so that it ties into the rest.
SLUG = "moscow-ombudsman-account"
ARTICLE = f"/articles/{SLUG}/"
WAIT = 30  # seconds; generous for a loaded CI machine, never waited out when things work


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float = WAIT, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Served:
    """`python build.py serve SITE --port P` running; its output collected line by line."""

    def __init__(self, site: Path, *options: str, env: dict | None = None):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, str(REPO / "build.py"), "serve", str(site), "--port", str(self.port), *options],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
            env={**os.environ, **(env or {})})
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        url = self.wait_for_line(r"serving at (http://127\.0\.0\.1:\d+/)").group(1)
        assert url == f"http://127.0.0.1:{self.port}/"
        self.url = url
        self.workdir = Path(self.wait_for_line(r"into (\S+) \(removed on exit\)").group(1))

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def mark(self) -> int:
        return len(self.lines)

    def wait_for_line(self, pattern: str, since: int = 0, timeout: float = WAIT) -> re.Match:
        def found():
            assert self.proc.poll() is None or any(re.search(pattern, l) for l in self.lines), \
                f"serve exited ({self.proc.returncode}):\n{self.output}"
            return next((m for l in self.lines[since:] if (m := re.search(pattern, l))), None)
        return wait_until(found, timeout, f"{pattern!r} in the output:\n{self.output}")

    def get(self, path: str) -> tuple[int, dict[str, str], str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=WAIT)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode("utf-8")
        finally:
            conn.close()

    def stop(self, sig: int = signal.SIGINT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"serve did not stop on signal {sig}:\n{self.output}")
        self._reader.join(timeout=WAIT)  # its last lines, still in the pipe when it exited
        return code


class EventStream:
    """A raw client of /__dossier/events: every event as (name, data)."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.sock.sendall(f"GET /__dossier/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                          "Accept: text/event-stream\r\n\r\n".encode())
        self.status_line = ""
        self.events: list[tuple[str, dict]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.sock.makefile("r", encoding="utf-8", newline="\n")
        try:
            self.status_line = stream.readline().strip()
            while stream.readline().strip():  # headers
                pass
            name, data = "message", []
            for line in stream:
                line = line.rstrip("\r\n")
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
                elif not line and data:
                    self.events.append((name, json.loads("\n".join(data))))
                    name, data = "message", []
        except OSError:
            pass

    def wait_for(self, name: str, since: int = 0, timeout: float = WAIT) -> dict:
        found = wait_until(lambda: next((d for n, d in self.events[since:] if n == name), None),
                          timeout, f"event {name!r}; got {self.events}")
        return found

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


@pytest.fixture
def served(demo_copy):
    running: list[Served] = []

    def start(*options: str, site: Path = demo_copy, env: dict | None = None) -> Served:
        s = Served(site, *options, env=env)
        running.append(s)
        return s

    yield start
    for s in running:
        if s.proc.poll() is None:
            assert s.stop() == 0, s.output


def sidecar(site: Path, slug: str = SLUG) -> Path:
    return site / "content" / "articles" / f"{slug}.yaml"


def save(path: Path, content: str | bytes) -> None:
    """Save as editors do: a hidden temporary file renamed over the old one, in one step."""
    temp = path.with_name(f".{path.name}.saving")
    data = content.encode("utf-8") if isinstance(content, str) else content
    temp.write_bytes(data)
    os.replace(temp, path)


def title_html(site: Path) -> str:
    """The article's title as its page shows it (escaped as Jinja2 does)."""
    title = re.search(r"(?m)^title: (.*)$", sidecar(site).read_text(encoding="utf-8")).group(1)
    return str(markupsafe.escape(title.strip().strip("'\"")))


def set_title(site: Path, title: str) -> None:
    path = sidecar(site)
    text = re.sub(r"(?m)^title: .*$", f"title: {title}", path.read_text(encoding="utf-8"), count=1)
    save(path, text)


# -- serving ----------------------------------------------------------------------

def test_serves_the_build_like_a_web_server(served, demo_copy):
    s = served("--no-search")

    status, headers, body = s.get("/")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert '<script src="/__dossier/reload.js"' in body and "defer" in body
    assert headers["cache-control"] == "no-store"

    status, _, body = s.get(ARTICLE)  # a folder serves its index.html
    assert status == 200 and title_html(demo_copy) in body
    status, headers, _ = s.get(ARTICLE.rstrip("/"))
    assert status == 301 and headers["location"] == ARTICLE
    assert s.get(ARTICLE + "index.html")[0] == 200

    status, headers, _ = s.get("/assets/dossier.css")
    assert status == 200 and headers["content-type"].startswith("text/css")
    status, headers, body = s.get("/__dossier/reload.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript") and "EventSource" in body
    status, headers, _ = s.get("/__dossier/overlay.css")
    assert status == 200 and headers["content-type"].startswith("text/css")

    status, headers, body = s.get("/no/such/page/")
    assert status == 404 and headers["content-type"].startswith("text/html")
    assert "Page not found" in body and "/__dossier/reload.js" in body
    for hidden in ("/.dossier-cache", "/../site.yaml", "/%2e%2e/site.yaml", "/articles/../../site.yaml"):
        assert s.get(hidden)[0] == 404, hidden

    # The script is added on the way out, never written into the build on disk.
    built = s.workdir / "site"
    pages = list(built.rglob("*.html"))
    assert len(pages) > 10
    assert not any("__dossier" in p.read_text(encoding="utf-8") for p in pages)


def test_a_normal_build_has_no_trace_of_serve(tmp_path, demo_copy):
    out = tmp_path / "out"
    result = run_cli("build", str(demo_copy), "-o", str(out), "--no-search")
    assert result.returncode == 0, result.stderr
    files = [p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert not any(p.name in ("reload.js", "overlay.css") for p in files)
    assert not any(b"__dossier" in p.read_bytes() for p in files)


# -- the edit / break / fix cycle --------------------------------------------------

def test_edit_break_and_fix_while_serving(served, demo_copy):
    s = served("--no-search")
    events = EventStream(s.port)
    try:
        hello = events.wait_for("hello")
        assert events.status_line.endswith("200 OK") and hello["ok"] is True

        # A save without an edit changes nothing on the site: no reload.
        since, seen = s.mark(), len(events.events)
        save(sidecar(demo_copy), sidecar(demo_copy).read_bytes())
        s.wait_for_line(rf"{SLUG}\.yaml changed; rebuilt 0 pages in \d+ ms; no page changed", since)
        assert [name for name, _ in events.events[seen:]] == []

        # An edit: the page changes and a reload event arrives; the terminal says what was rebuilt.
        since, seen = s.mark(), len(events.events)
        set_title(demo_copy, "Edited while serving")
        reload = events.wait_for("reload", since=seen)
        assert reload["build"] != hello["build"]
        assert "Edited while serving" in s.get(ARTICLE)[2]
        line = s.wait_for_line(rf"content/articles/{SLUG}\.yaml changed; rebuilt (\d+) pages? \(.*\) in \d+ ms$",
                               since)
        assert 0 < int(line.group(1)) < len(list((s.workdir / "site").rglob("*.html")))

        # Broken YAML: an errors event with path:line:col lines; the last good site stays, under an overlay.
        since, seen = s.mark(), len(events.events)
        path = sidecar(demo_copy)
        good = path.read_text(encoding="utf-8")
        save(path, good.replace("title: Edited while serving", "title: [Edited while serving"))
        errors = events.wait_for("errors", since=seen)["errors"]
        assert errors and all(re.match(r"^\S+:\d+:\d+: error: ", e) for e in errors), errors
        assert any(e.startswith(f"content/articles/{SLUG}.yaml:") for e in errors), errors
        s.wait_for_line(rf"^content/articles/{SLUG}\.yaml:\d+:\d+: error: ", since)
        s.wait_for_line(r"build failed with \d+ errors?.*still serving the last good build", since)
        status, _, body = s.get(ARTICLE)
        assert status == 200 and "Edited while serving" in body
        assert 'id="dossier-overlay"' in body and f"content/articles/{SLUG}.yaml:" in body
        assert 'id="dossier-overlay"' in s.get("/entities/index.html")[2]  # on every page

        # A page opened now learns of the errors at once.
        late = EventStream(s.port)
        try:
            assert late.wait_for("hello")["ok"] is False
            assert late.wait_for("errors")["errors"] == errors
        finally:
            late.close()

        # Fixed: reload, no overlay, the new text.
        seen = len(events.events)
        save(path, good.replace("title: Edited while serving", "title: Fixed while serving"))
        events.wait_for("reload", since=seen)
        body = s.get(ARTICLE)[2]
        assert "Fixed while serving" in body and 'id="dossier-overlay"' not in body
        assert s.proc.poll() is None
    finally:
        events.close()


def test_an_error_naming_a_file_whose_name_is_not_utf8_is_shown_over_the_pages(served, demo_copy):
    """A file unzipped from an old archive or copied off a USB stick can be named in Latin-1:
    the build names it in its error, and every page must still be served, with that error over it."""
    s = served("--no-search")
    since = s.mark()
    (demo_copy / "content" / "articles" / os.fsdecode(b"caf\xe9.md")).write_text("Text.\n")
    s.wait_for_line(r"build failed with 1 error", since)
    for path in ("/", ARTICLE):
        status, _, body = s.get(path)
        assert status == 200 and 'id="dossier-overlay"' in body and "content/articles/caf" in body, path


def test_first_build_broken_then_fixed(served, demo_copy):
    path = sidecar(demo_copy)
    good = path.read_text(encoding="utf-8")
    path.write_text("title: [unclosed\n" + good, encoding="utf-8")
    s = served("--no-search")
    status, _, body = s.get(ARTICLE)
    assert status == 200 and 'id="dossier-overlay"' in body
    assert re.search(rf"content/articles/{SLUG}\.yaml:\d+:\d+: error: YAML", body)
    events = EventStream(s.port)
    try:
        events.wait_for("errors")
        save(path, good)
        events.wait_for("reload")
        body = s.get(ARTICLE)[2]
        assert title_html(demo_copy) in body and 'id="dossier-overlay"' not in body
    finally:
        events.close()


def test_static_and_templates_made_while_serving_are_watched(served, demo_copy):
    s = served("--no-search")
    events = EventStream(s.port)
    try:
        events.wait_for("hello")
        seen = len(events.events)
        (demo_copy / "static").mkdir()
        save(demo_copy / "static" / "notes.txt", "kept beside the dossier\n")
        events.wait_for("reload", since=seen)
        status, headers, body = wait_until(lambda: (r := s.get("/notes.txt"))[0] == 200 and r, what="/notes.txt")
        assert headers["content-type"] == "text/plain; charset=utf-8" and body == "kept beside the dossier\n"

        seen = len(events.events)
        (demo_copy / "templates").mkdir()
        save(demo_copy / "templates" / "page.html",
             '{% extends "base.html" %}{% block content %}<p>Overridden while serving</p>{% endblock %}')
        events.wait_for("reload", since=seen)
        wait_until(lambda: "Overridden while serving" in s.get("/about/")[2], what="the new template in use")
    finally:
        events.close()


# -- what a one-article edit rebuilds -----------------------------------------------

def connected_pages(resolved, slug: str) -> set[str]:
    """Pages with a real tie to one article: itself, its entities, the claims linked to its claims."""
    claims = {c.id for c in resolved.claims.values() if c.article == slug}
    for cid in list(claims):
        c = resolved.claims[cid]
        claims |= {r.id for r in (*c.supports, *c.contradicts)}
        claims |= set(resolved.supported_by.get(cid, ())) | set(resolved.contradicted_by.get(cid, ()))
    linked = [resolved.claims[c] for c in claims if c in resolved.claims]
    articles = {slug} | {c.article for c in linked}
    entities = {e for e, hits in resolved.hits.items() if any(h.article == slug for h in hits)}
    entities |= {c.claimant.id for c in linked if c.claimant} | {r.id for c in linked for r in c.about}
    return {f"articles/{a}/index.html" for a in articles} | {f"entities/{e}/index.html" for e in entities}


def test_one_article_edit_rebuilds_a_bounded_set(tmp_path, demo_copy, served):
    out = tmp_path / "out"
    first = build(demo_copy, out, search=False)
    assert first.ok and f"articles/{SLUG}/index.html" in first.rendered
    assert build(demo_copy, out, search=False).rendered == []  # nothing changed: nothing rendered

    path = sidecar(demo_copy)
    good = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"(?m)^summary: .*$", "summary: A one-line edit.", good), encoding="utf-8")
    result = build(demo_copy, out, search=False)
    rendered = set(result.rendered)
    per_item = {p for p in rendered if p.startswith(("articles/", "entities/"))}
    all_per_item = {p.relative_to(out).as_posix() for p in out.glob("*/*/index.html")
                    if p.parts[-3] in ("articles", "entities")}
    assert f"articles/{SLUG}/index.html" in rendered
    connected = connected_pages(result.resolved, SLUG)
    assert per_item <= connected, per_item - connected
    assert all_per_item - connected, "the demo must have pages with no tie to the edited article"

    # serve reports the same work for the same edit.
    save(path, good)
    s = served("--no-search")
    since = s.mark()
    save(path, re.sub(r"(?m)^summary: .*$", "summary: A one-line edit.", good))
    line = s.wait_for_line(rf"{SLUG}\.yaml changed; rebuilt (\d+) pages? \((.*)\) in \d+ ms$", since)
    assert int(line.group(1)) == len(rendered)
    listed = line.group(2).split(" and ")[0].split(", ")
    assert set(listed) <= {p[: -len("index.html")] if p.endswith("/index.html") else p for p in rendered}


# -- in the browser -------------------------------------------------------------------

def test_browser_reloads_by_itself_and_keeps_its_place(served, demo_copy, page):
    s = served("--no-search")
    page.set_viewport_size({"width": 700, "height": 400})
    page.goto(s.url + ARTICLE.lstrip("/"))
    page.wait_for_selector("html[data-dossier-serve=live]", state="attached")  # listening to the event stream
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height > 1500, "the article must be long enough to scroll"
    page.evaluate("window.scrollTo(0, 900); window.__notReloaded = true")

    set_title(demo_copy, "Seen without pressing reload")
    page.wait_for_function("() => document.querySelector('h1').textContent.includes('Seen without pressing reload')",
                           timeout=WAIT * 1000)
    assert page.evaluate("window.__notReloaded") is None  # a new document, not a patched one
    page.wait_for_function("() => Math.abs(window.scrollY - 900) <= 2", timeout=5000)

    # Broken: the overlay comes without a reload and names the place.
    page.evaluate("window.__notReloaded = true")
    path = sidecar(demo_copy)
    good = path.read_text(encoding="utf-8")
    save(path, good.replace("title: Seen", "title: [Seen"))
    overlay = page.wait_for_selector("#dossier-overlay", timeout=WAIT * 1000)
    assert re.search(rf"content/articles/{SLUG}\.yaml:\d+:\d+: error: ", overlay.inner_text())
    assert overlay.is_visible()
    assert page.evaluate("window.__notReloaded") is True

    # Fixed: reloaded, the overlay gone, still in place.
    save(path, good.replace("title: Seen", "title: Mended, seen"))
    page.wait_for_function("() => document.querySelector('h1').textContent.includes('Mended, seen')",
                           timeout=WAIT * 1000)
    assert page.query_selector("#dossier-overlay") is None
    page.wait_for_function("() => Math.abs(window.scrollY - 900) <= 2", timeout=5000)
    assert page.errors == []  # no CSP violation, no script error


def test_search_follows_rebuilds(served, demo_copy, page):
    s = served()
    s.wait_for_line(r"search index updated")
    query = """async (word) => {
        const pagefind = await import('/pagefind/pagefind.js');
        const found = await pagefind.search(word);
        return found.results.length;
    }"""
    page.goto(s.url)
    assert page.evaluate(query, "quetzalcoatlus") == 0

    since = s.mark()
    text = demo_copy / "content" / "articles" / f"{SLUG}.md"
    save(text, text.read_text(encoding="utf-8") + "\nA quetzalcoatlus was not among the prisoners.\n")
    s.wait_for_line(r"search index updated", since)
    page.goto(s.url)  # a fresh page: Pagefind fetches the new index
    assert page.evaluate(query, "quetzalcoatlus") >= 1


def slow_pagefind(folder: Path, seconds: float) -> Path:
    """A Pagefind binary that waits before indexing: the time an index of a large dossier takes."""
    from pagefind.service import get_executable

    wrapper = folder / "slow-pagefind"
    wrapper.write_text(f"#!/bin/sh\nsleep {seconds}\nexec '{get_executable()}' \"$@\"\n")
    wrapper.chmod(0o755)
    return wrapper


def test_an_open_search_page_finds_what_an_edit_added_without_a_manual_reload(served, demo_copy, page, tmp_path):
    """The page reloads as soon as the rebuild is done, on the old index; the new one lands later.
    A search made then must work, and find the new text, with nobody pressing reload."""
    s = served(env={"PAGEFIND_BINARY_PATH": str(slow_pagefind(tmp_path, 3))})
    s.wait_for_line(r"search index updated")
    page.goto(s.url + "search/index.html")
    page.wait_for_selector(".search.is-ready", state="attached", timeout=WAIT * 1000)
    page.wait_for_selector("html[data-dossier-serve=live]", state="attached")
    page.evaluate("window.__beforeTheEdit = true")

    since = s.mark()
    text = demo_copy / "content" / "articles" / f"{SLUG}.md"
    save(text, text.read_text(encoding="utf-8") + "\nA quetzalcoatlus was not among the prisoners.\n")
    s.wait_for_line(r"rebuilt \d+ pages?", since)
    # Reloaded at once, with the index of before the edit (the new one is still being made).
    page.wait_for_function("() => !window.__beforeTheEdit && document.querySelector('.search.is-ready')",
                           timeout=WAIT * 1000)
    assert not any("search index updated" in line for line in s.lines[since:])
    s.wait_for_line(r"search index updated", since)

    def found() -> bool:  # typed as a reader would, again until the page has what it needs
        try:
            page.wait_for_selector(".search.is-ready", state="attached", timeout=5000)
            page.locator("#search-query").fill("quetzalcoatlus")
            page.locator("#search-query").press("Enter")
            status = page.locator(".search-status")
            status.filter(has_text=re.compile(r"results? for|could not")).wait_for(timeout=5000)
            return bool(re.match(r"[1-9]\d* results? for", status.inner_text()))
        except Exception:  # reloaded meanwhile, or nothing shown yet
            return False
    wait_until(found, what="a search on the page to find the new text")
    assert page.locator(".search-result a[href*='%s']" % SLUG).count() >= 1


def test_the_index_before_the_newest_is_served_for_the_files_only_it_has(tmp_path):
    """Pagefind names its files by their hashes: a page still holding the last index asks for
    files the newest lacks. They are served until a newer index replaces that one too."""
    live = LiveState(tmp_path / "site")
    inbox = live.subscribe()
    roots = []
    for n in range(1, 4):
        root = tmp_path / f"search-{n}"
        (root / "pagefind" / "index").mkdir(parents=True)
        (root / "pagefind" / "pagefind.js").write_text(f"bundle {n}")
        (root / "pagefind" / "index" / f"en_{n}.pf_index").write_text(f"chunk {n}")
        roots.append(root)
        gone = live.set_search_root(root)
        assert gone == roots[:-2][-1:]  # the one before the one before
        assert f'"search": {n}' in inbox.queue[-1].decode()  # the pages are told
    assert locate(live, "/pagefind/pagefind.js") == (200, roots[2] / "pagefind" / "pagefind.js")
    assert locate(live, "/pagefind/index/en_2.pf_index") == (200, roots[1] / "pagefind" / "index" / "en_2.pf_index")
    assert locate(live, "/pagefind/index/en_1.pf_index")[0] == 404


# -- stopping, ports ----------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "term"])
def test_stops_cleanly(served, sig):
    s = served()  # with search: its thread and the Pagefind process must stop too
    events = EventStream(s.port)
    try:
        events.wait_for("hello")
        assert s.workdir.is_dir()
        assert s.stop(sig) == 0
    finally:
        events.close()
    assert "dossier: stopped" in s.output
    assert "Traceback" not in s.output
    assert not s.workdir.exists()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def test_ctrl_c_during_a_long_rebuild_stops_at_once(served, demo_copy):
    """A change to site.yaml at 10,000 articles rebuilds for half a minute: Ctrl-C then must
    stop serve there and then, not once the rebuild is done."""
    s = served("--no-search")
    (demo_copy / "templates").mkdir()
    busy = cpu_seconds(s.proc.pid)
    save(demo_copy / "templates" / "page.html",  # minutes of work for each free page
         '{% extends "base.html" %}{% block content %}{% for i in range(10**9) %}{% endfor %}{% endblock %}')
    wait_until(lambda: cpu_seconds(s.proc.pid) > busy + 1, what="the rebuild to be under way")
    clock = time.monotonic()
    assert s.stop(signal.SIGINT) == 0
    assert time.monotonic() - clock < 10, "serve finished the rebuild before it stopped"
    assert "dossier: stopped" in s.output and "Traceback" not in s.output
    assert not s.workdir.exists()


def test_signals_sent_again_during_the_clean_up_do_not_cut_it_short(served):
    """`timeout` passes its SIGTERM on to serve, and `pkill` sends its own: the clean-up
    the first one starts (threads joined, the work folder removed) goes on to the end."""
    s = served()
    assert s.workdir.is_dir()
    s.proc.send_signal(signal.SIGTERM)
    s.proc.send_signal(signal.SIGTERM)  # as both arrive when `pkill` hits `timeout` and serve at once
    end = time.monotonic() + WAIT
    while s.proc.poll() is None and time.monotonic() < end:
        time.sleep(0.02)
        if s.proc.poll() is None:
            s.proc.send_signal(signal.SIGTERM)
    s.proc.wait(timeout=WAIT)
    assert "Traceback" not in s.output
    assert not s.workdir.exists()


@pytest.mark.parametrize("first, then", [(signal.SIGTERM, signal.SIGTERM), (signal.SIGINT, signal.SIGTERM),
                                         (signal.SIGTERM, signal.SIGINT)], ids=["term-term", "int-term", "term-int"])
def test_only_the_first_stopping_signal_interrupts(first, then):
    """However close together they come (the window between two is too short to hit from
    outside): the first stops serve, those after it are ignored until the handlers go back."""
    restore = serve_stop_on_signals()
    try:
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(first)
        signal.raise_signal(then)  # ignored: raises nothing
    finally:
        restore()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_stopping_leaves_no_thread_behind(demo_copy, tmp_path):
    before = set(threading.enumerate())
    server, _ = open_server(0)
    room = WritingRoom(demo_copy.resolve(), tmp_path / "work", server, search=True)
    room.start()
    port = server.server_address[1]
    events = EventStream(port)
    try:
        events.wait_for("hello")
        assert len(set(threading.enumerate()) - before) >= 4  # watcher, HTTP, rebuild, search, event stream
    finally:
        room.stop()
        events.close()
    wait_until(lambda: set(threading.enumerate()) <= before, timeout=10,
               what=f"threads to end: {set(threading.enumerate()) - before}")
    assert room.indexer._child is None  # no indexing process left running
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


def test_a_port_in_use_is_a_usage_error(demo_copy):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", str(demo_copy), "--port", str(port))
    assert result.returncode == 2
    assert re.fullmatch(rf"dossier: error: port {port} is in use; try --port \d+\n", result.stderr), result.stderr
    assert "Traceback" not in result.stderr


def test_the_default_port_moves_on_when_taken():
    first, _ = open_server(None)
    try:
        second, note = open_server(None)
        try:
            taken, moved = first.server_address[1], second.server_address[1]
            assert moved > taken
            assert note == f"dossier: port 8000 is in use; serving on port {moved} instead"
        finally:
            second.server_close()
    finally:
        first.server_close()


# -- watching -------------------------------------------------------------------------

def test_watcher_collapses_an_editor_save_and_ignores_noise(demo_copy):
    (demo_copy / "output").mkdir()
    changes = ChangeQueue()
    watcher = SiteWatcher(demo_copy.resolve(), changes.push)
    watcher.start()
    try:
        folder = demo_copy / "content" / "articles"
        target = folder / f"{SLUG}.yaml"
        # vim: probe file, swap file, backup by rename, write, remove the rest
        (folder / "4913").write_text("")
        (folder / "4913").unlink()
        (folder / f".{SLUG}.yaml.swp").write_bytes(b"swap")
        os.rename(target, folder / f"{SLUG}.yaml~")
        (folder / f"{SLUG}.yaml~").rename(folder / f"{SLUG}.yaml.tmp")  # a temp file...
        os.rename(folder / f"{SLUG}.yaml.tmp", target)  # ...renamed into place
        (folder / f".{SLUG}.yaml.swp").unlink()
        (folder / f".#{SLUG}.yaml").symlink_to("nobody@host")  # an Emacs lock
        assert changes.next_batch(timeout=WAIT) == {f"content/articles/{SLUG}.yaml"}

        (demo_copy / "output" / "index.html").write_text("not ours to watch")
        (demo_copy / "notes.txt").write_text("beside the site, not in it")
        assert changes.next_batch(timeout=1.0) == set()

        (demo_copy / "site.yaml").write_text((demo_copy / "site.yaml").read_text())
        (demo_copy / "templates").mkdir()  # a folder made later is watched too
        assert changes.next_batch(timeout=WAIT) == {"site.yaml", "templates"}
        wait_until(lambda: "templates" in watcher._watches, what="a watch on templates/")
        (demo_copy / "templates" / "page.html").write_text("{% extends 'base.html' %}")
        assert changes.next_batch(timeout=WAIT) == {"templates/page.html"}
    finally:
        watcher.stop()
        changes.close()
    assert changes.next_batch() is None


def test_the_watcher_is_not_told_of_files_read(demo_copy, monkeypatch):
    """A build reads every input: the watches do not ask for opened or closed-unwritten files."""
    from dossier import serve as serve_module
    seen = []
    monkeypatch.setattr(serve_module._Handler, "on_any_event", lambda self, event: seen.append(event.event_type))
    changes = ChangeQueue()
    watcher = SiteWatcher(demo_copy.resolve(), changes.push)
    watcher.start()
    try:
        for path in sorted((demo_copy / "content").rglob("*.yaml")):
            path.read_bytes()
        (demo_copy / "site.yaml").read_bytes()
        time.sleep(0.5)
        assert seen == []
        (demo_copy / "site.yaml").write_text((demo_copy / "site.yaml").read_text())
        wait_until(lambda: "closed" in seen, what="the write's closed event")
    finally:
        watcher.stop()
        changes.close()


def test_a_burst_of_changes_is_one_rebuild_and_a_change_during_it_one_more():
    changes = ChangeQueue(quiet=1.0)  # long enough that a loaded machine cannot split the burst

    def burst(names):
        for name in names:
            changes.push(name)
            time.sleep(0.02)

    writer = threading.Thread(target=burst, args=([f"content/articles/a{i}.yaml" for i in range(10)],))
    writer.start()
    assert changes.next_batch(timeout=WAIT) == {f"content/articles/a{i}.yaml" for i in range(10)}
    writer.join()
    burst(["content/articles/a3.yaml", "site.yaml"])  # saved while that rebuild runs
    assert changes.next_batch(timeout=WAIT) == {"content/articles/a3.yaml", "site.yaml"}
    assert changes.next_batch(timeout=0.2) == set()


def test_what_static_copies_of_hidden_files_is_watched_and_served_and_nothing_else_hidden(tmp_path):
    """static/.nojekyll and static/.well-known/ are part of the site (a build copies them): an
    edit of them is a change, and serve serves them; the output's own hidden files, version
    control's and editors' files, and climbing out, are not."""
    site = tmp_path / "site"
    watcher = SiteWatcher(site, lambda rel: None)
    assert watcher.relevant(str(site / "static/.nojekyll")) == "static/.nojekyll"
    assert watcher.relevant(str(site / "static/.well-known/security.txt")) == "static/.well-known/security.txt"
    assert watcher.relevant(str(site / "static/2024/map.png")) == "static/2024/map.png"
    for noise in ("static/.git/HEAD", "static/notes.html~", "static/.notes.html.swp", "content/articles/.a.md.swp",
                  "content/articles/4913"):
        assert watcher.relevant(str(site / noise)) is None, noise

    out = tmp_path / "out"
    (out / ".well-known").mkdir(parents=True)
    (out / ".well-known/security.txt").write_text("Contact: mailto:desk@example.org\n")
    (out / ".dossier-cache").write_text("cache")
    (tmp_path / "secret.txt").write_text("secret")

    class Live:  # what locate() asks of serve's state
        search_roots = ()

    Live.out = out
    status, file = locate(Live, "/.well-known/security.txt")
    assert status == 200 and file == out / ".well-known/security.txt"
    for hidden in ("/.dossier-cache", "/../secret.txt", "/.well-known/../../secret.txt", "/./.dossier-cache"):
        assert locate(Live, hidden)[0] == 404, hidden


# -- what the watcher must see --------------------------------------------------------

def wait_for_page(s: Served, path: str, text: str, present: bool = True) -> None:
    wait_until(lambda: (text in s.get(path)[2]) == present,
               what=f"{text!r} {'on' if present else 'gone from'} {path}")


def test_an_edit_whose_events_the_kernel_dropped_is_rebuilt_all_the_same(served, demo_copy):
    """A checkout or a `sed -i` over thousands of files while serve is busy: the kernel's queue of
    file events (fs.inotify.max_queued_events) overflows and drops the events after, which
    watchdog passes over in silence. The next rebuild must look at every file."""
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    s = served("--no-search")
    other = demo_copy / "content" / "articles" / "sbu-special-forces-haul.md"
    text = other.read_bytes()
    os.kill(s.proc.pid, signal.SIGSTOP)  # as busy as can be: it reads no event meanwhile
    try:
        for _ in range(limit // 2 + 100):  # a modify and a close-write each: more events than the queue holds
            other.write_bytes(text)
        set_title(demo_copy, "Saved once the queue was full")
    finally:
        os.kill(s.proc.pid, signal.SIGCONT)
    wait_for_page(s, ARTICLE, "Saved once the queue was full")
    assert "overflowed" not in s.output  # watchdog's "events were lost": none were, in the end


def test_a_top_folder_moved_out_and_back_while_serving_is_seen(served, demo_copy, tmp_path):
    """`mv static static.off` (a file manager's "move to trash"): the site changes with it."""
    (demo_copy / "static").mkdir()
    (demo_copy / "static" / "data.csv").write_text("a,b\n")
    (demo_copy / "templates").mkdir()
    default = (REPO / "dossier" / "templates" / "article.html").read_text(encoding="utf-8")
    (demo_copy / "templates" / "article.html").write_text(
        default.replace("{% block content %}", "{% block content %}<p>OVERRIDDEN</p>", 1), encoding="utf-8")
    s = served("--no-search")
    assert s.get("/data.csv")[0] == 200 and "OVERRIDDEN" in s.get(ARTICLE)[2]

    (demo_copy / "static").rename(tmp_path / "static.off")
    wait_until(lambda: s.get("/data.csv")[0] == 404, what="/data.csv gone")
    since = s.mark()
    (tmp_path / "static.off" / "data.csv").write_text("edited where it was moved to\n")  # no longer the site's
    set_title(demo_copy, "After the move")
    s.wait_for_line(rf"dossier: content/articles/{SLUG}\.yaml changed; rebuilt", since)
    assert not any("static/" in line for line in s.lines[since:]), s.lines[since:]
    (demo_copy / "templates").rename(tmp_path / "templates.off")
    wait_for_page(s, ARTICLE, "OVERRIDDEN", present=False)
    (demo_copy / "content").rename(tmp_path / "content.off")
    wait_until(lambda: s.get(ARTICLE)[0] == 404, what="the article gone with content/")

    for name in ("content", "templates", "static"):  # and back
        (tmp_path / f"{name}.off").rename(demo_copy / name)
    wait_until(lambda: s.get("/data.csv")[0] == 200, what="/data.csv back")
    wait_for_page(s, ARTICLE, "OVERRIDDEN")
    assert "Traceback" not in s.output


def test_edits_in_an_entity_folder_named_by_digits_are_rebuilt(served, demo_copy):
    """A folder named 2024 is no editor's probe file (vim's 4913): what is in it is watched."""
    entities = demo_copy / "content" / "entities"
    (entities / "places").rename(entities / "2024")
    s = served("--no-search")
    sudzha = entities / "2024" / "sudzha.yaml"
    save(sudzha, sudzha.read_text(encoding="utf-8").replace("name: Sudzha", "name: Sudzha Renamed", 1))
    wait_for_page(s, "/entities/sudzha/", "Sudzha Renamed")
    s.wait_for_line(r"content/entities/2024/sudzha\.yaml changed; rebuilt")


def test_editor_backups_in_content_are_passed_over_by_serve_build_and_check(served, demo_copy, tmp_path):
    """Emacs saves x.md by renaming it x.md~ and writing x.md anew, and autosaves to #x.md#:
    neither is an article, for serve as for `build` and `check`."""
    s = served("--no-search")
    events = EventStream(s.port)
    try:
        events.wait_for("hello")
        text = demo_copy / "content" / "articles" / f"{SLUG}.md"
        backup = text.with_name(text.name + "~")
        old = text.read_text(encoding="utf-8")
        text.rename(backup)
        text.write_text(old + "\nSaved by Emacs.\n", encoding="utf-8")
        (text.parent / f"#{text.name}#").write_text(old + "\nAutosaved.\n", encoding="utf-8")
        (demo_copy / "content" / "entities" / "places" / "sudzha.yaml~").write_text("name: [old\n")
        events.wait_for("reload")
        wait_for_page(s, ARTICLE, "Saved by Emacs.")
        seen = len(events.events)
        set_title(demo_copy, "Another edit, later")  # an unrelated change: still no error
        events.wait_for("reload", since=seen)
        assert not any(name == "errors" for name, _ in events.events), events.events
    finally:
        events.close()
    assert "error" not in s.output, s.output
    for command in (("check", str(demo_copy)), ("build", str(demo_copy), "-o", str(tmp_path / "out"), "--no-search")):
        result = run_cli(*command)
        assert result.returncode == 0 and "error" not in result.stderr, result.stderr


def test_an_edit_of_a_linked_articles_target_is_rebuilt(served, demo_copy):
    """content/articles/x.md -> ../../drafts/x.md (inside the site, so allowed): the target's
    folder is watched too."""
    drafts = demo_copy / "drafts"
    drafts.mkdir()
    text = demo_copy / "content" / "articles" / f"{SLUG}.md"
    text.rename(drafts / "moscow.md")
    text.symlink_to(Path("..", "..", "drafts", "moscow.md"))
    s = served("--no-search")
    target = drafts / "moscow.md"
    target.write_text(target.read_text(encoding="utf-8") + "\nEdited through the link.\n", encoding="utf-8")
    wait_for_page(s, ARTICLE, "Edited through the link.")
    save(target, target.read_text(encoding="utf-8") + "\nSaved over the target.\n")  # as editors save
    wait_for_page(s, ARTICLE, "Saved over the target.")


def test_a_link_led_elsewhere_no_longer_rebuilds_for_its_old_target(served, demo_copy):
    """ln -sf to another draft: an edit of the draft it led to before is no news to the site."""
    drafts = demo_copy / "drafts"
    drafts.mkdir()
    text = demo_copy / "content" / "articles" / f"{SLUG}.md"
    old, new = drafts / "first.md", drafts / "second.md"
    old.write_text(text.read_text(encoding="utf-8"), encoding="utf-8")
    new.write_text(text.read_text(encoding="utf-8") + "\nThe second draft.\n", encoding="utf-8")
    text.unlink()
    text.symlink_to(Path("..", "..", "drafts", "first.md"))
    s = served("--no-search")
    since = s.mark()
    text.unlink()
    text.symlink_to(Path("..", "..", "drafts", "second.md"))
    wait_for_page(s, ARTICLE, "The second draft.")
    s.wait_for_line(rf"{SLUG}\.md.* changed; rebuilt", since)
    since = s.mark()
    old.write_text(old.read_text(encoding="utf-8") + "\nNo longer linked.\n", encoding="utf-8")
    time.sleep(1)  # serve waits 0.15 s of quiet before it rebuilds
    new.write_text(new.read_text(encoding="utf-8") + "\nStill linked.\n", encoding="utf-8")
    wait_for_page(s, ARTICLE, "Still linked.")
    s.wait_for_line(r"changed; rebuilt", since)
    rebuilds = [line for line in s.lines[since:] if "changed; rebuilt" in line]
    assert len(rebuilds) == 1, rebuilds


def test_a_folder_moved_out_and_back_in_brings_no_warning_and_sed_names_the_file(served, demo_copy, tmp_path):
    """watchdog warns when a folder it watched comes back; `sed -i` writes through a temporary
    file of its own: neither is news to the writer."""
    s = served("--no-search")
    places = demo_copy / "content" / "entities" / "places"
    since = s.mark()
    places.rename(tmp_path / "places")
    s.wait_for_line(r"build failed", since)
    since = s.mark()
    (tmp_path / "places").rename(places)
    s.wait_for_line(r"content/entities/places.* changed; rebuilt", since)
    since = s.mark()
    subprocess.run(["sed", "-i", "s/^name: .*/name: Sudzha by sed/", str(places / "sudzha.yaml")], check=True)
    line = s.wait_for_line(r"dossier: (\S+) changed; rebuilt", since)
    assert line.group(1) == "content/entities/places/sudzha.yaml"
    wait_for_page(s, "/entities/sudzha/", "Sudzha by sed")
    assert "Warning" not in s.output and "Traceback" not in s.output, s.output


@pytest.mark.parametrize("changed, line", [
    ({"templates", "templates/base.html"}, "templates changed"),
    ({"content/entities/new", "content/entities/new/a.yaml", "content/entities/new/b.yaml"},
     "content/entities/new changed"),
    ({"templates", "templates-old/base.html", "templates/base.html"}, "templates and 1 more changed"),
    ({"content/articles/a.md", "content/articles/a.yaml"}, "content/articles/a.md and 1 more changed"),
])
def test_a_folder_made_with_its_files_is_named_as_one_change(changed, line):
    assert changed_words(changed) == line


def test_serve_frees_what_its_builds_left_once_no_change_comes(monkeypatch):
    """Builds run with the collector paused; what they leave in cycles (templates' contexts) is
    freed once serve is idle, not at the next full collection the interpreter seldom makes."""
    import gc
    import types
    import weakref

    from dossier import build as pipeline

    monkeypatch.setattr(pipeline, "TIDY_AFTER", 0.2)
    left: list[weakref.ref] = []

    class Cycle:
        pass

    class Builder:
        def rebuild(self, changed):
            with pipeline._collector_paused():  # as a build leaves its garbage: in the oldest generation
                cycle = Cycle()
                cycle.me = cycle
                left.append(weakref.ref(cycle))

    room = types.SimpleNamespace(changes=ChangeQueue(quiet=0.01), builder=Builder())
    was = gc.isenabled()
    gc.disable()  # no collection of the test's own making
    thread = threading.Thread(target=WritingRoom._rebuild_on_change, args=(room,))
    thread.start()
    try:
        room.changes.push("content/articles/a.md")
        wait_until(lambda: left and left[0]() is None, timeout=5, what="the build's cycle freed")
    finally:
        room.changes.close()
        thread.join(timeout=5)
        if was:
            gc.enable()


def test_pages_made_again_the_same_are_said_to_be(served, demo_copy):
    """A change to templates/ makes every page again; if none came out different, the line says so."""
    s = served("--no-search")
    since = s.mark()
    (demo_copy / "templates").mkdir()
    save(demo_copy / "templates" / "base.html", (REPO / "dossier" / "templates" / "base.html").read_bytes())  # as it was
    line = s.wait_for_line(r"dossier: templates\S* changed; .*", since)
    assert re.search(r"templates(/base.html)? changed; re-rendered \d+ pages \(.*\) in \d+ ms; none changed", line.group(0)), \
        line.group(0)


def test_serve_goes_on_when_its_output_goes_away(demo_copy, tmp_path):
    """`serve | head -3`: the reader goes, serve stays, rebuilds and tells the browser."""
    port = free_port()
    log = tmp_path / "stderr.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, str(REPO / "build.py"), "serve", str(demo_copy), "--port", str(port),
                                 "--no-search"], cwd=REPO, stdout=subprocess.PIPE, stderr=err)
    try:
        for _ in range(3):  # as head -3 does, then goes
            assert proc.stdout.readline()
        proc.stdout.close()
        events = EventStream(port)
        try:
            hello = events.wait_for("hello")
            set_title(demo_copy, "Edited with nobody reading")
            assert events.wait_for("reload")["build"] != hello["build"]
            seen = len(events.events)
            set_title(demo_copy, "Edited again with nobody reading")
            events.wait_for("reload", since=seen)
        finally:
            events.close()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
        conn.request("GET", ARTICLE)
        assert "Edited again with nobody reading" in conn.getresponse().read().decode("utf-8")
        conn.close()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=WAIT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in log.read_text() and "error" not in log.read_text(), log.read_text()


def with_many_warnings(site: Path, name: str = "nobody-known", title: str = "") -> None:
    """800 authors that look like ids of no entity: a warning each (about 150 bytes), so that one
    build says more than a pipe holds (64 KiB on Linux). Other names: 800 other warnings."""
    path = sidecar(site)
    authors = ", ".join(f"{name}-{i}" for i in range(800))
    text, found = re.subn(r"(?m)^  authors: .*$", f"  authors: [{authors}]", path.read_text(encoding="utf-8"))
    assert found == 1, "the article's sidecar has a source with authors"
    save(path, re.sub(r"(?m)^title: .*$", f"title: {title}", text, count=1) if title else text)


def serve_unread(site: Path, port: int) -> subprocess.Popen:
    """serve, its stdout and stderr one pipe that nobody reads (yet): `serve 2>&1 | less` left on
    its first screen, or a terminal paused with Ctrl-S."""
    return subprocess.Popen([sys.executable, str(REPO / "build.py"), "serve", str(site), "--port", str(port),
                             "--no-search"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def answers(port: int, path: str = "/") -> bool:
    try:
        return request(port, "GET", path)[0] == 200
    except OSError:
        return False


def test_output_nobody_reads_holds_up_neither_pages_nor_rebuilds(demo_copy):
    """Once the pipe is full a write to it waits: serving, rebuilding and reloading must not.
    What could not be written is left out, and said so once the reader reads again."""
    with_many_warnings(demo_copy)
    port = free_port()
    proc = serve_unread(demo_copy, port)
    try:
        wait_until(lambda: answers(port), what="serve to answer with its output unread")
        events = EventStream(port)
        try:
            hello = events.wait_for("hello")
            for n in range(3):  # every rebuild says 800 new warnings, with nobody reading
                seen = len(events.events)
                with_many_warnings(demo_copy, f"nobody-known-yet-{n}", title=f"Edited unread {n}")
                assert events.wait_for("reload", since=seen)["build"] != hello["build"]
                assert f"Edited unread {n}" in request(port, "GET", ARTICLE)[2].decode("utf-8")
        finally:
            events.close()

        lines: list[str] = []  # the reader is back
        threading.Thread(target=lambda: lines.extend(l.decode("utf-8").rstrip("\n") for l in proc.stdout),
                         daemon=True).start()
        wait_until(lambda: any(re.fullmatch(r"dossier: \d+ lines? of output left out: nothing read them .*", l)
                               for l in lines), what="a line saying what was left out")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=WAIT) == 0
        wait_until(lambda: "dossier: stopped" in lines, what="the last line")
        assert not any("Traceback" in l for l in lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_stops_while_nobody_reads_its_output(demo_copy):
    """Ctrl-C on a paused terminal: serve stops (and cleans up) all the same."""
    with_many_warnings(demo_copy)
    port = free_port()
    proc = serve_unread(demo_copy, port)
    try:
        wait_until(lambda: answers(port), what="serve to answer with its output unread")
        workdir = next(Path(tempfile.gettempdir()).glob(f"dossier-serve-{proc.pid}-*"))
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=WAIT) == 0
        assert not workdir.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_an_indexing_process_that_says_much_on_a_stderr_nobody_reads_still_indexes(demo_copy, tmp_path):
    """The search index is made by a child process: what it says on stderr (a warning, say) must
    not wait for a reader either, or no index after it would ever be served."""
    loud = tmp_path / "loud"
    loud.mkdir()
    (loud / "sitecustomize.py").write_text(  # Python runs it first in every process it starts
        "import sys\n"
        "if any('index_in_child' in arg for arg in sys.orig_argv):\n"
        "    sys.stderr.write('the indexing child says much\\n' * 5000)\n")
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(REPO / "build.py"), "serve", str(demo_copy), "--port", str(port)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(loud)})
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(l.rstrip("\n") for l in proc.stdout), daemon=True).start()
    try:
        wait_until(lambda: any("search index updated" in l for l in lines), what="the search index")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=WAIT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# -- HTTP ---------------------------------------------------------------------------------

def request(port: int, method: str, path: str, headers: dict | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_http_as_a_static_host_answers(served, demo_copy):
    static = demo_copy / "static"
    (static / "media").mkdir(parents=True)
    wav = bytes(range(256)) * 40
    (static / "media" / "clip.wav").write_bytes(wav)
    for name in ("clip.mp4", "clip.mp3", "font.ttf"):
        (static / "media" / name).write_bytes(b"\0" * 100)
    (static / "data.csv").write_text("a,b\n1,2\n")
    (static / "notes.md").write_text("# notes\n")
    (static / "legacy.htm").write_text("<p>old page</p>\n")
    s = served("--no-search")
    expected = {"/data.csv": "text/csv; charset=utf-8", "/media/clip.mp4": "video/mp4",
                "/media/clip.mp3": "audio/mpeg", "/media/clip.wav": "audio/wav", "/media/font.ttf": "font/ttf",
                "/notes.md": "text/markdown; charset=utf-8", "/legacy.htm": "text/html; charset=utf-8"}
    claims_csv = next(p for p in (s.workdir / "site").rglob("*.csv") if p.name != "data.csv")
    expected["/" + claims_csv.relative_to(s.workdir / "site").as_posix()] = "text/csv; charset=utf-8"
    for path, ctype in expected.items():
        status, headers, _ = request(s.port, "GET", path)
        assert (status, headers["content-type"], headers["x-content-type-options"]) == (200, ctype, "nosniff"), path
    assert "old page" in s.get("/legacy.htm")[2] and "/__dossier/reload.js" in s.get("/legacy.htm")[2]

    # Ranges: what media players and seeking ask for.
    for asked, start, part in (("bytes=0-9", 0, wav[:10]), ("bytes=10-", 10, wav[10:]),
                               ("bytes=-5", len(wav) - 5, wav[-5:]), ("bytes=100-99999", 100, wav[100:])):
        status, headers, body = request(s.port, "GET", "/media/clip.wav", {"Range": asked})
        assert (status, body) == (206, part), asked
        assert headers["content-range"] == f"bytes {start}-{start + len(part) - 1}/{len(wav)}", asked
        assert headers["content-length"] == str(len(part)) and headers["content-type"] == "audio/wav"
    status, headers, _ = request(s.port, "GET", "/media/clip.wav", {"Range": f"bytes={len(wav)}-"})
    assert status == 416 and headers["content-range"] == f"bytes */{len(wav)}"
    status, headers, body = request(s.port, "GET", "/media/clip.wav")
    assert (status, body, headers["accept-ranges"]) == (200, wav, "bytes")
    assert request(s.port, "GET", "/media/clip.wav", {"Range": "bytes=0-1,5-6"})[:3:2] == (200, wav)  # several: all

    # A file is no folder.
    for path in ("/index.html/", "/data.csv/"):
        assert s.get(path)[0] == 404, path

    # A name longer than the file system allows is not found, not a dropped connection.
    for path in ("/" + "a" * 300, "/" + "/".join(["b" * 200] * 25), "/pagefind/" + "c" * 300, ARTICLE + "d" * 300):
        status, headers, _ = request(s.port, "GET", path)
        assert status == 404 and headers["content-type"].startswith("text/html"), path

    # HEAD of the event stream: its headers, then the connection ends.
    with socket.create_connection(("127.0.0.1", s.port), timeout=5) as sock:
        sock.sendall(f"HEAD /__dossier/events HTTP/1.1\r\nHost: 127.0.0.1:{s.port}\r\n\r\n".encode())
        reply = b""
        while chunk := sock.recv(65536):  # times out (an error) if the server never closes
            reply += chunk
    head, _, rest = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200") or head.startswith(b"HTTP/1.1 200")
    assert b"text/event-stream" in head and rest == b""
    assert "Traceback" not in s.output


def bytes_read(pid: int) -> int:
    """All that a process has read so far (from files, the page cache and sockets alike)."""
    return int(re.search(r"(?m)^rchar: (\d+)$", Path(f"/proc/{pid}/io").read_text()).group(1))


def test_a_large_file_is_sent_from_the_disk_not_read_whole_for_each_request(served, demo_copy):
    """A recorded interview in static/: a player asks for a few bytes at a time as it seeks,
    several requests at once. Each must read what it sends, not the whole file into memory."""
    size = 64 * 1024 * 1024
    (demo_copy / "static" / "media").mkdir(parents=True)
    with open(demo_copy / "static" / "media" / "interview.mp4", "wb") as f:
        f.truncate(size)  # sparse: no room taken on the disk
    s = served("--no-search")
    before = bytes_read(s.proc.pid)
    for start in range(0, 10 * 4096, 4096):
        last = start + 1023
        status, headers, body = request(s.port, "GET", "/media/interview.mp4", {"Range": f"bytes={start}-{last}"})
        assert (status, body, headers["content-range"]) == (206, bytes(1024), f"bytes {start}-{last}/{size}")
    status, headers, body = request(s.port, "HEAD", "/media/interview.mp4")
    assert (status, headers["content-length"], headers["content-type"], body) == (200, str(size), "video/mp4", b"")
    assert bytes_read(s.proc.pid) - before < size // 4, "the whole file was read for a few bytes of it"

    status, headers, body = request(s.port, "GET", "/media/interview.mp4")
    assert (status, headers["content-length"], len(body), headers["accept-ranges"]) == (200, str(size), size, "bytes")
    status, headers, body = request(s.port, "GET", "/media/interview.mp4", {"Range": f"bytes={size}-"})
    assert (status, headers["content-range"], body) == (416, f"bytes */{size}", b"")


def test_before_a_first_good_build_pages_say_so_and_files_are_not_there(served, demo_copy, page):
    path = sidecar(demo_copy)
    good = path.read_text(encoding="utf-8")
    path.write_text("title: [unclosed\n" + good, encoding="utf-8")
    s = served("--no-search")
    status, headers, body = s.get(ARTICLE)
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert "There is no good build yet" in body and "last good build" not in body
    for asset in ("/assets/dossier.css", "/assets/search.js", "/pagefind/pagefind.js", "/claims.json"):
        status, headers, body = s.get(asset)
        assert status == 503 and headers["content-type"] == "text/plain; charset=utf-8", asset
        assert "has not built yet" in body

    page.goto(s.url + ARTICLE.lstrip("/"))
    page.wait_for_selector("html[data-dossier-serve=live]", state="attached")
    page.evaluate("window.__notReloaded = true; document.getElementById('dossier-overlay').dataset.served = 'yes'")
    save(path, "title: [still unclosed\n" + good)  # broken again: the page draws the overlay anew
    overlay = page.wait_for_selector("#dossier-overlay:not([data-served])", timeout=WAIT * 1000)
    assert page.evaluate("window.__notReloaded") is True
    title = overlay.query_selector(".dossier-overlay-title").inner_text()
    assert "There is no good build yet" in title and "last good build" not in title
    save(path, good)
    page.wait_for_function("() => document.title !== 'Waiting for a good build' && !document.getElementById('dossier-overlay')",
                           timeout=WAIT * 1000)
    assert page.errors == []


# -- many tabs ------------------------------------------------------------------------------

def test_many_tabs_share_one_event_stream(served, demo_copy, page):
    """Chromium opens 6 connections to a host at most (HTTP/1.1): a stream held by every tab
    would leave the 7th never loading and searches stalled. Ten tabs: all load, a search works,
    and an edit reloads every one of them."""
    s = served()
    s.wait_for_line(r"search index updated")
    context = page.context
    pages = [page] + [context.new_page() for _ in range(9)]
    for tab in pages:
        tab.goto(s.url + ARTICLE.lstrip("/"), timeout=WAIT * 1000)
        tab.wait_for_selector("html[data-dossier-serve=live]", state="attached", timeout=WAIT * 1000)
    search = context.new_page()
    search.goto(s.url + "search/index.html", timeout=WAIT * 1000)
    found = search.evaluate("""async () => {
        const pagefind = await import('/pagefind/pagefind.js');
        return (await pagefind.search('Kursk')).results.length;
    }""")
    assert found > 0
    for tab in pages:
        tab.evaluate("window.__notReloaded = true")
    set_title(demo_copy, "Seen in every tab")
    for tab in pages:
        tab.wait_for_function("() => document.querySelector('h1').textContent.includes('Seen in every tab')",
                              timeout=WAIT * 1000)
        assert tab.evaluate("window.__notReloaded") is None
    assert page.errors == []


def test_what_the_watcher_passes_over_is_what_no_build_reads(tmp_path):
    """One rule for editors' leftovers (inputs.read_by_build), and vim's 4913 probe: a file's
    own name of digits, never a folder's."""
    site = tmp_path / "site"
    watcher = SiteWatcher(site, lambda rel, made: None)
    for read in ("content/entities/2024/sudzha.yaml", "content/articles/#notes.md", "templates/2024/page.html",
                 "static/4913"):
        assert watcher.relevant(str(site / read)) == read, read
    assert watcher.relevant(str(site / "content/entities/2024"), folder=True) == "content/entities/2024"
    for noise in ("content/entities/4913", "content/articles/a.md~", "content/articles/#a.md#",
                  "content/articles/.#a.md", "content/.hidden/a.yaml", "templates/page.html~", "templates/#page.html#"):
        assert watcher.relevant(str(site / noise)) is None, noise


def test_a_file_made_and_gone_within_a_batch_is_no_change(tmp_path):
    """`sed -i` and editors write through temporary files: made, renamed away, so no change."""
    changes = ChangeQueue(quiet=0.05, exists=lambda rel: (tmp_path / rel).exists())
    (tmp_path / "kept.yaml").write_text("")
    changes.push("sedAbC12", made=True)
    changes.push("kept.yaml")
    changes.push("removed.yaml")  # there before the batch: its removal is a change
    assert changes.next_batch(timeout=WAIT) == {"kept.yaml", "removed.yaml"}
    changes.push("kept.yaml")
    changes.push("kept.yaml", made=True)  # made again after a first event: there before
    assert changes.next_batch(timeout=WAIT) == {"kept.yaml"}
    changes.push("4913", made=True)  # nothing but a probe: no batch at all
    assert changes.next_batch(timeout=0.5) == set()


def test_ranges_and_types():
    from dossier.serve import byte_range, content_type
    assert byte_range(None, 100) is None and byte_range("bytes=0-1, 4-5", 100) is None
    assert byte_range("items=0-1", 100) is None and byte_range("bytes=5-2", 100) is None
    assert byte_range("bytes=0-9", 100) == range(0, 10) and byte_range("bytes=90-200", 100) == range(90, 100)
    assert byte_range("bytes=-10", 100) == range(90, 100) and byte_range("bytes=-200", 100) == range(0, 100)
    assert byte_range("bytes=1-" + "9" * 5000, 100) is None  # past Python's int() digits: ignored, not a crash
    assert byte_range("bytes=100-", 100) == range(0) and byte_range("bytes=-0", 100) == range(0)
    assert byte_range("bytes=0-", 0) == range(0)
    assert content_type(Path("a.CSV")) == "text/csv; charset=utf-8"
    assert content_type(Path("a.html")) == content_type(Path("a.htm")) == "text/html; charset=utf-8"
    assert content_type(Path("a.unknown")) == "application/octet-stream"


def test_a_name_too_long_for_the_file_system_is_not_found(tmp_path):
    class Live:
        out = tmp_path
        search_roots = (tmp_path,)

    for path in ("/" + "a" * 300, "/" + "/".join(["b" * 250] * 20), "/pagefind/" + "c" * 300):
        assert locate(Live, path) == (404, None), path[:20]
    (tmp_path / "index.html").write_text("home")
    assert locate(Live, "/index.html/") == (404, None)
    assert locate(Live, "/index.html") == (200, tmp_path / "index.html")


def test_without_web_locks_each_tab_listens_only_while_visible(served, demo_copy, browser):
    """Where a browser has no Web Locks, a hidden tab lets its stream go (as mkdocs does), and
    once visible again reloads if the site was rebuilt meanwhile."""
    s = served("--no-search")
    context = browser.new_context()
    try:
        context.add_init_script("Object.defineProperty(Navigator.prototype, 'locks', {get: () => undefined});")
        hide = """() => {
            window.__notReloaded = true;
            Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
            document.dispatchEvent(new Event('visibilitychange'));
        }"""
        tabs = []
        for _ in range(8):  # more than the 6 connections a host gets: each hidden once loaded
            tab = context.new_page()
            tab.goto(s.url + ARTICLE.lstrip("/"), timeout=WAIT * 1000)
            tab.wait_for_selector("html[data-dossier-serve=live]", state="attached", timeout=WAIT * 1000)
            tab.evaluate(hide)
            tabs.append(tab)
        since = s.mark()
        set_title(demo_copy, "Seen once visible")
        s.wait_for_line(r"rebuilt \d+ pages", since)
        for tab in tabs:  # shown one at a time, as a window's tabs are
            tab.evaluate("""() => {
                delete document.visibilityState;
                document.dispatchEvent(new Event('visibilitychange'));
            }""")
            tab.wait_for_function("() => document.querySelector('h1').textContent.includes('Seen once visible')",
                                  timeout=WAIT * 1000)
            assert tab.evaluate("window.__notReloaded") is None
            tab.wait_for_selector("html[data-dossier-serve=live]", state="attached", timeout=WAIT * 1000)
            tab.evaluate(hide)
    finally:
        context.close()


def test_the_working_folder_of_a_serve_killed_outright_goes_with_the_next(demo_copy, tmp_path):
    """SIGKILL leaves serve no moment to remove its working folder (a whole built site): the
    next serve removes the folders of serve processes that are gone, and only those."""
    env = {"TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    killed = Served(demo_copy, "--no-search", env=env)
    killed.stop(signal.SIGKILL)
    assert killed.workdir.is_dir()
    alive = tmp_path / "tmp" / f"dossier-serve-{os.getpid()}-x"  # a serve still running (this process)
    alive.mkdir()
    other = tmp_path / "tmp" / "dossier-serve-other"  # not one of ours by its name
    other.mkdir()
    served = Served(demo_copy, "--no-search", env=env)
    try:
        wait_until(lambda: not killed.workdir.exists(), what="the killed serve's folder to go")
        assert alive.is_dir() and other.is_dir() and served.workdir.is_dir()
    finally:
        assert served.stop() == 0
    assert not served.workdir.exists()
