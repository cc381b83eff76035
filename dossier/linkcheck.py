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

from .diagnostics import Diagnostics, link_pos
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
GENERATED_LATER = ("pagefind/",)  # made after the check: the search index


MEDIA_TAGS = frozenset({"img", "source", "video", "audio", "picture"})
MEDIA = "\0"  # a link key's mark for an embedded image or medium (never part of a path)
URL_SLOT = "\1"  # in a verdict, where the link's URL goes once it is found in its page


@dataclass(frozen=True)
class Link:
    page: str  # the output file that holds it
    line: int
    col: int
    url: str  # as written (entities decoded)
    target: str  # output file it names
    fragment: str
    media: bool  # an image (or other medium) shown in the page, not a link followed

    @property
    def key(self) -> str:
        return link_key(self.page, self.target, self.fragment, self.media)


def link_key(page: str, target: str, fragment: str, media: bool) -> str:
    """A link as the check needs it: `target#fragment`, target "" for the page itself."""
    key = ("" if target == page else target) + ("#" + fragment if fragment else "")
    key = key.replace("\n", "%0A")
    return MEDIA + key if media else key


@dataclass(frozen=True)
class Problem:
    page: str
    line: int
    col: int
    url: str
    message: str
    media: bool = False  # a missing image is a warning: the page works, the picture does not show

    @property
    def level(self) -> str:
        return "warning" if self.media else "error"


@dataclass(frozen=True)
class PageLinks:
    """What the check keeps of one page: its ids, its internal links, and what reading it found wrong.

    Ids and link keys are kept joined into one string each: a build keeps
    this for every page of the site, and a few strings per page cost far
    less to store and read back than thousands of small ones.
    """

    ids: str  # joined by SEP
    links: str  # link keys, each once, joined by SEP
    problems: tuple[Problem, ...] = ()

    @classmethod
    def of(cls, ids, links: list[Link], problems) -> PageLinks:
        keys = dict.fromkeys(link.key for link in links)
        return cls(SEP.join(sorted(i.replace(SEP, " ") for i in ids)), SEP.join(keys), tuple(problems))


SEP = "\n"  # joins ids and link keys (a key's own line ends are escaped)


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


class PageReader:
    """Reads one page's ids and links; a link that breaks a rule on its own is a problem at once."""

    def __init__(self, base_url: str = ""):
        self.base_url = base_url
        # Pages of one site repeat the same links (navigation, entities): each is worked out once.
        self._targets: dict[str, object] = {}
        self._paths: dict[tuple[str, str], str] = {}

    def read(self, page: str, html_text: str) -> tuple[set[str], list[Link], list[Problem]]:
        """The page's ids, its links (the first of each URL), and the problems of its links."""
        ids: set[str] = set()
        links: list[Link] = []
        problems: list[Problem] = []
        seen: set[tuple[str, bool]] = set()
        for line, col, tag, attr, value in scan(html_text):
            media = tag in MEDIA_TAGS
            if attr == "id" or (attr == "name" and tag == "a"):
                ids.add(value)
                continue
            if attr not in URL_ATTRS and attr != "srcset":
                continue
            urls = [c.split()[0] for c in value.split(",") if c.strip()] if attr == "srcset" else [value]
            for url in urls:
                if (url, media) not in seen:
                    seen.add((url, media))
                    self._link(page, line, col, url.strip(), media, links, problems)
        return ids, links, problems

    def summarize(self, page: str, html_text: str) -> PageLinks:
        return PageLinks.of(*self.read(page, html_text))

    def _link(self, page: str, line: int, col: int, url: str, media: bool,
              links: list[Link], problems: list[Problem]) -> None:
        target = self._targets.get(url, self)
        if target is self:
            target = self._targets[url] = self._target(url)
        if isinstance(target, str):
            problems.append(Problem(page, line, col, url, target, media))
        elif target is not None:
            path, fragment, base_dir = target
            resolved = self._resolve(page, path, base_dir) if path else page
            if resolved == ".." or resolved.startswith("../"):
                problems.append(Problem(page, line, col, url, f"the link '{url}' leads out of the site's folder", media))
            elif path.endswith("/") or resolved == ".":
                problems.append(Problem(page, line, col, url, f"the link '{url}' names a folder: name the file "
                                        f"('{posixpath.join(path, 'index.html')}'), or it breaks when the "
                                        "site is opened from disk", media))
            else:
                links.append(Link(page, line, col, url, resolved, fragment, media))

    def _resolve(self, page: str, path: str, base_dir: Optional[str]) -> str:
        folder = posixpath.dirname(page) if base_dir is None else base_dir
        found = self._paths.get((folder, path))
        if found is None:
            found = self._paths[(folder, path)] = posixpath.normpath(posixpath.join(folder, path))
        return found

    def _target(self, url: str):
        """(path, fragment, base folder or None for the page's) of an internal link; None for
        others; a message for a link that cannot work."""
        base_dir = None
        if self.base_url and url.startswith(self.base_url):
            url = url[len(self.base_url):] or "index.html"
            base_dir = ""
        elif url.startswith("//") or SCHEME_RE.match(url):
            return None  # another site, mail, data: not ours to check
        parts = urlsplit(url)
        path, fragment = unquote(parts.path), unquote(parts.fragment)
        if path.startswith("/"):
            return (f"the link '{url}' starts with '/': it breaks when the site is "
                    "published under a sub-path or opened from disk; make it relative")
        return path, fragment, base_dir


class LinkChecker:
    """Collects pages and files of one output, then says which links miss.

    A page comes either as its text (`add_page`) or as the summary a
    worker or an earlier build made of it (`add_summary`). `fresh` pages
    were read in this run: a link between two pages that are not fresh was
    checked by the build that made them and is not looked at again, except
    for whether its target still exists. `read(page)` gives the text of a
    page added as a summary, to find where a broken link of it is written.
    `base_url` links (404.html's, canonical links) count as internal;
    `generated_later` names folders made after this check runs (the search
    bundle), whose files are taken on trust.
    """

    def __init__(self, base_url: str = "", generated_later: tuple[str, ...] = (), read=None):
        self.reader = PageReader(base_url)
        self.generated_later = generated_later
        self.read = read
        self.files: set[str] = set()
        self.summaries: dict[str, PageLinks] = {}
        self.fresh: set[str] = set()
        self.places: dict[tuple[str, str], Link] = {}  # where links of pages read here are
        self._ids: dict[str, set[str]] = {}

    def add_file(self, path: str) -> None:
        self.files.add(path)

    def add_page(self, path: str, html_text: str) -> None:
        ids, links, problems = self.reader.read(path, html_text)
        for link in links:
            self.places.setdefault((path, link.key), link)
        self.add_summary(path, PageLinks.of(ids, links, problems), fresh=True)

    def add_summary(self, path: str, summary: PageLinks, fresh: bool) -> None:
        self.files.add(path)
        self.summaries[path] = summary
        if fresh:
            self.fresh.add(path)

    def check(self) -> list[Problem]:
        """Every problem found, once all pages and files were added (each link once per page)."""
        problems = [p for s in self.summaries.values() for p in s.problems]
        folders = {posixpath.dirname(f) for f in self.files}
        # A page not read in this run links to `target#fragment`, and only the target's
        # existence is checked (see _verdict): the verdict is the key's alone, found once.
        settled: dict[str, str] = {}
        for page, summary in self.summaries.items():
            fresh = page in self.fresh
            for key in summary.links.split(SEP) if summary.links else ():
                message = None if fresh else settled.get(key)
                if message is None:
                    message = self._verdict(page, key, folders)
                    if not fresh:
                        settled[key] = message
                if message:
                    problems.append(self._problem_at(page, key, message))
        return problems

    def _verdict(self, page: str, key: str, folders: set[str]) -> str:
        media = key.startswith(MEDIA)
        target, _, fragment = key.lstrip(MEDIA).partition("#")
        target = target or page
        url = URL_SLOT
        if any(target.startswith(prefix) for prefix in self.generated_later):
            return ""
        if target not in self.files:
            if target in folders:
                return (f"the link '{url}' names a folder: name the file ('{target}/index.html'), "
                        "or it breaks when the site is opened from disk")
            if media:
                return f"the image '{url}' is not in the site (no file {target}): it will not show"
            return f"broken link '{url}': the site has no file {target}"
        if not fragment or (page not in self.fresh and target not in self.fresh):
            return ""
        ids = self._ids_of(target)
        if ids is not None and fragment not in ids:
            where = "this page" if target == page else target
            return f"broken link '{url}': {where} has no element with id '{fragment}'"
        return ""

    def _ids_of(self, page: str) -> Optional[set[str]]:
        found = self._ids.get(page)
        if found is None and page in self.summaries:
            found = self._ids[page] = set(self.summaries[page].ids.split(SEP))
        return found

    def _problem_at(self, page: str, key: str, message: str) -> Problem:
        link = self.places.get((page, key))
        if link is None and self.read is not None:
            _, links, _ = self.reader.read(page, self.read(page))
            link = next((l for l in links if l.key == key), None)
        if link is None:  # cannot happen for a page that holds the link; keep the report anyway
            link = Link(page, 1, 1, key.lstrip(MEDIA), "", "", key.startswith(MEDIA))
        return Problem(page, link.line, link.col, link.url, message.replace(URL_SLOT, link.url), link.media)


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
    """Each problem at the source file holding the link, else at the built page."""
    texts: dict[str, str] = {}
    for p in problems:
        pos = _locate(p, site_dir, sources.get(p.page, []), texts)
        (diags.warning if p.level == "warning" else diags.error)(pos, p.message)


def _locate(p: Problem, site_dir: Path, candidates: list[str], texts: dict[str, str]) -> Pos:
    for rel in candidates:
        if rel not in texts:
            try:
                texts[rel] = (site_dir / rel).read_text("utf-8", errors="replace")
            except OSError:
                texts[rel] = ""
        pos = link_pos(rel, texts[rel], p.url)
        if pos is not None:
            return pos
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
                   generated_later: tuple[str, ...] = GENERATED_LATER) -> int:
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
