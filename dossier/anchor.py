"""Anchoring: find quotes (W3C TextQuoteSelectors) in the text a reader sees.

An article is parsed once into mistune's token tree. Its text leaves, in
reading order, are joined into one string (`ReaderText.raw`) and every leaf
remembers where it sits in it. Matching runs on a normalised copy (white
space runs -> one space, curly quotes -> straight, dashes -> hyphens, "…" ->
"...", "ﬁ" -> "fi", characters nobody sees dropped) with a map back to raw
offsets, so a match lands on the exact characters that are then wrapped.
"""

from __future__ import annotations

import bisect
import difflib
import functools
import hashlib
import html
import re
import unicodedata
from dataclasses import dataclass, field
from typing import NamedTuple, Optional

import ahocorasick
import mistune

from .model import Article, Selector

WS_RUN = re.compile(r"\s+")
# Characters a reader does not see and nobody types into a quote, though captured pages and wire
# copy are full of them: soft hyphen, combining grapheme joiner, Arabic letter mark, Mongolian
# variation selectors, zero-width space, non-joiner and joiner, left-to-right and right-to-left
# marks and embeddings, word joiner and invisible operators, bidi isolates, variation selectors,
# byte order mark (zero-width no-break space).
INVISIBLE = ("\u00ad\u034f\u061c\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f"
             "\ufe00-\ufe0f\ufeff")
# One character for one: typographic quotation marks and apostrophes -> straight ones, English
# ‘ ’ “ ”, those of other languages (« » „ ‚ ‹ › ‟ ‛), the modifier letters ʼ of Ukrainian and ʻ of
# Uzbek, primes ′ ″ and an acute accent typed for an apostrophe; hyphens, dashes and the minus
# sign -> "-".
LOOK_ALIKES = {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2039": "'", "\u203a": "'",
               "\u02bc": "'", "\u02bb": "'", "\u2032": "'", "\u2035": "'", "\u00b4": "'",
               "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u00ab": '"', "\u00bb": '"',
               "\u2033": '"', "\u2036": '"',
               **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-")}
_SIMILAR = re.escape("".join(LOOK_ALIKES))
_DASHES = re.escape("".join(c for c, ascii in LOOK_ALIKES.items() if ascii == "-") + "-")
# One character for several: "…" -> "...", and the ligatures of text copied from a PDF.
SPELLED_OUT = {"\u2026": "...", "\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
               "\ufb05": "st", "\ufb06": "st"}
_SPELLED = re.escape("".join(SPELLED_OUT))
# What normalize() changes. Every edit starts with one of a few characters, which the regex engine
# finds in C (a pattern starting with named groups would be tried at every character, and
# str.translate() looks each character up in a dict: both twice as slow); the lookbehind on that
# first character says which edit it is.
_EDIT = re.compile(
    rf"[\s{INVISIBLE}{_SIMILAR}{_SPELLED}-](?:"
    rf"(?<= )[\s{INVISIBLE}]+"  # a run of white space -> " " (a single plain space is left alone)
    rf"|(?<=[^\S ])[\s{INVISIBLE}]*"
    rf"|(?<=[{_DASHES}])[{_DASHES}]+"  # two or more dashes, as "--" is typed for "—" -> "-"
    rf"|(?<=[{INVISIBLE}])[{INVISIBLE}]*(?P<white>\s[\s{INVISIBLE}]*)?"  # -> "", or " " if white space follows
    rf"|(?<=[{_SIMILAR}{_SPELLED}]))")  # one look-alike -> its ASCII form; "…" -> "..."
_REPLACEMENT = {"-": "-", **LOOK_ALIKES, **SPELLED_OUT}
# In ASCII text without "--" (most quotes, and articles without typographic marks) only white
# space changes, and this shorter pattern, tried at every character, finds it faster.
_ASCII_EDIT = re.compile(r" \s+|[^\S ]\s*")
INLINE = frozenset({"emphasis", "strong", "link", "strikethrough", "mark", "superscript", "subscript"})
# Raw elements whose text cannot hold a mark or a link: the sanitizer drops the content of some
# (of <svg> and <math>, all but loose text), and reads that of others as characters, tags and all
# (so a mark there shows as "<mark ...>" and its footnote links nowhere).
HIDDEN_HTML = re.compile(r"<(/?)(script|style|template|svg|math|textarea|title|xmp|iframe|noembed|noframes"
                         r"|noscript|plaintext)\b", re.I)
# Raw tags that set the words either side apart, on lines or in boxes of their own.
BREAKING_HTML = re.compile(r"</?(?:br|hr|p|div|li|dd|dt|h[1-6]|blockquote|pre|table|caption|tr|td|th|ul|ol|dl"
                           r"|section|article|aside|header|footer|nav|main|figure|figcaption|address|details"
                           r"|summary)\b", re.I)
RAW_LINK = re.compile(r"<(/?)a(?:\s[^>]*)?>\Z", re.I | re.S)  # an <a> or </a> tag, alone
PLUGINS = ("strikethrough", "table", "footnotes")

_parser = mistune.create_markdown(renderer=None, plugins=list(PLUGINS))


def _speed_up_emphasis() -> None:
    """mistune's emphasis pass looks for the next `*` or `_` of a text one
    character at a time in Python: a third of analysing an article. A regex
    finds the same place in C."""
    from mistune._inline import emphasis
    if not hasattr(emphasis, "_next_delimiter_run"):  # another mistune: nothing to replace
        return
    delimiter = re.compile(r"[*_]")

    def next_delimiter_run(text: str, pos: int) -> int:
        found = delimiter.search(text, pos)
        return found.start() if found else max(pos, len(text))

    emphasis._next_delimiter_run = next_delimiter_run


_speed_up_emphasis()


def _speed_up_text_runs() -> None:
    """mistune finds where plain text ends with a regex of the characters that may
    start an inline rule, and looks it up again before every run of text by sorting
    that set into a key (tens of thousands of times per 1,000 articles). The set is
    made once per parser and replaced, never changed, when the rules change: the
    pattern is the one mistune made for that very set."""
    from mistune.inline_parser import InlineParser
    own = getattr(InlineParser, "_get_fast_trigger_re", None)
    if own is None or getattr(own, "remembers_its_set", False):  # another mistune, or done
        return

    def get_fast_trigger_re(self, chars):
        last = self.__dict__.get("_dossier_trigger")
        if last is not None and last[0] is chars:
            return last[1]
        pattern = own(self, chars)
        self._dossier_trigger = (chars, pattern)  # the set is kept alive with it: its id is not reused
        return pattern

    get_fast_trigger_re.remembers_its_set = True
    get_fast_trigger_re.mistunes_own = own
    InlineParser._get_fast_trigger_re = get_fast_trigger_re


_speed_up_text_runs()


def normalize(s: str) -> tuple[str, list[int], list[int], list[int]]:
    """Normalised text, plus where its edits sit, to map offsets back to `s`.

    Returns (norm, at, after, dropped): the k-th edit that changes the length
    (a run replaced by one character or by none, "…" by three) starts at
    normalised offset at[k] and ends at after[k]; dropped[k + 1] is the raw
    characters dropped up to its end (fewer than none where "…" grew).
    """
    parts, at, after, dropped = [], [], [], [0]
    last = 0
    for m in _edits(s).finditer(s):
        a, b = m.span()
        new = _replacement(m)
        parts += (s[last:a], new)
        last = b
        if b - a != len(new):  # else one character for one: nothing to map
            at.append(a - dropped[-1])
            after.append(a - dropped[-1] + len(new))
            dropped.append(dropped[-1] + b - a - len(new))
    parts.append(s[last:])
    return "".join(parts), at, after, dropped


def norm_text(s: str) -> str:
    """normalize(s)'s text alone."""
    return _edits(s).sub(_replacement, s)


def _edits(s: str) -> re.Pattern:
    return _EDIT if not s.isascii() or "--" in s else _ASCII_EDIT


def _replacement(edit: re.Match) -> str:
    first = edit.group()[0]
    new = _REPLACEMENT.get(first)
    if new is None:  # white space, or invisible characters: gone unless white space follows
        new = " " if first.isspace() or edit.group("white") is not None else ""
    return new


@dataclass(slots=True)  # tens of thousands per 1,000 articles
class Leaf:
    """One run of text in the token tree, and where it sits in the reader text."""

    token: dict
    start: int
    end: int
    in_link: bool  # inside a link the article itself has
    linkable: bool  # autolinks may go here (not headings, links, code)
    # Text and line breaks side by side form one leaf, so that one mark can
    # span a line end: `more` are the tokens after `token`, `breaks` the
    # offsets of its hard line breaks (rendered <br>).
    more: list = field(default_factory=list)
    breaks: list = field(default_factory=list)


@dataclass
class ReaderText:
    raw: str
    leaves: list[Leaf]
    norm: str = ""
    edit_at: list[int] = field(default_factory=list)
    edit_after: list[int] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)
    note_refs: list[int] = field(default_factory=list)  # where the article's own note references ([^1]) stand

    def __post_init__(self):
        self.norm, self.edit_at, self.edit_after, self.dropped = normalize(self.raw)
        self._starts = [leaf.start for leaf in self.leaves]

    def raw_span(self, a: int, b: int) -> tuple[int, int]:
        """The raw span of norm[a:b]: from its first character (past characters dropped before
        it) to the end of its last (not characters dropped after it)."""
        return self._raw(a)[0], self._raw(b - 1)[1]

    def _raw(self, j: int) -> tuple[int, int]:
        """The raw span norm[j] stands for: a whole run; all of "…" for any of its dots."""
        k = bisect.bisect_right(self.edit_at, j) - 1
        if k >= 0 and j < self.edit_after[k]:
            return self.edit_at[k] + self.dropped[k], self.edit_after[k] + self.dropped[k + 1]
        i = j + self.dropped[bisect.bisect_right(self.edit_after, j)]
        return i, i + 1

    def leaf_at(self, i: int) -> Optional[Leaf]:
        k = bisect.bisect_right(self._starts, i) - 1
        if k >= 0 and self.leaves[k].start <= i < self.leaves[k].end:
            return self.leaves[k]
        return None


def parse(article: Article) -> list[dict]:
    """The article's token tree; plain text becomes paragraphs."""
    if article.text_format == "txt":
        paras = [p.strip() for p in re.split(r"\n\s*\n", article.text) if p.strip()]
        return [{"type": "paragraph", "children": [{"type": "text", "raw": html.escape(p, quote=False)}]}
                for p in paras]
    tokens, _state = _parser.parse(article.text)
    return tokens


def reader_text(tokens: list[dict]) -> ReaderText:
    parts: list[str] = []
    leaves: list[Leaf] = []
    note_refs: list[int] = []
    length = 0

    def add(s: str) -> None:
        nonlocal length
        parts.append(s)
        length += len(s)

    def leaf(tok: dict, text: str, in_link: bool, linkable: bool) -> None:
        leaves.append(Leaf(tok, length, length + len(text), in_link, linkable))
        add(text)

    def running_text(tok: dict, text: str, in_link: bool, linkable: bool, joins: bool) -> None:
        if not joins:
            leaf(tok, "", in_link, linkable)
        last = leaves[-1]
        if tok["type"] == "linebreak":
            last.breaks.append(length)
        if tok is not last.token:
            last.more.append(tok)
        last.end += len(text)
        add(text)

    def walk(tokens: list[dict], outer_link: bool, outer_linkable: bool) -> None:
        joins = False  # the previous token was text or a line break: join it
        hidden = 0  # raw <script>, <svg>, <textarea>... open here (see HIDDEN_HTML): no reader text
        raw_links = 0  # raw HTML <a> open here: text there is in a link like [text](url)
        for tok in tokens:
            kind = tok["type"]
            if kind == "inline_html":
                hidden = _hidden_after(tok["raw"], hidden)
                if not hidden and BREAKING_HTML.match(tok["raw"]):
                    add("\n")  # a capture's <br> or <p>: the words either side are not one
            if kind == "inline_html" and (tag := RAW_LINK.match(tok["raw"].strip())):
                raw_links = max(0, raw_links - 1) if tag.group(1) else raw_links + 1
            raw_link = raw_links > 0
            if hidden and kind != "inline_html":
                continue
            in_link, linkable = outer_link or raw_link, outer_linkable and not raw_link
            if kind in ("text", "softbreak", "linebreak"):
                text = decoded(tok["raw"]) if kind == "text" else "\n"
                running_text(tok, text, in_link, linkable, joins)
                joins = True
                continue
            joins = False
            if kind == "codespan":
                leaf(tok, tok["raw"], in_link, False)
            elif kind == "block_code":
                add("\n")
                leaf(tok, tok["raw"], False, False)
                add("\n")
            elif kind == "footnote_ref":
                note_refs.append(length)  # its number is the page's, not the article's text
            elif kind == "image" or "children" not in tok:
                continue  # alt text and raw HTML are not read as text
            elif kind in INLINE:
                walk(tok["children"], in_link or kind == "link", linkable and kind != "link")
            else:
                add("\n")
                walk(tok["children"], in_link, linkable and kind != "heading")
                add("\n")

    walk(tokens, False, True)
    return ReaderText("".join(parts), leaves, note_refs=note_refs)


# An entity or character reference as CommonMark reads one: ended by a semicolon. (Python's
# html.unescape() also reads HTML's old names without one, `&reg` in `?a=1&region=2`.)
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def decoded(text: str) -> str:
    """A text token's characters, its entities read."""
    return _ENTITY.sub(_character, text) if "&" in text else text


def _character(entity: re.Match) -> str:
    return html.unescape(entity.group())


def _hidden_after(tag: str, depth: int) -> int:
    """How many hidden elements (see HIDDEN_HTML) are open after a raw tag."""
    found = HIDDEN_HTML.match(tag)
    if not found:
        return depth
    if found.group(1):
        return max(0, depth - 1)
    if found.group(2).lower() in ("svg", "math") and tag.rstrip().endswith("/>"):
        return depth  # <svg/>: foreign elements may close themselves
    return depth + 1


def find(rt: ReaderText, sel: Selector) -> list[tuple[int, int]]:
    """Raw spans where the selector matches."""
    quote = norm_text(sel.quote).strip()
    prefix, suffix = norm_text(sel.prefix).rstrip(), norm_text(sel.suffix).lstrip()
    text = rt.norm
    spans = []
    i = text.find(quote) if quote else -1
    while i >= 0:
        j = i + len(quote)
        if (not prefix or text[max(0, i - len(prefix) - 1):i].rstrip().endswith(prefix)) and \
           (not suffix or text[j:j + len(suffix) + 1].lstrip().startswith(suffix)):
            spans.append(rt.raw_span(i, j))
        i = text.find(quote, i + 1)
    return spans


# -- what a browser copies besides the article's text ---------------------------------------------
#
# A passage copied from an article's page (selected, Ctrl+C) holds, besides the article's text,
# what the page adds to it or shows in place of something: a claim's footnote number after its
# mark and the number of each of the article's own notes, glued to the word before them; the ↩
# that leads back from one of those notes; "[image: …]" in place of an image on another site; an
# image's description (alt text), which Chromium copies in its place; the text of a block of raw
# HTML (a captured <figure>'s caption). None of it is the article's text, and a quote holding it
# would show it wherever the quote is shown: it is not found, and the error says what to leave
# out (see copied_extras). The rest of what copying gives (new lines, tabs, no-break spaces as
# plain ones, soft hyphens) normalize() takes as the page's text already.

BACK_LINK = "\u21a9"
_STAND_IN = re.compile(r"\[image(?:: [^\]]*)?\]")
# A number, which may be or end in a footnote number (the page's "2024" and "1" after a mark
# ending in 2024 copy as "20241"), or one in brackets as the page shows a note's (typed as seen).
_NUMBER = re.compile(r"\[[0-9]{1,4}\]|[0-9]+")
_RAW_IMG_ALT = re.compile(r"""<img\b[^>]*?\salt\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
_INVISIBLES = re.compile(f"[{INVISIBLE}]+")
MAX_EXTRAS = 32  # in one quote; more are not looked for


class Extra(NamedTuple):
    """Something a quote holds that the page shows (or copies) but the article's text has not."""

    kind: str  # "number", "back link", "stand-in" (for an image on another site), "description" (of an image),
    # "raw html" (text of a block of it)
    text: str  # as the quote has it (normalised)
    at: int  # where it stood: an offset in the reader text


def copied_extras(rt: ReaderText, quote: str, tokens: list[dict] = ()) -> list[tuple[tuple[int, int], list[Extra]]]:
    """Where a quote not found is found once what a browser copies besides the article's text is
    left out of it: (the raw span, what was left out), first match first, at most a few.

    The quote becomes a pattern in which each such thing may be missing (a number may also be
    missing in part: "20243" may be the year 2024 and the number 3). Asked only of a quote that
    was not found, so its cost is no build's.
    """
    q = norm_text(quote).strip()
    extras = _extras_in(q, image_descriptions(tokens), raw_html_texts(tokens))
    if not extras:
        return []
    pattern, pieces, last = [], [], 0
    for k, (a, b, kind) in enumerate(extras):
        piece = q[a:b]
        pieces.append(piece)
        if kind == "number" and piece[0] != "[":  # in part the article's own digits, maybe: the longest first
            pattern += (re.escape(q[last:a]), f"(?P<e{k}>{'|'.join(piece[:n] for n in range(len(piece), 0, -1))}|)")
            last = b
            continue
        # Else the white space either side may be the article's or come with it: "closed. A pillar
        # The" is "closed. The", "bridge A pillar." is "bridge ." where the image stood between.
        before = q[last:a]
        pattern.append(re.escape(before[:-1]) + r"\ ?" if before.endswith(" ") else re.escape(before))
        pattern.append(f"(?P<e{k}>{re.escape(piece)}|)")
        last = b
        if q[b:b + 1] == " ":
            pattern.append(r"\ ?")
            last = b + 1
    pattern.append(re.escape(q[last:]))
    found = []
    for m in re.finditer("".join(pattern), rt.norm):
        if m.end() == m.start():
            continue
        left_out = []
        for k, ((_, _, kind), piece) in enumerate(zip(extras, pieces)):
            kept = m.group(f"e{k}")
            if len(kept) < len(piece):
                p = m.end(f"e{k}")  # where it was left out (for a number, the end of the digits kept)
                at = rt._raw(p - 1)[1] if p else 0
                left_out.append(Extra(kind, piece[len(kept):].strip(), at))
        if left_out:
            found.append((rt.raw_span(m.start(), m.end()), left_out))
            if len(found) == 3:
                break
    return found


def _extras_in(q: str, descriptions: list[str], raw_html: list[str]) -> list[tuple[int, int, str]]:
    """(start, end, kind) of what in a quote may be something the page adds, in order, apart."""
    spans = [(m.start(), m.end(), "stand-in") for m in _STAND_IN.finditer(q)]
    spans += [(i, i + 1, "back link") for i, c in enumerate(q) if c == BACK_LINK]
    for kind, texts in (("description", descriptions), ("raw html", raw_html)):
        for d in sorted(set(texts), key=len, reverse=True):
            i = q.find(d)
            while i >= 0:
                spans.append((i, i + len(d), kind))
                i = q.find(d, i + len(d))
    for text in raw_html:  # a quote may begin in a block of raw HTML, or end in one
        spans += _overlaps(q, text)
    spans += [(m.start(), m.end(), "number") for m in _NUMBER.finditer(q)]
    picked, reach = [], 0
    for a, b, kind in sorted(spans, key=lambda s: (s[0], -s[1])):  # the first and longest of those that overlap
        if a >= reach:
            picked.append((a, b, kind))
            reach = b
    return picked[:MAX_EXTRAS]


def _overlaps(q: str, text: str) -> list[tuple[int, int, str]]:
    """The longest start of the quote that ends `text`, and the longest end of it that starts
    `text`, as spans of the quote: two words at least, and whole ones."""
    found = []
    for i in (i for i in range(len(q) - 1, 0, -1) if q[i] == " " and " " in q[:i]):
        if text.endswith(q[:i]) and (i == len(text) or not text[-i - 1].isalnum()):
            found.append((0, i, "raw html"))
            break
    for i in (i for i in range(1, len(q)) if q[i - 1] == " " and " " in q[i:]):
        if text.startswith(q[i:]) and (len(q) - i == len(text) or not text[len(q) - i].isalnum()):
            found.append((i, len(q), "raw html"))
            break
    return found


_HIDDEN_ELEMENT = re.compile(r"<(script|style|template|svg|math|textarea|title|xmp|iframe|noembed|noframes|noscript)"
                             r"\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_ANY_TAG = re.compile(r"<[^>]*>")


def raw_html_texts(tokens: list[dict]) -> list[str]:
    """The text of each of the article's blocks of raw HTML (a captured <figure>, <div>...), as a
    browser shows and copies it, normalised: not reader text (see reader_text)."""
    found = []
    for tok in tokens:
        if tok["type"] == "block_html":
            visible = _HIDDEN_ELEMENT.sub(" ", tok["raw"])
            visible = _ANY_TAG.sub(lambda tag: " " if BREAKING_HTML.match(tag.group()) else "", visible)
            found.append(norm_text(decoded(visible)).strip())
        elif "children" in tok:
            found += raw_html_texts(tok["children"])
    return [t for t in found if t]


def image_descriptions(tokens: list[dict]) -> list[str]:
    """The descriptions (alt text) of the images of an article, normalised; a browser copies each
    in the image's place."""
    found = []
    for tok in tokens:
        if tok["type"] == "image":
            found.append(_flat_text(tok.get("children", ())))
        elif tok["type"] in ("inline_html", "block_html") and "<img" in tok["raw"].lower():
            found += [html.unescape(next(v for v in m.groups() if v is not None))
                      for m in _RAW_IMG_ALT.finditer(tok["raw"])]
        elif "children" in tok:
            found += image_descriptions(tok["children"])
    return [d for d in (norm_text(d).strip() for d in found) if d]


def _flat_text(tokens) -> str:
    return "".join(decoded(t["raw"]) if t["type"] in ("text", "codespan") else _flat_text(t.get("children", ()))
                   for t in tokens)


def shown(rt: ReaderText, span: tuple[int, int]) -> str:
    """A raw span of the reader text as one line to quote: white space runs as one space, without
    the characters a reader does not see."""
    return WS_RUN.sub(" ", _INVISIBLES.sub("", rt.raw[span[0]:span[1]])).strip()


def ref_position(rt: ReaderText, end: int) -> int:
    """Where the footnote reference of a claim whose mark ends at `end` stands: there, or after
    the article's link the mark ends in (see markup)."""
    k = bisect.bisect_right(rt._starts, end - 1) - 1
    if k < 0 or not rt.leaves[k].in_link or not rt.leaves[k].start <= end - 1 < rt.leaves[k].end:
        return end
    while k + 1 < len(rt.leaves) and rt.leaves[k + 1].in_link and rt.leaves[k + 1].start == rt.leaves[k].end:
        k += 1
    return rt.leaves[k].end


def closest(rt: ReaderText, quote: str) -> str:
    """The passage most like a quote that was not found, for the message ("" if nothing is).

    The stretch of the text sharing most words with the quote is found in one pass over its
    words, then compared with the quote character by character: a comparison over the whole
    text would take seconds for a long article. Case is ignored, and the passage runs from
    the start of a word to the end of one.
    """
    q = norm_text(quote).strip()
    text = rt.norm
    folded, q_folded = _folded(text), _folded(q)
    lo, hi = _likeliest_stretch(folded, q_folded)
    if lo == hi:
        return ""
    window = folded[lo:hi]
    m = difflib.SequenceMatcher(None, window, q_folded, autojunk=False)
    blocks = [b for b in m.get_matching_blocks() if b.size]
    if not blocks or max(b.size for b in blocks) < 3:
        return ""
    # From the first to the last piece matching the quote, widened to whole words.
    start, end = lo + blocks[0].a, lo + blocks[-1].a + blocks[-1].size
    while start > 0 and _one_word(text[start - 1], text[start]):
        start -= 1
    while end < len(text) and _one_word(text[end - 1], text[end]):
        end += 1
    return text[start:end].strip()


def _one_word(a: str, b: str) -> bool:
    """True if two characters side by side belong to one word (in Chinese, Japanese, Thai...,
    written without spaces, each character is taken as a word of its own)."""
    return a.isalnum() and b.isalnum() and not _unspaced(a) and not _unspaced(b)


def _folded(text: str) -> str:
    """The text in lower case and without accents, character for character (offsets stay those
    of `text`): a quote typed without them still finds its words."""
    lower = text.lower()
    if len(lower) != len(text):
        lower = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    return lower.translate(_base_letters())


@functools.cache  # made when a quote is not found, not as every build starts
def _base_letters() -> dict[int, int]:
    """Accented letters of the Latin, Greek and Cyrillic alphabets -> the letters without accents."""
    table = {}
    for n in (*range(0xC0, 0x250), *range(0x370, 0x530), *range(0x1E00, 0x1F00)):
        parts = unicodedata.normalize("NFD", chr(n))
        if len(parts) > 1 and all(unicodedata.combining(c) for c in parts[1:]):
            table[n] = ord(parts[0])
    return table


def _likeliest_stretch(text: str, quote: str) -> tuple[int, int]:
    """(start, end) of the stretch of `text` as many words long as `quote` that holds most of
    its words, with some room either side; (0, 0) if no word of it is in the text."""
    wanted = set(_WORD.findall(quote))
    words = [(m.start(), m.end(), m.group() in wanted) for m in _WORD.finditer(text)]
    size = max(1, len(_WORD.findall(quote)))
    best, best_at, count = 0, 0, 0
    for i, (_, _, hit) in enumerate(words):
        count += hit
        if i >= size:
            count -= words[i - size][2]
        if count > best:
            best, best_at = count, max(0, i - size + 1)
    if not best:
        return 0, 0
    room = len(quote) // 2 + 10
    last = words[min(len(words) - 1, best_at + size - 1)]
    return max(0, words[best_at][0] - room), min(len(text), last[1] + room)


def describe_match(rt: ReaderText, span: tuple[int, int]) -> str:
    """A short 'line' of context around a raw span, for ambiguity messages."""
    a, b = span
    before = norm_text(rt.raw[max(0, a - 25):a]).lstrip()
    after = norm_text(rt.raw[b:b + 25]).rstrip()
    return f"…{before}[{norm_text(rt.raw[a:b])}]{after}…"


class NameMatcher:
    """One Aho-Corasick automaton over every entity name and alias.

    Built once per build; finds whole-word, longest, non-overlapping names
    in a text in one pass, whatever the number of entities.
    """

    def __init__(self, names: dict[str, str]):
        self.size = len(names)
        self.fingerprint = hashlib.blake2b(repr(sorted(names.items())).encode(), digest_size=16).hexdigest()
        self._automaton = ahocorasick.Automaton()
        for name, entity in names.items():
            self._automaton.add_word(name, (len(name), entity))
        if names:
            self._automaton.make_automaton()

    def find(self, text: str) -> list[tuple[int, int, str]]:
        if not self.size:
            return []
        found = []
        for end, (length, entity) in self._automaton.iter(text):
            start, stop = end - length + 1, end + 1
            if _apart(text, start - 1, start) and _apart(text, stop, stop - 1):
                found.append((start, stop, entity))
        found.sort(key=lambda f: (f[0], f[0] - f[1]))
        picked, reach = [], 0
        for start, stop, entity in found:
            if start >= reach:
                picked.append((start, stop, entity))
                reach = stop
        return picked


def _apart(text: str, outside: int, inside: int) -> bool:
    """True if the character at `outside`, just before or after a name found, does not make the
    name part of a longer word; `inside` is the name's own character beside it."""
    if outside < 0 or outside >= len(text):
        return True
    c = text[outside]
    if c.isascii():
        return not (c.isalnum() or c == "_")
    if unicodedata.category(c) in ("Mn", "Mc"):  # a vowel sign or an accent: part of the letter before it
        return False
    # Chinese, Japanese, Thai...: words are not set apart by spaces, a name ends where it ends.
    return not c.isalnum() or _unspaced(c) or _unspaced(text[inside])


# Scripts written without spaces between words (code point ranges).
_UNSPACED = ((0x0E00, 0x0EFF), (0x1000, 0x109F), (0x1780, 0x17FF), (0x3040, 0x30FF), (0x31F0, 0x31FF),
             (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0xFF66, 0xFF9F), (0x20000, 0x2FA1F))


def _unspaced(c: str) -> bool:
    n = ord(c)
    return n >= 0x0E00 and any(lo <= n <= hi for lo, hi in _UNSPACED)


# A word, for finding the passage closest to a quote: a run of letters and digits, but one
# character at a time in the scripts written without spaces (else a whole sentence is one word).
_UNSPACED_CLASS = "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in _UNSPACED)
_WORD = re.compile(rf"[{_UNSPACED_CLASS}]|(?:(?![{_UNSPACED_CLASS}])\w)+")
