"""A site's own templates that fail while pages render: every failure in one run, each
(position, message) once however many pages met it, by `build` and `check` alike, the
previous output left as it was. And the page a broken link of a template lies in is named,
as the README says, at `output/<page>`, by `check` and `build` alike."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dossier import parallel
from fixtures.sitekit import error_lines, make_site, run, snapshot

PAGE = '{{% extends "base.html" %}}\n{{% block content %}}\n<h1>Page</h1>\n{line}\n{{% endblock %}}\n'
BROKEN = {  # three templates, each failing at line 4 of its own
    "templates/home.html": PAGE.format(line="<p>{{ no_such_var }}</p>"),
    "templates/entity.html": PAGE.format(line="<p>{{ e.no_such_attr }}</p>"),
    "templates/article.html": PAGE.format(line="{{ article.title|nosuchfilter }}"),
}
EXPECTED = [
    "templates/article.html:4:1: error: template error: No filter named 'nosuchfilter'.",
    "templates/entity.html:4:1: error: template error: 'dossier.model.Entity object' has no attribute 'no_such_attr'",
    "templates/home.html:4:1: error: template error: 'no_such_var' is undefined",
]


@pytest.fixture(params=["in place", "pool"])
def workers(request, monkeypatch) -> str:
    if request.param == "pool":  # the pages render in worker processes, their failures sent back
        monkeypatch.setattr(parallel, "POOL_THRESHOLD", 2)
    return request.param


def test_every_failing_template_is_reported_once_in_one_run(tmp_path: Path, workers: str):
    site = make_site(tmp_path / "s")
    out = tmp_path / "out"
    assert run("build", str(site), "-o", str(out), "--no-search")[0] == 0
    before = snapshot(out)
    make_site(tmp_path / "s2", BROKEN)  # the same site, broken: built into the same output
    code, _, err = run("build", str(tmp_path / "s2"), "-o", str(out), "--no-search")
    assert code == 1, err
    # Four article pages and four entity pages failed: one line each for their templates.
    assert error_lines(err) == EXPECTED, err
    assert re.search(r"^3 errors, ", err, re.M) and "Traceback" not in err
    assert snapshot(out) == before


def test_check_reports_the_same_template_errors(tmp_path: Path, workers: str):
    site = make_site(tmp_path / "s", BROKEN)
    code, _, err = run("check", str(site))
    assert code == 1
    assert error_lines(err) == EXPECTED, err
    assert re.search(r"^3 errors, ", err, re.M)


def test_template_errors_wait_for_the_content_to_be_right(tmp_path: Path):
    """Pages rendered from content with errors could fail for the content's sake: the run that
    reports a content error does not render (a template's syntax is checked with the content)."""
    site = make_site(tmp_path / "s", BROKEN)
    sidecar = site / "content/articles/beta-note.yaml"
    sidecar.write_text(sidecar.read_text().replace("title:", "titel:", 1))
    for command in (["check"], ["build", "-o", str(tmp_path / "out"), "--no-search"]):
        code, _, err = run(command[0], str(site), *command[1:])
        assert code == 1
        assert [line.split(":")[0] for line in error_lines(err)] == ["content/articles/beta-note.yaml"], err


def broken_link_labels(err: str) -> list[str]:
    return [line.split(":")[0] for line in error_lines(err) if "broken link '../tags/index.html'" in line]


def test_a_templates_broken_link_is_named_at_the_built_page_as_check_names_it(tmp_path: Path):
    """`output/<page>` stands for the page as built, whatever -o says: `check`, which has no output
    folder, says the same, and a failed build writes the page nowhere (README, link errors)."""
    site = make_site(tmp_path / "s")
    claims = (Path(__file__).parent.parent / "dossier/templates/claims.html").read_text("utf-8")
    (site / "templates").mkdir()
    (site / "templates/claims.html").write_text(
        claims.replace("{% block content %}", '{% block content %}\n<a href="{{ root }}tags/index.html">Tags</a>', 1))
    checked = run("check", str(site))[2]
    built = run("build", str(site), "-o", str(tmp_path / "published"), "--no-search")[2]
    assert broken_link_labels(checked) == broken_link_labels(built) == ["output/claims/index.html"]
    assert error_lines(checked) == error_lines(built)


def test_a_broken_link_of_a_template_every_page_has_is_told_once(tmp_path: Path):
    """A broken link in base.html is on every page made from it: one line, at the first page,
    with how many others have it, not a line per page."""
    site = make_site(tmp_path / "s")
    base = (Path(__file__).parent.parent / "dossier/templates/base.html").read_text("utf-8")
    (site / "templates").mkdir()
    (site / "templates/base.html").write_text(base.replace(
        "{% block page_scripts %}", '<a href="/nowhere/">x</a>{% block page_scripts %}', 1))
    code, _, err = run("check", str(site))
    assert code == 1
    lines = [line for line in error_lines(err) if "'/nowhere/'" in line]
    pages = sum(1 + int(re.search(r"the same on (\d+) other page", line).group(1)) if "the same on" in line else 1
                for line in lines)
    assert len(lines) == 1 and pages > 10, lines
