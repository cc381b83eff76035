"""What any rebuild from the command line pays before it does any work, in fresh processes.

    python bench/cli_floor.py SITE [--runs 7]

A rebuild started from the command line is a new process: it starts Python, imports what it
builds with, and must look at every input file to learn which changed (the only way to know,
without a process that stays running and is told by a file watcher, as serve is). Each step
below is run `--runs` times in turn, each in a new process, and its median printed:

- python: the interpreter alone (`python -c pass`);
- import: it, and importing Dossier's command line (Jinja2, mistune, PyYAML, Dossier);
- import+stat: that, and one os.stat of every file under the folders a build reads,
  found by os.scandir: the least a rebuild can do to learn what changed;
- no-op build: `build.py build SITE -o OUT --no-search` with nothing changed (the build's
  own fingerprint: the stat of every file and the digest of those stats), OUT built first.

The figures bound from below what a command-line rebuild can take in Python on this machine,
whatever its cache holds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent

STAT_ALL = """
import os, sys
import dossier.cli
from dossier.inputs import READ
def walk(folder):
    with os.scandir(folder) as entries:
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                walk(e.path)
            else:
                os.stat(e.path)
for top in READ:
    path = os.path.join(sys.argv[1], top)
    if os.path.isdir(path):
        walk(path)
    else:  # site.yaml, or a folder the site has not got: one look each
        os.path.exists(path)
"""


# Python's compiled-module cache on, as on a user's machine (see bench/run.py).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(command: list[str]) -> float:
    clock = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO, env=ENV)
    return time.perf_counter() - clock


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("site", type=Path)
    p.add_argument("--runs", type=int, default=7)
    a = p.parse_args()
    site, python = str(a.site.resolve()), sys.executable
    with tempfile.TemporaryDirectory(prefix="cli-floor-") as work:
        build = [python, str(REPO / "build.py"), "build", site, "-o", str(Path(work, "out")), "--no-search"]
        subprocess.run(build, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
        steps = {
            "python": [python, "-c", "pass"],
            "import": [python, "-c", "import dossier.cli"],
            "import+stat": [python, "-c", STAT_ALL, site],
            "no-op build": build,
        }
        times: dict[str, list[float]] = {name: [] for name in steps}
        for _ in range(a.runs):  # in turn, so drift hurts every step alike
            for name, command in steps.items():
                times[name].append(timed(command))
    files = sum(len(names) for top in ("content", "templates", "static") for _, _, names in os.walk(Path(site, top))) + 1
    print(f"{files} input files, {a.runs} runs each, medians (min-max):")
    for name, found in times.items():
        print(f"  {name:<12} {statistics.median(found):.3f} s  ({min(found):.3f}-{max(found):.3f})")


if __name__ == "__main__":
    main()
