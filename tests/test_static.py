"""static/ is copied to the output as it is: hidden files too (.nojekyll, .well-known/), but not
version control's, the system's or editors' files; and what is not a file (a named pipe) is an
error, never a build that waits for ever. `build`, `check` and the inputs' fingerprint agree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dossier.build import build
from fixtures.sitekit import BASIC, error_lines, make_site, run, snapshot, write

REPO = Path(__file__).resolve().parent.parent
HIDDEN = {"static/.nojekyll": "", "static/.well-known/security.txt": "Contact: mailto:desk@example.org\n"}
NOT_THE_SITES = {"static/.git/HEAD": "ref: refs/heads/main\n", "static/.gitignore": "*.tmp\n",
                 "static/.DS_Store": "\0", "static/notes.html~": "old\n", "static/.notes.html.swp": "\0",
                 "static/#notes.html#": "autosave\n", "static/.dossier-cache": "not a cache"}


def cli(*args: str) -> subprocess.CompletedProcess:
    """The command line, in a process of its own: one that waits for ever fails the test, in a minute."""
    return subprocess.run([sys.executable, str(REPO / "build.py"), *args], capture_output=True, text=True, timeout=60)


def test_hidden_files_are_copied_but_not_version_controls_or_editors(tmp_path):
    site = make_site(tmp_path / "s", {**HIDDEN, **NOT_THE_SITES})
    out = tmp_path / "out"
    code, _, err = run("build", str(site), "-o", str(out), "--no-search")
    assert code == 0, err
    for rel, text in HIDDEN.items():
        assert (out / rel.removeprefix("static/")).read_text() == text
    for rel in NOT_THE_SITES:
        if rel != "static/.dossier-cache":  # the output's own, the build's cache
            assert not (out / rel.removeprefix("static/")).exists(), rel
    assert (out / ".dossier-cache").read_bytes() != b"not a cache"
    assert not (out / ".git").exists()


def test_an_edited_hidden_file_is_built_again_and_an_editors_file_changes_nothing(tmp_path):
    site = make_site(tmp_path / "s", {**HIDDEN, **NOT_THE_SITES})
    out = tmp_path / "out"
    assert build(site, out, search=False).ok
    write(site, "static/.nojekyll", "edited\n")
    result = build(site, out, search=False)
    assert result.ok and "inputs unchanged" not in result.timings
    assert (out / ".nojekyll").read_text() == "edited\n"
    write(site, "static/.index.html.swp", "\0\0")
    write(site, "static/.git/HEAD", "ref: refs/heads/other\n")
    assert "inputs unchanged" in build(site, out, search=False).timings


def test_links_of_a_hidden_page_are_checked_by_build_and_check_alike(tmp_path):
    broken = '<!doctype html>\n<html lang="en"><title>x</title>\n<p><a href="nowhere.html">x</a></p></html>\n'
    site = make_site(tmp_path / "s", {"static/.well-known/page.html": broken, "static/.git/page.html": broken})
    checked = cli("check", str(site))
    built = cli("build", str(site), "-o", str(tmp_path / "out"), "--no-search")
    assert checked.returncode == built.returncode == 1
    assert error_lines(checked.stderr) == error_lines(built.stderr)
    assert [line.split(":")[0] for line in error_lines(checked.stderr)] == ["static/.well-known/page.html"]


def test_a_named_pipe_in_static_is_an_error_not_a_build_that_waits_for_ever(tmp_path):
    out = tmp_path / "out"
    code, _, err = run("build", str(BASIC), "-o", str(out), "--no-search")
    assert code == 0, err
    before = snapshot(out)
    site = make_site(tmp_path / "s", {"static/robots.txt": "User-agent: *\n"})
    os.mkfifo(site / "static" / "pipe")
    (site / "static" / "linked-pipe").symlink_to("pipe")
    expected = [f"static/{name}:1:1: error: not a regular file but a named pipe (FIFO), which cannot be copied; "
                "remove it" for name in ("linked-pipe", "pipe")]
    for args in (["check", str(site)], ["build", str(site), "-o", str(out), "--no-search"],
                 ["build", str(site), "-o", str(out)]):
        done = cli(*args)
        assert done.returncode == 1, done.stderr
        assert error_lines(done.stderr) == expected
    assert snapshot(out) == before
    (site / "static" / "pipe").unlink()
    (site / "static" / "linked-pipe").unlink()
    assert cli("build", str(site), "-o", str(out), "--no-search").returncode == 0
    assert (out / "robots.txt").read_text() == "User-agent: *\n"


def test_the_pages_workflow_publishes_hidden_files_of_static_but_not_dossiers_own(tmp_path):
    """docs/github-pages-workflow.yml, its build job's commands run as written (but the install):
    what it uploads holds static/.well-known/ and none of output/.dossier-*."""
    import yaml

    site = make_site(tmp_path / "s", HIDDEN)
    (site / "build.py").write_text((REPO / "build.py").read_text())
    job = yaml.safe_load((REPO / "docs/github-pages-workflow.yml").read_text())["jobs"]["build"]
    commands = [step["run"] for step in job["steps"] if "run" in step and not step["run"].startswith("pip install")]
    assert any(c.startswith("python build.py build") for c in commands)
    for command in commands:
        done = subprocess.run(command, shell=True, cwd=site, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (command, done.stderr)
    [upload] = [step for step in job["steps"] if step.get("uses", "").startswith("actions/upload-pages-artifact@")]
    published = site / upload["with"]["path"]
    assert (published / ".well-known/security.txt").is_file() and (published / "index.html").is_file()
    assert not list(published.glob(".dossier-*"))


def test_editors_files_in_templates_are_not_templates(tmp_path):
    """An editor's backup or autosave of a template, broken as it may be, is not read: check and
    build pass, the output is the same, and saving one starts no build."""
    broken = "{% block content %}\n"
    site = make_site(tmp_path / "s", {"templates/page.html~": broken, "templates/#page.html#": broken,
                                      "templates/.page.html.swp": "\0\xff"})
    clean = make_site(tmp_path / "clean", {})
    assert cli("check", str(site)).returncode == 0
    for s, out in ((site, tmp_path / "out"), (clean, tmp_path / "clean-out")):
        done = cli("build", str(s), "-o", str(out), "--no-search")
        assert done.returncode == 0, done.stderr
    pages = [{k: v for k, v in snapshot(out).items() if not k.startswith(".dossier-")}
             for out in (tmp_path / "out", tmp_path / "clean-out")]
    assert pages[0] == pages[1]
    write(site, "templates/#page.html#", "{% block other %}\n")
    assert "inputs unchanged" in build(site, tmp_path / "out", search=False).timings
