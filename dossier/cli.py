"""The command line: build, check, serve. Exit 0 done, 1 content errors, 2 usage."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path
from typing import Optional

from . import build as pipeline
from .search import SearchError
from .write import InterruptedAfterCommit, UsageError, finish_discarding

EXIT_OK, EXIT_CONTENT, EXIT_USAGE = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dossier", description="Build an annotated news dossier into a static site.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    b = sub.add_parser("build", help="build a site into a folder of HTML")
    b.add_argument("site", nargs="?", default=".", help="the site folder (default: .)")
    b.add_argument("-o", "--output", help="output folder (default: SITE/output)")
    b.add_argument("--no-search", action="store_true", help="skip the search index, for quicker builds")
    c = sub.add_parser("check", help="validate a site; write nothing")
    c.add_argument("site", nargs="?", default=".")
    s = sub.add_parser("serve", help="build, serve on 127.0.0.1 and rebuild on change")
    s.add_argument("site", nargs="?", default=".")
    s.add_argument("--port", type=int, default=None,
                   help="port on 127.0.0.1 (default: 8000, or the next free one; a port given here must be free)")
    s.add_argument("--no-search", action="store_true", help="skip the search index, for quicker rebuilds")
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
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    finish_discarding()  # the last output, removed by a process of its own
    os._exit(code)


def main(argv: Optional[list[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv or ["build"])
    if args.command is None:
        parser().print_usage(sys.stderr)
        return EXIT_USAGE
    site = Path(args.site)
    if not site.is_dir():
        print(f"dossier: error: {site} is not a folder", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.command == "check":
            return report(pipeline.check_site(site), "checked")
        if args.command == "build":
            out = Path(args.output) if args.output else site / "output"
            return report(pipeline.build(site, out, search=not args.no_search), f"built into {out}")
        from .serve import serve
        return serve(site, args.port, search=not args.no_search)
    except UsageError as exc:
        print(f"dossier: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SearchError as exc:  # the binary is missing or failed; the old output is untouched
        print(f"dossier: error: {exc}; the previous output is unchanged", file=sys.stderr)
        return EXIT_CONTENT
    except InterruptedAfterCommit:
        print("dossier: interrupted once the new output was in place; it is complete", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("dossier: interrupted; the previous output is unchanged", file=sys.stderr)
        return 130
    except OSError as exc:  # the output cannot be made or written: a file in the way, read-only, disk full
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"dossier: error: cannot write the output: {exc.strerror or exc}{where}; the previous output is unchanged",
              file=sys.stderr)
        return EXIT_USAGE


def report(result: pipeline.BuildResult, done: str) -> int:
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
