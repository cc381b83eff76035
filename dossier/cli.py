"""The command line: build, check, serve, stop. Exit 0 done, 1 content errors, 2 usage or the machine
(an output that cannot be written, the search binary missing); stopped by a signal (Ctrl-C, `kill`,
the terminal closing), 128 + its number, as a shell reports a command that signal ended.

The pipeline is imported only once a build is not handed to a warm process (see warm.py)."""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import signal
import sys
from pathlib import Path
from typing import Callable, Optional

from . import warm

EXIT_OK, EXIT_CONTENT, EXIT_USAGE = 0, 1, 2
UNCHANGED = "; the previous output is unchanged"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dossier", description="Build an annotated news dossier into a static site.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    b = sub.add_parser("build", help="build a site into a folder of HTML")
    b.add_argument("site", nargs="?", default=".", help="the site folder (default: .)")
    b.add_argument("-o", "--output", help="output folder (default: SITE/output)")
    b.add_argument("--no-search", action="store_true", help="skip the search index, for quicker builds")
    b.add_argument("--warm", action="store_true",
                   help="keep this build in memory in a process that stays running, which then makes every "
                        "build of this site into this output (much quicker for a large dossier); see `stop`")
    c = sub.add_parser("check", help="validate a site; write nothing")
    c.add_argument("site", nargs="?", default=".")
    s = sub.add_parser("serve", help="build, serve on 127.0.0.1 and rebuild on change")
    s.add_argument("site", nargs="?", default=".")
    s.add_argument("--port", type=int, default=None,
                   help="port on 127.0.0.1 (default: 8000, or the next free one; a port given here must be free)")
    s.add_argument("--no-search", action="store_true", help="skip the search index, for quicker rebuilds")
    t = sub.add_parser("stop", help="stop the warm process of a site's build (see build --warm), once it "
                                    "has written its cache into the output")
    t.add_argument("site", nargs="?", default=".")
    t.add_argument("-o", "--output", help="output folder (default: SITE/output)")
    return p


def run() -> None:
    """The command-line entry point: main(), then exit at once.

    Tearing down the heap of a large dossier object by object takes
    seconds and changes nothing: output is flushed, files are closed.
    For the same reason a one-off command (all but serve) never runs the
    cycle collector: its passes over millions of live objects free nothing
    the exit would not.
    """
    if sys.argv[1:2] != ["serve"]:
        gc.disable()
    done = _stop_on_signals()
    try:
        code = main()
    except KeyboardInterrupt as exc:  # outside the pipeline's own guard: the hand-over to a warm process, say
        code = interrupted(exc, UNCHANGED)
    done()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):  # the terminal closed (SIGHUP): nobody is left to tell
            stream.flush()
    if "dossier.write" in sys.modules:  # the last output, removed by a process of its own
        sys.modules["dossier.write"].finish_discarding()
    os._exit(code)


def main(argv: Optional[list[str]] = None, **build_options) -> int:
    """Run a command. `build_options` go to build(): given by a warm process, which makes the builds
    handed to it (see warm.py); without them a build is handed to the warm process if one runs."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["build", *argv]  # `python build.py --no-search` builds, as `python build.py` does
    args = parser().parse_args(argv)
    if args.command is None:
        parser().print_usage(sys.stderr)
        return EXIT_USAGE
    site = Path(args.site)
    out = Path(args.output) if getattr(args, "output", None) else site / "output"
    if args.command == "stop":  # whether the site is still there or not: one moved or removed is stopped too
        told = "stopped" if warm.stop(site, out) else "no warm process runs for"
        print(f"dossier: {told} the build of {site} into {out}")
        return EXIT_OK
    if not site.is_dir():
        print(f"dossier: error: {site} is not a folder", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "build" and not build_options and _can_write(site, out):
        code = warm.hand_over(argv, site, out, start=args.warm)
        if code is not None:
            return code
    try:  # some 0.2 s: Ctrl-C meanwhile is an interruption like any other, not a traceback
        from . import build as pipeline
        from .search import SearchError
        from .write import InterruptedAfterCommit, UsageError
    except KeyboardInterrupt as exc:
        return interrupted(exc, UNCHANGED)

    try:
        if args.command == "check":
            result, done = pipeline.check_site(site), "checked"
        elif args.command == "build":
            result, done = pipeline.build(site, out, search=not args.no_search, **build_options), f"built into {out}"
        else:
            from .serve import serve
            return serve(site, args.port, search=not args.no_search)
    except UsageError as exc:
        print(f"dossier: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SearchError as exc:  # the binary is missing or failed: not the content's fault; the old output is untouched
        print(f"dossier: error: {exc}; the previous output is unchanged", file=sys.stderr)
        return EXIT_USAGE
    except InterruptedAfterCommit as exc:
        return interrupted(exc, " once the new output was in place; it is complete")
    except KeyboardInterrupt as exc:
        return interrupted(exc, UNCHANGED)
    except OSError as exc:  # the output cannot be made or written: a file in the way, read-only, disk full
        where = exc.filename or out  # a write cut short names no file: the output it was for, then
        print(f"dossier: error: cannot write the output: {exc.strerror or exc} ({where}); the previous output is unchanged",
              file=sys.stderr)
        return EXIT_USAGE
    return report(result, done)  # outside: a report that cannot be printed (`| head`) is no failed build


class Stopped(KeyboardInterrupt):
    """Ctrl-C, `kill` (SIGTERM) or the terminal closing (SIGHUP): the command stops the same
    way for each (a build's workers ended, its staging folder removed) and says so in one line."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _stop_on_signals() -> Callable[[], None]:
    """SIGINT, SIGTERM and SIGHUP raise Stopped; returns a function after which they are
    ignored: the command is done and only exits.

    Only the first stops the command: a SIGTERM or SIGHUP that follows (`timeout` passing its
    own on beside `pkill`'s) is ignored, so that it cannot cut the clean-up short. A second
    Ctrl-C is not: it is the way out, should the clean-up hang."""
    owner = os.getpid()
    state = "running"

    def stop(signum, frame):
        nonlocal state
        if os.getpid() != owner:  # a pool worker, forked before it took the default (parallel._quiet_worker)
            os._exit(128 + signum)
        if state == "done" or (state == "stopping" and signum != signal.SIGINT):
            return
        state = "stopping"
        raise Stopped(signum)

    def done():
        nonlocal state
        state = "done"

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):  # no SIGHUP on Windows
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) in (signal.SIG_DFL, signal.default_int_handler):
            signal.signal(signum, stop)  # not one set aside (nohup; Ctrl-C in a job started with &)
    return done


def interrupted(exc: KeyboardInterrupt, what: str) -> int:
    """Say that a signal stopped the command, and what became of the output; the exit status."""
    signum = getattr(exc, "signum", signal.SIGINT)
    which = "" if signum == signal.SIGINT else f" ({signal.Signals(signum).name})"
    with contextlib.suppress(OSError):  # the terminal closed (SIGHUP): nobody is left to tell
        print(f"dossier: interrupted{which}{what}", file=sys.stderr)
    return 128 + signum


def _can_write(site: Path, out: Path) -> bool:
    """False if the output folder is refused (build() then says why)."""
    from .write import UsageError, check_output_dir

    try:
        check_output_dir(site, out)
    except UsageError:
        return False
    return True


def report(result, done: str) -> int:
    """Print what the command found and did; its exit status, whether or not the printing succeeds
    (a pipe closed early, as `| head` does, or a full disk under `> file`)."""
    try:
        return _report(result, done)
    except OSError:
        return EXIT_CONTENT if result.diagnostics.errors else EXIT_OK


def _report(result, done: str) -> int:
    for d in result.diagnostics.sorted():
        print(d, file=sys.stderr)
    errors, warnings = len(result.diagnostics.errors), len(result.diagnostics.warnings)
    if errors:
        print(f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}; nothing was written",
              file=sys.stderr)
        return EXIT_CONTENT
    tail = f" ({warnings} warning{'s' * (warnings != 1)})" if warnings else ""
    print(f"dossier: {done}: {result.summary()}{tail}")
    return EXIT_OK
