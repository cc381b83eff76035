"""`serve`: build, serve on 127.0.0.1, rebuild on change, reload the browser.

The site is built into a temporary folder (never SITE/output, so a dev
build cannot be published by mistake), removed on exit. A watchdog
observer watches site.yaml, content/, templates/ and static/; a burst of
events (editors save through temporary files and renames) becomes one
rebuild once the files have been quiet for DEBOUNCE seconds. The main
thread rebuilds, so rebuilds never overlap and Ctrl-C stops one at once (as
it stops `build`); a change during a rebuild triggers one more. `build()`
is incremental: it re-renders only the pages whose inputs changed and links
the rest from the previous output.

Nothing serve writes to the terminal waits for its reader (TerminalStream).

HTML responses get a script (/__dossier/reload.js) injected at serve time,
never on disk. It listens to /__dossier/events (Server-Sent Events; one tab
listens for all the browser's tabs of the site, see reload.js):
"reload" after a good rebuild, "errors" after a failed one. While the build
is broken the last good site stays up, with the errors laid over each page.
The search index is refreshed after each good rebuild in the background;
"search" tells the pages once a new index is served, and those that loaded
the old one reload (a page reloads on "reload" before the index is made).
"""

from __future__ import annotations

import collections
import contextlib
import html
import itertools
import json
import logging
import mimetypes
import os
import pickle
import queue
import re
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import warnings
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator, Optional

from watchdog.events import (DirCreatedEvent, DirDeletedEvent, DirMovedEvent, FileClosedEvent, FileCreatedEvent,
                             FileDeletedEvent, FileModifiedEvent, FileMovedEvent, FileSystemEventHandler)
from watchdog.observers import Observer

from . import build as pipeline
from . import inputs
from .progress import Progress
from .render import DEFAULT_TEMPLATES
from .watch import site_watch
from .write import UsageError

HOST = "127.0.0.1"
DEFAULT_PORT = 8000
PORTS_TO_TRY = 20  # without --port: 8000, else the next free one up to 8019
DEBOUNCE = 0.15  # seconds of quiet after the last file event before rebuilding
HEARTBEAT = 15.0  # seconds between keep-alive comments on an idle event stream
DEV_PREFIX = "/__dossier/"
DEV_ASSETS = Path(__file__).parent / "serve_assets"
WATCHED_DIRS = ("content", "templates", "static")
SITE_FILE = "site.yaml"
LISTED_PAGES = 4  # pages named in the "rebuilt" line before "and N more"
SEARCH_INDEXES_KEPT = 2  # the newest index, and the one pages loaded while it was being made

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json", ".xml": "application/xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8", ".svg": "image/svg+xml", ".wasm": "application/wasm",
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
    ".webp": "image/webp", ".avif": "image/avif", ".ico": "image/x-icon", ".pdf": "application/pdf",
    ".woff2": "font/woff2", ".woff": "font/woff", ".webmanifest": "application/manifest+json",
    # Beyond these, Python's own table (content_type); these where it has none or an old name.
    ".htm": "text/html; charset=utf-8", ".md": "text/markdown; charset=utf-8", ".wav": "audio/wav",
    ".ttf": "font/ttf", ".otf": "font/otf", ".ogg": "audio/ogg", ".oga": "audio/ogg", ".ogv": "video/ogg",
    ".flac": "audio/flac", ".m4a": "audio/mp4", ".geojson": "application/geo+json",
    ".jsonld": "application/ld+json", ".map": "application/json", ".gz": "application/gzip",
    ".yaml": "application/yaml", ".yml": "application/yaml",
}
# Python's table of types, without the system's (/etc/mime.types): the same on every machine.
PYTHON_TYPES = mimetypes.MimeTypes().types_map

def say(line: str) -> None:
    """A line to the terminal: sys.stdout is a TerminalStream while serve runs (terminal_streams)."""
    print(line, file=sys.stdout, flush=True)


def say_error(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# -- the terminal ---------------------------------------------------------------

HELD = 1000  # pieces of output (lines, mostly) kept for a reader that does not read; older ones are left out
LAST_WORDS = 2.0  # seconds that stopping waits for the reader to take what is left


class Destination:
    """One place serve's output goes (a terminal, a pipe, a file), written by a thread of its own.

    A write waits while nobody reads: a terminal paused with Ctrl-S, `serve | less` left on
    one screen once the pipe (64 KiB) is full. Only that thread waits, never a rebuild or the
    HTTP server; past HELD pieces waiting the oldest are left out, and counted, and the count
    is said once the reader reads again. The thread ends when there is nothing to write."""

    def __init__(self):
        self._pieces: collections.deque[tuple[int, bytes]] = collections.deque()  # (file descriptor, bytes)
        self._lost = 0  # lines left out since the last said so
        self._writing = False
        self._gone = False  # the reader went for good (`serve | head`): nothing is written any more
        self._fds: set[int] = set()  # stdout's and stderr's, where both go here
        self._cond = threading.Condition()

    def put(self, fd: int, data: bytes) -> None:
        with self._cond:
            if self._gone:
                return
            if len(self._pieces) >= HELD:
                self._lost += self._pieces.popleft()[1].count(b"\n")
            self._pieces.append((fd, data))
            self._fds.add(fd)
            if not self._writing:
                self._writing = True
                threading.Thread(target=self._write_all, name="dossier-terminal", daemon=True).start()

    def wait_written(self, timeout: float) -> None:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing, timeout)

    def _write_all(self) -> None:
        fd = None
        while (piece := self._next(fd)) is not None:
            fd, data = piece
            try:
                _write_fully(fd, data)
            except OSError:  # the reader went (EPIPE), the terminal closed (EIO): serving goes on
                self._give_up()

    def _next(self, last_fd: Optional[int]) -> Optional[tuple[int, bytes]]:
        """The next piece to write: first the news of what was left out, if any was."""
        with self._cond:
            if self._lost and not self._gone:
                n, self._lost = self._lost, 0
                fd = self._pieces[0][0] if self._pieces else last_fd
                return fd, (f"dossier: {n} line{'s' * (n != 1)} of output left out: nothing read them "
                            "for a while (a paused terminal, or a pipe not read)\n").encode()
            if self._pieces and not self._gone:
                return self._pieces.popleft()
            self._writing = False
            self._cond.notify_all()
            return None

    def _give_up(self) -> None:
        """Send all that is still to be written there nowhere, so that no later write (a forked
        worker's, the flush at exit) fails again."""
        with self._cond:
            self._gone = True
            self._pieces.clear()
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            for fd in self._fds:
                os.dup2(devnull, fd)
            os.close(devnull)


def _write_fully(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:  # a terminal another program made non-blocking: wait until it takes more
            select.select([], [fd], [], 1.0)


class TerminalStream:
    """sys.stdout or sys.stderr while serve runs: whatever writes to it (serve's lines, a build's
    progress, warnings, a traceback) hands the text to its Destination and goes on, never
    waiting for the reader and never failing. Text is handed over a line at a time (and on
    flush: progress redrawn in place), so that what is left out is whole lines."""

    def __init__(self, stream, destination: Destination):
        self.stream = stream  # the one replaced
        self.fd = stream.fileno()
        self.destination = destination
        self.encoding = getattr(stream, "encoding", None) or "utf-8"
        self.errors = "backslashreplace"
        self._owner = os.getpid()
        self._pending: list[str] = []
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        if os.getpid() != self._owner:  # a build's forked worker: no writer thread there
            return self.stream.write(text)
        with self._lock:
            self._pending.append(text)
        if "\n" in text:
            self.flush()
        return len(text)

    def flush(self) -> None:
        if os.getpid() != self._owner:
            return self.stream.flush()
        with self._lock:
            text, self._pending = "".join(self._pending), []
        if text:
            self.destination.put(self.fd, text.encode(self.encoding, self.errors))

    def isatty(self) -> bool:
        try:
            return self.stream.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        return self.fd


@contextlib.contextmanager
def terminal_streams() -> Iterator[None]:
    """sys.stdout and sys.stderr as TerminalStreams, for as long as serve runs; on the way out, what
    is left to write gets LAST_WORDS seconds to go (a reader that does not read cannot hold the
    stop up), and the streams are put back. Those that go to the same place (a terminal, `2>&1`)
    share one Destination, so that their lines stay in order; the others go on when one waits."""
    originals = sys.stdout, sys.stderr
    destinations: dict[tuple[int, int], Destination] = {}
    for name, stream in (("stdout", sys.stdout), ("stderr", sys.stderr)):
        try:
            status = os.fstat(stream.fileno())
        except (AttributeError, OSError, ValueError):  # no file descriptor (a test's stream): left as it is
            continue
        stream.flush()
        place = destinations.setdefault((status.st_dev, status.st_ino), Destination())
        setattr(sys, name, TerminalStream(stream, place))
    try:
        yield
    finally:
        deadline = time.monotonic() + LAST_WORDS
        for stream in (sys.stdout, sys.stderr):
            if isinstance(stream, TerminalStream):
                stream.flush()
                stream.destination.wait_written(max(deadline - time.monotonic(), 0))
        sys.stdout, sys.stderr = originals


# -- the entry point ------------------------------------------------------------

WORKDIR_PREFIX = "dossier-serve-"  # then the serving process's id: a folder left by one killed outright is known


def _sweep_left_workdirs() -> None:
    """Remove the working folders of serve processes that were killed outright (SIGKILL, a
    crash of the machine), which could not remove their own: each holds a whole built site.
    Removed on a thread of their own, so that serving does not wait for it."""
    if os.name != "posix":  # os.kill(pid, 0) asks after a process here only; elsewhere it ends it
        return
    left = []
    for entry in Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*-*"):
        pid = entry.name[len(WORKDIR_PREFIX):].partition("-")[0]
        if pid.isdigit() and not _alive(int(pid)) and entry.is_dir() and not entry.is_symlink() \
                and entry.stat().st_uid == os.getuid():
            left.append(entry)
    if left:
        threading.Thread(target=lambda: [shutil.rmtree(f, ignore_errors=True) for f in left], daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: alive
        return True
    return True

def serve(site: Path, port: Optional[int] = None, search: bool = True) -> int:
    """Serve SITE until Ctrl-C. Without a port, 8000 or the next free one."""
    server, note = open_server(port)
    restore_signals = _stop_on_signals()
    try:
        with terminal_streams():  # from here on, no write to the terminal waits for its reader
            _serve(server, note, site.resolve(), search)
    finally:
        restore_signals()
    return 0


def _serve(server: DevServer, note: str, site: Path, search: bool) -> None:
    _sweep_left_workdirs()
    workdir = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-"))
    room = None
    try:
        room = WritingRoom(site, workdir, server, search)
        if note:
            say(note)
        say(f"dossier: building {site} into {workdir} (removed on exit)")
        room.start()
        say(f"dossier: serving at {room.url} (Ctrl-C to stop)")
        room.run()
    except KeyboardInterrupt:
        pass
    finally:
        if room:
            room.stop()
        else:
            server.server_close()
        shutil.rmtree(workdir, ignore_errors=True)
    say("dossier: stopped")


def _stop_on_signals() -> Callable[[], None]:
    """Ctrl-C and `kill` stop serve, which then cleans up; returns a function restoring the old handlers.

    Only the first of them stops it: any that follow (`timeout` passing its own on
    beside `pkill`'s, a second Ctrl-C) are ignored, so they cannot cut the clean-up short."""
    owner = os.getpid()
    stopping = False

    def interrupt(signum, frame):
        nonlocal stopping
        if os.getpid() != owner:  # a build's forked worker
            if signum == signal.SIGINT:
                signal.default_int_handler(signum, frame)  # as Python's own handler does
            os._exit(128 + signum)  # told to stop by its pool: just stop
        if not stopping:
            stopping = True
            raise KeyboardInterrupt
    previous = {signum: signal.signal(signum, interrupt) for signum in (signal.SIGINT, signal.SIGTERM)}
    return lambda: [signal.signal(signum, handler) for signum, handler in previous.items()]


def open_server(port: Optional[int]) -> tuple[DevServer, str]:
    """Bind 127.0.0.1. An explicit port in use is a usage error; the default moves on.

    Returns the server and a note to print when the default port was taken.
    """
    if port is not None:
        if not 0 <= port <= 65535:
            raise UsageError(f"--port must be from 0 to 65535 (0: any free port), not {port}")
        try:
            return DevServer((HOST, port)), ""
        except OSError as exc:
            raise UsageError(_port_problem(port, exc)) from None
    for candidate in range(DEFAULT_PORT, DEFAULT_PORT + PORTS_TO_TRY):
        try:
            server = DevServer((HOST, candidate))
        except OSError:
            continue
        if candidate == DEFAULT_PORT:
            return server, ""
        return server, f"dossier: port {DEFAULT_PORT} is in use; serving on port {candidate} instead"
    last = DEFAULT_PORT + PORTS_TO_TRY - 1
    raise UsageError(f"ports {DEFAULT_PORT} to {last} are all in use; choose one with --port")


def _port_problem(port: int, exc: OSError) -> str:
    if getattr(exc, "errno", None) in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
        free = next_free_port(port + 1)
        hint = f"; try --port {free}" if free else ""
        return f"port {port} is in use{hint}"
    return f"cannot listen on {HOST}:{port}: {exc.strerror or exc}"


def next_free_port(start: int) -> Optional[int]:
    for candidate in range(start, min(start + 100, 65536)):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((HOST, candidate))
            except OSError:
                continue
            return candidate
    return None


# -- the room: builder, watcher, indexer and server together -------------------

class WritingRoom:
    """Everything `serve` runs, started and stopped in the right order."""

    def __init__(self, site: Path, workdir: Path, server: DevServer, search: bool):
        self.site = site
        self.out = workdir / "site"
        self.live = LiveState(self.out)
        self.server = server
        server.live = self.live
        self.changes = ChangeQueue(exists=lambda rel: os.path.lexists(site / rel))
        self.watcher = SiteWatcher(site, self.changes.push)
        self.indexer = SearchIndexer(workdir, self.live) if search else None
        self.builder = Rebuilder(site, self.out, self.live, self.indexer)
        self.threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server.server_address[1]}/"

    def start(self) -> None:
        self.watcher.start()  # first, so that an edit during the first build is not lost
        self.builder.rebuild(set())
        self._thread(self.server.serve_forever, "dossier-http")
        if self.indexer:
            self._thread(self.indexer.run, "dossier-search")

    def _thread(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name)
        thread.start()
        self.threads.append(thread)

    def run(self) -> None:
        """Rebuild on every change until stopped. Run in the main thread, as `build` is: Ctrl-C stops
        a rebuild under way there and then (one of site.yaml at 10,000 articles takes half a minute)."""
        self._rebuild_on_change()

    def _rebuild_on_change(self) -> None:
        built = True  # since the last tidy-up (the first build too)
        while (changed := self.changes.next_batch(pipeline.TIDY_AFTER if built else None)) is not None:
            if changed:
                self.builder.rebuild(changed)
            else:  # quiet since the last build
                pipeline.tidy()
            built = bool(changed)

    def stop(self) -> None:
        self.watcher.stop()
        self.changes.close()
        if self.indexer:
            self.indexer.close()
        self.live.close()  # ends the open event streams
        if any(t.name == "dossier-http" for t in self.threads):
            self.server.shutdown()
        self.live.wait_streams_closed(timeout=5)
        self.server.server_close()
        for thread in self.threads:
            thread.join(timeout=30)
        self.builder.close()


# -- what the browser sees: the last good build, its version, the errors --------

class LiveState:
    """The served build's version and errors, and the event streams to tell about them."""

    def __init__(self, out: Path):
        self.out = out
        self.instance = secrets.token_hex(4)  # a restarted server is a new build to the page
        self._version = 0  # 0: no good build yet
        self._errors: list[str] = []
        self._search_roots: list[Path] = []  # the newest index's folder first, then the one before
        self._search_version = 0  # bumped with each new index
        self._streams: set[queue.Queue] = set()
        self._closed = False
        self._lock = threading.Lock()

    def snapshot(self) -> tuple[str, list[str], bool]:
        """(build id, error lines, whether a good build exists)."""
        with self._lock:
            return self._build_id(), list(self._errors), self._version > 0

    def _build_id(self) -> str:
        return f"{self.instance}-{self._version}"

    def succeeded(self) -> None:
        with self._lock:
            self._version += 1
            self._errors = []
            self._send(_event("reload", {"build": self._build_id()}))

    def failed(self, errors: list[str]) -> None:
        with self._lock:
            self._errors = list(errors)
            self._send(_event("errors", self._errors_data()))

    def _errors_data(self) -> dict:
        return {"build": self._build_id(), "errors": self._errors, "good": self._version > 0}

    @property
    def search_roots(self) -> tuple[Path, ...]:
        with self._lock:
            return tuple(self._search_roots)

    @property
    def search_version(self) -> int:
        with self._lock:
            return self._search_version

    def set_search_root(self, root: Path) -> list[Path]:
        """Serve /pagefind/ from root from now on; returns the folders no longer served.

        The index before it is still served where the new one has no such file: a page that
        loaded it (reloaded by a rebuild while the new one was being made) names its files,
        by hashes the new one no longer has, until "search" has it reload."""
        with self._lock:
            self._search_roots.insert(0, root)
            gone, self._search_roots = self._search_roots[SEARCH_INDEXES_KEPT:], self._search_roots[:SEARCH_INDEXES_KEPT]
            self._search_version += 1
            self._send(_event("search", {"search": self._search_version}))
            return gone

    def subscribe(self) -> queue.Queue:
        """A new stream starts with the current state: its hello, and the errors if broken."""
        inbox: queue.Queue = queue.Queue()
        with self._lock:
            inbox.put(_event("hello", {"build": self._build_id(), "ok": not self._errors,
                                       "search": self._search_version}))
            if self._errors:
                inbox.put(_event("errors", self._errors_data()))
            if self._closed:
                inbox.put(None)
            self._streams.add(inbox)
        return inbox

    def unsubscribe(self, inbox: queue.Queue) -> None:
        with self._lock:
            self._streams.discard(inbox)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._send(None)

    def wait_streams_closed(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._streams:
                    return
            time.sleep(0.02)

    def _send(self, message: Optional[bytes]) -> None:
        for inbox in self._streams:
            inbox.put(message)


def _event(name: str, data: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode("utf-8")


# -- rebuilding -----------------------------------------------------------------

class Rebuilder:
    """Runs build() and tells the terminal, the browser and the indexer how it went."""

    def __init__(self, site: Path, out: Path, live: LiveState, indexer: Optional[SearchIndexer]):
        self.site, self.out, self.live, self.indexer = site, out, live, indexer
        self._warnings: list[str] = []
        self.kernel = site_watch(site, inputs.PACKAGE)  # None where there is no inotify

    def close(self) -> None:
        if self.kernel:
            self.kernel.close()

    def rebuild(self, changed: set[str]) -> None:
        clock = time.perf_counter()
        try:
            # Indexed in the background instead; the cache kept in memory: no other process reads it.
            result = pipeline.build(self.site, self.out, search=False, progress=_progress(first=not changed),
                                    persist=False, changed=self._vouched(changed))
        except Exception as exc:  # a bug: report it, keep serving
            crash = [describe_crash(exc, self.site)]
            return self._failed(changed, crash, crash, time.perf_counter() - clock)
        elapsed = time.perf_counter() - clock
        diagnostics = result.diagnostics.sorted()
        lines = [str(d) for d in diagnostics]
        errors = [str(d) for d in diagnostics if d.level == "error"]
        if errors:
            return self._failed(changed, lines, errors, elapsed)
        _, old_errors, had_good_build = self.live.snapshot()
        # A save without an edit leaves every page as it was: no reason to disturb the reader.
        same = not (result.changed or _touches_static(changed) or old_errors or not had_good_build)
        if not same:
            self.live.succeeded()  # the browser first: the terminal may be gone (see _print)
        self._report_warnings(lines)
        say(rebuilt_line(changed, result, elapsed, same))
        if not same and self.indexer and result.resolved is not None:  # None: the last build stands, its index too
            self.indexer.submit(self.out, result.resolved)

    def _vouched(self, changed: set[str]) -> Optional[set[str]]:
        """The files the watcher saw change, for the build to look at those alone; None (it looks
        at every file) unless the kernel vouches that it saw them all. Its queue of events
        overflows in a burst of thousands (a checkout, `sed -i` over every article) and drops
        the events after, which watchdog passes over in silence. A queue of our own, read
        here only (watch.SiteWatch), overflows in any burst in which watchdog's did, and says
        so; reading it costs what happened since the last build, not the size of the site."""
        try:
            vouched = self.kernel is None or self.kernel.drain() is not None  # the first drain: None
        except OSError:  # too many folders for the system's limit on watches
            vouched = False
        return changed if changed and vouched else None

    def _failed(self, changed: set[str], lines: list[str], errors: list[str], elapsed: float) -> None:
        """The errors to the browser, over the last good build; every diagnostic to the terminal."""
        had_good_build = self.live.snapshot()[2]
        self.live.failed(errors)
        self._warnings = [line for line in lines if line not in errors]
        for line in lines:
            say_error(line)
        what = f"{_changed_words(changed)}; " if changed else ""
        n = len(errors)
        kept = "still serving the last good build" if had_good_build else "nothing to serve until it is fixed"
        say_error(f"dossier: {what}build failed with {n} error{'s' * (n != 1)} in {elapsed * 1000:.0f} ms; {kept}")

    def _report_warnings(self, warnings: list[str]) -> None:
        """Warnings are printed when they change, not again on every rebuild."""
        if warnings != self._warnings:
            for line in warnings:
                say_error(line)
        self._warnings = warnings


def _progress(first: bool) -> Progress:
    """The first build reports progress as `build` does; rebuilds only on a terminal (one line
    redrawn), never as a page-by-page log. Never failing when the terminal is gone."""
    return Progress(sys.stderr) if first else Progress(sys.stderr, enabled=sys.stderr.isatty())


def _touches_static(changed: set[str]) -> bool:
    """Static files are copied on every build, so build() cannot say whether they changed."""
    return any(p == "static" or p.startswith("static/") for p in changed)


def rebuilt_line(changed: set[str], result: pipeline.BuildResult, elapsed: float, same: bool = False) -> str:
    """What a build did. `same`: no page differs from before (pages made again came out the same)."""
    pages = [_short(p) for p in result.rendered]
    n = len(pages)
    listed = ", ".join(pages[:LISTED_PAGES]) + (f" and {n - LISTED_PAGES} more" if n > LISTED_PAGES else "")
    verb = "built" if not changed else "re-rendered" if same and n else "rebuilt"
    what = f"{_changed_words(changed)}; {verb}" if changed else verb
    warnings = len(result.diagnostics.warnings)
    tail = f" ({warnings} warning{'s' * (warnings != 1)})" if warnings else ""
    detail = f" ({listed})" if pages else ""
    outcome = ("; none changed" if n else "; no page changed") if same else ""
    return f"dossier: {what} {n} page{'s' * (n != 1)}{detail} in {elapsed * 1000:.0f} ms{outcome}{tail}"


def _short(page: str) -> str:
    """articles/x/index.html -> articles/x/ (the home page keeps its name)."""
    if page.endswith("/index.html"):
        return page[: -len("index.html")]
    return page


def _changed_words(changed: set[str]) -> str:
    """What the line names: a folder made with its files in one batch is one change, not many."""
    names = sorted(n for n in changed if not any(parent in changed for parent in _parents(n)))
    if len(names) == 1:
        return f"{names[0]} changed"
    return f"{names[0]} and {len(names) - 1} more changed"


def _parents(rel: str) -> Iterator[str]:
    """content/a/b.md -> content/a, content"""
    while "/" in rel:
        rel = rel.rpartition("/")[0]
        yield rel


def describe_crash(exc: Exception, site: Path) -> str:
    """One `path:line:col: error:` line for a crash during the build.

    A template mistake names its template and line; anything else is a bug in
    dossier, so its traceback goes to the terminal too.
    """
    import jinja2

    if isinstance(exc, jinja2.TemplateSyntaxError) and exc.filename:
        return f"{_site_relative(exc.filename, site)}:{exc.lineno}:1: error: template: {exc.message}"
    if isinstance(exc, jinja2.TemplateError):
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.filename.endswith(".html"):
                return f"{_site_relative(frame.filename, site)}:{frame.lineno}:1: error: template: {exc}"
        return f"templates: error: {exc}"
    traceback.print_exception(exc, file=sys.stderr)
    return f"dossier: error: the build crashed ({type(exc).__name__}: {exc}); this is a bug in dossier"


def _site_relative(filename: str, site: Path) -> str:
    path = Path(filename).resolve()
    for root, label in ((site, ""), (DEFAULT_TEMPLATES.resolve(), "(default templates)/")):
        if path.is_relative_to(root):
            return label + path.relative_to(root).as_posix()
    return filename


# -- watching -------------------------------------------------------------------

RELEVANT_EVENTS = {"created", "modified", "deleted", "moved", "closed"}
# What the watches ask the kernel for: not files opened or closed unwritten, which our own
# builds cause by the thousand (every input read), each an event for the watcher to take in.
WATCHED_EVENTS = [FileCreatedEvent, DirCreatedEvent, FileModifiedEvent, FileDeletedEvent, DirDeletedEvent,
                  FileMovedEvent, DirMovedEvent, FileClosedEvent]


def is_editor_noise(rel: str, folder: bool = False) -> bool:
    """Whether a site-relative path is one no build reads that editors make while saving (swap
    and backup files, locks, autosaves: inputs.read_by_build); below content/ and templates/,
    a hidden one too (load() lists none), or vim's 4913 probe: a file named by digits alone (a
    folder may well be: content/entities/2024/). What static/ copies is never noise."""
    if not inputs.read_by_build(rel):
        return True
    if rel.startswith("static/"):
        return False
    parts = rel.split("/")
    return any(p.startswith(".") for p in parts) or (not folder and parts[-1].isdigit())


class SiteWatcher:
    """Watches site.yaml, content/, templates/ and static/ (nothing else: never the output), and
    the folders of the files that links in them lead to."""

    def __init__(self, site: Path, notify: Callable[[str, bool], None]):
        self.site = site
        self.notify = notify  # (site-relative path, whether its first event made it)
        self.observer = Observer()
        self._watches: dict[str, object] = {}
        self._handler = _Handler(self)
        self._links: dict[str, set[str]] = {}  # a link's target (real path) -> the links to it (site-relative)
        self._target_watches: dict[str, object] = {}  # folders watched for link targets only

    def start(self) -> None:
        # watchdog warns (a screenful) when a folder moved out and back in gets its old watch
        # again; the watch is right, and the warning no news to the writer.
        warnings.filterwarnings("ignore", message="Callback with id", category=RuntimeWarning,
                                module=r"watchdog\.")
        for name in ("watchdog.observers.inotify_c", "watchdog.observers.inotify"):
            logging.getLogger(name).addFilter(_no_overflow_news)
        try:
            self.observer.schedule(self._handler, str(self.site), recursive=False, event_filter=WATCHED_EVENTS)
            for name in WATCHED_DIRS:
                self.watch_folder(name)
                for rel in _links_in(os.path.join(self.site, name), name):
                    self.follow_link(rel)
            self.observer.start()
        except OSError as exc:  # e.g. the system's limit on inotify watches
            say_error(f"dossier: warning: cannot watch {self.site} ({exc.strerror or exc}); "
                      "pages will not rebuild on change")

    def watch_folder(self, name: str) -> None:
        folder = self.site / name
        if not folder.is_dir():
            return
        self.unwatch_folder(name)
        try:
            self._watches[name] = self.observer.schedule(self._handler, str(folder), recursive=True,
                                                         event_filter=WATCHED_EVENTS)
        except OSError:
            pass  # removed again before we could watch it; its parent's watch will tell

    def unwatch_folder(self, name: str) -> None:
        """Stop watching content/ etc.: gone, or about to be watched anew. (A watch follows its
        folder where it is moved, and would tell of edits there as if made here.)"""
        old = self._watches.pop(name, None)
        if old is not None:
            try:
                self.observer.unschedule(old)
            except (KeyError, OSError):
                pass  # already gone with its folder

    def follow_link(self, rel: str) -> None:
        """If the file at `rel` is a link within the site, watch its target too: the kernel tells
        of an edit of the target in the target's folder, not in the link's."""
        self.forget_link(rel)  # led elsewhere before, maybe
        path = os.path.join(self.site, rel)
        if not os.path.islink(path):
            return
        target = os.path.realpath(path)
        if not target.startswith(os.path.join(self.site, "")):
            return  # leads out of the site: the build refuses it
        self._links.setdefault(target, set()).add(rel)
        folder = os.path.dirname(target)
        top = Path(folder).relative_to(self.site).parts[:1]
        if folder == str(self.site) or (top and top[0] in WATCHED_DIRS) or folder in self._target_watches:
            return  # watched already
        try:
            self._target_watches[folder] = self.observer.schedule(self._handler, folder, recursive=False,
                                                                  event_filter=WATCHED_EVENTS)
        except OSError:
            pass  # gone meanwhile: the link leads nowhere, which the build reports

    def forget_link(self, rel: str) -> None:
        """`rel` leads nowhere now (removed, or about to be followed anew): an edit of its old
        target is no news, and a folder watched for targets alone is let go once none is left."""
        for target in [t for t, links in self._links.items() if rel in links]:
            self._links[target].discard(rel)
            if not self._links[target]:
                del self._links[target]
        held = {os.path.dirname(t) for t in self._links}
        for folder in [f for f in self._target_watches if f not in held]:
            try:
                self.observer.unschedule(self._target_watches.pop(folder))
            except (KeyError, OSError):
                pass  # gone with its folder

    def links_to(self, path: str) -> set[str]:
        """The links (site-relative) whose target is at this real path."""
        return self._links.get(path, set())

    def stop(self) -> None:
        if self.observer.is_alive():
            self.observer.stop()
            self.observer.join(timeout=10)

    def relevant(self, path: str, folder: bool = False) -> Optional[str]:
        """The site-relative path if a change there can change the site, else None. `folder`:
        the path is a folder's."""
        try:
            parts = Path(path).relative_to(self.site).parts
        except ValueError:
            return None
        if not parts:
            return None
        rel = "/".join(parts)
        if len(parts) == 1:
            return rel if rel in (SITE_FILE, *WATCHED_DIRS) else None
        return rel if parts[0] in WATCHED_DIRS and not is_editor_noise(rel, folder) else None


def _no_overflow_news(record: logging.LogRecord) -> bool:
    """watchdog logs that the kernel's queue of events overflowed and events were lost; the
    rebuild after it looks at every file (Rebuilder._vouched), so none is, in the end."""
    return "overflowed" not in record.getMessage()


def _links_in(folder: str, rel: str):
    """The site-relative paths of the links below a folder (links to folders not followed)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        sub = f"{rel}/{entry.name}"
        if entry.is_symlink():
            yield sub
        elif entry.is_dir(follow_symlinks=False):
            yield from _links_in(entry.path, sub)


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: SiteWatcher):
        super().__init__()
        self.watcher = watcher

    def on_any_event(self, event) -> None:
        if event.event_type not in RELEVANT_EVENTS:
            return  # not asked for (see WATCHED_EVENTS)
        if event.is_directory and event.event_type in ("modified", "closed"):
            return  # a folder's own timestamps; the file events carry the news
        dest = os.fsdecode(getattr(event, "dest_path", "") or "")
        for path in filter(None, (os.fsdecode(event.src_path), dest)):
            for link in self.watcher.links_to(path):  # a link's target changed: so did the link
                self.watcher.notify(link, False)
            rel = self.watcher.relevant(path, event.is_directory)
            if rel is None:
                continue
            made = event.event_type == "created"
            self.watcher.notify(rel, made)
            if not event.is_directory and (made or path == dest):
                self.watcher.follow_link(rel)  # a new link: watch where it leads
            elif not event.is_directory and event.event_type in ("deleted", "moved"):
                self.watcher.forget_link(rel)
            if rel in WATCHED_DIRS and event.is_directory:
                if made or path == dest:
                    self.watcher.watch_folder(rel)  # content/ etc. (re)created: watch inside it
                elif event.event_type in ("deleted", "moved"):
                    self.watcher.unwatch_folder(rel)


class ChangeQueue:
    """Collects changed paths; hands them out as one batch once they stop coming.

    A path made and gone again within one batch (an editor's or `sed -i`'s temporary file)
    changed nothing: it is left out, if `exists` is given to tell."""

    def __init__(self, quiet: float = DEBOUNCE, exists: Optional[Callable[[str], bool]] = None):
        self.quiet = quiet
        self.exists = exists
        self._changed: set[str] = set()
        self._made: set[str] = set()  # those whose first event in this batch made them
        self._last = 0.0
        self._closed = False
        self._cond = threading.Condition()

    def push(self, path: str, made: bool = False) -> None:
        with self._cond:
            if made and path not in self._changed:
                self._made.add(path)
            self._changed.add(path)
            self._last = time.monotonic()
            self._cond.notify_all()

    def _take(self) -> set[str]:
        batch, made, self._changed, self._made = self._changed, self._made, set(), set()
        if self.exists is None:
            return batch
        return {path for path in batch if path not in made or self.exists(path)}

    def next_batch(self, timeout: Optional[float] = None) -> Optional[set[str]]:
        """Block until a burst of changes is over; None once closed, an empty set after `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._closed:
                if not self._changed:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        return set()
                    self._cond.wait(left)
                    continue
                remaining = self._last + self.quiet - time.monotonic()
                if remaining > 0:
                    self._cond.wait(remaining)
                    continue
                batch = self._take()
                if batch:  # else only temporary files came and went: wait on
                    return batch
            return None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


# -- search -----------------------------------------------------------------------

class SearchIndexer:
    """Indexes each good build in the background; only the newest waiting one counts.

    Pagefind reads a hard-linked snapshot of the build and writes its bundle
    there, so the next rebuild can swap the served folder meanwhile; the
    server takes /pagefind/ from the newest finished snapshot (and the one
    before it, for the files only that one has: see LiveState.set_search_root). The indexing
    runs in a child process in a session of its own, with the Pagefind binary
    it starts, so that stopping serve ends both at once, mid-index or not.
    """

    def __init__(self, workdir: Path, live: LiveState):
        self.workdir = workdir
        self.live = live
        self._pending: Optional[tuple[Path, object]] = None
        self._child: Optional[subprocess.Popen] = None
        self._closed = False
        self._cond = threading.Condition()
        self._serial = itertools.count(1)

    def submit(self, out: Path, resolved) -> None:
        from .search import Searched

        if self._closed:
            return
        searched = Searched.of(resolved)  # what the indexing child needs, not the whole dossier
        snapshot = self.workdir / f"search-{next(self._serial)}"
        link_tree(out, snapshot)
        with self._cond:
            if self._closed:
                shutil.rmtree(snapshot, ignore_errors=True)
                return
            if self._pending:
                shutil.rmtree(self._pending[0], ignore_errors=True)  # superseded before it began
            self._pending = (snapshot, searched)
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            child = self._child
        if child is not None:
            _stop_session(child)

    def _next(self) -> Optional[tuple[Path, object]]:
        with self._cond:
            while self._pending is None and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            job, self._pending = self._pending, None
            return job

    def run(self) -> None:
        from . import search

        try:
            search.find_binary()
        except search.SearchError as exc:
            say_error(f"dossier: warning: search is off: {exc}")
            return self.close()
        while (job := self._next()) is not None:
            self._index(*job)

    def _index(self, snapshot: Path, searched) -> None:
        clock = time.perf_counter()
        outcome = self._index_in_child(snapshot, searched)
        if "pages" not in outcome:
            shutil.rmtree(snapshot, ignore_errors=True)
            if not self._closed:
                say_error(f"dossier: warning: the search index was not updated: {outcome.get('error')}")
            return
        for old in self.live.set_search_root(snapshot):
            shutil.rmtree(old, ignore_errors=True)
        say(f"dossier: search index updated ({outcome['pages']} pages, with {outcome['claims']} claims) "
            f"in {(time.perf_counter() - clock) * 1000:.0f} ms")

    def _index_in_child(self, snapshot: Path, searched) -> dict:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            filter(None, [str(Path(__file__).resolve().parent.parent), os.environ.get("PYTHONPATH")])))
        with self._cond:
            if self._closed:
                return {"error": "stopped"}
            # Its stderr too is read here, then passed on: written to the terminal straight, it
            # would wait for a reader that does not read (see Destination), and the index with it.
            self._child = subprocess.Popen([sys.executable, "-c", INDEX_CHILD], stdin=subprocess.PIPE,
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                           start_new_session=True)
        try:
            answer, told = self._child.communicate(pickle.dumps((str(snapshot), searched), pickle.HIGHEST_PROTOCOL))
        except OSError as exc:  # stopped while we were still sending
            return {"error": str(exc)}
        finally:
            self._child.wait()
            with self._cond:
                code, self._child = self._child.returncode, None
        if told and not self._closed:
            sys.stderr.write(told.decode("utf-8", "replace"))
        try:
            return json.loads(answer.decode("utf-8").strip().splitlines()[-1])
        except (ValueError, IndexError):
            return {"error": f"the indexing process stopped (exit status {code})"}


INDEX_CHILD = "from dossier.serve import index_in_child; index_in_child()"


def index_in_child() -> None:
    """The indexing child: (folder, search.Searched) pickled on stdin, the outcome as JSON on stdout."""
    from . import search

    folder, searched = pickle.load(sys.stdin.buffer)
    try:
        stats = search.index(Path(folder), searched, progress=lambda line: None)
    except Exception as exc:  # reported by the parent as a warning; serving goes on
        print(json.dumps({"error": str(exc) or type(exc).__name__}))
    else:
        print(json.dumps({"pages": stats.pages, "claims": stats.claims}))


def _stop_session(child: subprocess.Popen) -> None:
    """End a child started in a session of its own, and what it started."""
    if child.poll() is not None:
        return
    try:
        os.killpg(child.pid, signal.SIGTERM)
    except (AttributeError, ProcessLookupError, PermissionError):  # no process groups here, or gone
        child.terminate()


def link_tree(src: Path, dst: Path) -> None:
    """A copy of a folder made of hard links (copies where links fail): instant, no extra space."""
    for folder, _dirs, files in os.walk(src):
        target = dst / Path(folder).relative_to(src)
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            try:
                os.link(Path(folder, name), target / name)
            except OSError:
                shutil.copy2(Path(folder, name), target / name)


# -- HTTP -------------------------------------------------------------------------

class DevServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # lets a restart take the port at once; a live listener still blocks it
    live: LiveState

    def __init__(self, address: tuple[str, int]):
        super().__init__(address, DevHandler)

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a closed tab is not news
            super().handle_error(request, client_address)


def _dev_assets() -> dict[str, tuple[bytes, str]]:
    return {name: ((DEV_ASSETS / name).read_bytes(), CONTENT_TYPES[Path(name).suffix])
            for name in ("reload.js", "overlay.css")}


class DevHandler(BaseHTTPRequestHandler):
    """Files of the current build, HTML with the reload script, the event stream."""

    server: DevServer
    server_version = "dossier-serve"
    assets = _dev_assets()

    def log_message(self, format: str, *args) -> None:
        pass  # the terminal is for rebuilds and errors

    def do_GET(self) -> None:
        self.respond(body=True)

    def do_HEAD(self) -> None:
        self.respond(body=False)

    def respond(self, body: bool) -> None:
        split = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(split.path)
        if path == DEV_PREFIX + "events":
            return self.stream_events(body)
        if path.startswith(DEV_PREFIX):
            asset = self.assets.get(path[len(DEV_PREFIX):])
            if asset is None:
                return self.send(HTTPStatus.NOT_FOUND, b"not found\n", CONTENT_TYPES[".txt"], body)
            return self.send(HTTPStatus.OK, *asset, body)
        build, errors, good = self.server.live.snapshot()  # before reading: the page is never older than this
        search = self.server.live.search_version
        if not good:
            return self.no_build_yet(path, inject(placeholder_page(), build, errors, search, good=False), body)
        status, file = locate(self.server.live, path)
        if status == HTTPStatus.MOVED_PERMANENTLY:
            return self.redirect(split.path + "/" + (f"?{split.query}" if split.query else ""))
        if file and not content_type(file).startswith("text/html") and self.send_file(file, body):
            return
        try:
            data = file.read_bytes() if file else b""  # a page: the reload script goes in
        except OSError:  # swapped away by a rebuild between look-up and read
            status, data, file = HTTPStatus.NOT_FOUND, b"", None
        if status == HTTPStatus.NOT_FOUND and path == "/favicon.ico":
            return self.send(HTTPStatus.NO_CONTENT, b"", "image/x-icon", body)  # browsers ask on every load
        if status == HTTPStatus.NOT_FOUND:
            file = self.server.live.out / "404.html"
            data = file.read_bytes() if file.is_file() else b"<!doctype html><title>Not found</title><h1>Not found</h1>"
        ctype = content_type(file or Path("404.html"))
        if ctype.startswith("text/html"):
            data = inject(data, build, errors, search)
        if status == HTTPStatus.OK:
            return self.send_ranged(data, ctype, body)
        self.send(status, data, ctype, body)

    def no_build_yet(self, path: str, placeholder: bytes, body: bool) -> None:
        """Before the first good build: pages show the errors, other files are not there yet."""
        if path == "/favicon.ico":
            return self.send(HTTPStatus.NO_CONTENT, b"", "image/x-icon", body)
        if _names_a_page(path):
            return self.send(HTTPStatus.OK, placeholder, CONTENT_TYPES[".html"], body)
        self.send(HTTPStatus.SERVICE_UNAVAILABLE, b"The site has not built yet: the build failed (see the terminal).\n",
                  CONTENT_TYPES[".txt"], body, {"Retry-After": "1"})

    def send_ranged(self, data: bytes, ctype: str, body: bool) -> None:
        """A page, or the part of it a Range header asks for."""
        status, span, extra = self.asked_range(len(data))
        self.send(status, data[span.start:span.stop], ctype, body, extra)

    def send_file(self, file: Path, body: bool) -> bool:
        """A file other than a page, or the part of it a Range header asks for, sent from the disk:
        a player seeking in a video of gigabytes asks for a few bytes at a time, several requests
        at once, and none may read the whole file. False if a rebuild took it away meanwhile.
        The file once open is the one sent to the end, whatever a rebuild puts in its place."""
        try:
            f = open(file, "rb")
        except OSError:
            return False
        with f:
            status, span, extra = self.asked_range(os.fstat(f.fileno()).st_size)
            self.send_headers(status, content_type(file), len(span), extra)
            if body and span:
                self.connection.sendfile(f, span.start, len(span))
        return True

    def asked_range(self, size: int) -> tuple[HTTPStatus, range, dict[str, str]]:
        """What the Range header asks of `size` bytes (media players seek so): the status, the
        bytes to send and the headers that say which."""
        span = None if "If-Range" in self.headers else byte_range(self.headers.get("Range"), size)
        if span is None:
            return HTTPStatus.OK, range(size), {"Accept-Ranges": "bytes"}
        if not span:
            return HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, span, {"Content-Range": f"bytes */{size}"}
        return HTTPStatus.PARTIAL_CONTENT, span, {"Accept-Ranges": "bytes",
                                                  "Content-Range": f"bytes {span.start}-{span.stop - 1}/{size}"}

    def send(self, status: HTTPStatus, data: bytes, ctype: str, body: bool,
             extra: Optional[dict[str, str]] = None) -> None:
        self.send_headers(status, ctype, len(data), extra)
        if body:
            self.wfile.write(data)

    def send_headers(self, status: HTTPStatus, ctype: str, length: int, extra: Optional[dict[str, str]] = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()

    def redirect(self, location: str) -> None:
        self.send_response(HTTPStatus.MOVED_PERMANENTLY)
        self.send_header("Location", urllib.parse.quote(location, safe="/?=&%#"))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def stream_events(self, body: bool) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.close_connection = True  # a stream has no length: it ends with its connection
        if not body:  # HEAD: the headers alone
            return
        inbox = self.server.live.subscribe()
        try:
            self.wfile.write(b"retry: 1000\n\n")
            while True:
                try:
                    message = inbox.get(timeout=HEARTBEAT)
                except queue.Empty:
                    message = b": still here\n\n"  # finds closed tabs, keeps proxies from timing out
                if message is None:
                    return
                self.wfile.write(message)
        except (ConnectionError, OSError):
            pass  # the tab was closed
        finally:
            self.server.live.unsubscribe(inbox)


_RANGE = re.compile(r"bytes=([0-9]{0,18})-([0-9]{0,18})")  # longer: no file is that large; ignored


def byte_range(header: Optional[str], size: int) -> Optional[range]:
    """The bytes a single range (`bytes=a-b`, `bytes=a-`, `bytes=-n`) asks for of `size`; an empty
    range if none of them exist (416); None for the whole file: no Range, or one of another kind
    (several ranges, other units), which a server may ignore (RFC 9110, 14.2)."""
    match = _RANGE.fullmatch(header.strip()) if header else None
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if not first:  # the last n bytes
        return range(max(size - int(last), 0), size)
    start, end = int(first), min(int(last) + 1, size) if last else size
    if last and int(last) < start:
        return None  # not a valid range: ignored
    return range(start, end) if start < size else range(0)


def _names_a_page(url_path: str) -> bool:
    """Whether a URL path is one of a page (a folder, .html), as far as its name tells."""
    name = url_path.rpartition("/")[2]
    return "." not in name or name.lower().endswith((".html", ".htm"))


def locate(live: LiveState, url_path: str) -> tuple[HTTPStatus, Optional[Path]]:
    """The file for a URL path: folders give their index.html; hidden files are not served, but
    those a build copies from static/ (.well-known/)."""
    parts = [p for p in url_path.split("/") if p]
    if any(p in (".", "..") or (p.startswith(".") and not inputs.copied(p)) or "\\" in p or "\0" in p for p in parts):
        return HTTPStatus.NOT_FOUND, None
    try:
        return _look_up(live, url_path, parts)
    except OSError:  # a name too long for the file system (ENAMETOOLONG), say: no such file
        return HTTPStatus.NOT_FOUND, None


def _look_up(live: LiveState, url_path: str, parts: list[str]) -> tuple[HTTPStatus, Optional[Path]]:
    root = live.out
    if parts and parts[0] == "pagefind":
        for root in live.search_roots:  # the newest index first; the one before for what it alone has
            if root.joinpath(*parts).is_file():
                break
    file = root.joinpath(*parts)
    if file.is_dir():
        if not url_path.endswith("/"):
            return HTTPStatus.MOVED_PERMANENTLY, None
        file = file / "index.html"
    elif url_path.endswith("/"):
        return HTTPStatus.NOT_FOUND, None  # a file is no folder: /index.html/ is not /index.html
    return (HTTPStatus.OK, file) if file.is_file() else (HTTPStatus.NOT_FOUND, None)


def content_type(path: Path) -> str:
    suffix = path.suffix.lower()
    known = CONTENT_TYPES.get(suffix) or PYTHON_TYPES[True].get(suffix) or PYTHON_TYPES[False].get(suffix)
    if known is None:
        return "application/octet-stream"
    return f"{known}; charset=utf-8" if known.startswith("text/") and "charset" not in known else known


_HEAD_END = re.compile(rb"</head\s*>", re.IGNORECASE)
_BODY_START = re.compile(rb"<body\b[^>]*>", re.IGNORECASE)


def inject(page: bytes, build: str, errors: list[str], search: int = 0, good: bool = True) -> bytes:
    """Add the reload script and overlay style to a page; with errors, the overlay itself.
    `good`: whether there is a good build (the page is then its page)."""
    head = (f'<link rel="stylesheet" href="{DEV_PREFIX}overlay.css">'
            f'<script src="{DEV_PREFIX}reload.js" data-build="{html.escape(build)}" data-search="{search}" defer>'
            '</script>').encode()
    match = _HEAD_END.search(page) or _BODY_START.search(page)  # never before a doctype: quirks mode
    at = (match.start() if match.re is _HEAD_END else match.end()) if match else len(page)
    page = page[:at] + head + page[at:]
    if errors:
        match = _BODY_START.search(page)
        at = match.end() if match else len(page)
        # A file named in another encoding than UTF-8 is named as the terminal names it (caf\udce9.md).
        page = page[:at] + overlay_html(errors, good).encode("utf-8", "backslashreplace") + page[at:]
    return page


def overlay_html(errors: list[str], good: bool = True) -> str:
    n = len(errors)
    lines = "\n".join(html.escape(line) for line in errors)
    return ('<div id="dossier-overlay" role="alert"><div class="dossier-overlay-box">'
            f'<p class="dossier-overlay-title">The build failed ({n} error{"s" * (n != 1)}). '
            f'{_FAILED_SHOWING[good]}; it reloads once the files are fixed.</p>'
            f'<pre class="dossier-overlay-errors">{lines}</pre>'
            '<button type="button" class="dossier-overlay-hide">Hide</button></div></div>')


# What the page under the errors is (reload.js says the same).
_FAILED_SHOWING = {True: "This is the last good build", False: "There is no good build yet"}


def placeholder_page() -> bytes:
    """What every page shows until the first good build."""
    return (b'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            b'<meta name="viewport" content="width=device-width, initial-scale=1">'
            b"<title>Waiting for a good build</title></head><body><main>"
            b"<h1>Waiting for a good build</h1>"
            b"<p>The site has not built yet. Fix the errors and this page reloads.</p>"
            b"</main></body></html>")
