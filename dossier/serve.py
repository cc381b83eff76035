"""`serve`: build, serve on 127.0.0.1, rebuild on change, reload the browser.

The site is built into a temporary folder (never SITE/output, so a dev
build cannot be published by mistake), removed on exit. A watchdog
observer watches site.yaml, content/, templates/ and static/; a burst of
events (editors save through temporary files and renames) becomes one
rebuild once the files have been quiet for DEBOUNCE seconds. One thread
rebuilds, so rebuilds never overlap; a change during a rebuild triggers one
more. `build()` is incremental: it re-renders only the pages whose inputs
changed and links the rest from the previous output.

HTML responses get a script (/__dossier/reload.js) injected at serve time,
never on disk. It listens to /__dossier/events (Server-Sent Events):
"reload" after a good rebuild, "errors" after a failed one. While the build
is broken the last good site stays up, with the errors laid over each page.
The search index is refreshed after each good rebuild in the background;
"search" tells the pages once a new index is served, and those that loaded
the old one reload (a page reloads on "reload" before the index is made).
"""

from __future__ import annotations

import html
import itertools
import json
import os
import pickle
import queue
import re
import secrets
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
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Optional

from watchdog.events import (DirCreatedEvent, DirDeletedEvent, DirMovedEvent, FileClosedEvent, FileCreatedEvent,
                             FileDeletedEvent, FileModifiedEvent, FileMovedEvent, FileSystemEventHandler)
from watchdog.observers import Observer

from . import build as pipeline
from . import inputs
from .progress import Progress
from .render import DEFAULT_TEMPLATES
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
}

def say(line: str) -> None:
    print(line, flush=True)


def say_error(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# -- the entry point ------------------------------------------------------------

def serve(site: Path, port: Optional[int] = None, search: bool = True) -> int:
    """Serve SITE until Ctrl-C. Without a port, 8000 or the next free one."""
    server, note = open_server(port)
    site = site.resolve()
    workdir = Path(tempfile.mkdtemp(prefix="dossier-serve-"))
    restore_signals = _stop_on_signals()
    room = None
    try:
        room = WritingRoom(site, workdir, server, search)
        if note:
            say(note)
        say(f"dossier: building {site} into {workdir} (removed on exit)")
        room.start()
        say(f"dossier: serving at {room.url} (Ctrl-C to stop)")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        try:
            if room:
                room.stop()
            else:
                server.server_close()
            shutil.rmtree(workdir, ignore_errors=True)
        finally:
            restore_signals()
    say("dossier: stopped")
    return 0


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
        self.changes = ChangeQueue()
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
        self._thread(self._rebuild_on_change, "dossier-rebuild")
        if self.indexer:
            self._thread(self.indexer.run, "dossier-search")

    def _thread(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name)
        thread.start()
        self.threads.append(thread)

    def _rebuild_on_change(self) -> None:
        while (changed := self.changes.next_batch()) is not None:
            self.builder.rebuild(changed)

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
            self._send(_event("errors", {"build": self._build_id(), "errors": self._errors}))

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
                inbox.put(_event("errors", {"build": self._build_id(), "errors": self._errors}))
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

    def rebuild(self, changed: set[str]) -> None:
        clock = time.perf_counter()
        try:
            # Indexed in the background instead; the cache kept in memory: no other process reads it.
            result = pipeline.build(self.site, self.out, search=False, progress=_progress(first=not changed),
                                    persist=False, changed=changed or None)
        except Exception as exc:  # a bug: report it, keep serving
            crash = [describe_crash(exc, self.site)]
            return self._failed(changed, crash, crash, time.perf_counter() - clock)
        elapsed = time.perf_counter() - clock
        diagnostics = result.diagnostics.sorted()
        lines = [str(d) for d in diagnostics]
        errors = [str(d) for d in diagnostics if d.level == "error"]
        if errors:
            return self._failed(changed, lines, errors, elapsed)
        self._report_warnings(lines)
        _, old_errors, had_good_build = self.live.snapshot()
        if not (result.changed or _touches_static(changed) or old_errors or not had_good_build):
            say(rebuilt_line(changed, result, elapsed) + "; no page changed")
            return  # a save without an edit: no reason to disturb the reader
        say(rebuilt_line(changed, result, elapsed))
        self.live.succeeded()
        if self.indexer and result.resolved is not None:  # None: the last build stands, its index too
            self.indexer.submit(self.out, result.resolved)

    def _failed(self, changed: set[str], lines: list[str], errors: list[str], elapsed: float) -> None:
        """Every diagnostic to the terminal; the errors to the browser, over the last good build."""
        for line in lines:
            say_error(line)
        what = f"{_changed_words(changed)}; " if changed else ""
        n = len(errors)
        kept = "still serving the last good build" if self.live.snapshot()[2] else "nothing to serve until it is fixed"
        say_error(f"dossier: {what}build failed with {n} error{'s' * (n != 1)} in {elapsed * 1000:.0f} ms; {kept}")
        self._warnings = [line for line in lines if line not in errors]
        self.live.failed(errors)

    def _report_warnings(self, warnings: list[str]) -> None:
        """Warnings are printed when they change, not again on every rebuild."""
        if warnings != self._warnings:
            for line in warnings:
                say_error(line)
        self._warnings = warnings


def _progress(first: bool) -> Optional[Progress]:
    """The first build reports progress as `build` does; rebuilds only on a terminal (one line
    redrawn), never as a page-by-page log."""
    return None if first else Progress(enabled=sys.stderr.isatty())


def _touches_static(changed: set[str]) -> bool:
    """Static files are copied on every build, so build() cannot say whether they changed."""
    return any(p == "static" or p.startswith("static/") for p in changed)


def rebuilt_line(changed: set[str], result: pipeline.BuildResult, elapsed: float) -> str:
    pages = [_short(p) for p in result.rendered]
    n = len(pages)
    listed = ", ".join(pages[:LISTED_PAGES]) + (f" and {n - LISTED_PAGES} more" if n > LISTED_PAGES else "")
    what = f"{_changed_words(changed)}; rebuilt" if changed else "built"
    warnings = len(result.diagnostics.warnings)
    tail = f" ({warnings} warning{'s' * (warnings != 1)})" if warnings else ""
    detail = f" ({listed})" if pages else ""
    return f"dossier: {what} {n} page{'s' * (n != 1)}{detail} in {elapsed * 1000:.0f} ms{tail}"


def _short(page: str) -> str:
    """articles/x/index.html -> articles/x/ (the home page keeps its name)."""
    if page.endswith("/index.html"):
        return page[: -len("index.html")]
    return page


def _changed_words(changed: set[str]) -> str:
    names = sorted(changed)
    if len(names) == 1:
        return f"{names[0]} changed"
    return f"{names[0]} and {len(names) - 1} more changed"


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


def is_editor_noise(name: str) -> bool:
    """Files editors make while saving: swap and backup files, lock files, vim's 4913 probe."""
    return name.startswith((".", "#")) or name.endswith(inputs.EDITOR_ENDINGS) or name.isdigit()


class SiteWatcher:
    """Watches site.yaml, content/, templates/ and static/ (nothing else: never the output)."""

    def __init__(self, site: Path, notify: Callable[[str], None]):
        self.site = site
        self.notify = notify
        self.observer = Observer()
        self._watches: dict[str, object] = {}

    def start(self) -> None:
        handler = _Handler(self)
        try:
            self.observer.schedule(handler, str(self.site), recursive=False, event_filter=WATCHED_EVENTS)
            for name in WATCHED_DIRS:
                self.watch_folder(name, handler)
            self.observer.start()
        except OSError as exc:  # e.g. the system's limit on inotify watches
            say_error(f"dossier: warning: cannot watch {self.site} ({exc.strerror or exc}); "
                      "pages will not rebuild on change")

    def watch_folder(self, name: str, handler) -> None:
        folder = self.site / name
        if not folder.is_dir():
            return
        old = self._watches.pop(name, None)
        if old is not None:
            try:
                self.observer.unschedule(old)
            except (KeyError, OSError):
                pass  # already gone with its folder
        try:
            self._watches[name] = self.observer.schedule(handler, str(folder), recursive=True,
                                                         event_filter=WATCHED_EVENTS)
        except OSError:
            pass  # removed again before we could watch it; its parent's watch will tell

    def stop(self) -> None:
        if self.observer.is_alive():
            self.observer.stop()
            self.observer.join(timeout=10)

    def relevant(self, path: str) -> Optional[str]:
        """The site-relative path if a change there can change the site, else None."""
        try:
            parts = Path(path).relative_to(self.site).parts
        except ValueError:
            return None
        if parts and parts[0] == "static":  # what a build copies of it (hidden files too), as the build tells
            return "/".join(parts) if inputs.read_by_build("/".join(parts)) else None
        if not parts or any(is_editor_noise(p) for p in parts):
            return None
        if len(parts) == 1:
            return parts[0] if parts[0] in (SITE_FILE, *WATCHED_DIRS) else None
        return "/".join(parts) if parts[0] in WATCHED_DIRS else None


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: SiteWatcher):
        super().__init__()
        self.watcher = watcher

    def on_any_event(self, event) -> None:
        if event.event_type not in RELEVANT_EVENTS:
            return  # not asked for (see WATCHED_EVENTS)
        if event.is_directory and event.event_type in ("modified", "closed"):
            return  # a folder's own timestamps; the file events carry the news
        paths = [event.src_path, getattr(event, "dest_path", "")]
        for path in filter(None, paths):
            rel = self.watcher.relevant(os.fsdecode(path))
            if rel is None:
                continue
            self.watcher.notify(rel)
            if rel in WATCHED_DIRS and event.is_directory and event.event_type in ("created", "moved"):
                self.watcher.watch_folder(rel, self)  # content/ etc. (re)created: watch inside it


class ChangeQueue:
    """Collects changed paths; hands them out as one batch once they stop coming."""

    def __init__(self, quiet: float = DEBOUNCE):
        self.quiet = quiet
        self._changed: set[str] = set()
        self._last = 0.0
        self._closed = False
        self._cond = threading.Condition()

    def push(self, path: str) -> None:
        with self._cond:
            self._changed.add(path)
            self._last = time.monotonic()
            self._cond.notify_all()

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
                batch, self._changed = self._changed, set()
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
        if self._closed:
            return
        snapshot = self.workdir / f"search-{next(self._serial)}"
        link_tree(out, snapshot)
        with self._cond:
            if self._closed:
                shutil.rmtree(snapshot, ignore_errors=True)
                return
            if self._pending:
                shutil.rmtree(self._pending[0], ignore_errors=True)  # superseded before it began
            self._pending = (snapshot, resolved)
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

    def _index(self, snapshot: Path, resolved) -> None:
        clock = time.perf_counter()
        outcome = self._index_in_child(snapshot, resolved)
        if "pages" not in outcome:
            shutil.rmtree(snapshot, ignore_errors=True)
            if not self._closed:
                say_error(f"dossier: warning: the search index was not updated: {outcome.get('error')}")
            return
        for old in self.live.set_search_root(snapshot):
            shutil.rmtree(old, ignore_errors=True)
        say(f"dossier: search index updated ({outcome['pages']} pages, with {outcome['claims']} claims) "
            f"in {(time.perf_counter() - clock) * 1000:.0f} ms")

    def _index_in_child(self, snapshot: Path, resolved) -> dict:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            filter(None, [str(Path(__file__).resolve().parent.parent), os.environ.get("PYTHONPATH")])))
        with self._cond:
            if self._closed:
                return {"error": "stopped"}
            self._child = subprocess.Popen([sys.executable, "-c", INDEX_CHILD], stdin=subprocess.PIPE,
                                           stdout=subprocess.PIPE, env=env, start_new_session=True)
        try:
            answer, _ = self._child.communicate(pickle.dumps((str(snapshot), resolved), pickle.HIGHEST_PROTOCOL))
        except OSError as exc:  # stopped while we were still sending
            return {"error": str(exc)}
        finally:
            self._child.wait()
            with self._cond:
                code, self._child = self._child.returncode, None
        try:
            return json.loads(answer.decode("utf-8").strip().splitlines()[-1])
        except (ValueError, IndexError):
            return {"error": f"the indexing process stopped (exit status {code})"}


INDEX_CHILD = "from dossier.serve import index_in_child; index_in_child()"


def index_in_child() -> None:
    """The indexing child: (folder, resolved) pickled on stdin, the outcome as JSON on stdout."""
    from . import search

    folder, resolved = pickle.load(sys.stdin.buffer)
    try:
        stats = search.index(Path(folder), resolved, progress=lambda line: None)
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
            return self.stream_events()
        if path.startswith(DEV_PREFIX):
            asset = self.assets.get(path[len(DEV_PREFIX):])
            if asset is None:
                return self.send(HTTPStatus.NOT_FOUND, b"not found\n", CONTENT_TYPES[".txt"], body)
            return self.send(HTTPStatus.OK, *asset, body)
        build, errors, good = self.server.live.snapshot()  # before reading: the page is never older than this
        search = self.server.live.search_version
        if not good:
            return self.send(HTTPStatus.OK, inject(placeholder_page(), build, errors, search),
                             CONTENT_TYPES[".html"], body)
        status, file = locate(self.server.live, path)
        if status == HTTPStatus.MOVED_PERMANENTLY:
            return self.redirect(split.path + "/" + (f"?{split.query}" if split.query else ""))
        try:
            data = file.read_bytes() if file else b""
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
        self.send(status, data, ctype, body)

    def send(self, status: HTTPStatus, data: bytes, ctype: str, body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def redirect(self, location: str) -> None:
        self.send_response(HTTPStatus.MOVED_PERMANENTLY)
        self.send_header("Location", urllib.parse.quote(location, safe="/?=&%#"))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def stream_events(self) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
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
            self.close_connection = True


def locate(live: LiveState, url_path: str) -> tuple[HTTPStatus, Optional[Path]]:
    """The file for a URL path: folders give their index.html; hidden files are not served, but
    those a build copies from static/ (.well-known/)."""
    parts = [p for p in url_path.split("/") if p]
    if any(p in (".", "..") or (p.startswith(".") and not inputs.copied(p)) or "\\" in p or "\0" in p for p in parts):
        return HTTPStatus.NOT_FOUND, None
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
    return (HTTPStatus.OK, file) if file.is_file() else (HTTPStatus.NOT_FOUND, None)


def content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")


_HEAD_END = re.compile(rb"</head\s*>", re.IGNORECASE)
_BODY_START = re.compile(rb"<body\b[^>]*>", re.IGNORECASE)


def inject(page: bytes, build: str, errors: list[str], search: int = 0) -> bytes:
    """Add the reload script and overlay style to a page; with errors, the overlay itself."""
    head = (f'<link rel="stylesheet" href="{DEV_PREFIX}overlay.css">'
            f'<script src="{DEV_PREFIX}reload.js" data-build="{html.escape(build)}" data-search="{search}" defer>'
            '</script>').encode()
    match = _HEAD_END.search(page) or _BODY_START.search(page)  # never before a doctype: quirks mode
    at = (match.start() if match.re is _HEAD_END else match.end()) if match else len(page)
    page = page[:at] + head + page[at:]
    if errors:
        match = _BODY_START.search(page)
        at = match.end() if match else len(page)
        page = page[:at] + overlay_html(errors).encode("utf-8") + page[at:]
    return page


def overlay_html(errors: list[str]) -> str:
    n = len(errors)
    lines = "\n".join(html.escape(line) for line in errors)
    return ('<div id="dossier-overlay" role="alert"><div class="dossier-overlay-box">'
            f'<p class="dossier-overlay-title">The build failed ({n} error{"s" * (n != 1)}). '
            'This is the last good build; it reloads once the files are fixed.</p>'
            f'<pre class="dossier-overlay-errors">{lines}</pre>'
            '<button type="button" class="dossier-overlay-hide">Hide</button></div></div>')


def placeholder_page() -> bytes:
    """What every page shows until the first good build."""
    return (b'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            b'<meta name="viewport" content="width=device-width, initial-scale=1">'
            b"<title>Waiting for a good build</title></head><body><main>"
            b"<h1>Waiting for a good build</h1>"
            b"<p>The site has not built yet. Fix the errors and this page reloads.</p>"
            b"</main></body></html>")
