"""reuse(macro, ...) in templates: a fragment made once gives every page what the macro gives it."""

from __future__ import annotations

import shutil
from pathlib import Path

from dossier.build import check
from dossier.render import SiteRenderer

REPO = Path(__file__).resolve().parent.parent


def _pages(renderer: SiteRenderer) -> dict[str, tuple[str, frozenset]]:
    return {page.path: (page.text, page.deps) for page in renderer.pages() if page.path.endswith(".html")}


def _renderers(site: Path) -> tuple[SiteRenderer, SiteRenderer]:
    result = check(site)
    assert result.ok
    reusing = SiteRenderer(result.resolved, site)
    plain = SiteRenderer(result.resolved, site)
    plain.env.globals["reuse"] = lambda macro, *args: macro(*args)  # the macro called every time
    return reusing, plain


def test_reused_fragments_give_every_page_the_same_text_and_look_ups():
    reusing, plain = _renderers(REPO)
    made, expected = _pages(reusing), _pages(plain)
    assert made == expected
    # The same claim line was reused on pages of different depths: each got its own links.
    assert len({key[1] for key in reusing._fragments}) >= 2
    assert any(fragment_deps for _, fragment_deps, _ in reusing._fragments.values())


def test_a_sites_own_macros_are_the_ones_reused(tmp_path: Path):
    site = tmp_path / "site"
    shutil.copytree(REPO, site, ignore=shutil.ignore_patterns("output", ".git", "tests", "docs", "bench", "dossier"))
    own = (REPO / "dossier" / "templates" / "macros.html").read_text("utf-8")
    own = own.replace('<span class="claim-meta">', '<span class="claim-meta own-line">', 1)
    (site / "templates").mkdir(exist_ok=True)
    (site / "templates" / "macros.html").write_text(own, "utf-8")
    reusing, plain = _renderers(site)
    made = _pages(reusing)
    assert made == _pages(plain)
    claims_page = made["claims/index.html"][0]
    assert claims_page.count("own-line") == len(reusing.r.claims)


def test_a_fragment_is_made_again_for_other_arguments_and_keeps_its_look_ups():
    reusing, _ = _renderers(REPO)
    calls: list[tuple] = []

    def macro(entity_id, flag):
        calls.append((entity_id, flag))
        reusing._entity(entity_id)
        return f"{reusing._root}{entity_id}{flag}"

    reusing._root, reusing._deps = "../", set()
    first = reusing._reuse(macro, "a", True)
    assert reusing._reuse(macro, "a", True) == first == "../aTrue"
    assert reusing._reuse(macro, "a", 1) == "../a1"  # equal values of other types are told apart
    reusing._root, reusing._deps = "../../", set()
    assert reusing._reuse(macro, "a", True) == "../../aTrue"
    reusing._deps = set()
    assert reusing._reuse(macro, "a", True) == "../../aTrue"
    assert reusing._deps == {("entity", "a")}  # taken from the fragment, the macro not called
    assert calls == [("a", True), ("a", 1), ("a", True)]


def test_keyword_arguments_are_part_of_what_a_fragment_is_made_from():
    reusing, _ = _renderers(REPO)
    reusing._root, reusing._deps = "", set()
    shown = lambda text, loud=False: text.upper() if loud else text  # noqa: E731
    assert reusing._reuse(shown, "a") == "a"
    assert reusing._reuse(shown, "a", loud=True) == "A"
    assert reusing._reuse(shown, "a", loud=False) == "a"
