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
or SIGHUP, or when a build asks with other code of Dossier (an upgrade) or
another Python, or once a library it uses was upgraded: that build starts a
new one if it has --warm. If another process writes the output meanwhile,
its next build reads the output's cache again instead of trusting memory.

This module is imported by every command, before the pipeline: the part that
hands a build over imports nothing heavy, so a handed-over build pays little
more than the interpreter's start.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

IDLE = float(os.environ.get("DOSSIER_WARM_IDLE", 30 * 60))  # seconds without a build before it stops
START_WAIT = 15.0  # seconds a build waits for a warm process it started to listen
REQUEST_WAIT = 5.0  # seconds the warm process waits for a build that connected to say what it wants
PACKAGE = Path(__file__).parent
_RESTART = "restart"  # its answer to a build with other code: it stops, the build starts a new one


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
    """Dossier's code and the Python that runs it (another environment may hold other libraries)."""
    return f"{code_digest()} {sys.executable} {sys.version}"


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
    request = {"code": _running_code(), "argv": argv, "cwd": os.getcwd(),
               "site": str(site.resolve()), "out": str(out.resolve())}
    for _ in range(3):  # a warm process with other code stops first: then one more try
        conn = _connect(path)
        if conn is None and start:
            conn = _connect(path, wait=START_WAIT, starting=_start(site, out, path))
            if conn is None:
                print(f"dossier: warning: the warm process did not start (see {path.with_suffix('.log')}); "
                      "building in this process", file=sys.stderr)
        if conn is None:
            return None
        answer = _ask(conn, request)
        if answer is None:
            print("dossier: warning: the warm process stopped during the build; building in this process",
                  file=sys.stderr)
        if answer != _RESTART:
            return answer
        _wait_gone(path)
    return None


def stop(site: Path, out: Path) -> bool:
    """Ask the warm process of `site` and `out` to stop; True if one did (once its cache is written)."""
    path = socket_path(site, out)
    conn = _connect(path) if path is not None else None
    if conn is None:
        return False
    _ask(conn, {"code": _running_code(), "stop": True, "site": str(site.resolve()), "out": str(out.resolve())})
    _wait_gone(path)
    return True


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


def _start(site: Path, out: Path, path: Path) -> subprocess.Popen:
    """Start a warm process, on its own: it outlives this one and the terminal."""
    log = path.with_suffix(".log")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE.parent), os.environ.get("PYTHONPATH")]))}
    with open(log, "ab") as err:
        return subprocess.Popen([sys.executable, "-m", "dossier.warm", str(site.resolve()), str(out.resolve()),
                                 str(path)], stdin=subprocess.DEVNULL, stdout=err, stderr=err, cwd="/", env=env,
                                start_new_session=True, close_fds=True)


def _ask(conn: socket.socket, request: dict):
    """Send a request and relay what the warm process prints; its exit status, _RESTART, or
    None if it stopped before saying (the build is then made here)."""
    with conn, conn.makefile("rb") as replies:
        conn.sendall(json.dumps(request).encode() + b"\n")
        try:
            for line in replies:
                kind, value = json.loads(line)
                if kind == "exit":
                    return value
                if kind == _RESTART:
                    return _RESTART
                stream = sys.stdout if kind == "out" else sys.stderr
                stream.write(value)
                stream.flush()
        except KeyboardInterrupt as exc:  # Ctrl-C, or another signal the command line takes so (cli.Stopped)
            print("\ndossier: interrupted; the warm process finishes the build it began", file=sys.stderr)
            return 128 + getattr(exc, "signum", signal.SIGINT)
    return None


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

    def __init__(self, conn: socket.socket, kind: str):
        self.conn, self.kind = conn, kind

    def write(self, text: str) -> int:
        with contextlib.suppress(OSError):  # that build was interrupted: this one goes on
            self.conn.sendall(json.dumps([self.kind, text]).encode() + b"\n")
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


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
        self.building = self.built = False  # building now; built in answer to the last request
        self.stopping = False
        self.pid = os.getpid()

    def run(self) -> int:
        import fcntl

        lock_path = self.path.with_suffix(".lock")
        with open(lock_path, "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return 0  # another one runs, or is starting: the build asks that one
            if not still_at(lock, lock_path):
                return 0  # the lock of one that has just ended, removed: one starting now takes it
            lock.truncate(0)
            lock.write(f"{os.getpid()}\n")  # which process it is, for `kill`
            lock.flush()
            self.path.unlink(missing_ok=True)  # left by one that was killed
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(str(self.path))
            listener.listen(8)
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(signum, self._on_signal)
            try:
                self._serve(listener)
            finally:
                # Before it stops listening and lets go of its lock: a build that comes meanwhile
                # waits, then finds the output with its cache.
                self._write_cache()
                listener.close()
                self.path.unlink(missing_ok=True)
                _remove_if_empty(self.path.with_suffix(".log"))  # a log with something in it is kept
                lock_path.unlink(missing_ok=True)  # while held: none is left for every site ever warm
        return 0

    def _on_signal(self, signum, frame) -> None:
        if os.getpid() != self.pid:  # a build's forked worker, told to stop by its pool
            os._exit(128 + signum)
        self.stopping = True
        if not self.building:
            raise _Stop

    def _serve(self, listener: socket.socket) -> None:
        last_build = time.monotonic()
        while not self.stopping:
            listener.settimeout(max(0.0, last_build + IDLE - time.monotonic()))  # idle: no build, not no knock
            try:
                conn, _ = listener.accept()
            except (socket.timeout, _Stop):
                return
            with conn:
                if not self._answer(conn):
                    return
            last_build = time.monotonic() if self.built else last_build

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
        self.building = self.built = True
        try:
            _send(conn, "exit", self._build(conn, request))
        finally:
            self.building = False
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
        with contextlib.redirect_stdout(_Relay(conn, "out")), contextlib.redirect_stderr(_Relay(conn, "err")):
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
        if self.owned is None or self.owned != _identity(self.out):
            return None
        from . import build

        self.owned = None  # tried once: not again as the process ends
        try:
            build.write_kept_cache(self.site, self.out)  # all or nothing: no part of a file is left
        except OSError as exc:
            failed = (f"the cache could not be written into {exc.filename or self.out}: {exc.strerror or exc}; "
                      "the next build will be a full one")
            print(f"dossier: warning: {failed}", file=sys.stderr, flush=True)
            return failed
        return None


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
