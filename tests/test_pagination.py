"""Listings split over pages: no page grows with the dossier.

The home page, the claims index and an entity's claims and mentions go on
over pages of PAGE_SIZE items (100; 4 here, so a small generated dossier
has many pages). Every item appears on exactly one page, in order, and
every link between pages is relative, names index.html and leads to a
file that exists, with the anchor it names.
"""

from __future__ import annotations

import posixpath
import re
import sys
from pathlib import Path

import pytest

from dossier import render
from dossier.build import build

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from generate import generate  # noqa: E402
from conftest import run_cli  # noqa: E402

SIZE = 4


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("paged")
    site = generate(root / "site", articles=30, entities=12, seed=5)
    saved, render.PAGE_SIZE = render.PAGE_SIZE, SIZE
    try:
        result = build(site, root / "out", search=False)
    finally:
        render.PAGE_SIZE = saved
    assert result.ok, result.diagnostics.sorted()
    return site, root / "out"


def pages_of(out: Path, first: str) -> list[str]:
    """Follow rel=next links from a listing's first page; every page's path."""
    paths, path = [], first
    while path:
        paths.append(path)
        html = (out / path).read_text()
        nxt = re.search(r'<a rel="next" href="([^"]+)"', html)
        path = posixpath.normpath(posixpath.join(posixpath.dirname(path), nxt.group(1))) if nxt else None
        assert len(paths) < 1000
    return paths


def items(html: str, pattern: str) -> list[str]:
    return re.findall(pattern, html)


def test_home_lists_every_article_once_in_order(built):
    site, out = built
    paths = pages_of(out, "index.html")
    assert paths[1] == "page-2/index.html" and len(paths) == -(-30 // SIZE)
    listed = []
    for path in paths:
        html = (out / path).read_text()
        found = items(html, r'<a class="title" href="[./]*articles/([a-z0-9-]+)/index\.html"')
        assert 0 < len(found) <= SIZE
        listed += found
        assert ('class="counts"' in html) == (path == "index.html")  # the numbers are on the first page only
    assert sorted(listed) == sorted(p.stem for p in (site / "content" / "articles").glob("*.md"))
    assert len(set(listed)) == len(listed)


def test_claims_index_pages_hold_every_claim_once(built):
    site, out = built
    paths = pages_of(out, "claims/index.html")
    claim_ids = re.findall(r"^  - id: (\S+)$", "\n".join(
        p.read_text() for p in (site / "content" / "articles").glob("*.yaml")), re.M)
    assert len(paths) == -(-len(claim_ids) // SIZE)
    listed = []
    for path in paths:
        found = items((out / path).read_text(), r'<li id="c-([a-z0-9-]+)"')
        assert 0 < len(found) <= SIZE
        listed += found
    assert sorted(listed) == sorted(claim_ids)


def test_status_links_lead_to_the_page_where_the_status_begins(built):
    _, out = built
    for source in ("index.html", "claims/index.html", "claims/page-3/index.html"):
        html = (out / source).read_text()
        links = re.findall(r'href="([^"]*claims/[^"]*#status-[a-z]+)"', html) + \
            re.findall(r'href="((?:\.\./)*(?:page-\d+/)?index\.html#status-[a-z]+)"', html)
        assert links, source
        for link in links:
            target, anchor = link.split("#")
            assert target.endswith("index.html") and not target.startswith("/")
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(source), target))
            assert f'id="{anchor}"' in (out / resolved).read_text(), (source, link)


def test_an_often_mentioned_entity_goes_on_over_pages(built):
    _, out = built
    biggest = max((out / "entities").iterdir(), key=lambda p: len(list(p.glob("page-*"))))
    paths = pages_of(out, f"entities/{biggest.name}/index.html")
    assert len(paths) > 1
    first = (out / paths[0]).read_text()
    total = int(re.search(r"Mentions \((\d+)\)", first).group(1))
    sources, hits = [], 0
    for path in paths:
        html = (out / path).read_text()
        found = items(html, r'<h3 class="mention-source"><a href="[./]*articles/([a-z0-9-]+)/index\.html"')
        assert len(found) <= SIZE
        assert len(items(html, r'<li id="(?:about-)?c-')) <= 2 * SIZE  # claims by it and about it
        sources += found
        hits += html.count('class="in-context"')
        assert ("data-pagefind-body" in html) == (path == paths[0])  # indexed once, not per page
    assert hits == total
    assert len(set(sources)) == len(sources)


def test_each_later_page_of_a_listing_gives_its_number_in_its_title(built):
    """As claims/page-2/ is "Claims, page 2 · …", so is every later page of each listing:
    no two pages of one listing share a title (tabs, bookmarks, search engines tell them apart)."""
    _, out = built
    biggest = max((out / "entities").iterdir(), key=lambda p: len(list(p.glob("page-*"))))
    for first in ("index.html", "claims/index.html", f"entities/{biggest.name}/index.html"):
        paths = pages_of(out, first)
        assert len(paths) > 1, first
        titles = [re.search(r"<title>([^<]*)</title>", (out / p).read_text()).group(1) for p in paths]
        assert len(set(titles)) == len(titles), titles
        for number, title in enumerate(titles[1:], 2):
            assert f", page {number} · " in title, title


def test_every_pager_link_exists(built):
    _, out = built
    for page in out.rglob("index.html"):
        html = page.read_text()
        for nav in re.findall(r'<nav class="pager".*?</nav>', html, re.S):
            for href in re.findall(r'href="([^"]+)"', nav):
                assert href.endswith("index.html") and "://" not in href
                assert (page.parent / href).resolve().is_file(), (page, href)


def test_a_free_page_may_not_take_a_page_number(demo_copy: Path):
    (demo_copy / "content" / "pages").mkdir(exist_ok=True)
    (demo_copy / "content" / "pages" / "page-2.md").write_text("# Second\n")
    proc = run_cli("check", str(demo_copy))
    assert proc.returncode == 1
    assert "content/pages/page-2.md:1:1: error:" in proc.stderr


def edge_site(root: Path, articles: int) -> Path:
    """`articles` articles, each published by River Agency and mentioning it once."""
    from fixtures.sitekit import write

    write(root, "site.yaml", "title: Edge\n")
    write(root, "content/entities/river-agency.yaml", "name: River Agency\ntype: organization\n")
    for n in range(articles):
        write(root, f"content/articles/a{n:03d}.md", f"River Agency report {n}.\n")
        write(root, f"content/articles/a{n:03d}.yaml",
              f"title: Report {n:03d}\nsource: {{publisher: river-agency, published: 2024-01-{1 + n % 28:02d}}}\n")
    return root


@pytest.mark.parametrize("articles", [SIZE, SIZE + 1, 2 * SIZE + 1])
def test_a_publishers_articles_and_mentions_go_on_over_pages_at_exactly_the_page_size(tmp_path, articles):
    """At PAGE_SIZE items one page, at one more two: each article once among the publisher's
    articles and once among its mentions, in the home page's order, with the full count on every page."""
    saved, render.PAGE_SIZE = render.PAGE_SIZE, SIZE
    try:
        result = build(edge_site(tmp_path / "site", articles), tmp_path / "out", search=False)
    finally:
        render.PAGE_SIZE = saved
    assert result.ok, result.diagnostics.sorted()
    out = tmp_path / "out"
    paths = pages_of(out, "entities/river-agency/index.html")
    assert len(paths) == -(-articles // SIZE)
    published, mentioned = [], []
    for path in paths:
        html = (out / path).read_text()
        assert f"Articles by River Agency ({articles})" in html and f"Mentions ({articles})" in html
        section = html.split('aria-labelledby="articles-by"')[1].split("</section>")[0]
        published += items(section, r'href="[./]*articles/([a-z0-9-]+)/index\.html"')
        mentioned += items(html, r'<h3 class="mention-source"><a href="[./]*articles/([a-z0-9-]+)/index\.html"')
    home = items((out / "index.html").read_text(), r'<a class="title" href="articles/([a-z0-9-]+)/index\.html"')
    assert published == mentioned == home[:SIZE] + [a for p in pages_of(out, "index.html")[1:] for a in
                                                      items((out / p).read_text(), r'<a class="title" href="[./]*articles/([a-z0-9-]+)/index\.html"')]
    assert len(set(published)) == articles


def test_an_unmentioned_entitys_empty_state_is_said_once_on_its_first_page(tmp_path):
    """A claimant never named in the text, with claims over two pages: the mentions' empty
    state belongs with the rest of what is said of it once, on the first page."""
    from fixtures.sitekit import write

    site = tmp_path / "site"
    write(site, "site.yaml", "title: Edge\n")
    write(site, "content/entities/river-agency.yaml", "name: River Agency\ntype: organization\n")
    for n in range(SIZE + 1):
        write(site, f"content/articles/a{n}.md", f"The bridge holds {n}.\n")
        write(site, f"content/articles/a{n}.yaml", f"title: Report {n}\nclaims:\n"
                                                   f"  - {{id: c{n}, quote: bridge holds {n}, claimant: river-agency}}\n")
    saved, render.PAGE_SIZE = render.PAGE_SIZE, SIZE
    try:
        assert build(site, tmp_path / "out", search=False).ok
    finally:
        render.PAGE_SIZE = saved
    paths = pages_of(tmp_path / "out", "entities/river-agency/index.html")
    said = ["Not mentioned in any article yet." in (tmp_path / "out" / p).read_text() for p in paths]
    assert said == [True, False]
