"""Stage 4, write: pages into a staging folder, swapped in only on success.

The staging folder sits beside the output (same file system), so the swap
is a rename. On Linux the swap is one atomic renameat2(RENAME_EXCHANGE);
elsewhere two renames. A failed or interrupted build removes the staging
folder and leaves the previous output exactly as it was.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import itertools
import os
import posixpath
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable, Iterable, Optional

MARKER = ".dossier-output"  # marks a folder as ours, so we may replace it
RESERVED_SUBDIRS = ("content", "templates", "static")


class UsageError(Exception):
    """A mistake in how the command was called (exit status 2)."""


def check_output_dir(site: Path, out: Path) -> Path:
    """Refuse an output folder whose replacement would lose the user's work; else return the
    folder the build writes to: `out` as the system follows it, through links (an output that
    is a link is built into its target, the link left as it is) and through `..` after a folder
    that does not exist (`mkdir -p` would make it, and the swap replace what `..` leads to).
    Every check is of that folder, and the build writes there and nowhere else."""
    try:
        site_r, out_r = site.resolve(), out.resolve()
    except RuntimeError:  # Python before 3.13 on a loop of links
        raise UsageError(f"refusing to write the output to {out}: the links on the way lead round in a loop") from None
    except OSError as exc:
        raise UsageError(f"refusing to write the output to {out}: {exc.strerror or exc}") from None
    name = f"{out} (a link to {out_r})" if out.is_symlink() else str(out)
    if out_r == site_r:
        raise UsageError(f"refusing to write the output to {name}: it would replace the site folder itself")
    if site_r.is_relative_to(out_r):
        raise UsageError(f"refusing to write the output to {name}: it contains the site folder")
    for sub in RESERVED_SUBDIRS:
        if out_r.is_relative_to(site_r / sub):
            raise UsageError(f"refusing to write the output to {name}: it lies inside the site's {sub}/ folder")
    if out_r.exists() and not out_r.is_dir():
        raise UsageError(f"refusing to write the output to {name}: it is a file, not a folder")
    if out_r.is_dir() and not (out_r / MARKER).exists() and any(out_r.iterdir()):
        raise UsageError(f"refusing to write the output to {name}: the folder is not empty and was not made by dossier; "
                         "empty it or choose another folder")
    return out_r


@contextlib.contextmanager
def output_lock(out: Path, waiting: Callable[[], None] = lambda: None):
    """The output to this build alone until it is done: a second build into it waits (`waiting`
    is called once if it must). Else its sweep of staging folders would remove the first's
    (see sweep_staging), and both would swap in their output. A lock of the system's on a file
    in this user's private folder, named by the output's path; it is let go when the process
    ends, however it ends. Without such a folder or such locks (Windows), no lock."""
    from .warm import private_folder

    try:
        import fcntl
    except ImportError:  # Windows
        fcntl = None
    folder = private_folder() if fcntl is not None else None
    if folder is None:
        yield
        return
    path = folder / f"{hashlib.blake2b(str(out.resolve()).encode(), digest_size=10).hexdigest()}.lock"
    f = _locked(path, fcntl, waiting)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):  # no lock files left behind, one for every output ever built
            os.unlink(path)
        f.close()  # lets go of the lock


def _locked(path: Path, fcntl, waiting: Callable[[], None]):
    """The lock file at `path`, opened and locked. The holder before may have removed it as it
    let go (output_lock): a lock on that file, no longer at `path`, locks nothing; so again."""
    from .warm import still_at

    told = False
    while True:
        f = open(path, "a")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not told:
                waiting()
                told = True
            fcntl.flock(f, fcntl.LOCK_EX)
        if still_at(f, path):
            return f
        f.close()


def sweep_staging(out: Path) -> None:
    """Remove staging folders that killed builds left beside the output; those set aside to
    be removed (see discard) are left to that, or handed to it again if it was stopped."""
    for stale in out.parent.glob(f".{out.name}.tmp-*"):
        if _GONE in stale.name:
            discard(stale)
        else:
            shutil.rmtree(stale, ignore_errors=True)


# What a build no longer needs once its output is in place (the last output, after a swap:
# at 10,000 articles 25,000 folders, 10-15 s to remove on a slow disk) is removed while the
# build goes on or ends: on a thread, and what is left of it when the process exits, in a
# process of its own (finish_discarding).
_GONE = "-gone-"
_gone = itertools.count()
_discarded: list[tuple[Path, threading.Thread]] = []


def discard(folder: Path) -> None:
    """Remove a folder without waiting for it: renamed out of the way, then removed on a thread."""
    gone = folder
    if _GONE not in folder.name:
        gone = folder.with_name(f"{folder.name}{_GONE}{os.getpid()}-{next(_gone)}")
        try:
            os.rename(folder, gone)
        except FileNotFoundError:
            return
        except OSError:
            shutil.rmtree(folder, ignore_errors=True)
            return
    if any(path == gone and thread.is_alive() for path, thread in _discarded):
        return  # being removed already
    removing = threading.Thread(target=shutil.rmtree, args=(gone, True), daemon=True)
    removing.start()
    _discarded[:] = [(path, thread) for path, thread in _discarded if thread.is_alive()] + [(gone, removing)]


def finish_discarding() -> Optional[subprocess.Popen]:
    """For a process about to exit: what discard() has not removed yet is removed by a
    process of its own, which outlives this one. Returns that process, if one was needed."""
    left = [str(path) for path, thread in _discarded if thread.is_alive() and path.exists()]
    _discarded.clear()
    if not left:
        return None
    try:
        return subprocess.Popen([sys.executable, "-c", _REMOVE, *left], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:  # no process to be had: removed here, as before
        for path in left:
            shutil.rmtree(path, ignore_errors=True)
        return None


_REMOVE = "import shutil, sys\nfor path in sys.argv[1:]:\n    shutil.rmtree(path, ignore_errors=True)\n"


class StagedOutput:
    """Collects the new output beside the old one; `commit` swaps it in.

    In full mode the staging folder becomes a whole new output (unchanged
    files hard-linked from the old one) and the two are swapped. In
    incremental mode, for rebuilds of an output this build trusts, only new
    and changed files are staged; `commit` moves them into the output and
    deletes files no longer made, leaving every unchanged file untouched
    (on this kind of disk, creating and deleting thousands of folders costs
    seconds). Either way nothing in the output changes before `commit`.

    `holds`: the files the output holds, given by a process that alone writes
    it (serve, into a folder of its own). Incremental mode then takes them as
    known instead of looking: at 10,000 articles, a stat of each kept page and
    a listing of 13,000 folders for files no longer made.
    """

    def __init__(self, out: Path, incremental: bool = False, holds: Optional[frozenset[str]] = None):
        self.out = out
        self.stage = out.parent / f".{out.name}.tmp-{os.getpid()}"
        self.incremental = incremental and (out / MARKER).is_file()
        self.holds = holds
        self.written = 0
        self.linked = 0
        self.fresh: set[str] = set()  # files staged (incremental mode: to move in)
        self.kept: set[str] = set()  # the previous output's files taken as they are
        self._folders: set[Path] = set()
        self._copying: list[tuple[threading.Thread, list]] = []  # see put_edited
        self._edited: set[str] = set()  # files put_edited wrote: tens of megabytes each
        self._set_aside = 0  # how many of their last versions commit linked into the staging folder
        self._replaced = False  # whether commit swapped the new output in: the staging folder holds the last

    def __enter__(self) -> StagedOutput:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        sweep_staging(self.out)
        self.stage.mkdir()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        with contextlib.suppress(OSError):
            self.settle()
        if self._replaced or self._set_aside:
            # What is left is the last output, or the last versions of large files: removing
            # it takes seconds, or tens of milliseconds, that are not the build's (see discard).
            discard(self.stage)
        else:
            shutil.rmtree(self.stage, ignore_errors=True)

    def write(self, rel: str, data: str | bytes) -> None:
        target = self.stage / rel
        self._folder(target.parent)
        try:  # it may be a link to the previous output's file, which must stay as it was
            target.unlink()
        except FileNotFoundError:
            pass
        target.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        self.written += 1
        self.fresh.add(rel)

    def write_with(self, rel: str, fill) -> None:
        """Write a file through `fill(binary file)`: large data never sits in memory whole."""
        target = self.stage / rel
        self._folder(target.parent)
        target.unlink(missing_ok=True)
        with open(target, "wb") as f:
            fill(f)
        self.written += 1
        self.fresh.add(rel)

    def put(self, rel: str, data: str | bytes) -> bool:
        """Write a file, or link the previous output's copy if its bytes are the same; True if written.
        A file this build wrote already (a page a static file replaces) is written again."""
        data = data.encode("utf-8") if isinstance(data, str) else data
        try:
            same = (rel not in self.fresh and os.path.getsize(self.out / rel) == len(data)
                    and (self.out / rel).read_bytes() == data)
        except OSError:
            same = False
        if same and self.link_previous(rel):
            return False
        self.write(rel, data)
        return True

    def put_parts(self, rel: str, parts: Iterable[bytes]) -> bool:
        """put(), for a file made in parts: each written as it comes, the whole never in memory."""
        target = self.stage / rel
        self._folder(target.parent)
        partial = target.with_name(f".{target.name}.part")
        with open(partial, "wb") as f:
            for part in parts:
                f.write(part)
        if _same_bytes(partial, self.out / rel) and self.link_previous(rel):
            partial.unlink()
            return False
        os.replace(partial, target)  # over a link to the previous output's file, never into it
        self.written += 1
        self.fresh.add(rel)
        return True

    def put_edited(self, rel: str, edits: list[tuple[int, int, bytes]]) -> bool:
        """put(), for a file that is the previous output's with byte ranges replaced: (start, length,
        the new bytes), in order, none overlapping. The bytes between are copied by the kernel, never
        read here: tens of megabytes of export file for the few records an edit changes. True if written."""
        source = self.out / rel
        with open(source, "rb", buffering=0) as old:
            if all(os.pread(old.fileno(), length, start) == new for start, length, new in edits) and self.link_previous(rel):
                return False
        target = self.stage / rel
        self._folder(target.parent)
        # On a thread of its own: the kernel copies while this one goes on with the build.
        failed: list = []
        copying = threading.Thread(target=_edited_copy, args=(source, target, edits, failed), daemon=True)
        copying.start()
        self._copying.append((copying, failed))
        self._edited.add(rel)
        self.written += 1
        self.fresh.add(rel)
        return True

    def settle(self) -> None:
        """Wait for the files put_edited is still writing; raise what went wrong there."""
        copying, self._copying = self._copying, []
        for thread, _ in copying:
            thread.join()
        for _, failed in copying:
            if failed:
                raise failed[0]

    def _folder(self, folder: Path) -> None:
        # Thousands of pages share few folders: ask the file system once per folder.
        if folder not in self._folders:
            folder.mkdir(parents=True, exist_ok=True)
            self._folders.add(folder)

    def link_previous(self, rel: str) -> bool:
        """Reuse the previous output's file as is (a hard link); False if it is gone."""
        if self.incremental:
            if not self._holds(rel):
                return False
            self.kept.add(rel)
            self.linked += 1
            return True
        target = self.stage / rel
        self._folder(target.parent)
        try:
            os.link(self.out / rel, target)
        except OSError:
            return False
        self.kept.add(rel)
        self.linked += 1
        return True

    def link_previous_as(self, rel: str, new_rel: str) -> bool:
        """Keep the previous output's file `rel` under another name as well (a hard link made in
        the stage, moved in with the rest); False if it is gone."""
        target = self.stage / new_rel
        self._folder(target.parent)
        target.unlink(missing_ok=True)
        try:
            os.link(self.out / rel, target)
        except OSError:
            return False
        self.fresh.add(new_rel)
        return True

    def link_all_previous(self, rels: list[str]) -> bool:
        """link_previous for each, at once where the output's files are known (serve's own);
        False, and none of them linked, if one is gone."""
        if self.incremental and self.holds is not None:
            if not self.holds.issuperset(rels):
                return False
            self.kept.update(rels)
            self.linked += len(rels)
            return True
        for n, rel in enumerate(rels):
            if not self.link_previous(rel):
                for linked in rels[:n]:
                    self.forget(linked)
                return False
        return True

    def _holds(self, rel: str) -> bool:
        """Whether the output has this file: as given (see `holds`), else as the disk says."""
        return rel in self.holds if self.holds is not None else os.path.isfile(os.path.join(self.out, rel))

    def forget(self, rel: str) -> None:
        """Undo link_previous(rel)."""
        if not self.incremental:
            (self.stage / rel).unlink(missing_ok=True)
        self.kept.discard(rel)
        self.linked -= 1

    def files(self) -> set[str]:
        """Every file the new output will hold (those made by workers once noted)."""
        return self.fresh | self.kept

    def read_text(self, rel: str) -> str:
        """A file of the new output, staged or (incremental mode) kept in place."""
        return self.read_bytes(rel).decode("utf-8", errors="replace")

    def read_bytes(self, rel: str) -> bytes:
        self.settle()
        folder = self.out if self.incremental and rel not in self.fresh else self.stage
        return (folder / rel).read_bytes()

    def copy_tree(self, src: Path, rel: str = "", site: Optional[Path] = None, diags=None) -> list[str]:
        """Copy a folder's files in, over what is there, but what is not the site's (inputs.copied:
        version control's, editors' files); unchanged ones are linked. Returns their paths in the
        output. With `site`, links leading out of it are not followed, and an entry that is not a
        file (a named pipe) is an error in `diags`."""
        from .inputs import copied_files  # here: a build handed to a warm process imports this module for
        from .model import Pos  # check_output_dir alone, and pays for every import

        files, odd = copied_files(src, within=site)
        for path, message in odd if site is not None else ():
            diags.error(Pos(path.relative_to(site).as_posix()), message)
        copied = []
        for file_rel, path in files:
            copied.append(posixpath.join(rel, file_rel))
            self.put(copied[-1], path.read_bytes())
        return copied

    def note(self, rel: str, written: bool) -> None:
        """Record a file that a worker process wrote or kept on this output's behalf."""
        (self.fresh if written else self.kept).add(rel)

    def commit(self, last: str = "", drop: Iterable[str] = ()) -> None:
        """Put the new output in place; `last` (the build cache) goes in after everything else,
        and the files `drop` names, if the output holds them, go before anything moves in.

        Ctrl-C and `kill` wait until it is done: moving changed files into
        place one by one is not atomic, and stopping half-way would leave
        an output that is neither the old one nor the new.
        """
        self.settle()
        with signals_held():
            self._commit(last, drop)

    def _commit(self, last: str, drop: Iterable[str]) -> None:
        if self.incremental:
            for rel in drop:
                (self.out / rel).unlink(missing_ok=True)
            return self._commit_in_place(last)
        (self.stage / MARKER).write_text("This folder is made by dossier and replaced on every build.\n")
        if self.out.exists():
            if not _exchange(self.stage, self.out):
                old = self.out.parent / f".{self.out.name}.tmp-{os.getpid()}-old"  # swept if left
                os.rename(self.out, old)
                os.rename(self.stage, self.out)
                self.stage = old
            self._replaced = True
        else:
            os.rename(self.stage, self.out)


    def _commit_in_place(self, last: str) -> None:
        if not (self.out / MARKER).is_file():  # removed (or replaced) while this build ran: its changes alone are no site
            raise FileNotFoundError(errno.ENOENT, "the output folder was removed while the build ran; build again",
                                    str(self.out))
        if last in self.fresh:  # stale while files move: a build interrupted now starts cold next time
            (self.out / last).unlink(missing_ok=True)
        made: set[Path] = set()
        for rel in sorted(self.fresh, key=lambda r: r == last):
            target = self.out / rel
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            if rel in self._edited:  # its last version set aside, freed later (see __exit__)
                with contextlib.suppress(OSError):
                    os.link(target, self.stage / f".replaced-{self._set_aside}")
                    self._set_aside += 1
            os.replace(self.stage / rel, target)
        keep = self.fresh | self.kept | {MARKER}
        if self.holds is not None:
            self._remove_known_stale(self.holds - keep)
        else:  # listed, not taken from the last build's record: a file someone put in goes too
            self._remove_stale(str(self.out), "", keep)

    def _remove_known_stale(self, stale: set[str]) -> None:
        """Delete these files, and the folders they leave empty."""
        folders = set()
        for rel in stale:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.out / rel)
            folders.update(Path(rel).parents)
        for folder in sorted(folders - {Path(".")}, key=lambda f: len(f.parts), reverse=True):
            with contextlib.suppress(OSError):  # not empty: it holds what this build made
                os.rmdir(self.out / folder)

    def _remove_stale(self, folder: str, prefix: str, keep: set[str]) -> bool:
        """Delete files under `folder` not in `keep`, and folders left empty; True if it is empty now."""
        empty = True
        with os.scandir(folder) as entries:
            for entry in entries:
                rel = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    if self._remove_stale(entry.path, rel + "/", keep):
                        os.rmdir(entry.path)
                    else:
                        empty = False
                elif rel in keep:
                    empty = False
                else:
                    os.unlink(entry.path)
        return empty


class InterruptedAfterCommit(KeyboardInterrupt):
    """Ctrl-C came while the new output was put in place: it is in place now. Or another signal
    the command line takes as Ctrl-C (cli.Stopped): `signum` tells which."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signum)
        self.signum = signum


HELD_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def _edited_copy(source: Path, target: Path, edits: list[tuple[int, int, bytes]], failed: list) -> None:
    """`source` with the `edits` made (see StagedOutput.put_edited), written to `target`."""
    try:
        partial = target.with_name(f".{target.name}.part")
        with open(source, "rb", buffering=0) as old, open(partial, "wb", buffering=0) as f:
            done = 0
            for start, length, new in [*edits, (os.fstat(old.fileno()).st_size, 0, b"")]:
                copy_range(old.fileno(), f.fileno(), done, start - done)
                view = memoryview(new)
                while view:  # an unbuffered write may take part of it
                    view = view[os.write(f.fileno(), view):]
                done = start + length
        os.replace(partial, target)  # over a link to the previous output's file, never into it
    except BaseException as exc:  # raised by settle(), in the build's own thread
        failed.append(exc)


def copy_range(src: int, dst: int, start: int, length: int) -> None:
    """Append `length` bytes of `src` from `start` to `dst`, at its position (moved past them),
    inside the kernel where it can (Linux: never through this process's memory); OSError if
    `src` ends early. Export files here, the build cache's chunks (cache.py)."""
    at = os.lseek(dst, 0, os.SEEK_CUR)
    while length > 0:
        try:
            done = os.copy_file_range(src, dst, length, start, at)
        except (AttributeError, OSError):  # not Linux, or a file system that cannot (a real failure fails again here)
            done = os.pwrite(dst, os.pread(src, min(length, 1 << 20), start), at)
        if done == 0:
            raise OSError(f"the file ended {length} bytes early")
        start, at, length = start + done, at + done, length - done
    os.lseek(dst, at, os.SEEK_SET)


def _same_bytes(a: Path, b: Path, block: int = 1 << 20) -> bool:
    try:
        if os.path.getsize(a) != os.path.getsize(b):
            return False
        with open(a, "rb") as fa, open(b, "rb") as fb:
            while True:
                chunk = fa.read(block)
                if chunk != fb.read(block):
                    return False
                if not chunk:
                    return True
    except OSError:
        return False


@contextlib.contextmanager
def signals_held():
    """Hold SIGINT, SIGTERM and SIGHUP (not SIGKILL: nothing can) until the block is done.

    Blocking them in this thread is not enough: the kernel gives a process's
    signal to any thread that does not block it (a watcher's, a server's),
    and Python then runs the handler here all the same. So for the block's
    length each handler only notes the signal, which is sent again after.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only; a build in another thread is stopped there
        return
    caught: list[int] = []
    handlers = {signum: signal.signal(signum, lambda signum, frame: caught.append(signum))
                for signum in HELD_SIGNALS if signal.getsignal(signum) is not None}  # None: not Python's to set
    old = signal.pthread_sigmask(signal.SIG_BLOCK, HELD_SIGNALS)
    try:
        yield
    finally:
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)  # one pending in this thread comes now: noted
            for signum in sorted(handlers, key=lambda s: s == signal.SIGINT):  # Ctrl-C's, which raises, last
                signal.signal(signum, handlers[signum])
            for signum in dict.fromkeys(caught):
                signal.raise_signal(signum)  # a held Ctrl-C is raised here
        except KeyboardInterrupt as exc:
            raise InterruptedAfterCommit(getattr(exc, "signum", signal.SIGINT)) from None


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0
