"""The fingerprint of a site's input files: what decides that a build has nothing to do."""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from dossier import cache, inputs
from dossier.build import build
from fixtures.sitekit import BASIC


def site_copy(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    shutil.copytree(BASIC, site)
    return site


def test_same_files_same_fingerprint_wherever_the_site_is(tmp_path: Path):
    a = site_copy(tmp_path / "a")
    b = site_copy(tmp_path / "b")
    assert inputs.fingerprint(a) == inputs.fingerprint(b)
    (b / "output").mkdir()  # not something the build reads
    (b / "README.md").write_text("notes\n")
    assert inputs.fingerprint(a) == inputs.fingerprint(b)


def test_contents_names_and_new_folders_count(tmp_path: Path):
    site = site_copy(tmp_path)
    seen = {inputs.fingerprint(site)}
    article = site / "content/articles/beta-note.md"
    article.write_text(article.read_text().replace("North", "South"))  # same size
    seen.add(inputs.fingerprint(site))
    article.rename(site / "content/articles/gamma-note.md")
    seen.add(inputs.fingerprint(site))
    (site / "static/img").mkdir(parents=True)
    seen.add(inputs.fingerprint(site))
    assert len(seen) == 4


def test_told_what_changed_it_looks_at_those_files_only_and_agrees_with_a_full_look(tmp_path: Path, monkeypatch):
    site = site_copy(tmp_path)
    inputs.fingerprint(site)
    article = site / "content/articles/beta-note.md"
    other = site / "content/articles/bridge-closed.md"
    article.write_text(article.read_text().replace("North", "South"))
    other.write_text(other.read_text() + "\nUnseen by the watcher.\n")
    looked: list[str] = []
    monkeypatch.setattr(inputs, "_file", lambda path, link, f=inputs._file: looked.append(path) or f(path, link))
    told = inputs.fingerprint(site, changed={"content/articles/beta-note.md"})
    assert [Path(p).name for p in looked] == ["beta-note.md"]
    monkeypatch.undo()
    other.write_text(other.read_text().replace("\nUnseen by the watcher.\n", ""))  # back as it was
    assert told == inputs.fingerprint(site)


def test_told_of_a_file_made_removed_or_replaced_by_a_folder_it_looks_at_every_file(tmp_path: Path):
    site = site_copy(tmp_path)
    folder = site / "content/articles"
    changes = [
        ("content/articles/new-note.md", lambda: (folder / "new-note.md").write_text("New.\n")),
        ("content/articles/new-note.md", lambda: (folder / "new-note.md").unlink()),
        ("content/articles/beta-note.md", lambda: (folder / "beta-note.md").unlink() or (folder / "beta-note.md").mkdir()),
        ("content", lambda: (site / "content/extra").mkdir()),
    ]
    for rel, change in changes:
        inputs.fingerprint(site)
        change()
        assert inputs.fingerprint(site, changed={rel}) == inputs.fingerprint(site), rel


def test_the_digests_seen_are_those_of_the_sites_plain_files_as_the_last_fingerprint_saw_them(tmp_path: Path):
    site = site_copy(tmp_path)
    (site / "content/articles/link.md").symlink_to(site / "content/articles/beta-note.md")
    files = [p for p in site.rglob("*") if p.is_file() and not p.is_symlink()]

    def expected() -> dict[str, str]:
        return {str(p): inputs._read_digest(str(p)) for p in files}

    inputs.fingerprint(site)
    assert inputs.digests_seen(site) == expected()
    article = site / "content/articles/beta-note.md"
    article.write_text(article.read_text() + "\nMore.\n")
    assert inputs.digests_seen(site) != expected()  # as the fingerprint saw them, not as they are
    inputs.fingerprint(site, changed={"content/articles/beta-note.md"})
    assert inputs.digests_seen(site) == expected()


def test_what_changed_since_a_fingerprint_is_known_only_while_every_look_since_was_told(tmp_path: Path):
    site, other = site_copy(tmp_path / "a"), site_copy(tmp_path / "b")
    inputs.fingerprint(site)
    first = inputs.last_look(site)
    assert inputs.changed_since(site, first) == frozenset()
    inputs.fingerprint(site, changed={"content/articles/beta-note.md"})
    inputs.fingerprint(site, changed={"content/articles/beta-note.yaml", "site.yaml"})
    second = inputs.last_look(site)
    assert inputs.changed_since(site, first) == {"content/articles/beta-note.md", "content/articles/beta-note.yaml", "site.yaml"}
    assert inputs.changed_since(site, second) == frozenset()
    inputs.fingerprint(other)
    assert inputs.changed_since(other, first) is None and inputs.changed_since(other, second) is None
    (site / "content/articles/new-note.md").write_text("New.\n")
    inputs.fingerprint(site, changed={"content/articles/new-note.md"})  # a new file: every file looked at
    assert inputs.changed_since(site, first) is None and inputs.changed_since(site, second) is None
    inputs.fingerprint(site)
    assert inputs.changed_since(site, second) is None


def test_told_of_changes_before_any_full_look_it_looks_at_every_file(tmp_path: Path):
    site = site_copy(tmp_path)
    assert inputs.fingerprint(site, changed={"site.yaml"}) == inputs.fingerprint(site)


def test_an_edit_that_keeps_size_and_mtime_is_still_seen_while_the_mtime_is_recent(tmp_path: Path):
    site = site_copy(tmp_path)
    article = site / "content/articles/beta-note.md"
    article.write_text(article.read_text())  # just saved
    before = inputs.fingerprint(site)
    stamp = article.stat().st_mtime_ns
    article.write_text(article.read_text().replace("North", "South"))
    os.utime(article, ns=(stamp, stamp))  # as if saved twice within the clock's resolution
    assert inputs.fingerprint(site) != before


def test_a_file_known_to_this_process_is_not_read_again(tmp_path: Path, monkeypatch):
    site = site_copy(tmp_path)
    monkeypatch.setattr(inputs, "RACY_NS", 0)  # the copy's change times are recent, and cannot be set back
    first = inputs.fingerprint(site)
    article = site / "content/articles/beta-note.md"
    assert str(article) in inputs._known
    article.write_text(article.read_text().replace("North", "South"))  # a new mtime: read again
    assert inputs.fingerprint(site) != first


def test_an_edit_that_keeps_size_and_mtime_is_seen_by_the_same_process_by_its_change_time(tmp_path: Path,
                                                                                         monkeypatch):
    """A file this process has looked at is compared by its stamp as it is (see inputs._seen):
    the stamp holds the inode's change time, which setting the mtime back changes."""
    site = site_copy(tmp_path)
    monkeypatch.setattr(inputs, "RACY_NS", 0)
    article = site / "content/articles/beta-note.md"
    before = inputs.fingerprint(site)
    assert inputs.fingerprint(site) == before and str(article) in inputs._seen
    stamp = article.stat().st_mtime_ns
    time.sleep(0.01)
    article.write_text(article.read_text().replace("North", "South"))
    os.utime(article, ns=(stamp, stamp))
    assert inputs.fingerprint(site) != before


def test_a_linked_folder_is_never_taken_as_unchanged(tmp_path: Path):
    site = site_copy(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (site / "static").mkdir(exist_ok=True)
    (site / "static/linked").symlink_to(elsewhere)
    assert inputs.fingerprint(site) != inputs.fingerprint(site)


def test_dossiers_own_templates_and_assets_count(tmp_path: Path):
    site = site_copy(tmp_path)
    package = tmp_path / "package"
    shutil.copytree(Path(inputs.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__"))
    before = inputs.fingerprint(site, package)
    template = package / "templates/article.html"
    template.write_text(template.read_text() + "<!-- edited -->\n")
    assert inputs.fingerprint(site, package) != before
    (package / "__pycache__").mkdir(exist_ok=True)
    (package / "__pycache__/x.pyc").write_bytes(b"not an input")
    before = inputs.fingerprint(site, package)
    (package / "__pycache__/x.pyc").write_bytes(b"still not an input")
    assert inputs.fingerprint(site, package) == before


def test_a_new_process_trusts_the_stamps_the_last_build_kept(tmp_path: Path, monkeypatch):
    site_copy(tmp_path)
    monkeypatch.chdir(tmp_path)
    site, out = Path("site"), Path("out")  # as typed on the command line
    monkeypatch.setattr(inputs, "RACY_NS", 0)
    assert build(site, out, search=False).ok
    inputs._known.clear()  # as in a new process: only the output's cache remembers
    inputs._seen.clear()
    cache._in_memory.clear()
    reads = []
    read_digest = inputs._read_digest
    monkeypatch.setattr(inputs, "_read_digest", lambda path: reads.append(path) or read_digest(path))
    assert "inputs unchanged" in build(site, out, search=False).timings
    assert reads == []
    article = site / "content/articles/beta-note.md"
    article.write_text(article.read_text().replace("North", "South"))
    result = build(site, out, search=False)
    assert result.ok and result.rendered
    assert reads == [str(article.resolve())]  # read once, for the fingerprint and the article's key alike
    assert "South" in (out / "articles/beta-note/index.html").read_text()


def test_the_kept_stamps_name_no_folder_of_the_users_and_no_times(tmp_path: Path):
    site, out = site_copy(tmp_path), tmp_path / "out"
    article = site / "content/articles/beta-note.md"
    old = time.time_ns() - 10 * inputs.RACY_NS
    os.utime(article, ns=(old, old))
    time.sleep(inputs.RACY_NS / 1e9 + 0.1)  # the copy's change times vouch for it now
    assert build(site, out, search=False).ok
    kept = (out / inputs.STAMPS_FILE).read_bytes()
    stamps = inputs.kept_stamps(out)
    assert "content/articles/beta-note.md" in stamps and any(k.startswith(inputs.PACKAGE_KEY) for k in stamps)
    assert str(tmp_path).encode() not in kept and str(inputs.PACKAGE).encode() not in kept
    hex_digits = set("0123456789abcdef")
    assert all(isinstance(part, str) and set(part) <= hex_digits for known in stamps.values() for part in known)


# Told by stamps (the warm process): what changed, from an os.stat of each file and folder.

def stamped_site(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    """A site and a copy of Dossier's own files, both looked at twice by stamps (the first look
    stamps the folders it finds), with every file's times taken as old enough to vouch for it."""
    monkeypatch.setattr(inputs, "RACY_NS", 0)
    site = site_copy(tmp_path)
    package = tmp_path / "package"
    shutil.copytree(Path(inputs.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__"))
    inputs.fingerprint(site, package, by_stamps=True)
    inputs.fingerprint(site, package, by_stamps=True)
    return site, package


def looked_by_stamps(site: Path, package: Path, monkeypatch) -> tuple[str, list[str]]:
    """The fingerprint by stamps, and the site's files it read; checked against a full look."""
    reads: list[str] = []
    monkeypatch.setattr(inputs, "_read_digest", lambda path, f=inputs._read_digest: reads.append(path) or f(path))
    told = inputs.fingerprint(site, package, by_stamps=True)
    read = sorted(Path(p).relative_to(site).as_posix() for p in reads if Path(p).is_relative_to(site))
    monkeypatch.undo()
    assert told == full_look(site, package)
    return told, read


def changed_by_stamps(site: Path, package: Path):
    """What the stamps tell of the files changed since the last look, without looking."""
    key = (str(site.resolve()), str(package))
    last = inputs._last_look[key]
    now = inputs._stamp_folders(site.resolve(), package, last)
    return inputs._changed_by_stamps(site.resolve(), package, last[0], inputs._folder_stamps[key], now)


def full_look(site: Path, package: Path) -> str:
    """A fingerprint made as a new process makes it: every file read."""
    saved = dict(inputs._known), dict(inputs._seen)
    inputs._known.clear()
    inputs._seen.clear()
    try:
        return inputs.fingerprint(site, package)
    finally:
        inputs._known.update(saved[0])
        inputs._seen.update(saved[1])


def test_by_stamps_an_unchanged_site_reads_no_file(tmp_path: Path, monkeypatch):
    site, package = stamped_site(tmp_path, monkeypatch)
    assert changed_by_stamps(site, package) == set()
    _, read = looked_by_stamps(site, package, monkeypatch)
    assert read == []


def test_by_stamps_an_edit_in_place_and_one_saved_over_by_a_rename_are_the_files_read(tmp_path: Path, monkeypatch):
    site, package = stamped_site(tmp_path, monkeypatch)
    article = site / "content/articles/beta-note.md"
    article.write_text(article.read_text().replace("North", "South"))  # same size
    _, read = looked_by_stamps(site, package, monkeypatch)
    assert read == ["content/articles/beta-note.md"]
    sidecar = site / "content/articles/beta-note.yaml"
    saved = sidecar.with_name(".beta-note.yaml.swp")  # as editors save: a new file renamed over the old
    saved.write_text(sidecar.read_text() + "\n")
    os.replace(saved, sidecar)
    key = (str(site.resolve()), str(package))
    then = dict(inputs._folder_stamps[key])
    _, read = looked_by_stamps(site, package, monkeypatch)
    assert read == ["content/articles/beta-note.yaml"]
    assert then != inputs._folder_stamps[key]  # its folder changed, its names did not: no full look


def test_by_stamps_a_file_made_or_removed_and_a_folder_made_mean_a_full_look(tmp_path: Path, monkeypatch):
    site, package = stamped_site(tmp_path, monkeypatch)
    changes = [lambda: (site / "content/articles/new-note.md").write_text("# New\n"),
               lambda: (site / "content/articles/new-note.md").unlink(),
               lambda: (site / "static/img").mkdir(parents=True),
               lambda: (site / "static/img/logo.txt").write_text("logo\n"),
               lambda: (site / "static/img/logo.txt").unlink()]
    for change in changes:
        change()
        assert changed_by_stamps(site, package) is None
        looked_by_stamps(site, package, monkeypatch)  # agrees with a full look


def test_by_stamps_a_change_to_dossiers_own_files_means_a_full_look(tmp_path: Path, monkeypatch):
    site, package = stamped_site(tmp_path, monkeypatch)
    template = package / "templates/article.html"
    before = full_look(site, package)
    template.write_text(template.read_text() + "<!-- edited -->\n")
    assert changed_by_stamps(site, package) is None
    told, _ = looked_by_stamps(site, package, monkeypatch)
    assert told != before


def test_by_stamps_a_missing_folder_that_appears_means_a_full_look(tmp_path: Path, monkeypatch):
    site, package = stamped_site(tmp_path, monkeypatch)
    shutil.rmtree(site / "static", ignore_errors=True)
    looked_by_stamps(site, package, monkeypatch)
    looked_by_stamps(site, package, monkeypatch)  # stamped without it
    (site / "static").mkdir()
    (site / "static/robots.txt").write_text("User-agent: *\n")
    assert changed_by_stamps(site, package) is None
    looked_by_stamps(site, package, monkeypatch)


# What the build reads of static/: what it copies (inputs.copied), never a named pipe.

def test_a_named_pipe_is_never_opened(tmp_path: Path):
    site = site_copy(tmp_path)
    (site / "static").mkdir()
    pipe = site / "static/pipe"
    os.mkfifo(pipe)
    (site / "static/linked-pipe").symlink_to("pipe")
    seen: list[str] = []
    looking = threading.Thread(target=lambda: seen.append(inputs.fingerprint(site)), daemon=True)
    looking.start()
    looking.join(timeout=20)
    opened = looking.is_alive()
    while looking.is_alive():  # waiting for a writer: one lets it go on, for the next test's sake
        with contextlib.suppress(OSError):
            os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        looking.join(timeout=0.1)
    assert not opened, "the fingerprint opened the pipe and waited for a writer"
    with pytest.raises(OSError):
        inputs.content_digest(pipe)
    pipe.unlink()
    pipe.write_text("")
    assert inputs.fingerprint(site) != seen[0]


def test_hidden_files_of_static_count_and_what_is_not_copied_does_not(tmp_path: Path):
    site = site_copy(tmp_path)
    (site / "static/.git").mkdir(parents=True)
    (site / "static/.git/HEAD").write_text("ref: refs/heads/main\n")
    (site / "static/.nojekyll").write_text("")
    before = inputs.fingerprint(site)
    (site / "static/.nojekyll").write_text("edited\n")
    after = inputs.fingerprint(site)
    assert after != before
    (site / "static/.git/HEAD").write_text("ref: refs/heads/other\n")
    (site / "static/.index.html.swp").write_bytes(b"\0")
    (site / "static/index.html~").write_text("old\n")
    assert inputs.fingerprint(site) == after
    assert inputs.fingerprint(site, changed={"static/.index.html.swp", "static/.git/HEAD"}) == after


def test_by_stamps_an_editors_file_in_static_means_no_full_look(tmp_path: Path, monkeypatch):
    site, package = stamped_site(tmp_path, monkeypatch)
    (site / "static").mkdir()
    (site / "static/robots.txt").write_text("User-agent: *\n")
    looked_by_stamps(site, package, monkeypatch)
    looked_by_stamps(site, package, monkeypatch)  # stamped with it
    (site / "static/.robots.txt.swp").write_bytes(b"\0")
    assert changed_by_stamps(site, package) == set()
    looked_by_stamps(site, package, monkeypatch)


# A top folder moved out of the site (a file manager's "move to trash", `mv templates off`).

def with_top_folders(site: Path) -> Path:
    (site / "static").mkdir(exist_ok=True)
    (site / "static/data.csv").write_text("a,b\n")
    (site / "templates").mkdir(exist_ok=True)
    (site / "templates/page.html").write_text("{% extends 'base.html' %}\n")
    return site


@pytest.mark.parametrize("top", ["static", "templates", "content"])
def test_told_a_top_folder_moved_away_it_sees_it_gone(tmp_path: Path, top: str):
    site = with_top_folders(site_copy(tmp_path))
    before = inputs.fingerprint(site)
    (site / top).rename(tmp_path / f"{top}.off")
    told = inputs.fingerprint(site, changed={top})
    assert told != before
    assert told == inputs.fingerprint(site)
    (tmp_path / f"{top}.off").rename(site / top)  # and back
    assert inputs.fingerprint(site, changed={top}) == before


@pytest.mark.parametrize("top", ["static", "templates", "content"])
def test_by_stamps_a_top_folder_moved_away_means_a_full_look(tmp_path: Path, monkeypatch, top: str):
    site, package = stamped_site(tmp_path, monkeypatch)
    with_top_folders(site)
    looked_by_stamps(site, package, monkeypatch)
    before, _ = looked_by_stamps(site, package, monkeypatch)  # stamped with them
    (site / top).rename(tmp_path / f"{top}.off")
    assert changed_by_stamps(site, package) is None
    told, _ = looked_by_stamps(site, package, monkeypatch)
    assert told != before


# Editors' leftovers in content/ (x.md~, #x.md#, .#x.md, .x.md.swp): no build reads them.

LEFTOVERS = ("content/articles/beta-note.md~", "content/articles/#beta-note.md#", "content/articles/beta-note.yaml.swp",
             "content/entities/old.yaml~", "content/pages/#about.md#")


def test_editors_leftovers_in_content_are_not_read_and_the_build_passes_over_them(tmp_path: Path):
    site = site_copy(tmp_path)
    (site / "content/pages").mkdir(exist_ok=True)
    before = inputs.fingerprint(site)
    for rel in LEFTOVERS:
        (site / rel).write_text("title: [not yaml\n")
        assert not inputs.read_by_build(rel), rel
    assert inputs.fingerprint(site) == before
    assert inputs.fingerprint(site, changed=set(LEFTOVERS)) == before
    result = build(site, tmp_path / "out", search=False)
    assert result.ok and not result.diagnostics.items, [str(d) for d in result.diagnostics.items]
    assert inputs.read_by_build("content/entities/2024/sudzha.yaml")  # a folder named by digits is read


def test_by_stamps_an_editors_leftover_in_content_means_no_full_look(tmp_path: Path, monkeypatch):
    site, package = stamped_site(tmp_path, monkeypatch)
    (site / "content/articles/beta-note.md~").write_text("old\n")
    (site / "content/articles/#beta-note.md#").write_text("autosaved\n")
    assert changed_by_stamps(site, package) == set()
    _, read = looked_by_stamps(site, package, monkeypatch)
    assert read == []
