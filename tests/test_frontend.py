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


def test_the_pager_arrows_point_where_previous_and_next_stand(by_language):
    """A listing's pager runs from the right in a right-to-left page: Previous is on the right."""
    shown = {}
    for language, out in by_language.items():
        site = out.parent / language
        renderer = SiteRenderer(pipeline.check(site).resolved, site)
        html = renderer.env.from_string('{% from "macros.html" import pager with context %}{{ pager(p) }}').render(
            root="", p=Pager(2, "index.html", 3))
        shown[language] = re.findall(r'<a rel="(?:prev|next)"[^>]*>([^<]*)</a>', html)
    assert shown == {"en": ["← Previous", "Next →"], "ar": ["→ Previous", "Next ←"]}
