"""Stage 5, search: index the staged output with Pagefind.

Runs on the staging folder before it is swapped in, so a failing index
leaves the previous output as it was. The Pagefind binary (from the
`pagefind-bin` package) reads the rendered pages; which pages and which
parts of them count is said in the templates with data-pagefind-*
attributes: articles, entities and free pages carry data-pagefind-body,
index pages do not, so they are not read and never double a result.
It reads them as search copies (search_copy, SearchCopies): the same
records, from a third of the bytes (30-32 s against 33-37 s at 10,000
articles, where Pagefind over Hugo's pages of the same words took 32-34 s),
but for the anchors of ids the search never reads (SEARCHED_ANCHORS).

Claims are no records of their own: each claim's <mark id="claim-..."> is an
anchor of its article's record, with the word position where it starts,
followed by its footnote reference's; the article carries its claims'
statuses as a filter, and its footnotes what a claim result shows.
assets/search.js turns the matching claims of each article found into
results that land on their marks. The bundle, with the pagefind.js that
assets/search.js loads, is written to output/pagefind/.

The binary runs as its command-line program: for the same pages it writes
the same index as its service (the `pagefind` package's API) and takes
less time (43-46 s against 50-64 s at 10,000 articles, back to back). The
service is used only when there is nothing to index: the program then
stops with an error instead of writing the empty bundle the search page
still needs.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from . import urls
from .resolve import Resolved

BUNDLE_DIR = "pagefind"
LARGE = 1000  # pages from which progress is shown even in a log
STOP_GRACE = 120  # seconds the binary may take to finish writing
SETTLE_POLL = 0.05  # seconds between two looks at the files being written
STALLED = 1.0  # seconds without a byte written after which a bundle with empty files is looked into
LOW_SPACE = 1 << 20  # bytes free under which a bundle that looks whole is looked into (see _check_written)
PROBE = 4096  # bytes written to ask the file system whether it takes more
HINT = "install it with `pip install pagefind-bin`, or build with --no-search"

Progress = Callable[[str], None]


class SearchError(Exception):
    """The search index could not be made: the binary is missing or failed, or its files could not be written."""


@dataclass(frozen=True)
class SearchStats:
    pages: int
    claims: int  # found within their articles' records
    seconds: float

    def __str__(self) -> str:
        return f"indexed {self.pages} pages, with the {self.claims} claims in their articles, in {self.seconds:.2f} s"


@dataclass(frozen=True)
class Searched:
    """What indexing needs to know of a build: the site's language and the pages it searches.
    Small, so that serve hands its indexing process this instead of the whole dossier (at
    10,000 articles that was 184 MB pickled, some 4 s of serve's time, and 0.6 GB in the child)."""

    language: str
    articles: tuple[str, ...]  # slugs
    entities: tuple[str, ...]  # ids
    pages: tuple[str, ...]  # free pages' slugs
    claims: int

    @classmethod
    def of(cls, resolved: Resolved) -> Searched:
        d = resolved.dossier
        return cls(d.site.language, tuple(a.slug for a in d.articles), tuple(e.id for e in d.entities),
                   tuple(p.slug for p in d.pages), len(resolved.claims))


def index(stage: Path, searched: Searched, progress: Optional[Progress] = None) -> SearchStats:
    """Write a Pagefind bundle into stage/pagefind for the pages staged there.

    Every line of progress goes to `progress`; by default the last one (the
    counts and the time) always goes to stderr, the others only on a
    terminal or for a large dossier.
    """
    return Indexing(stage, searched, progress).wait()


class Indexing:
    """index(), begun now and finished by wait(): Pagefind runs in a process of its own
    meanwhile, so the build can do other work with the pages (check their links, write
    its cache) while they are read. stop() ends it early."""

    def __init__(self, stage: Path, searched: Searched, progress: Optional[Progress] = None,
                 copies: Optional[SearchCopies] = None):
        """`copies`: the search copies of the staged pages, made while they were rendered;
        without them they are made here from the pages."""
        self.clock = time.perf_counter()
        self.stage, self.searched = stage.resolve(), searched
        self.executable = find_binary()
        self.expected = len(searched.articles) + len(searched.entities) + len(searched.pages)
        if progress is None:
            self.progress = _to_stderr if sys.stderr.isatty() or self.expected >= LARGE else _ignore
            self.report = _to_stderr
        else:
            self.progress = self.report = progress
        self.progress(f"search: indexing {self.expected} pages (with {searched.claims} claims) with {self.executable}")
        self.process: Optional[subprocess.Popen] = None
        self._cwd: Optional[tempfile.TemporaryDirectory] = None
        if self.expected:  # else the service, at wait(): see the module's docstring
            if copies is None:
                copies = SearchCopies(self.stage, searched)
                copies.complete(self.stage, set())
            self._cwd = tempfile.TemporaryDirectory(prefix="dossier-pagefind-")
            try:
                self.process = _start_program(self.executable, copies.folder, self.stage, searched, self._cwd.name)
            except OSError as exc:  # the binary would not start
                self._cwd.cleanup()
                raise SearchError(f"Pagefind failed: {_describe(exc)}") from exc

    def wait(self) -> SearchStats:
        try:
            if self.process is not None:
                pages = _finish_program(self.process, self.stage, self.progress)
            else:
                pages = _run(lambda: _index_with_service(self.executable, self.stage, self.searched, self.progress))
        except (OSError, AssertionError, KeyError, ValueError) as exc:  # the binary would not start or talk
            raise SearchError(f"Pagefind failed: {_describe(exc)}") from exc
        finally:
            self.stop()
        stats = SearchStats(pages, self.searched.claims, time.perf_counter() - self.clock)
        self.report(f"search: {stats}")
        return stats

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.process is not None:
            self.process.stdout.close()
        if self._cwd is not None:
            self._cwd.cleanup()


def _run(make_coroutine):
    """asyncio.run, or on a thread of its own when this one already runs an event loop
    (as it does under Playwright's sync API, or inside an async application)."""
    import asyncio  # here, not above: importing it costs every command 0.04 s, and only this path needs it
    import concurrent.futures

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make_coroutine())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make_coroutine())).result()


def find_binary() -> Path:
    """The Pagefind executable; PAGEFIND_BINARY_PATH overrides the packaged one."""
    try:
        from pagefind.service import get_executable
    except ImportError:
        raise SearchError("the pagefind package is not installed; "
                          "install it with `pip install pagefind pagefind-bin`, or build with --no-search") from None
    path = get_executable()
    if path is None:
        raise SearchError(f"the Pagefind binary was not found; {HINT}")
    if not path.is_file() or not os.access(path, os.X_OK):
        raise SearchError(f"the Pagefind binary {path} is missing or not executable; {HINT}")
    return path


# -- what Pagefind reads --------------------------------------------------------

# Pagefind parses every byte of a page but keeps only its data-pagefind-body
# elements, less their data-pagefind-ignore parts, plus the filters, metadata
# and sorts set anywhere on it. A search copy holds just that: about a third
# of an article page's bytes, 2 % of an entity page's. Pagefind reads the
# copies and gives the same records (tested), in less time.

_VOID = frozenset("area base br col embed hr img input link meta source track wbr".split())
_NAME = re.compile(r"<([a-zA-Z][a-zA-Z0-9-]*)")
_VALUE = re.compile(r"""\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_ENDS: dict[str, re.Pattern] = {}
_SETTINGS = ("data-pagefind-filter", "data-pagefind-meta", "data-pagefind-sort", "data-pagefind-default-meta")
COPY_HEAD = '<!doctype html><html><head><meta charset="utf-8"></head><body>'
# Pagefind makes an anchor of every element with an id in a searched part. Those the search
# reads are kept: headings' (Pagefind's sub-results) and each claim's mark and footnote
# reference (assets/search.js finds a claim's words between them). The others, mostly
# mentions' (some 10 an article), were anchors nobody read: with them Pagefind spent
# 7-11 % more CPU at 10,000 articles.
SEARCHED_ANCHORS = ("claim-", "fnref-")
_HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))


def search_copy(html: str) -> str:
    """The parts of a page Pagefind takes anything from, as a page of their own, less the
    ids the search does not read (see SEARCHED_ANCHORS).

    A page without data-pagefind-body is given back whole: Pagefind may read
    all of its <body>.
    """
    try:
        bodies = list(_elements_with(html, "data-pagefind-body", 0, len(html)))
        if not bodies:
            return html
        parts, pos = [COPY_HEAD], 0
        for start, tag_end, name, end in bodies:
            parts.append(_settings(html, pos, start))
            parts.append(_searched_anchors_only(_without_ignored(html, start, tag_end, end)))
            pos = end
        parts.append(_settings(html, pos, len(html)))
    except _Unclosed:  # an end tag left out (<p>, <li>...): where the element ends is Pagefind's to tell
        return html
    parts.append("</body></html>")
    return "".join(parts)


class _Unclosed(Exception):
    """An element this module looked for the end of has no end tag of its own."""


def _elements_with(html: str, attribute: str, pos: int, stop: int):
    """(start, start tag's end, name, end) of each element from pos to stop whose start tag
    has the attribute; the elements inside one found are not looked at."""
    for start, tag_end, name in _tags_with(html, attribute, pos, stop):
        if start >= pos:
            pos = _end_of(html, name, tag_end)
            yield start, tag_end, name, pos


def _tags_with(html: str, attribute: str, pos: int, stop: int):
    """(start, end, name) of each start tag from pos to stop that has the attribute."""
    while (at := html.find(attribute, pos, stop)) >= 0:
        pos = at + len(attribute)
        tag = _tag_at(html, at, attribute)
        if tag is not None:
            yield tag


def _tag_at(html: str, at: int, attribute: str) -> Optional[tuple[int, int, str]]:
    """(start, end, name) of the start tag in which `attribute` is an attribute's name at `at`;
    None if the words stand in text or in another attribute's name."""
    start = html.rfind("<", 0, at)
    name = _NAME.match(html, start) if start >= 0 else None
    after = html[at + len(attribute): at + len(attribute) + 1]
    if name is None or not html[at - 1].isspace() or after not in ("=", ">", "/", " ", "\n", "\t", "\r"):
        return None
    if html.find(">", start, at) >= 0:
        return None
    end = html.find(">", at)
    return (start, end + 1, name.group(1).lower()) if end >= 0 else None


def _end_of(html: str, name: str, pos: int) -> int:
    """Just past the end tag closing the element `name` whose start tag ends at pos."""
    if name in _VOID or html[pos - 2] == "/":
        return pos
    ends = _ENDS.get(name)
    if ends is None:
        ends = _ENDS[name] = re.compile(rf"<(/?){re.escape(name)}[\s>/]", re.IGNORECASE)
    depth = 1
    while depth:
        m = ends.search(html, pos)
        if m is None:
            raise _Unclosed(name)
        depth += -1 if m.group(1) else 1
        pos = html.find(">", m.end() - 1) + 1 or len(html)
    return pos


def _attribute(tag: str, attribute: str) -> Optional[str]:
    """The value of one attribute of a start tag ("" when it has none)."""
    found = _attribute_at(tag, attribute)
    return None if found is None else found[2]


def _attribute_at(tag: str, attribute: str) -> Optional[tuple[int, int, str]]:
    """(where its name starts, where it ends, its value) of one attribute of a start tag."""
    at = tag.find(attribute)
    while at >= 0 and (not tag[at - 1].isspace() or tag[at + len(attribute)] not in "= \n\t\r/>"):
        at = tag.find(attribute, at + 1)
    if at < 0:
        return None
    m = _VALUE.match(tag, at + len(attribute))
    if m is None:
        return at, at + len(attribute), ""
    return at, m.end(), next((v for v in m.groups() if v is not None), "")


def _searched_anchors_only(html: str) -> str:
    """The part with the id of each element taken out, but for headings' and SEARCHED_ANCHORS."""
    parts, pos = [], 0
    for start, tag_end, name in _tags_with(html, "id", 0, len(html)):
        if start < pos:  # a tag already seen, with "id" twice in it
            continue
        tag = html[start:tag_end]
        found = _attribute_at(tag, "id")
        if found is None or name in _HEADINGS or found[2].startswith(SEARCHED_ANCHORS):
            continue
        while found is not None:  # (an id written twice: the first counts, the second would then)
            at, end, _ = found
            tag = tag[:at - 1] + tag[end:]  # the space before it goes too
            found = _attribute_at(tag, "id")
        parts += [html[pos:start], tag]
        pos = tag_end
    parts.append(html[pos:])
    return "".join(parts)


def _without_ignored(html: str, start: int, tag_end: int, end: int) -> str:
    """A body element less its data-pagefind-ignore parts: of those, only what sets a filter,
    metadata or a sort is kept ("all" keeps nothing)."""
    parts, pos = [], start
    for i_start, i_tag_end, name, i_end in _elements_with(html, "data-pagefind-ignore", tag_end, end):
        parts.append(html[pos:i_start])
        tag = html[i_start:i_tag_end]
        if _attribute(tag, "data-pagefind-ignore") != "all":
            inside = _settings(html, i_tag_end, i_end)
            if inside or any(_attribute(tag, a) is not None for a in _SETTINGS):
                parts.append(tag + inside + ("" if name in _VOID else f"</{name}>"))
        pos = i_end
    parts.append(html[pos:end])
    return "".join(parts)


def _settings(html: str, pos: int, stop: int) -> str:
    """The elements from pos to stop that set a filter, metadata or a sort, each once and in
    order: their start tags alone where every value is in the tag, whole where one is the
    element's text; none inside a data-pagefind-ignore="all" element."""
    if html.find("data-pagefind-", pos, stop) < 0:  # most of a page: its head, navigation, ignored parts
        return ""
    dropped = [(start, _end_of(html, name, tag_end)) for start, tag_end, name in _tags_with(html, "data-pagefind-ignore", pos, stop)
               if _attribute(html[start:tag_end], "data-pagefind-ignore") == "all"]
    tags = {start: (tag_end, name) for attribute in _SETTINGS for start, tag_end, name in _tags_with(html, attribute, pos, stop)}
    found, covered = [], pos
    for start in sorted(tags):
        if start < covered or any(a <= start < b for a, b in dropped):
            continue
        tag_end, name = tags[start]
        tag = html[start:tag_end]
        if all(_in_tag(v) for a in _SETTINGS if (v := _attribute(tag, a)) is not None):
            found.append(tag if name in _VOID or html[tag_end - 2] == "/" else f"{tag}</{name}>")
        else:  # its text is a value: the whole element, and what it holds
            covered = _end_of(html, name, tag_end)
            found.append(html[start:covered])
    return "".join(found)


def _in_tag(value: str) -> bool:
    """Whether each of an attribute's settings (`name[attr]`, `name:value`) takes nothing from the text."""
    return all("[" in item or ":" in item for item in value.split(",") if item.strip())


COPIES = ".dossier-search"  # the output's folder of search copies: Dossier's own, like its cache


def searched_paths(searched: Searched) -> frozenset[str]:
    """The pages that carry data-pagefind-body: articles, entities (their first pages), free pages."""
    return frozenset([*map(urls.article_path, searched.articles), *map(urls.entity_path, searched.entities),
                      *map(urls.page_path, searched.pages)])


class SearchCopies:
    """The search copy of each page Pagefind reads, in the output's .dossier-search/ folder.

    The render workers add the pages they make; complete() adds the others,
    linking the last output's copy of a page kept as it was. Every output
    holds a copy of each of its searched pages made from that very page, so
    the link is safe.
    """

    def __init__(self, output: Path, searched: Searched):
        self.folder = (output / COPIES).absolute()  # Pagefind runs in a folder of its own
        self.paths = searched_paths(searched)
        self._folders: set[str] = set()

    def add(self, rel: str, html: str) -> None:
        if rel in self.paths:
            target = self._target(rel)
            with contextlib.suppress(FileNotFoundError):  # a link to the last output's copy stays as it was
                os.unlink(target)
            with open(target, "wb") as f:
                f.write(search_copy(html).encode("utf-8"))

    def complete(self, output: Path, made: set[str], previous: Optional[Path] = None) -> None:
        """Add the copies of the searched pages of `output` not made by this build."""
        for rel in sorted(self.paths - made):
            if previous is not None:
                try:
                    os.link(previous / COPIES / rel, self._target(rel))
                    continue
                except OSError:
                    pass
            try:
                page = (output / rel).read_text("utf-8", errors="replace")
            except FileNotFoundError:
                continue
            self.add(rel, page)

    def _target(self, rel: str) -> str:
        target = os.path.join(self.folder, rel)
        folder = os.path.dirname(target)
        if folder not in self._folders:  # thousands of pages, each in a folder of its own
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)
        return target


# -- running the binary ------------------------------------------------------------

# Lines of the program's log worth passing on as progress.
_PROGRESS_LINES = re.compile(r"(Found \d+ files|Indexed \d+ (pages?|words?)|Finished in)")


def _start_program(executable: Path, copies: Path, stage: Path, searched: Searched, cwd: str) -> subprocess.Popen:
    """Start the command-line program on the search copies of the staged pages; the bundle goes
    into the staged output.

    It runs in an empty folder, without PAGEFIND_* variables: it would
    otherwise take its settings from a pagefind.yml where it runs, or from
    the environment, and the index would no longer be the one the
    templates and this module describe.
    """
    command = [str(executable), "--site", str(copies), "--output-path", str(stage / BUNDLE_DIR), "--keep-index-url",
               "--force-language", searched.language]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAGEFIND_")}
    return subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,  # its log is a few lines
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")


def _finish_program(process: subprocess.Popen, stage: Path, progress: Progress) -> int:
    """Pass the program's log on as it ends; returns how many pages were indexed."""
    log = []
    for line in process.stdout:
        log.append(line.strip())
        if _PROGRESS_LINES.match(log[-1]):
            line = log[-1].split(" matching ")[0]
            progress(f"search: {line[0].lower()}{line[1:]}")
    code = process.wait()
    if code:
        said = [line for line in log if line.startswith("Error")]
        if not said and code > 0:  # its last words; not so when a signal ended it mid-work
            said = [line for line in log if line][-1:]
        raise SearchError(f"the Pagefind binary stopped ({_exit_reason(code)})" + (f": {said[0]}" if said else ""))
    return _indexed_total(stage / BUNDLE_DIR)


def _exit_reason(code: int) -> str:
    """"exit status N", or the signal that ended it, as the system names it (a file size limit: SIGXFSZ)."""
    if code > 0:
        return f"exit status {code}"
    try:
        return f"ended by {signal.Signals(-code).name}: {signal.strsignal(-code)}"
    except ValueError:
        return f"ended by signal {-code}"


async def _index_with_service(executable: Path, stage: Path, searched: Searched, progress: Progress) -> int:
    """Index the staged pages through the binary's service; returns how many were indexed."""
    from pagefind.index import IndexConfig

    service = _service_class()(executable)
    try:
        await service.launch()
        config = IndexConfig(keep_index_url=True, force_language=searched.language)
        idx = await service.create_index(config)
        clock = time.perf_counter()
        files = (await idx.add_directory(str(stage), glob=searched_pages(searched)))["page_count"]
        progress(f"search: read {files} HTML files in {time.perf_counter() - clock:.2f} s")
        progress("search: writing the index to pagefind/")
        await idx.write_files(str(stage / BUNDLE_DIR))
        await _settled(stage / BUNDLE_DIR)
    finally:
        await service.stop()
    return _indexed_total(stage / BUNDLE_DIR)


def searched_pages(searched: Searched) -> Optional[str]:
    """A glob of the pages that carry data-pagefind-body, so Pagefind reads only those.

    Index pages, claims pages and later pages of an entity are never read
    (they would be parsed only to be dropped). None, for every HTML file,
    if a free page's slug holds a character the glob would take as syntax.
    """
    slugs = searched.pages
    if not all(re.fullmatch(r"[A-Za-z0-9._-]+", s) for s in slugs):
        return None
    return "{" + ",".join([urls.article_path("*"), urls.entity_path("*")] + [urls.page_path(s) for s in slugs]) + "}"


async def _settled(bundle: Path) -> None:
    """Wait until every file of the bundle is written out.

    Pagefind answers WriteFiles once each file is created and its bytes are
    handed to a background writer, not once they are on disk; stopping the
    binary at that moment can leave files empty or cut short (seen here as
    an empty pagefind-entry.json). So the binary stays up until no file is
    empty and no size changes between two looks; or, once nothing has grown
    for STALLED seconds, until the disk is found to take no more (a full
    disk leaves files empty for good: _check_written then says so).
    """
    import asyncio  # already imported by _run, which runs this

    deadline = time.monotonic() + STOP_GRACE
    before: dict[str, int] = {}
    changed = time.monotonic()
    while True:
        sizes = {path: os.path.getsize(path) for folder, _, names in os.walk(bundle)
                 for path in (os.path.join(folder, name) for name in names)}
        if sizes and sizes == before and all(sizes.values()):
            return
        if sizes != before:
            changed = time.monotonic()
        elif time.monotonic() - changed > STALLED and _write_refused(bundle) is not None:
            return
        if time.monotonic() > deadline:
            raise SearchError(f"Pagefind did not finish writing {bundle}")
        before = sizes
        await asyncio.sleep(SETTLE_POLL)


def _indexed_total(bundle: Path) -> int:
    """Records in the written index (pages without data-pagefind-body are not among them)."""
    entry = _check_written(bundle)
    return sum(language["page_count"] for language in entry["languages"].values())


def _check_written(bundle: Path) -> dict:
    """The bundle's pagefind-entry.json, once the bundle is found whole; else a SearchError that
    says why, as the system says it where it can.

    Pagefind says nothing of a file it cannot write (a full disk, a file size
    limit): it exits 0 and leaves the file empty or cut short. So the bundle is
    looked at: none of its main files may be empty, the entry must read; and
    where the disk is nearly full, it must still take a few bytes (the file
    written last may have been cut short with none left empty).
    """
    empty = _empty_files(bundle)
    entry = _read_entry(bundle)
    if not empty and entry is not None and not _low_on_space(bundle):
        return entry
    refused = _write_refused(bundle)
    if refused is not None:
        reason = refused.strerror or str(refused)
        raise SearchError(f"search index: {reason[:1].lower()}{reason[1:]} ({bundle})")
    if empty or entry is None:
        raise SearchError(f"search index: Pagefind left {_incomplete(empty)} in {bundle}, "
                          "as a full disk or a file size limit does")
    return entry


def _empty_files(bundle: Path) -> list[str]:
    """The bundle's files of its own that hold no byte (the entry, pagefind.js, the WebAssembly...).

    Not those of its subfolders: a stat of each of 10,000 fragments would cost
    some 40 ms, and a full disk is told by the space left (_low_on_space).
    """
    try:
        with os.scandir(bundle) as found:
            return sorted(f.name for f in found if f.is_file(follow_symlinks=False) and not f.stat().st_size)
    except FileNotFoundError:  # no bundle at all: its entry cannot be read either
        return []


def _incomplete(empty: list[str]) -> str:
    if not empty:
        return "an unreadable pagefind-entry.json"
    return f"{len(empty)} of its files empty ({', '.join(empty[:3])}{', ...' if len(empty) > 3 else ''})"


def _read_entry(bundle: Path) -> Optional[dict]:
    """The bundle's pagefind-entry.json; None if it is missing, cut short or not Pagefind's."""
    try:
        entry = json.loads((bundle / "pagefind-entry.json").read_text(encoding="utf-8"))
        return entry if all("page_count" in language for language in entry["languages"].values()) else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _low_on_space(folder: Path) -> bool:
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < LOW_SPACE


def _write_refused(folder: Path) -> Optional[OSError]:
    """What the system says when a few bytes are written into `folder` (and made to reach the
    disk): None if it takes them. Nothing is left behind."""
    folder = folder if folder.is_dir() else folder.parent
    path = None
    try:
        handle, path = tempfile.mkstemp(prefix=".dossier-probe-", dir=folder)
        try:
            written = 0
            while written < PROBE:  # a write cut short by a full disk fails only when tried again
                written += os.write(handle, bytes(PROBE - written))
            os.fsync(handle)  # where space is taken only as the bytes reach the disk
        finally:
            os.close(handle)
    except OSError as exc:
        return exc
    finally:
        if path is not None:
            with contextlib.suppress(OSError):
                os.unlink(path)
    return None


@functools.cache
def _service_class():
    import asyncio  # already imported by _run, which runs the service

    from pagefind.service import PagefindService

    class Service(PagefindService):
        """The pagefind package's service, with a reader that keeps up.

        The stock reader sleeps 0.1 s before each answer (ten records a
        second) and waits forever if the binary dies; this one reads answers
        as they come and fails every pending request when the binary stops.
        """

        def __init__(self, executable: Path):
            super().__init__()
            self._bin = executable

        async def send(self, payload):
            """The stock send, less its debug lines (each formats the whole request, even
            with logging off) and with each answer forgotten once it is taken."""
            if self._poll_task.done():  # the binary has stopped: nobody would answer
                raise SearchError("the Pagefind binary stopped before indexing finished")
            self._message_id += 1
            message_id = self._message_id
            future = self._responses[message_id] = self._loop.create_future()
            request = json.dumps({"message_id": message_id, "payload": payload}).encode("utf-8")
            try:
                try:
                    self._backend.stdin.write(base64.b64encode(request) + b",")
                    await self._backend.stdin.drain()
                except ConnectionError:  # it died while we wrote to it
                    code = await self._backend.wait()
                    raise SearchError(f"the Pagefind binary stopped (exit status {code})") from None
                return await future
            finally:
                self._responses.pop(message_id, None)

        async def _wait_for_responses(self) -> None:
            try:
                while True:
                    self._deliver(await self._backend.stdout.readuntil(b","))
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
                code = await self._backend.wait()
                reason = f"exit status {code}" if code else f"unreadable answer: {_describe(exc)}"
                self._fail_all(SearchError(f"the Pagefind binary stopped ({reason})"))

        def _deliver(self, chunk: bytes) -> None:
            response = json.loads(base64.b64decode(chunk[:-1]))
            payload = response.get("payload") or {}
            message_id = response.get("message_id")
            if message_id is None and payload.get("original_message"):
                message_id = json.loads(payload["original_message"]).get("message_id")
            future = self._responses.get(message_id)
            if future is None or future.done():
                return
            if payload.get("type") == "Error":
                future.set_exception(SearchError(f"Pagefind: {payload.get('message', 'unknown error')}"))
            else:
                future.set_result(payload)

        def _fail_all(self, error: Exception) -> None:
            for future in self._responses.values():
                if not future.done():
                    future.set_exception(error)
                    future.exception()  # marks it seen: a request that failed to send never awaits it

        async def stop(self) -> None:
            """Let the binary finish and exit: its last writes may still be in flight
            when it answers, so it is told to end (stdin closed), not killed."""
            if not hasattr(self, "_backend"):
                return  # it never started
            if not self._backend.stdin.is_closing():
                self._backend.stdin.close()
            try:
                await asyncio.wait_for(self._backend.wait(), STOP_GRACE)
            except asyncio.TimeoutError:
                self._backend.kill()
                await self._backend.wait()
            self._poll_task.cancel()

    return Service


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:  # its first argument is the error's number
        return exc.strerror + (f" ({exc.filename})" if exc.filename else "")
    text = str(exc.args[0]) if exc.args else ""
    return text.strip() or type(exc).__name__


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _ignore(line: str) -> None:
    pass
