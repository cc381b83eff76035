"""A build stopped by a signal: `kill` (SIGTERM), the terminal closing (SIGHUP) or Ctrl-C,
while its worker pool renders pages, or while it imports the pipeline. One line, never a
traceback (from it or from its workers), the exit status 128 + the signal's number, the
previous output byte for byte as it was and no staging folder left. Killed outright
(SIGKILL), it can clean up nothing, but its workers still end without a traceback.

Real processes and real signals only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dossier import parallel
from fixtures.sitekit import BASIC, make_site, run, snapshot
from test_atomic import previous  # noqa: F401 (a fixture)

REPO = Path(__file__).resolve().parent.parent
ARTICLES = 300  # above parallel.POOL_THRESHOLD: the pages are rendered by the pool

pytestmark = pytest.mark.skipif(parallel.cores() < 2 or not Path("/proc/self/task").is_dir(),
                                reason="needs a fork pool (two cores) and Linux's /proc to see its workers")


@pytest.fixture(scope="module")
def pool_site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("pool") / "site"
    subprocess.run([sys.executable, str(REPO / "bench" / "generate.py"), str(site), "--articles", str(ARTICLES)],
                   check=True, capture_output=True, timeout=120)
    return site


def build(site: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(REPO / "build.py"), "build", str(site), "-o", str(out), "--no-search"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def children(pid: int) -> set[int]:
    """The processes `pid` forked (from any of its threads) that are still there."""
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.update(int(child) for child in (task / "children").read_text().split())
        except OSError:
            pass
    return found


def staging_folders(out: Path) -> list[Path]:
    return [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.tmp-")]


def pages_staged(out: Path) -> int:
    return sum(1 for stage in staging_folders(out) for _ in stage.glob("articles/*/index.html"))


def wait_for_the_pool(proc: subprocess.Popen, out: Path, timeout: float = 60) -> set[int]:
    """Block until the build's workers are rendering pages into its staging folder; their ids."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the build ended before the signal: {proc.communicate()}"
        workers = children(proc.pid)
        if len(workers) >= 2 and pages_staged(out) >= 10:
            return workers
        time.sleep(0.002)
    raise AssertionError("the build's pool never rendered a page")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie is dead, waiting for whoever adopted it


def gone(pids: set[int], wait: float = 10) -> bool:
    deadline = time.monotonic() + wait
    while any(map(alive, pids)) and time.monotonic() < deadline:
        time.sleep(0.01)
    return not any(map(alive, pids))


def stop_while_pooled(site: Path, out: Path, signum: int, group: bool = False) -> tuple[subprocess.Popen, str, set[int]]:
    """Start a build of `site` into `out`, send `signum` while its pool renders; (process, stderr, workers)."""
    proc = build(site, out)
    try:
        workers = wait_for_the_pool(proc, out)
        (os.killpg if group else os.kill)(proc.pid, signum)
        _, stderr = proc.communicate(timeout=60)  # to the end of stderr: the workers' too
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc, stderr, workers


@pytest.mark.parametrize("signum, group, line", [
    (signal.SIGTERM, False, "dossier: interrupted (SIGTERM); the previous output is unchanged"),
    (signal.SIGHUP, False, "dossier: interrupted (SIGHUP); the previous output is unchanged"),
    (signal.SIGINT, True, "dossier: interrupted; the previous output is unchanged"),  # Ctrl-C: the whole group
], ids=["kill", "hangup", "ctrl-c"])
def test_a_build_stopped_while_its_pool_renders_cleans_up_and_says_so(pool_site, previous, signum, group, line):
    before = snapshot(previous)
    proc, stderr, workers = stop_while_pooled(pool_site, previous, signum, group)
    assert "Traceback" not in stderr and "Error" not in stderr, stderr
    assert stderr.splitlines() == [line]
    assert proc.returncode == 128 + signum  # as a shell reports a command the signal ended
    assert snapshot(previous) == before
    assert staging_folders(previous) == [], "a stopped build removes its staging folder"
    assert gone(workers), "the pool's workers outlived the build"


def test_a_build_killed_outright_leaves_workers_that_end_quietly(pool_site, previous):
    """SIGKILL gives the build no chance to clean up (the next build sweeps its staging folder),
    but its workers, finding it gone, must end without a traceback."""
    before = snapshot(previous)
    proc, stderr, workers = stop_while_pooled(pool_site, previous, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    assert stderr == ""
    assert gone(workers)
    assert snapshot(previous) == before


# A finder that looks for nothing: when the pipeline's first module is looked for, it sends
# this process the signal, which Python then raises in the middle of the import.
SIGNAL_DURING_IMPORT = """
import os, sys
class SignalOnImport:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "dossier.build":
            os.kill(os.getpid(), {signum})
        return None
sys.meta_path.insert(0, SignalOnImport)
from dossier.cli import run
run()
"""


@pytest.mark.parametrize("signum, line", [
    (signal.SIGINT, "dossier: interrupted; the previous output is unchanged"),
    (signal.SIGTERM, "dossier: interrupted (SIGTERM); the previous output is unchanged"),
], ids=["ctrl-c", "kill"])
def test_a_signal_while_the_pipeline_is_imported_is_an_interruption(tmp_path, signum, line):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-c", SIGNAL_DURING_IMPORT.format(signum=int(signum)),
                           "build", str(BASIC), "-o", str(out), "--no-search"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.stderr.splitlines() == [line]
    assert proc.returncode == 128 + signum
    assert not out.exists() and staging_folders(out) == []


# The first move of a file into the output (an incremental build's commit) sends this process the signal.
SIGNAL_DURING_COMMIT = """
import os, sys
from pathlib import Path
out, real_replace, sent = Path(os.environ["OUT"]), os.replace, []
def replace(src, dst, **kw):
    if not sent and out in Path(dst).parents:
        sent.append(os.kill(os.getpid(), {signum}))
    real_replace(src, dst, **kw)
os.replace = replace
from dossier.cli import run
run()
"""


def test_kill_while_the_new_output_moves_in_waits_until_it_is_complete(tmp_path):
    site = make_site(tmp_path / "site")
    out = tmp_path / "output"
    code, _, err = run("build", str(site), "-o", str(out), "--no-search")
    assert code == 0, err
    for name in ("beta-note", "bridge-closed"):
        path = site / f"content/articles/{name}.md"
        path.write_text(path.read_text() + "\nA line added later.\n")
    proc = subprocess.run([sys.executable, "-c", SIGNAL_DURING_COMMIT.format(signum=int(signal.SIGTERM)),
                           "build", str(site), "-o", str(out), "--no-search"], cwd=REPO,
                          env={**os.environ, "OUT": str(out)}, capture_output=True, text=True, timeout=60)
    assert proc.stderr.splitlines() == ["dossier: interrupted (SIGTERM) once the new output was in place; it is complete"]
    assert proc.returncode == 128 + signal.SIGTERM
    for name in ("beta-note", "bridge-closed"):
        assert "A line added later." in (out / f"articles/{name}/index.html").read_text()
    assert staging_folders(out) == []
    code, stdout, _ = run("build", str(site), "-o", str(out), "--no-search")
    assert code == 0 and "0 rendered" in stdout, stdout  # the cache went in last: the output is whole
