"""Search: the Pagefind index a build makes, and the search page in Debian's Chromium.

The demo dossier is built once for the module, with the real Pagefind
binary, and served over HTTP on 127.0.0.1 under a sub-path, as a static
host would publish it. What each query must find is taken from the
dossier's own files (through the loader), not written down here.
"""

from __future__ import annotations

import gzip
import html as html_module
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

from conftest import REPO
from dossier import build as pipeline

SUB_PATH = "reports/kursk/"
WAIT = 15_000  # ms; Pagefind loads its WebAssembly on first use


# -- the built demo ---------------------------------------------------------------

def build(site: Path, out: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "build.py"), "build", str(site), "-o", str(out), *extra],
                          capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """(site, output, the build's stderr) for a copy of the demo dossier."""
    root = tmp_path_factory.mktemp("search")
    site = root / "site"
    site.mkdir()
    shutil.copy(REPO / "site.yaml", site)
    shutil.copytree(REPO / "content", site / "content")
    out = root / "out"
    done = build(site, out)
    assert done.returncode == 0, done.stderr
    return site, out, done.stderr


@pytest.fixture(scope="module")
def model(demo):
    result = pipeline.check(demo[0])
    assert result.ok
    return result.resolved


@pytest.fixture
def search_page(demo, http_root, page):
    """Open the search page of the served demo; returns a function(query string) -> page."""
    base = http_root(demo[1], SUB_PATH)

    def open_(query: str = ""):
        page.goto(base + "search/index.html" + (f"?{query}" if query else ""))
        return page

    open_.base = base
    return open_


def decoded(bundle: Path) -> list[dict]:
    """Every record of a written index, in the order of its fragment files (gzip, a marker, JSON)."""
    records = []
    for path in sorted((bundle / "fragment").glob("*.pf_fragment")):
        raw = gzip.decompress(path.read_bytes())
        records.append(json.loads(raw[raw.index(b"{"):]))
    return records


def fragments(out: Path) -> list[dict]:
    """Every record of the index written into an output."""
    return decoded(out / "pagefind")


def one(items, what: str):
    found = list(items)
    assert len(found) == 1, f"expected exactly one {what} in the demo, found {len(found)}"
    return found[0]


# -- the index -------------------------------------------------------------------

def test_index_covers_articles_entities_and_pages_but_no_index_page(demo, model):
    d = model.dossier
    expected = ({f"/articles/{a.slug}/index.html" for a in d.articles}
                | {f"/entities/{e.id}/index.html" for e in d.entities}
                | {f"/{p.slug}/index.html" for p in d.pages})
    records = fragments(demo[1])
    urls = [r["url"] for r in records]
    assert sorted(urls) == sorted(expected)  # each once: nothing doubled, no index page, no claim record


def test_each_claim_is_an_anchor_of_its_article_followed_by_its_footnote_reference(demo, model):
    """What the search page finds claims by: the word positions of the mark and of the reference after it."""
    by_url = {r["url"]: r for r in fragments(demo[1])}
    for c in model.claims.values():
        anchors = {a["id"]: a for a in by_url[f"/articles/{c.article}/index.html"]["anchors"]}
        mark, reference = anchors[f"claim-{c.id}"], anchors[f"fnref-{c.id}"]
        assert mark["element"] == "mark"
        assert c.selector.quote.split()[0] == mark["text"].split()[0]
        assert mark["location"] < reference["location"]


def test_a_dossier_with_nothing_to_search_indexes_no_page(tmp_path):
    """With no article, entity or free page, Pagefind would fall back to every page's
    whole body (home, claims index, search page): nothing of that may be indexed."""
    site = tmp_path / "site"
    (site / "content" / "articles").mkdir(parents=True)
    shutil.copy(REPO / "site.yaml", site)
    done = build(site, tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "pagefind" / "pagefind.js").exists()
    assert fragments(tmp_path / "out") == []


def test_pagefind_settings_of_the_environment_or_the_working_folder_change_nothing(demo, tmp_path):
    """The binary would take settings from PAGEFIND_* variables and from a pagefind.yml where it
    runs: here each would index only the titles. The index must be the one the templates describe."""
    (tmp_path / "pagefind.yml").write_text("root_selector: h1\n")
    done = subprocess.run([sys.executable, str(REPO / "build.py"), "build", str(demo[0]), "-o", str(tmp_path / "out")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PAGEFIND_ROOT_SELECTOR": "h1", "PAGEFIND_EXCLUDE_SELECTORS": '["p"]'})
    assert done.returncode == 0, done.stderr
    assert fragments(tmp_path / "out") == fragments(demo[1])


def records_by_url(bundle: Path) -> dict[str, dict]:
    """The index's records by their pages' addresses (file names and page numbers vary from run to run)."""
    return {record["url"]: record for record in decoded(bundle)}


def pagefind_over(site: Path, bundle: Path, glob: str = "**/*.html") -> dict[str, dict]:
    """Run the Pagefind binary over a folder as a user would; its records by address."""
    from dossier.search import find_binary

    subprocess.run([str(find_binary()), "--site", str(site), "--output-path", str(bundle), "--glob", glob,
                    "--keep-index-url", "--force-language", "en", "--quiet"], check=True, timeout=120, cwd=bundle.parent)
    return records_by_url(bundle)


def searched_anchors_only(records: dict[str, dict]) -> dict[str, dict]:
    """The records with only the anchors the search reads: headings' and each claim's mark and reference."""
    from dossier.search import SEARCHED_ANCHORS

    return {url: {**r, "anchors": [a for a in r["anchors"] if a["element"] in ("h1", "h2", "h3", "h4", "h5", "h6")
                                   or a["id"].startswith(SEARCHED_ANCHORS)]} for url, r in records.items()}


def test_pagefind_reading_the_search_copies_makes_the_records_it_makes_from_the_pages(demo, model, tmp_path):
    """The build gives Pagefind a copy of each page less what it would parse only to drop, and less
    the ids no search reads; the records (text, filters, metadata, sorts, and the anchors the
    search reads) must be the ones the pages give."""
    from dossier.search import COPIES, Searched, searched_paths

    searched = searched_paths(Searched.of(model))
    from_pages = pagefind_over(demo[1], tmp_path / "bundle", "{" + ",".join(sorted(searched)) + "}")
    built = records_by_url(demo[1] / "pagefind")
    assert built == searched_anchors_only(from_pages)
    # The pages' mentions are anchors of the pages' records, not of the build's.
    assert sum(a["id"].startswith("m-") for r in from_pages.values() for a in r["anchors"]) > 20
    assert not any(a["id"].startswith("m-") for r in built.values() for a in r["anchors"])
    assert {a["element"] for r in built.values() for a in r["anchors"]} >= {"mark", "a", "h2"}
    copies = {str(p.relative_to(demo[1] / COPIES)) for p in (demo[1] / COPIES).rglob("*.html")}
    assert copies == searched
    sizes = [(demo[1] / COPIES / rel).stat().st_size / (demo[1] / rel).stat().st_size for rel in searched]
    assert max(sizes) < 0.9 and sum(sizes) / len(sizes) < 0.6


TRICKY_PAGE = """<!doctype html><html lang="en"><head><title>Tricky</title>
<meta data-pagefind-meta="image[content]" content="/cover.png"><meta data-pagefind-default-meta="image_alt[content]" content="A cover">
</head><body><nav>Site navigation, never searched <span data-pagefind-filter="author">Ana Lindqvist</span></nav>
<div data-pagefind-sort="weight[data-weight]" data-weight="4"></div>
<main data-pagefind-body data-pagefind-filter="kind:report">
<h1 id="top">Prisoners exchanged at the border</h1>
<p>Talks on the exchange, and the words data-pagefind-body and data-pagefind-ignore in the text, id="x" too.</p>
<p>A <a href="#m" id="m-1" title="A mention" id="m-2">name</a>, a <mark id="claim-c1">claim</mark><a id="fnref-c1">1</a>.</p>
<img data-pagefind-ignore src="/map.png" alt="A map"><p id="after-image">Kursk region, <em>August</em>.</p>
<section data-pagefind-ignore><h2 id="hidden">Sources</h2><p>Never searched either.</p>
  <ul><li data-pagefind-filter="source">Ministry statement</li><li data-status="Disputed" data-pagefind-filter="status[data-status]">A long note.</li>
  <li><section><p>nested</p><span data-pagefind-meta="checked:yes">x</span></section></li>
  <li data-pagefind-filter="region:Kursk" data-pagefind-meta="region:Kursk">twice set <b data-pagefind-meta="desk">Kyiv desk</b></li>
  <li data-pagefind-ignore="all"><span data-pagefind-filter="source">Dropped inside</span></li></ul></section>
<aside data-pagefind-ignore="all"><span data-pagefind-filter="source">Dropped with it</span> dropped text</aside>
<section data-pagefind-ignore="index" data-pagefind-filter="kind:claim"><p>Only its filter counts.</p></section>
<p data-pagefind-weight="5">Weighted words about the envoy.</p>
</main>
<footer>Footer words <span data-pagefind-meta="publisher">Plain Weekly</span></footer>
<div data-pagefind-body><p id="second">A second searched part about the corridor.</p></div>
<p data-pagefind-filter="edition">Evening</p>
</body></html>
"""


def test_a_search_copy_keeps_all_that_pagefind_takes_from_a_page(tmp_path):
    """Filters, metadata and sorts outside the searched part or inside an ignored one, values in
    the element's text, ignore="all", a void element, a second searched part, the words in text."""
    from dossier.search import search_copy

    pages, copies = tmp_path / "pages", tmp_path / "copies"
    for folder, html in ((pages, TRICKY_PAGE), (copies, search_copy(TRICKY_PAGE))):
        (folder / "tricky").mkdir(parents=True)
        (folder / "tricky" / "index.html").write_text(html, encoding="utf-8")
    expected = pagefind_over(pages, tmp_path / "from-pages")["/tricky/index.html"]
    # what the page gives, as Pagefind 1.5 reads it: the test's premises
    assert expected["filters"] == {"kind": ["claim", "report"], "author": ["Ana Lindqvist"], "edition": ["Evening"],
                                   "region": ["Kursk"], "source": ["Ministry statement"], "status": ["Disputed"]}
    assert expected["meta"] == {"checked": "yes", "desk": "Kyiv desk", "image": "/cover.png", "image_alt": "A cover",
                                "publisher": "Plain Weekly", "region": "Kursk",
                                "title": "Prisoners exchanged at the border"}
    assert "Sources" not in expected["content"] and "corridor" in expected["content"]
    assert [a["id"] for a in expected["anchors"]] == ["top", "m-1", "claim-c1", "fnref-c1", "after-image", "second"]
    copied = pagefind_over(copies, tmp_path / "from-copies")["/tricky/index.html"]
    assert copied == searched_anchors_only({"": expected})[""]
    assert [a["id"] for a in copied["anchors"]] == ["top", "claim-c1", "fnref-c1"]
    assert len(search_copy(TRICKY_PAGE)) < len(TRICKY_PAGE)


def test_a_page_without_a_searched_part_is_its_own_search_copy():
    from dossier.search import search_copy

    page = "<html><body><p>All of it: <span data-pagefind-filter=\"x\">y</span></p></body></html>"
    assert search_copy(page) == page


def test_a_page_whose_parts_leave_out_their_end_tags_is_its_own_search_copy():
    """HTML lets <p> and <li> go unclosed; where such an element ends is the parser's to tell."""
    from dossier.search import search_copy

    page = ("<html><body><main data-pagefind-body><p>Kept words<p data-pagefind-ignore>ignored words"
            "<p>kept again</main></body></html>")
    assert search_copy(page) == page


def test_records_carry_filters_and_metadata(demo, model):
    by_url = {r["url"]: r for r in fragments(demo[1])}
    site = model.dossier.site
    for a in model.dossier.articles:
        record = by_url[f"/articles/{a.slug}/index.html"]
        claims = [c for c in model.claims.values() if c.article == a.slug]
        assert sorted(record["filters"]["kind"]) == (["article", "claim"] if claims else ["article"])
        # each status once: Pagefind's counts of a filter value count it as often as a page gives it
        assert sorted(record["filters"].get("status", [])) == sorted({site.claim_status(c.status).label for c in claims})
        assert sorted(record["filters"].get("tag", [])) == sorted(a.tags)
        if a.source.published:
            assert record["meta"]["date"] == a.source.published.isoformat()
        publisher = model.publisher_entity(a)
        if a.source.publisher:
            assert record["meta"]["publisher"] == (publisher.name if publisher else a.source.publisher)
    for e in model.dossier.entities:
        record = by_url[f"/entities/{e.id}/index.html"]
        assert record["filters"] == {"kind": ["entity"], "type": [site.entity_type(e.type).label]}
        assert record["meta"]["title"] == e.name


def test_what_the_search_page_shows_of_a_claim_is_in_its_footnote_not_in_searched_metadata(demo, model):
    """Pagefind searches metadata: claimants' names there would make each article outrank their pages.
    The search page reads each claim's status, claimant and date from the footnote instead."""
    site = model.dossier.site
    for a in model.dossier.articles:
        page = (demo[1] / "articles" / a.slug / "index.html").read_text(encoding="utf-8")
        shown = {m[1]: json.loads(html_module.unescape(m[2]))
                 for m in re.finditer(r'<li id="fn-([^"]+)"[^>]*data-search-claim="([^"]*)"', page)}
        claims = {c.id: c for c in model.claims.values() if c.article == a.slug}
        assert {k[3:] if k.startswith("fn-") else k for k in shown} == set(claims)
        for cid, data in shown.items():
            c = claims[cid[3:] if cid.startswith("fn-") else cid]
            assert (data["status"], data["key"], data["quote"]) == (site.claim_status(c.status).label, c.status, c.selector.quote)
            assert data["claimant"] == (model.entities[c.claimant.id].name if c.claimant else "")
            assert data["date"] == (c.date.isoformat() if c.date else "")
    for record in fragments(demo[1]):
        assert not [k for k in record["meta"] if k.startswith("claim")], record["meta"]


def test_build_reports_pages_indexed_and_time(demo, model):
    d = model.dossier
    pages = len(d.articles) + len(d.entities) + len(d.pages)
    line = re.search(r"^search: indexed (\d+) pages, with the (\d+) claims in their articles, in [\d.]+ s$", demo[2], re.M)
    assert line, demo[2]
    assert (int(line[1]), int(line[2])) == (pages, len(model.claims))


def test_no_search_skips_the_index(demo, tmp_path):
    done = build(demo[0], tmp_path / "out", "--no-search")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "search" / "index.html").exists()
    assert not (tmp_path / "out" / "pagefind").exists()
    assert "search:" not in done.stderr


def tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def edited_copy(demo, tmp_path: Path, paragraph: str) -> tuple[Path, Path]:
    """(site, output): a copy of the demo and of its good build, then a paragraph added to an article."""
    out = tmp_path / "out"
    shutil.copytree(demo[1], out)
    site = tmp_path / "site"
    shutil.copytree(demo[0], site)
    article = sorted((site / "content" / "articles").glob("*.md"))[0]
    article.write_text(article.read_text(encoding="utf-8") + f"\n{paragraph}\n", encoding="utf-8")
    return site, out


@pytest.mark.parametrize("binary", ["missing", "exits", "not-executable"])
def test_a_missing_or_failing_binary_is_a_clear_error_and_keeps_the_output(demo, tmp_path, binary):
    site, out = edited_copy(demo, tmp_path, "A paragraph added since.")
    before = tree_digest(out)
    fake = tmp_path / "pagefind"
    if binary == "exits":
        fake.write_text("#!/bin/sh\necho 'pagefind: cannot start' >&2\nexit 3\n")
        fake.chmod(0o755)
    elif binary == "not-executable":
        fake.write_text("not a program\n")
    done = build(site, out, env={"PAGEFIND_BINARY_PATH": str(fake)})  # an edit: the index must be made again
    assert done.returncode == 2  # not the content's fault (1), as an output that cannot be written
    assert "Traceback" not in done.stderr
    error = [line for line in done.stderr.splitlines() if line.startswith("dossier: error:")]
    assert len(error) == 1 and "Pagefind" in error[0], done.stderr
    if binary == "exits":
        assert "exit status 3" in error[0]
    assert tree_digest(out) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []  # no staging left behind


def test_a_build_that_fails_its_link_check_while_pagefind_reads_stops_it_and_keeps_the_output(demo, tmp_path,
                                                                                               monkeypatch):
    """Pagefind starts on the staged pages before their links are checked (the two run side by side)."""
    from dossier import search as search_module

    site, out = edited_copy(demo, tmp_path, "See [nothing](../nowhere/index.html).")
    before = tree_digest(out)
    started = []
    monkeypatch.setattr(search_module.Indexing, "__init__",
                        lambda self, *a, init=search_module.Indexing.__init__, **k: init(self, *a, **k) or started.append(self))
    result = pipeline.build(site, out)
    assert [str(d) for d in result.diagnostics.errors] and "broken link" in str(result.diagnostics.errors[0])
    assert len(started) == 1 and started[0].process is not None
    assert started[0].process.poll() is not None  # stopped, not left running
    assert tree_digest(out) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_an_output_named_relative_to_where_the_build_runs_is_indexed(demo, tmp_path):
    """`python build.py` in a site folder writes to output/ there: a relative path, while
    Pagefind runs in a folder of its own."""
    done = subprocess.run([sys.executable, str(REPO / "build.py"), "build", ".", "-o", "out"], cwd=demo[0],
                          capture_output=True, text=True, timeout=300)
    try:
        assert done.returncode == 0, done.stderr
        assert records_by_url(demo[0] / "out" / "pagefind") == records_by_url(demo[1] / "pagefind")
    finally:
        shutil.rmtree(demo[0] / "out", ignore_errors=True)


def test_a_rebuild_after_an_edit_indexes_as_a_cold_build_does(demo, tmp_path):
    """Pages kept from the last build bring their search copies along; the edited one is copied anew."""
    site, out = edited_copy(demo, tmp_path, "A paragraph about the envoy's second visit.")
    assert build(site, out).returncode == 0
    assert build(site, tmp_path / "cold").returncode == 0
    records = records_by_url(out / "pagefind")
    assert records == records_by_url(tmp_path / "cold" / "pagefind")
    assert any("second visit" in r["content"] for r in records.values())


def test_a_build_without_search_between_two_with_it_leaves_no_stale_copy(demo, tmp_path):
    """A page changed by a --no-search build is kept as it is by the next build with search:
    the copy it brings along must be of that page, not of the one before the edit."""
    from dossier.search import COPIES

    site, out = edited_copy(demo, tmp_path, "A paragraph about the envoy's second visit.")
    assert build(site, out, "--no-search").returncode == 0
    assert not (out / COPIES).exists()  # nothing there to vouch for the pages changed meanwhile
    assert build(site, out).returncode == 0
    assert build(site, tmp_path / "cold").returncode == 0
    assert records_by_url(out / "pagefind") == records_by_url(tmp_path / "cold" / "pagefind")


def test_a_static_page_replacing_a_made_page_is_the_one_searched(demo, tmp_path):
    """The search reads what the output holds: a file of static/ over a page the build made."""
    site, out = edited_copy(demo, tmp_path, "A paragraph about the envoy's second visit.")
    mine = site / "static" / "about" / "index.html"
    mine.parent.mkdir(parents=True)
    mine.write_text('<!doctype html>\n<html lang="en"><title>About</title>\n'
                    '<main data-pagefind-body><h1>About</h1><p>Written by hand, zanzibarian.</p></main></html>\n')
    for target in (out, tmp_path / "cold"):  # kept from the last build, and made anew
        assert build(site, target).returncode == 0
        about = records_by_url(target / "pagefind")["/about/index.html"]
        assert "zanzibarian" in about["content"]
    assert records_by_url(out / "pagefind") == records_by_url(tmp_path / "cold" / "pagefind")


def test_build_works_in_a_thread_that_runs_an_event_loop(demo, tmp_path):
    """As under Playwright's sync API, or from an async program: asyncio.run alone would refuse."""
    import asyncio

    import concurrent.futures

    async def inside():
        return pipeline.build(demo[0], tmp_path / "out")

    # A thread of its own: the session's browser may already run a loop on this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        result = pool.submit(asyncio.run, inside()).result()
    assert result.ok
    assert (tmp_path / "out" / "pagefind" / "pagefind-entry.json").exists()


def test_search_page_allows_webassembly_and_has_no_inline_code(demo):
    html = (demo[1] / "search" / "index.html").read_text()
    csp = html_module.unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)[1])
    assert re.search(r"script-src 'self' 'wasm-unsafe-eval'", csp)
    assert "unsafe-inline" not in csp
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/ld\+json)[^>]*>", html), "inline script"
    assert " style=" not in html and "<style" not in html, "inline style"
    code = re.findall(r'<script[^>]*\bsrc="([^"]+)"', html)
    code += re.findall(r'<link[^>]*rel="(?:stylesheet|modulepreload)"[^>]*href="([^"]+)"', html)
    assert code and not [u for u in code if re.match(r"[a-z]+:|//", u)], code  # all from the site itself


# -- the search page, in the browser ---------------------------------------------------

def results(page):
    """(kind, link) of each result shown."""
    items = page.locator(".search-result")
    return [(item.get_attribute("class").split("kind-")[1], item.locator(".result-title a").get_attribute("href"))
            for item in items.all()]


def result_count(page) -> int:
    status = page.locator(".search-status").inner_text()
    return int(status.split()[0]) if status[:1].isdigit() else 0


def wait_for_results(page):
    """Wait for a search to finish and show every result (pressing "More results" as needed).

    Claims are counted as they are drawn: the status line says how many are shown,
    and once nothing is left to load, that is all of them."""
    expect(page.locator(".search-status")).to_contain_text(re.compile(r"\d+ results?|No results"), timeout=WAIT)
    while page.locator(".search-more").is_visible():
        shown = page.locator(".search-result").count()
        page.locator(".search-more").click()
        expect(page.locator(".search-result")).not_to_have_count(shown, timeout=WAIT)
        expect(page.locator(".search-more")).to_be_enabled(timeout=WAIT)
    expect(page.locator(".search-status")).not_to_contain_text("more below", timeout=WAIT)
    expect(page.locator(".search-result")).to_have_count(result_count(page), timeout=WAIT)


def type_query(page, text: str):
    box = page.locator("#search-query")
    box.fill("")
    box.press_sequentially(text, delay=20)
    expect(page.locator(".search-status")).to_contain_text(f"“{text}”", timeout=WAIT)
    wait_for_results(page)


def hrefs(page) -> list[str]:
    return [link for _, link in results(page)]


def ends(links: list[str], path: str) -> bool:
    return any(link.endswith(path) for link in links)


def test_typed_queries_find_the_article_the_entity_and_the_claim(search_page, model):
    d = model.dossier
    claim_909 = one((c for c in model.claims.values() if "909" in c.selector.quote), "claim quoting 909")
    article_909 = one((a for a in d.articles if "909" in a.title), "article titled with 909")
    claim_1150 = one((c for c in model.claims.values() if "1,150" in c.selector.quote), "claim quoting 1,150")
    syrsky = one((e for e in d.entities if "Syrsky" in e.aliases), "entity known as Syrsky")
    sudzha = one((e for e in d.entities if e.name == "Sudzha"), "entity named Sudzha")
    unit = next(e for e in d.entities if e.type == "unit")
    page = search_page()
    expect(page.locator(".search-status")).to_contain_text("Type", timeout=WAIT)

    type_query(page, "909")
    links = hrefs(page)
    assert ends(links, f"articles/{article_909.slug}/index.html")
    assert ends(links, f"articles/{claim_909.article}/index.html#claim-{claim_909.id}")
    assert all(link.startswith(f"/{SUB_PATH}") for link in links)  # they work under the sub-path

    type_query(page, "1,150")
    assert ends(hrefs(page), f"#claim-{claim_1150.id}")
    type_query(page, "Syrsky")
    assert hrefs(page)[0].endswith(f"entities/{syrsky.id}/index.html")  # the alias weighs most
    type_query(page, "Sudzha")
    assert ends(hrefs(page), f"entities/{sudzha.id}/index.html")
    type_query(page, unit.name)
    assert hrefs(page)[0].endswith(f"entities/{unit.id}/index.html")
    assert "q=" + unit.name.split()[0] in page.url  # the query is in the address: linkable
    assert_no_errors(page)


def test_results_show_kind_date_publisher_claimant_and_status(search_page, model):
    claim = one((c for c in model.claims.values() if "909" in c.selector.quote), "claim quoting 909")
    article = one((a for a in model.dossier.articles if "909" in a.title), "article titled with 909")
    page = search_page("q=909")
    wait_for_results(page)
    claim_item = page.locator(".search-result", has=page.locator(f'a[href$="#claim-{claim.id}"]'))
    expect(claim_item.locator(".result-kind")).to_contain_text("Claim")
    expect(claim_item.locator(".badge")).to_have_text(model.dossier.site.claim_status(claim.status).label)
    expect(claim_item.locator(".result-meta")).to_contain_text(model.entities[claim.claimant.id].name)
    article_item = page.locator(".search-result.kind-article",
                                has=page.locator(f'a[href$="articles/{article.slug}/index.html"]'))
    expect(article_item.locator(".result-kind")).to_contain_text("Article")
    publisher = model.publisher_entity(article)
    expect(article_item.locator(".result-meta")).to_contain_text(publisher.name if publisher else article.source.publisher)
    expect(article_item.locator(".result-meta time")).to_have_attribute("datetime", article.source.published.isoformat())


def check_filter(page, group: str, label: str, allowed: set[str]):
    """Tick one filter: fewer results than before, each one of the allowed links."""
    before = result_count(page)
    option = page.locator(f".filter-{group} label", has_text=re.compile(rf"^\s*{re.escape(label)}\s*\("))
    option.click()
    expect(page.locator(".search-status")).not_to_contain_text(f"{before} result", timeout=WAIT)
    wait_for_results(page)
    after = hrefs(page)
    assert 0 < len(after) < before, (group, label)
    stray = [link for link in after if not any(link.endswith(a) for a in allowed)]
    assert not stray, (group, label, stray)
    option.click()  # untick: back to where we were (the status says "Searching…" at once)
    wait_for_results(page)
    assert result_count(page) == before, (group, label)


def test_each_filter_narrows_the_results(search_page, model):
    d, site = model.dossier, model.dossier.site
    claim_urls = {c.id: f"articles/{c.article}/index.html#claim-{c.id}" for c in model.claims.values()}
    page = search_page()
    type_query(page, "Kursk")

    check_filter(page, "kind", "Claims", set(claim_urls.values()))
    person = site.entity_type("person").label
    check_filter(page, "type", person, {f"entities/{e.id}/index.html" for e in d.entities if e.type == "person"})
    disputed = [c for c in model.claims.values() if c.status == "disputed"]
    check_filter(page, "status", site.claim_status("disputed").label, {claim_urls[c.id] for c in disputed})

    def of_articles(articles):
        slugs = {a.slug for a in articles}
        return ({f"articles/{s}/index.html" for s in slugs}
                | {u for c, u in claim_urls.items() if model.claims[c].article in slugs})

    def publisher_name(a):
        e = model.publisher_entity(a)
        return e.name if e else a.source.publisher

    publisher = max({publisher_name(a) for a in d.articles if publisher_name(a)},
                    key=lambda p: sum(publisher_name(a) == p for a in d.articles))
    check_filter(page, "publisher", publisher, of_articles(a for a in d.articles if publisher_name(a) == publisher))
    tags = sorted({t for a in d.articles for t in a.tags}, key=lambda t: sum(t in a.tags for a in d.articles))
    tag = next(t for t in tags if 0 < sum(t in a.tags for a in d.articles) < len(d.articles))
    check_filter(page, "tag", tag, of_articles(a for a in d.articles if tag in a.tags))
    assert_no_errors(page)


def test_a_status_alone_lists_every_claim_with_that_status_and_nothing_else(search_page, model):
    site = model.dossier.site
    disputed = {f"articles/{c.article}/index.html#claim-{c.id}" for c in model.claims.values() if c.status == "disputed"}
    assert disputed
    page = search_page("status=" + site.claim_status("disputed").label)
    wait_for_results(page)
    links = hrefs(page)
    assert len(links) == len(disputed)
    assert {link.split(SUB_PATH, 1)[1] for link in links} == disputed
    expect(page.locator(".search-result .badge").first).to_have_text(site.claim_status("disputed").label)
    assert_no_errors(page)


def test_claims_are_found_by_their_claimant_as_well_as_their_quote(search_page, model, demo):
    """A claimant's name is not in the quote: the claim is found through its footnote's data."""
    by_claimant = {}
    for c in model.claims.values():
        if c.claimant:
            by_claimant.setdefault(c.claimant.id, []).append(c)
    claimant, claims = max(by_claimant.items(), key=lambda item: len(item[1]))
    surname = model.entities[claimant].name.split()[-1]

    def mentions(c):  # Pagefind finds the article only if its text has the name
        page = (demo[1] / "articles" / c.article / "index.html").read_text(encoding="utf-8")
        return surname in re.sub(r"<[^>]+>", " ", page.split('class="footnotes"')[0])

    expected = {f"#claim-{c.id}" for c in claims if surname not in c.selector.quote and mentions(c)}
    assert expected, "the demo has a claimant named outside the quotes of their claims"
    page = search_page(f"q={surname}&kind=claim")
    wait_for_results(page)
    links = hrefs(page)
    assert all(any(link.endswith(e) for link in links) for e in expected), (expected, links)
    assert {kind for kind, _ in results(page)} == {"claim"}


def test_filters_are_in_the_address_and_a_link_restores_them(search_page, model):
    page = search_page()
    type_query(page, "Kursk")
    page.locator(".filter-kind label", has_text="Claims").click()
    expect(page).to_have_url(re.compile(r"kind=claim"), timeout=WAIT)
    link = page.url
    page.goto("about:blank")
    page.goto(link)
    wait_for_results(page)
    expect(page.locator("#search-query")).to_have_value("Kursk")
    expect(page.locator(".filter-kind input[value=claim]")).to_be_checked()
    assert {kind for kind, _ in results(page)} == {"claim"}


def test_articles_newest_and_oldest_first(search_page, model):
    dated = sorted((a for a in model.dossier.articles if a.source.published),
                   key=lambda a: a.source.published, reverse=True)
    page = search_page()
    expect(page.locator(".search-status")).to_contain_text("Type", timeout=WAIT)
    page.locator("#search-sort").select_option("date-desc")
    wait_for_results(page)
    shown = [link for kind, link in results(page) if kind == "article"]
    assert [link.split("/")[-2] for link in shown][:len(dated)] == [a.slug for a in dated]
    page.locator("#search-sort").select_option("date-asc")
    expect(page).to_have_url(re.compile(r"sort=date-asc"), timeout=WAIT)
    wait_for_results(page)
    shown = [link for kind, link in results(page) if kind == "article"]
    assert [link.split("/")[-2] for link in shown][:len(dated)] == [a.slug for a in reversed(dated)]
    assert {kind for kind, _ in results(page)} == {"article"}  # undated ones last, by either order


def test_a_claim_result_lands_on_its_mark(search_page, model):
    claim = one((c for c in model.claims.values() if "1,150" in c.selector.quote), "claim quoting 1,150")
    page = search_page()
    type_query(page, "1,150")
    page.locator(f'.search-result a[href$="#claim-{claim.id}"]').first.click()
    expect(page).to_have_url(re.compile(rf"/{SUB_PATH}articles/{claim.article}/index\.html#claim-{claim.id}$"))
    mark = page.locator(f"mark#claim-{claim.id}")
    expect(mark).to_have_attribute("data-claim", claim.id)
    expect(page.locator("mark:target")).to_have_attribute("id", f"claim-{claim.id}")
    expect(mark).to_be_in_viewport()


def test_the_header_box_of_any_page_leads_to_the_search_page_with_the_query(demo, http_root, page, model):
    sudzha = one((e for e in model.dossier.entities if e.name == "Sudzha"), "entity named Sudzha")
    base = http_root(demo[1], SUB_PATH)
    page.goto(base + f"articles/{model.dossier.articles[0].slug}/index.html")
    page.locator("#site-search").fill("Sudzha")
    page.locator("#site-search").press("Enter")
    expect(page).to_have_url(re.compile(rf"/{SUB_PATH}search/index\.html\?q=Sudzha$"))
    wait_for_results(page)
    assert ends(hrefs(page), f"entities/{sudzha.id}/index.html")
    expect(page.locator("#search-query")).to_have_value("Sudzha")


def test_on_the_search_page_the_header_box_searches_too(search_page, model):
    sudzha = one((e for e in model.dossier.entities if e.name == "Sudzha"), "entity named Sudzha")
    page = search_page()
    expect(page.locator(".search-status")).to_contain_text("Type", timeout=WAIT)
    page.locator("#site-search").press_sequentially("Sudzha", delay=20)
    expect(page.locator(".search-status")).to_contain_text("“Sudzha”", timeout=WAIT)
    wait_for_results(page)
    assert ends(hrefs(page), f"entities/{sudzha.id}/index.html")
    expect(page.locator("#search-query")).to_have_value("Sudzha")


def test_more_results_keeps_the_keyboard_focus(search_page):
    """Enter on "More results": the focus goes on to the results it drew, not back to the page."""
    page = search_page("q=Kursk")
    more = page.locator(".search-more")
    expect(more).to_be_visible(timeout=WAIT)
    shown = page.locator(".search-result").count()
    more.focus()
    more.press("Enter")
    expect(page.locator(".search-result")).not_to_have_count(shown, timeout=WAIT)
    expect(page.locator(".search-status")).to_contain_text(re.compile(r"^\d+ results"), timeout=WAIT)
    focused = page.evaluate("""() => {
        const at = document.activeElement;
        return at && at !== document.body && at.closest('.search-main') ? at.outerHTML : null;
    }""")
    assert focused, "the focus fell back to the page"
    new_first = page.locator(".search-result").nth(shown).locator(".result-title a")
    if focused.startswith("<a"):  # on the first result drawn, so that reading goes on from there
        expect(new_first).to_be_focused()
    assert_no_errors(page)


@pytest.mark.parametrize("width", [320, 375])
def test_the_search_page_fits_a_narrow_screen(search_page, page, width):
    page.set_viewport_size({"width": width, "height": 640})
    search_page("q=prisoners")
    wait_for_results(page)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{overflow} px wider than the screen"
    for selector in ("#search-query", ".search-form button[type=submit]", ".search-result"):
        box = page.locator(selector).first.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, (selector, box)


def test_on_a_narrow_screen_the_results_come_before_the_filters(search_page, page):
    """32 filters stacked above the results put the first one screens down: they are folded
    away until asked for, on wide screens beside the results as before."""
    page.set_viewport_size({"width": 375, "height": 667})
    search_page("q=Kursk")
    expect(page.locator(".search-result").first).to_be_visible(timeout=WAIT)
    first = page.locator(".search-result").first.bounding_box()
    assert first["y"] + 40 < 667, f"the first result starts at {first['y']} px, below the first screen"
    option = page.locator(".filter-kind label", has_text="Claims")
    expect(option).to_be_hidden()
    page.locator(".search-layout summary").click()  # unfolded on demand
    expect(option).to_be_visible()
    option.click()
    expect(page).to_have_url(re.compile(r"kind=claim"), timeout=WAIT)
    wait_for_results(page)
    assert {kind for kind, _ in results(page)} == {"claim"}

    page.set_viewport_size({"width": 1200, "height": 800})  # wide: beside the results, unfolded
    search_page("q=Kursk")
    wait_for_results(page)
    expect(page.locator(".filter-kind label", has_text="Claims")).to_be_visible()
    assert page.locator(".search-filters").bounding_box()["x"] < page.locator(".search-results").bounding_box()["x"]
    assert_no_errors(page)


def test_from_disk_the_page_says_it_needs_a_server(demo, page):
    page.goto((demo[1] / "search" / "index.html").as_uri())
    expect(page.locator(".search-unavailable")).to_be_visible()
    expect(page.locator(".search-unavailable")).to_contain_text("web server")


def assert_no_errors(page):
    """No script error and no CSP refusal (a 404 for /favicon.ico is the browser's own request)."""
    problems = [e for e in page.errors if not e.startswith("Failed to load resource")]
    assert not problems, problems


def test_filters_of_values_in_other_scripts_each_have_their_own_checkbox(tmp_path, http_root, page):
    """Tags and publishers in Cyrillic: each filter's checkbox is its own (one id each), and its
    label ticks it, not the first value's; the address names the value as it is."""
    site = tmp_path / "site"
    (site / "content" / "articles").mkdir(parents=True)
    (site / "site.yaml").write_text("title: Полонені\nlanguage: uk\n", "utf-8")
    for slug, publisher, tag, text in (("obmin", "Українська правда", "полонені", "Обмін полоненими відбувся у вівторок."),
                                       ("sanktsii", "Радіо Свобода", "санкції", "Нові санкції набули чинності в понеділок.")):
        (site / "content" / "articles" / f"{slug}.md").write_text(text + "\n", "utf-8")
        (site / "content" / "articles" / f"{slug}.yaml").write_text(
            f"title: {text}\nsource: {{publisher: {publisher}, published: 2024-09-01}}\ntags: [{tag}]\n", "utf-8")
    done = build(site, tmp_path / "out")
    assert done.returncode == 0, done.stderr
    page.goto(http_root(tmp_path / "out") + "search/index.html")
    tags = page.locator(".filter-tag label")
    expect(tags).to_have_count(2, timeout=WAIT)
    expect(page.locator(".filter-publisher label")).to_have_count(2)
    page.locator(".filter-tag label", has_text="санкції").click()
    expect(page.locator(".filter-tag input[value='санкції']")).to_be_checked(timeout=WAIT)
    expect(page.locator(".filter-tag input[value='полонені']")).not_to_be_checked()
    expect(page).to_have_url(re.compile(r"\?tag=%D1%81%D0%B0%D0%BD%D0%BA%D1%86%D1%96%D1%97$"), timeout=WAIT)
    wait_for_results(page)
    assert [link.split("/")[-2] for _, link in results(page)] == ["sanktsii"]
    page.locator(".filter-publisher label", has_text="Радіо Свобода").click()
    expect(page.locator(".filter-publisher input[value='Радіо Свобода']")).to_be_checked(timeout=WAIT)
    expect(page.locator(".filter-publisher input[value='Українська правда']")).not_to_be_checked()
    ids = page.evaluate("[...document.querySelectorAll('[id]')].map(e => e.id)")
    assert sorted(i for i in set(ids) if ids.count(i) > 1) == []
    assert_no_errors(page)


def test_an_article_in_another_language_is_found_in_the_sites_one_index(tmp_path, http_root, page):
    """An article whose sidecar names another language is indexed with the others, in the site's
    language (one index for every page: the search page loads one), and its words find it."""
    site = tmp_path / "site"
    (site / "content" / "articles").mkdir(parents=True)
    (site / "site.yaml").write_text("title: Kursk captives\nlanguage: en\n", "utf-8")
    for slug, language, text in (
            ("exchange", "en", "The exchange of prisoners took place on Tuesday."),
            ("obmin", "uk", "Обмін полоненими відбувся у вівторок біля кордону."),
            ("tabadul", "ar", "جرى تبادل الأسرى يوم الثلاثاء قرب الحدود.")):
        (site / "content" / "articles" / f"{slug}.md").write_text(text + "\n", "utf-8")
        (site / "content" / "articles" / f"{slug}.yaml").write_text(
            f"title: Swap report ({slug})\nlanguage: {language}\n", "utf-8")
    out = tmp_path / "out"
    done = build(site, out)
    assert done.returncode == 0, done.stderr
    entry = json.loads((out / "pagefind" / "pagefind-entry.json").read_text("utf-8"))
    assert list(entry["languages"]) == ["en"] and entry["languages"]["en"]["page_count"] == 3
    page.goto(http_root(out) + "search/index.html")
    for word, slug in (("полоненими", "obmin"), ("кордону", "obmin"), ("الأسرى", "tabadul"), ("prisoners", "exchange")):
        type_query(page, word)
        assert [link.split("/")[-2] for _, link in results(page)] == [slug], word
    assert_no_errors(page)


def test_a_claim_found_shows_its_quote_in_its_articles_language(tmp_path, http_root, page):
    """A claim's quote is its article's words: the search page draws it (the result's title and
    its excerpt) with the article's language and direction, as the article's own page does; a
    claim of an article in the site's language is drawn as before, unmarked."""
    site = tmp_path / "site"
    (site / "content" / "articles").mkdir(parents=True)
    (site / "site.yaml").write_text("title: Kursk captives\nlanguage: en\n", "utf-8")
    for slug, language, text, quote in (
            ("tabadul", "ar", "جرى تبادل الأسرى يوم الثلاثاء قرب الحدود.", "جرى تبادل الأسرى"),
            ("exchange", "en", "The exchange of captives took place on Tuesday.", "The exchange of captives")):
        (site / "content" / "articles" / f"{slug}.md").write_text(text + "\n", "utf-8")
        (site / "content" / "articles" / f"{slug}.yaml").write_text(
            f"title: Swap report ({slug})\nlanguage: {language}\nclaims:\n"
            f"  - id: swap-{slug}\n    quote: {quote}\n    status: unverified\n", "utf-8")
    out = tmp_path / "out"
    done = build(site, out)
    assert done.returncode == 0, done.stderr
    page.goto(http_root(out) + "search/index.html")
    type_query(page, "الأسرى")
    claim = page.locator(".search-result.kind-claim")
    expect(claim).to_have_count(1)
    for where in (".result-title a", ".result-excerpt"):
        words = claim.locator(f"{where} > span[lang]")
        expect(words).to_have_attribute("lang", "ar")
        expect(words).to_have_attribute("dir", "rtl")
    expect(claim.locator(".result-title a > span")).to_have_text("جرى تبادل الأسرى")
    type_query(page, "captives")
    claim = page.locator(".search-result.kind-claim")
    expect(claim).to_have_count(1)
    expect(claim.locator(".result-title a")).to_have_text("“The exchange of captives”")
    expect(claim.locator("[lang]")).to_have_count(0)
    assert_no_errors(page)


def test_serves_indexing_process_is_handed_the_pages_to_search_not_the_dossier(demo, model, tmp_path):
    """Serve indexes in a process of its own, handed (pickled) what indexing needs: the site's
    language and the searched pages. Handing it the whole dossier cost serve 4 s and 184 MB of
    pickle, and the child 0.6 GB, at 10,000 articles, for every index. The child, run as serve
    runs it, indexes the same pages from that alone."""
    import pickle

    from dossier.search import BUNDLE_DIR, Searched
    from dossier.serve import INDEX_CHILD

    stage = tmp_path / "stage"
    shutil.copytree(demo[1], stage)
    shutil.rmtree(stage / BUNDLE_DIR)
    searched = Searched.of(model)
    handed = pickle.dumps((str(stage), searched), pickle.HIGHEST_PROTOCOL)
    assert len(handed) * 20 < len(pickle.dumps(model, pickle.HIGHEST_PROTOCOL))
    child = subprocess.run([sys.executable, "-c", INDEX_CHILD], input=handed, capture_output=True, timeout=300,
                           env={**os.environ, "PYTHONPATH": str(REPO)})
    assert child.returncode == 0, child.stderr
    outcome = json.loads(child.stdout.decode().strip().splitlines()[-1])
    assert outcome == {"pages": len(searched.articles) + len(searched.entities) + len(searched.pages),
                       "claims": len(model.claims)}
    assert records_by_url(stage / BUNDLE_DIR) == records_by_url(demo[1] / BUNDLE_DIR)
