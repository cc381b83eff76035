"""Read YAML as nodes, so every key and value keeps its line and column.

PyYAML's compose() gives each node a start mark. On top of it, MapReader
checks one mapping against the keys a schema allows and returns typed
values, reporting each problem at the offending key or value.
"""

from __future__ import annotations

import bisect
import datetime as dt
import difflib
import re
import unicodedata
from typing import Optional

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .diagnostics import Diagnostics
from .model import Pos, Ref

ID_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\Z")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
STR_TAG = "tag:yaml.org,2002:str"
NULL_TAG = "tag:yaml.org,2002:null"


def node_pos(path: str, node: Node) -> Pos:
    return Pos(path, node.start_mark.line + 1, node.start_mark.column + 1)


def describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == NULL_TAG:
        return "nothing"
    value = node.value if len(node.value) <= 60 else node.value[:60] + "…"
    return f"'{value}'"


def parse(text: str, path: str, diags: Diagnostics, line_offset: int = 0) -> Optional[Node]:
    """Compose one YAML document into nodes; report what YAML cannot read.

    Nodes are built from libyaml's event stream with an explicit stack, so
    no nesting depth can exhaust the Python or C stack, and aliases are
    refused as they arrive ("billion laughs" documents never expand).
    """
    bad = FORBIDDEN_CHARS.search(text)
    if bad:
        line, col = _line_col(text, bad.start())
        diags.error(Pos(path, line + line_offset, col),
                    f"the file contains the control character U+{ord(bad.group()):04X}, which YAML does not allow")
        return None
    lines = _EditorLines(text) if ODD_BREAKS.search(text) else None
    if not line_offset and lines is None:
        node = _fast_compose(text)
        if node is not None:
            return _no_escaped_controls(node, text, path, diags)
    try:
        return _no_escaped_controls(_compose(text, path, diags, line_offset, lines), text, path, diags)
    except _Refused as refused:
        diags.error(refused.pos, refused.message)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = _line_col_of(mark, text, lines) if mark else (1, 1)
        problem = _problem(exc, text, line_offset, lines)
        if lines is not None:
            problem += ("; the file holds a line separator (U+2028, U+2029 or U+0085, often pasted from a web "
                        "page), which YAML reads as a line break: quote the text that holds it, or remove it")
        diags.error(Pos(path, line + line_offset, col), f"YAML syntax: {problem}")
    except yaml.YAMLError as exc:
        diags.error(Pos(path, 1 + line_offset, 1), f"YAML: {str(exc).splitlines()[0]}")
    return None


def _no_escaped_controls(root: Optional[Node], text: str, path: str, diags: Diagnostics) -> Optional[Node]:
    """The nodes, once each value written with an escape ("\\a", "\\0", "\\e") that makes a control
    character is reported: no web page, feed or spreadsheet can hold one (typed as is, the whole
    file is refused above)."""
    if root is None or "\\" not in text:  # every such escape starts with a backslash
        return root
    todo = [root]
    while todo:
        node = todo.pop()
        if isinstance(node, ScalarNode):
            bad = FORBIDDEN_CHARS.search(node.value)
            if bad:
                diags.error(node_pos(path, node), f"the value holds the control character U+{ord(bad.group()):04X} "
                                                  "(written as an escape), which a page cannot show; remove it")
        elif isinstance(node, MappingNode):
            todo += [child for pair in node.value for child in pair]
        else:
            todo += node.value
    return root


def _problem(exc: yaml.MarkedYAMLError, text: str, line_offset: int, lines: Optional[_EditorLines]) -> str:
    """libyaml's message, with the hint a user needs most."""
    problem = exc.problem or exc.context or "invalid YAML"
    mark, context = exc.problem_mark, exc.context_mark
    if mark is not None and text[mark.index:mark.index + 1] == "\t":
        return "a tab cannot indent YAML; use spaces"
    if context is not None and exc.context and mark is not None and context.line != mark.line:
        line, col = _line_col_of(context, text, lines)
        problem += f" ({exc.context} that starts at line {line + line_offset}, column {col})"
    key = next(filter(None, (_prose_key_at(text, m.line) for m in (mark, context) if m is not None)), None)
    if key and lines is None:
        problem += prose_hint(key)
    return problem


def prose_hint(key: str) -> str:
    """What to do when text pasted after `key:` is read as YAML's syntax."""
    return (f"; if this is the text of '{key}', write it as a block: '{key}: |-' and the text on the lines below, "
            f"indented further (after '{key}:' on one line, YAML reads ': ', ' #', and a quotation mark, '-', '[', "
            "'{', '@', '*', '&', '%' or '`' at the start, as its own syntax)")


# Keys whose values are prose, often pasted from a page: quotes, notes, titles, descriptions.
PROSE_KEYS = frozenset({"quote", "prefix", "suffix", "note", "summary", "title", "description", "name", "role"})
_KEY_LINE = re.compile(r"([ \t]*(?:-[ \t]+)*)([A-Za-z_][\w-]*):(?:[ \t]+(.*))?")


def _prose_key_at(text: str, index: int) -> Optional[str]:
    """The prose key whose value, written on its own line or running on to the next ones, holds line
    `index` (0-based) of the text; None if there is none."""
    lines = text.split("\n")
    if index >= len(lines):
        return None
    own = _KEY_LINE.fullmatch(lines[index])
    above = index - 1
    while above >= 0 and not lines[above].strip():
        above -= 1
    owner = _KEY_LINE.fullmatch(lines[above]) if above >= 0 else None
    indent = len(lines[index]) - len(lines[index].lstrip(" \t"))
    if owner and owner.group(3) and indent > owner.end(1):  # a value run on from the line above
        found = owner
    elif own and own.group(3) and not own.group(3).startswith(("|", ">")):
        found = own
    else:
        return None
    return found.group(2) if found.group(2) in PROSE_KEYS else None


def _line_col_of(mark, text: str, lines: Optional[_EditorLines]) -> tuple[int, int]:
    """A mark's line and column (from 1), as an editor counts them; never past the text's last line."""
    body = text.rstrip()
    if mark.index > len(body):  # the end of the file (an unclosed bracket): just after its last character
        return _EditorLines(body).line_col(len(body))
    return lines.line_col(mark.index) if lines is not None else (mark.line + 1, mark.column + 1)


# YAML counts these as line breaks, editors do not: text pasted from web pages holds them.
ODD_BREAKS = re.compile("[\x85\u2028\u2029]")
_EDITOR_BREAK = re.compile("\r\n|\r|\n")


class _EditorLines:
    """Line and column of a character, counting only the line breaks an editor shows."""

    def __init__(self, text: str):
        self.starts = [0] + [m.end() for m in _EDITOR_BREAK.finditer(text)]

    def line_col(self, index: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, index)
        return line, index - self.starts[line - 1] + 1


# YAML's printable set excludes these (tab, line ends and U+0085 are allowed).
FORBIDDEN_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff]")
CORE_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in
                      ("str", "int", "float", "bool", "null", "timestamp", "map", "seq"))
MAX_DEPTH = 64
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Refused(Exception):
    def __init__(self, pos: Pos, message: str):
        self.pos, self.message = pos, message


def _line_col(text: str, index: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


FAST_INDICATORS = 2000  # fewer collection indicators than this: nesting is too shallow to strain libyaml's C stack


def _fast_compose(text: str) -> Optional[Node]:
    """libyaml's own composer (C, several times faster) for an ordinary file; None otherwise.

    Ordinary: one document, no aliases, core tags only, at most MAX_DEPTH
    deep. Anything else (or any error) goes down the careful path below,
    which reports it; a pre-count of the characters that open collections
    keeps pathological nesting away from the recursive C composer.
    """
    if sum(text.count(c) for c in "[{-:?") >= FAST_INDICATORS:
        return None
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return None
    if root is None:
        return None
    seen: set[int] = set()
    todo = [(root, 0)]
    while todo:
        node, depth = todo.pop()
        if id(node) in seen or node.tag not in CORE_TAGS:
            return None  # an alias (a node met twice) or a foreign tag
        seen.add(id(node))
        if isinstance(node, MappingNode):
            if depth >= MAX_DEPTH:
                return None
            todo += [(child, depth + 1) for pair in node.value for child in pair]
        elif isinstance(node, SequenceNode):
            if depth >= MAX_DEPTH:
                return None
            todo += [(child, depth + 1) for child in node.value]
    return root


def _compose(text: str, path: str, diags: Diagnostics, line_offset: int,
             lines: Optional[_EditorLines] = None) -> Optional[Node]:
    loader = _Loader(text)
    try:
        root: Optional[Node] = None
        stack: list[Node] = []
        documents = 0
        while (event := loader.get_event()) is not None:
            mark = event.start_mark
            line, col = lines.line_col(mark.index) if lines is not None else (mark.line + 1, mark.column + 1)
            pos = Pos(path, line + line_offset, col)
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise _Refused(pos, "a second YAML document ('---'): one file holds one document")
                continue
            node = _node(loader, event, pos, line_offset)
            if node is None:
                if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                    node = _finish(stack.pop())
                else:
                    continue
            elif isinstance(node, (SequenceNode, MappingNode)):
                if len(stack) >= MAX_DEPTH:  # deeper is no dossier, and costs libyaml quadratic time
                    raise _Refused(pos, f"the YAML nests more than {MAX_DEPTH} levels deep")
                stack.append(node)
                continue
            if stack:
                stack[-1].value.append(node)
            else:
                root = node
    finally:
        loader.dispose()
    if root is None:
        diags.error(Pos(path, 1 + line_offset, 1), "the file is empty")
    return root


def _node(loader, event, pos: Pos, line_offset: int) -> Optional[Node]:
    """The node an event opens or is; None for events that open nothing."""
    if isinstance(event, yaml.AliasEvent):
        raise _Refused(pos, "YAML aliases (*name) are not supported here; write the value out")
    kinds = {yaml.ScalarEvent: ScalarNode, yaml.SequenceStartEvent: SequenceNode,
             yaml.MappingStartEvent: MappingNode}
    kind = kinds.get(type(event))
    if kind is None:
        return None
    tag = event.tag
    if tag in (None, "!"):
        tag = loader.resolve(kind, event.value if kind is ScalarNode else None, event.implicit)
    elif tag not in CORE_TAGS:
        shown = event.tag.replace("tag:yaml.org,2002:", "!!")
        raise _Refused(pos, f"the YAML tag '{shown}' is not supported here; remove it")
    start = yaml.Mark(pos.path, event.start_mark.index, pos.line - 1, pos.col - 1, None, None)
    if kind is ScalarNode:
        return ScalarNode(tag, event.value, start, start, style=event.style)
    return kind(tag, [], start, start, flow_style=event.flow_style)


def _finish(node: Node) -> Node:
    if isinstance(node, MappingNode):  # collected flat: key, value, key, value...
        flat = node.value
        node.value = list(zip(flat[::2], flat[1::2]))
    return node


def id_problem(value: str) -> str:
    if "/" in value or "\\" in value or value.startswith("."):
        return f"'{value}' is not a valid id: an id names something in the dossier, never a path"
    return f"'{value}' is not a valid id (lowercase letters a-z, digits and single hyphens: '{id_like(value)}'?)"


# Cyrillic letters in Latin ones (as Ukrainian's and Russian's usual transliterations), for ids.
_LATIN = str.maketrans({**dict(zip("абвгґдезийклмнопрстуфыэ", "abvhgdezyiklmnoprstufye")),
                        "є": "ye", "ж": "zh", "і": "i", "ї": "yi", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
                        "щ": "shch", "ю": "yu", "я": "ya", "ё": "yo", "ь": "", "ъ": "", "ʼ": "", "'": ""})


def id_like(text: str) -> str:
    """An id made from a name or a file name, to suggest: café -> cafe, Сирський -> syrskyi."""
    latin = unicodedata.normalize("NFKD", text.lower().translate(_LATIN)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", latin).strip("-") or "some-name"


def did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class MapReader:
    """One YAML mapping checked against the keys a schema allows."""

    def __init__(self, node: Node, path: str, diags: Diagnostics, keys, what: str):
        self.path = path
        self.diags = diags
        self.pos = node_pos(path, node)
        self.values: dict[str, Node] = {}
        self.key_pos: dict[str, Pos] = {}
        self.misspelt: set[str] = set()  # did-you-mean hints given for unknown keys
        self.ok = isinstance(node, MappingNode)
        if not self.ok:
            diags.error(self.pos, f"{what} must be a mapping of keys to values, found {describe(node)}")
            return
        for key_node, value in node.value:
            self._add_key(key_node, value, keys, what)

    def _add_key(self, key_node: Node, value: Node, keys, what: str) -> None:
        pos = node_pos(self.path, key_node)
        if not isinstance(key_node, ScalarNode):
            self.diags.error(pos, f"a key in {what} must be a plain name")
            return
        key = key_node.value
        if key in self.values:
            self.diags.error(pos, f"duplicate key '{key}' (first at line {self.key_pos[key].line})")
        elif keys is not None and key not in keys:
            hint = did_you_mean(key, keys)
            self.diags.error(pos, f"unknown key '{key}' in {what}{hint}")
            self.misspelt.add(hint)
        else:
            self.values[key] = value
            self.key_pos[key] = pos

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def node(self, key: str) -> Optional[Node]:
        return self.values.get(key)

    def value_pos(self, key: str) -> Pos:
        node = self.values.get(key)
        return node_pos(self.path, node) if node is not None else self.pos

    def missing(self, key: str, what: str) -> None:
        if did_you_mean(key, [key]) in self.misspelt:
            return  # already told: "unknown key 'titel' (did you mean 'title'?)"
        self.diags.error(self.pos, f"{what} lacks the required key '{key}'")

    def _scalar(self, key: str, required: bool, what: str) -> Optional[ScalarNode]:
        node = self.values.get(key)
        if node is None:
            if required:
                self.missing(key, what)
            return None
        if not isinstance(node, ScalarNode) or node.tag == NULL_TAG:
            # Nothing, for a prose key, is often text that began with '#': YAML took it for a comment.
            comment = node.tag == NULL_TAG and key in PROSE_KEYS
            self.diags.error(node_pos(self.path, node), f"'{key}' must be text, found {describe(node)}" + (
                f"; text that begins with '#' is a comment to YAML: write it as a block, '{key}: |-' and the text "
                "on the lines below, indented further" if comment else ""))
            return None
        return node

    def text(self, key: str, required: bool = False, what: str = "this mapping") -> str:
        """Any scalar as the text the user typed (`no` stays "no")."""
        node = self._scalar(key, required, what)
        if node is None:
            return ""
        value = node.value.strip() if node.tag != STR_TAG else node.value
        if required and not value.strip():
            self.diags.error(node_pos(self.path, node), f"'{key}' must not be empty")
        return value

    def ident(self, key: str, required: bool = False, what: str = "this mapping") -> Optional[Ref]:
        node = self._scalar(key, required, what)
        return self._ref(node) if node is not None else None

    def _ref(self, node: Node) -> Optional[Ref]:
        pos = node_pos(self.path, node)
        if not isinstance(node, ScalarNode) or node.tag == NULL_TAG:
            self.diags.error(pos, f"expected an id, found {describe(node)}")
            return None
        if not ID_RE.match(node.value):
            self.diags.error(pos, id_problem(node.value))
            return None
        return Ref(node.value, pos)

    def ident_list(self, key: str) -> tuple[Ref, ...]:
        refs = (self._ref(item) for item in self._items(key))
        return tuple(r for r in refs if r is not None)

    def text_list(self, key: str) -> tuple[str, ...]:
        return tuple(text for text, _ in self.text_list_at(key))

    def text_list_at(self, key: str) -> tuple[tuple[str, Pos], ...]:
        """text_list(), each item with where it is written."""
        out = []
        for item in self._items(key):
            if isinstance(item, ScalarNode) and item.tag != NULL_TAG and item.value.strip():
                out.append((item.value.strip(), node_pos(self.path, item)))
            else:
                self.diags.error(node_pos(self.path, item), f"each item of '{key}' must be text, found {describe(item)}")
        return tuple(out)

    def _items(self, key: str) -> list[Node]:
        node = self.values.get(key)
        if node is None or (isinstance(node, ScalarNode) and node.tag == NULL_TAG):
            return []
        if isinstance(node, ScalarNode):
            return [node]  # a single value stands for a list of one
        if isinstance(node, SequenceNode):
            return list(node.value)
        self.diags.error(node_pos(self.path, node), f"'{key}' must be a list, found {describe(node)}")
        return []

    def date(self, key: str) -> Optional[dt.date]:
        node = self._scalar(key, False, "")
        if node is None:
            return None
        raw = node.value.strip()
        try:
            if DATE_RE.match(raw):
                return dt.date.fromisoformat(raw)
        except ValueError:
            pass
        self.diags.error(node_pos(self.path, node), f"'{key}' must be a date written YYYY-MM-DD, found '{raw}'")
        return None

    def url(self, key: str) -> str:
        value = self.text(key)
        if value and not re.match(r"https?://[^\s/$.?#][^\s]*\Z", value, re.I):
            self.diags.error(self.value_pos(key), f"'{key}' must be an http(s) URL, found '{value}'")
            return ""
        return value

    def boolean(self, key: str, default: Optional[bool]) -> Optional[bool]:
        node = self.values.get(key)
        if node is None:
            return default
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:bool":
            return node.value.lower() in ("true", "yes", "on", "y")
        self.diags.error(node_pos(self.path, node), f"'{key}' must be true or false, found {describe(node)}")
        return default

    def mapping(self, key: str, keys, what: str) -> Optional[MapReader]:
        node = self.values.get(key)
        if node is None:
            return None
        reader = MapReader(node, self.path, self.diags, keys, what)
        return reader if reader.ok else None

    def mappings(self, key: str, keys, what: str) -> list[MapReader]:
        readers = [MapReader(item, self.path, self.diags, keys, what) for item in self._items(key)]
        return [r for r in readers if r.ok]

    def pairs(self, key: str) -> tuple[tuple[str, str, Pos], ...]:
        """A mapping of free names to text values, e.g. external links."""
        reader = self.mapping(key, None, f"'{key}'")
        if reader is None:
            return ()
        out = []
        for name in reader.values:
            value = reader.text(name)
            if value:
                out.append((name, value, reader.value_pos(name)))
        return tuple(out)
