"""Which of a site's files changed, as the kernel tells it (Linux inotify): for the warm process.

The warm process learns what changed between two builds without looking at
each file (an os.stat of 22,000 files takes 0.1 s on a small machine). It
reads the events at once, when a build is asked for, not on a thread: the
kernel queues an event as the write happens, so every change made before the
build was asked for is in the queue by then (serve's watcher, on a thread of
its own, may not have read it yet). Anything it cannot vouch for (a folder
made, removed or moved, an overflowing queue, Dossier's own files) makes
drain() answer None, and the build looks at every file.
"""

from __future__ import annotations

import ctypes
import os
import struct
from pathlib import Path
from typing import Optional

from .inputs import READ

IN_MODIFY, IN_ATTRIB, IN_CLOSE_WRITE = 0x2, 0x4, 0x8
IN_MOVED_FROM, IN_MOVED_TO, IN_CREATE, IN_DELETE = 0x40, 0x80, 0x100, 0x200
IN_DELETE_SELF, IN_MOVE_SELF, IN_UNMOUNT, IN_Q_OVERFLOW, IN_IGNORED = 0x400, 0x800, 0x2000, 0x4000, 0x8000
IN_ISDIR = 0x40000000
IN_NONBLOCK, IN_CLOEXEC = os.O_NONBLOCK, os.O_CLOEXEC
WATCHED = (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
           | IN_DELETE_SELF | IN_MOVE_SELF)
NAMES_CHANGED = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO
FOLDER_GONE = IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT | IN_IGNORED | IN_Q_OVERFLOW
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, length of the name that follows


class SiteWatch:
    """The folders a build reads, watched; drain() tells which files changed since the last drain."""

    def __init__(self, site: Path, package: Path):
        self.site, self.package = site.resolve(), package
        self._libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.folders: dict[int, Optional[str]] = {}  # watch -> its folder's site-relative prefix (None: Dossier's)
        self.watched = False

    def close(self) -> None:
        os.close(self.fd)

    def drain(self) -> Optional[set[str]]:
        """The site-relative paths of the files that changed since the last drain; None the first
        time, or if that cannot be told (see the module's doc): the folders are then watched again,
        before the build looks at every file."""
        changed: Optional[set[str]] = set()
        while True:
            try:
                data = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                break
            for wd, mask, name in _events(data):
                changed = self._note(changed, wd, mask, name)
        if not self.watched or changed is None:
            self._watch_all()
            return None
        return changed

    def _note(self, changed: Optional[set[str]], wd: int, mask: int, name: str) -> Optional[set[str]]:
        if changed is None or mask & IN_Q_OVERFLOW:
            return None
        if wd not in self.folders:  # a folder no longer watched: what it says was said before
            return changed
        if mask & FOLDER_GONE:
            return None
        prefix = self.folders[wd]
        if prefix == "" and name not in READ:
            return changed  # beside what a build reads (output/, notes): not its concern
        if prefix is None or (mask & IN_ISDIR and mask & NAMES_CHANGED):
            return None  # Dossier's own files, or a folder made, removed or moved
        if not mask & IN_ISDIR:
            changed.add(prefix + name)
        return changed

    def _watch_all(self) -> None:
        """Watch the site's folder, READ's folders and all below them, and Dossier's own. A folder
        watched already keeps its watch; one gone has lost it (the kernel says so: IN_IGNORED)."""
        self.folders.clear()
        self._add(str(self.site), "")
        for top in READ:
            self._add_tree(str(self.site / top), f"{top}/")
        self._add_tree(str(self.package), None)
        self.watched = True

    def _add_tree(self, folder: str, prefix: Optional[str]) -> None:
        if not os.path.isdir(folder) or os.path.islink(folder):
            return
        self._add(folder, prefix)
        for entry in os.scandir(folder):
            if entry.is_dir(follow_symlinks=False) and entry.name != "__pycache__":
                self._add_tree(entry.path, None if prefix is None else f"{prefix}{entry.name}/")

    def _add(self, folder: str, prefix: Optional[str]) -> None:
        wd = self._libc.inotify_add_watch(self.fd, os.fsencode(folder), WATCHED)
        if wd < 0:  # too many folders for the system's limit, or gone meanwhile
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {folder}")
        self.folders[wd] = prefix


def _events(data: bytes):
    """(watch, mask, name) of each event in what one read returned."""
    at = 0
    while at < len(data):
        wd, mask, _, length = _EVENT.unpack_from(data, at)
        at += _EVENT.size
        name = data[at:at + length].rstrip(b"\0")
        at += length
        yield wd, mask, os.fsdecode(name)


def site_watch(site: Path, package: Path) -> Optional[SiteWatch]:
    """A watch of the site, or None where there is none (not Linux): files are then told by their stamps."""
    try:
        return SiteWatch(site, package)
    except (OSError, AttributeError):  # no inotify in this C library or kernel
        return None
