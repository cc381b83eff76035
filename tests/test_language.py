"""An article's own language (its sidecar's `language:`): the words captured from it carry it
wherever they are shown (its text, its claims' quotes, its mentions in context), with the
direction they are written in where it is not the page's; the dossier's own words (titles,
notes, the page around them) stay in the site's language. A site that does not use the key
is built as before, byte for byte."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from dossier.diagnostics import Diagnostics
from dossier.load import load
from fixtures.htmltree import parse
from fixtures.sitekit import BASIC, make_site, run, snapshot, tiny_site

A = "content/articles/"
ARABIC_TEXT = """\
# الجسر الشمالي

أُغلق الجسر الشمالي يوم الاثنين.

وقالت الوكالة إن الإصلاحات ستستغرق ستة أسابيع.
"""
ARABIC_QUOTE = "الإصلاحات ستستغرق ستة أسابيع"
ARABIC_MENTION = "أُغلق الجسر الشمالي يوم الاثنين."  # the mention of north-bridge in its sentence, as its page shows it
# Its title and summary are the dossier's, in English; its claim supports one of bridge-closed's
# (whose footnote then quotes it) and its mention is of an entity with pages of its own.
ARABIC_SIDECAR = f"""\
title: North Bridge closed, as an Arabic daily told it
language: ar
source: {{publisher: daily-courier, published: 2024-03-03}}
summary: The same closing, in Arabic.
mentions:
  - entity: north-bridge
    quote: الجسر الشمالي
    prefix: "أُغلق "
claims:
  - id: six-weeks-ar
    quote: {ARABIC_QUOTE}
    claimant: river-agency
    about: [north-bridge]
    status: unverified
    note: Says what the Courier says.
    supports: [six-weeks]
"""
UKRAINIAN_TEXT = "Північний міст закрили в понеділок, повідомило агентство.\n"
UKRAINIAN_QUOTE = "Північний міст закрили в понеділок"
UKRAINIAN_SIDECAR = f"""\
title: The bridge closed, in Ukrainian
language: uk
source: {{published: 2024-03-04}}
claims:
  - id: closed-uk
    quote: {UKRAINIAN_QUOTE}
    claimant: river-agency
    about: [north-bridge]
    status: corroborated
"""
LANGUAGES = {"bridge-ar": ("ar", "rtl"), "bridge-uk": ("uk", None)}  # in an English site


def build(site: Path, out: Path) -> Path:
    code, _, stderr = run("build", str(site), "-o", str(out), "--no-search")
    assert code == 0, stderr
    return out


def doc_of(out: Path, rel: str):
    return parse((out / rel).read_text("utf-8"))


@pytest.fixture(scope="module")
def languages(tmp_path_factory) -> tuple[Path, Path]:
    """The basic fixture (English) with an Arabic and a Ukrainian article: (site, output)."""
    root = tmp_path_factory.mktemp("languages")
    site = make_site(root / "site", {A + "bridge-ar.md": ARABIC_TEXT, A + "bridge-ar.yaml": ARABIC_SIDECAR,
                                     A + "bridge-uk.md": UKRAINIAN_TEXT, A + "bridge-uk.yaml": UKRAINIAN_SIDECAR})
    return site, build(site, root / "out")


def marked(element) -> list:
    """The elements under `element` that say their language, <html> aside."""
    return [e for e in element.iter() if e.get("lang") is not None and e.tag != "html"]


# -- reading the key -------------------------------------------------------------------------------

def test_an_articles_language_is_read_from_its_sidecar_and_is_the_sites_by_default(languages):
    diags = Diagnostics()
    dossier = load(languages[0], diags)
    assert not diags.errors, [str(d) for d in diags.errors]
    # "" is the site's language: so is an article that names it (in any case)
    assert {a.slug: a.language for a in dossier.articles} == {
        "alpha-note": "", "beta-note": "", "bridge-closed": "", "bridge-reopened": "", "bridge-ar": "ar", "bridge-uk": "uk"}


@pytest.mark.parametrize("site_language, article_language, attributes", [
    ("en", "ar", ' lang="ar" dir="rtl"'),  # another direction: said
    ("en", "uk", ' lang="uk"'),
    ("en", "en-GB", ' lang="en-GB"'),  # another tag, the same direction
    ("ar", "en", ' lang="en" dir="ltr"'),
    ("ar", "fa", ' lang="fa"'),
    ("he", "ar-Latn", ' lang="ar-Latn" dir="ltr"'),  # Arabic in Latin letters
    ("en", "EN", ""),  # the site's own, as tags compare: nothing is said
    ("pt-BR", "pt-br", ""),
    ("uk", None, ""),  # no key: the site's
])
def test_the_text_says_its_language_and_direction_where_they_are_not_the_pages(tmp_path, site_language, article_language,
                                                                                 attributes):
    key = f"language: {article_language}\n" if article_language else ""
    site = tiny_site(tmp_path / "s", "Some words of the article.\n", f"title: T\n{key}",
                     site_yaml=f"title: Tiny\nlanguage: {site_language}\n")
    html = (build(site, tmp_path / "out") / "articles/a/index.html").read_text("utf-8")
    assert f'<div class="body"{attributes}>\n' in html


# -- where the article's words are shown ----------------------------------------------------------

def test_the_article_page_marks_its_text_and_quotes_and_nothing_the_dossier_wrote(languages):
    _, out = languages
    doc = doc_of(out, "articles/bridge-ar/index.html")
    html = doc.find("html")
    assert (html.get("lang"), html.get("dir")) == ("en", None)  # the page is the dossier's
    body = doc.find("div", class_="body")
    assert (body.get("lang"), body.get("dir")) == ("ar", "rtl")
    assert "أُغلق الجسر الشمالي يوم الاثنين." in body.text()
    # the quote of its footnote, inside the page's own quotation marks; nothing else of the footnotes
    quote = doc.find("li", id="fn-six-weeks-ar").find("a", class_="claim-quote")
    assert [(e.get("lang"), e.get("dir"), e.text()) for e in marked(quote)] == [("ar", "rtl", ARABIC_QUOTE)]
    assert quote.text() == f"“{ARABIC_QUOTE}”"
    assert [e for e in marked(doc) if e is not body and e.tag != "span"] == []
    assert all(e.get("lang") is None for e in body.ancestors() if e.tag != "html")
    for own in (doc.find("h1"), doc.find("p", class_="lede"), doc.find("section", class_="footnotes")):
        assert own.get("lang") is None and own.get("dir") is None


def test_its_quotes_and_mentions_carry_its_language_on_every_page_that_shows_them(languages):
    _, out = languages
    excerpts = {"ar": {ARABIC_QUOTE, ARABIC_MENTION}, "uk": {UKRAINIAN_QUOTE}}
    seen: dict[str, set[str]] = {}
    for path in sorted(out.rglob("*.html")):
        rel = path.relative_to(out).as_posix()
        if rel.startswith(("articles/bridge-ar/", "articles/bridge-uk/")):
            continue  # their bodies: above
        for e in marked(doc_of(out, rel)):
            direction = dict(LANGUAGES.values())[e.get("lang")]
            assert e.get("dir") == direction, (rel, e.get("lang"), e.get("dir"))
            text = " ".join(e.text().split())
            assert text in excerpts[e.get("lang")], (rel, text)
            seen.setdefault(rel, set()).add(f"{e.get('lang')}:{e.tag}:{text}")
    ar_quote, uk_quote = f"ar:span:{ARABIC_QUOTE}", f"uk:span:{UKRAINIAN_QUOTE}"
    assert seen["claims/index.html"] == {ar_quote, uk_quote}
    assert seen["articles/bridge-closed/index.html"] == {ar_quote}  # "Supported by" in six-weeks' footnote
    assert seen["entities/river-agency/index.html"] == {ar_quote, uk_quote}  # claims made by it
    north = seen["entities/north-bridge/index.html"]  # claims about it, and its mentions in context
    assert north == {ar_quote, uk_quote, f"ar:ul:{ARABIC_MENTION}"}
    assert set(seen) == {"claims/index.html", "articles/bridge-closed/index.html", "entities/river-agency/index.html",
                         "entities/north-bridge/index.html"}
    # the mention's list is the Arabic article's alone: the English article's stays unmarked
    doc = doc_of(out, "entities/north-bridge/index.html")
    lists = {h.find("a").get("href"): ul for h, ul in zip(doc.find_all("h3", class_="mention-source"),
                                                          doc.find_all("ul", class_="mentions"))}
    assert lists["../../articles/bridge-ar/index.html"].get("lang") == "ar"
    assert lists["../../articles/bridge-closed/index.html"].get("lang") is None


def test_titles_and_summaries_are_the_dossiers_and_stay_in_the_sites_language(languages):
    """They are what the sidecar's editor wrote (a translation, often): the home page lists them
    unmarked, and the feed's entries say no other language."""
    _, out = languages
    assert marked(doc_of(out, "index.html")) == []
    feed = ET.parse(out / "feed.xml").getroot()
    assert feed.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    assert [e.get("{http://www.w3.org/XML/1998/namespace}lang") for e in feed.iter("{http://www.w3.org/2005/Atom}entry")
            if e.get("{http://www.w3.org/XML/1998/namespace}lang")] == []


def test_json_ld_and_dossier_json_give_the_articles_language(languages):
    _, out = languages
    ld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>',
                              (out / "articles/bridge-ar/index.html").read_text("utf-8")).group(1))
    graph = {node["@type"]: node for node in ld["@graph"]}
    assert graph["NewsArticle"]["inLanguage"] == "ar"
    assert graph["NewsArticle"]["isBasedOn"]["inLanguage"] == "ar"
    assert graph["ClaimReview"]["itemReviewed"]["inLanguage"] == "ar"
    english = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>',
                                   (out / "articles/bridge-closed/index.html").read_text("utf-8")).group(1))
    assert english["@graph"][0]["inLanguage"] == "en" and "inLanguage" not in english["@graph"][0]["isBasedOn"]
    data = json.loads((out / "dossier.json").read_text("utf-8"))
    assert data["version"] == "1.2"
    assert {a["slug"]: a.get("language") for a in data["articles"]} == {
        "bridge-uk": "uk", "bridge-ar": "ar", "bridge-closed": None, "bridge-reopened": None,
        "alpha-note": None, "beta-note": None}
    schema = json.loads((out / "dossier.schema.json").read_text("utf-8"))
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    assert [e.message for e in validator.iter_errors(data)] == []
    data["articles"][0]["language"] = "not a tag"
    assert [e.message for e in validator.iter_errors(data)] != []


# -- a site that does not use it -------------------------------------------------------------------

def test_a_site_whose_articles_are_in_its_language_is_built_as_if_it_did_not_say_so(tmp_path):
    """Without the key nothing new is written: no page says another language or direction; and
    an article that names the site's language (in any case) gives the very same files."""
    plain = build(make_site(tmp_path / "plain"), tmp_path / "plain-out")
    for rel, html in ((p.relative_to(plain).as_posix(), p.read_text("utf-8")) for p in plain.rglob("*.html")):
        assert len(re.findall(r"\slang=", html)) == (0 if rel.startswith(".dossier-") else 1), rel
        assert " dir=" not in html, rel
    sidecars = sorted((BASIC / A).glob("*.yaml"))
    for n, case in enumerate(("en", "EN", "en\n")):
        # at the end of each sidecar: the claims' lines (in dossier.json) stay where they were
        said = make_site(tmp_path / f"said-{n}", {A + p.name: p.read_text("utf-8") + f"language: {case}\n" for p in sidecars})
        out = build(said, tmp_path / f"said-{n}-out")
        mine = {k: v for k, v in snapshot(out).items() if not k.startswith(".dossier-")}
        assert mine == {k: v for k, v in snapshot(plain).items() if not k.startswith(".dossier-")}, case


# -- in a browser ----------------------------------------------------------------------------------

def test_the_arabic_text_runs_right_to_left_in_an_english_page_and_the_dossiers_notes_left_to_right(languages, page):
    _, out = languages
    pg = page
    pg.goto((out / "articles/bridge-ar/index.html").as_uri())

    def computed(selector: str) -> dict:
        return pg.eval_on_selector(selector, """e => ({direction: getComputedStyle(e).direction,
            lang: e.closest('[lang]').getAttribute('lang'), right: e.getBoundingClientRect().right,
            textRight: (() => { const r = document.createRange(); r.selectNodeContents(e);
                                return r.getBoundingClientRect().right; })()})""")

    paragraph = computed(".body p")
    assert (paragraph["direction"], paragraph["lang"]) == ("rtl", "ar")
    assert abs(paragraph["textRight"] - paragraph["right"]) < 2  # a short line starts at the right
    note = computed("#fn-six-weeks-ar .note")
    assert (note["direction"], note["lang"]) == ("ltr", "en")
    quote = computed("#fn-six-weeks-ar .claim-quote span")
    assert (quote["direction"], quote["lang"]) == ("rtl", "ar")
    # the quotation marks are the page's, on either side of the quote as an English reader expects
    marks = pg.eval_on_selector("#fn-six-weeks-ar .claim-quote", """a => {
        const r = document.createRange(), t = a.firstChild, s = a.querySelector('span');
        r.setStart(t, 0); r.setEnd(t, 1); const open = r.getBoundingClientRect().left;
        return [open, s.getBoundingClientRect().left]; }""")
    assert marks[0] < marks[1]
