"""Same input, same output: builds of one site are byte-identical, whatever the
hash seed, the output folder's name, or whether the build started cold or
from an earlier output (cache and reused pages).
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dossier.cache import BASE_FILE, CACHE_FILE
from dossier.inputs import STAMPS_FILE
from fixtures.sitekit import BASIC, make_site, snapshot

REPO = Path(__file__).resolve().parent.parent


def build(site: Path, out: Path, seed: str, *extra: str) -> None:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    proc = subprocess.run([sys.executable, str(REPO / "build.py"), "build", str(site), "-o", str(out), *extra],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr


# Pagefind (1.5) writes its filter index in arbitrary order, so these files'
# names and bytes vary from run to run of the Pagefind binary itself
# (Pagefind/pagefind#638: fragments became stable in 1.3, filter indexes did
# not). They are compared by content, order aside; everything else byte for byte.
PAGEFIND_UNSTABLE = re.compile(r"pagefind/(filter/[^/]+\.pf_filter|pagefind\.[^/]+\.pf_meta|pagefind-entry\.json)")


def differences(a: dict[str, str], b: dict[str, str]) -> list[str]:
    # The stamps of the input files a build read are what this machine saw, not part of
    # its result: a file changed two seconds before a build is not yet vouched for.
    keys = {k for k in a.keys() | b.keys() if not PAGEFIND_UNSTABLE.fullmatch(k) and k != STAMPS_FILE}
    return sorted(k for k in keys if a.get(k) != b.get(k))


def filter_contents(out: Path) -> list[bytes]:
    """Pagefind's filter files as sorted bytes: equal when they differ only in order."""
    return sorted(bytes(sorted(gzip.decompress(p.read_bytes()))) for p in (out / "pagefind/filter").glob("*.pf_filter"))


@pytest.fixture
def demo(tmp_path) -> Path:
    site = tmp_path / "demo"
    site.mkdir()
    shutil.copy(REPO / "site.yaml", site)
    shutil.copytree(REPO / "content", site / "content")
    return site


@pytest.mark.parametrize("which", ["fixture", "demo"])
def test_two_cold_builds_are_byte_identical(tmp_path, demo, which):
    site = BASIC if which == "fixture" else demo
    first, second = tmp_path / "first", tmp_path / "elsewhere" / "second"
    build(site, first, "1")
    build(site, second, "2")
    a, b = snapshot(first), snapshot(second)
    assert len(a) > 20
    assert differences(a, b) == []
    assert filter_contents(first) == filter_contents(second)
    assert len([k for k in a if k.startswith("pagefind/fragment/")]) > 3


def test_a_warm_rebuild_equals_a_cold_build(tmp_path):
    site = make_site(tmp_path / "site")
    warm, cold = tmp_path / "warm", tmp_path / "cold"
    build(site, warm, "3", "--no-search")
    # Change one article, rebuild over the earlier output (cache, reused pages), and compare with a fresh build.
    path = site / "content/articles/bridge-reopened.md"
    path.write_text(path.read_text().replace("on Friday", "on Thursday"))
    build(site, warm, "4", "--no-search")
    build(site, cold, "5", "--no-search")
    # Every page and file alike; the build cache holds the same values but, pickled after
    # a warm build, shares objects differently and refers to the last full cache, so only
    # its files may differ.
    warm_files, cold_files = snapshot(warm), snapshot(cold)
    for own in (CACHE_FILE, BASE_FILE):
        warm_files.pop(own, None), cold_files.pop(own, None)
    assert differences(warm_files, cold_files) == []


def test_no_build_time_in_pages(tmp_path):
    out = tmp_path / "out"
    build(BASIC, out, "6", "--no-search")
    today = dt.date.today()
    stamps = {today.isoformat(), today.strftime("%d %B %Y").lstrip("0"), today.strftime("%B %Y")}
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".xml", ".json", ".csv", ".txt"):
            text = path.read_text("utf-8")
            for stamp in stamps:
                assert stamp not in text, f"{path.relative_to(out)} holds the build date {stamp}"
