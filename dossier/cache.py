"""The build cache: what an earlier build computed, keyed on content digests.

It lives inside the output folder it describes (output/.dossier-cache), so
it is swapped in with that output and can never disagree with it; deleting
the output makes the next build cold. It holds nine tables:

- loaded: digest of an article's two files, or of an entity's file (+ site
  settings) -> the Article or Entity read from them and the diagnostics
  reading gave;
- analyses: digest of an article + the names to autolink -> its Analysis
  (body HTML, footnote order, mentions in context);
- pages: output path -> the digest of the page's inputs, the registry
  look-ups its template made, the digest of the bytes written, and the
  page's internal links (so a later build checks them without reading it);
- records: digest of an export record's inputs -> where its text lies in
  the export file this build wrote (file, start, length): the next build
  reads the records whose inputs did not change back from there (see
  export.Memo), once the file's bytes are found to be the ones written;
- looked_up: registry look-up -> the digest of what it returned, for the
  look-ups of every page in `pages`;
- groups: a group of pages made from the same inputs (an article's page,
  an entity's pages) -> the digest of those inputs, the pages' paths, and
  the sources the inputs were drawn from (render.SOURCES);
- sources: each of those sources -> its digest, so the next build tells
  which changed and which groups they reach;
- record_owners: an article's slug -> the keys of its export records, in
  the order they lie in the files, so an edit rewrites only its records;
- shape: what the next build needs of this one's resolve to tell which
  articles alone changed (see build._resolve_shape).

After an edit most of the tables are as they were: the file then refers to
the chunks of the last full file (kept beside it as BASE_FILE) instead of
holding them again, and an edit writes a few megabytes, not the whole cache;
once less than half of that file would be in use, a full file is written
again and the base goes (see dump_to and base_for).

A process that builds twice keeps the last cache in memory instead of
reading it back; serve, the only reader of an output of its own, never
writes it at all (build's `persist`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import mmap
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Optional, Sequence

from . import __version__
from .warm import code_digest, library_versions
from .write import copy_range

CACHE_FILE = ".dossier-cache"
BASE_FILE = ".dossier-cache-base"  # a full cache file, whose chunks the CACHE_FILE of an edit refers to


def digest(*parts: object) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part if isinstance(part, (bytes, mmap.mmap)) else repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()


# A cache made by other code (an upgrade, a local change), or with other versions of the
# libraries that shape the output, is not trusted; nor are templates compiled by them.
CODE_DIGEST = digest(code_digest(), library_versions())[:16]
FORMAT = f"dossier-cache-{__version__}-{CODE_DIGEST}"


# digest() of the same text parts, remembered: the keys made from each file of a site (an
# article's, its sidecar's, its analysis's), of which a process that builds again and again
# (serve) would otherwise make 40,000 anew at 10,000 articles for every edit of one. Enough for
# that many; a larger site merely makes some again.
remembered_digest = functools.lru_cache(maxsize=1 << 16)(digest)


class Fingerprints:
    """Digests of model values, each computed once per build.

    Values whose digest is already known (an article: the digest of its
    files) are never walked; other frozen dataclasses are digested field by
    field and remembered by identity, so a claim listed on a hundred pages
    is digested once. The values must stay alive while this is used.
    """

    def __init__(self):
        self._memo: dict[int, str] = {}
        self._keep: list[object] = []  # holds memoised values, so no id is reused
        self._fields: dict[type, tuple[str, ...]] = {}
        self.builds = 0  # builds that used these: a process that builds again goes on with them
        self._first = 0  # values held once the first of those builds was done

    def outgrown(self) -> bool:
        """Whether these hold half as many values again as the first build left (asked as each
        build ends): they hold every value digested, old versions too, and a build that reads
        every article again (site.yaml edited in serve) adds a whole dossier's worth (some 35 MB
        at 1,000 articles, 0.45 GB at 10,000)."""
        self._first = self._first or len(self._keep)
        return 2 * len(self._keep) > 3 * self._first

    def knows(self, value: object) -> bool:
        return id(value) in self._memo

    def know(self, value: object, fingerprint: str) -> None:
        self._memo[id(value)] = fingerprint
        self._keep.append(value)

    def know_all(self, values: Sequence[object], fingerprints: Iterable[str]) -> None:
        """know() for each value and its fingerprint, in one go (an analysis's hundreds of mentions)."""
        self._memo.update(zip(map(id, values), fingerprints, strict=True))
        self._keep.extend(values)

    def __call__(self, value: object) -> str:
        kind = type(value)
        if kind in _PLAIN:
            return repr(value)
        memo = self._memo
        known = memo.get(id(value))
        if known is not None:
            return known
        h = hashlib.blake2b(kind.__name__.encode(), digest_size=16)
        if kind is list or kind is tuple:
            h.update("\0".join([memo.get(id(item)) or self(item) for item in value]).encode())
            return h.hexdigest()
        if isinstance(value, str):  # Markup and other text: the characters, not a repr of them
            h.update(value.encode("utf-8", "surrogatepass"))
            return h.hexdigest()
        if kind is dict:
            for k, v in value.items():
                h.update(f"{self(k)}:{self(v)}\0".encode())
            return h.hexdigest()
        if kind is set or kind is frozenset:
            h.update("\0".join(sorted(map(self, value))).encode())
            return h.hexdigest()
        names = self._fields.get(kind)
        if names is None and dataclasses.is_dataclass(value):
            names = self._fields[kind] = tuple(f.name for f in dataclasses.fields(value))
        if names is None:  # dates, Markup, other plain values: their repr
            h.update(repr(value).encode())
            return h.hexdigest()
        for name in names:
            h.update(self(getattr(value, name)).encode())
            h.update(b"\0")
        fp = h.hexdigest()
        self.know(value, fp)
        return fp


_PLAIN = frozenset({str, int, float, bool, type(None), bytes})
TABLES = ("loaded", "analyses", "looked_up", "pages", "records", "groups", "sources", "record_owners", "shape")


@dataclass
class PageRecord:
    key: str  # digest of template set, site settings and the page's context
    deps: tuple[tuple[str, str], ...]  # the registry look-ups its template made (digests: BuildCache.looked_up)
    output: str  # digest of the bytes written
    links: object = None  # Optional[linkcheck.PageLinks]: what the link check of later builds needs


@dataclass
class Loaded:
    """One article as read from its two files, or one entity from its file: the value (None
    if it failed) and what reading said."""

    value: object  # Optional[Article], Optional[Entity]
    diagnostics: tuple
    broken: tuple[str, ...]  # ids its failure leaves undefined (sorted: the cache's bytes never depend on hashing)
    claim_keys: tuple[str, ...] = ()  # an article's: the digest of each of its claims (see claim_digest)


def claim_digest(claim) -> str:
    """A claim's fingerprint: the digest of all it says (a frozen dataclass of text, dates and
    named tuples, whose repr is its every field). Made once, when its sidecar is read: a claim
    edited back, or one whose sidecar changed elsewhere, keeps it, and so do the pages listing it."""
    return "claim:" + hashlib.blake2b(repr(claim).encode(), digest_size=16).hexdigest()


@dataclass
class BuildCache:
    format: str = FORMAT
    loaded: dict[str, Loaded] = field(default_factory=dict)  # files digest -> article or entity as read
    analyses: dict[str, object] = field(default_factory=dict)  # article key -> Analysis
    pages: dict[str, PageRecord] = field(default_factory=dict)  # output path -> record
    records: dict[bytes, tuple[str, int, int]] = field(default_factory=dict)  # record -> (file, start, length)
    # Registry look-up -> digest of what it returned, for every look-up of every page: one
    # table, not one per page (at 10,000 articles the pages make a million look-ups of
    # some 60,000 values).
    looked_up: dict[tuple[str, str], str] = field(default_factory=dict)
    # A group of pages (render.SpecGroup) -> the digest of its inputs, its pages' paths and its sources.
    groups: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)
    # What groups are drawn from (render.SOURCES) -> its digest; "" -> the templates and site settings.
    sources: dict[str, str] = field(default_factory=dict)
    files: frozenset[str] = frozenset()  # every file of the output this cache describes
    world: str = ""  # digest of every input of every page: equal, and no page needs a look
    link_problems: tuple = ()  # what the link check found (warnings only: the build succeeded)
    # The build as a whole: the fingerprint of its input files (see inputs.py), its options,
    # what it reported and counted; a build whose inputs match repeats this and stops.
    state: dict = field(default_factory=dict)
    # Where each chunk of the tables lies in the file this cache was read from or written
    # to: (table, its keys) -> (file, its stamp, start, end). See dump_to.
    chunks: dict = field(default_factory=dict, compare=False, repr=False)
    # The digests of the values this cache holds, made by the build that left it in memory:
    # the next build of this process goes on with them (never written: a cache read back
    # holds other objects).
    fingerprints: Optional[Fingerprints] = field(default=None, compare=False, repr=False)
    # Each export record's key by the ids of what it was made from (see build._record_memo),
    # in memory only: another process holds other objects.
    record_keys: dict[tuple, tuple[tuple, bytes]] = field(default_factory=dict, compare=False, repr=False)
    # The keys of each article's export records, in the order they lie in the files (see
    # export.article_records): an edit rewrites only the edited article's.
    record_owners: dict[str, list[bytes]] = field(default_factory=dict)
    # What the next build needs of this one's resolve (see build._resolve_shape).
    shape: dict = field(default_factory=dict)
    # The file this cache was read from or written to (path, stamp), and the full file whose
    # chunks that one refers to (path, stamp, size, digest of its header), None if it holds them all.
    source: Optional[tuple] = field(default=None, compare=False, repr=False)
    base: Optional[tuple] = field(default=None, compare=False, repr=False)
    # The dossier as this build resolved it, in memory only: the next resolve of this process
    # starts from it when a few articles changed (resolve.resolve_changes).
    resolved: Optional[object] = field(default=None, compare=False, repr=False)
    # What the build kept of reading its articles, in memory only (see build._LastRead).
    last_read: Optional[object] = field(default=None, compare=False, repr=False)

    @classmethod
    def load(cls, out: Path, persist: bool = True) -> BuildCache:
        """The cache of the last build into `out`: the one this process kept in memory if it is
        still the one in the output, else read back. Without `persist`, only one kept in memory:
        by a build that did not persist it either (see remember), or by one that did, if its file
        is still the one in the output (the warm process's first build reads the cache, the
        next ones keep it in memory)."""
        path = out / CACHE_FILE
        held = _in_memory.get(str(path.absolute()))
        if not persist:
            return held[1] if kept(out) else cls()
        stamp = _stamp(path)
        if stamp is not None and held is not None and held[0] == stamp:
            return held[1]
        try:
            with open(path, "rb") as f:
                return cls._read(f, (str(path), stamp))
        except Exception:  # missing, truncated or from another version: start cold
            return cls()

    # On disk: a header, then the tables in pickles of CHUNK entries each. A
    # pickler remembers every object it wrote; one for the whole cache would
    # hold millions of entries (half a gigabyte at 10,000 articles) at once.
    CHUNK = 500

    @classmethod
    def _read(cls, f, source: tuple[str, tuple]) -> BuildCache:
        header = pickle.load(f)
        if not (isinstance(header, tuple) and header[:2] == ("dossier-cache", FORMAT)):
            return cls()
        cache = cls(files=frozenset(header[2]), world=header[3], link_problems=header[4], state=header[5],
                    source=source)
        base_path = str(Path(source[0]).with_name(BASE_FILE))
        with contextlib.ExitStack() as closing:
            if header[6] is not None:
                base = closing.enter_context(open(base_path, "rb"))
                if _identity(base) != header[6]:  # gone, or another file now: start cold
                    return cls()
                base_stamp = _stamp_of(os.fstat(base.fileno()))
                cache.base = (base_path, base_stamp, *header[6])
            while True:
                start = f.tell()
                record = pickle.load(f)  # a file cut short ends in EOFError: start cold
                if record[0] == "end":
                    return cache
                if record[0] == _IN_BASE:
                    _, start, end = record
                    base.seek(start)
                    name, items = pickle.load(base)
                    if base.tell() != end:
                        raise ValueError("a chunk of the base file does not end where it was said to")
                    where = (base_path, base_stamp, start, end)
                else:
                    name, items = record
                    where = (*source, start, f.tell())
                getattr(cache, name).update(items)
                cache.chunks[(name, tuple(k for k, _ in items))] = where

    @staticmethod
    def read_state(out: Path, persist: bool = True) -> tuple[frozenset[str], dict]:
        """The output's files and the last build's state, from the cache's header alone (empty if none)."""
        if not persist:
            held = BuildCache.load(out, persist=False)
            return held.files, held.state
        try:
            with open(out / CACHE_FILE, "rb") as f:
                header = pickle.load(f)
            if isinstance(header, tuple) and header[:2] == ("dossier-cache", FORMAT):
                return frozenset(header[2]), header[5]
        except Exception:  # missing, cut short, another version: no state
            pass
        return frozenset(), {}

    def _chunks_of_tables(self) -> Iterator[tuple[str, list]]:
        """(table, its entries) for each chunk of each table, in the order the file holds them."""
        for name in TABLES:
            items = list(getattr(self, name).items())
            size = (self.CHUNK // 10 or 1) if name in _WHOLE_ARTICLES else self.CHUNK
            for i in range(0, len(items), size):
                yield name, items[i:i + size]

    def kept_from(self, previous: BuildCache) -> dict[tuple, tuple]:
        """The chunks whose entries are all the values `previous` held under the same keys, in
        the same order: (table, keys) -> where the chunk lies (see `chunks`). After an edit,
        most of them."""
        kept = {}
        if not previous.chunks:  # a cold build: nothing to look for
            return kept
        for name, chunk in self._chunks_of_tables():
            keys = tuple(k for k, _ in chunk)
            where = previous.chunks.get((name, keys))
            old = getattr(previous, name)
            if where and all(_same(old.get(k), v) for k, v in chunk):
                kept[(name, keys)] = where
        return kept

    def base_for(self, previous: BuildCache, kept: dict[tuple, tuple]) -> Optional[tuple]:
        """The full cache file this cache's file may refer to for the `kept` chunks that lie in it
        (path, stamp, size, digest of its header): the base of the `previous` cache, or the file
        that cache came from if it is a full one. None if there is none, or if less than half
        of its bytes would be in use: the file is then written whole, and the base goes."""
        found = previous.base
        if found is None and previous.source is not None:
            try:
                with open(previous.source[0], "rb") as f:
                    same = _stamp_of(os.fstat(f.fileno())) == previous.source[1]
                    identity = _identity(f) if same else None
            except OSError:
                identity = None
            found = (*previous.source, *identity) if identity is not None else None
        if found is None:
            return None
        in_use = sum(where[3] - where[2] for where in kept.values() if where[:2] == found[:2])
        return found if 2 * in_use >= found[2] else None

    def dump_to(self, f, kept: Optional[dict[tuple, tuple]] = None, base: Optional[tuple] = None) -> None:
        """Write the cache to a binary file.

        The `kept` chunks (see kept_from) are not pickled again: the file
        refers to those that lie in `base` (see base_for), and the others
        are copied from the file they lie in as they are.
        """
        kept = kept or {}
        # Sets go in sorted: the file's bytes must not depend on the hash seed.
        pickle.dump(("dossier-cache", self.format, sorted(self.files), self.world, self.link_problems, self.state,
                     base[2:] if base else None), f, protocol=pickle.HIGHEST_PROTOCOL)
        # Where the base will be once the output is committed (the previous full file is linked there).
        base_path = str(Path(base[0]).with_name(BASE_FILE)) if base else None
        with _ChunkSource() as source:
            for name, chunk in self._chunks_of_tables():
                keys = tuple(k for k, _ in chunk)
                where = kept.get((name, keys))
                if where and base and where[:2] == base[:2]:
                    pickle.dump((_IN_BASE, where[2], where[3]), f, protocol=pickle.HIGHEST_PROTOCOL)
                    self.chunks[(name, keys)] = (base_path, base[1], where[2], where[3])
                    continue
                start = f.tell()
                if not (where and source.copy(where, f)):
                    _dump_chunk(f, name, chunk)
                self.chunks[(name, keys)] = (None, None, start, f.tell())  # in the file written now
        pickle.dump(("end", None), f, protocol=pickle.HIGHEST_PROTOCOL)
        self.base = (base_path, *base[1:]) if base else None

    def remember(self, out: Path, persist: bool = True) -> None:
        """Keep this cache in memory for the next build into `out` by this process: with the
        stamp of the file it was written to, or, not persisted, with None (see load)."""
        path = out / CACHE_FILE
        _in_memory.clear()  # one output at a time: memory stays bounded
        if not persist:
            _in_memory[str(path.absolute())] = (None, self)
            return
        stamp = _stamp(path)
        if stamp is not None:
            _in_memory[str(path.absolute())] = (stamp, self)
            self.source = (str(path), stamp)
            # Chunks written by this build are in that file now; others name theirs.
            self.chunks = {k: (where[0] or str(path), where[1] or stamp, *where[2:]) for k, where in self.chunks.items()}


_in_memory: dict[str, tuple[Optional[tuple], BuildCache]] = {}


def forget() -> None:
    """Drop the cache kept in memory: the output was written by another process since."""
    _in_memory.clear()


def kept(out: Path) -> bool:
    """True if this process keeps the cache of `out` in memory, and the output holds no other (see load)."""
    path = out / CACHE_FILE
    held = _in_memory.get(str(path.absolute()))
    return held is not None and held[0] in (None, _stamp(path))


def kept_unwritten(out: Path) -> Optional[BuildCache]:
    """The cache kept in memory for `out` by builds that did not persist it, if there is one."""
    held = _in_memory.get(str((out / CACHE_FILE).absolute()))
    return held[1] if held is not None and held[0] is None else None

# Tables whose values hold whole articles (their text, their body's HTML): in chunks of
# fewer entries, so an edit pickles 50 of them again, not 500 (85 ms at 1,000 articles).
_WHOLE_ARTICLES = frozenset({"loaded", "analyses"})

# Tables of plain values (tuples of text), pickled by value: a pickler writes an object it
# saw before as a reference to it, so the bytes would depend on which equal strings happen
# to be one object (a table's keys come from pages made now and pages read back), and a
# chunk copied from the last file would differ from the same chunk pickled now.
_BY_VALUE = frozenset({"looked_up", "groups", "sources", "record_owners", "shape"})


_IN_BASE = "@"  # a chunk's record in a file: (_IN_BASE, start, end) of the chunk in the base file


def _identity(f) -> Optional[tuple[int, str]]:
    """A full cache file's size and the digest of its header, by which a cache that refers to
    its chunks names it; None if the file is no full cache of this version."""
    try:
        f.seek(0)
        header = pickle.load(f)
        if not (isinstance(header, tuple) and header[:2] == ("dossier-cache", FORMAT) and header[6] is None):
            return None
        length = f.tell()
        f.seek(0)
        return os.fstat(f.fileno()).st_size, digest(f.read(length))
    except Exception:  # cut short, or no cache at all
        return None


def _dump_chunk(f, name: str, chunk: list) -> None:
    pickler = pickle.Pickler(f, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.fast = name in _BY_VALUE
    pickler.dump((name, chunk))


def _same(old: object, new: object) -> bool:
    """The very value (an article, an analysis), or an equal digest or place (made anew each build)."""
    return old is new or (type(new) in (str, tuple) and old == new)


def _copy_range(source, out, start: int, end: int) -> bool:
    """Copy bytes start..end of `source` to the end of `out` (most of an edit's cache is copied
    so, inside the kernel: see write.copy_range); False if it cannot, with nothing kept of a part-copy."""
    out.flush()
    here = out.tell()
    try:
        copy_range(source.fileno(), out.fileno(), start, end - start)
    except OSError:  # cut short, or `out` is no file: the caller writes the chunk whole
        out.truncate(here)
        out.seek(here)
        return False
    out.seek(here + end - start)
    return True


class _ChunkSource:
    """Reads chunks back from the files earlier caches were written to, each opened once."""

    def __init__(self):
        self._files: dict[str, object] = {}

    def copy(self, where: tuple, out) -> bool:
        """Copy a chunk into `out`; False if its file is gone or is no longer the one it was in."""
        path, stamp, start, end = where
        try:
            f = self._files.get(path) or self._files.setdefault(path, open(path, "rb"))
            if _stamp_of(os.fstat(f.fileno())) != stamp:
                return False
            return _copy_range(f, out, start, end)
        except (OSError, TypeError):
            return False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for f in self._files.values():
            f.close()


class PreviousRecords:
    """The export records the last build wrote, read back from its files (see BuildCache.records)."""

    def __init__(self, out: Path, last: BuildCache, verify: bool = True):
        """`verify`: read a file's records only once its bytes are found to be the ones the
        last build wrote; False for an output no one else writes (serve's own)."""
        self.out, self.last, self.verify = out, last, verify
        self._maps: dict[str, Optional[mmap.mmap]] = {}

    def text(self, key: bytes) -> Optional[str]:
        where = self.last.records.get(key)
        if where is None:
            return None
        path, start, length = where
        found = self._mapped(path)
        return None if found is None else found[start:start + length].decode("utf-8")

    def as_written(self, path: str) -> bool:
        """Whether the file's bytes are the ones the last build wrote."""
        return self._mapped(path) is not None

    def edited_digest(self, path: str, edits: Iterable[tuple[int, int, bytes]]) -> str:
        """digest() of the file's bytes with these edits made ((start, length, new bytes), in order),
        made from its map: what the file written so holds, without reading it back."""
        old, h, done = memoryview(self._mapped(path)), hashlib.blake2b(digest_size=16), 0
        for start, length, data in edits:
            h.update(old[done:start])
            h.update(data)
            done = start + length
        h.update(old[done:])
        h.update(b"\0")
        old.release()
        return h.hexdigest()

    def _mapped(self, path: str) -> Optional[mmap.mmap]:
        return self._maps[path] if path in self._maps else self._map(path)

    def _map(self, path: str) -> Optional[mmap.mmap]:
        """The file mapped (not read into memory), if its bytes are the ones the last build wrote."""
        self._maps[path] = None
        written = self.last.pages.get(path)
        try:
            with open(self.out / path, "rb") as f:  # the map stays when the file closes
                found = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):  # gone, or empty
            return None
        if written is not None and (not self.verify or digest(found) == written.output):
            self._maps[path] = found
        else:
            found.close()
        return self._maps[path]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for found in self._maps.values():
            if found is not None:
                found.close()


def _stamp(path: Path) -> Optional[tuple]:
    try:
        return _stamp_of(os.stat(path))
    except OSError:
        return None


def _stamp_of(st: os.stat_result) -> tuple:
    return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns)
