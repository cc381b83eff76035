"""Errors and warnings about the user's files, collected for one report."""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional
from urllib.parse import unquote

from .model import Pos


@dataclass(frozen=True, order=True)
class Diagnostic:
    path: str
    line: int
    col: int
    level: str  # "error" or "warning"
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.level}: {self.message}"


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> str:
    """A report holds one problem per line: line ends and other controls are shown escaped."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def link_pos(path: str, text: str, url: str) -> Optional[Pos]:
    """Where a link to `url` is written in a file's text; None if it cannot be found.

    Written as a link first (an attribute's value, a Markdown link's
    target), as the URL is or with its %-escapes undone, then anywhere.
    """
    forms = dict.fromkeys((url, unquote(url)))
    for form in forms:
        u = re.escape(form)
        m = re.search(rf"""(?:href|src|srcset|poster)\s*=\s*["']?({u})|\]\(\s*<?({u})""", text, re.I)
        if m:
            return _pos_at(path, text, m.start(1) if m.group(1) is not None else m.start(2))
    for form in forms:
        at = text.find(form)
        if at >= 0:
            return _pos_at(path, text, at)
    return None


def _pos_at(path: str, text: str, at: int) -> Pos:
    return Pos(path, text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at))


@dataclass
class Diagnostics:
    """Collects every problem of a run so that all are reported at once."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, pos: Pos, message: str) -> None:
        self.items.append(Diagnostic(one_line(pos.path), pos.line, pos.col, "error", one_line(message)))

    def warning(self, pos: Pos, message: str) -> None:
        self.items.append(Diagnostic(one_line(pos.path), pos.line, pos.col, "warning", one_line(message)))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.level == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.level == "warning"]

    def sorted(self) -> list[Diagnostic]:
        return sorted(set(self.items))


def template_error_pos(exc: BaseException, site: Path) -> Optional[Pos]:
    """Where in the site's own templates a rendering error arose; None if not there.

    Jinja2 maps compiled template code back to template file and line in
    tracebacks (and syntax errors carry them), so the innermost frame in
    SITE/templates is the line to blame.
    """
    templates = site.resolve() / "templates"
    places = [(getattr(exc, "filename", None), getattr(exc, "lineno", None))]
    places += [(f.filename, f.lineno) for f in reversed(traceback.extract_tb(exc.__traceback__))]
    for filename, line in places:
        if filename and Path(filename).resolve().is_relative_to(templates):
            return Pos(Path(filename).resolve().relative_to(site.resolve()).as_posix(), line or 1)
    if type(exc).__module__ == "jinja2.exceptions" and templates.is_dir() and any(templates.iterdir()):
        return Pos("templates")  # a default template broke on something an override changed
    return None


def template_error_message(exc: BaseException) -> str:
    detail = str(exc) or type(exc).__name__
    if type(exc).__name__ == "TemplateNotFound":
        detail = f"template not found: {detail}"
    elif type(exc).__module__ != "jinja2.exceptions":
        detail = f"{type(exc).__name__}: {detail}"
    return f"template error: {detail}"
