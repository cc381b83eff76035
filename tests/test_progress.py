"""Progress of long builds: counts per stage on stderr, quiet for small builds off a terminal."""

from __future__ import annotations

import io
import sys
from pathlib import Path

from dossier import progress as progress_module
from dossier.build import build
from dossier.progress import Progress

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from generate import generate  # noqa: E402
from conftest import run_cli  # noqa: E402


def test_a_large_build_reports_each_stage(tmp_path, monkeypatch):
    site = generate(tmp_path / "site", articles=12, entities=10, seed=2)
    monkeypatch.setattr(progress_module, "LARGE", 10)  # 12 articles count as large here
    log = io.StringIO()
    result = build(site, tmp_path / "out", search=False, progress=Progress(log))
    assert result.ok
    lines = log.getvalue().splitlines()
    assert "dossier: read 12/12 articles" in lines
    assert "dossier: analysed 12/12 articles" in lines
    assert f"dossier: rendered {len(result.rendered)}/{len(result.rendered)} pages" in lines


def test_a_small_build_off_a_terminal_is_quiet(tmp_path):
    site = generate(tmp_path / "site", articles=12, entities=10, seed=2)
    log = io.StringIO()
    assert build(site, tmp_path / "out", search=False, progress=Progress(log)).ok
    assert log.getvalue() == ""


def test_a_terminal_gets_one_line_updated_in_place():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    tick = Progress(term).counter("rendered {done}/{total} pages", 3)
    for done in (1, 2, 3):
        tick(done)
    out = term.getvalue()
    assert out.startswith("\rdossier: rendered 1/3 pages") and out.endswith("\rdossier: rendered 3/3 pages\x1b[K\n")
    assert out.count("\n") == 1


def test_the_cli_ends_with_one_summary_line_of_counts_and_stage_times(tmp_path):
    site = generate(tmp_path / "site", articles=6, entities=10, seed=2)
    proc = run_cli("build", str(site), "-o", str(tmp_path / "out"), "--no-search")
    assert proc.returncode == 0, proc.stderr
    summary = proc.stdout.strip().splitlines()[-1]
    assert summary.startswith("dossier: built into ")
    for part in ("6 articles", "claims", "pages (", "rendered", "written", "unchanged", "load ", "resolve ", "render+write "):
        assert part in summary, summary
