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
from typing import Callable, Iterable, Iterator, Optional
from urllib.parse import unquote, urlsplit

from .diagnostics import Diagnostics, link_pos, within
from .inputs import PACKAGE, copied_files
from .model import Pos

# A page is read as a browser splits it into tags: a quote opens an attribute's value
# only after its '=' (so a '>' inside a value does not end the tag), comments and the
# text of raw-text elements (a JSON-LD script, a style sheet) are skipped whole; their
# opening tags stay, a script's src counts. An element left open is read as markup.
_TAG_BODY = r"""[^>"'=]*+(?:(?:=\s*+"[^"]*"|=\s*+'[^']*'|[="'])[^>"'=]*+)*+"""
_COMMENT = r"!--[^-]*+(?:-(?!->)[^-]*+)*+-->"
_RAW_TEXT = r"[^<]*+(?:<(?!/\2\s*>)[^<]*+)*+</\2\s*>"
TAG_RE = re.compile(rf"<(?:((script|style|textarea|title)\b|[a-zA-Z][a-zA-Z0-9-]*)({_TAG_BODY})>(?(2){_RAW_TEXT})"
                    rf"|{_COMMENT})", re.I)
# One attribute of a tag's text: a name, then maybe a value double-, single- or not quoted.
# Only the names the check wants, with a value, are captured; the others are stepped over.
ATTR_RE = re.compile(r"""(?i:(id|name|href|src|srcset|action|poster|data))\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))"""
                     r"""|[^\s"'>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?""")
URL_ATTRS = frozenset({"href", "src", "action", "poster", "data"})
SCHEME_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:")
# A URL that is a plain path and fragment: no query, escape, space or host.
PLAIN_URL_RE = re.compile(r"(?!//)[\w./~-]*(?:#[\w.~-]*)?")
# The built page, as a link error names it: the page as the build makes it, in the default
# output folder's name whatever -o says, so that `check` (which writes nothing) and `build` say
# the same. A failed build writes nothing: no folder would hold that page as it was checked.
OUTPUT_LABEL = "output"
GENERATED_LATER = ("pagefind/",)  # made after the check: the search index


MEDIA_TAGS = frozenset({"img", "source", "video", "audio", "picture"})
MEDIA = "\0"  # a link key's mark for an embedded image or medium (never part of a path)
_PROBLEM = "problem"  # a tag with a link that breaks a rule on its own
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
        return cls(cls.joined_ids(ids), SEP.join(keys), tuple(problems))

    @staticmethod
    def joined_ids(ids) -> str:
        return SEP.join(sorted(i.replace(SEP, " ") for i in ids))


SEP = "\n"  # joins ids and link keys (a key's own line ends are escaped)


def _unescape(value: str) -> str:
    return html.unescape(value) if "&" in value else value


def tags(html_text: str) -> Iterator[tuple[int, int, str, str]]:
    """Each tag of a page that has attributes: (line, col where it starts, name, its attributes' text)."""
    line, last = 1, 0
    for m in TAG_RE.finditer(html_text):
        name, _, body = m.groups()
        if body:
            start = m.start()
            line += html_text.count("\n", last, start)
            last = start
            yield line, start - html_text.rfind("\n", 0, start), name, body


def _depth(folder: str) -> int:
    return folder.count("/") + 1 if folder else 0


class _PlaceholderFolders(dict):
    """For each depth, a folder path of that many placeholder names (a URL that holds the
    placeholder itself, written %00, is merely worked out for each folder)."""

    def __missing__(self, depth: int) -> str:
        self[depth] = "/".join([_PLACEHOLDER] * depth)
        return self[depth]


_PLACEHOLDER = "\0"
_PLACEHOLDER_FOLDERS = _PlaceholderFolders()
_IN_FOLDER = "in folder"  # an outcome that depends on the names of the page's folder


ID, LINK, EMBED = "id", "link", "embed"  # what a tag's attribute brings: an id, a link, an image's address


def tag_roles(name: str, body: str) -> tuple[tuple[str, str], ...]:
    """What one tag brings to the check, in the order written: (ID, id), (LINK or EMBED, URL)."""
    name = name.lower()
    kind = EMBED if name in MEDIA_TAGS else LINK
    roles: list[tuple[str, str]] = []
    for attr, double, single, bare in ATTR_RE.findall(body):
        if not attr:
            continue
        attr = attr.lower()
        value = _unescape(double or single or bare)
        if attr == "id" or (attr == "name" and name == "a"):
            roles.append((ID, value))
        elif attr == "srcset":
            roles.extend((kind, c.split()[0]) for c in value.split(",") if c.strip())
        elif attr in URL_ATTRS:
            roles.append((kind, value))
    return tuple(roles)


class PageReader:
    """Reads one page's ids and links; a link that breaks a rule on its own is a problem at once.

    `summarize`, run on every page a build renders, keeps no positions:
    only a page with a problem is read again by `read`, which has them.
    """

    TAG_MEMO_SIZE = 10_000  # tags remembered at once: enough for what repeats (navigation), ~7 MB
    # A full memo is set aside, not cleared: the tags still found in it (what repeats) come
    # back into the new one; those seen once (most: their ids differ) go with it.

    def __init__(self, base_url: str = ""):
        self.base_url = base_url
        # Pages of one site repeat the same tags and links: each is worked out once.
        self._tags: dict[tuple[int, str, str], object] = {}
        self._older_tags: dict[tuple[int, str, str], object] = {}
        self._outcomes: dict[tuple[object, str], object] = {}

    def read(self, page: str, html_text: str) -> tuple[set[str], list[Link], list[Problem]]:
        """The page's ids, its links (the first of each URL), and the problems of its links."""
        ids: set[str] = set()
        links: list[Link] = []
        problems: list[Problem] = []
        seen: set[tuple[str, str]] = set()
        folder = posixpath.dirname(page)
        for line, col, name, body in tags(html_text):
            for role, value in tag_roles(name, body):
                if role is ID:
                    ids.add(value)
                elif (value, role) not in seen:
                    seen.add((value, role))
                    self._link(page, folder, line, col, value.strip(), role is EMBED, links, problems)
        return ids, links, problems

    def summarize(self, page: str, html_text: str) -> PageLinks:
        """What `PageLinks.of(*self.read(page, html_text))` gives, read faster: no positions
        unless a link has a problem, and each distinct tag worked out once per depth of folder."""
        folder = posixpath.dirname(page)
        depth = _depth(folder)
        ids: set[str] = set()
        keys: dict[str, None] = {}
        known = self._tags
        for name, _, body in TAG_RE.findall(html_text):
            if not body:
                continue
            found = known.get((depth, name, body)) or self._tag(folder, depth, name, body)
            if found is _PROBLEM:
                return PageLinks.of(*self.read(page, html_text))
            tag_ids, tag_links = found
            if tag_ids:
                ids.update(tag_ids)
            for target, away, here in tag_links:
                keys[here if target == page else away] = None
        return PageLinks(PageLinks.joined_ids(ids), SEP.join(keys))

    def _tag(self, folder: str, depth: int, name: str, body: str):
        """What one tag of a page of `folder` gives the page's summary: its ids, and for each of its
        links, (target, key from another page, key from the target itself); _PROBLEM if a link has
        one. Remembered for pages of every folder as deep, unless a link depends on the folder's names."""
        key = (depth, name, body)
        found = self._older_tags.get(key)
        if found is not None:
            self._remember_tag(key, found)
            return found
        ids, links = [], []
        same_anywhere = True
        for role, url in tag_roles(name, body):
            if role is ID:
                ids.append(url)
                continue
            url = url.strip()
            outcome = self._outcome(folder, depth, url)
            if isinstance(outcome, str):
                return _PROBLEM
            if outcome is not None:
                same_anywhere = same_anywhere and self._outcomes[(depth, url)] is not _IN_FOLDER
                target, fragment = outcome
                media = role is EMBED
                here = link_key(target, target, fragment, media)
                links.append((target, link_key("", target, fragment, media) if target else here, here))
        found = (tuple(ids), tuple(links))
        if same_anywhere:
            self._remember_tag(key, found)
        return found

    def _remember_tag(self, key: tuple[int, str, str], found) -> None:
        if len(self._tags) >= self.TAG_MEMO_SIZE:
            self._older_tags, self._tags = self._tags, {}
        self._tags[key] = found

    def _link(self, page: str, folder: str, line: int, col: int, url: str, media: bool,
              links: list[Link], problems: list[Problem]) -> None:
        outcome = self._outcome(folder, _depth(folder), url)
        if isinstance(outcome, str):
            problems.append(Problem(page, line, col, url, outcome, media))
        elif outcome is not None:
            target, fragment = outcome
            links.append(Link(page, line, col, url, target or page, fragment, media))

    def _outcome(self, folder: str, depth: int, url: str):
        """(output file, fragment) a URL written in a page of `folder` names, the file "" for
        that page itself; None for a link not ours to check; a message for one that cannot work.

        Most links of a page climb to the site's root (`../../entities/x/index.html`) or stay
        in the page: worked out once in a folder of placeholder names, their outcome is that of
        every folder as deep. One that keeps a placeholder is worked out for each folder.
        """
        found = self._outcomes.get((depth, url), self)
        if found is self:
            found = self._with_fragment(folder, depth, url)
            if found is None:
                found = self._work_out(_PLACEHOLDER_FOLDERS[depth], url)
                if isinstance(found, tuple) and _PLACEHOLDER in found[0]:
                    found = _IN_FOLDER
            self._outcomes[(depth, url)] = found
        if found is _IN_FOLDER:
            found = self._outcomes.get((folder, url), self)
            if found is self:
                found = self._outcomes[(folder, url)] = self._work_out(folder, url)
        return found

    def _with_fragment(self, folder: str, depth: int, url: str) -> Optional[tuple[str, str]]:
        """The outcome of a plain `path#fragment` from that of its path, when that names a file
        the same from every folder as deep; else None. Pages link to many places in a few files
        (`…/index.html#m-12`): each file is worked out once, not once per fragment."""
        if "#" not in url or (self.base_url and url.startswith(self.base_url)) or not PLAIN_URL_RE.fullmatch(url):
            return None
        path, _, fragment = url.partition("#")
        if not path:
            return "", fragment  # a place in the page itself
        whole = self._outcome(folder, depth, path)
        if type(whole) is tuple and self._outcomes[(depth, path)] is not _IN_FOLDER:
            return whole[0], fragment
        return None

    def _work_out(self, folder: str, url: str):
        target = self._target(url)
        if target is None or isinstance(target, str):
            return target
        path, fragment, base_dir = target
        if not path:
            return "", fragment
        resolved = posixpath.normpath(posixpath.join(folder if base_dir is None else base_dir, path))
        if resolved == ".." or resolved.startswith("../"):
            return f"the link '{url}' leads out of the site's folder"
        if path.endswith("/") or resolved == ".":
            return (f"the link '{url}' names a folder: name the file ('{posixpath.join(path, 'index.html')}'), "
                    "or it breaks when the site is opened from disk")
        return resolved, fragment

    def _target(self, url: str):
        """(path, fragment, base folder or None for the page's) of an internal link; None for
        others; a message for a link that cannot work."""
        base_dir = None
        if self.base_url and url.startswith(self.base_url):
            url = url[len(self.base_url):] or "index.html"
            base_dir = ""
        elif url.startswith("//") or SCHEME_RE.match(url):
            return None  # another site, mail, data: not ours to check
        if PLAIN_URL_RE.fullmatch(url):  # most are: nothing for urlsplit and unquote to do
            path, _, fragment = url.partition("#")
        else:
            parts = urlsplit(url)
            path, fragment = unquote(parts.path), unquote(parts.fragment)
        if path.startswith("/"):
            return (f"the link '{url}' starts with '/': it breaks when the site is "
                    "published under a sub-path or opened from disk; make it relative")
        return path, fragment, base_dir


class _Folders:
    """The folders that hold `files`, listed when first asked for (only a link that misses
    asks: 13,000 paths at 10,000 articles)."""

    def __init__(self, files: set[str]):
        self.files, self._folders = files, None

    def __contains__(self, path: str) -> bool:
        if self._folders is None:
            self._folders = {posixpath.dirname(f) for f in self.files}
        return path in self._folders


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

    def check(self, pages: Optional[set[str]] = None) -> list[Problem]:
        """Every problem found, once all pages and files were added (each link once per page);
        only those of `pages` if given (the others' verdicts are known)."""
        checked = self.summaries if pages is None else {p: self.summaries[p] for p in pages}
        problems = [p for s in checked.values() for p in s.problems]
        folders = _Folders(self.files)
        # A page not read in this run links to `target#fragment`, and only the target's
        # existence is checked (see _verdict): the verdict is the key's alone, found once.
        settled: dict[str, str] = {}
        for page, summary in checked.items():
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

    def _verdict(self, page: str, key: str, folders: _Folders) -> str:
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
    """Check a built output folder as a host would serve it: without Dossier's own hidden
    files (.dossier-*), which are not uploaded."""
    checker = LinkChecker(base_url)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel.startswith(".dossier-"):
            continue
        if path.suffix == ".html":
            checker.add_page(rel, path.read_text("utf-8", errors="replace"))
        else:
            checker.add_file(rel)
    return checker.check()


def report(problems: list[Problem], site_dir: Path, sources: dict[str, list[str]], diags: Diagnostics) -> None:
    """Each problem at the source file holding the link, else at the built page. A template's
    link is on every page made from it: told once, at the first page, with how many others
    have the same problem (not a line for each of 10,000 pages)."""
    texts: dict[str, str] = {}
    on_pages: dict[tuple, list[Pos]] = {}
    for p in problems:
        pos = _locate(p, site_dir, sources.get(p.page, []), texts)
        built = pos.path.startswith(f"{OUTPUT_LABEL}/")
        on_pages.setdefault((p.level, p.message, built, None if built else pos), []).append(pos)
    for (level, message, built, _), places in on_pages.items():
        tell = diags.warning if level == "warning" else diags.error
        if not built:
            for pos in places:
                tell(pos, message)
            continue
        others = len(places) - 1
        tell(min(places), message + (f" (the same on {others} other page{'s' * (others != 1)}: a template's link)"
                                     if others else ""))


def _locate(p: Problem, site_dir: Path, candidates: list[str], texts: dict[str, str]) -> Pos:
    for rel in candidates:
        if rel not in texts:
            try:
                texts[rel] = (site_dir / rel).read_text("utf-8-sig", errors="replace")  # columns as load counts them
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
                   generated_later: tuple[str, ...] = GENERATED_LATER,
                   failed: Optional[Callable[[Exception], None]] = None) -> int:
    """Render the site in memory and report its broken links; returns the number of pages read.

    `copied` lists the folders a build copies in as they are: (folder, path in the output);
    the site's own (static/) must not clash with what the build makes. `failed(exc)` is told
    of each page that fails to render (else the first failure is raised). As in `build`, a
    site with pages that failed goes no further, nor one whose output could not be written.
    """
    checker = LinkChecker(renderer.site.base_url, generated_later)
    sources = page_sources(renderer.r)
    made, count, ok = [], 0, True
    for spec in renderer.specs():
        made.append(spec.path)
        try:
            page = renderer.render(spec)
        except Exception as exc:
            if failed is None:
                raise
            failed(exc)
            ok = False
            continue
        if page.path.endswith(".html"):
            checker.add_page(page.path, page.text)
            count += 1
        else:
            checker.add_file(page.path)
    if ok:
        users = _add_copied(checker, copied, site_dir, sources, made, diags)
        if not report_clashes(made, generated_later, users, diags):
            report(checker.check(), site_dir, sources, diags)
    return count


def _add_copied(checker: LinkChecker, copied: list[tuple[Path, str]], site_dir: Path, sources: dict[str, list[str]],
                made: list[str], diags: Diagnostics) -> list[tuple[str, str]]:
    """Add the files of the folders copied in to the check (Dossier's own to `made`); returns the
    site's own, each by its path in the output and in the site."""
    users = []
    for folder, prefix in copied:
        # What a build copies (inputs.copied_files), and the same errors for what it cannot copy.
        # The site's own: inside it, and not Dossier's (which lies in a site made in its clone).
        inside = folder.resolve().is_relative_to(site_dir.resolve()) and not folder.resolve().is_relative_to(PACKAGE)
        files, odd = copied_files(folder, within=site_dir if inside else None)
        for path, message in odd if inside else ():
            diags.error(Pos(within(str(path), site_dir)), message)
        for file_rel, path in files:
            rel = posixpath.join(prefix, file_rel)
            if inside:
                users.append((rel, within(str(path), site_dir)))
            else:
                made.append(rel)
            if path.suffix == ".html":
                checker.add_page(rel, path.read_text("utf-8", errors="replace"))
                if inside:
                    sources[rel] = [path.resolve().relative_to(site_dir.resolve()).as_posix()]
            else:
                checker.add_file(rel)
    return users


def report_clashes(made: Iterable[str], made_folders: Iterable[str], copied: list[tuple[str, str]],
                   diags: Diagnostics) -> bool:
    """Report each file of the site's own folders (static/) that clashes in kind with what the
    build makes: a file where it makes a folder, a file in a folder where it makes a file (a
    file over a file it makes is allowed, and lies over it). `made_folders`: folders made later
    (the search index's); `copied`: each file's path in the output and in the site. True if one
    clashed: the output could not be written."""
    if not copied:  # most sites: the pages' folders need not be listed
        return False
    made = set(made)
    folders = {folder.rstrip("/") for folder in made_folders}.union(*map(_folders_of, made))
    found = {}
    for rel, source in copied:
        if rel in folders:
            found[source] = f"a file where the build makes the folder {rel}/{_example(rel, made)}: rename it"
        for folder in _folders_of(rel) & made:
            at = source[:len(source) - len(rel) + len(folder)]  # the folder in the site
            found[at] = f"a folder where the build writes the file {folder}: rename it"
    for at, message in sorted(found.items()):
        diags.error(Pos(at), message)
    return bool(found)


def _example(folder: str, made: set[str]) -> str:
    """' (a file the build makes in the folder)', the least deep; '' if none (the search index's folder)."""
    inside = [path for path in made if path.startswith(f"{folder}/")]
    return f" ({min(inside, key=lambda p: (p.count('/'), p))})" if inside else ""


def _folders_of(path: str) -> set[str]:
    """The folders a path of the output lies in: 'a/b/c.html' -> {'a', 'a/b'}."""
    parts = path.split("/")[:-1]
    return {"/".join(parts[:n]) for n in range(1, len(parts) + 1)}
