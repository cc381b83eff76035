"""Anchoring quotes on the text a reader sees, and weaving marks and links into it.

Each test builds a one-article site and reads the article page back with a
strict HTML parser (badly nested HTML fails the parse).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dossier import anchor
from dossier.model import Article, Selector, Pos
from fixtures.htmltree import Element, norm, parse
from fixtures.sitekit import error_lines, run, tiny_site


def build(tmp_path: Path, text: str, sidecar: str, **kw) -> tuple[Element, str]:
    """Build a one-article site; the article page's body and the build's stderr."""
    site = tiny_site(tmp_path / "site", text, sidecar, **kw)
    out = tmp_path / "out"
    code, _, stderr = run("build", str(site), "-o", str(out), "--no-search")
    assert code == 0, stderr
    page = parse((out / "articles/a/index.html").read_text("utf-8"))
    body = page.find("div", class_="body")
    assert body is not None
    return body, stderr


def marks(body: Element, claim: str) -> list[Element]:
    return body.find_all("mark", data_claim=claim)


def mark_text(body: Element, claim: str) -> str:
    """The claim's marked text, pieces joined; footnote numbers are never part of it."""
    return "".join(m.text(skip=lambda e: "fnref" in e.classes) for m in marks(body, claim))


def fnrefs(body: Element) -> list[Element]:
    return body.find_all("sup", class_="fnref")


def claim_yaml(*claims: tuple, mentions: tuple = ()) -> str:
    """A sidecar from (id, quote[, extra yaml lines]) tuples and (entity, quote) mentions."""
    lines = ["title: A", "claims:"]
    for c in claims:
        lines += [f"  - id: {c[0]}", f"    quote: {json.dumps(c[1])}"] + [f"    {x}" for x in c[2:]]
    if mentions:
        lines.append("mentions:")
        for entity, quote in mentions:
            lines += [f"  - entity: {entity}", f"    quote: {json.dumps(quote)}"]
    return "\n".join(lines) + "\n"


def assert_claim(body: Element, claim: str, quote: str, pieces: int | None = None) -> None:
    found = marks(body, claim)
    assert found, f"no mark for {claim}"
    assert found[0].get("id") == f"claim-{claim}"
    assert all(m.get("id") is None for m in found[1:]), "only the first piece carries the id"
    assert norm(mark_text(body, claim)) == norm(quote)
    if pieces is not None:
        assert len(found) == pieces


# -- across inline markup ---------------------------------------------------------------------

def test_quote_across_emphasis_becomes_pieces_inside_and_outside(tmp_path):
    body, _ = build(tmp_path, "She said it had serious *structural* damage, all of it.\n",
                    claim_yaml(("c", "serious structural damage")), entities={})
    assert_claim(body, "c", "serious structural damage", pieces=3)
    em = body.find("em")
    assert [m.parent.tag for m in marks(body, "c")] == ["p", "em", "p"]
    assert em.text() == "structural"


@pytest.mark.parametrize("markdown,quote", [
    ("It was **very** old and *quite* small.", "was very old and quite"),
    ("See [the report](https://example.com/r) for details.", "See the report for"),
    ("Run `make all` to build it.", "Run make all to"),
    ("The ~~first~~ second plan.", "The first second"),
    ("Text with an entity &amp; more.", "entity & more"),
    ("Ends in ***bold italic***.", "in bold italic"),
])
def test_quote_across_other_inline_markup(tmp_path, markdown, quote):
    body, _ = build(tmp_path, markdown + "\n", claim_yaml(("c", quote)), entities={})
    assert_claim(body, "c", quote)


def test_quote_across_two_paragraphs(tmp_path):
    body, _ = build(tmp_path, "First ends here.\n\nSecond starts here.\n",
                    claim_yaml(("c", "ends here. Second starts")), entities={})
    # A mark cannot hold the gap between two blocks: each paragraph holds its part.
    assert [(m.parent.tag, m.text()) for m in marks(body, "c")] == [("p", "ends here."), ("p", "Second starts")]
    assert marks(body, "c")[0].get("id") == "claim-c"


def test_markdown_syntax_in_a_quote_does_not_match(tmp_path):
    site = tiny_site(tmp_path / "site", "It had *serious* damage.\n", claim_yaml(("c", "*serious* damage")), entities={})
    code, _, stderr = run("check", str(site))
    assert code == 1
    assert error_lines(stderr) == [
        "content/articles/a.yaml:4:12: error: quote not found in the article; the closest text is “serious damage”"]


@pytest.mark.parametrize("text,quote,near", [
    ("Some text.", "some text", "Some text"),  # case ignored, whole words
    ("the repairs would take six weeks, officials said", "repairs would need six weeks",
     "repairs would take six weeks"),
    ("Alice Smith said the sky is green.", "zzzz qqqq", ""),
    ("Alice Smith said the sky is green.", "missing text", ""),
    # A quote typed without its accents: the passage with them is found.
    ("Then Anna Kovač spoke at length.", "Kovac", "Kovač"),
    ("Le président a dit non.", "president", "président"),
    # Written without spaces: each character is a word, the passage ends where the likeness does.
    ("乌克兰军队在库尔斯克州俘虏了数百名俄罗斯士兵。随后双方开始谈判。", "在库尔斯克州俘获了数百名俄罗斯士兵",
     "在库尔斯克州俘虏了数百名俄罗斯士兵"),
    ("ウクライナ軍はクルスク州で多くの兵士を捕虜にした。", "クルスク州で多数の兵士を捕虜にした", "クルスク州で多くの兵士を捕虜にした"),
    ("กองทัพยูเครนจับทหารรัสเซียหลายร้อยนาย", "จับทหารรัสเซียหลายพันนาย", "จับทหารรัสเซียหลายร้อยนาย"),
])
def test_closest_text_of_a_quote_not_found(text, quote, near):
    assert anchor.closest(anchor.ReaderText(text, []), quote) == near


def test_closest_text_compares_the_quote_with_one_stretch_of_a_long_article(monkeypatch):
    """Comparing a quote with the whole text character by character takes seconds for a long
    article: only the stretch sharing most of its words is compared."""
    text = "Other words fill this long article. " * 20_000 + "The quick brown fox jumps over the lazy dog. "
    compared = []
    real = anchor.difflib.SequenceMatcher

    def spy(junk, a, b, **kw):
        compared.append(len(a))
        return real(junk, a, b, **kw)

    monkeypatch.setattr(anchor.difflib, "SequenceMatcher", spy)
    quote = "the quick brown cat jumps over the lazy dog"
    assert anchor.closest(anchor.ReaderText(text, []), quote) == "The quick brown fox jumps over the lazy dog"
    assert compared and max(compared) < 4 * len(quote)


def test_a_quote_nothing_comes_close_to_says_so(tmp_path):
    site = tiny_site(tmp_path / "site", "It had serious damage.\n", claim_yaml(("c", "zzzz qqqq")), entities={})
    code, _, stderr = run("check", str(site))
    assert code == 1
    assert error_lines(stderr) == [
        "content/articles/a.yaml:4:12: error: quote not found in the article; nothing in it comes close"]


# -- normalisation ----------------------------------------------------------------------------

@pytest.mark.parametrize("text,quote", [
    ("repairs would take six\u00a0weeks", "repairs would take six weeks"),
    ("repairs would take six\nweeks", "repairs would take six weeks"),
    ("repairs would take six  \u00a0 weeks", "repairs would take six weeks"),
    ("repairs would take six weeks", "repairs  would\u00a0take six\tweeks"),
    ("the agency\u2019s \u201cfinal\u201d word", "the agency's \"final\" word"),
    ("the agency's \"final\" word", "the agency\u2019s \u201cfinal\u201d word"),
    ("the agency\u2018s word", "the agency\u2019s word"),
    # the marks of other languages: « » „ “ ‚ ‘ › ‹ and Ukrainian's apostrophe ʼ
    ("\u00abВсе гаразд\u00bb", '"Все гаразд"'),
    ("\u201eSo ist es\u201c", '"So ist es"'),
    ("\u201aja\u2018 und \u203anein\u2039", "'ja' und 'nein'"),
    ("ім\u02bcя", "ім'я"),
])
def test_white_space_and_quote_marks_compare_equal(tmp_path, text, quote):
    body, _ = build(tmp_path, f"We heard {text} today.\n", claim_yaml(("c", quote)), entities={})
    assert_claim(body, "c", quote, pieces=1)
    assert mark_text(body, "c") == text, "the marks hold the article's own characters"


def test_hard_line_break_inside_a_quote_stays_in_one_mark(tmp_path):
    body, _ = build(tmp_path, "We heard repairs would take six\\\nweeks today.\n",
                    claim_yaml(("c", "take six weeks")), entities={})
    assert_claim(body, "c", "take six weeks", pieces=1)
    assert marks(body, "c")[0].find("br") is not None


def test_normalised_match_lands_on_the_exact_raw_span():
    raw = "a\u00a0 b \u201cc\u201d\n\n d  e"
    norm_text = anchor.normalize(raw)[0]
    assert norm_text == 'a b "c" d e'
    rt = anchor.ReaderText(raw, [])
    for quote in ("b \"c\" d", "d e", "a b"):
        start = norm_text.index(quote)
        a, b = rt.raw_span(start, start + len(quote))
        assert norm(raw[a:b]) == quote
        assert not raw[a].isspace() and not raw[b - 1].isspace()


def matched(text: str, quote: str, **kw) -> list[str]:
    """The raw text of each place a quote matches in an article's Markdown."""
    rt = anchor.reader_text(anchor.parse(Article("a", "A", text, "md", "a.md", "a.yaml")))
    return [rt.raw[a:b] for a, b in anchor.find(rt, Selector(quote=quote, pos=Pos("a.yaml"), **kw))]


# Characters a reader does not see: soft hyphen, zero-width space, non-joiner and joiner, word
# joiner, a byte order mark inside the text, left-to-right and right-to-left marks, bidi isolates,
# a variation selector. Pages and wire copy carry them; nobody types them into a quote.
INVISIBLE = ["\u00ad", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u200e", "\u200f", "\u2066", "\u2069",
             "\ufe0f"]


@pytest.mark.parametrize("char", INVISIBLE, ids=lambda c: f"U+{ord(c):04X}")
def test_characters_a_reader_does_not_see_are_ignored_and_stay_in_the_mark(char):
    text = f"The inter{char}national court, said {char}the agency{char}, ruled."
    assert matched(text, "international court") == [f"inter{char}national court"]
    # Around the quote they stay outside the mark; a quote copied with them matches text without.
    assert matched(text, "the agency") == ["the agency"]
    assert matched(text, f"said {char} the") == [f"said {char}the"]
    assert matched("The international court ruled.", f"inter{char}national") == ["international"]


@pytest.mark.parametrize("text,quote", [
    ("a non\u2011binding deal", "a non-binding deal"),  # non-breaking hyphen
    ("the Kyiv\u2010Moscow talks", "the Kyiv-Moscow talks"),  # hyphen
    ("in 2022\u20132024 it", "in 2022-2024 it"),  # en dash
    ("the war \u2014 which began", "the war - which began"),  # em dash
    ("the war\u2014which began", "the war--which began"),
    ("the war---which began", "the war\u2014which began"),
    ("it was \u22125 degrees", "it was -5 degrees"),  # minus sign
    ("he is 6\u2032 2\u2033 tall", "he is 6' 2\" tall"),  # prime and double prime
    ("it don\u00b4t matter", "it don't matter"),  # an acute accent typed for an apostrophe
    ("O\u02bbzbekiston said", "O'zbekiston said"),  # Uzbek's turned comma
    ("and so\u2026 nothing", "and so... nothing"),
    ("and so... nothing", "and so\u2026 nothing"),
    ("the \ufb01nal \ufb02ight o\ufb00 course", "the final flight off course"),  # ligatures, as copied from a PDF
])
def test_dashes_primes_ellipses_and_ligatures_compare_equal_to_what_a_keyboard_types(text, quote):
    assert matched(text, quote) == [text]


def test_a_quote_ending_in_an_ellipsis_marks_all_of_it():
    assert matched("He said... then left.", "He said\u2026") == ["He said..."]
    assert matched("He said\u2026 then left.", "said...") == ["said\u2026"]
    assert matched("He said\u2026 then left.", "He said.") == ["He said\u2026"]  # as "He said." in "He said..."
    assert matched("He said... then left.", "then", prefix="said\u2026") == ["then"]


def test_normalised_match_around_removed_characters_lands_on_the_exact_raw_span():
    raw = "\ufeffa\u00ad\u00adb \u200b c\u2026\u200bd\u2014\u2014e\u00ad"
    norm_text = anchor.normalize(raw)[0]
    assert norm_text == "ab c...d-e"
    rt = anchor.ReaderText(raw, [])
    for quote, want in [("ab", "a\u00ad\u00adb"), ("a", "a"), ("b", "b"), ("c...", "c\u2026"), ("c.", "c\u2026"),
                        (".d", "\u2026\u200bd"), (".", "\u2026"), ("d-e", "d\u2014\u2014e"), ("e", "e"),
                        ("-", "\u2014\u2014"), ("ab c", "a\u00ad\u00adb \u200b c")]:
        start = norm_text.index(quote)
        a, b = rt.raw_span(start, start + len(quote))
        assert raw[a:b] == want, quote


def test_closest_text_shows_no_invisible_characters():
    text = "The inter\u00adnational court ruled."
    rt = anchor.reader_text(anchor.parse(Article("a", "A", text, "md", "a.md", "a.yaml")))
    assert anchor.closest(rt, "the international courts ruled") == "The international court ruled"


def test_names_are_autolinked_across_characters_a_reader_does_not_see(tmp_path):
    body, _ = build(tmp_path, "Then Anna Ko\u00advač and the River\u00a0\u200bAgency spoke.\n", "title: A\n")
    assert [(a.get("data-entity"), a.text()) for a in body.find_all("a", class_="mention")] == [
        ("anna-kovac", "Anna Ko\u00advač"), ("river-agency", "River\u00a0\u200bAgency")]


@pytest.mark.parametrize("markdown", [
    "Said Anna Kovač<br>in a statement.",
    "Said Anna Kovač<br/>in a statement.",
    "Said Anna Kovač<BR />in a statement.",
    "Said Anna Kovač</p><p>in a statement.",
    "Said Anna Kovač<div>in a statement.</div>",
])
def test_raw_line_breaks_and_block_tags_part_the_words_beside_them(tmp_path, markdown):
    """A capture's <br> or <p> between two words shows them on two lines, not run together."""
    body, _ = build(tmp_path, markdown + "\n", claim_yaml(("c", "Anna Kovač in a")))
    assert norm(mark_text(body, "c")) == "Anna Kovačin a"  # the line break between is no text of a mark
    assert [a.text() for a in body.find_all("a", class_="mention")] == ["Anna Kovač"]


def test_text_the_page_does_not_show_is_not_reader_text():
    """The sanitizer drops what is inside <template>, and inside an element of inline <svg>
    (an icon's title): a quote must not land there, where its mark would vanish."""
    text = ("Share <svg viewBox='0 0 9 9'><title>on Facebook</title><path d='M0 0'/></svg> this <svg/> story "
            "<template><p>hidden words</p></template>now.")
    rt = anchor.reader_text(anchor.parse(Article("a", "A", text, "md", "a.md", "a.yaml")))
    assert anchor.WS_RUN.sub(" ", rt.raw).strip() == "Share this story now."


# -- prefix and suffix ------------------------------------------------------------------------

def test_prefix_and_suffix_pick_one_of_several_matches(tmp_path):
    text = "The bridge is old. The bridge is long. The bridge is wide.\n"
    sidecar = claim_yaml(("by-prefix", "The bridge is", "prefix: 'old. '"),
                         ("by-suffix", "bridge is", "suffix: ' wide'"),
                         ("by-both", "The bridge", "prefix: 'is old.'", "suffix: 'is long'"))
    body, _ = build(tmp_path, text, sidecar, entities={})
    starts = mark_starts(body.find("p"))
    assert starts == {"by-prefix": 19, "by-both": 19, "by-suffix": 43}
    assert mark_text(body, "by-suffix") == "bridge is"


def mark_starts(root: Element) -> dict[str, int]:
    """Where each claim's first mark starts in the root's text (footnote numbers not counted)."""
    starts: dict[str, int] = {}
    length = 0

    def walk(node: Element) -> None:
        nonlocal length
        if node.tag == "mark":
            starts.setdefault(node.get("data-claim"), length)
        for child in node.children:
            if isinstance(child, str):
                length += len(child)
            elif "fnref" not in child.classes:
                walk(child)

    walk(root)
    return starts


def test_ambiguous_quote_lists_the_places(tmp_path):
    site = tiny_site(tmp_path / "site", "Go left. Go right.\n", claim_yaml(("c", "Go")), entities={})
    code, _, stderr = run("check", str(site))
    assert code == 1
    [line] = error_lines(stderr)
    assert line.startswith("content/articles/a.yaml:4:12: error: quote matches 2 places")
    assert "add a prefix or suffix" in line


def test_find_unit():
    rt = anchor.reader_text(anchor.parse(Article("a", "A", "x y x z", "md", "a.md", "a.yaml")))
    sel = lambda **kw: Selector(pos=Pos("a.yaml"), **kw)
    assert len(anchor.find(rt, sel(quote="x"))) == 2
    assert len(anchor.find(rt, sel(quote="x", suffix=" z"))) == 1
    assert len(anchor.find(rt, sel(quote="x", prefix="y "))) == 1
    assert anchor.find(rt, sel(quote="x", prefix="q")) == []


# -- overlapping and nested claims, footnotes ---------------------------------------------------

def test_overlapping_claims_each_mark_their_whole_quote(tmp_path):
    text = "The agency said the bridge had serious damage and would close.\n"
    body, _ = build(tmp_path, text, claim_yaml(("first", "bridge had serious"), ("second", "serious damage and")), entities={})
    assert_claim(body, "first", "bridge had serious")
    assert_claim(body, "second", "serious damage and")
    assert [r.text() for r in fnrefs(body)] == ["1", "2"]


def test_nested_claims_and_footnote_numbers_outside_every_mark(tmp_path):
    text = "Officials said the bridge would stay shut for six weeks at least.\n"
    body, _ = build(tmp_path, text, claim_yaml(("outer", "the bridge would stay shut for six weeks at"),
                                               ("inner", "stay shut")), entities={})
    assert_claim(body, "outer", "the bridge would stay shut for six weeks at")
    assert_claim(body, "inner", "stay shut", pieces=1)
    for ref in fnrefs(body):
        assert not [a for a in ref.ancestors() if a.tag in ("mark", "a")], "a footnote number sits inside a mark or link"
    # Numbered by where marks start: outer first, though it ends last.
    numbers = {r.find("a").get("href"): r.text() for r in fnrefs(body)}
    assert numbers == {"#fn-outer": "1", "#fn-inner": "2"}


def test_footnotes_are_numbered_in_text_order_not_sidecar_order(tmp_path):
    text = "Alpha happened. Beta happened. Gamma happened.\n"
    body, _ = build(tmp_path, text, claim_yaml(("g", "Gamma happened"), ("a", "Alpha happened"), ("b", "Beta happened")),
                    entities={})
    assert [(r.find("a").get("href"), r.text()) for r in fnrefs(body)] == [("#fn-a", "1"), ("#fn-b", "2"), ("#fn-g", "3")]
    for ref in fnrefs(body):
        claim = ref.find("a").get("href")[4:]
        assert ref.find("a").get("id") == f"fnref-{claim}"


def test_claim_ending_inside_an_article_link_puts_its_number_after_the_link(tmp_path):
    text = "Said the spokesperson of the [River Agency](https://example.com/agency) today.\n"
    body, _ = build(tmp_path, text, claim_yaml(("c", "spokesperson of the River")), entities={})
    assert_claim(body, "c", "spokesperson of the River", pieces=2)
    [ref] = fnrefs(body)
    assert not [a for a in ref.ancestors() if a.tag == "a"]
    paragraph = body.find("p")
    kids = [k for k in paragraph.children if isinstance(k, Element)]
    link = next(k for k in kids if k.tag == "a" and k.get("href") == "https://example.com/agency")
    assert kids[kids.index(link) + 1] is ref, "the footnote number follows the link directly"
    assert link.text() == "River Agency"


# -- mentions ---------------------------------------------------------------------------------

def test_mention_inside_a_claim_is_a_link_inside_the_mark(tmp_path):
    text = "The bridge closed, said Anna Kovač, on Monday.\n"
    body, _ = build(tmp_path, text, claim_yaml(("c", "closed, said Anna Kovač, on"), mentions=(("anna-kovac", "Anna Kovač"),)),
                    site_yaml="title: Tiny\nautolink: false\n")
    assert_claim(body, "c", "closed, said Anna Kovač, on", pieces=1)
    [link] = body.find_all("a", class_="mention")
    assert link.text() == "Anna Kovač"
    assert link.get("href") == "../../entities/anna-kovac/index.html"
    assert link.get("data-entity") == "anna-kovac"
    assert [a.tag for a in link.ancestors()][:1] == ["mark"]


def test_claim_and_mention_on_the_same_words_put_the_mark_outside(tmp_path):
    body, _ = build(tmp_path, "Then Anna Kovač spoke.\n",
                    claim_yaml(("c", "Anna Kovač"), mentions=(("anna-kovac", "Anna Kovač"),)))
    [mark] = marks(body, "c")
    [link] = mark.find_all("a", class_="mention")
    assert link.text() == "Anna Kovač"


def test_mention_inside_an_article_link_keeps_the_article_link(tmp_path):
    text = "Read [what Anna Kovač said](https://example.com/said).\n"
    body, stderr = build(tmp_path, text, "title: A\nmentions:\n  - entity: anna-kovac\n    quote: Anna Kovač\n")
    assert "content/articles/a.yaml:4:12: warning: this mention lies inside a link of the article; the article's link is kept" in stderr
    links = body.find_all("a")
    assert [a.get("href") for a in links if not {"fnref"} & a.classes] == ["https://example.com/said"]
    for a in links:
        assert not [x for x in a.ancestors() if x.tag == "a"], "links nest"


def test_autolinks_skip_headings_links_code_and_explicit_mentions(tmp_path):
    text = ("# North Bridge news\n\nThe North Bridge and [North Bridge](https://example.com) and `North Bridge` "
            "and North Bridge again.\n")
    body, _ = build(tmp_path, text, "title: A\nmentions:\n  - entity: river-agency\n    quote: North Bridge\n"
                    "    suffix: ' again'\n")
    mentions = body.find_all("a", class_="mention")
    assert [(a.get("data-entity"), a.text()) for a in mentions] == [("north-bridge", "North Bridge"),
                                                                     ("river-agency", "North Bridge")]
    assert body.find("h2").find("a") is None  # the article's "# " heading, under the page's title
    assert body.find("code").find("a") is None


def test_a_mentions_anchor_stays_when_mentions_of_others_come_before_it(tmp_path):
    """Entity pages and citations link to a mention by its anchor: named by its entity and its turn."""
    def anchors(text: str, folder: str) -> dict[str, str]:
        body, _ = build(tmp_path / folder, text, "title: A\n")
        return {a.text() + "/" + a.get("id"): a.get("href") for a in body.find_all("a", class_="mention")}

    before = anchors("North Bridge stands. River Agency says so. North Bridge again.\n", "one")
    after = anchors("River Agency first. North Bridge stands. River Agency says so. North Bridge again.\n", "two")
    assert {k for k in before if k.startswith("North Bridge")} == {"North Bridge/m-north-bridge-1",
                                                                  "North Bridge/m-north-bridge-2"}
    assert {k for k in before if k.startswith("North")} <= set(after)


def test_mark_ids_and_data_claim_attributes(tmp_path):
    body, _ = build(tmp_path, "One two three.\n", claim_yaml(("only-claim", "two", "status: disputed")), entities={})
    [mark] = marks(body, "only-claim")
    assert mark.get("id") == "claim-only-claim"
    assert "status-disputed" in mark.classes


def test_plain_text_article_is_anchored_and_escaped(tmp_path):
    body, _ = build(tmp_path, "Plain <b>text</b> here.\n\nSecond para.\n", claim_yaml(("c", "<b>text</b> here")),
                    entities={}, fmt="txt")
    assert_claim(body, "c", "<b>text</b> here")
    assert body.find("b") is None
    assert len(body.find_all("p")) == 2


def test_text_inside_raw_script_or_style_is_not_reader_text(tmp_path):
    text = "Before <script>secret words</script> after <style>p {}</style> end.\n"
    body, _ = build(tmp_path / "a", text, claim_yaml(("c", "Before after end")), entities={})
    assert_claim(body, "c", "Before after end")
    site = tiny_site(tmp_path / "b", text, claim_yaml(("c", "secret words")), entities={})
    code, _, stderr = run("check", str(site))
    assert code == 1 and "quote not found in the article" in stderr


@pytest.mark.parametrize("tag", ["textarea", "title", "noscript", "iframe", "xmp", "noembed", "noframes"])
def test_text_inside_raw_elements_read_as_characters_is_not_reader_text(tmp_path, tag):
    """The sanitizer reads what is inside these as characters, tags and all: a link or mark woven
    there would show as `<a ...>` text and the links to it would go nowhere (the build failed)."""
    text = f"Anna Kovač said <{tag}>Anna Kovač wrote</{tag}> it.\n"
    body, _ = build(tmp_path / "a", text, "title: A\n")
    assert [a.text() for a in body.find_all("a", class_="mention")] == ["Anna Kovač"]
    assert "<" not in body.text()
    site = tiny_site(tmp_path / "b", text, claim_yaml(("c", "Kovač wrote")))
    code, _, stderr = run("build", str(site), "-o", str(tmp_path / "out"), "--no-search")
    [line] = error_lines(stderr)
    assert code == 1 and line.startswith("content/articles/a.yaml:4:12: error: quote not found in the article;")


def test_an_articles_own_footnotes_never_share_an_id_with_a_claims(tmp_path):
    """Claims' footnotes are fn-ID and fnref-ID, and a claim id may be a number: the article's
    own Markdown footnotes ([^a], numbered by mistune) are note-N and noteref-N."""
    site = tiny_site(tmp_path / "site", "She spoke.[^a] Then she left.\n\n[^a]: Agency wire.\n",
                     claim_yaml(("1", "she left")), entities={})
    out = tmp_path / "out"
    code, _, stderr = run("build", str(site), "-o", str(out), "--no-search")
    assert code == 0, stderr
    html = (out / "articles/a/index.html").read_text("utf-8")
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert {"note-1", "noteref-1", "fn-1", "fnref-1", "claim-1"} <= set(ids)
    assert 'href="#note-1"' in html and 'href="#noteref-1"' in html


def test_a_mention_of_words_another_mention_marks_is_left_out_with_a_warning(tmp_path):
    body, stderr = build(tmp_path, "Anna Kovač spoke.\n", claim_yaml(mentions=(("anna-kovac", "Anna Kovač"), ("anna-kovac", "Anna Kovač"))))
    links = body.find_all("a", class_="mention") + body.find_all("span", class_="mention")
    assert [(e.tag, e.get("data-entity")) for e in links] == [("a", "anna-kovac")]
    assert "content/articles/a.yaml:7:12: warning: this mention marks the same words as the one at line 5; it is left out" \
        in stderr.splitlines()


def test_text_written_decomposed_matches_quotes_and_names_written_composed(tmp_path):
    """é as e and a combining accent (NFD, as text copied on some systems comes): the reader sees
    the same, so the quote and the name written with é (NFC) find it."""
    text = "La ve\u0301rite\u0301 est la\u0300, dit Rene\u0301 Le\u0301vesque.\n"
    body, _ = build(tmp_path, text, claim_yaml(("c", "La vérité est là"), mentions=(("rene", "René Lévesque"),)),
                    entities={"rene": "name: René Lévesque\ntype: person\n"})
    assert norm(mark_text(body, "c")) == "La vérité est là"
    [link] = body.find_all("a", class_="mention")
    assert link.get("data-entity") == "rene" and link.text() == "René Lévesque"


@pytest.mark.parametrize("text,found", [
    ("Сирський сказав", ["s"]),
    ("Сирськийович сказав", []),  # inside a longer word
    ("रामायण में", []),  # a vowel sign after the name: the name is part of a longer word
    ("Jose\u0301 said", []),  # an accent (decomposed) after the name: José, not Jose
    ("泽连斯基表示，库尔斯克州俘虏", ["z", "k"]),  # Chinese: no spaces between words
    ("the Kursk州 region", ["kk"]),
])
def test_names_are_found_as_whole_words_in_every_script(text, found):
    matcher = anchor.NameMatcher({"Сирський": "s", "राम": "ram", "Jose": "jose", "泽连斯基": "z", "库尔斯克": "k",
                                  "Kursk": "kk"})
    assert [entity for _, _, entity in matcher.find(text)] == found


# -- quotes copied from the page (see also test_copied_quotes.py, in a browser) ----------------

def quote_errors(tmp_path: Path, text: str, sidecar: str) -> list[str]:
    site = tiny_site(tmp_path / "site", text, sidecar)
    code, _, stderr = run("check", str(site))
    assert code == 1, stderr
    return error_lines(stderr)


def test_a_footnote_number_copied_after_a_claim_ending_in_a_number_is_told_apart_from_it(tmp_path):
    """The page shows "in 2024" and the number 1 after it: copied, "in 20241"."""
    errors = quote_errors(tmp_path, "The count rose in 2024 and fell again.\n",
                          claim_yaml(("year", "rose in 2024"), ("copied", "in 20241 and fell")))
    assert errors == ["content/articles/a.yaml:6:12: error: quote not found in the article; it includes what is not the "
                      "article's text: “1” (the footnote number Dossier adds after claim 'year'); leave it out and quote "
                      "“in 2024 and fell”"]


def test_a_claims_number_after_an_article_link_it_ends_in_is_named(tmp_path):
    errors = quote_errors(tmp_path, "Ask [the river agency](https://example.org/ra) today.\n",
                          claim_yaml(("agency", "the river"), ("copied", "river agency1 today")))
    assert "article's text: “1” (the footnote number Dossier adds after claim 'agency')" in errors[0]


def test_a_note_number_typed_as_the_page_shows_it_is_named(tmp_path):
    errors = quote_errors(tmp_path, "She said it was unsafe[^a] and left.\n\n[^a]: At the hearing.\n",
                          claim_yaml(("copied", "it was unsafe[1] and left")))
    assert errors == ["content/articles/a.yaml:4:12: error: quote not found in the article; it includes what is not the "
                      "article's text: “[1]” (the number of the article's own note); leave it out and quote "
                      "“it was unsafe and left”"]


def test_a_mention_copied_with_a_number_is_told_what_to_quote(tmp_path):
    errors = quote_errors(tmp_path, "Repairs take six weeks, said Anna Kovač.\n",
                          claim_yaml(("weeks", "six weeks"), mentions=(("anna-kovac", "weeks1, said Anna Kovač"),)))
    assert errors == ["content/articles/a.yaml:7:12: error: quote not found in the article; it includes what is not the "
                      "article's text: “1” (the footnote number Dossier adds after claim 'weeks'); leave it out and quote "
                      "“weeks, said Anna Kovač”"]


def test_a_quote_left_ambiguous_without_a_copied_number_asks_for_a_prefix_or_suffix(tmp_path):
    errors = quote_errors(tmp_path, "The bridge closed. The bridge reopened.\n",
                          claim_yaml(("first", "The bridge closed"), ("copied", "closed1. The bridge")))
    assert "quote “closed. The bridge”" in errors[0]
    errors = quote_errors(tmp_path / "two", "The bridge closed. Then the bridge closed.\n",
                          claim_yaml(("first", "The bridge closed"), ("copied", "bridge closed1")))
    assert errors[0].endswith("it includes what is not the article's text: “1” (the footnote number Dossier adds after "
                              "claim 'first'); without it the quote matches 2 places: leave it out and add a prefix or suffix")


def test_a_misquoted_number_is_not_taken_for_a_footnote_number(tmp_path):
    errors = quote_errors(tmp_path, "Ukraine held 1,150 sq km by then.\n", claim_yaml(("copied", "held 1,151 sq km")))
    assert errors[0].endswith("the closest text is “held 1,150 sq km”")
