"""A disk that fills, or a file size limit met, while the search index or the warm process's
cache is written: a clear error or note, never a traceback, and nothing half-written trusted.

Real failures only: the real Pagefind binary and real processes, meeting a full
tmpfs (ENOSPC; root only, skipped where mount is refused) or a file size limit
(RLIMIT_FSIZE, which works everywhere).
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO
from dossier import build as pipeline
from dossier import search, warm
from dossier.cache import CACHE_FILE
from test_search import build, demo, edited_copy, tree_digest  # noqa: F401 (demo: a fixture)
from test_warm import assert_same_as_cold, edit, listening, runtime  # noqa: F401 (a fixture)

NO_SPACE = "no space left on device"


@pytest.fixture
def small_disk(tmp_path):
    """An 8 MB file system of its own (a tmpfs), to be filled; skipped where it cannot be mounted."""
    where = tmp_path / "disk"
    where.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command: a full disk needs a tmpfs of its own")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"a tmpfs cannot be mounted here (root only): {done.stderr.strip()}")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=True)


def fill(disk: Path, leave: int) -> None:
    """Take all the space of `disk` but `leave` bytes."""
    st = os.statvfs(disk)
    with open(disk / "filler", "wb") as f:
        os.posix_fallocate(f.fileno(), 0, st.f_bavail * st.f_frsize - leave)


def errors(stderr: str) -> list[str]:
    assert "Traceback" not in stderr and "Expecting value" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith("dossier: error:")]


# -- the search index --------------------------------------------------------------


def test_pagefind_meeting_a_full_disk_says_so(demo, small_disk):
    """Pagefind exits 0 and says nothing when its files cannot be written: the index must tell."""
    stage = small_disk / "stage"
    shutil.copytree(demo[1], stage)
    shutil.rmtree(stage / search.BUNDLE_DIR)
    searched = search.Searched.of(pipeline.check(demo[0]).resolved)
    fill(small_disk, 200_000)  # the bundle takes some 860 KB
    indexing = search.Indexing(stage, searched, progress=lambda line: None,
                               copies=search.SearchCopies(stage, searched))  # the copies the output holds
    with pytest.raises(search.SearchError) as failed:
        indexing.wait()
    assert str(failed.value) == f"search index: {NO_SPACE} ({stage / search.BUNDLE_DIR})"
    assert not list((stage / search.BUNDLE_DIR).glob(".dossier-probe-*"))  # what asked the disk is gone


def test_a_build_whose_index_meets_a_full_disk_fails_clearly_and_keeps_the_output(demo, tmp_path, small_disk):
    site, out = edited_copy(demo, tmp_path, "A paragraph added since.")
    out = Path(shutil.move(out, small_disk / "out"))
    before = tree_digest(out)
    fill(small_disk, 400_000)  # the edited pages and the cache take less, the index more
    done = build(site, out)
    assert done.returncode == 2
    [error] = errors(done.stderr)
    staged = re.escape(str(small_disk)) + r"/\.out\.tmp-\d+/pagefind"
    assert re.fullmatch(rf"dossier: error: search index: {NO_SPACE} \({staged}\); the previous output is unchanged",
                        error), error
    assert tree_digest(out) == before
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "out"]  # no staging left behind


def test_an_empty_index_meeting_a_full_disk_fails_at_once(tmp_path, small_disk):
    """With nothing to index, Pagefind's service writes the bundle: a full disk leaves its files
    empty for good, which is said once they stop growing, not after STOP_GRACE."""
    site = tmp_path / "site"
    (site / "content" / "articles").mkdir(parents=True)
    shutil.copy(REPO / "site.yaml", site)
    out = small_disk / "out"
    assert build(site, out).returncode == 0
    (site / "site.yaml").write_text((site / "site.yaml").read_text().replace("title:", "title: Renamed —", 1))
    fill(small_disk, 150_000)
    clock = time.monotonic()
    done = build(site, out)
    assert time.monotonic() - clock < 30
    assert done.returncode == 2
    [error] = errors(done.stderr)
    assert f"search index: {NO_SPACE} (" in error, done.stderr


def limited_pagefind(tmp_path: Path, limit: int, signal_kept: bool = False) -> dict:
    """The environment of a build whose Pagefind runs with a file size limit: a write past it
    fails (EFBIG), or with `signal_kept` ends the binary (SIGXFSZ), as the system does."""
    wrapper = tmp_path / "pagefind"
    wrapper.write_text(f"""#!{sys.executable}
import os, resource, signal, sys
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
signal.signal(signal.SIGXFSZ, signal.{"SIG_DFL" if signal_kept else "SIG_IGN"})
os.execv({str(search.find_binary())!r}, [{str(search.find_binary())!r}, *sys.argv[1:]])
""")
    wrapper.chmod(0o755)
    return {"PAGEFIND_BINARY_PATH": str(wrapper)}


def test_pagefind_writing_nothing_past_a_file_size_limit_is_a_clear_error(demo, tmp_path):
    site, out = edited_copy(demo, tmp_path, "A paragraph added since.")
    before = tree_digest(out)
    done = build(site, out, env=limited_pagefind(tmp_path, 0))  # each of its writes fails: EFBIG
    assert done.returncode == 2
    [error] = errors(done.stderr)
    assert re.fullmatch(r"dossier: error: search index: Pagefind left \d+ of its files empty "
                        r"\(.*pagefind-entry\.json.*\) in .*/pagefind, as a full disk or a file size limit does; "
                        r"the previous output is unchanged", error), error
    assert tree_digest(out) == before


def test_pagefind_ended_by_a_file_size_limit_says_which(demo, tmp_path):
    site, out = edited_copy(demo, tmp_path, "A paragraph added since.")
    before = tree_digest(out)
    done = build(site, out, env=limited_pagefind(tmp_path, 50_000, signal_kept=True))
    assert done.returncode == 2
    assert errors(done.stderr) == ["dossier: error: the Pagefind binary stopped (ended by SIGXFSZ: File size limit "
                                   "exceeded); the previous output is unchanged"], done.stderr
    assert tree_digest(out) == before


# -- the warm process's cache ------------------------------------------------------------


def dossier(*args: str, limit: int | None = None) -> subprocess.CompletedProcess:
    """`python build.py ARGS`; with a file size limit, which the warm process it starts keeps."""
    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run([sys.executable, str(REPO / "build.py"), *args], capture_output=True, text=True,
                          timeout=300, preexec_fn=limited if limit else None)


def test_a_cache_the_warm_process_cannot_write_as_it_stops_is_said_and_left_out(demo_copy, tmp_path, runtime):
    site, out = demo_copy, tmp_path / "out"
    assert dossier("build", str(site), "-o", str(out), "--no-search").returncode == 0
    cache_size = (out / CACHE_FILE).stat().st_size
    # The warm process holds that build; every file it writes may be a page's size, not the cache's.
    held = dossier("build", str(site), "-o", str(out), "--no-search", "--warm", limit=cache_size // 2)
    assert held.returncode == 0 and listening(site, out), held.stderr
    edit(site, ".md", "\n\n", "\n\nA paragraph written later.\n\n")
    assert dossier("build", str(site), "-o", str(out), "--no-search").returncode == 0
    assert not (out / CACHE_FILE).exists()  # kept in memory, to be written as it stops

    stopped = dossier("stop", str(site), "-o", str(out))
    assert stopped.returncode == 0 and "stopped" in stopped.stdout, stopped.stderr
    assert stopped.stderr == (f"dossier: warning: the cache could not be written into {out.resolve()}: File too large; "
                              "the next build will be a full one\n")
    assert not listening(site, out)
    log = warm.socket_path(site, out).with_suffix(".log").read_text()
    assert log.splitlines() == [stopped.stderr.strip()]  # one line, no traceback
    assert not [p.name for p in out.iterdir() if p.name.startswith(CACHE_FILE)]  # no part of one either

    again = dossier("build", str(site), "-o", str(out), "--no-search")
    assert again.returncode == 0 and "(0 rendered" not in again.stdout, again.stdout  # a full build
    assert_same_as_cold(site, out, tmp_path)


def test_a_page_cut_short_by_a_file_size_limit_names_the_output(demo, tmp_path):
    """A write cut short names no file of its own: the message names the output it was for."""
    out = tmp_path / "out"
    done = dossier("build", str(demo[0]), "-o", str(out), "--no-search", limit=20_000)
    assert done.returncode == 2
    assert errors(done.stderr) == [f"dossier: error: cannot write the output: File too large ({out}); "
                                   "the previous output is unchanged"]
    assert not out.exists()
