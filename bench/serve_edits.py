"""Serve's edits, timed in one process: what `serve` runs for each save, without its HTTP
server, file watcher or quiet period around it.

    python bench/serve_edits.py SITE [--rounds 5] [--repo CHECKOUT]

A cold build into a temporary folder with the cache kept in memory (as serve's first build),
then `--rounds` text edits and sidecar edits of one article in turn (bench/run.py's Edits),
each built as serve builds it (told by the watcher which file changed). Prints each edit's
seconds and the build's own summary; leaves the site as it was. `--repo` imports Dossier from
another checkout, to compare two versions on the same machine one after the other.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("site", type=Path)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--repo", type=Path, default=BENCH.parent, help="the checkout whose Dossier is timed")
    a = p.parse_args()
    sys.path[:0] = [str(a.repo.resolve()), str(BENCH)]
    from dossier.build import build
    from run import Edits

    site, edits = a.site.resolve(), Edits(a.site.resolve())
    work = Path(tempfile.mkdtemp(prefix="serve-edits-"))
    try:
        clock = time.perf_counter()
        build(site, work / "out", search=False, persist=False)
        print(f"first build {time.perf_counter() - clock:.2f} s", flush=True)
        for _ in range(a.rounds):
            for kind, path in (("text", edits.text), ("sidecar", edits.sidecar)):
                getattr(edits, f"edit_{kind}")()
                os.sync()  # the disk quiet, as bench/run.py leaves it before each step
                clock = time.perf_counter()
                result = build(site, work / "out", search=False, persist=False,
                               changed={path.relative_to(site).as_posix()})
                seconds = time.perf_counter() - clock
                assert result.ok, result.diagnostics.sorted()
                print(f"{kind:<8} {seconds:.3f} s   {result.summary()}", flush=True)
    finally:
        edits.restore()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
