"""The pages' own behaviour in Chromium, outside search: what a reader sees of a claim, and of a right-to-left site."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from conftest import REPO, published_pages, run_cli
from dossier import build as pipeline
from dossier.render import Pager, SiteRenderer, text_direction
from fixtures.htmltree import parse
from fixtures.sitekit import BASIC, make_site


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("frontend")
    site = root / "site"
    site.mkdir()
    shutil.copy(REPO / "site.yaml", site)
    shutil.copytree(REPO / "content", site / "content")
    done = run_cli("build", str(site), "-o", str(root / "out"), "--no-search")
    assert done.returncode == 0, done.stderr
    return root / "out"


OUTLINED = "ids => ids.map(id => [...document.querySelectorAll(`mark[data-claim='${id}']`)].map(m => getComputedStyle(m).outlineStyle))"


@pytest.mark.parametrize("served", [True, False], ids=["http", "disk"])
def test_landing_on_a_claim_outlines_every_piece_of_its_quote(demo_out, http_root, page, served):
    """A quote that crosses markup is several marks, the first with the id: #claim-… must
    outline them all, on arrival and when the address's fragment changes."""
    split = None
    for path in sorted((demo_out / "articles").glob("*/index.html")):
        pieces = Counter(re.findall(r'<mark [^>]*data-claim="([^"]+)"', path.read_text("utf-8")))
        if any(n > 1 for n in pieces.values()) and len(pieces) > 1:
            claim = max(pieces, key=pieces.get)
            split = (path, claim, next(c for c in pieces if c != claim))
            break
    assert split, "the demo has a claim whose quote crosses markup, beside another claim"
    path, claim, other = split
    url = (http_root(demo_out) + path.relative_to(demo_out).as_posix()) if served else path.as_uri()

    page.goto(f"{url}#claim-{claim}")
    page.wait_for_load_state("load")
    outlined, unmarked = page.evaluate(OUTLINED, [claim, other])
    assert len(outlined) > 1 and set(outlined) == {"solid"}, outlined
    assert set(unmarked) == {"none"}

    page.evaluate(f"location.hash = '#claim-{other}'")
    page.wait_for_function(f"() => getComputedStyle(document.getElementById('claim-{other}')).outlineStyle === 'solid'")
    outlined, now = page.evaluate(OUTLINED, [claim, other])
    assert set(outlined) == {"none"} and set(now) == {"solid"}
    assert page.errors == []


# -- right-to-left languages ---------------------------------------------------------

ARABIC_TEXT = """\
# الجسر الشمالي

أُغلق الجسر الشمالي يوم الاثنين.

وقالت الوكالة إن الإصلاحات ستستغرق ستة أسابيع.

> قال السكان إن الطريق عبر البلدة القديمة مزدحم.

وأضافت أن حركة المرور ستحوَّل عبر البلدة القديمة.
"""
ARABIC_SIDECAR = """\
title: إغلاق الجسر الشمالي
source: {publisher: daily-courier, published: 2024-03-03}
claims:
  - id: six-weeks-ar
    quote: الإصلاحات ستستغرق ستة أسابيع
    claimant: river-agency
    status: unverified
"""


@pytest.mark.parametrize("tag, expected", [
    *[(t, "rtl") for t in ("ar", "he", "fa", "ur", "ps", "sd", "yi", "dv", "ug", "ckb", "ar-EG", "AR", "he-IL",
                           "fa-AF", "az-Arab", "pa-Arab-PK", "ur-PK-x-private")],
    *[(t, "ltr") for t in ("en", "uk", "ru", "zh-Hant", "pt-BR", "ar-Latn", "arn", "hea", "en-x-ar")],
])
def test_a_language_tag_gives_its_writing_direction(tag, expected):
    assert text_direction(tag) == expected


@pytest.fixture(scope="module")
def by_language(tmp_path_factory) -> dict[str, Path]:
    """The basic fixture with an Arabic article, built as an English site and as an Arabic one."""
    root = tmp_path_factory.mktemp("direction")
    outputs = {}
    for language in ("en", "ar"):
        site = make_site(root / language, {
            "site.yaml": (BASIC / "site.yaml").read_text("utf-8").replace("language: en", f"language: {language}"),
            "content/articles/bridge-ar.md": ARABIC_TEXT, "content/articles/bridge-ar.yaml": ARABIC_SIDECAR})
        done = run_cli("build", str(site), "-o", str(root / f"{language}-out"), "--no-search")
        assert done.returncode == 0, done.stderr
        outputs[language] = root / f"{language}-out"
    return outputs


def test_every_page_of_a_right_to_left_site_says_so_and_no_page_of_another(by_language):
    for language, out in by_language.items():
        pages = published_pages(out)
        assert len(pages) > 10 and out / "404.html" in pages
        openings = {p.relative_to(out).as_posix(): re.search(r"<html[^>]*>", p.read_text("utf-8"))[0] for p in pages}
        want = '<html lang="ar" dir="rtl">' if language == "ar" else '<html lang="en">'  # English pages as they were
        assert {rel: tag for rel, tag in openings.items() if tag != want} == {}, language


# Per element: the properties of its left and right sides, read in both layouts.
SIDES = """([selectors, properties]) => selectors.map(s => {
    const e = document.querySelector(s);
    if (!e) return null;
    const style = getComputedStyle(e);
    return properties.map(p => [style.getPropertyValue(p.replace('*', 'left')), style.getPropertyValue(p.replace('*', 'right'))]);
})"""
# What the English pages had before the stylesheets' sides became logical: left side, right side.
LTR_SIDES = {
    "articles/bridge-ar/index.html": {
        ".footnotes ol": {"padding-*": ["28.8px", "0px"]},
        ".footnotes li": {"border-*-width": ["4px", "0px"], "padding-*": ["13.5px", "13.5px"]},
        ".footnotes .back": {"margin-*": ["0px", "5.4px"]},
        ".fnref": {"margin-*": ["1.26px", "0px"]},
        ".body blockquote": {"padding-*": ["18px", "0px"], "border-*-width": ["3px", "0px"]},
    },
    "entities/anna-kovac/index.html": {".mentions li": {"padding-*": ["14.4px", "0px"], "border-*-width": ["3px", "0px"]}},
    "search/index.html": {".search-unavailable": {"padding-*": ["16.2px", "16.2px"], "border-*-width": ["4px", "0px"]}},
}


def test_a_right_to_left_site_is_laid_out_right_to_left_and_an_english_one_as_before(by_language, page):
    """Arabic text starts at the right, footnote numbers and quote rules stand on the right, the header
    runs from the right; the English site keeps every side it had."""
    layouts = {}
    for language, out in by_language.items():
        page.set_viewport_size({"width": 1200, "height": 800})
        page.goto((out / "articles/bridge-ar/index.html").as_uri())
        assert page.evaluate("getComputedStyle(document.querySelector('.body p')).direction") == \
            ("rtl" if language == "ar" else "ltr")
        # Where the paragraph's one line of text sits within the paragraph's box.
        line = page.evaluate("""() => {
            const p = document.querySelector('.body p'), range = document.createRange();
            range.selectNodeContents(p);
            const box = p.getBoundingClientRect(), rects = [...range.getClientRects()];
            return {start: Math.min(...rects.map(r => r.left)) - box.left, end: box.right - Math.max(...rects.map(r => r.right))};
        }""")
        header = page.evaluate("""() => {
            const title = document.querySelector('.site-title').getBoundingClientRect();
            const search = document.querySelector('.search-box').getBoundingClientRect();
            return {title_left: title.left, search_left: search.left};
        }""")
        list_box = page.evaluate("""() => {
            const ol = document.querySelector('.footnotes ol').getBoundingClientRect();
            const li = document.querySelector('.footnotes li').getBoundingClientRect();
            return {left: li.left - ol.left, right: ol.right - li.right};
        }""")
        if language == "ar":
            assert abs(line["end"]) < 1 and line["start"] > 100, line  # aligned right
            assert header["title_left"] > header["search_left"], header  # the title on the right, the search box on the left
            assert list_box["right"] > 20 and abs(list_box["left"]) < 1, list_box  # the numbers' room on the right
        else:
            assert abs(line["start"]) < 1 and line["end"] > 100, line
            assert header["title_left"] < header["search_left"], header
            assert list_box["left"] > 20 and abs(list_box["right"]) < 1, list_box
        assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
        skip = page.locator(".skip").bounding_box()  # off the screen, past the side the text starts at
        assert (skip["x"] >= 1200) if language == "ar" else (skip["x"] + skip["width"] <= 0), skip
        sides = {}
        for rel, elements in LTR_SIDES.items():
            page.goto((out / rel).as_uri())
            selectors = list(elements)
            names = sorted({p for props in elements.values() for p in props})
            found = page.evaluate(SIDES, [selectors, names])
            for selector, values in zip(selectors, found):
                assert values is not None, (language, rel, selector)
                sides[rel, selector] = {p: list(v) for p, v in zip(names, values) if p in elements[selector]}
        layouts[language] = sides
    expected = {(rel, s): props for rel, elements in LTR_SIDES.items() for s, props in elements.items()}
    assert layouts["en"] == expected
    assert layouts["ar"] == {key: {p: v[::-1] for p, v in props.items()} for key, props in expected.items()}


def pager_links(site: Path, number: int, count: int) -> list:
    """The links of a listing's pager, made by the site's templates."""
    renderer = SiteRenderer(pipeline.check(site).resolved, site)
    html = renderer.env.from_string('{% from "macros.html" import pager with context %}{{ pager(p) }}').render(
        root="", p=Pager(number, "index.html", count))
    return parse(html).find_all("a")


def test_the_pager_arrows_point_where_previous_and_next_stand(by_language):
    """A listing's pager runs from the right in a right-to-left page: Previous is on the right."""
    shown = {language: [a.text() for a in pager_links(out.parent / language, 2, 3) if a.get("rel")]
             for language, out in by_language.items()}
    assert shown == {"en": ["← Previous", "Next →"], "ar": ["→ Previous", "Next ←"]}


def test_a_screen_reader_names_the_pagers_links_without_their_arrows(by_language):
    links = pager_links(by_language["en"].parent / "en", 3, 5)
    named = [a.text(skip=lambda e: e.get("aria-hidden") == "true").strip() for a in links]
    assert named == ["Previous", "First", "Last", "Next"]


# -- readers who read differently: keyboard, screen readers, narrow screens, forced colours, print ---------

WIDE_TEXT = """\
The agency put its figures at https://example.org/figures/a/very/long/path/that/goes/on/and/on/without/a/break/2024-03-02.pdf for all.

The mayor said the crossing was closed because of the flood and the repairs, and the town agreed with her.

The Donaudampfschifffahrtsgesellschaftskapitänsmützenabzeichenherstellungsbetrieb was not affected.

| Crossing | Monday | Tuesday | Wednesday | Thursday | Friday | Saturday | Sunday | All week |
|----------|-------:|--------:|----------:|---------:|-------:|---------:|-------:|---------:|
| The old ford | 12000 | 12500 | 13000 | 13500 | 14000 | 14500 | 15000 | 94500 |
"""
WIDE_SIDECAR = """\
title: Wide things on a narrow screen
source:
  publisher: daily-courier
  url: https://example.com/courier/an-address-far-too-long-for-a-phone-held-upright-2024-03-05-closure
  published: 2024-03-05
tags: [a-tag, atagthatnobodywouldwriteandthatnolineholdsthatgoesonforever]
claims:
  - id: outer-claim
    quote: the crossing was closed because of the flood and the repairs
    claimant: anna-kovac
    status: confirmed
  - id: inner-claim
    quote: because of the flood
    claimant: anna-kovac
    status: refuted
    note: "[The agency's notice](https://example.org/notice) says otherwise; so does https://example.org/another/very/long/address/in/a/note/2024-03-06.html"
"""
LONG_ENTITY = """\
name: Donaudampfschifffahrtsgesellschaftskapitänsmützenabzeichenherstellungsbetriebsbrücke
type: place
description: "Described at https://example.org/a/long/address/of/a/description/that/does/not/break/by/itself.html and [by its operator](https://example.org/operator)."
links: {website: "https://example.org/bridge"}
"""
WIDE = "articles/wide-things/index.html"
LONG_NAMED = "entities/long-bridge/index.html"


@pytest.fixture(scope="module")
def wide_out(tmp_path_factory) -> Path:
    """The basic fixture with what runs wide (long addresses, words, names and tags, a table) and a claim inside a claim."""
    root = tmp_path_factory.mktemp("wide")
    site = make_site(root / "site", {"content/articles/wide-things.md": WIDE_TEXT,
                                     "content/articles/wide-things.yaml": WIDE_SIDECAR,
                                     "content/entities/places/long-bridge.yaml": LONG_ENTITY})
    done = run_cli("build", str(site), "-o", str(root / "out"))
    assert done.returncode == 0, done.stderr
    return root / "out"


PAGE_OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.mark.parametrize("width", [320, 640], ids=["400%-zoom", "200%-zoom"])
def test_no_page_scrolls_sideways_on_a_narrow_screen_or_zoomed_in(wide_out, http_root, page, width):
    """A 1280 px wide window zoomed to 400% is 320 CSS px wide: long addresses, words, names and tags
    wrap (in the search filters too), and a wide table scrolls in its own box, never the page."""
    base = http_root(wide_out)
    page.set_viewport_size({"width": width, "height": 700})
    overflowing = {}
    for rel in (WIDE, LONG_NAMED, "entities/index.html", "claims/index.html", "index.html", "search/index.html?q=bridge"):
        page.goto(base + rel)
        if rel.startswith("search/"):
            page.locator(".search-results > *").first.wait_for()
            page.locator(".search-filter-box").evaluate("fold => { fold.open = true; }")
            assert page.locator(".filter-tag").get_by_text("atagthatnobody").is_visible()
        if (over := page.evaluate(PAGE_OVERFLOW)) > 0:
            overflowing[rel] = over
    assert overflowing == {}


def test_a_wide_table_scrolls_in_its_own_box_and_is_still_a_table(wide_out, page):
    page.set_viewport_size({"width": 320, "height": 700})
    page.goto((wide_out / WIDE).as_uri())
    table = page.locator(".body table")
    assert page.evaluate(PAGE_OVERFLOW) <= 0
    assert table.evaluate("t => t.scrollWidth > t.clientWidth && getComputedStyle(t).overflowX === 'auto'")
    tree = table.aria_snapshot()
    assert tree.startswith("- table") and 'columnheader "All week"' in tree and 'cell "94500"' in tree
    # Its numbers have no link to stop at: the box itself takes the focus, and the arrow keys scroll it.
    page.focus("#fnref-outer-claim")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.tagName") == "TABLE"
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('.body table').scrollLeft > 0")


# The marks of a claim quoted inside another claim's quote: what tells them apart, colours aside.
NESTED = """() => {
    const shape = m => { const s = getComputedStyle(m);
        return [s.borderBottomStyle, s.borderBottomWidth, s.textDecorationLine, s.textDecorationStyle, s.fontWeight, s.fontStyle]; };
    const inner = document.querySelector("mark[data-claim='inner-claim']");
    return [shape(inner.parentElement.closest('mark')), shape(inner)];
}"""


@pytest.mark.parametrize("media", [{}, {"forced_colors": "active"}, {"media": "print"}],
                         ids=["screen", "forced-colours", "print"])
def test_a_claim_quoted_inside_another_is_told_apart_without_colour(wide_out, page, media):
    """On screen the inner quote was only a darker yellow; Windows' high contrast and paper have no yellows."""
    page.emulate_media(**media)
    page.goto((wide_out / WIDE).as_uri())
    outer, inner = page.evaluate(NESTED)
    assert outer != inner
    assert "none" not in (outer[0], inner[0]), "each is underlined"


def test_following_a_footnote_and_its_back_link_moves_the_focus_and_keeps_the_claim_in_view(demo_out, page):
    """The footnote takes the focus (a screen reader reads it; the next Tab is its back link); the back
    link returns it to the reference, scrolled so that the claim's quote before it is on screen too."""
    article = demo_out / "articles/ukraine-says-909-captured/index.html"
    claim = "ukraine-909-captured"
    for width, height in ((1000, 700), (320, 560)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(article.as_uri())
        page.focus(f"#fnref-{claim}")
        page.keyboard.press("Enter")
        page.wait_for_function(f"() => location.hash === '#fn-{claim}'")
        focused = page.evaluate("() => [document.activeElement.id, document.activeElement.matches(':focus-visible'), "
                                "document.activeElement.getBoundingClientRect().top]")
        assert focused[:2] == [f"fn-{claim}", True] and 0 <= focused[2] < height / 2, focused
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.getAttribute('role')") == "doc-backlink"
        page.keyboard.press("Enter")
        page.wait_for_function(f"() => location.hash === '#fnref-{claim}'")
        assert page.evaluate("document.activeElement.id") == f"fnref-{claim}"
        quote_top = page.evaluate(f"document.getElementById('claim-{claim}').getBoundingClientRect().top")
        assert 0 <= quote_top < height, (width, quote_top)


def test_the_footnote_landed_on_is_outlined_without_colour(demo_out, page):
    """Forced colours (Windows' high contrast) drop its background and border colour; an outline stays."""
    page.emulate_media(forced_colors="active")
    page.goto((demo_out / "articles/ukraine-says-909-captured/index.html").as_uri() + "#fn-hundreds-defenders-home")
    look = "li => { const s = getComputedStyle(li); return [s.outlineStyle, s.borderInlineStartStyle, s.borderInlineStartWidth]; }"
    landed = page.locator("#fn-hundreds-defenders-home").evaluate(look)
    other = page.locator("#fn-ukraine-909-captured").evaluate(look)
    assert landed != other and landed[0] != "none"


def contrast(rgb_a: str, rgb_b: str) -> float:
    """WCAG contrast ratio of two computed colours (rgb(...) strings)."""
    def luminance(rgb):
        channels = [int(v) / 255 for v in re.findall(r"[\d.]+", rgb)[:3]]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b
    light, dark = sorted((luminance(rgb_a), luminance(rgb_b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


INKS = """sel => [...document.querySelectorAll(sel)].filter(e => e.getClientRects().length).map(e => {
    const s = getComputedStyle(e); return [e.className, s.color, s.borderBottomColor]; })"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_printed_page_is_dark_ink_on_white_paper_in_either_colour_scheme(demo_out, page, scheme):
    """Browsers print no backgrounds unless asked: a badge's light text of the dark scheme would vanish."""
    page.emulate_media(media="print", color_scheme=scheme)
    white = "rgb(255, 255, 255)"
    faint = []
    for rel in ("articles/ukraine-says-909-captured/index.html", "claims/index.html"):
        page.goto((demo_out / rel).as_uri())
        for selector in (".badge", "mark.claim", "main p", "a"):
            for cls, ink, edge in page.evaluate(INKS, selector):
                if contrast(ink, white) < 4.5 or (selector == "mark.claim" and contrast(edge, white) < 3):
                    faint.append((rel, selector, cls, ink, edge))
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == white
    assert faint == []


AFTER_LINKS = """() => [...document.querySelectorAll('main a')].filter(a => a.getClientRects().length).map(a =>
    [a.textContent.trim(), a.getAttribute('href'), getComputedStyle(a, '::after').content])"""


def test_a_printed_page_gives_the_address_of_each_link_to_another_site_once(wide_out, page):
    """On paper a link is its address: those of links in a note or a description too, never an address
    the link's own words already are, nor a path within the dossier that means nothing on paper."""
    page.emulate_media(media="print")
    missing, extra = [], []
    for rel in (WIDE, LONG_NAMED, "entities/river-agency/index.html"):
        page.goto((wide_out / rel).as_uri())
        for text, href, after in page.evaluate(AFTER_LINKS):
            wanted = href.startswith(("http:", "https:")) and text != href
            if wanted and href not in after:
                missing.append((rel, text, href))
            if not wanted and after not in ("none", "normal"):
                extra.append((rel, text, after))
    assert missing == [] and extra == []


def test_the_results_are_a_few_keys_from_the_search_box_however_many_filters(wide_out, http_root, page):
    """Each filter is a checkbox to Tab through, dozens in a real dossier: a link shown when focused skips them."""
    page.set_viewport_size({"width": 1200, "height": 800})  # wide: the filters unfolded, beside the results
    page.goto(http_root(wide_out) + "search/index.html?q=bridge")
    page.locator(".search-results > *").first.wait_for()
    assert page.locator(".search-filters input").count() > 10
    page.focus("#search-query")
    for _ in range(4):  # past the Search button and the order
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.matches('a[href]') && /results/.test(document.activeElement.textContent)"):
            break
    else:
        pytest.fail("no link to the results within four key presses of the search box")
    skip = page.evaluate("() => document.activeElement.getBoundingClientRect().toJSON()")
    assert skip["width"] > 50 and 0 <= skip["top"] < 800, skip  # seen when focused
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.closest('.search-result') !== null")


@pytest.mark.parametrize("rel, current", [("index.html", "Articles"), ("entities/index.html", "Entities"),
                                          ("claims/index.html", "Claims"), ("about/index.html", "About this dossier"),
                                          ("articles/ukraine-says-909-captured/index.html", None)])
def test_the_sections_menu_says_which_page_the_reader_is_on(demo_out, rel, current):
    """A screen reader says "current page" of the menu's link to the page itself (and it is drawn bold)."""
    nav = parse((demo_out / rel).read_text("utf-8")).find("nav", aria_label="Sections")
    marked = [a.text() for a in nav.find_all("a") if a.get("aria-current")]
    assert marked == ([current] if current else [])
    assert all(a.get("aria-current") in (None, "page") for a in nav.find_all("a"))
