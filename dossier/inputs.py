"""A fingerprint of every file a build reads, taken before each build.

If it equals the one the last build recorded (same code, same options),
that build's output is this build's output, and nothing needs loading.
It digests the files' contents, not their times, so the fingerprint stays
the same for the same site (two builds are byte-identical). Each file's
digest is remembered with its size, times and inode: the build keeps them
in the output for the next one (STAMPS_FILE), and a process that
builds again and again (serve) keeps them in memory. A file is read again
only when those changed or when its times are too recent to vouch for it (a
file changed twice within the clock's resolution keeps its times), as make
and git do; the inode's change time, which no tool can set back, is part
of the stamp.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import os
import pickle
import stat
import time
from pathlib import Path
from typing import Callable, Collection, Optional

READ = ("site.yaml", "content", "templates", "static")  # what load() reads, relative to the site
# What of static/ is copied into the output (and so read by the fingerprint and the link
# check): every file, hidden ones too (.nojekyll, .well-known/), but not what is not the
# site's: version control's, the system's, editors' swap and backup files (the endings serve's
# watcher passes over), and names of Dossier's own files in the output (.dossier-*).
NOT_COPIED = frozenset({".git", ".gitignore", ".gitattributes", ".gitmodules", ".gitkeep", ".hg", ".hgignore",
                        ".svn", ".bzr", "CVS", ".DS_Store", "Thumbs.db", "desktop.ini"})
EDITOR_ENDINGS = ("~", ".swp", ".swo", ".swx", ".swn", ".tmp", ".crswap", "___jb_tmp___", "___jb_old___")
PACKAGE = Path(__file__).parent  # its own templates, assets and schema go into every output too
RACY_NS = 2_000_000_000  # times this close to when they were looked at do not vouch for the content
_known: dict[str, tuple[str, str]] = {}  # path -> (digest of its stat stamp, digest of its content)
# The same, the stamp as it is: each build looks at every file twice (fingerprint, then load),
# serve builds again and again, and comparing the stamp costs less than digesting it.
_seen: dict[str, tuple[tuple, str]] = {}
PACKAGE_KEY = "dossier:"  # how the stamps kept in an output name Dossier's own files
# In the output, beside the cache: the stamps of the files this machine last read. Not part
# of the build's result (which files count as just changed depends on when it ran).
STAMPS_FILE = ".dossier-stamps"


def fingerprint(site: Path, package: Path = PACKAGE, changed: Optional[Collection[str]] = None,
                by_stamps: bool = False) -> str:
    """The fingerprint of the site's files and Dossier's own.

    `changed`: the site-relative paths a file watcher saw change since the
    last fingerprint of this site in this process (serve). If each is a
    file that was one then and still is, only those are looked at again;
    else, or without them, every file is. `by_stamps` (the warm process,
    when the kernel could not tell it): without `changed`, those paths are
    told by the files' stamps (see _changed_by_stamps).
    """
    site = site.resolve()  # files are known by the paths load() reads them by
    key = (str(site), str(package))
    last = _last_look.get(key)
    if by_stamps and changed is None:  # folders stamped before the look: one changed during it differs at the next
        folders_then, folders_now = _folder_stamps.get(key), _stamp_folders(site, package, last)
        _folder_stamps[key] = folders_now
        if last and folders_then:
            changed = _changed_by_stamps(site, package, last[0], folders_then, folders_now)
    if changed is not None:  # an editor's swap file in static/, say: not read, so no change
        changed = [rel for rel in changed if read_by_build(rel)]
    entries = _changed_entries(site, last[0], changed) if changed is not None and last else None
    if entries is not None:
        changed = frozenset(rel for rel in changed if rel in entries)  # not those made and gone
    _note_look(key, None if entries is None else changed)
    if entries is not None:
        digests = dict(last[1])
        for rel in changed:
            kind, path = entries[rel][0], os.path.join(site, rel)
            if kind[0] == "file":
                digests[path] = kind[2]
            else:  # unreadable now: looked at again, to be reported
                digests.pop(path, None)
    else:
        # Dossier's own files (templates, assets, schema, code), not Python's caches of them.
        walked = itertools.chain(_walk(str(package), "dossier:", skip="__pycache__".__eq__), _entries(site))
        entries = {rel: (kind, _entry_bytes(rel, kind)) for rel, kind in walked}
        digests = {os.path.join(site, rel): kind[2] for rel, (kind, _) in entries.items()
                   if kind[:2] == ("file", None) and not rel.startswith(PACKAGE_KEY)}
    _last_look[key] = (entries, digests)
    return hashlib.blake2b(b"".join([data for _, data in entries.values()]), digest_size=16).hexdigest()


def _note_look(key: tuple[str, str], looked_again: Optional[frozenset[str]]) -> None:
    number, trail = _trails.get(key, (0, []))
    _trails[key] = (number, [*trail, looked_again]) if looked_again is not None else (number + len(trail) + 1, [])


def last_look(site: Path, package: Path = PACKAGE) -> tuple:
    """The last fingerprint of the site taken in this process, as changed_since takes it."""
    key = (str(site.resolve()), str(package))
    number, trail = _trails.get(key, (0, []))
    return key, number + len(trail)


def changed_since(site: Path, look: tuple, package: Path = PACKAGE) -> Optional[frozenset[str]]:
    """The site-relative paths of the only files that may differ between the fingerprint
    `look` (last_look) and the last one of the site in this process: files that were plain
    files then and are now, looked at again because a watcher said so. None if that is not
    known (`look` was of another site, or a fingerprint since walked every file)."""
    key, number = look
    start, trail = _trails.get((str(site.resolve()), str(package)), (0, []))
    if key != (str(site.resolve()), str(package)) or number < start:
        return None
    return frozenset().union(*trail[number - start:])


def digests_seen(site: Path, package: Path = PACKAGE) -> dict[str, str]:
    """The content digest of each plain file of the site, by its absolute path, as the last
    fingerprint of the site in this process saw it: a build reads its files by those, not
    by another look at each (20,000 at 10,000 articles)."""
    last = _last_look.get((str(site.resolve()), str(package)))
    return last[1] if last else {}


# Per site and package, what the last fingerprint saw: each entry, in order, with what is
# there and the bytes it adds to the digest; and the digests of the site's plain files.
_last_look: dict[tuple[str, str], tuple[dict[str, tuple[tuple, bytes]], dict[str, str]]] = {}


# Per site and package: the number of the last fingerprint that walked every file, and what
# each one after it looked at again (see changed_since).
_trails: dict[tuple[str, str], tuple[int, list[frozenset[str]]]] = {}


# Per site and package: the stamp of each folder the last look by stamps knew, taken just
# before it. A look since that did not stamp them leaves them older: the folders that changed
# since are then compared, by their names, with what that look found (_same_names).
_folder_stamps: dict[tuple[str, str], dict[str, Optional[tuple]]] = {}


def _stamp_folders(site: Path, package: Path, last: Optional[tuple]) -> dict[str, Optional[tuple]]:
    """The stamps of READ's entries, Dossier's folder and the folders the `last` look found, by
    absolute path."""
    paths = [os.path.join(site, top) for top in READ] + [str(package)]
    if last is not None:
        paths += [_absolute(site, package, rel) for rel, (kind, _) in last[0].items() if kind == ("folder",)]
    return {path: _folder_stamp(path) for path in paths}


def _folder_stamp(path: str) -> Optional[tuple]:
    """What tells that a folder's entries changed (its times); of a file, that it was replaced."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    times = (st.st_mtime_ns, st.st_ctime_ns) if stat.S_ISDIR(st.st_mode) else ()
    return st.st_ino, st.st_dev, st.st_mode, *times


def _absolute(site: Path, package: Path, rel: str) -> str:
    if rel.startswith(PACKAGE_KEY):
        return str(package) + rel[len(PACKAGE_KEY):]
    return os.path.join(site, rel)


def _changed_by_stamps(site: Path, package: Path, last: dict, folders_then: dict,
                       folders_now: dict) -> Optional[frozenset[str]]:
    """The site's files whose stamps (size, times, inode) differ from those their content was
    last read with, if no folder gained or lost an entry since the last look (an editor that
    saves by renaming a new file over the old changes its folder, not its names); None if that
    cannot be told so (a folder, a link or one of Dossier's own files changed): every file is
    then looked at. An os.stat of each file, no reading: a fraction of a full look."""
    if folders_now.keys() != folders_then.keys():
        return None
    moved = [path for path, stamp in folders_now.items() if stamp != folders_then[path]]
    if moved and not _same_names(site, package, last, moved, folders_then, folders_now):
        return None
    changed = set()
    for rel, (kind, _) in last.items():
        if kind == ("folder",):
            continue
        path = _absolute(site, package, rel)
        if kind[0] == "unreadable" and kind[1] is None:  # missing then (static/): still missing?
            if os.path.lexists(path):
                return None
            continue
        if kind[:2] != ("file", None):
            return None
        try:
            st = os.stat(path)
        except OSError:
            return None
        seen = _seen.get(path)
        if seen is None or seen[0] != (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev):
            if rel.startswith(PACKAGE_KEY):
                return None
            changed.add(rel)
    return frozenset(changed)


def _same_names(site: Path, package: Path, last: dict, moved: list[str], then: dict, now: dict) -> bool:
    """True if each of these folders holds the entries, by name, that the last look found in it
    (and a file is still a file)."""
    names: dict[str, set[str]] = {}
    for path in moved:
        was_folder, is_folder = (s is not None and stat.S_ISDIR(s[2]) for s in (then[path], now[path]))
        if was_folder != is_folder or then[path] is None or now[path] is None:
            return False
        if is_folder:
            names[path] = set()
    for rel in last:
        parent, _, name = _absolute(site, package, rel).rpartition(os.sep)
        if parent in names:
            names[parent].add(name)
    for folder, known in names.items():
        try:
            found = set(os.listdir(folder)) - ({"__pycache__"} if folder == str(package) else set())
            keep = _sifted_by(site, folder)
            if keep is not None:  # what is read of it
                found = {name for name in found if keep(name)}
        except OSError:
            return False
        if found != known:
            return False
    return True


def _sifted_by(site: Path, folder: str) -> Optional[Callable[[str], bool]]:
    """What a build reads of a folder by its entries' names, if it lies in one of SIFTED."""
    for top, keep in SIFTED.items():
        if os.path.join(folder, "").startswith(os.path.join(site, top, "")):
            return keep
    return None


def _entry_bytes(rel: str, kind: tuple) -> bytes:
    return repr((rel, kind)).encode("utf-8", "surrogateescape") + b"\0"


def _changed_entries(site: Path, last: dict, changed: Collection[str]) -> Optional[dict]:
    """The `last` entries with those of the `changed` files looked at again; None if one was
    not a plain file then or is not one now (made, removed, linked: the folders must be walked).
    One neither there then nor now changes nothing."""
    entries = dict(last)
    for rel in changed:
        path = os.path.join(site, rel)
        try:
            plain = stat.S_ISREG(os.lstat(path).st_mode)
        except OSError:
            # A top folder is not an entry of its own (only what is in it is), so one gone is
            # not "never there": READ's names are always an entry or a folder.
            if rel not in entries and rel not in READ:
                continue  # made and removed since the last look (an editor's temporary file)
            return None
        if not plain or rel not in entries or entries[rel][0][:2] != ("file", None):
            return None
        kind = _file(path, None)
        entries[rel] = (kind, _entry_bytes(rel, kind))
    return entries


def content_digest(path: Path) -> str:
    """A file's content digest, read again only if its stamp changed since it was last read."""
    return _content(str(path))


def trust(site: Path, stamps: dict[str, tuple[str, str]], package: Path = PACKAGE) -> None:
    """Take the stamps an earlier build recorded (see `stamps`) as known."""
    in_site, in_package = f"{site.resolve()}{os.sep}", f"{package}{os.sep}"
    for rel, known in stamps.items():
        path = in_package + rel[len(PACKAGE_KEY):] if rel.startswith(PACKAGE_KEY) else in_site + rel
        _known.setdefault(path, known)


def stamps(site: Path, package: Path = PACKAGE) -> dict[str, tuple[str, str]]:
    """The stamps known of a site's files and Dossier's own, for the next build to trust.

    They are kept in the output, which is published: files are named relative to the
    site (no user's folder names) and their times and inodes only by a digest."""
    site = site.resolve()
    kept = {}
    for top, key in ((f"{package}{os.sep}", PACKAGE_KEY), (f"{site}{os.sep}", "")):
        kept.update((key + path[len(top):], known) for path, known in _known.items() if path.startswith(top))
    return kept


def kept_stamps(out: Path) -> dict[str, tuple[str, str]]:
    """The stamps kept in an output folder (see `stamps_file`); none if it has none readable."""
    try:
        with open(out / STAMPS_FILE, "rb") as f:
            kept = pickle.load(f)
    except Exception:  # missing, cut short, another version: read the files
        return {}
    return kept if isinstance(kept, dict) else {}


def stamps_file(site: Path) -> bytes:
    """The bytes of an output's STAMPS_FILE: `stamps(site)` in a fixed order."""
    return pickle.dumps(dict(sorted(stamps(site).items())), protocol=pickle.HIGHEST_PROTOCOL)


def editor_leftover(name: str) -> bool:
    """Whether a name is one editors leave beside the file saved: a backup (x~), an autosave
    (#x#), a lock (.#x), a swap or temporary file. Never the site's: no build reads it."""
    return name.endswith(EDITOR_ENDINGS) or name.startswith(".#") or (name.startswith("#") and name.endswith("#"))


def copied(name: str) -> bool:
    """Whether a file or folder of that name in static/ is copied into the output (see NOT_COPIED)."""
    return not (name in NOT_COPIED or editor_leftover(name) or name.startswith(("._", ".dossier-")))


def not_left_over(name: str) -> bool:
    """Whether a file or folder of that name in content/ counts: all but editors' leftovers.
    (Hidden ones count, as they always have, though load() lists none.)"""
    return not editor_leftover(name)


# The folders whose editors' leftovers (backups, autosaves, swap files) a build passes over,
# each with what of it a build reads, by the name of each file and folder on the way.
SIFTED: dict[str, Callable[[str], bool]] = {"static": copied, "templates": copied, "content": not_left_over}


def read_by_build(rel: str) -> bool:
    """Whether a site-relative path is one a build reads: not what static/ does not copy, nor
    such files in templates/, nor editors' leftovers in content/."""
    top, _, below = rel.partition("/")
    keep = SIFTED.get(top)
    return keep is None or all(keep(name) for name in below.split("/") if name)


def copied_files(folder: Path, within: Optional[Path] = None) -> tuple[list[tuple[str, Path]], list[tuple[Path, str]]]:
    """What a build copies of a folder into the output as it is (static/, Dossier's assets): each
    file by its path relative to the folder, in order; and the entries that are neither file nor
    folder (a named pipe, a socket, a device), with an error message: they are never opened, since
    reading a pipe waits for a writer, for ever. As load() lists static/, links to folders are not followed,
    nor links that lead outside `within` (load() reports those); links that lead nowhere are passed over."""
    files: list[tuple[str, Path]] = []
    odd: list[tuple[Path, str]] = []
    inside = None if within is None else f"{os.path.realpath(within)}{os.sep}"

    def walk(path: Path, prefix: str) -> None:
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError:  # not a folder, or unreadable (load() reports that)
            return
        for entry in entries:
            if not copied(entry.name):
                continue
            if entry.is_dir(follow_symlinks=False):
                walk(path / entry.name, f"{prefix}{entry.name}/")
                continue
            try:
                if entry.is_symlink() and inside is not None and not os.path.realpath(entry.path).startswith(inside):
                    continue
                mode = entry.stat().st_mode  # a link's target's
            except OSError:
                continue
            if stat.S_ISREG(mode):
                files.append((prefix + entry.name, path / entry.name))
            elif not stat.S_ISDIR(mode):
                what = _KINDS.get(stat.S_IFMT(mode), "something else")
                odd.append((path / entry.name, f"not a regular file but {what}, which cannot be copied; remove it"))

    walk(folder, "")
    return files, odd


_KINDS = {stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a device",
          stat.S_IFBLK: "a device"}


def _entries(site: Path):
    """(path relative to the site, what is there) for every entry under READ, in a fixed order."""
    for top in READ:
        path = site / top
        if path.is_dir() and not path.is_symlink():
            keep = SIFTED.get(top)
            yield from _walk(str(path), top, skip=None if keep is None else lambda name, keep=keep: not keep(name))
        else:
            yield top, _describe(str(path))


def _walk(folder: str, rel: str, skip: Optional[Callable[[str], bool]] = None):
    """Each entry below the folder, but those whose names `skip` is true of (and what is in them)."""
    todo = [(folder, rel)]
    while todo:
        folder, rel = todo.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            yield rel, ("unreadable", exc.errno)
            continue
        for entry in entries:
            if skip is not None and skip(entry.name):
                continue
            sub = f"{rel}/{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                yield sub, ("folder",)
                todo.append((entry.path, sub))
            elif entry.is_symlink():
                yield sub, _describe(entry.path)
            else:  # a file, as the folder's listing says: no need to ask again
                yield sub, _file(entry.path, None)


def _describe(path: str) -> tuple:
    link = os.readlink(path) if os.path.islink(path) else None
    if os.path.isdir(path):  # a link to a folder: what it holds is not read here, so never the same
        return ("linked folder", link, os.urandom(8))
    return _file(path, link)


def _file(path: str, link: str | None) -> tuple:
    try:
        return ("file", link, _content(path))
    except OSError as exc:
        return ("unreadable", link, exc.errno)


def _content(path: str) -> str:
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):  # a named pipe would be waited on for ever: never opened
        raise OSError(errno.EINVAL, "not a regular file", path)
    raw = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)
    seen = _seen.get(path)
    if seen is not None and seen[0] == raw:
        return seen[1]
    stamp = hashlib.blake2b(repr(raw).encode(), digest_size=12).hexdigest()
    known = _known.get(path)
    found = known[1] if known is not None and known[0] == stamp else _read_digest(path)
    if max(st.st_mtime_ns, st.st_ctime_ns) < time.time_ns() - RACY_NS:
        _known[path] = (stamp, found)
        _seen[path] = (raw, found)
    return found


def _read_digest(path: str) -> str:
    # Read whole, not through hashlib.file_digest: it fills a fresh 256 KB buffer for every
    # file, which costs more than hashing a sidecar. Large files are read in parts.
    h = hashlib.blake2b()
    # Without waiting, should a pipe have taken the file's place since it was looked at.
    with open(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb", buffering=0) as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        while chunk := f.read(_READ_SIZE):
            h.update(chunk)
    return h.hexdigest()[:32]


_READ_SIZE = 1 << 16
