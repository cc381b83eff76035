"""What the kernel says changed in a site (watch.py), checked against a full look at its files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from dossier import inputs
from dossier.watch import SiteWatch
from fixtures.sitekit import BASIC


@pytest.fixture
def watched(tmp_path: Path):
    """A site, a copy of Dossier's own files and a watch of both, drained once (as the warm
    process's first build does), then looked at."""
    site = tmp_path / "site"
    shutil.copytree(BASIC, site)
    package = tmp_path / "package"
    shutil.copytree(Path(inputs.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__"))
    watch = SiteWatch(site, package)
    assert watch.drain() is None  # not watched yet: every file looked at
    inputs.fingerprint(site, package)
    yield site, package, watch
    watch.close()


def agrees(site: Path, package: Path, changed) -> None:
    """The fingerprint told `changed` is the one a full look makes."""
    told = inputs.fingerprint(site, package, changed=changed)
    inputs._known.clear()
    inputs._seen.clear()
    assert told == inputs.fingerprint(site, package)


def test_an_edit_in_place_is_that_file(watched):
    site, package, watch = watched
    assert watch.drain() == set()
    article = site / "content/articles/beta-note.md"
    article.write_text(article.read_text().replace("North", "South"))
    changed = watch.drain()
    assert changed == {"content/articles/beta-note.md"}
    agrees(site, package, changed)
    assert watch.drain() == set()


def test_an_edit_saved_by_renaming_a_new_file_over_the_old_is_that_file(watched):
    site, package, watch = watched
    sidecar = site / "content/articles/beta-note.yaml"
    saved = sidecar.with_name(".beta-note.yaml.swp")
    saved.write_text(sidecar.read_text() + "\n")
    os.replace(saved, sidecar)
    changed = watch.drain()
    assert changed == {"content/articles/beta-note.yaml", "content/articles/.beta-note.yaml.swp"}
    agrees(site, package, changed)  # the temporary file, made and gone, changes nothing


def test_what_lies_beside_the_site_is_not_its_concern(watched):
    site, package, watch = watched
    (site / "output").mkdir()
    (site / "output/index.html").write_text("built\n")
    (site / "NOTES.md").write_text("notes\n")
    assert watch.drain() == set()


@pytest.mark.parametrize("change", ["new folder", "folder removed", "folder renamed", "own template", "new top folder"])
def test_what_it_cannot_vouch_for_means_a_full_look(watched, change: str):
    site, package, watch = watched
    if change == "new folder":
        (site / "content/articles/2024").mkdir()
        (site / "content/articles/2024/later.md").write_text("# Later\n")
    elif change == "folder removed":
        shutil.rmtree(site / "content/pages")
    elif change == "folder renamed":
        (site / "content/entities/people").rename(site / "content/entities/persons")
    elif change == "own template":
        template = package / "templates/article.html"
        template.write_text(template.read_text() + "<!-- edited -->\n")
    else:
        shutil.rmtree(site / "static", ignore_errors=True)
        (site / "static").mkdir()
    assert watch.drain() is None
    agrees(site, package, None)
    assert watch.drain() == set()  # watched again, as the folders are now
    article = site / "content/articles/beta-note.md"
    article.write_text(article.read_text() + "\nMore.\n")
    assert watch.drain() == {"content/articles/beta-note.md"}


def test_a_file_made_in_a_folder_made_after_the_watch_began_is_seen(watched):
    site, package, watch = watched
    (site / "content/articles/2024").mkdir()
    assert watch.drain() is None  # and the new folder is watched from now on
    later = site / "content/articles/2024/later.md"
    later.write_text("# Later\n")
    assert watch.drain() == {"content/articles/2024/later.md"}


@pytest.mark.parametrize("top", ["content", "static"])
def test_a_top_folder_moved_out_and_back_means_a_full_look(watched, top: str):
    site, package, watch = watched
    (site / "static").mkdir(exist_ok=True)
    (site / "static/robots.txt").write_text("User-agent: *\n")
    assert watch.drain() is None
    agrees(site, package, None)
    before = inputs.fingerprint(site, package)
    (site / top).rename(site.parent / f"{top}.off")
    assert watch.drain() is None
    agrees(site, package, None)
    assert inputs.fingerprint(site, package) != before
    (site.parent / f"{top}.off").rename(site / top)
    assert watch.drain() is None
    assert inputs.fingerprint(site, package) == before
