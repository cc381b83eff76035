"""The pages' own behaviour in Chromium, outside search: what a reader sees of a claim."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from conftest import REPO, run_cli


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("frontend")
    site = root / "site"
    site.mkdir()
    shutil.copy(REPO / "site.yaml", site)
    shutil.copytree(REPO / "content", site / "content")
    done = run_cli("build", str(site), "-o", str(root / "out"), "--no-search")
    assert done.returncode == 0, done.stderr
    return root / "out"


OUTLINED = "ids => ids.map(id => [...document.querySelectorAll(`mark[data-claim='${id}']`)].map(m => getComputedStyle(m).outlineStyle))"


@pytest.mark.parametrize("served", [True, False], ids=["http", "disk"])
def test_landing_on_a_claim_outlines_every_piece_of_its_quote(demo_out, http_root, page, served):
    """A quote that crosses markup is several marks, the first with the id: #claim-… must
    outline them all, on arrival and when the address's fragment changes."""
    split = None
    for path in sorted((demo_out / "articles").glob("*/index.html")):
        pieces = Counter(re.findall(r'<mark [^>]*data-claim="([^"]+)"', path.read_text("utf-8")))
        if any(n > 1 for n in pieces.values()) and len(pieces) > 1:
            claim = max(pieces, key=pieces.get)
            split = (path, claim, next(c for c in pieces if c != claim))
            break
    assert split, "the demo has a claim whose quote crosses markup, beside another claim"
    path, claim, other = split
    url = (http_root(demo_out) + path.relative_to(demo_out).as_posix()) if served else path.as_uri()

    page.goto(f"{url}#claim-{claim}")
    page.wait_for_load_state("load")
    outlined, unmarked = page.evaluate(OUTLINED, [claim, other])
    assert len(outlined) > 1 and set(outlined) == {"solid"}, outlined
    assert set(unmarked) == {"none"}

    page.evaluate(f"location.hash = '#claim-{other}'")
    page.wait_for_function(f"() => getComputedStyle(document.getElementById('claim-{other}')).outlineStyle === 'solid'")
    outlined, now = page.evaluate(OUTLINED, [claim, other])
    assert set(outlined) == {"none"} and set(now) == {"solid"}
    assert page.errors == []
