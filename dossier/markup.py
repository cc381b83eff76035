"""Article bodies to HTML, with mention links and claim marks woven in.

Each text leaf of the token tree is cut at every span boundary; each piece
is wrapped in the marks and links that cover it, opened and closed so that
the HTML stays well nested (a claim crossing <em> becomes two <mark>
pieces). A footnote reference follows the last piece of its claim, outside
every mark and outside the article's own links.
"""

from __future__ import annotations

import bisect
import functools
import re
from html import escape, unescape
from typing import Callable, Iterator

import mistune
import nh3
from mistune.core import BlockState

from .anchor import PLUGINS, Leaf, ReaderText
from .model import Span

ALLOWED_TAGS = nh3.ALLOWED_TAGS | {"mark", "sup", "sub", "section", "figure", "figcaption", "span", "del", "s"}
ALLOWED_ATTRS = {
    "*": {"id", "class", "title", "lang", "dir"},
    "a": {"href", "hreflang", "role", "aria-label"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "ol": {"start"},
}


class _Renderer(mistune.HTMLRenderer):
    def __init__(self, heading_shift: int = 0, **options):
        super().__init__(**options)
        self.heading_shift = heading_shift

    def dossier_html(self, text: str) -> str:
        return text

    def heading(self, text: str, level: int, **attrs) -> str:
        return super().heading(text, min(level + self.heading_shift, 6), **attrs)

    # A URL mistune finds harmful (javascript:, vbscript:, data: other than
    # images...) is dropped, not turned into a link to "#harmful-link" that
    # goes nowhere; resolve warns about it.
    def link(self, text: str, url: str, title=None) -> str:
        if is_harmful(url):
            return f'<span class="removed-link">{text}</span>'
        return super().link(text, url, title)  # a link to a remote image in it: see _unnested

    # mistune takes a code block's language from its info string with entities decoded, and fails
    # (IndexError) when that leaves only white space, as "```&nbsp;" does.
    def block_code(self, code: str, info=None) -> str:
        if info is not None and not mistune.util.safe_entity(info.strip()).split():
            info = None
        return super().block_code(code, info)

    def image(self, text: str, url: str, title=None) -> str:
        if is_harmful(url):
            return f'<span class="removed-link">{escape(mistune.util.striptags(text))}</span>'
        if is_remote(url):  # `text` is escaped already: remote_image escapes what it is given
            return remote_image(self.safe_url(url), unescape(mistune.util.striptags(text)))
        return super().image(text, url, title)


_HARMFUL_PROBE = mistune.HTMLRenderer()


def is_harmful(url: str) -> bool:
    """True for a URL mistune would not link (its own protocol policy)."""
    return _HARMFUL_PROBE.sanitize_url(url) != url


def is_remote(url: str) -> bool:
    """True for an address on another site. A page loads nothing from one (its Content-Security-
    Policy): for its readers' privacy (a captured article's images and tracking pixels would tell
    their sites who reads the dossier), and so that the site works offline."""
    return url.strip().lower().startswith(("http://", "https://", "//"))


def remote_image(href: str, alt: str, in_link: bool = False) -> str:
    """What stands for an image on another site: a link to it, named by its description; in a
    link, the words alone (links do not nest). `href` is escaped already, `alt` not."""
    label = f"image: {alt.strip()}" if alt.strip() else "image"
    return _stand_in(f"[{escape(label, quote=False)}]", None if in_link else href)


def _stand_in(words: str, href: str | None) -> str:
    if href is None:
        return f'<span class="remote-image">{words}</span>'
    return f'<a class="remote-image" href="{href}">{words}</a>'


# The stand-in for a remote image, or a link's start or end tag, in HTML not yet sanitized.
_LINK_OR_STAND_IN = re.compile(r'(?P<stand_in><a class="remote-image" href="[^"]*">(?P<words>[^<]*)</a>)'
                               r'|(?P<open><a\b[^>]*>)|</a>', re.I)


def _unnested(html: str) -> str:
    """HTML in which a remote image's stand-in inside a link (a Markdown one or the article's
    own <a>) is its words alone: links do not nest, and the sanitizer would end the outer one
    where the inner one starts."""
    if 'class="remote-image"' not in html:
        return html
    depth = 0

    def replace(tag: re.Match) -> str:
        nonlocal depth
        if tag.group("stand_in"):
            return _stand_in(tag.group("words"), None) if depth > 0 else tag.group()
        depth = depth + 1 if tag.group("open") else max(0, depth - 1)
        return tag.group()

    return _LINK_OR_STAND_IN.sub(replace, html)


# A raw <img> as the sanitizer writes it (attributes in double quotes, values escaped).
_IMG_TAG = re.compile(r"<img\b[^>]*>")
_IMG_ATTR = re.compile(r'\s(src|alt)="([^"]*)"')
_LINK_TAGS = re.compile(r"<a\b|</a>")


def without_remote_images(html: str) -> str:
    """Sanitized HTML with each raw <img> from another site replaced as a Markdown one is (in a
    link, by the words alone: links do not nest)."""
    if "<img" not in html:
        return html
    out, done, depth = [], 0, 0
    for tag in _IMG_TAG.finditer(html):
        attrs = dict(_IMG_ATTR.findall(tag.group()))
        if not is_remote(unescape(attrs.get("src", ""))):
            continue
        depth += sum(1 if t == "<a" else -1 for t in _LINK_TAGS.findall(html, done, tag.start()))
        out += [html[done:tag.start()], remote_image(attrs["src"], unescape(attrs.get("alt", "")), in_link=depth > 0)]
        done = tag.end()
    return "".join(out) + html[done:] if out else html


def dropped_urls(tokens: list[dict]) -> Iterator[tuple[str, bool]]:
    """The URLs of a token tree that rendering does not keep as they are, each with True if it is
    an image on another site (a link stands in its place), False if harmful (dropped)."""
    for tok in tokens:
        kind = tok["type"]
        url = (tok.get("attrs") or {}).get("url")
        if kind in ("link", "image") and url is not None and is_harmful(url):
            yield url, False
        elif kind == "image" and url is not None and is_remote(url):
            yield url, True
        elif kind in ("inline_html", "block_html") and "<img" in tok["raw"].lower():
            yield from ((src, True) for src in _raw_image_sources(tok["raw"]) if is_remote(src))
        if "children" in tok:
            yield from dropped_urls(tok["children"])


_RAW_IMG_SRC = re.compile(r"""<img\b[^>]*?\ssrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)


def _raw_image_sources(raw: str) -> list[str]:
    return [unescape(next(v for v in m.groups() if v is not None)) for m in _RAW_IMG_SRC.finditer(raw)]


# Cheap tests first: most texts have no URL scheme other than http(s) at all, and no image.
_SCHEME_HINT = re.compile(r"(?<![a-z])(?!https?:|mailto:)[a-z][a-z0-9+.-]*:", re.I)
_IMAGE_HINT = re.compile(r"!\[|<img", re.I)


def dropped_urls_in(text: str) -> list[tuple[str, bool]]:
    """dropped_urls() of a Markdown text (a note, a description, a page)."""
    if ":" not in text and "//" not in text:
        return []
    if not _SCHEME_HINT.search(text) and not _IMAGE_HINT.search(text):
        return []
    tokens, _ = _tree_parser.parse(text)
    return list(dropped_urls(tokens))


def _table_cell(renderer, text: str, align=None, head: bool = False) -> str:
    # A class, not mistune's style="text-align:…": the CSP (style-src 'self') forbids inline styles.
    tag = "th" if head else "td"
    cls = f' class="align-{align}"' if align in ("left", "center", "right") else ""
    return f"  <{tag}{cls}>{text}</{tag}>\n"


# An article's own footnotes ([^a]) are note-N, "source notes", in a list of their own: fn-ID
# and fnref-ID are its claims' footnotes (a claim's id may be a number), numbered alike, and a
# reader, or a screen reader, must tell the source's "1" from the dossier's.
def _footnotes(renderer, text: str) -> str:
    return f'<section class="source-notes">\n<ol>\n{text}</ol>\n</section>\n'


def _footnote_ref(renderer, key: str, index: int) -> str:
    return (f'<sup class="footnote-ref" id="noteref-{index}"><a href="#note-{index}" role="doc-noteref" '
            f'aria-label="Source note {index}">{index}</a></sup>')


def _footnote_item(renderer, text: str, key: str, index: int) -> str:
    back = (f'<a href="#noteref-{index}" class="footnote" role="doc-backlink" '
            f'aria-label="Back to source note {index} in the text">&#8617;</a>')
    text = text.rstrip()
    text = text[:-4] + back + "</p>" if text.endswith("</p>") else text + "\n" + back
    return f'<li id="note-{index}">{text}</li>\n'


def _made_renderer(heading_shift: int = 0) -> _Renderer:
    renderer = _Renderer(heading_shift=heading_shift, escape=False)
    mistune.create_markdown(renderer=renderer, plugins=list(PLUGINS))  # registers plugin renderers
    renderer.register("footnotes", _footnotes)
    renderer.register("footnote_ref", _footnote_ref)
    renderer.register("footnote_item", _footnote_item)
    renderer.register("table_cell", _table_cell)
    return renderer


_renderer = _made_renderer()
# An article's own headings sit under its page's title, the page's one <h1>: an article whose
# sections begin with "# Section" has them as <h2>, and the rest one level down (one whose
# sections begin with "##", as most captures do, keeps them as written: no level is skipped).
_shifted_renderer = _made_renderer(heading_shift=1)


def _body_renderer(tokens: list[dict]) -> _Renderer:
    titled = any(tok["type"] == "heading" and tok["attrs"]["level"] == 1 for tok in tokens)
    return _shifted_renderer if titled else _renderer


_SANITIZER_OPTIONS = dict(tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRS, link_rel=None,
                          generic_attribute_prefixes={"data-"}, url_schemes={"http", "https", "mailto"})


def _data_images_only(element: str, attribute: str, value: str) -> str | None:
    """A data: address is kept as a picture's (which the pages' policy lets show), never as a link's.
    Read as a browser reads it: spaces and controls before it, and tabs and line ends in it, ignored."""
    address = _URL_IGNORED.sub("", value.lstrip("".join(map(chr, range(33))))).lower()
    if address.startswith("data:") and attribute in ("href", "src"):
        return value if element == "img" and attribute == "src" and address.startswith("data:image/") else None
    return value


_URL_IGNORED = re.compile(r"[\t\n\r]")


# With data: pictures: asked of each attribute in Python, so only for a fragment that has "data:".
_WITH_DATA_IMAGES = dict(_SANITIZER_OPTIONS, url_schemes={"http", "https", "mailto", "data"},
                         attribute_filter=_data_images_only)
# Built once: nh3.clean() builds its sanitizer from the options on every call, which
# costs more than cleaning a claim's note. (Older nh3 has no Cleaner.)
_cleaners = ({False: nh3.Cleaner(**_SANITIZER_OPTIONS), True: nh3.Cleaner(**_WITH_DATA_IMAGES)}
             if hasattr(nh3, "Cleaner") else None)


def sanitize(fragment: str) -> str:
    fragment = _unnested(fragment)
    data = "data:" in fragment.lower()
    if _cleaners is None:
        cleaned = nh3.clean(fragment, **(_WITH_DATA_IMAGES if data else _SANITIZER_OPTIONS))
    else:
        cleaned = _cleaners[data].clean(fragment)
    return without_remote_images(cleaned)


_tree_parser = mistune.create_markdown(renderer=None, plugins=list(PLUGINS))


@functools.lru_cache(maxsize=4096)  # a note shows on its article, in its JSON-LD and on index pages
def markdown(text: str) -> str:
    """Plain Markdown (notes, descriptions, pages) to sanitized HTML."""
    tokens, _ = _tree_parser.parse(text)
    return sanitize(_renderer(tokens, BlockState()))


def render_body(tokens: list[dict], rt: ReaderText, spans: list[Span],
                entity_href: Callable[[str], str], footnote: Callable[[str], int]) -> str:
    html, raw_html = woven_html(tokens, rt, spans, entity_href, footnote)
    return html if not raw_html and stays_as_it_is(html) else sanitize(html)


def woven_html(tokens: list[dict], rt: ReaderText, spans: list[Span], entity_href: Callable[[str], str],
               footnote: Callable[[str], int]) -> tuple[str, list[dict]]:
    """The article's HTML before it is sanitized, and the tokens of its own raw HTML."""
    per_leaf = _spans_per_leaf(rt, spans)
    weave = _Weaver(entity_href, footnote)
    leaf_html = {}
    raw = rt.raw
    for leaf in rt.leaves:
        here = per_leaf.get(id(leaf))
        if here is None and not leaf.breaks and leaf.token["type"] == "text":  # most: plain text, as it is
            leaf_html[id(leaf.token)] = (escape(raw[leaf.start:leaf.end], quote=False), [])
        else:
            leaf_html[id(leaf.token)] = weave.leaf(leaf, raw, here or [])
        if leaf.more:
            leaf_html.update((id(tok), ("", [])) for tok in leaf.more)  # woven into the first
    raw_html: list[dict] = []
    body, _ = _replace(tokens, leaf_html, in_link=False, raw_html=raw_html)
    return _body_renderer(body)(body, BlockState()), raw_html


# HTML that the sanitizer gives back as it is: only tags and attributes it keeps, values in
# double quotes, text and values with nothing its serializer writes another way (entities
# other than these three, a no-break space, '>' in text, control characters), links that
# are relative or http(s)/mailto. The HTML an article's Markdown makes without any raw HTML
# of its own is well nested (made from a tree): checked here are what the rules above cannot
# see, a link inside a link and a line end the parser drops after <pre>.
_STABLE_TAGS = ("p", "em", "strong", "del", "s", "mark", "sup", "sub", "span", "code", "pre", "blockquote",
                "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td")
assert set(_STABLE_TAGS) | {"a"} <= ALLOWED_TAGS
_VALUE = r'"[^"<>&\x00-\x1f\x7f\xa0]*"'
_ANY_ATTR = rf"(?:id|class|title|data-[a-z0-9-]*[a-z0-9])={_VALUE}"
_A_ATTR = rf'(?:{_ANY_ATTR}|role={_VALUE}|aria-label={_VALUE}|href="(?:https?://|mailto:)?[^"<>&:\s\x00-\x1f\x7f\xa0]*")'
_STABLE_HTML = re.compile(rf"""(?:[^<>&\x00-\x08\x0b-\x1f\x7f\xa0]++|&(?:amp|lt|gt);"""
                          rf"""|<(?:{"|".join(_STABLE_TAGS)})(?: {_ANY_ATTR})*>|<a(?: {_A_ATTR})*>"""
                          rf"""|</(?:a|{"|".join(_STABLE_TAGS)})>)*+""")
_LINK_TAG = re.compile(r"<(/?)a[ >]")


def stays_as_it_is(html: str) -> bool:
    """True if sanitize(html) is html, for the HTML of Markdown without raw HTML (see above)."""
    if "<pre>\n" in html or not _STABLE_HTML.fullmatch(html):
        return False
    depth = 0
    for tag in _LINK_TAG.finditer(html):
        depth += -1 if tag.group(1) else 1
        if not 0 <= depth <= 1:
            return False
    return depth == 0


def _spans_per_leaf(rt: ReaderText, spans: list[Span]) -> dict[int, list[Span]]:
    starts = [leaf.start for leaf in rt.leaves]
    out: dict[int, list[Span]] = {}
    for span in spans:
        k = max(0, bisect.bisect_right(starts, span.start) - 1)
        while k < len(rt.leaves) and rt.leaves[k].start < span.end:
            leaf = rt.leaves[k]
            if leaf.end > span.start or (leaf.end == span.end and leaf.end > leaf.start):
                out.setdefault(id(leaf), []).append(span)
            k += 1
    return out


def _order(span: Span) -> tuple:
    # Claims outside mentions; earlier and longer spans outside later ones.
    return (span.kind != "claim", span.start, -span.end, span.key)


class _Weaver:
    def __init__(self, entity_href, footnote):
        self.entity_href = entity_href
        self.footnote = footnote
        self.opened: set[str] = set()  # anchors whose first piece is out

    def leaf(self, leaf: Leaf, raw: str, spans: list[Span]) -> tuple[str, list[str]]:
        """The leaf's HTML, and footnote refs to place after its link."""
        if not spans:  # most leaves: nothing marked or linked in them
            return self._wrap(leaf, _text(raw, leaf.start, leaf.end, leaf.breaks)), []
        spans = sorted(spans, key=_order)
        cuts = {leaf.start, leaf.end}
        for s in spans:
            cuts.update(p for p in (s.start, s.end) if leaf.start < p < leaf.end)
        points = sorted(cuts)
        out: list[str] = []
        deferred: list[str] = []
        stack: list[tuple[Span, str]] = []  # open spans and their closing tags
        for a, b in zip(points, points[1:]):
            want = [s for s in spans if s.start <= a and s.end >= b]
            keep = 0
            while keep < min(len(stack), len(want)) and stack[keep][0] is want[keep]:
                keep += 1
            _close(out, stack, keep)
            for s in want[keep:]:
                linked = leaf.in_link or any(close == "</a>" for _, close in stack)
                tag, close = self._open(s, linked)
                out.append(tag)
                stack.append((s, close))
            out.append(_text(raw, a, b, leaf.breaks))
            refs = [self._ref(s) for s in spans if s.kind == "claim" and s.end == b]
            if refs:
                _close(out, stack, 0)
                (deferred if leaf.in_link else out).extend(refs)
        _close(out, stack, 0)
        return self._wrap(leaf, "".join(out)), deferred

    def _open(self, s: Span, inside_link: bool) -> tuple[str, str]:
        ident = f' id="{escape(s.anchor)}"' if s.anchor not in self.opened else ""
        self.opened.add(s.anchor)
        key = escape(s.key)
        if s.kind == "claim":
            return f'<mark class="claim status-{escape(s.status)}" data-claim="{key}"{ident}>', "</mark>"
        if inside_link:  # links do not nest: keep the anchor, drop the link
            return f'<span class="mention" data-entity="{key}"{ident}>', "</span>"
        href = escape(self.entity_href(s.key))
        return f'<a class="mention" href="{href}" data-entity="{key}"{ident}>', "</a>"

    def _ref(self, s: Span) -> str:
        n = self.footnote(s.key)
        key = escape(s.key)
        return (f'<sup class="fnref"><a href="#fn-{key}" id="fnref-{key}" role="doc-noteref" '
                f'aria-label="Claim {n}">{n}</a></sup>')  # as the list it leads to and its back link say

    @staticmethod
    def _wrap(leaf: Leaf, inner: str) -> str:
        kind = leaf.token["type"]
        if kind == "codespan":
            return f"<code>{inner}</code>"
        if kind == "block_code":
            info = (leaf.token.get("attrs") or {}).get("info", "")
            lang = f' class="language-{escape(info.split()[0])}"' if info.strip() else ""
            return f"<pre><code{lang}>{inner}</code></pre>\n"
        return inner


def _text(raw: str, a: int, b: int, breaks: list[int]) -> str:
    """Escaped text of raw[a:b]; hard line breaks there become <br />."""
    pieces, last = [], a
    for i in breaks:
        if a <= i < b:
            pieces += (escape(raw[last:i], quote=False), "<br />")
            last = i
    pieces.append(escape(raw[last:b], quote=False))
    return "".join(pieces)


def _close(out: list[str], stack: list[tuple[Span, str]], keep: int) -> None:
    while len(stack) > keep:
        out.append(stack.pop()[1])


def _replace(tokens: list[dict], leaf_html: dict, in_link: bool,
             raw_html: list[dict]) -> tuple[list[dict], list[str]]:
    """A copy of the tree with leaves swapped for their woven HTML; the tokens of the
    article's own raw HTML are added to `raw_html`.

    Raw inline HTML is balanced within each list of siblings (stray end tags
    dropped, open tags closed at its end), so the sanitizer's HTML parser
    never reopens a user's <b> or <a> around later text and our marks.
    """
    out: list[dict] = []
    pending: list[str] = []  # footnote refs waiting for the end of the link they sit in
    raw = _RawTags(out)
    for tok in tokens:
        if tok["type"] == "inline_html":
            raw_html.append(tok)
            closed_link = raw.add(tok)
            if closed_link and not in_link and pending:  # after a raw </a>
                out.append(_html("".join(pending)))
                pending = []
        elif tok["type"] == "block_html":  # cleaned alone, so no tag it leaves open wraps later blocks
            raw_html.append(tok)
            out.append(_html(sanitize(tok["raw"])))
        elif id(tok) in leaf_html:
            html, refs = leaf_html[id(tok)]
            out.append(_html(html))
            pending += refs
        elif "children" in tok and tok["type"] != "image":
            is_link = tok["type"] == "link"
            kids, refs = _replace(tok["children"], leaf_html, in_link or is_link or raw.in_link, raw_html)
            out.append(dict(tok, children=kids))
            if is_link and not in_link:
                out.append(_html("".join(refs)))
            else:
                pending += refs
        else:
            out.append(tok)
    if raw.close_all() and not in_link and pending:
        out.append(_html("".join(pending)))
        pending = []
    return out, pending


def _html(raw: str) -> dict:
    return {"type": "dossier_html", "raw": raw}


RAW_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)(?:\s[^>]*?)?(/?)>\Z", re.S)
VOID_TAGS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
                       "track", "wbr"})


class _RawTags:
    """The user's raw inline tags open in one list of siblings."""

    def __init__(self, out: list[dict]):
        self.out = out
        self.open: list[str] = []

    @property
    def in_link(self) -> bool:
        return "a" in self.open

    def add(self, tok: dict) -> bool:
        """Emit a raw inline tag, balanced; True if it closed the last open <a>."""
        m = RAW_TAG.match(tok["raw"].strip())
        if not m:  # a comment, a declaration: no element
            self.out.append(tok)
            return False
        closing, name, self_closing = m.group(1), m.group(2).lower(), m.group(3)
        if not closing:
            if not self_closing and name not in VOID_TAGS:
                self.open.append(name)
            self.out.append(tok)
            return False
        if name not in self.open:
            return False  # a stray end tag: dropped
        was_link = self.in_link
        while self.open[-1] != name:
            self.out.append(_html(f"</{self.open.pop()}>"))
        self.open.pop()
        self.out.append(tok)
        return was_link and not self.in_link

    def close_all(self) -> bool:
        """Close what is still open; True if that closed a link."""
        was_link = self.in_link
        while self.open:
            self.out.append(_html(f"</{self.open.pop()}>"))
        return was_link
