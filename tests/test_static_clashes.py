"""static/ against what the build makes: a static file may lie over a generated file of the
same path (and the generated one comes back once it is gone, with or without the cache, in
one process or in many); a static entry that clashes in kind with a generated path (a file
where the build makes a folder, a folder where it makes a file) is a content error at the
static entry, told by `check` and `build` alike, before anything is written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dossier import export
from dossier import build as build_module
from dossier.build import check
from fixtures.sitekit import error_lines, make_site, run, snapshot, write
from test_cache import assert_same_as_cold, cached_build, edit_sidecar, generated, mode, site  # noqa: F401 (fixtures)

EXPORTS = ["dossier.json", "feed.xml", "robots.txt", "claims.csv", export.SCHEMA_NAME]
MINE = b'{"mine": 1}\n'


@pytest.mark.parametrize("name", EXPORTS)
def test_an_export_file_a_static_file_replaced_comes_back_once_it_is_gone(name: str, site: Path, tmp_path: Path,
                                                                          mode: str):
    out = tmp_path / "out"
    cached_build(site, out, mode)
    write(site, f"static/{name}", MINE)
    cached_build(site, out, mode)
    assert (out / name).read_bytes() == MINE
    cached_build(site, out, mode)  # a build with the file still there, after one that had it
    assert (out / name).read_bytes() == MINE
    write(site, f"static/{name}", None)
    cached_build(site, out, mode)
    assert_same_as_cold(site, out, tmp_path)


@pytest.mark.parametrize("name", export.RECORD_FILES)
def test_a_record_file_a_static_file_replaced_is_not_edited_once_it_is_gone(name: str, site: Path, tmp_path: Path,
                                                                            mode: str):
    """The static file goes in the same build as an article's sidecar changes: the export file
    is made whole, never the user's file edited where the last records were."""
    out = tmp_path / "out"
    cached_build(site, out, mode)
    write(site, f"static/{name}", MINE)
    cached_build(site, out, mode)
    write(site, f"static/{name}", None)
    edit_sidecar(site)
    cached_build(site, out, mode)
    assert_same_as_cold(site, out, tmp_path)


@pytest.mark.parametrize("base_url", ["base_url: https://example.org/river/\n", ""])
def test_the_export_files_a_build_keeps_are_the_ones_export_makes(base_url: str, tmp_path: Path):
    """build._export_paths names them for the check that every one is there to keep."""
    site = make_site(tmp_path / "s")
    yaml = (site / "site.yaml").read_text()
    write(site, "site.yaml", re.sub(r"^base_url: .*\n", base_url, yaml, flags=re.M))
    resolved = check(site).resolved
    assert build_module._export_paths(resolved.dossier.site) == {path for path, _ in export.files(resolved)}


CLASHES = [  # a static entry, the error it gives
    ({"static/entities": "notes\n"},
     "static/entities:1:1: error: a file where the build makes the folder entities/ (entities/index.html): rename it"),
    ({"static/assets": "notes\n"},
     "static/assets:1:1: error: a file where the build makes the folder assets/ (assets/article.js): rename it"),
    ({"static/articles/beta-note/index.html/x.html": "<p>x</p>\n"},
     "static/articles/beta-note/index.html:1:1: error: a folder where the build writes the file "
     "articles/beta-note/index.html: rename it"),
    ({"static/dossier.json/a.json": "{}\n", "static/dossier.json/b.json": "{}\n"},  # one error for the folder
     "static/dossier.json:1:1: error: a folder where the build writes the file dossier.json: rename it"),
]


@pytest.mark.parametrize("changes, error", CLASHES, ids=lambda v: next(iter(v)) if isinstance(v, dict) else "")
def test_a_static_entry_of_another_kind_than_the_generated_path_is_an_error_of_check_and_build(
        changes: dict, error: str, tmp_path: Path):
    site = make_site(tmp_path / "s")
    out = tmp_path / "out"
    assert run("build", str(site), "-o", str(out), "--no-search")[0] == 0
    before = snapshot(out)
    for rel, text in changes.items():
        write(site, rel, text)
    checked = run("check", str(site))
    built = run("build", str(site), "-o", str(out), "--no-search")
    assert checked[0] == built[0] == 1, built[2]
    assert error_lines(checked[2]) == error_lines(built[2]) == [error]
    assert snapshot(out) == before


def test_a_static_file_over_a_generated_file_is_no_clash(tmp_path: Path):
    site = make_site(tmp_path / "s", {"static/robots.txt": "User-agent: *\n", "static/entities/extra.txt": "x\n"})
    assert run("check", str(site))[0] == 0
    assert run("build", str(site), "-o", str(tmp_path / "out"), "--no-search")[0] == 0
    assert (tmp_path / "out/robots.txt").read_text() == "User-agent: *\n"


def test_a_site_given_as_a_relative_path_is_checked_and_built(tmp_path: Path, monkeypatch):
    """`dossier check .` inside the site; and the demo dossier, whose folder also holds Dossier's
    own assets (a clone of the repository): they are Dossier's, not the site's static files."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parent.parent
    site = make_site(tmp_path / "s", {"static/robots.txt": "User-agent: *\n"})
    for cwd, where in ((site, "."), (site / "content", ".."), (repo, ".")):
        for command in (["check", where], ["build", where, "-o", str(tmp_path / "out"), "--no-search"]):
            done = subprocess.run([sys.executable, str(repo / "build.py"), *command], cwd=cwd,
                                  capture_output=True, text=True, timeout=120)
            assert done.returncode == 0 and "Traceback" not in done.stderr, (cwd, command, done.stderr)
