"""bench/run.py, run whole on a tiny dossier: every step it reports is timed, and it leaves the site as generated."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent


def test_the_benchmark_times_every_step_and_leaves_the_site_as_generated(tmp_path: Path):
    command = [sys.executable, str(REPO / "bench" / "run.py"), "--sizes", "30", "--runs", "2", "--search", "--serve",
               "--work", str(tmp_path)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "DOSSIER_WARM_IDLE": "120"})  # if it fails, its warm process ends soon
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {m[1]: int(m[3]) for m in re.finditer(r"^\| ([^|]+?) \| ([\d.]+) \| (\d+) \|", done.stdout, re.M)}
    # Memory comes from a round of its own, run before the timed ones: every step has its peak.
    peaks = {m[1]: m[2] for m in re.finditer(r"^\| ([^|]+?) \|.*\| ([^|]*) \|$", done.stdout, re.M)}
    assert all(re.fullmatch(r"\d+", peaks[step]) for step in rows), peaks
    # ... and no timed run has the sampler beside it: one sampled line per step, then the timed ones.
    cold_lines = re.findall(r"^ +30 cold +[\d.]+ s +(.*?MiB|\(timed\))", done.stderr, re.M)
    assert [line.endswith("MiB") for line in cold_lines] == [True, False, False], cold_lines
    once = {"serve first build": 1, "cold+search": 1, "search stage": 1}
    per_round = {"serve edit text": 3, "serve edit sidecar": 3, "serve edit site.yaml": 1, "warm edit text": 6,
                 "warm edit sidecar": 6}
    for step in ["floor", "cold", "no-op", "edit text", "edit sidecar", "edit site.yaml", "warm start", "warm first edit",
                 "warm edit text", "warm edit sidecar", "warm stop", "serve first build", "serve edit text",
                 "serve edit sidecar", "serve edit site.yaml", "cold+search", "search stage", "pagefind/dossier"]:
        assert step in rows, f"{step} missing from\n{done.stdout}"
        runs = rows[step]
        assert runs == once.get(step, per_round.get(step, 2)), (step, rows[step])
    assert re.fullmatch(r"\d+", peaks["warm process"]) and int(peaks["warm process"]) > 0
    # Each edit handed to the warm process was one: it rendered pages.
    warm_rendered = re.findall(r"^ +30 warm (?:first )?edit.* \d+ pages \((\d+) rendered", done.stderr, re.M)
    assert len(warm_rendered) == 3 * 7 and all(int(n) > 0 for n in warm_rendered), done.stderr
    # The edit of site.yaml was one too: every page made again, as in a cold build.
    rendered = {step: set(re.findall(rf"^ +30 {step} .* \d+ pages \((\d+) rendered", done.stderr, re.M))
                for step in ("cold", r"edit site\.yaml")}
    assert len(rendered["cold"]) == 1 and rendered[r"edit site\.yaml"] == rendered["cold"], rendered
    assert (tmp_path / "search-30" / "pagefind" / "pagefind.js").is_file()  # Pagefind ran over the copies

    # The edits it made were undone: the site is the one generated, and the next run starts from it.
    sys.path.insert(0, str(REPO / "bench"))
    from generate import generate

    fresh = tmp_path / "fresh"
    generate(fresh, 30, seed=1)
    site = tmp_path / "site-30"
    for path in [fresh / "site.yaml", *(fresh / "content").rglob("*")]:
        if path.is_file():
            assert (site / path.relative_to(fresh)).read_bytes() == path.read_bytes(), path


def test_serve_edits_times_each_edit_in_one_process_and_leaves_the_site_as_it_was(tmp_path: Path):
    sys.path.insert(0, str(REPO / "bench"))
    from generate import generate

    site = tmp_path / "site"
    generate(site, 12, seed=1)
    before = {p: p.read_bytes() for p in site.rglob("*") if p.is_file()}
    done = subprocess.run([sys.executable, str(REPO / "bench" / "serve_edits.py"), str(site), "--rounds", "2"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("first build ") and len(lines) == 5
    assert [line.split()[0] for line in lines[1:]] == ["text", "sidecar"] * 2
    for line in lines[1:]:  # each edit rendered its article's page and a home page, nothing else
        assert re.search(r" s .*\(2 rendered, [1-4] written, \d+ unchanged\)", line), line
    assert {p: p.read_bytes() for p in site.rglob("*") if p.is_file()} == before


def test_cli_floor_times_each_step_in_new_processes_and_counts_the_inputs(tmp_path: Path):
    sys.path.insert(0, str(REPO / "bench"))
    from generate import generate

    site = tmp_path / "site"
    generate(site, 12, seed=1)
    inputs = 1 + sum(1 for top in ("content", "templates", "static") if (site / top).is_dir()
                     for p in (site / top).rglob("*") if p.is_file())
    done = subprocess.run([sys.executable, str(REPO / "bench" / "cli_floor.py"), str(site), "--runs", "2"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0] == f"{inputs} input files, 2 runs each, medians (min-max):"
    steps = {m[1]: float(m[2]) for m in re.finditer(r"^  (\S+(?: \S+)?) +([\d.]+) s  \([\d.]+-[\d.]+\)$", done.stdout, re.M)}
    assert list(steps) == ["python", "import", "import+stat", "no-op build"], done.stdout
    assert all(seconds > 0 for seconds in steps.values())


SIDECARS = {  # a summary written every way YAML allows, and none
    "double-quoted": 'title: "T"\nsummary: "One line."\nclaims: []\n',
    "single-quoted": "title: T\nsummary: 'One line.'\n",
    "plain": "title: T\nsummary: One line.\ntags: [a]\n",
    "folded": "title: T\nsummary: >\n  One line,\n  two.\ntags: [a]\n",
    "literal": "title: T\nsummary: |-\n    One line\ntags: [a]\n",
    "empty": "title: T\nsummary:\ntags: [x]\n",
    "none": "title: T\nsource:\n  summary: not this one\n",
}


@pytest.mark.parametrize("name", SIDECARS)
def test_the_sidecar_edit_changes_the_summary_alone_in_its_own_line(name: str):
    sys.path.insert(0, str(REPO / "bench"))
    from run import summary_edited

    before = SIDECARS[name]
    after = summary_edited(before)
    was, now = yaml.safe_load(before), yaml.safe_load(after)
    assert now.pop("summary").strip() == ("Edited. " + str(was.pop("summary", None) or "")).strip()
    assert now == was
    # The other lines are as written: the edit is the summary's line (or one line more), not a new file.
    kept = [line for line in before.splitlines() if "One line" not in line and line != "summary:"]
    assert [line for line in after.splitlines() if line in kept] == kept


def test_the_benchmark_takes_a_dossier_given_and_leaves_it_as_it_was(tmp_path: Path):
    sys.path.insert(0, str(REPO / "bench"))
    from floor import article_texts
    from generate import generate
    from hugo import convert

    given = tmp_path / "held-out"
    generate(given, 12, seed=5)
    # The article the benchmark edits, as plain text with a folded summary: an edit must still change it.
    text = article_texts(given)[6]
    plain = text.with_suffix(".txt")
    text.rename(plain)
    sidecar = text.with_suffix(".yaml")
    sidecar.write_text(re.sub(r'^summary: "(.*)"$', r"summary: >\n  \1", sidecar.read_text("utf-8"), flags=re.M), "utf-8")
    assert article_texts(given)[6] == plain and "summary: >" in sidecar.read_text("utf-8")
    before = {p: p.read_bytes() for p in given.rglob("*") if p.is_file()}

    work = tmp_path / "work"
    done = subprocess.run([sys.executable, str(REPO / "bench" / "run.py"), "--sites", str(given), "--runs", "1",
                           "--work", str(work)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "### 12 articles (held-out-12)" in done.stdout
    rows = {m[1]: int(m[2]) for m in re.finditer(r"^\| ([^|]+?) \| [\d.]+ \| (\d+) \|", done.stdout, re.M)}
    assert {"floor", "cold", "no-op", "edit text", "edit sidecar"} <= set(rows), done.stdout
    # Each edit was one: its build rendered pages again, in both rounds; the no-op rendered none.
    rendered = {}
    for m in re.finditer(r"^ +12 (edit text|edit sidecar|no-op) .* \d+ pages \((\d+) rendered", done.stderr, re.M):
        rendered.setdefault(m[1], []).append(int(m[2]))
    assert rendered["no-op"] == [0, 0] and all(n > 0 for n in rendered["edit text"] + rendered["edit sidecar"]), done.stderr
    assert len(rendered["edit text"]) == len(rendered["edit sidecar"]) == 2
    # The floor rendered the plain-text article too; the copy it edited was put back; the original never touched.
    assert "<p>" in (work / "floor-held-out-12" / "articles" / plain.stem / "index.html").read_text("utf-8")
    copy = work / "site-held-out-12"
    assert {p: p.read_bytes() for p in given.rglob("*") if p.is_file()} == before
    assert all((copy / p.relative_to(given)).read_bytes() == data for p, data in before.items())
    # Hugo's copy takes the plain text as HTML content, its paragraphs escaped.
    hugo = convert(copy, tmp_path / "hugo")
    page = (hugo / "content" / "articles" / f"{plain.stem}.html").read_text("utf-8")
    first = plain.read_text("utf-8").strip().split("\n\n")[0].strip()
    assert page.startswith("---\n{") and f"\n---\n<p>{html.escape(first, quote=False)}</p>\n<p>" in page
