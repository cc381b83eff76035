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
from typing import Optional

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
            elif kind == "image" or "children" not in tok:
                continue  # alt text and raw HTML are not read as text
            elif kind in INLINE:
                walk(tok["children"], in_link or kind == "link", linkable and kind != "link")
            else:
                add("\n")
                walk(tok["children"], in_link, linkable and kind != "heading")
                add("\n")

    walk(tokens, False, True)
    return ReaderText("".join(parts), leaves)


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
