"""The build cache is correct: after any change, a cached rebuild gives the
same output, byte for byte, as a cold build of the same input.

Each case builds a generated dossier, changes it, rebuilds into the same
output (with the cache) and builds cold into a fresh folder; the two trees
must match file for file (the cache file itself aside). Cases run with the
cache kept in memory (as `serve` does), read back from disk, as the warm
process keeps it (see warm.py; the process itself in test_warm.py), and with
the process pool on, so every path of the cache is exercised.
"""

from __future__ import annotations

import dataclasses
import io
import mmap
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dossier import cache as cache_module
from dossier import load as load_stage
from dossier import parallel
from dossier import render as render_module
from dossier import write as write_module
from dossier import build as build_module
from dossier import inputs as inputs_module
from dossier import resolve as resolve_module
from dossier.build import build
from dossier.cache import BASE_FILE, CACHE_FILE, BuildCache
from dossier.inputs import STAMPS_FILE
from dossier.render import SiteRenderer

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from generate import generate  # noqa: E402


def tree(folder: Path) -> dict[str, bytes]:
    """Every file of an output with its bytes, and every folder (a page's folder left empty is a difference)."""
    out = {}
    for dirpath, _, files in os.walk(folder):
        if Path(dirpath) != folder:
            out[Path(dirpath).relative_to(folder).as_posix() + "/"] = b""
        for name in files:
            path = Path(dirpath, name)
            rel = path.relative_to(folder).as_posix()
            if rel not in (CACHE_FILE, BASE_FILE, STAMPS_FILE):  # Dossier's own, not the site
                out[rel] = path.read_bytes()
    return out


def assert_same_as_cold(site: Path, out: Path, tmp_path: Path) -> None:
    cold = tmp_path / f"cold-{len(list(tmp_path.glob('cold-*')))}"
    kept = dict(cache_module._in_memory)  # a build keeps one output's cache: the one tested, after this
    render_module._last_sitemap.clear()  # made afresh, not taken from the build tested
    result = build(site, cold, search=False)
    cache_module._in_memory.clear()
    cache_module._in_memory.update(kept)
    assert result.ok, result.diagnostics.sorted()
    got, want = tree(out), tree(cold)
    assert sorted(got) == sorted(want), (set(got) ^ set(want))
    different = [p for p in want if got[p] != want[p]]
    assert not different, different[:5]


def article_files(site: Path) -> list[Path]:
    return sorted((site / "content" / "articles").glob("*.md"))


def entity_files(site: Path) -> list[Path]:
    return sorted((site / "content" / "entities").rglob("*.yaml"))


def unmentioned_entity(site: Path) -> Path:
    """An entity no sidecar or relation names (it may still be autolinked)."""
    sidecars = [p.read_text() for p in (site / "content" / "articles").glob("*.yaml")]
    relations = [line for p in entity_files(site) for line in p.read_text().splitlines() if "entity:" in line]
    named = "\n".join(sidecars + relations)
    for path in reversed(entity_files(site)):
        if path.stem not in named:
            return path
    raise AssertionError("the generated site has no unnamed entity")


# -- the changes --------------------------------------------------------------

def edit_article_text(site: Path) -> None:
    path = article_files(site)[3]
    path.write_text(path.read_text().replace(" the ", " a ", 2) + "\nOne more paragraph, added later.\n")


def edit_sidecar(site: Path) -> None:
    path = article_files(site)[4].with_suffix(".yaml")
    text = path.read_text()
    path.write_text(text.replace("title: \"", "title: \"Revised: ", 1).replace("status: unverified", "status: disputed"))


def add_article(site: Path) -> None:
    source = article_files(site)[5]
    if source.with_name("zz-added-later.md").exists():
        raise FileExistsError("added already")
    shutil.copy(source, source.with_name("zz-added-later.md"))
    sidecar = source.with_suffix(".yaml").read_text()
    # Claim ids are unique in the dossier: the copy's claims take new ids.
    sidecar = sidecar.replace(f"id: {source.stem}-", "id: zz-added-later-")
    sidecar = "\n".join(line for line in sidecar.splitlines() if "supports:" not in line and "contradicts:" not in line)
    source.with_name("zz-added-later.yaml").write_text(sidecar + "\n")


def delete_article(site: Path) -> None:
    # The last article: no later claim supports or contradicts its claims.
    path = article_files(site)[-1]
    path.unlink()
    path.with_suffix(".yaml").unlink()


def rename_article(site: Path) -> None:
    path = article_files(site)[-1]
    path.rename(path.with_name("renamed-article.md"))
    path.with_suffix(".yaml").rename(path.with_name("renamed-article.yaml"))


def edit_entity(site: Path) -> None:
    path = entity_files(site)[0]
    path.write_text(path.read_text().replace("description: ", "description: Newly described. ", 1))


def retarget_relation(site: Path) -> None:
    """An entity's first relation names another entity: the page of the one it named no longer
    lists it among the relations in, the page of the one it names now does."""
    path = next(p for p in entity_files(site) if "relations:" in p.read_text())
    text = path.read_text()
    old = re.search(r"- \{entity: ([\w-]+),", text).group(1)
    new = next(p.stem for p in entity_files(site) if p.stem not in (old, path.stem) and p.stem not in text)
    path.write_text(text.replace(f"{{entity: {old},", f"{{entity: {new},", 1))


def rename_claimant(site: Path) -> None:
    """An entity's name, shown beside the claims it made (claims.csv) that are not edited."""
    sidecar = next((site / "content" / "articles").glob("*.yaml")).read_text()
    claimant = sidecar.split("claimant: ", 1)[1].split()[0]
    path = next(p for p in entity_files(site) if p.stem == claimant)
    path.write_text(path.read_text().replace("name: ", "name: Renamed ", 1))


def edit_status_label(site: Path) -> None:
    """A status's label, in the rows of every claim that has it."""
    path = site / "site.yaml"
    assert "claim_statuses:" not in path.read_text(), "relabelled already"
    path.write_text(path.read_text() + "claim_statuses:\n  unverified: {label: Open}\n"
                    "  corroborated: {label: Backed}\n  disputed: {label: Disputed}\n"
                    "  confirmed: {label: Shown true}\n  refuted: {label: Refuted}\n")


def edit_base_url(site: Path) -> None:
    path = site / "site.yaml"
    path.write_text(path.read_text().replace("base_url: https://example.org/bench/", "base_url: https://example.net/d/"))


def add_entity(site: Path) -> None:
    (site / "content" / "entities" / "place" / "newtown.yaml").write_text(
        "name: Newtown\ntype: place\ndescription: A place added later.\n")


def delete_entity(site: Path) -> None:
    unmentioned_entity(site).unlink()


def rename_entity(site: Path) -> None:
    path = unmentioned_entity(site)
    path.rename(path.with_name(f"renamed-{path.name}"))


def move_entity(site: Path) -> None:
    """The same file in another folder: its path, in the entity's record, is not what it was."""
    path = entity_files(site)[0]
    (site / "content" / "entities" / "moved").mkdir()
    path.rename(site / "content" / "entities" / "moved" / path.name)


def add_template(site: Path) -> None:
    own_template(site, "base.html", "</footer>", "<p>Local footer</p></footer>")


def own_template(site: Path, name: str, old: str, new: str) -> None:
    """The site's own copy of a default template, with `old` (there) replaced by `new`."""
    default = (REPO / "dossier" / "templates" / name).read_text()
    assert old in default
    (site / "templates").mkdir(exist_ok=True)
    (site / "templates" / name).write_text(default.replace(old, new, 1))


def edit_template(site: Path) -> None:
    add_template(site)
    path = site / "templates" / "base.html"
    path.write_text(path.read_text().replace("Local footer", "Edited footer"))


def edit_site(site: Path) -> None:
    path = site / "site.yaml"
    path.write_text(path.read_text().replace("title: Synthetic dossier", "title: Renamed dossier"))


def add_static(site: Path) -> None:
    (site / "static").mkdir(exist_ok=True)
    (site / "static" / "extra.txt").write_text("static file\n")


STATIC_HOME = '<!doctype html>\n<html lang="en"><title>Home</title><p>A home page of my own.</p></html>\n'


def replace_home_by_static(site: Path) -> None:
    """A file of static/ at the path of a page the build makes: it lies over that page."""
    (site / "static").mkdir(exist_ok=True)
    (site / "static" / "index.html").write_text(STATIC_HOME)


def drop_static_home(site: Path) -> None:
    """The page the build makes comes back."""
    (site / "static" / "index.html").unlink()


def add_plain_paragraph(site: Path) -> None:
    append_line(article_files(site)[6], "A closing line that names nobody.")


def set_article_language(site: Path) -> None:
    """The first article comes to say it is in Arabic (its text, its claims' quotes on the claims
    index and on other articles' footnotes, its mentions on entity pages), or, said already, no
    longer does."""
    sidecar = article_files(site)[0].with_suffix(".yaml")
    text = sidecar.read_text()
    said = "\nlanguage: ar\n"
    sidecar.write_text(text.replace(said, "\n") if said in text else text.rstrip("\n") + said)


def add_contradiction(site: Path) -> None:
    """A claim of the last article comes to contradict the first article's first claim, which
    the first article's page then lists among the claims that contradict it."""
    first = article_files(site)[0].with_suffix(".yaml").read_text()
    target = re.search(r"^  - id: (\S+)", first, re.M).group(1)  # not named after its file once renamed
    sidecar = article_files(site)[-1].with_suffix(".yaml")
    lines = sidecar.read_text().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("  - id: ")] + [len(lines)]
    for start, end in zip(starts, starts[1:]):
        block = lines[start:end]
        if not any(line.startswith(("    supports:", "    contradicts:")) for line in block):
            lines.insert(start + 1, f"    contradicts: [{target}]")
            sidecar.write_text("\n".join(lines) + "\n")
            return
    raise AssertionError("every claim of the last article supports or contradicts one already")


CHANGES = [edit_article_text, edit_sidecar, set_article_language, add_contradiction, add_article, delete_article, rename_article,
           edit_entity, retarget_relation, rename_claimant, add_entity, delete_entity, rename_entity, move_entity,
           add_template, edit_template, edit_site, edit_status_label, edit_base_url, add_static]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("gen") / "site", articles=16, entities=30, seed=3)


@pytest.fixture
def site(generated: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "site"
    shutil.copytree(generated, copy)
    return copy


def use_mode(mode: str, monkeypatch) -> str:
    if mode == "pool":
        monkeypatch.setattr(parallel, "POOL_THRESHOLD", 2)
    return mode


@pytest.fixture(params=["memory", "disk", "pool", "serve", "warm"])
def mode(request, monkeypatch):
    return use_mode(request.param, monkeypatch)


def cached_build(site: Path, out: Path, mode: str):
    """A build as the CLI makes it ("disk", "pool"), as a process building twice ("memory"), as
    serve does ("serve": the cache kept in memory only, never written; told which files changed)
    or as the warm process does ("warm": its first build reads the cache from the output and
    writes it, the next keep it in memory only; changed files told by their stamps)."""
    result = build_as(site, out, mode)
    assert result.ok, result.diagnostics.sorted()
    return result


def build_as(site: Path, out: Path, mode: str):
    """cached_build, whether the build succeeds or not."""
    if mode not in ("memory", "serve", "warm"):
        cache_module._in_memory.clear()  # read the cache back from the output, as a new process does
    changed = watched_changes(site) if mode == "serve" else None
    persist = mode != "serve" and not (mode == "warm" and out in _warm_outputs)
    result = build(site, out, search=False, persist=persist, changed=changed, by_stamps=mode == "warm")
    if result.ok and "inputs unchanged" not in result.timings:  # a build repeated leaves the output, and its cache, as they were
        assert (out / CACHE_FILE).is_file() == persist
    if mode == "warm" and result.ok:
        _warm_outputs.add(out)
    return result


_warm_outputs: set[Path] = set()  # the outputs a "warm" build has built


_files_seen: dict[Path, dict[str, bytes]] = {}


def watched_changes(site: Path) -> Optional[set[str]]:
    """What serve's watcher reports since the last look at `site`: each file made, removed or
    changed; None the first time (serve's first build)."""
    now = {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    before, _files_seen[site] = _files_seen.get(site), now
    return None if before is None else {rel for rel in now.keys() | before.keys() if now.get(rel) != before.get(rel)}


# Every change with the cache read from disk (the CLI) and as serve keeps it (in memory
# only); the main ones also with the cache kept in memory and on disk and with the work
# on a process pool.
CASES = ([(m, change) for m in ("disk", "serve", "warm") for change in CHANGES]
         + [(m, c) for m in ("memory", "pool")
            for c in (edit_article_text, edit_sidecar, rename_article, edit_entity, edit_template)])


# Edits that can follow one another in any order (each finds what it changes afresh).
SEQUENCE_STEPS = [edit_article_text, edit_sidecar, set_article_language, add_plain_paragraph, add_contradiction, add_article,
                  rename_article, edit_entity, retarget_relation, rename_claimant, add_entity, delete_entity, edit_status_label,
                  add_template, delete_article, rename_entity, move_entity, edit_template, edit_site, add_static,
                  edit_base_url, replace_home_by_static, drop_static_home]
# More examples, not always the same ones, for a longer search: DOSSIER_CACHE_EXAMPLES=200.
SEQUENCE_EXAMPLES = int(os.environ.get("DOSSIER_CACHE_EXAMPLES", "8"))


@settings(max_examples=SEQUENCE_EXAMPLES, deadline=None, derandomize="DOSSIER_CACHE_EXAMPLES" not in os.environ,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.sampled_from(SEQUENCE_STEPS), min_size=2, max_size=6),
       mode=st.sampled_from(["disk", "memory", "serve", "warm"]))
def test_any_sequence_of_edits_gives_what_a_cold_build_gives(generated: Path, steps, mode: str):
    """Each kept group, reused page and export record stays right through several edits, whatever their order."""
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        site, out = tmp / "site", tmp / "out"
        shutil.copytree(generated, site)
        cached_build(site, out, mode)
        for step in steps:
            try:
                step(site)
            except (AssertionError, FileExistsError, FileNotFoundError, StopIteration):
                continue  # not possible on this site any more (renamed twice, nothing left to delete)
            before = tree(out)
            result = build_as(site, out, mode)
            if not result.ok:  # some steps make a site no build accepts (an article added again after a rename
                # takes the claim ids the renamed one kept): a cold build refuses it too, and the output stays
                assert not build(site, tmp / "refused", search=False).ok and tree(out) == before
                return
            assert_same_as_cold(site, out, tmp)
            if mode in ("disk", "memory") and "inputs unchanged" not in result.timings:
                # what the next process reads back (a base and what changed) is what was built
                kept = cache_module._in_memory[str((out / CACHE_FILE).absolute())][1]
                assert pickled_whole(read_back(out)) == pickled_whole(kept)
        if mode == "warm" and cache_module.kept_unwritten(out) is not None:  # the cache it leaves as it stops is the one it kept
            kept = cache_module.kept_unwritten(out)
            assert build_module.write_kept_cache(site, out)
            assert pickled_whole(read_back(out)) == pickled_whole(kept)


def test_a_page_a_static_file_replaced_comes_back_once_it_is_gone(site: Path, tmp_path: Path, mode: str):
    out = tmp_path / "out"
    cached_build(site, out, mode)
    replace_home_by_static(site)
    cached_build(site, out, mode)
    assert (out / "index.html").read_text() == STATIC_HOME
    assert_same_as_cold(site, out, tmp_path)
    edit_article_text(site)  # a build that keeps most pages as they were
    cached_build(site, out, mode)
    assert (out / "index.html").read_text() == STATIC_HOME
    drop_static_home(site)
    cached_build(site, out, mode)
    assert "A home page of my own" not in (out / "index.html").read_text()
    assert_same_as_cold(site, out, tmp_path)


@pytest.mark.parametrize("mode_name, change", CASES, ids=lambda v: getattr(v, "__name__", v))
def test_cached_rebuild_equals_cold_build(mode_name, change, site: Path, tmp_path: Path, monkeypatch):
    mode = use_mode(mode_name, monkeypatch)
    out = tmp_path / "out"
    cached_build(site, out, mode)
    change(site)
    cached_build(site, out, mode)
    assert_same_as_cold(site, out, tmp_path)


@pytest.mark.parametrize("change", [edit_article_text, edit_sidecar, rename_article, edit_entity, edit_template])
def test_a_new_process_goes_on_from_the_cache_the_warm_process_leaves(change, site: Path, tmp_path: Path):
    out = tmp_path / "out"
    cached_build(site, out, "warm")
    change(site)
    cached_build(site, out, "warm")
    assert not [name for name in build_module.CACHE_FILES if (out / name).exists()]  # none describes this output
    assert build_module.write_kept_cache(site, out)
    assert (out / STAMPS_FILE).is_file() and not list(out.glob("*.tmp-*"))
    cache_module._in_memory.clear()  # a new process
    again = build(site, out, search=False)
    assert again.ok and "inputs unchanged" in again.timings, again.timings
    edit_article_text(site)
    cached_build(site, out, "disk")
    assert_same_as_cold(site, out, tmp_path)


def test_without_a_kept_cache_the_warm_process_writes_none(site: Path, tmp_path: Path):
    out = tmp_path / "out"
    cached_build(site, out, "disk")
    cache_module._in_memory.clear()
    assert not build_module.write_kept_cache(site, out)  # nothing in memory: the output's own stays
    assert (out / CACHE_FILE).is_file()


def test_a_look_up_made_by_many_pages_is_held_once(site: Path, tmp_path: Path, monkeypatch):
    """Pages come from the workers with look-ups of their own: equal ones are one object."""
    use_mode("pool", monkeypatch)
    cached_build(site, tmp_path / "out", "memory")
    deps = [d for record in BuildCache.load(tmp_path / "out").pages.values() for d in record.deps]
    assert len(deps) > len(set(deps)) > 10  # many pages look the same things up
    assert len({id(d) for d in deps}) == len(set(deps))


def test_a_template_edited_between_builds_of_one_process_is_compiled_again(site: Path, tmp_path: Path):
    add_template(site)
    out = tmp_path / "out"
    cached_build(site, out, "memory")
    edit_template(site)
    cached_build(site, out, "memory")  # as serve does: same process, same file, new text
    assert "Edited footer" in (out / "index.html").read_text()
    assert_same_as_cold(site, out, tmp_path)


def test_deleted_template_override(site: Path, tmp_path: Path, mode: str):
    out = tmp_path / "out"
    add_template(site)
    cached_build(site, out, mode)
    shutil.rmtree(site / "templates")
    cached_build(site, out, mode)
    assert_same_as_cold(site, out, tmp_path)


def test_edit_then_undo(site: Path, tmp_path: Path, mode: str):
    out = tmp_path / "out"
    path = article_files(site)[2]
    original = path.read_text()
    cached_build(site, out, mode)
    path.write_text(original.replace(" the ", " a ", 1))
    cached_build(site, out, mode)
    path.write_text(original)
    cached_build(site, out, mode)
    assert_same_as_cold(site, out, tmp_path)


def test_no_op_rebuild_renders_and_writes_nothing(site: Path, tmp_path: Path, mode: str):
    out = tmp_path / "out"
    cached_build(site, out, mode)
    before = {p: (out / p).stat().st_ino for p in tree(out)}
    result = cached_build(site, out, mode)
    assert result.rendered == [] and result.changed == [] and result.written == 0
    assert {p: (out / p).stat().st_ino for p in tree(out)} == before  # not one file replaced


def test_a_build_made_with_nothing_changed_keeps_every_file(site: Path, tmp_path: Path, mode: str):
    """`always` (the warm process holding a build from the start) goes through the build, changing nothing."""
    out = tmp_path / "out"
    cached_build(site, out, mode)
    before = {p: (out / p).stat().st_ino for p in tree(out)}
    if mode not in ("memory", "serve"):  # a new process: the cache read back from the output
        cache_module._in_memory.clear()
    result = build(site, out, search=False, persist=mode != "serve", always=True)
    assert result.ok and "inputs unchanged" not in result.timings
    assert result.rendered == [] and result.changed == [] and result.written == 0
    assert {p: (out / p).stat().st_ino for p in tree(out)} == before
    assert cache_module.kept(out) and "inputs unchanged" in cached_build(site, out, mode).timings


def test_one_edit_rewrites_only_the_pages_it_affects(site: Path, tmp_path: Path, mode: str):
    out = tmp_path / "out"
    first = cached_build(site, out, mode)
    path = article_files(site)[6]
    path.write_text(path.read_text() + "\nA closing paragraph with nothing to link.\n")
    result = cached_build(site, out, mode)
    assert f"articles/{path.stem}/index.html" in result.changed
    assert 0 < len(result.changed) < first.pages / 4, result.changed
    assert_same_as_cold(site, out, tmp_path)


EXPORTS = ("dossier.json", "dossier.schema.json", "claims.csv", "robots.txt")


def test_export_files_are_replaced_only_when_their_bytes_change(site: Path, tmp_path: Path, mode: str):
    # They are written as they are made, then compared with the last build's.
    out = tmp_path / "out"
    cached_build(site, out, mode)
    inodes = {p: (out / p).stat().st_ino for p in EXPORTS}
    path = article_files(site)[6]  # a paragraph more: the exports are made again, the same
    path.write_text(path.read_text() + "\nA closing paragraph with nothing to link.\n")
    cached_build(site, out, mode)
    assert {p: (out / p).stat().st_ino for p in EXPORTS} == inodes
    edit_sidecar(site)  # a title and a status: dossier.json and claims.csv change
    cached_build(site, out, mode)
    replaced = {p for p in EXPORTS if (out / p).stat().st_ino != inodes[p]}
    assert replaced == {"dossier.json", "claims.csv"}
    assert "Revised: " in (out / "dossier.json").read_text() and "Revised: " in (out / "claims.csv").read_text()
    assert_same_as_cold(site, out, tmp_path)


def test_lost_cache_rebuilds_everything_correctly(site: Path, tmp_path: Path):
    out = tmp_path / "out"
    cached_build(site, out, "disk")
    edit_article_text(site)
    (out / CACHE_FILE).unlink()
    result = cached_build(site, out, "disk")
    assert sum(p.startswith("articles/") for p in result.rendered) == len(article_files(site))  # nothing reused
    assert_same_as_cold(site, out, tmp_path)


def test_a_cache_cut_short_is_not_trusted(site: Path, tmp_path: Path):
    out = tmp_path / "out"
    cached_build(site, out, "disk")
    data = (out / CACHE_FILE).read_bytes()
    (out / CACHE_FILE).write_bytes(data[: len(data) * 2 // 3])
    edit_entity(site)
    result = cached_build(site, out, "disk")
    assert sum(p.startswith("articles/") for p in result.rendered) == len(article_files(site))  # nothing reused
    assert_same_as_cold(site, out, tmp_path)


def seem_upgraded(folder: Path, name: str = "mistune", version: str = "99.0") -> None:
    """Metadata of a distribution that importlib.metadata finds before the installed one, for a
    process with `folder` first on its path: to it, the library seems upgraded."""
    info = folder / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def test_a_cache_made_with_another_version_of_a_library_is_not_used(site: Path, tmp_path: Path):
    out, upgraded = tmp_path / "out", tmp_path / "upgraded"
    seem_upgraded(upgraded)

    def build_in_new_process(*path: Path) -> str:
        done = subprocess.run([sys.executable, str(REPO / "build.py"), "build", str(site), "-o", str(out),
                               "--no-search"], capture_output=True, text=True, timeout=300,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(map(str, path))})
        assert done.returncode == 0, done.stderr
        return done.stdout

    every = re.search(r"\((\d+) rendered", build_in_new_process())[0]
    assert "inputs unchanged" in build_in_new_process()  # the same versions: the cache is used
    assert every in build_in_new_process(upgraded)  # mistune "99.0": built cold
    assert every in build_in_new_process()  # and back: that cache is not used either
    assert_same_as_cold(site, out, tmp_path)


def test_library_versions_name_python_and_each_library_as_installed(monkeypatch):
    from importlib import metadata

    from dossier import warm

    before = warm.library_versions()
    assert f"mistune={metadata.version('mistune')}" in before and f"python={sys.version.split()[0]}" in before
    installed = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: "99.0" if name == "jinja2" else installed(name))
    assert warm.library_versions() != before


def test_cache_is_not_shared_between_outputs(site: Path, tmp_path: Path):
    cached_build(site, tmp_path / "a", "memory")
    edit_entity(site)
    cached_build(site, tmp_path / "b", "memory")  # a first build of b: nothing to reuse there
    cached_build(site, tmp_path / "a", "memory")
    assert tree(tmp_path / "a") == tree(tmp_path / "b")


# -- links checked on cached pages ----------------------------------------------

def failed_cached_build(site: Path, out: Path, mode: str) -> list[str]:
    if mode != "memory":
        cache_module._in_memory.clear()
    before = tree(out)
    result = build(site, out, search=False)
    assert not result.ok
    assert tree(out) == before, "a failed build leaves the output as it was"
    return [str(d) for d in result.diagnostics.sorted() if d.level == "error"]


def append_line(path: Path, line: str) -> int:
    """Add a paragraph to an article; returns its line number."""
    text = path.read_text().rstrip("\n") + "\n\n" + line + "\n"
    path.write_text(text)
    return text.count("\n")


def test_a_cached_build_sees_a_file_vanish_under_an_unchanged_page(site: Path, tmp_path: Path, mode: str):
    out = tmp_path / "out"
    (site / "static/maps").mkdir(parents=True)
    (site / "static/maps/old.html").write_text("<!doctype html><title>Old map</title><p>A map.</p>\n")
    article = article_files(site)[4]
    line = append_line(article, "See the [old map](../../maps/old.html).")
    cached_build(site, out, mode)
    (site / "static/maps/old.html").unlink()  # the article's page is not rendered again: its inputs are the same
    errors = failed_cached_build(site, out, mode)
    assert errors == [f"content/articles/{article.name}:{line}:19: error: broken link '../../maps/old.html': "
                      "the site has no file maps/old.html"]


def test_a_cached_build_sees_an_anchor_vanish_from_the_page_linked_to(site: Path, tmp_path: Path, mode: str):
    out = tmp_path / "out"
    target, linking = article_files(site)[5], article_files(site)[6]
    append_line(target, '<span id="the-map">The map</span> was published later.')
    line = append_line(linking, f"See [the map](../{target.stem}/index.html#the-map).")
    cached_build(site, out, mode)
    target.write_text(target.read_text().replace('<span id="the-map">The map</span>', "The map"))
    errors = failed_cached_build(site, out, mode)
    assert errors == [f"content/articles/{linking.name}:{line}:15: error: broken link "
                      f"'../{target.stem}/index.html#the-map': articles/{target.stem}/index.html has no element "
                      "with id 'the-map'"]
    target.write_text(target.read_text().replace("The map was", '<span id="the-map">The map</span> was'))
    cached_build(site, out, mode)  # mended: builds again, from the cache
    assert_same_as_cold(site, out, tmp_path)


def test_an_edit_that_keeps_a_pages_ids_has_that_page_checked_and_the_rest_as_before(site: Path, tmp_path: Path,
                                                                                      mode: str):
    out = tmp_path / "out"
    elsewhere, edited, target = article_files(site)[2], article_files(site)[6], article_files(site)[7]
    append_line(elsewhere, "![The old map](maps/none.png)")  # a warning on a page the edit leaves alone
    cached_build(site, out, mode)
    text = f"See [the annex](../{target.stem}/index.html#annex) and [the list](../nowhere/index.html)."
    line = append_line(edited, text)
    errors = failed_cached_build(site, out, mode)
    where = f"content/articles/{edited.name}:{line}"
    assert errors == [f"{where}:{text.index('../') + 1}: error: broken link '../{target.stem}/index.html#annex': "
                      f"articles/{target.stem}/index.html has no element with id 'annex'",
                      f"{where}:{text.index('../nowhere') + 1}: error: broken link '../nowhere/index.html': "
                      "the site has no file articles/nowhere/index.html"]
    edited.write_text(edited.read_text().replace(" and [the list](../nowhere/index.html)", "")
                      .replace("#annex)", ")"))
    result = cached_build(site, out, mode)
    assert result.rendered and not result.diagnostics.errors
    warnings = [str(d) for d in result.diagnostics.sorted() if "will not show" in d.message]
    assert len(warnings) == 1 and warnings[0].startswith(f"content/articles/{elsewhere.name}:")
    assert_same_as_cold(site, out, tmp_path)


def test_a_no_op_build_reports_the_link_warnings_of_the_last(site: Path, tmp_path: Path, mode: str):
    out = tmp_path / "out"
    article = article_files(site)[2]
    append_line(article, "![The old map](maps/none.png)")

    def image_warnings(result) -> list[str]:
        return [str(d) for d in result.diagnostics.sorted() if "will not show" in d.message]

    first = image_warnings(cached_build(site, out, mode))
    assert len(first) == 1 and first[0].startswith(f"content/articles/{article.name}:")
    again = cached_build(site, out, mode)
    assert again.rendered == [] and image_warnings(again) == first


def test_a_static_page_changed_alone_is_checked_again(site: Path, tmp_path: Path, mode: str):
    out = tmp_path / "out"
    (site / "static").mkdir()
    (site / "static/notes.html").write_text('<!doctype html><title>Notes</title><a href="index.html">home</a>\n')
    cached_build(site, out, mode)
    (site / "static/notes.html").write_text('<!doctype html><title>Notes</title><a href="gone.html">gone</a>\n')
    assert failed_cached_build(site, out, mode) == [
        "static/notes.html:1:45: error: broken link 'gone.html': the site has no file gone.html"]


# -- the unchanged-site shortcut ---------------------------------------------------

def test_an_unchanged_site_is_not_loaded_again(site: Path, tmp_path: Path):
    out = tmp_path / "out"
    append_line(article_files(site)[1], "![A lost photo](photo.png)")  # a warning to repeat
    first = build(site, out, search=False)
    before = {p: (out / p).stat().st_ino for p in tree(out)}
    again = build(site, out, search=False)
    assert list(again.timings) == ["inputs unchanged"]
    assert again.ok and again.rendered == [] and again.written == 0 and again.pages == first.pages
    assert again.diagnostics.sorted() == first.diagnostics.sorted() and again.diagnostics.warnings
    assert again.summary().startswith(f"{first.counts}, {first.pages} pages (0 rendered, 0 written, {first.pages} unchanged)")
    assert {p: (out / p).stat().st_ino for p in tree(out)} == before


@pytest.mark.parametrize("mode", ["disk", "serve"])
def test_a_relation_moved_by_an_entity_no_article_names_changes_the_pages_of_both_ends(site: Path, tmp_path: Path,
                                                                                       mode: str):
    """Only the relation ties the pages of its two ends to the entity that states it (it shares
    no article with them): both are made again, through the sources the last build recorded
    and those the entity names now."""
    first, second = [p.stem for p in entity_files(site)][:2]
    path = site / "content" / "entities" / "place" / "zyxquon-flats.yaml"
    path.write_text(f"name: Zyxquon Flats\ntype: place\nrelations:\n  - {{entity: {first}, role: near}}\n")
    out = tmp_path / "out"
    cached_build(site, out, mode)
    assert "Zyxquon Flats" in (out / "entities" / first / "index.html").read_text()
    path.write_text(path.read_text().replace(first, second))
    result = cached_build(site, out, mode)
    assert {f"entities/{first}/index.html", f"entities/{second}/index.html"} <= set(result.changed)
    assert_same_as_cold(site, out, tmp_path)


def test_serve_reads_again_only_the_edited_articles_files(site: Path, tmp_path: Path, monkeypatch):
    """After an edit of an article's text or sidecar, serve's build lists no folder and reads
    no other article or entity; a failed build in between does not lose the edit; what it
    builds and reports is what a cold build does."""
    out = tmp_path / "out"
    cached_build(site, out, "serve")
    monkeypatch.setattr(build_module, "CHECK_UNREACHED", False)  # its check makes a whole load
    listed, read = [], []
    listing, read_article, read_entity = (load_stage.SiteFiles.listing, load_stage.read_article,
                                          load_stage.read_entity_file)
    monkeypatch.setattr(load_stage.SiteFiles, "listing", lambda self, *a, **k: listed.append(a) or listing(self, *a, **k))
    monkeypatch.setattr(load_stage, "read_article", lambda files, slug, *a: read.append(slug) or read_article(files, slug, *a))
    monkeypatch.setattr(load_stage, "read_entity_file", lambda files, path, s: read.append(path.name) or read_entity(files, path, s))
    text, sidecar = article_files(site)[3], article_files(site)[4].with_suffix(".yaml")
    edit_article_text(site)
    result = cached_build(site, out, "serve")
    assert (listed, read, sorted(result.rendered)) == ([], [text.stem], [f"articles/{text.stem}/index.html", "index.html"])
    good = sidecar.read_text()
    sidecar.write_text(good.replace("title:", "title: [", 1))
    failed = build(site, out, search=False, persist=False, changed=watched_changes(site))
    assert not failed.ok and read[1:] == [sidecar.stem]
    sidecar.write_text(good.replace("title: \"", "title: \"Revised: ", 1))  # mended, and edited
    result = cached_build(site, out, "serve")
    assert (listed, read[2:]) == ([], [sidecar.stem])
    assert result.diagnostics.sorted() == build(site, tmp_path / "cold", search=False).diagnostics.sorted()
    assert_same_as_cold(site, out, tmp_path)


@pytest.mark.parametrize("mode", ["disk", "serve"])
def test_an_edit_that_leaves_the_mentions_and_claims_makes_no_entity_group(site: Path, tmp_path: Path, mode: str,
                                                                           monkeypatch):
    """A summary rewritten, a paragraph added: the pages of the entities the article names are
    not made (their inputs are as they were); a claim's status changed: those it names are."""
    out = tmp_path / "out"
    cached_build(site, out, mode)
    monkeypatch.setattr(build_module, "CHECK_UNREACHED", False)  # it makes every group, to check it
    made: list[str] = []
    real = SiteRenderer.entity_group
    monkeypatch.setattr(SiteRenderer, "entity_group", lambda self, e: made.append(e.id) or real(self, e))
    sidecar = article_files(site)[4].with_suffix(".yaml")
    assert 'summary: "' in sidecar.read_text() and "status: unverified" in sidecar.read_text()
    sidecar.write_text(sidecar.read_text().replace('summary: "', 'summary: "Rewritten. ', 1))
    text = article_files(site)[3]
    text.write_text(text.read_text() + "\nA closing paragraph that names nobody at all.\n")
    result = cached_build(site, out, mode)
    assert made == [] and len(result.rendered) == 3
    sidecar.write_text(sidecar.read_text().replace("status: unverified", "status: disputed", 1))
    cached_build(site, out, mode)
    assert made
    assert_same_as_cold(site, out, tmp_path)


@pytest.mark.parametrize("mode", ["memory", "disk", "serve"])
def test_an_edit_reads_only_the_entity_files_that_changed(site: Path, tmp_path: Path, mode: str, monkeypatch):
    out = tmp_path / "out"
    cached_build(site, out, mode)
    read = []
    real = load_stage.read_entity_file
    monkeypatch.setattr(load_stage, "read_entity_file", lambda files, path, s: read.append(path.name) or real(files, path, s))
    edit_article_text(site)
    cached_build(site, out, mode)
    assert read == []
    edit_entity(site)
    cached_build(site, out, mode)
    assert read == [entity_files(site)[0].name]
    assert_same_as_cold(site, out, tmp_path)


@pytest.mark.parametrize("mode", ["memory", "disk", "serve"])
def test_an_edit_makes_the_pages_of_the_groups_whose_inputs_changed_only(site: Path, tmp_path: Path, mode: str,
                                                                         monkeypatch):
    """The text of one article edited: its page's group, those of the entities it mentions and
    those whose pages looked the article up are made; every other is taken as the last build
    made it."""
    out = tmp_path / "out"
    cached_build(site, out, mode)
    edited = article_files(site)[3].stem
    pages = cache_module.BuildCache.load(out, persist=mode != "serve").pages
    looking = {path for path, record in pages.items() if ("article", edited) in record.deps}
    made = []
    plan = SiteRenderer.group_plan

    def watched(self):
        for name, make_group in plan(self):
            yield name, lambda make_group=make_group: (lambda group: dataclasses.replace(
                group, make=lambda: made.append(group.name) or group.make()))(make_group())

    monkeypatch.setattr(SiteRenderer, "group_plan", watched)
    edit_article_text(site)
    result = cached_build(site, out, mode)
    mentioned = {hit.entity for hit in result.resolved.analyses[edited].hits}
    articles = {name.split(":")[1] for name in made if name.startswith("article:")}
    entities = {name.split(":")[1] for name in made if name.startswith("entity:")}
    assert edited in articles and articles <= {edited} | {path.split("/")[1] for path in looking if path.startswith("articles/")}
    assert mentioned and entities <= mentioned | {path.split("/")[1] for path in looking if path.startswith("entities/")}
    assert len(articles) + len(entities) < (len(result.resolved.dossier.articles) + len(result.resolved.entities)) / 2
    assert_same_as_cold(site, out, tmp_path)


@pytest.mark.parametrize("mode", ["memory", "disk", "serve"])
def test_a_paragraph_added_to_an_article_rerenders_its_page_and_its_home_page_only(site: Path, tmp_path: Path,
                                                                                   mode: str, monkeypatch):
    """The mentions before it are as they were, and other pages look up the article's title,
    date and publisher, not its text: they are not made again. Nor are the export files, which
    hold no article's text: not one of their records is looked at."""
    out = tmp_path / "out"
    first = cached_build(site, out, mode)
    looked, same_lookups = [], []
    monkeypatch.setattr(cache_module.PreviousRecords, "text", lambda self, key: looked.append(key))
    # The pages made again make the same look-ups: the table of them is the last one, not made anew.
    monkeypatch.setattr(build_module, "_same_lookups_made",
                        lambda *args, f=build_module._same_lookups_made: same_lookups.append(f(*args)) or same_lookups[-1])
    keys_made = cache_module.remembered_digest.cache_info().misses
    # Each file's digest is the one the fingerprint of the inputs saw, before the build: not looked at again.
    monkeypatch.setattr(inputs_module, "content_digest", lambda path: pytest.fail(f"{path} looked at again"))
    known_anew = []  # the objects whose digests the build makes known in bulk: claims, mentions
    monkeypatch.setattr(cache_module.Fingerprints, "know_all",
                        lambda self, values, fps, f=cache_module.Fingerprints.know_all: known_anew.append(values) or f(self, values, fps))
    followed = []  # the articles whose changes resolve followed from the last resolve
    monkeypatch.setattr(resolve_module, "resolve_changes",
                        lambda *args, f=resolve_module.resolve_changes: followed.append(args[-1]) or f(*args))
    path = article_files(site)[3]
    append_line(path, f"A closing paragraph that names nobody ({mode}).")  # not the text of another case
    result = cached_build(site, out, mode)
    home = [p for p in first.rendered if re.fullmatch(r"(page-\d+/)?index\.html", p)]
    assert f"articles/{path.stem}/index.html" in result.rendered
    assert set(result.rendered) - {f"articles/{path.stem}/index.html"} <= set(home)
    assert looked == []
    assert same_lookups and all(same_lookups)
    if mode != "disk":  # the keys of the other files are those this process made for the last build,
        assert cache_module.remembered_digest.cache_info().misses - keys_made == 2  # the text's, its analysis's
        # and so are the digests of the other articles, claims and mentions: the edited article's claims
        # and mentions are made known, no others.
        assert len(known_anew) == 2 and {type(v[0]).__name__ for v in known_anew} == {"Claim", "Hit"}
        # The dossier is resolved from the last resolve, the edited article's parts made again.
        assert followed == [[3]]
    else:  # a cache read back holds no resolve
        assert followed == []
    assert_same_as_cold(site, out, tmp_path)


@pytest.mark.parametrize("mode", ["memory", "disk", "serve"])
def test_claims_put_in_another_order_by_the_text_alone_remake_the_export_files(site: Path, tmp_path: Path, mode: str):
    """dossier.json lists an article's claims in the order of their marks in its text: an edit
    of the text alone that moves them is seen, whichever way the build finds what changed."""
    import json
    out = tmp_path / "out"
    cached_build(site, out, mode)
    path = article_files(site)[0]

    def claims_listed() -> list[str]:
        records = json.loads((out / "dossier.json").read_text())["articles"]
        return next(a["claims"] for a in records if a["slug"] == path.stem)

    before = claims_listed()
    paragraphs = path.read_text().strip("\n").split("\n\n")
    path.write_text("\n\n".join(reversed(paragraphs)) + "\n")
    cached_build(site, out, mode)
    assert sorted(claims_listed()) == sorted(before) and claims_listed() != before
    assert_same_as_cold(site, out, tmp_path)


@pytest.mark.parametrize("mode", ["memory", "serve"])
def test_a_process_keys_again_only_the_export_records_of_the_edited_sidecar(site: Path, tmp_path: Path, mode: str):
    """Its last build keyed each record by the objects it was made from: those of the other
    articles, the entities and the site settings (read again, equal) are the same objects."""
    out = tmp_path / "out"
    held = lambda: cache_module._in_memory[str((out / CACHE_FILE).absolute())][1].record_keys
    cached_build(site, out, mode)
    before = held()
    edit_sidecar(site)
    cached_build(site, out, mode)
    after = held()
    assert before.keys() - after.keys() and len(before) == len(after)
    anew = [ident for ident in after if ident not in before]
    kept = [ident for ident in after if ident in before]
    assert all(after[ident][1] is before[ident][1] for ident in kept)  # the key taken, not made again
    slug = article_files(site)[4].stem
    assert {inputs[1].slug for inputs, _ in map(after.get, anew)} == {slug}  # (site, article, ...)
    assert_same_as_cold(site, out, tmp_path)


@pytest.mark.parametrize("mode", ["memory", "disk", "serve"])
@pytest.mark.parametrize("reads_summary", [False, True])
def test_a_summary_edited_makes_again_only_the_pages_that_read_it(site: Path, tmp_path: Path, mode: str,
                                                                  reads_summary: bool):
    """Pages that list the article by its title, date and publisher, and its claims (the same,
    each keyed on what it says), are kept; a site's own template that reads the summary of an
    article it looks up is made again."""
    if reads_summary:
        own_template(site, "entity.html", "{{ a.title }}</a></h3>", "{{ a.title }}</a> {{ a.summary }}</h3>")
    out = tmp_path / "out"
    cached_build(site, out, mode)
    path = article_files(site)[4]
    sidecar = path.with_suffix(".yaml")
    sidecar.write_text(sidecar.read_text().replace('summary: "', 'summary: "Summed up anew. ', 1))
    result = cached_build(site, out, mode)
    entity_pages = [p for p in result.rendered if p.startswith("entities/")]
    if reads_summary:
        assert entity_pages and all("Summed up anew." in (out / p).read_text() for p in entity_pages)
    else:
        assert set(result.rendered) - {f"articles/{path.stem}/index.html"} <= {"index.html", "page-2/index.html"}
    assert_same_as_cold(site, out, tmp_path)


@pytest.mark.parametrize("mode", ["memory", "serve"])
def test_an_article_moved_by_its_date_moves_its_claims_in_an_index_that_names_no_article(
        site: Path, tmp_path: Path, mode: str, monkeypatch):
    """The claims index lists claims by status, then as the home page lists their articles: a
    site's own template that looks no article up still has its pages made again."""
    monkeypatch.setattr(render_module, "PAGE_SIZE", 3)
    own_template(site, "claims.html", "{{ claim_list(members) }}", "{% for c in members %}<p>{{ c.id }}</p>{% endfor %}")
    out = tmp_path / "out"
    cached_build(site, out, mode)
    sidecar = article_files(site)[4].with_suffix(".yaml")
    sidecar.write_text(re.sub(r"published: \S+", "published: 1999-01-01", sidecar.read_text()))  # now last
    result = cached_build(site, out, mode)
    assert any(p.startswith("claims/") for p in result.changed)
    assert_same_as_cold(site, out, tmp_path)


@pytest.mark.parametrize("mode", ["serve", "disk"])
def test_an_edit_rewrites_only_the_export_records_of_an_edited_sidecar(site: Path, tmp_path: Path, mode: str,
                                                                       monkeypatch):
    """dossier.json and claims.csv are the last ones with the edited article's records replaced
    (the suite's check compares them with files made in full), in serve and from the CLI (a new
    process, the cache read back). Moving the article in the order of articles makes them in
    full; so does emptying its claims (the dossier is resolved afresh). A status changed moves
    claims over the pages of the claims index, which are keyed on their claims, the overview of
    statuses and their place (render.PageSpec.inputs)."""
    monkeypatch.setattr(render_module, "PAGE_SIZE", 3)  # the claims index over many pages
    out = tmp_path / "out"
    cached_build(site, out, mode)
    edited = []
    monkeypatch.setattr(build_module, "_put_edited",
                        lambda path, *args, f=build_module._put_edited: edited.append(path) or f(path, *args))
    sidecar = article_files(site)[4].with_suffix(".yaml")
    good = sidecar.read_text()
    sidecar.write_text(good.replace("status: unverified", "status: disputed"))  # its place in the claims index moves
    cached_build(site, out, mode)
    assert edited == ["dossier.json", "claims.csv"]
    edited.clear()
    assert_same_as_cold(site, out, tmp_path)
    for n in range(3):  # each edit from records the last one moved
        sidecar.write_text(good.replace('title: "', f'title: "Revised {"again " * n}', 1).replace("status: unverified", "status: disputed"))
        cached_build(site, out, mode)
        assert edited == ["dossier.json", "claims.csv"] and f"Revised {'again ' * n}" in (out / "claims.csv").read_text()
        edited.clear()
        assert_same_as_cold(site, out, tmp_path)
    # The files' last versions were set aside and are freed on a thread of their own: soon gone.
    deadline = time.monotonic() + 10
    while list(tmp_path.glob(".out.tmp-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not list(tmp_path.glob(".out.tmp-*"))
    for changed in (re.sub(r"published: \S+", "published: 1999-01-01", good),  # now last on the home page
                    good.split("\nclaims:")[0] + "\n"):
        sidecar.write_text(changed)
        cached_build(site, out, mode)
        assert edited == []
        assert_same_as_cold(site, out, tmp_path)
    sidecar.write_text(good)
    cached_build(site, out, mode)
    assert_same_as_cold(site, out, tmp_path)


def test_an_export_file_changed_since_the_last_build_is_made_in_full(site: Path, tmp_path: Path, monkeypatch):
    """A new process edits the export files only if their bytes are the ones the last build wrote:
    one changed in the output since (by hand, by another tool) is made in full, and right."""
    out = tmp_path / "out"
    cached_build(site, out, "disk")
    edited = []
    monkeypatch.setattr(build_module, "_put_edited",
                        lambda path, *args, f=build_module._put_edited: edited.append(path) or f(path, *args))
    claims_csv = out / "claims.csv"
    claims_csv.write_bytes(claims_csv.read_bytes().replace(b"unverified", b"UNVERIFIED", 1))
    edit_sidecar(site)
    cached_build(site, out, "disk")
    assert edited == []
    assert_same_as_cold(site, out, tmp_path)


def test_an_edited_export_file_that_cannot_be_written_fails_the_build_and_leaves_the_output(
        site: Path, tmp_path: Path, monkeypatch):
    """It is written on a thread of its own (write.StagedOutput.put_edited): what goes wrong
    there is raised in the build, before anything is put in place."""
    out = tmp_path / "out"
    cached_build(site, out, "serve")
    before = tree(out)

    def full_disk(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(write_module, "copy_range", full_disk)
    edit_sidecar(site)
    with pytest.raises(OSError, match="No space left"):
        build(site, out, search=False, persist=False, changed=watched_changes(site))
    assert tree(out) == before
    assert not list(tmp_path.glob(".out.tmp-*"))


def test_serve_reports_a_broken_sidecar_as_a_first_build_would_and_recovers(site: Path, tmp_path: Path, monkeypatch):
    """The errors and warnings of an edit resolved from the last resolve are those of a build
    that reads everything afresh; once fixed, the output is a cold build's."""
    out = tmp_path / "out"
    cached_build(site, out, "serve")
    followed = []
    monkeypatch.setattr(resolve_module, "resolve_changes",
                        lambda *args, f=resolve_module.resolve_changes: followed.append(args[-1]) or f(*args))
    sidecar = article_files(site)[2].with_suffix(".yaml")
    good = sidecar.read_text()
    broken = good.replace("claimant: ", "claimant: no-such-", 1).replace(
        'note: "', 'note: "See [this](javascript:alert(1)). ', 1)
    assert broken.count("no-such-") == 1 and "javascript:" in broken
    sidecar.write_text(broken)
    result = build(site, out, search=False, persist=False, changed=watched_changes(site))
    assert not result.ok and followed
    afresh = build_module.check(site)
    assert [str(d) for d in result.diagnostics.sorted()] == [str(d) for d in afresh.diagnostics.sorted()]
    said = " ".join(str(d) for d in result.diagnostics.sorted())
    assert "error: unknown entity 'no-such-" in said and "javascript:" in said
    sidecar.write_text(good.replace('title: "', 'title: "Fixed: ', 1))  # not the last good build's: built
    cached_build(site, out, "serve")
    assert len(followed) == 2
    assert_same_as_cold(site, out, tmp_path)


def test_a_process_goes_on_with_its_digests_and_renews_them_now_and_then(site: Path, tmp_path: Path, monkeypatch):
    """They hold every value they digested, old versions of edited articles too: a long serve
    session must not keep them all."""
    monkeypatch.setattr(build_module, "CARRIED_BUILDS", 2)
    out = tmp_path / "out"
    held = []
    for n in range(4):
        append_line(article_files(site)[0], f"A paragraph added at build {n}.")
        cached_build(site, out, "serve")
        held.append(cache_module._in_memory[str((out / CACHE_FILE).absolute())][1].fingerprints)
    assert held[1] is held[0] and held[2] is not held[1] and held[3] is held[2]
    assert_same_as_cold(site, out, tmp_path)


def test_serve_takes_what_its_output_holds_from_its_last_build(site: Path, tmp_path: Path, monkeypatch):
    """serve alone writes its output: a rebuild neither lists it for files no longer made nor
    looks whether each page it keeps is there."""
    out = tmp_path / "out"
    cached_build(site, out, "serve")
    monkeypatch.setattr(write_module.StagedOutput, "_remove_stale", lambda *args: pytest.fail("the output was listed"))
    looked = []
    isfile = os.path.isfile
    monkeypatch.setattr(os.path, "isfile", lambda path: looked.append(str(path)) or isfile(path))
    delete_article(site)  # a page and its folder to remove
    append_line(article_files(site)[0], "A closing paragraph that names nobody.")
    result = cached_build(site, out, "serve")
    assert result.rendered and not [path for path in looked if path.startswith(str(out))]
    monkeypatch.undo()
    assert_same_as_cold(site, out, tmp_path)


@pytest.mark.parametrize("mode", ["memory", "disk", "serve"])
def test_a_page_whose_template_reads_an_articles_text_is_made_again_when_the_text_changes(site: Path,
                                                                                          tmp_path: Path, mode: str):
    (site / "templates").mkdir()
    entity = (REPO / "dossier" / "templates" / "entity.html").read_text()
    shown = "<h3 class=\"mention-source\">"
    assert shown in entity
    (site / "templates" / "entity.html").write_text(
        entity.replace(shown, shown + "{{ a.text|wordcount }} words: ", 1))
    out = tmp_path / "out"
    cached_build(site, out, mode)
    append_line(article_files(site)[3], "A closing paragraph that names nobody.")
    result = cached_build(site, out, mode)
    assert any(p.startswith("entities/") for p in result.rendered)
    assert_same_as_cold(site, out, tmp_path)


def test_a_claim_edited_remakes_the_claims_pages_that_show_it_not_every_one(site: Path, tmp_path: Path, monkeypatch):
    """The claims index is one group made from every claim; its pages are keyed each on its own."""
    monkeypatch.setattr(render_module, "PAGE_SIZE", 10)  # the claims index over several pages
    out = tmp_path / "out"
    first = cached_build(site, out, "disk")
    claims_pages = [p for p in first.rendered if p.startswith("claims/")]
    assert len(claims_pages) > 5
    sidecar = article_files(site)[4].with_suffix(".yaml")
    sidecar.write_text(sidecar.read_text().replace("note: ", "note: Revised. ", 1))
    result = cached_build(site, out, "disk")
    remade = [p for p in result.rendered if p.startswith("claims/")]
    assert 0 < len(remade) < len(claims_pages)
    assert_same_as_cold(site, out, tmp_path)


@pytest.mark.parametrize("where", ["site.yaml", "content/entities/new-place.yaml", "templates/base.html",
                                   "static/notes.txt", "content/articles/.draft.md"])
def test_a_change_to_anything_the_build_reads_is_seen(site: Path, tmp_path: Path, where: str):
    out = tmp_path / "out"
    build(site, out, search=False)
    path = site / where
    path.parent.mkdir(parents=True, exist_ok=True)
    if where == "templates/base.html":
        path.write_text((REPO / "dossier/templates/base.html").read_text() + "<!-- local -->\n")
    elif where.endswith(".yaml") and where != "site.yaml":
        path.write_text("name: New Place\ntype: place\n")
    else:
        path.write_text((path.read_text() if path.exists() else "") + "\n# an edit\n")
    result = build(site, out, search=False)
    assert "load" in result.timings, result.timings
    assert_same_as_cold(site, out, tmp_path)


def test_files_the_build_does_not_read_change_nothing(site: Path, tmp_path: Path):
    out = tmp_path / "out"
    build(site, out, search=False)
    (site / "notes-to-self.md").write_text("Not part of the site.\n")
    assert list(build(site, out, search=False).timings) == ["inputs unchanged"]


def test_a_page_removed_from_the_output_is_made_again(site: Path, tmp_path: Path):
    out = tmp_path / "out"
    build(site, out, search=False)
    page = out / "articles" / article_files(site)[0].stem / "index.html"
    page.unlink()
    result = build(site, out, search=False)
    assert "load" in result.timings and page.is_file()
    assert_same_as_cold(site, out, tmp_path)


def test_a_page_removed_from_a_group_of_several_has_the_group_made_again_and_counted_once(
        site: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setattr(render_module, "PAGE_SIZE", 2)  # entities' pages run over several pages
    out = tmp_path / "out"
    cold = build(site, out, search=False)
    later = sorted(out.glob("entities/*/page-2/index.html"))[0]
    later.unlink()
    edit_article_text(site)
    result = build(site, out, search=False)
    assert later.is_file()
    assert (result.pages, result.reused + result.written) == (cold.pages, cold.pages)
    assert_same_as_cold(site, out, tmp_path)


def test_the_search_option_is_part_of_what_must_match(site: Path, tmp_path: Path):
    out = tmp_path / "out"
    build(site, out, search=False)
    with_search = build(site, out, search=True)
    assert "search" in with_search.timings and (out / "pagefind/pagefind-entry.json").is_file()
    assert list(build(site, out, search=True).timings) == ["inputs unchanged"]
    (out / "pagefind/pagefind-entry.json").unlink()  # the index is part of the output it stands for
    assert "search" in build(site, out, search=True).timings
    assert "load" in build(site, out, search=False).timings and not (out / "pagefind").exists()


def read_back(out: Path) -> BuildCache:
    """The cache of `out` as a new process reads it from disk."""
    path = out / CACHE_FILE
    with open(path, "rb") as f:
        return BuildCache._read(f, (str(path), cache_module._stamp(path)))


def pickled_whole(cache: BuildCache) -> bytes:
    whole = io.BytesIO()
    cache.dump_to(whole)  # every chunk pickled anew, no base
    return whole.getvalue()


@pytest.mark.parametrize("kernel_copy", ["works", "fails", "stops short"])
@pytest.mark.parametrize("mode_name", ["memory", "disk"])
def test_an_edit_refers_to_the_last_full_cache_and_copies_the_rest(mode_name, kernel_copy: str, site: Path,
                                                                     tmp_path: Path, monkeypatch):
    monkeypatch.setattr(cache_module.BuildCache, "CHUNK", 3)  # many chunks even in a small dossier
    kernel = os.copy_file_range
    if kernel_copy == "fails":  # another file system, another kernel: bytes read and written instead
        monkeypatch.setattr(cache_module.os, "copy_file_range", lambda *a: (_ for _ in ()).throw(OSError(18, "EXDEV")))
    elif kernel_copy == "stops short":  # a part copied, then nothing more: the part is taken back
        monkeypatch.setattr(cache_module.os, "copy_file_range",
                            lambda src, dst, count, a, b: kernel(src, dst, max(1, count // 2), a, b) if count > 8 else 0)
    copied = []
    copy = cache_module._ChunkSource.copy
    monkeypatch.setattr(cache_module._ChunkSource, "copy", lambda self, where, f: copied.append(where) or copy(self, where, f))
    out = tmp_path / "out"
    cached_build(site, out, mode_name)
    full = (out / CACHE_FILE).stat()
    assert not (out / BASE_FILE).exists()
    edit_article_text(site)
    cached_build(site, out, mode_name)
    # The last cache is kept as it was, as the base; the new file holds what changed.
    assert (out / BASE_FILE).stat().st_ino == full.st_ino and (out / BASE_FILE).stat().st_size == full.st_size
    assert (out / CACHE_FILE).stat().st_size < full.st_size / 2
    assert not copied, "a chunk of the full file was copied, not referred to"
    other = article_files(site)[8]  # another article: what the last edit wrote is copied from its file
    other.write_text(other.read_text() + "\nA paragraph of another article, added later.\n")
    cached_build(site, out, mode_name)
    assert (out / BASE_FILE).stat().st_ino == full.st_ino
    assert copied and all(Path(where[0]).name == CACHE_FILE for where in copied)
    kept = cache_module._in_memory[str((out / CACHE_FILE).absolute())][1]
    back = read_back(out)
    assert back.base is not None and sum(Path(w[0]).name == BASE_FILE for w in back.chunks.values()) > 10
    assert pickled_whole(back) == pickled_whole(kept)  # the files hold the very tables built
    assert_same_as_cold(site, out, tmp_path)


def edited_with_a_base(site: Path, out: Path, monkeypatch) -> None:
    """A cold build into `out`, then an edit built: its cache refers to the first one, kept as the base."""
    monkeypatch.setattr(cache_module.BuildCache, "CHUNK", 3)  # many chunks, most of them kept by an edit
    cached_build(site, out, "disk")
    edit_article_text(site)
    cached_build(site, out, "disk")
    assert (out / BASE_FILE).is_file()


def test_an_edit_with_search_keeps_the_base_in_the_output_it_swaps_in(site: Path, tmp_path: Path, monkeypatch):
    """With the search index the new output is a folder of its own, swapped in whole: the base
    is linked into it."""
    monkeypatch.setattr(cache_module.BuildCache, "CHUNK", 3)  # many chunks, most of them kept
    out = tmp_path / "out"
    cache_module._in_memory.clear()
    assert build(site, out, search=True).ok
    full = (out / CACHE_FILE).stat().st_ino
    edit_article_text(site)
    cache_module._in_memory.clear()
    assert build(site, out, search=True).ok
    assert (out / BASE_FILE).stat().st_ino == full
    kept = cache_module._in_memory[str((out / CACHE_FILE).absolute())][1]
    assert read_back(out).base is not None and pickled_whole(read_back(out)) == pickled_whole(kept)


def test_a_base_file_removed_or_replaced_makes_the_next_build_cold(site: Path, tmp_path: Path, monkeypatch):
    out, other = tmp_path / "out", tmp_path / "other"
    edited_with_a_base(site, out, monkeypatch)
    cached_build(site, other, "disk")  # a full cache of the same version, of another output
    for harm in ("replaced", "removed"):
        if harm == "replaced":
            shutil.copy(other / CACHE_FILE, out / BASE_FILE)
        else:
            (out / BASE_FILE).unlink()
        cache_module._in_memory.clear()  # as a new process reads it
        assert BuildCache.load(out).pages == {}, harm
        edit_sidecar(site)
        result = cached_build(site, out, "disk")
        assert sum(p.startswith("articles/") for p in result.rendered) == len(article_files(site)), harm
        assert not (out / BASE_FILE).exists()  # the cache written then is a full one
        assert_same_as_cold(site, out, tmp_path)
        edit_article_text(site)
        cached_build(site, out, "disk")  # and the next edit refers to it again
        assert (out / BASE_FILE).is_file()


def test_a_base_mostly_replaced_is_dropped_for_a_full_file(site: Path, tmp_path: Path, monkeypatch):
    out = tmp_path / "out"
    edited_with_a_base(site, out, monkeypatch)
    base_size = (out / BASE_FILE).stat().st_size
    in_use = []
    base_for = cache_module.BuildCache.base_for
    monkeypatch.setattr(cache_module.BuildCache, "base_for",
                        lambda self, previous, kept: in_use.append(sum(w[3] - w[2] for w in kept.values()
                                                                       if Path(w[0]).name == BASE_FILE))
                        or base_for(self, previous, kept))
    edit_template(site)  # every page again, and a name more to link:
    add_entity(site)  # every analysis anew; less than half of the base in use (asserted below)
    cached_build(site, out, "disk")
    assert 0 < 2 * in_use[-1] < base_size
    assert not (out / BASE_FILE).exists() and read_back(out).base is None
    assert pickled_whole(read_back(out)) == (out / CACHE_FILE).read_bytes()  # a full file, as a cold build's
    assert_same_as_cold(site, out, tmp_path)
    edit_article_text(site)
    cached_build(site, out, "disk")  # which the next edit refers to
    assert (out / BASE_FILE).is_file() and read_back(out).base is not None


def test_a_failed_build_leaves_both_cache_files_as_they_were(site: Path, tmp_path: Path, monkeypatch):
    out = tmp_path / "out"
    edited_with_a_base(site, out, monkeypatch)
    before = {name: ((out / name).stat().st_ino, (out / name).read_bytes()) for name in (CACHE_FILE, BASE_FILE)}
    sidecar = article_files(site)[2].with_suffix(".yaml")
    sidecar.write_text(sidecar.read_text().replace("status: ", "status: no-such-status-", 1))
    result = build(site, out, search=False)
    assert not result.ok
    assert {name: ((out / name).stat().st_ino, (out / name).read_bytes()) for name in before} == before


@pytest.mark.parametrize("mode_name", ["memory", "disk", "serve"])
def test_an_edit_reads_the_export_records_it_did_not_change_back_from_the_last_files(mode_name, site: Path,
                                                                                     tmp_path: Path, monkeypatch):
    out = tmp_path / "out"
    cached_build(site, out, mode_name)
    found, missed = [], []
    text = cache_module.PreviousRecords.text
    monkeypatch.setattr(cache_module.PreviousRecords, "text",
                        lambda self, key: (lambda t: (found if t is not None else missed).append(key) or t)(text(self, key)))
    checked = []  # the last files read whole, to be sure they are the ones written
    monkeypatch.setattr(cache_module, "digest", lambda *parts, f=cache_module.digest: checked.extend(
        p for p in parts if isinstance(p, mmap.mmap)) or f(*parts))
    edit_sidecar(site)  # one article's title and a claim's status: its records, its claims' rows
    cached_build(site, out, mode_name)
    assert found and 0 < len(missed) < len(found) / 10
    # serve's output is its own, in a folder no one else writes: its files are as it wrote them.
    assert (len(checked) == 0) == (mode_name == "serve")
    assert_same_as_cold(site, out, tmp_path)
    if mode_name == "serve":
        return
    (out / "claims.csv").write_text((out / "claims.csv").read_text().replace("a", "b"))  # not the file it was
    found.clear(), missed.clear()
    edit_entity(site)  # an entity's record changes: the export files are made again
    result = cached_build(site, out, mode_name)
    with_claims = {c.article for c in result.resolved.claims.values()}
    assert len(missed) >= len(with_claims) and found  # every article's rows made again, nothing else
    assert_same_as_cold(site, out, tmp_path)


def test_a_claims_digest_changes_with_each_of_its_fields():
    """A claim's fingerprint is made from its repr (cache.claim_digest): every field must show
    in it, or an edit of that field would leave the pages listing the claim as they were."""
    import datetime as dt
    from dossier.model import Claim, Pos, Ref, Selector
    at = Pos("content/articles/a.yaml", 12, 5)
    claim = Claim("a-1", "a", Selector("the quote", at, "before ", " after"), at, "disputed",
                  claimant=Ref("someone", at), about=(Ref("else", at),), date=dt.date(2024, 8, 6),
                  note="A note.", supports=(Ref("b-1", at),), contradicts=(Ref("c-1", at),),
                  reviewed=dt.date(2024, 9, 1))
    other = {str: "other", Pos: Pos("content/articles/a.yaml", 13, 5), Selector: Selector("another quote", at),
             Ref: Ref("nobody", at), tuple: (), dt.date: dt.date(2024, 8, 7)}
    digests = {cache_module.claim_digest(claim)}
    for f in dataclasses.fields(Claim):
        changed = dataclasses.replace(claim, **{f.name: other[type(getattr(claim, f.name))]})
        assert changed != claim
        digests.add(cache_module.claim_digest(changed))
    assert len(digests) == len(dataclasses.fields(Claim)) + 1
    assert cache_module.claim_digest(dataclasses.replace(claim)) == cache_module.claim_digest(claim)
