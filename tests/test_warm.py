"""The warm process (warm.py), as users run it: `build --warm` starts it, later builds are
handed to it over its socket, `stop`, idleness and SIGTERM end it. Real processes only."""

from __future__ import annotations

import contextlib
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


def knock(site: Path, out: Path):
    """A connection to the warm process that says nothing: it holds the process (which waits
    warm.REQUEST_WAIT for what it wants) as a build would."""
    conn = warm._connect(warm.socket_path(site, out))
    assert conn is not None
    return conn


def started(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(REPO / "build.py"), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def read_until(stream, text: str) -> str:
    seen = ""
    while text not in seen:
        line = stream.readline()
        assert line, f"ended before {text!r}: {seen}"
        seen += line
    return seen


def test_a_build_handed_over_from_a_terminal_shows_its_progress_as_in_a_terminal(demo_copy: Path, tmp_path: Path,
                                                                                  runtime):
    import pty

    site, out = demo_copy, tmp_path / "out"
    assert dossier("build", str(site), "-o", str(out), "--no-search", "--warm").returncode == 0
    edit(site, ".md", "\n\n", "\n\nSeen in a terminal.\n\n")
    master, terminal = pty.openpty()
    try:
        handed = subprocess.run([sys.executable, str(REPO / "build.py"), "build", str(site), "-o", str(out),
                                 "--no-search"], stdout=subprocess.PIPE, stderr=terminal, timeout=60)
        os.close(terminal)
        shown = b""
        with contextlib.suppress(OSError):  # EIO once all is read
            while chunk := os.read(master, 65536):
                shown += chunk
    finally:
        os.close(master)
    assert handed.returncode == 0
    assert re.search(rb"\rdossier: rendered (\d+)/\1 pages\x1b\[K", shown), shown  # in place, as in a terminal


def test_a_build_from_another_copy_of_dossier_is_made_by_that_copy(demo_copy: Path, tmp_path: Path, runtime):
    """Two installations whose Python code is the same may differ in their templates: a warm process
    of one makes no build for the other."""
    site, out = demo_copy, tmp_path / "out"
    copies = {}
    for name in ("one", "other"):
        copies[name] = tmp_path / name
        shutil.copytree(REPO / "dossier", copies[name] / "dossier", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(REPO / "build.py", copies[name])
    base = copies["other"] / "dossier/templates/base.html"
    base.write_text(base.read_text().replace("</body>", "<!-- the other copy --></body>"))

    def build_with(name: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(copies[name] / "build.py"), "build", str(site), "-o", str(out),
                               "--no-search", *args], capture_output=True, text=True, timeout=120)

    assert build_with("one", "--warm").returncode == 0 and listening(site, out)
    assert build_with("other").returncode == 0
    assert "<!-- the other copy -->" in (out / "index.html").read_text()


def test_a_build_run_from_a_folder_since_removed_builds(demo_copy: Path, tmp_path: Path, runtime):
    site, out, gone = demo_copy, tmp_path / "out", tmp_path / "gone"
    script = ("import os, sys\nfrom dossier.cli import run\n"
              f"os.mkdir({str(gone)!r}); os.chdir({str(gone)!r}); os.rmdir({str(gone)!r})\nrun()\n")
    for warmed in (False, True):
        done = subprocess.run([sys.executable, "-c", script, "build", str(site), "-o", str(out), "--no-search"],
                              cwd=REPO, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        assert_same_as_cold(site, out, tmp_path)
        if not warmed:
            assert dossier("build", str(site), "-o", str(out), "--no-search", "--warm").returncode == 0
            edit(site, ".md", "\n\n", "\n\nFrom nowhere.\n\n")


# Started in the warm process only (whose program is warm.py): the pipeline, as it is imported,
# fails as a bug in it would. The command that handed the build over is not touched.
BUG_IN_THE_WARM_PROCESS = """
import sys
class BugOnImport:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "dossier.build" and sys.argv[0].endswith("warm.py"):
            raise RuntimeError("a bug met in the warm process")
        return None
sys.meta_path.insert(0, BugOnImport)
"""


def test_a_warm_process_that_fails_keeps_its_log_and_the_build_is_made_in_the_command(demo_copy: Path,
                                                                                      tmp_path: Path, runtime):
    site, out, bug = demo_copy, tmp_path / "out", tmp_path / "bug"
    bug.mkdir()
    (bug / "sitecustomize.py").write_text(BUG_IN_THE_WARM_PROCESS)
    done = dossier("build", str(site), "-o", str(out), "--no-search", "--warm", env={"PYTHONPATH": str(bug)})
    assert done.returncode == 0 and "built into" in done.stdout, done.stderr
    log = warm.socket_path(site, out).with_suffix(".log")
    assert f"the warm process stopped during the build (see {log})" in done.stderr, done.stderr
    assert "RuntimeError: a bug met in the warm process" in log.read_text()
    assert not listening(site, out)
    assert_same_as_cold(site, out, tmp_path)


def test_any_idle_time_given_is_taken_without_a_failure(demo_copy: Path, tmp_path: Path, runtime):
    site, out = demo_copy, tmp_path / "out"
    checked = dossier("check", str(site), env={"DOSSIER_WARM_IDLE": "soon"})  # not a number: not every command's end
    assert checked.returncode == 0 and "Traceback" not in checked.stderr, checked.stderr
    never = dossier("build", str(site), "-o", str(out), "--no-search", "--warm", env={"DOSSIER_WARM_IDLE": "inf"})
    assert never.returncode == 0 and never.stderr == "" and listening(site, out), never.stderr
    assert dossier("stop", str(site), "-o", str(out)).returncode == 0
    at_once = dossier("build", str(site), "-o", str(out), "--no-search", "--warm", env={"DOSSIER_WARM_IDLE": "0"})
    assert at_once.returncode == 0 and at_once.stderr == "", at_once.stderr  # made by it, which then stops
    wait_until(lambda: not warm.socket_path(site, out).exists())
    assert not list(runtime.rglob("*.log"))  # it did not fail


def test_a_build_handed_over_while_another_is_made_says_it_waits(demo_copy: Path, tmp_path: Path, runtime):
    site, out = demo_copy, tmp_path / "out"
    assert dossier("build", str(site), "-o", str(out), "--no-search", "--warm").returncode == 0
    with knock(site, out):  # the warm process is busy with it
        waiting = started("build", str(site), "-o", str(out), "--no-search")
        said = read_until(waiting.stderr, "\n")
    assert said == f"dossier: waiting for another build into {out.resolve()} to finish\n"
    stdout, stderr = waiting.communicate(timeout=60)
    assert waiting.returncode == 0 and "built into" in stdout and stderr == "", stderr


def test_a_build_that_comes_as_the_warm_process_stops_is_made_all_the_same(demo_copy: Path, tmp_path: Path,
                                                                          runtime):
    site, out = demo_copy, tmp_path / "out"
    assert dossier("build", str(site), "-o", str(out), "--no-search", "--warm").returncode == 0
    edit(site, ".md", "\n\n", "\n\nAs it stops.\n\n")
    with knock(site, out):
        waiting = started("build", str(site), "-o", str(out), "--no-search")
        read_until(waiting.stderr, "waiting for another build")  # in its queue
        os.kill(warm_pid(site, out), signal.SIGTERM)
        stdout, stderr = waiting.communicate(timeout=60)
    assert waiting.returncode == 0 and "built into" in stdout, stderr
    assert "Traceback" not in stderr and "warning" not in stderr, stderr
    assert not listening(site, out)
    assert_same_as_cold(site, out, tmp_path)


def test_it_stops_once_its_site_folder_is_moved_or_removed(demo_copy: Path, tmp_path: Path, runtime):
    site, out = demo_copy, tmp_path / "out"
    assert dossier("build", str(site), "-o", str(out), "--no-search", "--warm").returncode == 0
    site.rename(tmp_path / "moved")
    wait_until(lambda: not warm.socket_path(site, out).exists(), seconds=10)  # not after 30 minutes
    stopped = dossier("stop", str(site), "-o", str(out))  # no error: there is none to stop, wherever the site is
    assert stopped.returncode == 0 and stopped.stdout.startswith("dossier: no warm process runs"), stopped.stderr
    assert dossier("build", str(tmp_path / "moved"), "-o", str(out), "--no-search", "--warm").returncode == 0
    shutil.rmtree(tmp_path / "moved")
    wait_until(lambda: not warm.socket_path(tmp_path / "moved", out).exists(), seconds=10)


def test_a_build_after_the_warm_process_was_killed_says_so_once_and_builds(demo_copy: Path, tmp_path: Path,
                                                                          runtime):
    site, out = demo_copy, tmp_path / "out"
    assert dossier("build", str(site), "-o", str(out), "--no-search", "--warm").returncode == 0
    edit(site, ".md", "\n\n", "\n\nKilled after.\n\n")
    assert dossier("build", str(site), "-o", str(out), "--no-search").returncode == 0
    os.kill(warm_pid(site, out), signal.SIGKILL)
    wait_until(lambda: not listening(site, out))
    after = dossier("build", str(site), "-o", str(out), "--no-search")
    assert after.returncode == 0 and "built into" in after.stdout, after.stderr
    assert after.stderr == ("dossier: warning: the warm process of this build had been killed, and what it held "
                            "in memory with it\n")
    assert [p.name for p in runtime.rglob("*") if not p.is_dir()] == []  # its socket and lock cleared away
    assert dossier("build", str(site), "-o", str(out), "--no-search").stderr == ""  # said once
    assert_same_as_cold(site, out, tmp_path)


def test_a_handed_build_whose_report_cannot_be_printed_still_succeeds(demo_copy: Path, tmp_path: Path, runtime):
    site, out = demo_copy, tmp_path / "out"
    assert dossier("build", str(site), "-o", str(out), "--no-search", "--warm").returncode == 0
    edit(site, ".md", "\n\n", "\n\nPrinted nowhere.\n\n")
    with open("/dev/full", "w") as full:  # as a plain build, whose report() takes it so
        done = subprocess.run([sys.executable, str(REPO / "build.py"), "build", str(site), "-o", str(out),
                               "--no-search"], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert_same_as_cold(site, out, tmp_path)


def test_a_build_with_another_search_binary_is_not_made_by_a_warm_process_started_with_another(
        demo_copy: Path, tmp_path: Path, runtime):
    site, out = demo_copy, tmp_path / "out"
    missing = {"PAGEFIND_BINARY_PATH": str(tmp_path / "no-pagefind")}  # set, say, to try another one
    assert dossier("build", str(site), "-o", str(out), "--no-search", "--warm", env=missing).returncode == 0
    plain = {k: v for k, v in os.environ.items() if k != "PAGEFIND_BINARY_PATH"}
    searched = subprocess.run([sys.executable, str(REPO / "build.py"), "build", str(site), "-o", str(out)],
                              capture_output=True, text=True, timeout=120, env=plain)
    assert searched.returncode == 0, searched.stderr  # with the packaged binary, as a build of its own
    assert (out / "pagefind" / "pagefind-entry.json").is_file()


def test_stop_writes_its_cache_only_into_an_output_no_other_build_wrote_meanwhile(demo_copy: Path, tmp_path: Path,
                                                                                  runtime):
    """A build of another process holding the output when `stop` comes: the warm process waits for
    it, then finds the output no longer its own, and leaves that build's cache as it is."""
    from dossier.write import output_lock

    site, out = demo_copy, tmp_path / "out"
    assert dossier("build", str(site), "-o", str(out), "--no-search", "--warm").returncode == 0
    edit(site, ".md", "\n\n", "\n\nOne more.\n\n")
    assert dossier("build", str(site), "-o", str(out), "--no-search").returncode == 0
    assert not (out / CACHE_FILE).exists()  # kept in the warm process's memory
    with output_lock(out):  # as another build holds it
        stopping = started("stop", str(site), "-o", str(out))
        time.sleep(1)
        assert stopping.poll() is None and not (out / CACHE_FILE).exists()  # it waits
        (out / CACHE_FILE).write_bytes(b"the other build's cache")  # that build ends, leaving its own
    assert stopping.wait(timeout=60) == 0
    assert (out / CACHE_FILE).read_bytes() == b"the other build's cache"
