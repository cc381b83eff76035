"""A built dossier works wherever it is put: under a sub-path of a web
server (every page and asset loads, no link leaves the sub-path, search
works) and opened straight from disk (search aside)."""

from __future__ import annotations

import json
import re
import shutil
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from conftest import REPO, published_pages, run_cli

PREFIX = "some/path/"
URL_ATTRS = {"href", "src", "action", "poster", "data"}


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in URL_ATTRS and value is not None:
                self.urls.append(value)
            elif name == "srcset" and value:
                self.urls += [part.split()[0] for part in value.split(",") if part.strip()]


def links_in(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return parser.urls


def fetch(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read(), r.headers.get_content_type()
    except urllib.error.HTTPError as e:
        return e.code, b"", ""


@pytest.fixture
def served(tmp_path, http_root) -> tuple[Path, str]:
    """The demo built with base_url = where it is served: http://127.0.0.1:PORT/some/path/."""
    out = tmp_path / "out"
    out.mkdir()
    base = http_root(out, PREFIX)
    site = tmp_path / "site"
    shutil.copytree(REPO / "content", site / "content")
    (site / "site.yaml").write_text((REPO / "site.yaml").read_text("utf-8") + f"base_url: {base}\n", "utf-8")
    done = run_cli("build", str(site), "-o", str(out))
    assert done.returncode == 0, done.stderr
    return out, base


def test_every_link_and_asset_loads_and_stays_under_the_sub_path(served):
    out, base = served
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(base))
    todo, seen, problems = [base + "index.html"], set(), []
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        status, body, kind = fetch(url)
        if status != 200:
            problems.append(f"{url}: HTTP {status}")
            continue
        text = body.decode("utf-8", errors="replace")
        found = links_in(text) if kind == "text/html" else re.findall(r"url\(['\"]?([^'\")]+)", text) if kind == "text/css" else []
        for value in found:
            target = urljoin(url, value)
            if not target.startswith(origin):
                continue  # another site, mail, data:
            if not target.startswith(base):
                problems.append(f"{url}: '{value}' leaves {PREFIX}")
            elif urlsplit(target).path.endswith("/"):
                problems.append(f"{url}: '{value}' names a folder, not a file")
            else:
                todo.append(target.split("#")[0])
    assert problems == []
    pages = {base + p.relative_to(out).as_posix() for p in published_pages(out)}
    reached = {u.split("?")[0] for u in seen}
    assert pages - reached == {base + "404.html"}, "every page is linked from another"


def _watch(page, base: str) -> list[str]:
    """Collect every request outside `base` and every failed or refused load."""
    problems: list[str] = []
    page.on("request", lambda r: None if r.url.startswith((base, "data:")) else problems.append(f"left: {r.url}"))
    page.on("requestfailed", lambda r: None if "ERR_ABORTED" in (r.failure or "")  # left the page first
            else problems.append(f"failed: {r.url} {r.failure}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 and r.request.resource_type != "document" else None)
    return problems


def test_pages_render_with_their_assets_and_search_works_under_the_sub_path(served, page):
    out, base = served
    problems = _watch(page, base)
    data = json.loads((out / "dossier.json").read_text("utf-8"))
    for rel in ("index.html", data["articles"][0]["path"], data["entities"][0]["path"], "claims/index.html",
                "entities/index.html", "about/index.html"):
        page.goto(base + rel)
        assert page.evaluate("getComputedStyle(document.querySelector('.site-header')).borderBottomStyle") == "solid", rel
        page.locator(".site-header a.site-title").click()
        assert page.url == base + "index.html"
    page.goto(base + "index.html")
    page.fill("#site-search", "prisoners")
    page.press("#site-search", "Enter")
    page.locator(".search-results > *").first.wait_for(timeout=15000)
    first = page.locator(".search-results a").first.get_attribute("href")
    assert urljoin(page.url, first).startswith(base)
    page.locator(".search-results a").first.click()
    page.wait_for_load_state()
    assert page.url.startswith(base)
    assert problems == [] and page.errors == []


def test_404_page_works_at_any_depth(served, page):
    out, base = served
    problems = _watch(page, base)
    body = (out / "404.html").read_text("utf-8")
    deep = base + "no/such/deep/page.html"
    page.route(deep, lambda route: route.fulfill(status=404, body=body, content_type="text/html"))
    page.goto(deep)
    assert page.locator("h1").inner_text() == "Page not found"
    assert page.evaluate("getComputedStyle(document.body).fontFamily") != "", "styled"
    assert page.evaluate("getComputedStyle(document.querySelector('main')).maxWidth") != "none", "dossier.css loaded"
    page.locator("main a").first.click()
    assert page.url == base + "index.html"
    assert problems == []


def test_opened_from_disk_every_page_kind_loads_its_assets(tmp_path, page):
    site = tmp_path / "site"
    shutil.copytree(REPO / "content", site / "content")
    shutil.copy(REPO / "site.yaml", site)
    out = tmp_path / "out"
    assert run_cli("build", str(site), "-o", str(out)).returncode == 0
    base = out.resolve().as_uri() + "/"
    problems = _watch(page, base)
    data = json.loads((out / "dossier.json").read_text("utf-8"))
    for rel in ("index.html", data["articles"][0]["path"], data["entities"][0]["path"], "claims/index.html"):
        page.goto(base + rel)
        assert page.evaluate("getComputedStyle(document.querySelector('main')).maxWidth") != "none", rel
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            if href.startswith("file:"):
                path = Path(urlsplit(href).path)
                assert path.is_file(), f"{rel}: {href} is not a file"
    assert problems == []
