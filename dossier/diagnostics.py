"""Errors and warnings about the user's files, collected for one report."""

from __future__ import annotations

import os
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


BUILTIN_TEMPLATES = Path(__file__).parent / "templates"
BUILTIN = "dossier"  # "dossier/article.html": the built-in article.html, whatever the site overrides


def template_places(exc: BaseException) -> list[tuple[str, int]]:
    """The template files and lines an error passed through, innermost first: Jinja2 maps
    compiled template code back to them in tracebacks (and syntax errors carry them)."""
    places = [(getattr(exc, "filename", None), getattr(exc, "lineno", None))]
    places += [(f.filename, f.lineno) for f in reversed(traceback.extract_tb(exc.__traceback__))]
    return [(filename, line or 1) for filename, line in places
            if filename and not filename.endswith(".py") and not filename.startswith("<")]


def within(filename: str, folder: Path) -> Optional[str]:
    """`filename` relative to `folder` if it lies there, else None. Compared as written and
    as resolved: a templates/ that is a link to a folder holds its files under both names."""
    for file, root in ((os.path.abspath(filename), os.path.abspath(folder)),
                       (os.path.realpath(filename), os.path.realpath(folder))):
        if Path(file).is_relative_to(root):
            return Path(file).relative_to(root).as_posix()
    return None


def template_error_pos(exc: BaseException, site: Path) -> Optional[Pos]:
    """Where an error that arose while rendering is to be reported; None if it is a bug in Dossier.

    The innermost line in the site's own templates; else, when the site has templates of its
    own (one of them must have changed what a built-in template uses), the innermost line in
    a built-in template, named by its full path. Else None.
    """
    places = _at_import(exc, template_places(exc))
    for filename, line in places:
        rel = within(filename, site / "templates")
        if rel is not None:
            return Pos(f"templates/{rel}", line)
    if not _has_own_templates(site):
        return None
    for filename, line in places:
        if within(filename, BUILTIN_TEMPLATES) is not None:
            return Pos(os.path.realpath(filename), line)
    return None


# Jinja2's words for a name a template imports that the imported one does not define.
_NOT_EXPORTED = re.compile(r"\(imported on line (\d+) in '([^']+)'\) does not export the requested name")


def _at_import(exc: BaseException, places: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """A name imported but not defined fails where it is used: reported at the import, what names it."""
    found = _NOT_EXPORTED.search(str(exc))
    if not found:
        return places
    line, name = int(found.group(1)), found.group(2)
    ends = (f"/{name}", f"/{name.partition('/')[2]}")  # "dossier/home.html" is a built-in's name
    return [(f, line if Path(f).as_posix().endswith(ends) else n) for f, n in places]


def _has_own_templates(site: Path) -> bool:
    try:
        return any((site / "templates").iterdir())
    except OSError:
        return False


def template_error_message(exc: BaseException) -> str:
    detail = str(exc) or type(exc).__name__
    if type(exc).__name__ == "TemplateNotFound":
        detail = f"template not found: {detail}"
    elif isinstance(exc, RecursionError):
        detail = "templates that extend, include or import one another in a loop"
    elif type(exc).__module__ != "jinja2.exceptions":
        detail = f"{type(exc).__name__}: {detail}"
    notes = getattr(exc, "__notes__", ())
    return f"template error: {detail}" + (f" ({'; '.join(notes)})" if notes else "")
