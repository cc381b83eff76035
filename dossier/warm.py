"""The warm process: a build that stays running between builds (`build --warm`).

A build in a new process reads its cache back, resolves the whole dossier
again and renders what changed: at 10,000 articles some 2 s, most of it
reading the cache (docs/benchmarks.md). A warm process keeps all of that in
memory, as serve does. `build --warm` starts one for its site and output if
none runs; while it runs, every `build` of that site into that output
(with or without --warm) is handed to it over a Unix socket in a folder only
this user can open, and prints what the build prints. It learns which files
changed from the kernel (watch.py), or by their stamps where it cannot (an
os.stat of each, no reading), builds as serve does (the cache stays in
memory, so the output holds none meanwhile) and, when it stops, writes its
cache into the output: a build in a new process goes on from there.
`build --warm --no-search` with nothing to build goes through the build all
the same, to hold it from the start.

It stops after IDLE seconds without a build, on `stop`, on SIGTERM, SIGINT
or SIGHUP, once its site's folder is gone (moved or removed), or when a build
asks with other code of Dossier (an upgrade, another copy of it) or another
Python, or once a library it uses was upgraded: that build starts a new one
if it has --warm. Builds that come as it stops are told to ask again. If
another process writes the output meanwhile, its next build reads the
output's cache again instead of trusting memory.

This module is imported by every command, before the pipeline: the part that
hands a build over imports nothing heavy, so a handed-over build pays little
more than the interpreter's start.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import select
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Optional

DEFAULT_IDLE = 30 * 60.0


def _idle_seconds(value: Optional[str]) -> Optional[float]:
    """DOSSIER_WARM_IDLE as seconds (`inf`: never idle); None if it is no number of seconds."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None  # (not NaN either)


def _idle() -> float:
    """Seconds without a build before it stops: DOSSIER_WARM_IDLE, or half an hour (also if that is
    no number of seconds: every command imports this module, and none fails for it)."""
    given = _idle_seconds(os.environ.get("DOSSIER_WARM_IDLE"))
    return DEFAULT_IDLE if given is None else given


IDLE = _idle()
START_WAIT = 15.0  # seconds a build waits for a warm process it started to listen
REQUEST_WAIT = 5.0  # seconds the warm process waits for a build that connected to say what it wants
SAY_WAITING = 1.0  # seconds a build handed over waits for the warm process to take it before it says it waits
SITE_LOOK = 60.0  # seconds between two looks, while idle, at whether the site's folder is still there
PACKAGE = Path(__file__).parent
_RESTART = "restart"  # its answer to a build with other code, or that came as it stopped: ask again
_TAKEN = "taken"  # its first answer to a build it makes (or a `stop`): the build is no longer waiting


def code_digest() -> str:
    """A digest of Dossier's own code: a cache, or a warm process, made by other code is not trusted."""
    h = hashlib.blake2b(digest_size=8)
    for path in sorted(PACKAGE.rglob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()


# The libraries whose behaviour shapes the output (their distributions' names): a cache, or a
# warm process, made with other versions of them is not trusted either.
LIBRARIES = ("jinja2", "markupsafe", "mistune", "pyyaml", "nh3", "pyahocorasick")


def library_versions() -> str:
    """Python's version and those of LIBRARIES as installed now: read from disk at each call,
    so a warm process tells an upgrade made while it runs (its own modules are the old ones)."""
    from importlib import metadata  # not on the path of a build handed over: some 10 ms

    found = [f"python={sys.version.split()[0]}"]
    for name in LIBRARIES:
        try:
            found.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name}=?")
    return " ".join(found)


def _running_code() -> str:
    """Dossier's code, where it lies (another copy of the same code may hold other templates and
    assets, which the warm process would not read), the Python that runs it (another
    environment may hold other libraries) and the search binary it is told to run."""
    search = os.environ.get("PAGEFIND_BINARY_PATH")
    return f"{code_digest()} {PACKAGE.resolve()} {sys.executable} {sys.version} {search}"


def socket_path(site: Path, out: Path) -> Optional[Path]:
    """Where the warm process of this site and output listens; None where there can be none
    (no Unix sockets, or no folder that only this user can open)."""
    folder = private_folder() if hasattr(socket, "AF_UNIX") else None
    if folder is None:
        return None
    key = hashlib.blake2b(f"{site.resolve()}\0{out.resolve()}".encode(), digest_size=10).hexdigest()
    return folder / f"{key}.sock"


def private_folder() -> Optional[Path]:
    """A folder of this user's that no one else can open ($XDG_RUNTIME_DIR/dossier-UID, or in the
    system's temporary folder), made if need be; None where there is none."""
    if not hasattr(os, "getuid"):
        return None
    folder = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()) / f"dossier-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(folder)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return None  # someone else's, or open to others: nothing of ours goes there
    return folder


# ---------------------------------------------------------------- the build that hands over


def hand_over(argv: list[str], site: Path, out: Path, start: bool) -> Optional[int]:
    """Run this build in the warm process of `site` and `out`, starting one if `start` and none
    runs; its exit status, or None if no warm process took it (the caller builds itself)."""
    path = socket_path(site, out)
    if path is None:
        if start:
            print("dossier: warning: no warm process here (no private folder for its socket); "
                  "building in this process", file=sys.stderr)
        return None
    try:
        cwd = os.getcwd()
    except OSError:  # the folder it runs in was removed: the warm process could not go there
        return None
    request = {"code": _running_code(), "argv": argv, "cwd": cwd, "tty": _is_terminal(sys.stderr),
               "site": str(site.resolve()), "out": str(out.resolve())}
    for _ in range(3):  # a warm process with other code, or one stopping, ends first: then one more try
        conn = _reach(path, site, out, start)
        if conn is None:
            return None
        answer = _ask(conn, request)
        if answer == _RESTART:
            _wait_gone(path)
            continue
        if answer is None:  # it ended as it made this build (a bug; kill -9): made here, once it is gone
            _wait_gone(path)
            _clear_left_behind(path)
            print(f"dossier: warning: the warm process stopped during the build{_see_log(path)}; "
                  "building in this process", file=sys.stderr)
        return answer
    return None


def _reach(path: Path, site: Path, out: Path, start: bool) -> Optional[socket.socket]:
    """A connection to the warm process at `path`, started first if `start` and none runs."""
    conn = _connect(path)
    if conn is None and _clear_left_behind(path):
        print("dossier: warning: the warm process of this build had been killed, and what it held in memory "
              "with it", file=sys.stderr)
    if conn is None and start:
        conn = _connect(path, wait=START_WAIT, starting=_start(site, out, path))
        if conn is None:
            print(f"dossier: warning: the warm process did not start{_see_log(path)}; building in this process",
                  file=sys.stderr)
    return conn


def stop(site: Path, out: Path) -> bool:
    """Ask the warm process of `site` and `out` to stop; True if one did (once its cache is written)."""
    path = socket_path(site, out)
    conn = _connect(path) if path is not None else None
    if conn is None:
        return False
    _ask(conn, {"code": _running_code(), "stop": True, "site": str(site.resolve()), "out": str(out.resolve())})
    _wait_gone(path)
    return True


def _is_terminal(stream) -> bool:
    """Whether `stream` is a terminal: what the build prints there (its progress) is made for one."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no stream, or a closed one
        return False


def _see_log(path: Path) -> str:
    """Where the warm process at `path` said why it failed, if it said anything."""
    log = path.with_suffix(".log")
    try:
        return f" (see {log})" if log.stat().st_size else ""
    except OSError:
        return ""


def _connect(path: Path, wait: float = 0.0, starting: Optional[subprocess.Popen] = None) -> Optional[socket.socket]:
    """A connection to the warm process at `path`, waiting up to `wait` seconds for it to listen;
    not longer than `starting` (the warm process this build started) runs, if it failed."""
    deadline = time.monotonic() + wait
    while True:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(str(path))
            return conn
        except OSError:
            conn.close()
        if time.monotonic() >= deadline or (starting is not None and starting.poll()):
            return None  # (one that ended well found another starting: that one is waited for)
        time.sleep(0.02)


def _clear_left_behind(path: Path) -> bool:
    """Remove the socket and lock (and empty log) left by a warm process that could not remove
    them as it stopped (kill -9, the system out of memory); True if there were such. Its lock,
    which the process holds as long as it runs, tells: one that is starting has it already."""
    import fcntl

    lock_path = path.with_suffix(".lock")
    try:
        with open(lock_path, "rb") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if not path.exists() or not still_at(lock, lock_path):
                return False
            path.unlink()
            _remove_if_empty(path.with_suffix(".log"))
            lock_path.unlink()  # while held: one starting meanwhile finds it gone, and takes the next
            return True
    except OSError:  # none, or held: its process runs
        return False


def _start(site: Path, out: Path, path: Path) -> subprocess.Popen:
    """Start a warm process, on its own: it outlives this one and the terminal."""
    given = os.environ.get("DOSSIER_WARM_IDLE")
    if given is not None and _idle_seconds(given) is None:
        print(f"dossier: warning: DOSSIER_WARM_IDLE={given!r} is no number of seconds; the warm process "
              f"stops after {DEFAULT_IDLE / 60:g} minutes without a build", file=sys.stderr)
    log = path.with_suffix(".log")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE.parent), os.environ.get("PYTHONPATH")]))}
    with open(log, "ab") as err:
        return subprocess.Popen([sys.executable, "-m", "dossier.warm", str(site.resolve()), str(out.resolve()),
                                 str(path)], stdin=subprocess.DEVNULL, stdout=err, stderr=err, cwd="/", env=env,
                                start_new_session=True, close_fds=True)


def _ask(conn: socket.socket, request: dict):
    """Send a request and relay what the warm process prints; its exit status, _RESTART (it
    stopped before it took this request: ask again), or None if it stopped as it made the build."""
    taken = False
    with conn, conn.makefile("rb") as replies:
        try:
            conn.sendall(json.dumps(request).encode() + b"\n")
            if not select.select([conn], [], [], SAY_WAITING)[0]:  # as a build waits for the output's lock
                print(f"dossier: waiting for another build into {request.get('out')} to finish", file=sys.stderr)
            for line in replies:
                kind, value = json.loads(line)
                if kind == "exit":
                    return value
                if kind == _RESTART:
                    return _RESTART
                taken = True
                if kind != _TAKEN:
                    _relay(sys.stdout if kind == "out" else sys.stderr, value)
        except KeyboardInterrupt as exc:  # Ctrl-C, or another signal the command line takes so (cli.Stopped)
            print("\ndossier: interrupted; the warm process finishes the build it began", file=sys.stderr)
            return 128 + getattr(exc, "signum", signal.SIGINT)
        except (OSError, ValueError):  # cut off: it stopped
            pass
    return None if taken else _RESTART


def _relay(stream, text: str) -> None:
    """Print what the warm process printed; a pipe closed early (`| head`) or a full disk under
    `> file` does not stop the build, as they do not stop a build of this process (cli.report)."""
    with contextlib.suppress(OSError):
        stream.write(text)
        stream.flush()


def _wait_gone(path: Path, wait: float = 120.0) -> None:
    """Wait until the warm process at `path` has ended: it holds its lock until its cache is written."""
    import fcntl

    deadline = time.monotonic() + wait
    try:
        lock = open(path.with_suffix(".lock"), "rb")  # not made if it is gone: so is the process
    except FileNotFoundError:
        return
    with lock:
        while time.monotonic() < deadline:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return  # released as the file closes
            except OSError:
                time.sleep(0.05)


# ---------------------------------------------------------------- the warm process itself


class _Relay:
    """A text stream whose writes go to the build that handed this one over."""

    def __init__(self, conn: socket.socket, kind: str, tty: bool = False):
        self.conn, self.kind, self.tty = conn, kind, tty

    def write(self, text: str) -> int:
        with contextlib.suppress(OSError):  # that build was interrupted: this one goes on
            self.conn.sendall(json.dumps([self.kind, text]).encode() + b"\n")
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return self.tty  # that build's stream is a terminal: its progress is shown as there


class _Stop(Exception):
    """A signal to stop came while no build ran."""


class WarmProcess:
    def __init__(self, site: Path, out: Path, path: Path):
        self.site, self.out, self.path = site, out, path
        self.code = _running_code()
        self.libraries = library_versions()
        self.owned: Optional[tuple] = None  # the output as this process's last build left it
        from .watch import site_watch

        self.watch = site_watch(site, PACKAGE)  # None where there is no inotify: stamps tell instead
        self.pending: Optional[set[str]] = None  # files changed since the last look at them (None: unknown)
        self.busy = self.built = False  # building or stopping now (a signal waits); built for the last request
        self.untidy = False  # built since the last tidy-up (build.tidy)
        self.stopping = False
        self.pid = os.getpid()

    def run(self) -> int:
        lock_path = self.path.with_suffix(".lock")
        lock = _take_lock(lock_path)
        if lock is None:
            return 0  # another one runs, or is starting: the build asks that one
        code = 0
        with lock:
            lock.truncate(0)
            lock.write(f"{os.getpid()}\n")  # which process it is, for `kill`
            lock.flush()
            self.path.unlink(missing_ok=True)  # left by one that was killed
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(signum, self._on_signal)
            try:
                listener.bind(str(self.path))
                listener.listen(8)
                self._serve(listener)
            except _Stop:
                pass
            except Exception:  # a bug: told in the log, which is kept; the build is made by its command
                traceback.print_exc()
                code = 1
            finally:
                self.busy = True  # a signal now cuts nothing short
                # Before it stops listening and lets go of its lock: a build that comes meanwhile
                # waits, then is told to ask again, and finds the output with its cache.
                self._write_cache()
                _turn_away(listener)
                listener.close()
                self.path.unlink(missing_ok=True)
                sys.stderr.flush()
                _remove_if_empty(self.path.with_suffix(".log"))  # a log with something in it is kept
                lock_path.unlink(missing_ok=True)  # while held: none is left for every site ever warm
        return code

    def _on_signal(self, signum, frame) -> None:
        if os.getpid() != self.pid:  # a build's forked worker, told to stop by its pool
            os._exit(128 + signum)
        self.stopping = True
        if not self.busy:
            raise _Stop

    def _serve(self, listener: socket.socket) -> None:
        # The build that started it comes first, however short the idle time.
        deadline = time.monotonic() + max(IDLE, START_WAIT)
        listener.setblocking(False)
        while not self.stopping:
            conn = self._next(listener, deadline)
            if conn is None:
                return
            with conn:
                if not self._answer(conn):
                    return
            if self.built:  # idle is without a build, not without a knock
                deadline = time.monotonic() + IDLE

    def _next(self, listener: socket.socket, deadline: float) -> Optional[socket.socket]:
        """The next request's connection; None once `deadline` has passed without one, or once the
        site's folder is gone (no build comes for it). What the kernel tells of the site's files
        meanwhile wakes it: it is kept for the next build, and the folder looked at."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not os.path.isdir(self.site):
                return None
            watched = [self.watch.fd] if self.watch is not None else []
            ready = select.select([listener, *watched], [], [], min(left, self._tidy_after()))[0]
            if not ready and self.untidy:  # quiet since the last build: what it left is freed now
                from .build import tidy
                tidy()
                self.untidy = False
            if listener in ready:
                with contextlib.suppress(BlockingIOError):  # gone already
                    conn = listener.accept()[0]
                    conn.setblocking(True)  # not the listener's way, where a system passes that on
                    return conn
            elif ready:
                self._changes()

    def _tidy_after(self) -> float:
        """Seconds to wait for a request before looking at the site (or tidying up after a build)."""
        if not self.untidy:
            return SITE_LOOK
        from .build import TIDY_AFTER  # imported by the build made

        return TIDY_AFTER

    def _answer(self, conn: socket.socket) -> bool:
        """Answer one request; False once this process is to stop."""
        self.built = False
        try:
            conn.settimeout(REQUEST_WAIT)  # one that connects and says nothing holds up no build
            with conn.makefile("rb") as requests:
                request = json.loads(requests.readline())
            conn.settimeout(None)
        except (OSError, ValueError):
            return True
        self.busy = True  # a signal now waits until it is answered
        _send(conn, _TAKEN, None)  # at once: that build waits behind no other
        if (request.get("code") != self.code or request.get("site") != str(self.site)
                or request.get("out") != str(self.out) or library_versions() != self.libraries):
            _send(conn, _RESTART, None)
            return False
        if request.get("stop"):
            failed = self._write_cache()
            if failed:  # `stop` prints what the warm process sends it, as a build does
                _send(conn, "err", f"dossier: warning: {failed}\n")
            _send(conn, "exit", 0)
            return False
        self.built = self.untidy = True
        try:
            _send(conn, "exit", self._build(conn, request))
        finally:
            self.busy = False
        return not self.stopping

    def _build(self, conn: socket.socket, request: dict) -> int:
        from . import cache, cli, inputs

        # Another process wrote the output since, or this one keeps no cache of it (its first
        # build, or one with nothing to do): read the output's cache.
        ours = self.owned is not None and self.owned == _identity(self.out) and cache.kept(self.out)
        if not ours:
            cache.forget()
        # `build --warm` leaves the build held in memory, even with nothing to build, so that the
        # next is a quick one: but not a build with the search index, which would index it all again.
        args = cli.parser().parse_args(request["argv"] or ["build"])
        hold = not ours and args.command == "build" and args.warm and args.no_search
        changed, look = self._changes(), inputs.last_look(self.site)
        os.chdir(request["cwd"])
        err = _Relay(conn, "err", tty=bool(request.get("tty")))
        with contextlib.redirect_stdout(_Relay(conn, "out")), contextlib.redirect_stderr(err):
            code = cli.main(request["argv"], persist=not ours, changed=changed, by_stamps=True, always=hold)
        os.chdir("/")
        if inputs.last_look(self.site) != look:  # the build looked at them (it may have stopped before)
            self.pending = set()
        self.owned = _identity(self.out)
        return code

    def _changes(self) -> Optional[set[str]]:
        """The files changed since the last build looked at the site, as the kernel told; None if
        not known (the build then tells them by their stamps, or looks at every file)."""
        try:
            drained = self.watch.drain() if self.watch is not None else None
        except OSError:  # more folders than the system lets one watch
            self.watch.close()
            self.watch = drained = None
        self.pending = None if drained is None or self.pending is None else self.pending | drained
        return self.pending

    def _write_cache(self) -> Optional[str]:
        """Leave the cache in the output, for a build in a new process, if the output is still ours;
        if it cannot be written (a full disk), why, also said in one line of the log."""
        if self.owned is None:  # nothing built, or written already
            return None
        from . import build
        from .write import output_lock

        try:
            # Under the output's lock: a build of another process that began before might
            # otherwise swap in its output between the look and the write, under this cache.
            with output_lock(self.out):
                if self.owned is None or self.owned != _identity(self.out):
                    return None
                self.owned = None  # tried once: not again as the process ends
                build.write_kept_cache(self.site, self.out)  # all or nothing: no part of a file is left
        except OSError as exc:
            failed = (f"the cache could not be written into {exc.filename or self.out}: {exc.strerror or exc}; "
                      "the next build will be a full one")
            print(f"dossier: warning: {failed}", file=sys.stderr, flush=True)
            return failed
        return None


def _take_lock(path: Path):
    """The lock at `path`, open and held; None if another process holds it."""
    import fcntl

    for _ in range(3):  # one that has just ended removes its lock: the one at `path` then is taken
        lock = open(path, "a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            return None
        if still_at(lock, path):
            return lock
        lock.close()
    return None


def _turn_away(listener: socket.socket) -> None:
    """Tell each build that came as this process stops to ask again: it then starts another
    warm process, or builds itself, once this one has written its cache."""
    listener.setblocking(False)
    while True:
        try:
            conn = listener.accept()[0]
        except OSError:  # none left (or none listened)
            return
        with conn:
            _send(conn, _RESTART, None)


def still_at(f, path: Path) -> bool:
    """Whether the open file `f` is still the one at `path` (not removed, nor replaced)."""
    try:
        return os.stat(path).st_ino == os.fstat(f.fileno()).st_ino
    except FileNotFoundError:
        return False


def _remove_if_empty(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.stat().st_size == 0:
            path.unlink()


def _send(conn: socket.socket, kind: str, value) -> None:
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps([kind, value]).encode() + b"\n")


def _identity(out: Path) -> Optional[tuple]:
    """What changes when another process writes the output: a full build swaps the folder,
    and any build that persists leaves a cache file."""
    from .cache import CACHE_FILE, _stamp

    try:
        st = os.stat(out)
    except OSError:
        return None
    return st.st_ino, st.st_dev, _stamp(out / CACHE_FILE)


def main() -> None:
    site, out, path = (Path(arg) for arg in sys.argv[1:4])
    code = WarmProcess(site, out, path).run()
    from .write import finish_discarding

    sys.stdout.flush()
    sys.stderr.flush()
    finish_discarding()
    os._exit(code)


if __name__ == "__main__":
    main()
