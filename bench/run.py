#!/usr/bin/env python3
"""Benchmark Dossier against the bare render floor (and Hugo, where installed).

    python bench/run.py [--sizes 1000 10000] [--runs 3] [--search] [--serve] [--work /tmp/dossier-bench]
    python bench/run.py --sites DOSSIER [DOSSIER ...] [--runs 3] [--search] [--serve]

For each size it generates a dossier (bench/generate.py, cached in the work
folder); with --sites it takes those dossiers instead, each copied into the
work folder first (the edits below never touch the original). Then it
repeats, interleaved so that a noisy machine hurts all alike:

  floor     bench/floor.py: mistune + Jinja2 over the articles, 2 processes
  cold      python build.py build SITE -o OUT --no-search, OUT removed first
  no-op     the same again, nothing changed
  edit      one article's text changed, then built (and its sidecar, then built)
  warm      `build --warm` (starting the warm process: dossier/warm.py), an edit that
            reads the output's cache, then three edits of the text and three of the
            sidecar handed to it, each timed as the command's wall time, and `stop`
            (which writes the cache); its peak memory read from /proc in the memory round
  hugo      hugo over the same words (bench/hugo.py), public/ removed first
  search    (with --search) a cold build with the search index, timed once (and the search
            stage within it: Pagefind from its start to its end, as the build
            reports it, beside the build's link check and cache), then in each
            run, in turn, Pagefind alone over that build's search copies (what
            it reads in a build, with the build's options) and over Hugo's output
  serve     (with --serve) `serve` started on the site (its first build timed
            to its "serving at" line), then three edits of an article's text
            and three of its sidecar, in turn, each timed as serve reports
            its rebuild

and prints the median wall time of each, its ratio to the floor and to the
cold build, the time per article, and the peak memory of the whole process
tree (the sum of its processes' proportional set sizes, sampled). Each step,
and each of serve's edits, begins once the disk has written out what the
steps before it wrote (quiet_disk).

Memory is sampled in a round of its own, before the timed rounds, and never
while a step is timed: reading a large process's proportional set size
costs the kernel milliseconds (about 22 ms a sample, a quarter of a core,
during a cold build at 10,000 articles), which a build that keeps both
cores busy would pay, and the floor, a few small processes, would not.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Optional

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from generate import generate  # noqa: E402
from floor import article_texts  # noqa: E402
from hugo import convert  # noqa: E402


def tree_pss_kib(pid: int) -> int:
    """Proportional set size of a process and all its descendants, in KiB."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (OSError, StopIteration, ValueError):
            pass
    return total


class PeakMemory:
    """Samples a process tree's memory every 50 ms while in use; `mib` is the largest seen."""

    def __init__(self, pid: int):
        self.pid, self.peak_kib = pid, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.05):
            self.peak_kib = max(self.peak_kib, tree_pss_kib(self.pid))

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()

    @property
    def mib(self) -> float:
        return self.peak_kib / 1024


class NotSampled:
    """PeakMemory's stand-in for a timed step: nothing runs beside it."""

    mib = None

    def __enter__(self) -> NotSampled:
        return self

    def __exit__(self, *exc) -> None:
        pass


def memory_of(pid: int, sample: bool) -> PeakMemory | NotSampled:
    return PeakMemory(pid) if sample else NotSampled()


def started(cmd: list[str], cwd: Path = REPO) -> subprocess.Popen:
    # Python keeps compiled modules (__pycache__) unless told not to, as some sandboxes do:
    # every command here runs as it would on a user's machine.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


PAGE_COUNTS = re.compile(r"\d+ pages \(\d+ rendered, \d+ written, \d+ unchanged\)")
SEARCH_LINE = re.compile(r"^search: indexed \d+ pages.* in ([\d.]+) s$", re.M)


WARM_EDITS = 3  # of each kind, handed to the warm process in each round


def warm_peak_mib(site: Path, out: Path) -> float:
    """The peak resident memory of the warm process building `site` into `out` (Linux: VmHWM)."""
    sys.path.insert(0, str(REPO))
    from dossier.warm import socket_path

    pid = socket_path(site, out).with_suffix(".lock").read_text().strip()
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)[1]) / 1024


def quiet_disk() -> None:
    """Flush what earlier steps wrote. The kernel writes a file's data out some 30 s after it
    was written (vm.dirty_expire_centisecs), so without this a step pays, on a slow disk, for
    the writes of the step before it (a cold build leaves some 600 MB at 10,000 articles)."""
    os.sync()


def timed(cmd: list[str], cwd: Path = REPO, sample: bool = True) -> tuple[float, Optional[float], str]:
    """(wall seconds, peak MiB of the process tree or None if not `sample`d, stdout+stderr) of one
    command, begun on a quiet disk."""
    quiet_disk()
    start = time.perf_counter()
    proc = started(cmd, cwd)
    with memory_of(proc.pid, sample) as memory:
        output, _ = proc.communicate()
        wall = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{output[-3000:]}")
    return wall, memory.mib, output


def serve_edits(site: Path, edits: Edits, count: int,
                sample: bool = True) -> tuple[tuple[float, Optional[float]], list[tuple[str, float, float, Optional[float]]]]:
    """Start `serve`, then edit an article's text and its sidecar in turn, `count` times each,
    then site.yaml once, each edit once the last rebuild is done and what it wrote is flushed
    (quiet_disk).

    First (seconds from the start to serve's "serving at" line, its first build's
    peak MiB), then for each edit: ("text", "sidecar" or "site.yaml"; seconds from the save to serve's
    "rebuilt" line, which includes its DEBOUNCE of quiet after the last file event; the
    rebuild's own seconds as serve reports them; peak MiB of serve's processes).
    Serve's first build is cold (it builds into a folder of its own); the
    first edit after it reads nothing back, the cache is in memory.
    """
    quiet_disk()
    start = time.perf_counter()
    proc = started([sys.executable, str(REPO / "build.py"), "serve", str(site), "--no-search"])
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()

    def wait_for(pattern: str, timeout: float = 1800) -> re.Match:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                found = re.search(pattern, lines.get(timeout=1))
            except queue.Empty:
                continue
            if found:
                return found
        raise SystemExit(f"serve said nothing matching {pattern!r} in {timeout} s")

    try:
        with memory_of(proc.pid, sample) as memory:
            wait_for(r"serving at ")
        first = (time.perf_counter() - start, memory.mib)
        measured = []
        for kind in ["text", "sidecar"] * count + ["site.yaml"]:
            quiet_disk()
            with memory_of(proc.pid, sample) as memory:
                start = time.perf_counter()
                {"text": edits.edit_text, "sidecar": edits.edit_sidecar, "site.yaml": edits.edit_settings}[kind]()
                own = int(wait_for(r"rebuilt .* in (\d+) ms").group(1)) / 1000
                wall = time.perf_counter() - start
            measured.append((kind, wall, own, memory.mib))
            time.sleep(0.5)
        return first, measured
    finally:
        proc.terminate()  # serve stops on SIGTERM as on Ctrl-C (a background job ignores SIGINT)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()


def prepare(work: Path, size: int, seed: int) -> Path:
    site = work / f"site-{size}"
    stamp = site / ".generated"
    want = json.dumps({"articles": size, "seed": seed, "generator": (HERE / "generate.py").read_text()})
    if not (stamp.is_file() and stamp.read_text() == want):
        print(f"generating {size} articles into {site} …", file=sys.stderr)
        generate(site, size, seed=seed)
        stamp.write_text(want)
    return site


def copied(work: Path, given: Path) -> tuple[str, Path]:
    """(label, the copy) of a dossier given with --sites: a fresh copy in the work folder, of what
    a build reads, so the benchmark's edits and Hugo's copy never touch the original."""
    label = f"{given.resolve().name}-{len(article_texts(given))}"
    site = work / f"site-{label}"
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir(parents=True)
    for top in ("site.yaml", "content", "templates", "static"):
        if (given / top).is_dir():
            shutil.copytree(given / top, site / top, symlinks=True)
        elif (given / top).exists():
            shutil.copy2(given / top, site / top)
    return label, site


class Edits:
    """Alternate an article's text and its sidecar, and site.yaml, between two versions, so every edit is a change."""

    def __init__(self, site: Path):
        texts = article_texts(site)
        self.text = texts[len(texts) // 2]
        self.sidecar = self.text.with_suffix(".yaml")
        self.settings = site / "site.yaml"
        self.originals = {path: path.read_text("utf-8") for path in (self.text, self.sidecar, self.settings)}
        self.edited_sidecar = summary_edited(self.originals[self.sidecar])
        self.edited_settings = title_edited(self.originals[self.settings])
        self.flip = self.settings_flip = False

    def edit_text(self) -> None:
        self.flip = not self.flip
        extra = "\nA paragraph added by the benchmark.\n" if self.flip else ""
        self.text.write_text(self.originals[self.text] + extra, "utf-8")

    def edit_sidecar(self) -> None:
        self.sidecar.write_text(self.edited_sidecar if self.flip else self.originals[self.sidecar], "utf-8")

    def edit_settings(self) -> None:
        """site.yaml's title: every article is read again, every page made again (a whole dossier
        read while the last one is held, in serve)."""
        self.settings_flip = not self.settings_flip
        self.settings.write_text(self.edited_settings if self.settings_flip else self.originals[self.settings], "utf-8")

    def restore(self) -> None:
        for path, text in self.originals.items():
            path.write_text(text, "utf-8")
        self.flip = self.settings_flip = False


EDITED = "Edited. "
_SUMMARY_LINE = re.compile(r"^summary:[ \t]*(.*)$", re.M)


def summary_edited(sidecar: str) -> str:
    """The sidecar with "Edited. " before its summary, and nothing else changed: the line edited
    where it can be (quoted, plain or block), else the file written again from its data."""
    data = yaml.safe_load(sidecar)
    want = {**data, "summary": (EDITED + str(data.get("summary") or "")).strip()}
    line = _SUMMARY_LINE.search(sidecar)
    tries = []
    if line is None:
        tries.append(sidecar.rstrip("\n") + f'\nsummary: "{EDITED.strip()}"\n')
    else:
        value, at = line[1], line.start(1)
        if value.startswith(('"', "'")):
            tries.append(sidecar[:at + 1] + EDITED + sidecar[at + 1:])
        elif value.startswith(("|", ">")):  # a block: its first line of text
            first = re.compile(r"^[ \t]+(?=\S)", re.M).search(sidecar, line.end())
            if first:
                tries.append(sidecar[:first.end()] + EDITED + sidecar[first.end():])
        else:  # plain, or empty (then "summary:" may have no space after it)
            tries.append(sidecar[:at] + ("" if sidecar[at - 1] in " \t" else " ") + EDITED + sidecar[at:])
    for edited in tries:
        try:
            read = yaml.safe_load(edited)
            if {**read, "summary": str(read.get("summary")).strip()} == want:
                return edited
        except (yaml.YAMLError, TypeError):  # TypeError: not a mapping any more
            pass
    return yaml.safe_dump(want, allow_unicode=True, sort_keys=False)


def title_edited(settings: str) -> str:
    """site.yaml with "Edited. " before its title (written again from its data: a copy's)."""
    data = yaml.safe_load(settings)
    return yaml.safe_dump({**data, "title": EDITED + str(data["title"])}, allow_unicode=True, sort_keys=False)


def site_language(site: Path) -> str:
    """The language site.yaml sets (what a build gives Pagefind), or Dossier's default."""
    return str((yaml.safe_load((site / "site.yaml").read_text("utf-8")) or {}).get("language") or "en")


def bench_site(work: Path, label: str, site: Path, runs: int, search: bool,
               serve: bool = False, fresh: bool = False) -> tuple[dict[str, list[float]], dict[str, float]]:
    """(step -> its wall times in the timed rounds, step -> its peak MiB in the memory round).
    `fresh`: the site was copied anew, so Hugo's copy of it is made anew too."""
    size = len(article_texts(site))
    out, floor_out, search_out = work / f"out-{label}", work / f"floor-{label}", work / f"search-{label}"
    hugo_site = work / f"hugo-{label}"
    has_hugo = shutil.which("hugo") is not None
    if has_hugo and (fresh or not (hugo_site / "config.toml").is_file()):
        convert(site, hugo_site)
    py = sys.executable
    build = [py, str(REPO / "build.py"), "build", str(site), "-o", str(out)]
    times: dict[str, list[float]] = {}
    peaks: dict[str, float] = {}

    def keep(name: str, wall: float, mib: Optional[float]) -> None:
        if mib is None:
            times.setdefault(name, []).append(wall)
        else:  # the memory round: its times are not the step's (the sampling slowed them)
            peaks[name] = max(peaks.get(name, 0.0), mib)

    def record(name: str, cmd: list[str], sample: bool) -> None:
        wall, mib, output = timed(cmd, sample=sample)
        tail = output.strip().splitlines()[-1] if output.strip() else ""
        counts = PAGE_COUNTS.search(tail)  # a build's: what it rendered and wrote
        keep(name, wall, mib)
        shown = f"{mib:8.0f} MiB" if sample else "   (timed)"
        print(f"  {size:>6} {name:<16} {wall:8.2f} s {shown}   {counts[0] if counts else tail[:110]}", file=sys.stderr)
        # Pagefind's own time within a build, from its start to its end (the line search.py prints)
        stage = SEARCH_LINE.search(output)
        if stage:
            keep("search stage", float(stage[1]), mib)
            print(f"  {size:>6} {'search stage':<16} {float(stage[1]):8.2f} s", file=sys.stderr)

    def run_serve(sample: bool) -> None:
        edits.restore()  # serve's edits start from the files as generated, and leave them so
        (first, first_mib), measured = serve_edits(site, edits, 3, sample=sample)
        keep("serve first build", first, first_mib)
        print(f"  {size:>6} serve first      {first:8.2f} s", file=sys.stderr)
        for kind, wall, own, mib in measured:
            keep(f"serve edit {kind}", own, mib)
            keep(f"serve save→reload {kind}", wall, mib)
            print(f"  {size:>6} serve {kind:<10} {own:8.2f} s   (save to rebuilt line {wall:.2f} s)", file=sys.stderr)
        edits.restore()

    def run_warm(sample: bool) -> None:
        """`build --warm` (nothing to do: it starts the warm process), the edits handed to it (the
        first reads the output's cache, as a new process does; the next keep it in memory), then
        `stop`, which writes the cache into the output."""
        record("warm start", build + ["--no-search", "--warm"], sample)
        edits.edit_text()
        record("warm first edit", build + ["--no-search"], sample)
        for _ in range(WARM_EDITS):
            edits.edit_sidecar()
            record("warm edit sidecar", build + ["--no-search"], sample)
            edits.edit_text()
            record("warm edit text", build + ["--no-search"], sample)
        if sample:  # its own memory: it runs apart from the commands that hand it their builds
            peaks["warm process"] = warm_peak_mib(site, out)
            print(f"  {size:>6} warm process {peaks['warm process']:12.0f} MiB at its peak", file=sys.stderr)
        record("warm stop", [py, str(REPO / "build.py"), "stop", str(site), "-o", str(out)], sample)
        edits.restore()  # the next round's edits start from the files as generated, as this one's did

    edits = Edits(site)
    try:
        # Round 0 samples memory; the rounds after it are timed, with nothing sampling beside them.
        for run in range(runs + 1):
            sample = run == 0
            shutil.rmtree(floor_out, ignore_errors=True)
            record("floor", [py, str(HERE / "floor.py"), str(site), str(floor_out)], sample)
            shutil.rmtree(out, ignore_errors=True)
            record("cold", build + ["--no-search"], sample)
            record("no-op", build + ["--no-search"], sample)
            edits.edit_text()
            record("edit text", build + ["--no-search"], sample)
            edits.edit_sidecar()
            record("edit sidecar", build + ["--no-search"], sample)
            edits.edit_settings()
            record("edit site.yaml", build + ["--no-search"], sample)
            run_warm(sample)
            if has_hugo:
                shutil.rmtree(hugo_site / "public", ignore_errors=True)
                record("hugo", ["hugo", "--quiet", "-s", str(hugo_site)], sample)
            if serve and run <= 1:  # once for its memory, once for its times
                run_serve(sample)
            if search:
                if run <= 1:
                    shutil.rmtree(out, ignore_errors=True)
                    record("cold+search", build, sample)
                    shutil.rmtree(search_out, ignore_errors=True)
                    shutil.copytree(out / ".dossier-search", search_out / "copies")
                # Pagefind on its own over what it reads in a build (the search copies, with the
                # build's options) and over Hugo's output, in turn: the same work, nothing beside it.
                ours = ("pagefind/dossier", [py, "-m", "pagefind_bin", "--site", str(search_out / "copies"),
                                             "--output-path", str(search_out / "pagefind"), "--keep-index-url",
                                             "--force-language", site_language(site)])
                theirs = ("pagefind/hugo", [py, "-m", "pagefind_bin", "--site", str(hugo_site / "public")])
                bundles = {"pagefind/dossier": search_out / "pagefind", "pagefind/hugo": hugo_site / "public" / "pagefind"}
                for name, cmd in ([ours, theirs] if run % 2 == 1 else [theirs, ours]):
                    if name == "pagefind/hugo" and not has_hugo:
                        continue
                    shutil.rmtree(bundles[name], ignore_errors=True)
                    record(name, cmd, sample)
    finally:
        edits.restore()
    return times, peaks


def report(label: str, size: int, times: dict[str, list[float]], peaks: dict[str, float]) -> list[str]:
    med = {k: statistics.median(v) for k, v in times.items()}
    floor, cold = med["floor"], med["cold"]
    lines = [f"### {size} articles" + ("" if label == str(size) else f" ({label})"), "",
             "| step | median s | runs | × floor | × cold | ms/article | peak MiB |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for k, v in med.items():
        peak = f"{peaks[k]:.0f}" if k in peaks else ""
        lines.append(f"| {k} | {v:.2f} | {len(times[k])} | {v / floor:.2f} | {v / cold:.3f} | "
                     f"{1000 * v / size:.2f} | {peak} |")
    lines += [f"| {k} | | | | | | {v:.0f} |" for k, v in peaks.items() if k not in med]  # memory alone
    return lines + [""]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    p.add_argument("--sites", type=Path, nargs="+", metavar="DOSSIER",
                   help="benchmark these dossiers (copied into the work folder) instead of generated ones")
    p.add_argument("--runs", type=int, default=3, help="timed rounds, after the round that samples memory")
    p.add_argument("--search", action="store_true", help="also time the search index (once per size)")
    p.add_argument("--serve", action="store_true", help="also time three edits under `serve` (once per size)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--work", type=Path, default=Path("/tmp/dossier-bench"))
    a = p.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, hugo: {shutil.which('hugo') or 'not installed'}", file=sys.stderr)
    if a.sites:
        for given in a.sites:
            if not (given / "content" / "articles").is_dir():
                p.error(f"{given} is not a dossier: it has no content/articles folder")
        sites = [(*copied(a.work, given), True) for given in a.sites]
    else:
        sites = [(str(size), prepare(a.work, size, a.seed), False) for size in a.sizes]
    all_results = {label: (len(article_texts(site)), bench_site(a.work, label, site, a.runs, a.search, a.serve, fresh))
                   for label, site, fresh in sites}
    lines = []
    for label, (size, (times, peaks)) in all_results.items():
        lines += report(label, size, times, peaks)
    sizes = {size: label for label, (size, _) in all_results.items()}
    if len(sizes) > 1:
        small, large = min(sizes), max(sizes)
        per = {s: statistics.median(all_results[sizes[s]][1][0]["cold"]) / s for s in (small, large)}
        lines.append(f"Growth: cold time per article at {large} is {per[large] / per[small]:.2f}× that at {small}.")
    for label, (size, (times, _)) in all_results.items():
        if "pagefind/hugo" in times:
            med = {k: statistics.median(v) for k, v in times.items()}
            theirs = med["pagefind/hugo"]
            lines.append(f"Search at {label}, against Pagefind over Hugo's output: Pagefind over Dossier's "
                         f"search copies {med['pagefind/dossier'] / theirs:.2f}×, the search stage within the "
                         f"build {med['search stage'] / theirs:.2f}×, the cold build's time with search less "
                         f"its time without {(med['cold+search'] - med['cold']) / theirs:.2f}×.")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
