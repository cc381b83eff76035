"""Every internal link of a built site must land: the file, and the #fragment in it.

A site is published under any sub-path and opened from disk, so an
internal link must be relative, stay inside the output folder and name a
file (`…/index.html`, never a bare folder). Pages are scanned as they are
rendered (nothing is kept but their ids and their links), the verdicts come
once every file is known. A broken link is reported at the source file
that holds it when its text can be found there (an article's Markdown, an
entity file, a static page), else at the built page, `output/<page>`.
"""

from __future__ import annotations

import html
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional
from urllib.parse import unquote, urlsplit

from .diagnostics import Diagnostics
from .model import Pos

# What is not markup: comments, and the text of raw-text elements (a JSON-LD
# script, a style sheet); their opening tags stay, a script's src counts.
SKIP_RE = re.compile(r"<!--.*?-->|<(script|style|textarea|title)\b[^>]*>(.*?)</\1\s*>", re.S | re.I)
# The attributes looked at, wherever they are; those outside a tag are dropped.
ATTR_RE = re.compile(r"""\s(id|name|href|src|srcset|action|poster|data)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""",
                     re.I)
TAG_NAME_RE = re.compile(r"<([a-zA-Z][a-zA-Z0-9-]*)")
URL_ATTRS = frozenset({"href", "src", "action", "poster", "data"})
SCHEME_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:")
OUTPUT_LABEL = "output"


@dataclass(frozen=True)
class Link:
    page: str  # the output file that holds it
    line: int
    col: int
    url: str  # as written (entities decoded)
    target: str  # output file it names, "" for the page itself
    fragment: str


@dataclass(frozen=True)
class Problem:
    page: str
    line: int
    col: int
    url: str
    message: str


def _unescape(value: str) -> str:
    return html.unescape(value) if "&" in value else value


def scan(html_text: str) -> Iterator[tuple[int, int, str, str, str]]:
    """Each wanted attribute of a page's tags: (line, col of its tag, tag, attribute, value)."""
    skips = [m.span(2) if m.group(1) else m.span() for m in SKIP_RE.finditer(html_text)]
    skip = 0
    line, last = 1, 0
    for m in ATTR_RE.finditer(html_text):
        at = m.start()
        while skip < len(skips) and skips[skip][1] <= at:
            skip += 1
        if skip < len(skips) and skips[skip][0] <= at:
            continue  # in a comment or a script's text
        tag_start = html_text.rfind("<", 0, at)
        if tag_start < 0 or html_text.rfind(">", tag_start, at) >= 0:
            continue  # in text, not in a tag
        if html_text.count('"', tag_start, at) % 2:
            continue  # inside another attribute's quoted value, e.g. an escaped description
        tag = TAG_NAME_RE.match(html_text, tag_start)
        if tag is None:
            continue
        line += html_text.count("\n", last, tag_start)
        last = tag_start
        col = tag_start - html_text.rfind("\n", 0, tag_start)
        value = next(g for g in m.group(2, 3, 4) if g is not None)
        yield line, col, tag.group(1).lower(), m.group(1).lower(), _unescape(value)


class LinkChecker:
    """Collects pages and files of one output, then says which links miss.

    `base_url` links (404.html's, canonical links) count as internal;
    `generated_later` names folders made after this check runs (the search
    bundle), whose files are taken on trust.
    """

    def __init__(self, base_url: str = "", generated_later: tuple[str, ...] = ()):
        self.base_url = base_url
        self.generated_later = generated_later
        self.files: set[str] = set()
        self.ids: dict[str, set[str]] = {}
        self.links: list[Link] = []
        self.problems: list[Problem] = []

    def add_file(self, path: str) -> None:
        self.files.add(path)

    def add_page(self, path: str, html_text: str) -> None:
        self.files.add(path)
        ids: set[str] = set()
        seen: set[str] = set()
        for line, col, tag, attr, value in scan(html_text):
            if attr == "id" or (attr == "name" and tag == "a"):
                ids.add(value)
            elif attr in URL_ATTRS:
                self._link(path, line, col, value, seen)
            elif attr == "srcset":
                for candidate in value.split(","):
                    if candidate.strip():
                        self._link(path, line, col, candidate.split()[0], seen)
        self.ids[path] = ids

    def _link(self, page: str, line: int, col: int, url: str, seen: set[str]) -> None:
        url = url.strip()
        if url in seen:
            return  # one report per page and link is enough
        seen.add(url)
        target = self._target(page, line, col, url)
        if target is not None:
            path, fragment = target
            self.links.append(Link(page, line, col, url, path, fragment))

    def _target(self, page: str, line: int, col: int, url: str) -> Optional[tuple[str, str]]:
        """The output file and fragment an internal link names; None for others."""
        if self.base_url and url.startswith(self.base_url):
            url = url[len(self.base_url):] or "index.html"
            base_dir = ""
        elif url.startswith("//") or SCHEME_RE.match(url):
            return None  # another site, mail, data: not ours to check
        else:
            base_dir = posixpath.dirname(page)
        parts = urlsplit(url)
        path, fragment = unquote(parts.path), unquote(parts.fragment)
        if path.startswith("/"):
            self._problem(page, line, col, url, f"the link '{url}' starts with '/': it breaks when the site is "
                                                "published under a sub-path or opened from disk; make it relative")
            return None
        if not path:
            return page, fragment
        resolved = posixpath.normpath(posixpath.join(base_dir, path))
        if resolved == ".." or resolved.startswith("../"):
            self._problem(page, line, col, url, f"the link '{url}' leads out of the site's folder")
            return None
        if path.endswith("/") or resolved == ".":
            self._problem(page, line, col, url, f"the link '{url}' names a folder: name the file "
                                                f"('{posixpath.join(path, 'index.html')}'), or it breaks when the "
                                                "site is opened from disk")
            return None
        return resolved, fragment

    def _problem(self, page: str, line: int, col: int, url: str, message: str) -> None:
        self.problems.append(Problem(page, line, col, url, message))

    def check(self) -> list[Problem]:
        """Every problem found, once all pages and files were added."""
        problems = list(self.problems)
        folders = {posixpath.dirname(f) for f in self.files}
        for link in self.links:
            message = self._verdict(link, folders)
            if message:
                problems.append(Problem(link.page, link.line, link.col, link.url, message))
        return problems

    def _verdict(self, link: Link, folders: set[str]) -> str:
        if any(link.target.startswith(prefix) for prefix in self.generated_later):
            return ""
        if link.target not in self.files:
            if link.target in folders:
                return (f"the link '{link.url}' names a folder: name the file ('{link.target}/index.html'), "
                        "or it breaks when the site is opened from disk")
            return f"broken link '{link.url}': the site has no file {link.target}"
        ids = self.ids.get(link.target)
        if link.fragment and ids is not None and link.fragment not in ids:
            where = "this page" if link.target == link.page else link.target
            return f"broken link '{link.url}': {where} has no element with id '{link.fragment}'"
        return ""


def check_folder(folder: Path, base_url: str = "") -> list[Problem]:
    """Check a built output folder as it is on disk."""
    checker = LinkChecker(base_url)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if path.suffix == ".html":
            checker.add_page(rel, path.read_text("utf-8", errors="replace"))
        else:
            checker.add_file(rel)
    return checker.check()


def report(problems: list[Problem], site_dir: Path, sources: dict[str, list[str]], diags: Diagnostics) -> None:
    """Each problem as an error at the source file holding the link, else at the built page."""
    texts: dict[str, str] = {}
    for p in problems:
        diags.error(_locate(p, site_dir, sources.get(p.page, []), texts), p.message)


def _locate(p: Problem, site_dir: Path, candidates: list[str], texts: dict[str, str]) -> Pos:
    for rel in candidates:
        if rel not in texts:
            try:
                texts[rel] = (site_dir / rel).read_text("utf-8", errors="replace")
            except OSError:
                texts[rel] = ""
        at = texts[rel].find(p.url)
        if at >= 0:
            line = texts[rel].count("\n", 0, at) + 1
            return Pos(rel, line, at - texts[rel].rfind("\n", 0, at))
    return Pos(f"{OUTPUT_LABEL}/{p.page}", p.line, p.col)


def page_sources(resolved) -> dict[str, list[str]]:
    """For each rendered page, the user's files whose text it shows (where its links come from)."""
    from .urls import article_path, entity_path, page_path
    d = resolved.dossier
    sources = {article_path(a.slug): [a.path, a.sidecar] for a in d.articles}
    sources.update((entity_path(e.id), [e.path]) for e in d.entities)
    sources.update((page_path(p.slug), [p.path]) for p in d.pages)
    return sources


def check_rendered(renderer, site_dir: Path, copied: list[tuple[Path, str]], diags: Diagnostics,
                   generated_later: tuple[str, ...] = ("pagefind/",)) -> int:
    """Render the site in memory and report its broken links; returns the number of pages read.

    `copied` lists the folders a build copies in as they are: (folder, path in the output).
    """
    checker = LinkChecker(renderer.site.base_url, generated_later)
    sources = page_sources(renderer.r)
    count = 0
    for page in renderer.pages():
        if page.path.endswith(".html"):
            checker.add_page(page.path, page.text)
            count += 1
        else:
            checker.add_file(page.path)
    for folder, prefix in copied:
        for path in sorted(folder.rglob("*")) if folder.is_dir() else ():
            parts = path.relative_to(folder).parts
            if not path.is_file() or any(p.startswith(".") for p in parts):
                continue
            rel = posixpath.join(prefix, *parts)
            if path.suffix == ".html":
                checker.add_page(rel, path.read_text("utf-8", errors="replace"))
                if folder.resolve().is_relative_to(site_dir.resolve()):
                    sources[rel] = [path.resolve().relative_to(site_dir.resolve()).as_posix()]
            else:
                checker.add_file(rel)
    report(checker.check(), site_dir, sources, diags)
    return count
