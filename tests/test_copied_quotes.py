"""Quotes as journalists really write them: a passage selected on the article's page in a
browser, copied (Ctrl+C) and pasted into the sidecar.

What Chromium copies differs from the page's text in known ways: new lines between paragraphs,
list items and table rows, tabs between table cells, no-break spaces as plain ones, soft
hyphens kept, an image's description (alt text) in its place, and the numbers and back links
the page adds: a claim's footnote number after its mark, the article's own note references and
their ↩. Each test builds a small site, selects a range in the built page in Chromium, copies
it through the real clipboard and builds again with what was copied as a claim's quote. The
quote must then mark exactly the passage selected, or the build must say, at the quote, what
was copied that is not the article's text and which quote to write instead.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from fixtures.htmltree import parse
from fixtures.sitekit import error_lines, run, tiny_site, write

# Selects, in the article's body, from the first `start` to the end of the first `end` after it
# (in the text of the page's nodes); returns what a reader sees of that range once the numbers,
# back links, images and image stand-ins the page adds to the article are taken out, and the
# captured <figure>s (raw HTML, which cannot be marked).
SELECT = r"""
([start, end]) => {
  const body = document.querySelector('div.body');
  const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
  const nodes = []; let text = '';
  for (let n = walker.nextNode(); n; n = walker.nextNode()) { nodes.push([n, text.length]); text += n.data; }
  const a = text.indexOf(start), b = text.indexOf(end, a);
  if (a < 0 || b < 0) throw new Error(`not on the page: ${a < 0 ? start : end}`);
  const place = (i, after) => {
    for (let k = nodes.length - 1; k >= 0; k--) {
      const [n, o] = nodes[k];
      if (after ? o < i : o <= i) return [n, i - o];
    }
  };
  const range = document.createRange();
  range.setStart(...place(a, false));
  range.setEnd(...place(b + end.length, true));
  const selection = getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  const seen = range.cloneContents();
  seen.querySelectorAll('sup.fnref, sup.footnote-ref, a[role=doc-backlink], .remote-image, img, figure').forEach(e => e.remove());
  return seen.textContent;
}
"""

ARTICLE = """\
## The bridge *closes*

The North Bridge closed on **Monday** after [inspectors](https://example.org/insp) found cracks, the River Agency said.[^1]

Officials said:

- traffic will be *diverted* through the old town;
- repairs take six weeks;
- a ferry runs every hour.

> "We had no choice," said Anna Kovač, the city's engineer.

| Day | Cars |
|-----|------|
| Monday | 12,000 |
| Tuesday | 9,500 |

Use the `old-town` route.<br>Buses run as usual.

Prices rose by 5&nbsp;per cent in the re\u00adgion since the closure.

The crack ![A cracked pillar](../../pillar.png) runs through the pillar.

![Remote pillar](https://example.org/p.jpg)

Президент Зеленський заявив, що мости відремонтують.

<figure><img src="../../pillar.png" alt="The pillar, close"><figcaption>The pillar on Monday</figcaption></figure>

Engineers will inspect every bridge.

قال المسؤولون إن الجسر سيغلق لمدة ستة أسابيع.[^2]

[^1]: According to the city's report.
[^2]: The second note.
"""
# Claims already annotated: the page shows their footnote numbers, 1 and 2.
CLAIMS = [("six-weeks", "repairs take six weeks"), ("as-usual", "Buses run as usual")]
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082")


def sidecar(claims: list[tuple[str, str]]) -> str:
    lines = ["title: A", "claims:"]
    for claim_id, quote in claims:
        lines += [f"  - id: {claim_id}", f"    quote: {json.dumps(quote, ensure_ascii=False)}"]
    return "\n".join(lines) + "\n"


def build(folder: Path, text: str, claims: list[tuple[str, str]]) -> tuple[int, str, Path]:
    """A one-article site built into folder/out: (exit status, stderr, the article page)."""
    site = tiny_site(folder / "site", text, sidecar(claims))
    write(site, "static/pillar.png", PNG)
    code, _, stderr = run("build", str(site), "-o", str(folder / "out"), "--no-search")
    return code, stderr, folder / "out/articles/a/index.html"


@pytest.fixture(scope="module")
def clipboard(browser):
    """A page whose copies can be read back: (page, copy(start, end) -> (copied, seen)). What
    Ctrl+C puts on the clipboard, or (as_text) what the selection's toString() gives, which differs
    (no image descriptions, no-break spaces kept)."""
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()

    def copy(start: str, end: str, as_text: bool = False) -> tuple[str, str]:
        seen = page.evaluate(SELECT, [start, end])
        if as_text:
            return page.evaluate("getSelection().toString()"), seen
        page.keyboard.press("Control+C")
        return page.evaluate("navigator.clipboard.readText()"), seen

    yield page, copy
    context.close()


@pytest.fixture(scope="module")
def article_page(tmp_path_factory, clipboard):
    """The article built with its first claims, open in the browser."""
    folder = tmp_path_factory.mktemp("copied")
    code, stderr, page_path = build(folder, ARTICLE, CLAIMS)
    assert code == 0, stderr
    page, copy = clipboard

    def copy_here(start: str, end: str) -> tuple[str, str]:
        if page.url != page_path.as_uri():
            page.goto(page_path.as_uri())
        return copy(start, end)

    copy_here.page_path = page_path
    return copy_here


def marked(page_path: Path, claim: str) -> str:
    body = parse(page_path.read_text("utf-8")).find("div", class_="body")
    pieces = body.find_all("mark", data_claim=claim)
    assert pieces, f"no mark for {claim}"
    return "".join(p.text() for p in pieces)


def same_words(a: str, b: str) -> bool:
    """Equal but for white space, which marks do not hold between blocks."""
    return re.sub(r"\s", "", a) == re.sub(r"\s", "", b)


# -- what copying gives that already anchors --------------------------------------------------

SELECTIONS = [
    ("closes", "The North"),  # a heading and the paragraph after it
    ("North Bridge", "found cracks"),  # strong, a link, a name autolinked
    ("traffic", "old town;"),  # emphasis in a list item
    ("old town;", "repairs"),  # across list items
    ("Officials", "traffic"),  # a paragraph and a list
    ("We had", "engineer."),  # a block quote
    ("Day", "9,500"),  # a whole table: tabs and new lines
    ("12,000", "Tuesday"),  # across table rows
    ("old-town", "Buses run"),  # inline code and a raw <br>
    ("engineer.", "Day"),  # from a block quote into a table
    ("Prices", "closure."),  # &nbsp; (copied as a space) and a soft hyphen (copied)
    ("Officials said", "repairs take"),  # into a claim's mark, before its number
    ("Зеленський", "відремонтують"),
    ("المسؤولون", "أسابيع"),
    ("According", "report."),  # the article's own note
]


def test_copied_passages_mark_exactly_what_was_selected(article_page, tmp_path):
    copied = [article_page(start, end) for start, end in SELECTIONS]
    claims = CLAIMS + [(f"copied-{n}", quote) for n, (quote, _) in enumerate(copied)]
    code, stderr, page_path = build(tmp_path, ARTICLE, claims)
    assert code == 0, stderr
    for n, (quote, seen) in enumerate(copied):
        assert same_words(marked(page_path, f"copied-{n}"), seen), (SELECTIONS[n], quote)


def test_copied_passages_pasted_as_a_block_anchor_whatever_characters_they_hold(article_page, tmp_path):
    """As the README advises: under `quote: |-`, a passage with a colon, quotation marks, tabs and
    blank lines is read as it is (written plain, YAML would take `said: ` for a key)."""
    copied = [article_page(start, end) for start, end in [("Officials said", "diverted"), ('"We had', "engineer."),
                                                          ("Day", "9,500")]]
    assert ":" in copied[0][0] and copied[1][0].startswith('"') and "\t" in copied[2][0]
    lines = ["title: A", "claims:"]
    for n, (quote, _) in enumerate(copied):
        lines += [f"  - id: pasted-{n}", "    quote: |-"] + [f"      {line}" if line else "" for line in quote.splitlines()]
    site = tiny_site(tmp_path / "site", ARTICLE, "\n".join(lines) + "\n")
    write(site, "static/pillar.png", PNG)
    code, _, stderr = run("build", str(site), "-o", str(tmp_path / "out"), "--no-search")
    assert code == 0, stderr
    for n, (_, seen) in enumerate(copied):
        assert same_words(marked(tmp_path / "out/articles/a/index.html", f"pasted-{n}"), seen)


# -- what copying gives that is not the article's text ----------------------------------------

def told(folder: Path, copied: str) -> tuple[str, str]:
    """Build with the copied quote as a new claim: the error at that quote, and the quote it says to write."""
    code, stderr, _ = build(folder, ARTICLE, CLAIMS + [("copied", copied)])
    assert code == 1, stderr
    errors = error_lines(stderr)
    assert len(errors) == 1 and errors[0].startswith("content/articles/a.yaml:8:12: error: quote not found"), stderr
    written = re.search(r"; leave (?:it|them) out and quote “(.*)”$", errors[0])
    assert written, errors[0]
    return errors[0], written.group(1)


def anchors_as_selected(folder: Path, quote: str, seen: str) -> bool:
    code, stderr, page_path = build(folder, ARTICLE, CLAIMS + [("copied", quote)])
    assert code == 0, stderr
    return same_words(marked(page_path, "copied"), seen)


def test_a_claims_footnote_number_copied_with_a_quote_is_named_and_left_out(article_page, tmp_path):
    copied, seen = article_page("repairs take", "every hour")
    assert "weeks1;" in copied  # as Chromium copies it: the number the page shows after the mark
    error, write_this = told(tmp_path / "one", copied)
    assert "“1” (the footnote number Dossier adds after claim 'six-weeks')" in error
    assert "1" not in write_this
    assert anchors_as_selected(tmp_path / "two", write_this, seen)


def test_the_articles_own_note_number_copied_with_a_quote_is_named_and_left_out(article_page, tmp_path):
    copied, seen = article_page("found cracks", "Officials said")
    assert "said.1" in copied
    error, write_this = told(tmp_path / "one", copied)
    assert "“1” (the number of the article's own note)" in error
    assert anchors_as_selected(tmp_path / "two", write_this, seen)


def test_an_images_description_copied_with_a_quote_is_named_and_left_out(article_page, tmp_path):
    copied, seen = article_page("The crack", "the pillar.")
    assert "A cracked pillar" in copied  # Ctrl+C copies an image's alt text in its place
    error, write_this = told(tmp_path / "one", copied)
    assert "“A cracked pillar” (the description of an image" in error
    assert write_this == "The crack runs through the pillar."
    assert anchors_as_selected(tmp_path / "two", write_this, seen)


def test_the_stand_in_for_an_image_on_another_site_copied_with_a_quote_is_named_and_left_out(article_page, tmp_path):
    copied, seen = article_page("through the pillar.", "Президент")
    assert "[image: Remote pillar]" in copied
    error, write_this = told(tmp_path / "one", copied)
    assert "“[image: Remote pillar]” (the stand-in Dossier shows for an image on another site)" in error
    assert anchors_as_selected(tmp_path / "two", write_this, seen)


def test_a_notes_back_link_copied_with_a_quote_is_named_and_left_out(article_page, tmp_path):
    copied, seen = article_page("city's report.", "The second note")
    assert "↩" in copied
    error, write_this = told(tmp_path / "one", copied)
    assert "“↩” (the back link of the article's own note)" in error
    assert anchors_as_selected(tmp_path / "two", write_this, seen)


def test_a_captured_figure_copied_between_paragraphs_is_named_and_left_out(article_page, tmp_path):
    copied, seen = article_page("мости відремонтують.", "Engineers will")
    assert "The pillar, close\nThe pillar on Monday" in copied  # its image's description and its caption
    error, write_this = told(tmp_path / "one", copied)
    assert ("it includes what is not the article's text: “The pillar, close” (the description of an image, which "
            "browsers copy in its place), “The pillar on Monday” (text of a block of raw HTML, such as a <figure>, which "
            "cannot be marked); leave them out") in error
    assert write_this == "мости відремонтують. Engineers will"
    assert anchors_as_selected(tmp_path / "two", write_this, seen)


def test_a_quote_begun_in_a_captured_figure_says_its_caption_cannot_be_marked(article_page, tmp_path):
    copied, seen = article_page("pillar on Monday", "Engineers will")
    error, write_this = told(tmp_path / "one", copied)
    assert "it includes what is not the article's text: “pillar on Monday” (text of a block of raw HTML" in error
    assert write_this == "Engineers will"


def test_a_claim_widened_with_its_own_number_copied_is_told_to_leave_it_out(article_page, tmp_path):
    """The claim whose quote is being changed is not marked while its quote is not found: the
    number copied after it is named by where it stands."""
    copied, seen = article_page("repairs take", "every hour")
    code, stderr, _ = build(tmp_path / "one", ARTICLE, [CLAIMS[1], ("six-weeks", copied)])
    assert code == 1
    [error] = error_lines(stderr)
    assert error.startswith("content/articles/a.yaml:6:12: error: quote not found in the article; it includes what is "
                            "not the article's text: “1” after “weeks”; leave it out and quote “repairs take six weeks;")
    write_this = re.search(r"; leave (?:it|them) out and quote “(.*)”$", error).group(1)
    assert anchors_as_selected(tmp_path / "two", write_this, seen)


def test_a_whole_paragraph_selected_by_a_triple_click_is_told_to_leave_its_number_out(clipboard, article_page, tmp_path):
    page, _ = clipboard
    page.goto(article_page.page_path.as_uri())
    page.click("text=found cracks", click_count=3)
    page.keyboard.press("Control+C")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.rstrip().endswith("said.1"), copied
    error, write_this = told(tmp_path / "one", copied)
    assert write_this.startswith("The North Bridge") and write_this.endswith("the River Agency said.")
    paragraph = "The North Bridge closed on Monday after inspectors found cracks, the River Agency said."
    assert anchors_as_selected(tmp_path / "two", write_this, paragraph)


# -- any selection, copied ----------------------------------------------------------------------

# Words that occur once, so that any selection from the start of one to the end of another is
# one passage of the article; blocks of the kinds captured articles have.
WORDS = [f"{a}{b}{c}" for a in "bcdfg" for b in "aeiou" for c in "klmnprst"]


def _inline(words: list[str], draw) -> str:
    out = []
    for w in words:
        kind = draw(st.sampled_from(["plain"] * 6 + ["em", "strong", "link", "code", "note", "nbsp", "shy", "img",
                                                     "remote", "break"]))
        out.append({"plain": w, "em": f"*{w}*", "strong": f"**{w}**", "link": f"[{w}](https://example.org/{w})",
                    "code": f"`{w}`", "note": f"{w}[^1]", "nbsp": f"{w}&nbsp;", "shy": f"{w[:2]}\u00ad{w[2:]}",
                    "img": f"{w} ![picture of {w.upper()}](../../pillar.png)",
                    "remote": f"{w} ![remote {w.upper()}](https://example.org/{w}.jpg)", "break": f"{w}  \n"}[kind])
    return " ".join(out).replace("&nbsp; ", "&nbsp;")


@st.composite
def articles(draw) -> str:
    words = iter(WORDS)
    blocks = []
    for _ in range(draw(st.integers(2, 5))):
        kind = draw(st.sampled_from(["para", "para", "list", "quote", "table", "heading", "br", "figure"]))
        take = lambda n: [next(words) for _ in range(n)]  # noqa: E731
        if kind == "para":
            blocks.append(_inline(take(draw(st.integers(2, 6))), draw) + ".")
        elif kind == "list":
            blocks.append("\n".join(f"- {_inline(take(2), draw)}" for _ in range(draw(st.integers(2, 3)))))
        elif kind == "quote":
            blocks.append("> " + _inline(take(3), draw))
        elif kind == "table":
            rows = [f"| {' | '.join(take(2))} |" for _ in range(3)]
            blocks.append("\n".join([rows[0], "|---|---|", *rows[1:]]))
        elif kind == "heading":
            blocks.append("## " + _inline(take(2), draw))
        elif kind == "br":
            blocks.append(f"{' '.join(take(2))}<br>{' '.join(take(2))}")
        else:  # raw HTML, as captured
            blocks.append('<figure><img src="../../pillar.png" alt="A PILLAR"><figcaption>The PILLAR at dawn</figcaption></figure>')
    return "\n\n".join(blocks) + "\n\n[^1]: A note of the source.\n"


# Fixed examples by default, so CI is stable and fast; DOSSIER_FUZZ_EXAMPLES=200 explores anew.
_EXPLORE = int(os.environ.get("DOSSIER_FUZZ_EXAMPLES", "0"))


@settings(max_examples=_EXPLORE or 12, deadline=None, derandomize=not _EXPLORE,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.filter_too_much])
@given(data=st.data(), text=articles())
def test_any_copied_selection_marks_what_was_selected_or_says_what_to_write(clipboard, data, text):
    page, copy = clipboard
    shown = re.sub(r"<figure>.*?</figure>", "", text)
    used = [w for w in WORDS if w in shown]
    assume(used)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # Claims on the first word and on a few others, so that the page shows footnote numbers
        # selections may cross.
        k = data.draw(st.integers(0, len(used) - 1))
        first = [(f"on-{used[0]}", used[0]), ("other", " ".join(used[k:k + data.draw(st.integers(1, 3))]))]
        code, stderr, page_path = build(tmp / "base", text, first)
        assume(code == 0)  # the other claim's words may lie either side of a block of raw HTML
        page.goto(page_path.as_uri())
        i = data.draw(st.integers(0, len(used) - 1))
        j = data.draw(st.integers(i, min(len(used) - 1, i + 6)))
        copied, seen = copy(used[i], used[j], as_text=data.draw(st.booleans()))
        code, stderr, page_path = build(tmp / "copied", text, first + [("copied", copied)])
        event("anchored as copied" if code == 0 else "told what to write")
        if code == 1:
            [error] = error_lines(stderr)
            assert error.startswith("content/articles/a.yaml:8:12: error: quote not found in the article; it includes what "), error
            written = re.search(r"; leave (?:it|them) out and quote “(.*)”$", error).group(1)
            code, stderr, page_path = build(tmp / "written", text, first + [("copied", written)])
        assert code == 0, stderr
        assert same_words(marked(page_path, "copied"), seen), (copied, seen)
