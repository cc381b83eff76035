"""The warm process (warm.py), as users run it: `build --warm` starts it, later builds are
handed to it over its socket, `stop`, idleness and SIGTERM end it. Real processes only."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from dossier import warm
from dossier.build import build
from dossier.cache import CACHE_FILE
from test_cache import seem_upgraded, tree

REPO = Path(__file__).resolve().parent.parent
ARTICLE = "content/articles/kursk-residents-left-behind"


@pytest.fixture
def runtime(monkeypatch):
    """A folder of its own for the warm processes' sockets (short: a socket's path is at most
    108 bytes), seen by the commands and by this process; every warm process killed after."""
    folder = Path(tempfile.mkdtemp(prefix="dw-", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    yield folder
    for lock in folder.glob("dossier-*/*.lock"):
        with open(lock) as held:
            try:
                fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
                continue  # its process has ended
            except OSError:
                os.kill(int(lock.read_text()), signal.SIGKILL)
    shutil.rmtree(folder, ignore_errors=True)


def dossier(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "build.py"), *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def listening(site: Path, out: Path) -> bool:
    conn = warm._connect(warm.socket_path(site, out))
    if conn is not None:
        conn.close()
    return conn is not None


def warm_pid(site: Path, out: Path) -> int:
    return int(warm.socket_path(site, out).with_suffix(".lock").read_text())


def wait_until(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def assert_same_as_cold(site: Path, out: Path, tmp_path: Path) -> None:
    cold = tmp_path / "cold"
    shutil.rmtree(cold, ignore_errors=True)
    assert build(site, cold, search=False).ok
    assert tree(out) == tree(cold)


def edit(site: Path, suffix: str, old: str, new: str) -> None:
    path = site / f"{ARTICLE}{suffix}"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_builds_handed_to_the_warm_process_give_what_a_cold_build_gives(demo_copy: Path, tmp_path: Path, runtime):
    site, out = demo_copy, tmp_path / "out"
    first = dossier("build", str(site), "-o", str(out), "--no-search", "--warm")
    assert first.returncode == 0 and "built into" in first.stdout, first.stderr
    assert listening(site, out)
    edit(site, ".md", "\n\n", "\n\nA paragraph written later.\n\n")
    edit(site, ".yaml", "summary: ", "summary: Revised. ")
    handed = dossier("build", str(site), "-o", str(out), "--no-search")  # no --warm: handed over all the same
    assert handed.returncode == 0 and int(re.search(r"\((\d+) rendered", handed.stdout)[1]) > 0, handed.stdout
    assert not (out / CACHE_FILE).exists()  # kept in the warm process's memory: not written by a build of its own
    assert_same_as_cold(site, out, tmp_path)
    stopped = dossier("stop", str(site), "-o", str(out))
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not listening(site, out) and (out / CACHE_FILE).is_file()
    assert [p.name for p in runtime.rglob("*") if not p.is_dir()] == []  # no socket, lock or empty log left
    again = dossier("build", str(site), "-o", str(out), "--no-search")  # in this process: from the cache left
    assert again.returncode == 0 and "0 rendered" in again.stdout and "inputs unchanged" in again.stdout, again.stdout
    assert dossier("stop", str(site), "-o", str(out)).stdout.startswith("dossier: no warm process runs")


def test_errors_of_a_handed_build_are_reported_as_its_own_and_the_output_is_kept(demo_copy: Path, tmp_path: Path,
                                                                                 runtime):
    site, out = demo_copy, tmp_path / "out"
    assert dossier("build", str(site), "-o", str(out), "--no-search", "--warm").returncode == 0
    before = tree(out)
    sidecar = site / f"{ARTICLE}.yaml"
    good = sidecar.read_text()
    sidecar.write_text(good + "claims: [\n")
    broken = dossier("build", str(site), "-o", str(out), "--no-search")
    assert broken.returncode == 1, broken.stderr
    assert f"{ARTICLE}.yaml:" in broken.stderr and ": error: " in broken.stderr and "Traceback" not in broken.stderr
    assert "nothing was written" in broken.stderr
    assert tree(out) == before and listening(site, out)
    sidecar.write_text(good)
    assert dossier("build", str(site), "-o", str(out), "--no-search").returncode == 0
    assert_same_as_cold(site, out, tmp_path)


def test_an_output_written_by_another_process_is_read_again(demo_copy: Path, tmp_path: Path, runtime):
    site, out = demo_copy, tmp_path / "out"
    assert dossier("build", str(site), "-o", str(out), "--no-search", "--warm").returncode == 0
    edit(site, ".yaml", "summary: ", "summary: Elsewhere. ")
    assert build(site, out, search=False).ok  # this process, not handed over: it leaves a cache of its own
    edit(site, ".md", "\n\n", "\n\nAnd later still.\n\n")
    assert dossier("build", str(site), "-o", str(out), "--no-search").returncode == 0
    assert_same_as_cold(site, out, tmp_path)
    shutil.rmtree(out)  # gone: the next build is cold, and right
    assert dossier("build", str(site), "-o", str(out), "--no-search").returncode == 0
    assert_same_as_cold(site, out, tmp_path)


def test_a_build_with_other_code_stops_the_warm_process_and_starts_another(demo_copy: Path, tmp_path: Path,
                                                                           runtime):
    site, out = demo_copy, tmp_path / "out"
    assert dossier("build", str(site), "-o", str(out), "--no-search", "--warm").returncode == 0
    edit(site, ".md", "\n\n", "\n\nOne more.\n\n")
    assert dossier("build", str(site), "-o", str(out), "--no-search").returncode == 0
    old = warm_pid(site, out)
    conn = warm._connect(warm.socket_path(site, out))
    asked = {"code": "other", "argv": [], "cwd": "/", "site": str(site.resolve()), "out": str(out.resolve())}
    assert warm._ask(conn, asked) == warm._RESTART
    warm._wait_gone(warm.socket_path(site, out))
    assert not listening(site, out)
    assert (out / CACHE_FILE).is_file()  # it left its cache as it stopped
    again = dossier("build", str(site), "-o", str(out), "--no-search", "--warm")
    assert again.returncode == 0 and "0 rendered" in again.stdout, again.stdout
    assert listening(site, out) and warm_pid(site, out) != old


def test_a_library_upgraded_while_it_runs_stops_it_and_the_build_is_cold(demo_copy: Path, tmp_path: Path,
                                                                          runtime):
    site, out, libraries = demo_copy, tmp_path / "out", tmp_path / "libraries"
    libraries.mkdir()
    on_path = {"PYTHONPATH": str(libraries)}  # where an upgrade is made to seem to land
    first = dossier("build", str(site), "-o", str(out), "--no-search", "--warm", env=on_path)
    assert first.returncode == 0 and listening(site, out), first.stderr
    every = re.search(r"\((\d+) rendered", first.stdout)[0]
    old = warm_pid(site, out)
    seem_upgraded(libraries)  # the warm process still runs the old mistune
    after = dossier("build", str(site), "-o", str(out), "--no-search", "--warm", env=on_path)
    assert after.returncode == 0 and every in after.stdout, after.stdout  # its cache is not used either
    assert listening(site, out) and warm_pid(site, out) != old
    assert "0 rendered" in dossier("build", str(site), "-o", str(out), "--no-search", env=on_path).stdout
    assert_same_as_cold(site, out, tmp_path)


def test_it_stops_when_idle_and_on_sigterm_leaving_its_cache(demo_copy: Path, tmp_path: Path, runtime):
    site, out = demo_copy, tmp_path / "out"
    quick = {"DOSSIER_WARM_IDLE": "5"}  # long enough for the next build to come first
    assert dossier("build", str(site), "-o", str(out), "--no-search", "--warm", env=quick).returncode == 0
    edit(site, ".md", "\n\n", "\n\nIdle soon.\n\n")
    assert dossier("build", str(site), "-o", str(out), "--no-search").returncode == 0
    assert not (out / CACHE_FILE).exists()
    wait_until(lambda: not warm.socket_path(site, out).exists())  # (knocking to ask would not keep it awake)
    assert (out / CACHE_FILE).is_file() and not listening(site, out)
    assert "0 rendered" in dossier("build", str(site), "-o", str(out), "--no-search").stdout

    assert dossier("build", str(site), "-o", str(out), "--no-search", "--warm").returncode == 0  # nothing to do
    edit(site, ".md", "Idle soon.", "Stopped by a signal.")
    assert dossier("build", str(site), "-o", str(out), "--no-search").returncode == 0
    assert not (out / CACHE_FILE).exists()
    os.kill(warm_pid(site, out), signal.SIGTERM)
    warm._wait_gone(warm.socket_path(site, out))
    assert not listening(site, out) and (out / CACHE_FILE).is_file()
    assert "0 rendered" in dossier("build", str(site), "-o", str(out), "--no-search").stdout
    assert_same_as_cold(site, out, tmp_path)


def test_a_build_with_search_is_handed_over_too(demo_copy: Path, tmp_path: Path, runtime):
    site, out = demo_copy, tmp_path / "out"
    assert dossier("build", str(site), "-o", str(out), "--no-search", "--warm").returncode == 0
    searched = dossier("build", str(site), "-o", str(out))
    assert searched.returncode == 0, searched.stderr
    assert (out / "pagefind" / "pagefind-entry.json").is_file() and not (out / CACHE_FILE).exists()


def test_edits_saved_by_renaming_and_articles_added_or_removed_are_built(demo_copy: Path, tmp_path: Path, runtime):
    """The warm process learns of changes from the kernel (watch.py): however a file was saved,
    and whatever was made or removed, its build is a cold build's."""
    site, out = demo_copy, tmp_path / "out"
    assert dossier("build", str(site), "-o", str(out), "--no-search", "--warm").returncode == 0
    sidecar = site / f"{ARTICLE}.yaml"
    saved = sidecar.with_name(f".{sidecar.name}.swp")
    saved.write_text(sidecar.read_text().replace("summary: ", "summary: Saved over. ", 1))
    os.replace(saved, sidecar)
    assert dossier("build", str(site), "-o", str(out), "--no-search").returncode == 0
    assert "Saved over." in (out / "articles/kursk-residents-left-behind/index.html").read_text()
    assert_same_as_cold(site, out, tmp_path)
    copy = site / "content/articles/zz-copy"
    shutil.copy(site / f"{ARTICLE}.md", copy.with_suffix(".md"))
    copy.with_suffix(".yaml").write_text("title: A copy\nsource: {publisher: Desk, url: https://example.org/copy}\n")
    added = dossier("build", str(site), "-o", str(out), "--no-search")
    assert added.returncode == 0, added.stderr
    assert (out / "articles/zz-copy/index.html").is_file()
    assert_same_as_cold(site, out, tmp_path)
    copy.with_suffix(".md").unlink()
    copy.with_suffix(".yaml").unlink()
    assert dossier("build", str(site), "-o", str(out), "--no-search").returncode == 0
    assert not (out / "articles/zz-copy").exists()
    assert_same_as_cold(site, out, tmp_path)


def test_a_build_without_warm_leaves_no_process_behind(demo_copy: Path, tmp_path: Path, runtime):
    site, out = demo_copy, tmp_path / "out"
    done = dossier("build", str(site), "-o", str(out), "--no-search")
    assert done.returncode == 0 and (out / CACHE_FILE).is_file()  # built in its own process, as ever
    path = warm.socket_path(site, out)
    assert not path.exists() and not path.with_suffix(".lock").exists() and not listening(site, out)
    assert dossier("stop", str(site), "-o", str(out)).stdout.startswith("dossier: no warm process runs")


def test_build_warm_with_nothing_to_do_holds_the_build_and_rewrites_nothing(demo_copy: Path, tmp_path: Path, runtime):
    site, out = demo_copy, tmp_path / "out"
    assert dossier("build", str(site), "-o", str(out), "--no-search").returncode == 0  # in its own process
    files = {p: p.stat().st_ino for p in out.rglob("*") if p.is_file()}
    held = dossier("build", str(site), "-o", str(out), "--no-search", "--warm")
    assert held.returncode == 0 and "(0 rendered, 0 written" in held.stdout, held.stdout
    assert {p: p.stat().st_ino for p in out.rglob("*") if p.is_file()} == files  # not one file replaced
    edit(site, ".md", "\n\n", "\n\nHeld from the start.\n\n")
    assert dossier("build", str(site), "-o", str(out), "--no-search").returncode == 0
    assert not (out / CACHE_FILE).exists()  # made from memory: the first edit is a quick one too
    assert_same_as_cold(site, out, tmp_path)


def test_a_signal_while_a_build_is_handed_over_exits_with_its_number():
    """`kill` of a command waiting on the warm process: exit 128 + 15, as a build of its own would."""
    import socket
    import threading

    from dossier import cli

    mine, theirs = socket.socketpair()  # a warm process that says nothing yet
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    done = cli._stop_on_signals()
    threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
    try:
        assert warm._ask(mine, {"build": []}) == 128 + signal.SIGTERM
    finally:
        done()
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        theirs.close()
