"""Nothing lost: a failed, killed or interrupted build leaves the previous output
byte for byte as it was, and an output folder that would cost the user's work
is refused (exit 2) with nothing deleted.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dossier import write as write_module
from dossier.cache import CACHE_FILE
from fixtures.sitekit import BASIC, make_site, run, snapshot, write

REPO = Path(__file__).resolve().parent.parent
ARTICLES = 1500  # enough that writing pages takes seconds, so a signal lands mid-write


def cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(REPO / "build.py"), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, **kw)


@pytest.fixture
def big_site(tmp_path) -> Path:
    site = make_site(tmp_path / "big")
    text = "The North Bridge was closed on Monday, said Anna Kovač of the River Agency. " * 6
    for i in range(ARTICLES):
        write(site, f"content/articles/gen-{i:05d}.md", f"# Report {i}\n\n{text}\n\nMore about report {i}.\n")
        write(site, f"content/articles/gen-{i:05d}.yaml",
              f"title: Report {i}\nsource: {{published: 2024-01-{1 + i % 28:02d}}}\n"
              f"claims:\n  - id: gen-{i}\n    quote: More about report {i}.\n")
    return site


@pytest.fixture
def previous(tmp_path) -> Path:
    """An output from the small fixture site: what every broken build must leave alone."""
    out = tmp_path / "output"
    code, _, err = run("build", str(BASIC), "-o", str(out), "--no-search")
    assert code == 0, err
    return out


def staging_folders(out: Path) -> list[Path]:
    return [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}") and p.is_dir()]


def wait_until_writing(proc: subprocess.Popen, out: Path, timeout: float = 120) -> int:
    """Block until the build's staging folder holds article pages; return how many."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the build ended before it could be interrupted: {proc.communicate()}"
        for stage in staging_folders(out):
            articles = stage / "articles"
            written = sum(1 for _ in articles.glob("gen-*/index.html")) if articles.is_dir() else 0
            if written >= 50:
                return written
        time.sleep(0.01)
    raise AssertionError("the build never reached the write stage")


@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT"])
def test_a_build_stopped_while_writing_leaves_the_old_output(big_site, previous, how):
    before = snapshot(previous)
    proc = cli("build", str(big_site), "-o", str(previous), "--no-search")
    try:
        written = wait_until_writing(proc, previous)
        os.killpg(proc.pid, getattr(signal, how))  # the whole group, as a terminal's Ctrl-C or a kill would
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert written < ARTICLES, "the build had finished writing before the signal"
    assert snapshot(previous) == before
    if how == "SIGINT":
        assert proc.returncode == 130, stderr
        assert "Traceback" not in stderr
        assert "interrupted" in stderr
        assert staging_folders(previous) == [], "an interrupted build removes its staging folder"
    else:
        assert proc.returncode == -signal.SIGKILL
    # The next build succeeds and sweeps up what a killed build left.
    code, _, err = run("build", str(BASIC), "-o", str(previous), "--no-search")
    assert code == 0, err
    assert staging_folders(previous) == []
    assert snapshot(previous) == before


def test_a_build_with_content_errors_leaves_the_old_output(tmp_path, previous):
    before = snapshot(previous)
    site = make_site(tmp_path / "s", {"content/articles/beta-note.yaml": "title: [\n"})
    code, _, err = run("build", str(site), "-o", str(previous), "--no-search")
    assert code == 1
    assert "nothing was written" in err
    assert snapshot(previous) == before
    assert staging_folders(previous) == []


def test_a_template_failing_midway_leaves_the_old_output(tmp_path, previous):
    before = snapshot(previous)
    site = make_site(tmp_path / "s", {"templates/entity.html": "{{ e.name }}{{ e.no_such_field.x }}\n"})
    code, _, err = run("build", str(site), "-o", str(previous), "--no-search")
    assert code == 1
    assert "templates/entity.html:1:1: error: template error:" in err
    assert snapshot(previous) == before
    assert staging_folders(previous) == []


def test_check_writes_nothing(tmp_path):
    site = make_site(tmp_path / "s")
    before = snapshot(site)
    code, stdout, _ = run("check", str(site))
    assert code == 0
    assert snapshot(site) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]


def test_a_successful_build_replaces_the_output_whole(tmp_path, previous):
    (previous / "articles/stale-article").mkdir()
    (previous / "articles/stale-article/index.html").write_text("old")
    site = make_site(tmp_path / "s", {"content/articles/beta-note.md": None, "content/articles/beta-note.yaml": None})
    code, _, err = run("build", str(site), "-o", str(previous), "--no-search")
    assert code == 0, err
    assert not (previous / "articles/stale-article").exists()
    assert not (previous / "articles/beta-note").exists()
    assert (previous / "articles/bridge-closed/index.html").is_file()


def test_a_build_that_replaces_the_output_does_not_wait_for_the_last_one_to_go(tmp_path, previous, monkeypatch):
    """Swapped out, the last output (at 10,000 articles 25,000 folders, seconds to remove) is
    removed on a thread while the build ends, and what is left of it when the process exits,
    by a process of its own that outlives it."""
    (previous / CACHE_FILE).unlink()  # no cache: the new output is made whole and swapped in
    released, real_rmtree = threading.Event(), shutil.rmtree

    def held_rmtree(path, *args, **kw):
        if "-gone-" in str(path):
            released.wait(30)
        return real_rmtree(path, *args, **kw)

    monkeypatch.setattr(shutil, "rmtree", held_rmtree)
    try:
        code, _, err = run("build", str(BASIC), "-o", str(previous), "--no-search")
        assert code == 0, err
        gone = [p for p in staging_folders(previous) if "-gone-" in p.name]
        assert len(gone) == 1 and (gone[0] / "index.html").is_file(), "the last output, set aside, not yet removed"
        remover = write_module.finish_discarding()
        assert remover is not None and remover.pid != os.getpid()
        assert os.getsid(remover.pid) == remover.pid, "in a session of its own: a terminal's Ctrl-C does not stop it"
        assert remover.wait(timeout=60) == 0
        assert staging_folders(previous) == []
        assert write_module.finish_discarding() is None
    finally:
        released.set()
    assert (previous / "articles" / "bridge-closed" / "index.html").is_file()


def test_the_command_line_leaves_no_last_output_behind(tmp_path, previous):
    """The whole path through the command: a build that swaps the output in exits, and the
    last output is gone soon after."""
    (previous / CACHE_FILE).unlink()
    proc = cli("build", str(BASIC), "-o", str(previous), "--no-search")
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    deadline = time.monotonic() + 30
    while staging_folders(previous) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert staging_folders(previous) == []
    assert (previous / "articles" / "bridge-closed" / "index.html").is_file()


# -- refusing an output folder ---------------------------------------------------------------

@pytest.mark.parametrize("where", ["site", "parent", "content", "content/articles/out", "templates", "static/out"])
def test_refuses_an_output_folder_that_holds_or_lies_in_the_users_work(tmp_path, where):
    site = make_site(tmp_path / "s", {"templates/home.html": "{% extends 'base.html' %}\n", "static/robots.txt": "x"})
    out = {"site": site, "parent": tmp_path}.get(where, site / where)
    before, around = snapshot(site), sorted(p.name for p in tmp_path.iterdir())
    code, stdout, stderr = run("build", str(site), "-o", str(out))
    assert code == 2, stderr
    assert stderr.startswith("dossier: error: refusing to write the output to ")
    assert "Traceback" not in stderr
    assert snapshot(site) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == around


def test_refuses_a_folder_that_is_not_an_earlier_output(tmp_path):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"\xff\xd8 precious")
    code, _, stderr = run("build", str(BASIC), "-o", str(out))
    assert code == 2
    assert "not empty and was not made by dossier" in stderr
    assert (out / "holiday.jpg").read_bytes() == b"\xff\xd8 precious"
    assert sorted(p.name for p in out.iterdir()) == ["holiday.jpg"]


def test_refuses_a_file_as_output(tmp_path):
    out = tmp_path / "notes.txt"
    out.write_text("mine")
    code, _, stderr = run("build", str(BASIC), "-o", str(out))
    assert code == 2
    assert out.read_text() == "mine"


def test_an_empty_folder_is_fine(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    code, _, stderr = run("build", str(BASIC), "-o", str(out), "--no-search")
    assert code == 0, stderr
    assert (out / "index.html").is_file()


def test_refusal_through_the_real_command_line(tmp_path):
    site = make_site(tmp_path / "s")
    before = snapshot(site)
    proc = subprocess.run([sys.executable, str(REPO / "build.py"), "build", str(site), "-o", str(site)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert snapshot(site) == before


@pytest.mark.parametrize("args", [["bogus"], ["build", "--no-such-flag"], ["build", "/no/such/folder"],
                                  ["check", "a", "b"], ["serve", "--port", "many"]])
def test_usage_mistakes_exit_2_without_a_traceback(args):
    proc = subprocess.run([sys.executable, str(REPO / "build.py"), *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip()


def test_options_without_a_command_are_those_of_build(demo_copy: Path, tmp_path: Path):
    """`python build.py` builds the folder it runs in: so do `python build.py --no-search`,
    `python build.py -o public` and the like."""
    proc = subprocess.run([sys.executable, str(REPO / "build.py"), "--no-search", "-o", str(tmp_path / "public")],
                          cwd=demo_copy, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"dossier: built into {tmp_path / 'public'}:")
    assert (tmp_path / "public" / "index.html").is_file() and not (tmp_path / "public" / "pagefind").exists()
    assert not (demo_copy / "output").exists()
    shown = subprocess.run([sys.executable, str(REPO / "build.py"), "--help"], capture_output=True, text=True,
                           timeout=60)
    assert shown.returncode == 0 and "COMMAND" in shown.stdout  # the commands' help, not build's


def test_python_m_dossier_runs_the_same_commands(demo_copy: Path, tmp_path: Path):
    proc = subprocess.run([sys.executable, "-m", "dossier", "build", str(demo_copy), "-o", str(tmp_path / "out"),
                           "--no-search"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"dossier: built into {tmp_path / 'out'}:")
    assert (tmp_path / "out" / "index.html").is_file()


def test_an_output_that_cannot_be_made_is_an_error_not_a_traceback(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("mine")
    proc = subprocess.run([sys.executable, str(REPO / "build.py"), "build", str(BASIC), "-o", str(blocker / "out"),
                           "--no-search"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("dossier: error: cannot write the output:")
    assert blocker.read_text() == "mine"


@pytest.mark.parametrize("other_thread", [False, True])
def test_ctrl_c_while_the_new_output_moves_in_waits_until_it_is_complete(tmp_path, monkeypatch, other_thread):
    """An incremental rebuild moves changed files into the output one by one: a Ctrl-C
    that lands then is held until the last file is in place, and said to have come after.
    Also when another thread is alive: the kernel gives it the signal, which the main
    thread blocks."""
    from dossier import write as write_module
    from dossier.build import build

    if other_thread:
        stop = threading.Event()
        waiter = threading.Thread(target=stop.wait, daemon=True)
        waiter.start()

    site = make_site(tmp_path / "site")
    out = tmp_path / "output"
    assert build(site, out, search=False).ok
    for name in ("beta-note", "bridge-closed"):
        path = site / f"content/articles/{name}.md"
        path.write_text(path.read_text() + "\nA line added later.\n")
    moved = []
    real_replace = os.replace

    def replace(src, dst):  # the first move of the commit is interrupted by a real SIGINT
        if not moved:
            os.kill(os.getpid(), signal.SIGINT)
        moved.append(dst)
        real_replace(src, dst)

    monkeypatch.setattr(write_module.os, "replace", replace)
    with pytest.raises(write_module.InterruptedAfterCommit):
        build(site, out, search=False)
    monkeypatch.setattr(write_module.os, "replace", real_replace)
    assert len(moved) > 2  # both articles' pages, the cache and more: every move was made
    for name in ("beta-note", "bridge-closed"):
        assert "A line added later." in (out / f"articles/{name}/index.html").read_text()
    again = build(site, out, search=False)
    assert list(again.timings) == ["inputs unchanged"]  # the cache went in last: the output is whole
    if other_thread:
        stop.set()
        waiter.join()


@pytest.mark.parametrize("kernel_copies", [True, False])
def test_an_edited_file_is_the_old_one_with_its_ranges_replaced(tmp_path, monkeypatch, kernel_copies):
    """StagedOutput.put_edited: the bytes between the edits come from the old file, copied by
    the kernel or, where it cannot (another system, another file system), read and written."""
    from dossier.write import MARKER, StagedOutput
    out = tmp_path / "out"
    out.mkdir()
    (out / MARKER).write_text("")
    old = b"".join(b"%06d," % n for n in range(300_000))  # 2 MB: more than one fallback block
    (out / "data.txt").write_bytes(old)
    if not kernel_copies:
        def cannot(*args):
            raise OSError(18, "Invalid cross-device link")
        monkeypatch.setattr(os, "copy_file_range", cannot)
    edits = [(7, 6, b"seven"), (1_400_000, 7, b""), (len(old) - 7, 7, b"last,and more")]
    with StagedOutput(out, incremental=True, holds=frozenset({"data.txt"})) as staged:
        assert staged.put_edited("data.txt", edits)
        staged.commit()
    want = old[:7] + b"seven" + old[13:1_400_000] + old[1_400_007:len(old) - 7] + b"last,and more"
    assert (out / "data.txt").read_bytes() == want
    with StagedOutput(out, incremental=True, holds=frozenset({"data.txt"})) as staged:  # the same bytes: kept
        assert not staged.put_edited("data.txt", [(7, 5, b"seven")])
        staged.commit()
    assert (out / "data.txt").read_bytes() == want


# -- where the output really is -----------------------------------------------------------------

@pytest.mark.parametrize("what", ["a folder of the user's", "the site's site.yaml"])
def test_a_path_through_a_missing_folder_is_checked_where_it_leads(tmp_path, what):
    """`dest/missing/../mine` is `dest/mine` to the system (mkdir -p makes `missing`): the checks
    are of that folder, and a refusal makes nothing, not even `missing`."""
    site = make_site(tmp_path / "s")
    mine = tmp_path / "dest" / "mine"
    write(tmp_path, "dest/mine/notes.txt", "precious\n")
    out, leads_to = {"a folder of the user's": (tmp_path / "dest" / "missing" / ".." / "mine", mine),
                     "the site's site.yaml": (site / "missing" / ".." / "site.yaml", site / "site.yaml")}[what]
    before, site_before = snapshot(tmp_path / "dest"), snapshot(site)
    code, _, stderr = run("build", str(site), "-o", str(out), "--no-search")
    assert code == 2, stderr
    assert stderr.startswith(f"dossier: error: refusing to write the output to {out}: ")
    assert snapshot(tmp_path / "dest") == before and snapshot(site) == site_before
    assert not out.parent.exists() and leads_to.exists()


def test_a_path_through_a_missing_folder_is_built_where_it_leads_and_makes_no_folder(tmp_path):
    out = tmp_path / "missing" / ".." / "public"
    code, _, err = run("build", str(BASIC), "-o", str(out), "--no-search")
    assert code == 0, err
    assert (tmp_path / "public" / "index.html").is_file()
    assert not (tmp_path / "missing").exists()


def test_an_output_folder_that_holds_the_site_is_said_to(tmp_path):
    site = make_site(tmp_path / "s")
    code, _, stderr = run("build", str(site), "-o", str(tmp_path))
    assert code == 2
    assert "it contains the site folder" in stderr
    code, _, stderr = run("build", str(site), "-o", str(site))
    assert code == 2
    assert "it would replace the site folder itself" in stderr


def leftovers(folder: Path) -> list[str]:
    """What builds left beside their output: staging folders and last outputs (.NAME.tmp-…)."""
    write_module.finish_discarding()  # the last output's removal, waited for here
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(".tmp-" in p.name for p in folder.iterdir()):
        time.sleep(0.05)
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name)


@pytest.mark.parametrize("search", [False, True])
def test_an_output_that_is_a_link_is_built_into_its_target_and_stays_a_link(tmp_path, search):
    """As `cp -r` or `rsync` into a link would: the link stays (output -> /var/www/site), the
    target holds the site; a rebuild, a full one or one that moves changed files in, does too."""
    target = tmp_path / "www" / "site"
    target.mkdir(parents=True)
    link = tmp_path / "output"
    link.symlink_to(target, target_is_directory=True)
    options = [] if search else ["--no-search"]
    for changes in ({}, {"content/articles/beta-note.md": "# Beta\n\nThe South Bridge was closed.\n"}):
        site = make_site(tmp_path / f"s{len(changes)}", changes)
        code, stdout, err = run("build", str(site), "-o", str(link), *options)
        assert code == 0, err
        assert stdout.startswith(f"dossier: built into {link}:")
        assert link.is_symlink() and os.readlink(link) == str(target)
        assert (target / "articles" / "beta-note" / "index.html").is_file()
        assert (target / "pagefind").is_dir() == search
    assert "South Bridge" in (target / "articles" / "beta-note" / "index.html").read_text()
    assert leftovers(tmp_path) == [] and leftovers(target.parent) == []


def test_an_output_link_to_a_folder_of_the_users_is_refused(tmp_path):
    target = tmp_path / "photos"
    write(tmp_path, "photos/holiday.jpg", b"\xff\xd8 precious")
    link = tmp_path / "output"
    link.symlink_to(target, target_is_directory=True)
    code, _, stderr = run("build", str(BASIC), "-o", str(link), "--no-search")
    assert code == 2
    assert f"refusing to write the output to {link} (a link to {target}): the folder is not empty" in stderr
    assert [p.name for p in target.iterdir()] == ["holiday.jpg"] and link.is_symlink()
    assert (target / "holiday.jpg").read_bytes() == b"\xff\xd8 precious"


def test_two_builds_into_one_output_take_turns(demo_copy: Path, tmp_path: Path):
    """A second build into an output that a build is still making waits for it: else it swept
    the first one's staging folder away, and the first swapped in an output without pages (or
    waited for ever on a Pagefind that had lost its folder)."""
    from pagefind.service import get_executable

    slow = tmp_path / "slow-pagefind"  # the index of a large dossier takes time
    slow.write_text(f"#!/bin/sh\nsleep 4\nexec '{get_executable()}' \"$@\"\n")
    slow.chmod(0o755)
    out = tmp_path / "out"
    command = [sys.executable, str(REPO / "build.py"), "build", str(demo_copy), "-o", str(out)]
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path / "run")}  # where the locks are, to be seen
    (tmp_path / "run").mkdir()
    first = subprocess.Popen(command, env={**env, "PAGEFIND_BINARY_PATH": str(slow)},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".out.tmp-*")) and time.monotonic() < deadline:  # the first is staging
        time.sleep(0.05)
    third = subprocess.Popen([*command, "--no-search"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.run([*command, "--no-search"], env=env, capture_output=True, text=True, timeout=300)
    _, first_err = first.communicate(timeout=300)
    _, third_err = third.communicate(timeout=300)
    assert first.returncode == second.returncode == third.returncode == 0, (first_err, second.stderr, third_err)
    assert f"dossier: waiting for another build into {out} to finish" in second.stderr
    assert not list((tmp_path / "run").rglob("*.lock")), "a lock file left for every output ever built"
    cold = tmp_path / "cold"
    assert subprocess.run([*command[:-1], str(cold), "--no-search"], capture_output=True, timeout=300).returncode == 0
    made = {p.relative_to(cold) for p in cold.rglob("*.html")}
    assert made and {p.relative_to(out) for p in out.rglob("*.html")} == made  # every page there, none lost
    assert not list(tmp_path.glob(".out.tmp-*[0-9]")), "no staging folder left"


def test_an_output_removed_while_a_rebuild_makes_its_changes_is_not_half_made_again(demo_copy: Path, tmp_path: Path,
                                                                                     monkeypatch):
    """A --no-search rebuild moves only its changed files in: if the output went meanwhile, those
    alone would make a folder without the rest, and without the mark that lets builds replace it."""
    from dossier import write
    from fixtures.sitekit import run

    out = tmp_path / "out"
    assert run("build", str(demo_copy), "-o", str(out), "--no-search")[0] == 0
    (demo_copy / "site.yaml").write_text((demo_copy / "site.yaml").read_text().replace("title: Kursk", "title: The Kursk", 1))
    commit = write.StagedOutput.commit

    def removed_first(self, *args, **kwargs):
        shutil.rmtree(out)  # as `rm -rf output` in another terminal would
        return commit(self, *args, **kwargs)

    monkeypatch.setattr(write.StagedOutput, "commit", removed_first)
    code, _, err = run("build", str(demo_copy), "-o", str(out), "--no-search")
    assert code == 2 and "the output folder was removed while the build ran; build again" in err
    assert not out.exists()
    monkeypatch.setattr(write.StagedOutput, "commit", commit)
    code, _, err = run("build", str(demo_copy), "-o", str(out), "--no-search")  # the next build: cold, whole
    assert code == 0, err
    assert (out / "index.html").is_file() and (out / "claims.csv").is_file() and (out / write.MARKER).is_file()


@pytest.mark.parametrize("stdout", ["closed pipe", "/dev/full"])
def test_a_report_that_cannot_be_printed_is_no_failed_build(tmp_path, stdout):
    """`dossier build | head -0`, or `> /dev/full`: the build is done and in place; saying it could
    not be written, with exit 2, would be false."""
    site, out = make_site(tmp_path / "s"), tmp_path / "out"
    args = [sys.executable, str(REPO / "build.py"), "build", str(site), "-o", str(out), "--no-search"]
    if stdout == "/dev/full":
        with open("/dev/full", "w") as full:
            done = subprocess.run(args, stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
        code, err = done.returncode, done.stderr
    else:
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        process.stdout.close()
        err = process.stderr.read()
        code = process.wait(timeout=120)
    assert (code, err) == (0, "")
    assert (out / "index.html").is_file()
