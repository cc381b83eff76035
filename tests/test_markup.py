"""Stage 3's Markdown: notes, descriptions and pages to safe HTML; article bodies woven with marks."""

from __future__ import annotations

import pytest

from dossier import anchor, markup
from dossier.model import Article, Span
from fixtures.htmltree import parse


def body_html(text: str, spans=(), fmt: str = "md") -> str:
    tokens = anchor.parse(Article("a", "A", text, fmt, "a.md", "a.yaml"))
    rt = anchor.reader_text(tokens)
    numbers = {s.key: n for n, s in enumerate(sorted((s for s in spans if s.kind == "claim"), key=lambda s: s.start), 1)}
    return markup.render_body(tokens, rt, list(spans), lambda e: f"../../entities/{e}/index.html", numbers.__getitem__)


def claim(rt_text: str, quote: str, key: str = "c", occurrence: int = 0) -> Span:
    start = -1
    for _ in range(occurrence + 1):
        start = rt_text.index(quote, start + 1)
    return Span(start, start + len(quote), "claim", key, f"claim-{key}", "unverified")


def reader(text: str) -> str:
    return anchor.reader_text(anchor.parse(Article("a", "A", text, "md", "a.md", "a.yaml"))).raw


def test_markdown_keeps_ordinary_formatting():
    html = markup.markdown("Some *em*, **strong**, `code`, [a link](https://example.org/x) and\n\n- a\n- b\n")
    tree = parse(html)
    assert tree.find("em").text() == "em" and tree.find("strong").text() == "strong"
    assert tree.find("code").text() == "code"
    assert tree.find("a").get("href") == "https://example.org/x"
    assert [li.text() for li in tree.find_all("li")] == ["a", "b"]


def test_relative_links_in_pages_survive():
    tree = parse(markup.markdown("See [the bridge](../entities/north-bridge/index.html)."))
    assert tree.find("a").get("href") == "../entities/north-bridge/index.html"


def test_table_alignment_is_a_class_not_a_style():
    tree = parse(markup.markdown("| a | b | c |\n|:--|:-:|--:|\n| 1 | 2 | 3 |\n"))
    cells = tree.find_all("td")
    assert [c.get("class") for c in cells] == ["align-left", "align-center", "align-right"]
    assert all("style" not in c.attrs for c in tree.iter())


@pytest.mark.parametrize("dangerous", [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<iframe src='https://evil.example/'></iframe>",
    "[x](javascript:alert(1))",
    "<a href='javascript:alert(1)'>x</a>",
    "<a href='  JaVaScRiPt:alert(1)'>x</a>",
    "<p style='background:red' onclick='alert(1)'>x</p>",
    "<svg onload=alert(1)></svg>",
    "<object data='x'></object><embed src='x'>",
    "<form action='https://evil.example/'><input name=q></form>",
    "<base href='https://evil.example/'>",
    "<meta http-equiv=refresh content='0;url=https://evil.example/'>",
    "<style>body{display:none}</style>",
    "<a href='data:text/html,<script>alert(1)</script>'>x</a>",
])
def test_markdown_output_is_sanitized(dangerous):
    tree = parse(markup.markdown(f"Before {dangerous} after."))
    for e in tree.iter():
        assert e.tag not in {"script", "iframe", "svg", "object", "embed", "form", "input", "base", "meta", "style"}
        assert not [a for a in e.attrs if a.startswith("on") or a == "style"]
        for attr in ("href", "src", "action"):
            assert not (e.get(attr) or "").strip().lower().startswith(("javascript:", "data:")), e.attrs
    assert "Before" in tree.text() and "after." in tree.text()


def test_body_claim_marks_and_footnote_reference():
    text = "The bridge had *serious* damage, it said."
    html = body_html(text, [claim(reader(text), "had serious damage")])
    tree = parse(html)
    marks = tree.find_all("mark")
    assert [m.text() for m in marks] == ["had ", "serious", " damage"]
    assert marks[0].get("id") == "claim-c" and all(m.get("data-claim") == "c" for m in marks)
    [sup] = tree.find_all("sup")
    assert sup.find("a").get("href") == "#fn-c" and sup.text() == "1"


def test_a_claims_reference_is_named_as_the_claim_it_leads_to():
    """A screen reader says "Claim 1", as the list it leads to ("Claims") and its back link ("Back to claim 1") do."""
    text = "One two three.\n"
    ref = parse(body_html(text, [claim(reader(text), "two")])).find("a", role="doc-noteref")
    assert ref.get("aria-label") == "Claim 1" and ref.text() == "1"


def test_the_sources_own_footnotes_are_told_apart_from_the_claims():
    """[^1] in the captured text: its reference, list and back link say they are the source's."""
    tree = parse(body_html("Text.[^1]\n\n[^1]: The source's own note.\n"))
    ref, back = tree.find("a", role="doc-noteref"), tree.find("a", role="doc-backlink")
    assert (ref.get("aria-label"), ref.get("href"), ref.text()) == ("Source note 1", "#note-1", "1")
    assert back.get("aria-label") == "Back to source note 1 in the text" and back.get("href") == "#noteref-1"
    assert tree.find("section").classes == {"source-notes"} and tree.find("section", class_="footnotes") is None


def test_quote_inside_code_block_is_marked_inside_pre():
    text = "Intro.\n\n```\nlog line one\nlog line two\n```\n"
    tree = parse(body_html(text, [claim(reader(text), "line two")]))
    mark = tree.find("mark")
    assert mark.text() == "line two"
    assert [a.tag for a in mark.ancestors()][:2] == ["code", "pre"]


def test_image_alt_and_raw_html_are_not_reader_text():
    assert "alt words" not in reader("See ![alt words](https://example.org/i.png) here.")
    assert "hidden" not in reader("<div>\nhidden\n</div>\n\nShown.\n")


@pytest.mark.parametrize("text", ["```&nbsp;\nx = 1\n```\n", "```&#32;\nx = 1\n```\n",
                                  "~~~&#x2003;python\nx = 1\n~~~\n"])
def test_a_code_block_whose_language_is_an_entity_of_white_space_renders(text):
    """mistune decodes the info string's entities, then takes its first word as the language:
    there was none, and a note, description or page holding such a block failed the build."""
    assert parse(markup.markdown(text)).find("code").text() == "x = 1\n"
    assert parse(body_html(text)).find("code").text() == "x = 1\n"


def test_a_claim_across_a_raw_line_break_is_marked_either_side_of_it():
    text = "Said Anna<br>Kovač today."
    rt = reader(text)
    assert rt.strip() == "Said Anna\nKovač today."
    tree = parse(body_html(text, [claim(rt, "Anna\nKovač")]))
    assert [m.text() for m in tree.find_all("mark")] == ["Anna", "Kovač"]
    assert [c if isinstance(c, str) else c.tag for c in tree.find("p").children][:4] == ["Said ", "mark", "br", "mark"]


@pytest.mark.parametrize("text,seen", [
    ("see https://example.org/?a=1&region=2 now", "see https://example.org/?a=1&region=2 now"),
    ("Terms&notice apply", "Terms&notice apply"),
    ("&copy 2024 &#65 x", "&copy 2024 &#65 x"),
    ("&copy; 2024 &#65; &#x42; &nbsp;x", "\u00a9 2024 A B \u00a0x"),
    ("&ThisIsNotAnEntity; &amp;copy;", "&ThisIsNotAnEntity; &copy;"),
])
def test_only_entities_ended_by_a_semicolon_are_read_as_characters(text, seen):
    """As CommonMark reads them. Python's html.unescape also reads `&reg` in `?a=1&region=2`, so
    the page showed `?a=1®ion=2` and a quote of what the article says was not found."""
    assert reader(text).strip() == seen
    assert parse(body_html(text)).text().strip() == seen


def test_mentions_inside_a_claim_and_claims_outside_mentions():
    text = "Then Anna Kovač spoke."
    rt = reader(text)
    a = rt.index("Anna Kovač")
    spans = [Span(a, a + len("Anna Kovač"), "mention", "anna-kovac", "m-1"), claim(rt, "Then Anna Kovač spoke")]
    tree = parse(body_html(text, spans))
    mark = tree.find("mark")
    link = mark.find("a", class_="mention")
    assert link.get("href") == "../../entities/anna-kovac/index.html" and link.text() == "Anna Kovač"


@pytest.mark.parametrize("text, headings", [
    ("# Section\n\nText.\n\n## Sub\n\n##### Five\n\n###### Six\n",
     [("h2", "Section"), ("h3", "Sub"), ("h6", "Five"), ("h6", "Six")]),
    ("## Section\n\nText.\n\n### Sub\n", [("h2", "Section"), ("h3", "Sub")]),  # as most captures are
])
def test_an_articles_headings_sit_under_its_pages_title(text, headings):
    """The page's title is its one <h1>: an article's "# Section" is an <h2>, and so on down to <h6>;
    one whose sections begin at "##" keeps them, so no level is skipped."""
    html = body_html(text)
    assert [(el.tag, el.text()) for el in parse(html).iter() if el.tag[:1] == "h" and el.tag[1:].isdigit()] == headings


def test_a_free_pages_first_heading_is_its_title():
    assert markup.markdown("# About\n\nText.\n").startswith("<h1>About</h1>")


def test_plain_text_is_escaped_into_paragraphs():
    tree = parse(body_html("One <b>bold</b> &amp; line\nstill one.\n\nTwo.", fmt="txt"))
    assert [p.text() for p in tree.find_all("p")] == ["One <b>bold</b> &amp; line\nstill one.", "Two."]
    assert tree.find("b") is None


def test_body_html_is_sanitized_too():
    tree = parse(body_html("Text <script>alert(1)</script> <img src=x onerror=alert(1)> more."))
    assert tree.find("script") is None
    assert all(not [a for a in e.attrs if a.startswith("on")] for e in tree.iter())


def test_raw_html_left_open_does_not_wrap_later_text_or_marks():
    text = "<b>\n<a href='https://example.org/'>open block\n\nLater paragraph with a claim here.\n"
    tree = parse(body_html(text, [claim(reader(text), "a claim here")]))
    later = [p for p in tree.find_all("p") if "Later" in p.text()][0]
    assert not [a for a in later.ancestors() if a.tag in ("a", "b")]
    assert tree.find("mark").text() == "a claim here"


def test_raw_inline_link_keeps_mentions_out_and_footnotes_after_it():
    text = "See <a href='https://example.org/'>what Anna Kovač said</a> today."
    rt = reader(text)
    a = rt.index("Anna Kovač")
    spans = [Span(a, a + len("Anna Kovač"), "mention", "anna-kovac", "m-1"), claim(rt, "what Anna Kovač")]
    tree = parse(body_html(text, spans))
    links = tree.find_all("a")
    for link in links:
        assert not [x for x in link.ancestors() if x.tag == "a"], "links nest"
    raw_link = next(x for x in links if x.get("href") == "https://example.org/")
    assert raw_link.find("mark").text().startswith("what ")
    sup = tree.find("sup")
    assert not [x for x in sup.ancestors() if x.tag == "a"]


def test_stray_and_misnested_raw_tags_are_balanced():
    text = "One</b> two <em>three <b>four</em> five</b> six."
    rt = reader(text)
    tree = parse(body_html(text, [claim(rt, "two three four five six")]))  # parse() fails on bad nesting
    marks = tree.find_all("mark")
    assert "".join(m.text() for m in marks).split() == "two three four five six".split()


def test_unsafe_markdown_links_keep_their_text_and_lose_the_link():
    tree = parse(markup.markdown("[run](javascript:alert(1)) ![pic](vbscript:x) [ok](https://example.org/)"))
    assert [a.get("href") for a in tree.find_all("a")] == ["https://example.org/"]
    assert [s.text() for s in tree.find_all("span")] == ["run", "pic"]
    assert markup.dropped_urls_in("[run](javascript:alert(1)) [ok](https://example.org/) at 10:30") == [
        ("javascript:alert(1)", False)]


@pytest.mark.parametrize("text,html", [
    ("![A map](https://maps.example/a.png)", '<a class="remote-image" href="https://maps.example/a.png">[image: A map]</a>'),
    ("[![A map](//maps.example/a.png)](https://maps.example/)",
     '<a href="https://maps.example/"><span class="remote-image">[image: A map]</span></a>'),
    ('<img alt="A &amp; B" src="https://maps.example/a.png">',
     '<a class="remote-image" href="https://maps.example/a.png">[image: A &amp; B]</a>'),
    ('<a href="https://x.example/"><b><img src="HTTP://maps.example/a.png"></b></a>',
     '<a href="https://x.example/"><b><span class="remote-image">[image]</span></b></a>'),
    ("![A map](maps/a.png)", '<img src="maps/a.png" alt="A map">'),  # the site's own: as it is
    ('![Tom & "Jerry"](http://x.example/y.png)', '<a class="remote-image" href="http://x.example/y.png">[image: Tom &amp; "Jerry"]</a>'),
    # in the article's own link: its words alone, and the link whole
    ('<a href="https://l.example/">see ![x](https://a.example/y.png) here</a>',
     '<a href="https://l.example/">see <span class="remote-image">[image: x]</span> here</a>'),
])
def test_an_image_on_another_site_is_a_link_in_its_place(text, html):
    assert markup.markdown(text).strip() in (f"<p>{html}</p>", html)  # raw HTML alone is a block of its own


@pytest.mark.parametrize("text,html", [
    ("![dot](data:image/png;base64,iVBORw0KGgo=)", '<p><img src="data:image/png;base64,iVBORw0KGgo=" alt="dot"></p>'),
    ('<img src="data:image/gif;base64,R0lGOD" alt="g">', '<img src="data:image/gif;base64,R0lGOD" alt="g">'),
    # not a picture, or not in a picture: dropped, as any harmful address
    ('<img src="DATA:text/html,x" alt="t">', '<img alt="t">'),
    ('<a href="data:text/html,x">a</a>', "<p><a>a</a></p>"),
    ('<a href=" data:text/html,x">a</a>', "<p><a>a</a></p>"),  # as a browser reads it: spaces before ignored
    ('<img src="DATA:image/png;base64,iVBORw0KGgo=" alt="x">', '<img src="DATA:image/png;base64,iVBORw0KGgo=" alt="x">'),
])
def test_a_picture_written_into_the_page_shows_and_no_other_data_address_stays(text, html):
    """data: pictures are what the pages' policy lets show (img-src 'self' data:); the sanitizer
    dropped them, leaving an empty frame, while the README says they are kept."""
    assert markup.markdown(text).strip() == html
