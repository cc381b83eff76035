"""Stage 2 and the whole pipeline: references resolved into a registry, and an
end-to-end build of the fixture dossier checked against CONTRACT.md sections 6 and 7.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from dossier.build import check
from fixtures.htmltree import Element, norm, parse
from fixtures.sitekit import BASIC, make_site, run_process
from conftest import published_pages

ARTICLE_ORDER = ["bridge-reopened", "bridge-closed", "alpha-note", "beta-note"]  # newest first, undated by title


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("e2e") / "output"
    code, stdout, stderr = run_process("build", str(BASIC), "-o", str(folder))
    assert code == 0, stderr
    assert "Traceback" not in stderr
    return folder


@pytest.fixture(scope="module")
def pages(out) -> dict[str, Element]:
    """Every HTML page of the output but Pagefind's own files, parsed (strictly nested)."""
    return {p.relative_to(out).as_posix(): parse(p.read_text("utf-8"))
            for p in published_pages(out) if "pagefind" not in p.relative_to(out).parts}


# -- the registry ---------------------------------------------------------------------------

def test_registry_links_claims_entities_and_relations():
    r = check(BASIC).resolved
    assert sorted(r.claims_by["anna-kovac"]) == ["closed-monday", "six-weeks", "structural-damage"]
    assert r.claims_by["river-agency"] == ["reopened-early"]
    assert sorted(r.claims_about["north-bridge"]) == ["closed-monday", "reopened-early", "structural-damage"]
    assert r.supported_by["structural-damage"] == ["reopened-early"]
    assert r.contradicted_by["reopened-early"] == ["six-weeks"]
    assert r.relations_in["river-agency"] == [("anna-kovac", "spokesperson of")]
    assert r.publisher_entity(next(a for a in r.dossier.articles if a.slug == "bridge-closed")).id == "daily-courier"
    assert r.publisher_entity(next(a for a in r.dossier.articles if a.slug == "bridge-reopened")) is None


def test_hits_carry_their_sentence():
    r = check(BASIC).resolved
    hits = [h for h in r.hits["north-bridge"] if h.article == "bridge-reopened"]
    assert [(h.before, h.text, h.after) for h in hits] == [("The ", "North Bridge", " reopened after only four weeks, the River Agency said on Friday.")]
    explicit = [h for h in r.hits["anna-kovac"] if h.explicit]
    assert [(h.article, h.text) for h in explicit] == [("bridge-closed", "Anna Kovač")]


def test_autolink_can_be_switched_off_per_article(tmp_path):
    site = make_site(tmp_path / "s", {"content/articles/beta-note.yaml": "title: Beta note\nautolink: false\n"})
    r = check(site).resolved
    assert not [h for h in r.hits["north-bridge"] if h.article == "beta-note"]


# -- section 7: details tests rely on --------------------------------------------------------

def test_home_lists_articles_newest_first_undated_last_by_title(pages):
    home = pages["index.html"]
    listed = [a.get("href") for a in home.find_all("a", class_="title")]
    assert listed == [f"articles/{slug}/index.html" for slug in ARTICLE_ORDER]


def test_footnotes_numbered_in_mark_order(pages):
    page = pages["articles/bridge-closed/index.html"]
    body = page.find("div", class_="body")
    first_marks = [m.get("data-claim") for m in body.find_all("mark") if m.get("id")]
    assert first_marks == ["closed-monday", "structural-damage", "six-weeks"]
    refs = [(s.find("a").get("href"), s.text()) for s in body.find_all("sup", class_="fnref")]
    assert refs == [("#fn-closed-monday", "1"), ("#fn-structural-damage", "2"), ("#fn-six-weeks", "3")]
    notes = page.find("section", class_="footnotes").find_all("li", pred=lambda e: (e.get("id") or "").startswith("fn-"))
    assert [(li.get("id"), li.get("value")) for li in notes] == [
        ("fn-closed-monday", "1"), ("fn-structural-damage", "2"), ("fn-six-weeks", "3")]


def test_footnote_names_claimant_status_note_and_links_related_claims(pages):
    page = pages["articles/bridge-closed/index.html"]
    note = page.find("li", id="fn-six-weeks")
    text = norm(note.text())
    assert "Anna Kovač" in text and "Disputed" in text
    hrefs = [a.get("href") for a in note.find_all("a")]
    assert "../../articles/bridge-reopened/index.html#claim-reopened-early" in hrefs
    assert "../../entities/anna-kovac/index.html" in hrefs
    monday = page.find("li", id="fn-closed-monday")
    assert "The agency's own notice says the same." in norm(monday.text())


def test_every_claim_is_marked_with_its_id_and_whole_quote(pages):
    r = check(BASIC).resolved
    for claim in r.claims.values():
        body = pages[f"articles/{claim.article}/index.html"].find("div", class_="body")
        pieces = body.find_all("mark", data_claim=claim.id)
        assert pieces[0].get("id") == f"claim-{claim.id}"
        assert [p for p in pieces if p.get("id")] == pieces[:1]
        joined = "".join(p.text(skip=lambda e: "fnref" in e.classes) for p in pieces)
        assert norm(joined) == norm(claim.selector.quote)


def test_mentions_link_to_their_entity_page(pages, out):
    body = pages["articles/bridge-closed/index.html"].find("div", class_="body")
    mentions = body.find_all("a", class_="mention")
    assert [(a.get("data-entity"), a.text()) for a in mentions] == [
        ("north-bridge", "North Bridge"), ("anna-kovac", "Anna Kovač"), ("anna-kovac", "Kovač"), ("daily-courier", "Daily Courier")]
    for a in mentions:
        assert a.get("href") == f"../../entities/{a.get('data-entity')}/index.html"


def test_entity_pages_show_mentions_claims_and_relations(pages):
    bridge = pages["entities/north-bridge/index.html"]
    hrefs = {a.get("href") for a in bridge.find_all("a")}
    for slug in ("bridge-reopened", "bridge-closed", "beta-note"):
        assert f"../../articles/{slug}/index.html" in hrefs
    for claim in ("structural-damage", "reopened-early", "closed-monday"):
        assert any(h.endswith(f"#claim-{claim}") for h in hrefs if h)
    kovac = {a.get("href") for a in pages["entities/anna-kovac/index.html"].find_all("a")}
    assert "../../entities/river-agency/index.html" in kovac
    agency = {a.get("href") for a in pages["entities/river-agency/index.html"].find_all("a")}
    assert "../../entities/anna-kovac/index.html" in agency, "relations show from both ends"


# -- section 6: links --------------------------------------------------------------------------

def _links(page: Element) -> list[str]:
    out = []
    for e in page.iter():
        for attr in ("href", "src", "action"):
            if e.get(attr) is not None and not (e.tag == "link" and e.get("rel") in ("canonical", "alternate")
                                                and attr == "href" and "://" in e.get(attr)):
                out.append(e.get(attr))
    return out


def test_every_internal_link_names_a_file_that_exists(out, pages):
    ids = {path: {e.get("id") for e in page.iter() if e.get("id")} for path, page in pages.items()}
    checked = 0
    for path, page in pages.items():
        for link in _links(page):
            parts = urlsplit(link)
            if parts.scheme or link.startswith("//"):
                assert parts.scheme in ("http", "https", "mailto"), f"{path}: {link}"
                continue
            assert not link.startswith("/"), f"{path}: root-absolute link {link}"
            target = posixpath.normpath(posixpath.join(posixpath.dirname(path), parts.path)) if parts.path else path
            assert not target.startswith(".."), f"{path}: {link} leaves the output"
            if parts.path:
                assert not parts.path.endswith("/"), f"{path}: {link} names a folder, not a file"
                assert (out / target).is_file(), f"{path}: {link} -> {target} is missing"
            if parts.fragment and target.endswith(".html"):
                assert parts.fragment in ids[target], f"{path}: {link}: no id '{parts.fragment}' in {target}"
            checked += 1
    assert checked > 200


def test_404_page_works_at_any_depth(pages):
    for link in _links(pages["404.html"]):
        assert link.startswith("https://example.org/river/") or link.startswith("#"), link


def test_output_layout(out):
    for path in ["index.html", "entities/index.html", "claims/index.html", "search/index.html", "404.html",
                 "sitemap.xml", "about/index.html", "articles/alpha-note/index.html", "entities/anna-kovac/index.html",
                 "pagefind/pagefind.js"]:
        assert (out / path).is_file(), path
    sitemap = (out / "sitemap.xml").read_text()
    assert "<loc>https://example.org/river/articles/bridge-closed/index.html</loc>" in sitemap


def test_no_page_has_inline_scripts_styles_or_handlers(pages):
    for path, page in pages.items():
        for e in page.iter():
            assert not [a for a in e.attrs if a.startswith("on")], f"{path}: <{e.tag}> has an event handler"
            assert "style" not in e.attrs, f"{path}: <{e.tag} style=...> breaks style-src 'self'"
            if e.tag == "script" and e.get("type") != "application/ld+json":  # data, never run
                assert e.get("src") and not e.text().strip(), f"{path}: inline script"
            assert e.tag != "style", f"{path}: inline <style>"
        csp = [m for m in page.find_all("meta") if (m.get("http-equiv") or "").lower() == "content-security-policy"]
        assert len(csp) == 1, path
        assert "default-src 'self'" in csp[0].get("content")


def test_entities_named_alongside_are_counted_by_article_most_first():
    """`related` (the entity page's "Often mentioned alongside"), worked out an entity at a time
    when asked, is what counting every article's named entities gives."""
    from collections import Counter
    from dossier.resolve import RELATED
    result = check(Path(__file__).resolve().parent.parent)  # the demo dossier
    assert result.ok
    r = result.resolved
    together: dict[str, Counter] = {}
    for analysis in r.analyses.values():
        named = {h.entity for h in analysis.hits}
        for e in named:
            together.setdefault(e, Counter()).update(named - {e})
    want = {e: sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:RELATED] for e, c in together.items()}
    assert any(len(v) > 1 for v in want.values())
    assert {e: r.related[e] for e in r.related} == want and len(r.related) == len(want)
    unnamed = [e for e in r.entities if e not in want]
    assert all(r.related.get(e, []) == [] for e in unnamed)


def test_404_page_without_base_url_links_nowhere_and_says_what_to_do(tmp_path):
    from fixtures.sitekit import run, tiny_site

    site = tiny_site(tmp_path / "site", "Anna Kovač spoke.\n", "title: A\n")
    code, _, stderr = run("build", str(site), "-o", str(tmp_path / "out"), "--no-search")
    assert code == 0, stderr
    page = (tmp_path / "out" / "404.html").read_text("utf-8")
    assert "href=" not in page.replace('href="data:,"', "")  # at any depth, a relative link would break
    assert "Check the address, or go back to the page you came from." in page


def test_names_and_titles_sort_as_a_reader_looks_them_up():
    """Not by code point: accented letters with their base letter (German, French), and the
    letters of Ukrainian's alphabet in their places (ґ after г, є after е, і ї й after и)."""
    from dossier.resolve import alphabetical

    ukrainian = ["Анна", "Гнат", "Ґава", "Дмитро", "Євген", "Иван", "Ігор", "Їжак", "Йосип", "Олександр", "Яна"]
    assert sorted(reversed(ukrainian), key=alphabetical) == ukrainian
    latin = ["apple", "Ärger", "Edith", "Élise", "Jürgen", "Zebra"]
    assert sorted(reversed(latin), key=alphabetical) == latin
