"""Anchoring: find quotes (W3C TextQuoteSelectors) in the text a reader sees.

An article is parsed once into mistune's token tree. Its text leaves, in
reading order, are joined into one string (`ReaderText.raw`) and every leaf
remembers where it sits in it. Matching runs on a normalised copy (white
space runs -> one space, curly quotes -> straight) with a map back to raw
offsets, so a match lands on the exact characters that are then wrapped.
"""

from __future__ import annotations

import bisect
import difflib
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
# The runs normalize() changes: longer than one space, or not a plain space. Single
# spaces between words are most of a text's white space and are skipped in C.
_COLLAPSIBLE = re.compile(r" \s+|[^\S ]\s*")
# Typographic quotation marks and apostrophes -> straight ones, one character for one: English
# ‘ ’ “ ”, and those of other languages (« » „ ‚ ‹ › ‟ ‛, and the modifier letter ʼ of Ukrainian).
QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2039": "'", "\u203a": "'",
                        "\u02bc": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u00ab": '"',
                        "\u00bb": '"'})
INLINE = frozenset({"emphasis", "strong", "link", "strikethrough", "mark", "superscript", "subscript"})
HIDDEN_HTML = re.compile(r"<(/?)(?:script|style)\b", re.I)  # nh3 drops their content
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


def normalize(s: str) -> tuple[str, list[int], list[int]]:
    """Normalised text, plus where its collapsed white space runs sit.

    Returns (norm, run_pos, shift): run_pos[k] is the normalised offset of
    the k-th collapsed run, shift[k] the raw characters dropped before it.
    """
    parts, run_pos, shift = [], [], [0]
    last = dropped = 0
    for m in _COLLAPSIBLE.finditer(s):
        a, b = m.span()
        if b - a == 1 and s[a] == " ":
            continue
        parts += (s[last:a], " ")
        run_pos.append(a - dropped)
        dropped += b - a - 1
        shift.append(dropped)
        last = b
    parts.append(s[last:])
    return "".join(parts).translate(QUOTES), run_pos, shift


def norm_text(s: str) -> str:
    """normalize(s)'s text alone: the same runs replaced, in one pass in C."""
    return _COLLAPSIBLE.sub(" ", s).translate(QUOTES)


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
    run_pos: list[int] = field(default_factory=list)
    shift: list[int] = field(default_factory=list)

    def __post_init__(self):
        self.norm, self.run_pos, self.shift = normalize(self.raw)
        self._starts = [leaf.start for leaf in self.leaves]

    def to_raw(self, j: int) -> int:
        return j + self.shift[bisect.bisect_left(self.run_pos, j)]

    def raw_span(self, a: int, b: int) -> tuple[int, int]:
        return self.to_raw(a), self.to_raw(b - 1) + 1

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
        hidden = False  # inside raw <script> or <style>, whose text the sanitizer drops
        raw_links = 0  # raw HTML <a> open here: text there is in a link like [text](url)
        for tok in tokens:
            kind = tok["type"]
            if kind == "inline_html" and (tag := HIDDEN_HTML.match(tok["raw"])):
                hidden = not tag.group(1)
            if kind == "inline_html" and (tag := RAW_LINK.match(tok["raw"].strip())):
                raw_links = max(0, raw_links - 1) if tag.group(1) else raw_links + 1
            raw_link = raw_links > 0
            if hidden and kind != "inline_html":
                continue
            in_link, linkable = outer_link or raw_link, outer_linkable and not raw_link
            if kind in ("text", "softbreak", "linebreak"):
                text = html.unescape(tok["raw"]) if kind == "text" else "\n"
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
    """The text in lower case, character for character (offsets stay those of `text`)."""
    lower = text.lower()
    return lower if len(lower) == len(text) else "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


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
