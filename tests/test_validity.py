"""Every page is valid HTML (the Nu HTML Checker, vnu) and accessible (axe-core
in Chromium, light and dark colour schemes): no serious or critical violation.

vnu comes from the npm package `vnu-jar` and runs on Debian's Java:
    apt-get install -y default-jre-headless && npm install -g vnu-jar
(or set VNU_JAR to a vnu.jar). The test fails, never skips, without it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

from conftest import REPO, published_pages, run_cli

FIXTURES = Path(__file__).parent / "fixtures"
BASE = "https://example.org/kursk/"
SERIOUS = {"serious", "critical"}
JAR_IN_NPM_PACKAGE = Path("vnu-jar/build/dist/vnu.jar")


def vnu_jar() -> Path:
    candidates = [Path(os.environ["VNU_JAR"])] if os.environ.get("VNU_JAR") else []
    candidates.append(REPO / "node_modules" / JAR_IN_NPM_PACKAGE)
    if shutil.which("npm"):
        root = subprocess.run(["npm", "root", "-g"], capture_output=True, text=True).stdout.strip()
        if root:
            candidates.append(Path(root) / JAR_IN_NPM_PACKAGE)
    found = next((c for c in candidates if c.is_file()), None)
    assert found, ("vnu.jar is missing: apt-get install -y default-jre-headless && npm install -g vnu-jar "
                   f"(or set VNU_JAR); looked in {', '.join(map(str, candidates))}")
    assert shutil.which("java"), "java is missing: apt-get install -y default-jre-headless"
    return found


def copy_site(source: Path, folder: Path, extra_site_yaml: str = "") -> Path:
    shutil.copytree(source / "content", folder / "content")
    (folder / "site.yaml").write_text((source / "site.yaml").read_text("utf-8") + extra_site_yaml, "utf-8")
    for optional in ("templates", "static"):
        if (source / optional).is_dir():
            shutil.copytree(source / optional, folder / optional)
    return folder


TRICKY_ARTICLE = """\
# A heading inside the text

Some *emphasis that a claim crosses* into plain text, a [link to elsewhere](https://example.com/x?a=1&b=2),
`code`, and a footnote-like [^1] marker. A quote with “curly” and 'straight' marks.

| Side | Count |
|------|------:|
| North | 12 |
| South | 7 |

> A block quote that names North Bridge again.

- a list item
- another, with **strong text**

<span>raw inline HTML</span> and an ampersand & a less-than < sign.
"""

TRICKY_SIDECAR = """\
title: "A tricky article: <tags> & ampersands"
source: {publisher: Plain Text Publisher, url: "https://example.com/x?a=1&b=2", published: 2024-09-01}
summary: "Summary with </script> and <b>markup</b> & more"
claims:
  - id: crossing-emphasis
    quote: claim crosses into plain
    status: disputed
    note: "A note with a [link](https://example.com/) and `code`."
  - id: table-count
    quote: "12"
    status: confirmed
"""


@pytest.fixture(scope="module")
def sites(tmp_path_factory) -> dict[str, Path]:
    """Built outputs: the demo (with base_url), the basic fixture, and tricky Markdown."""
    root = tmp_path_factory.mktemp("validity")
    demo = copy_site(REPO, root / "demo", f"base_url: {BASE}\n")
    basic = copy_site(FIXTURES / "basic", root / "basic")
    (basic / "content/articles/tricky-markup.md").write_text(TRICKY_ARTICLE, "utf-8")
    (basic / "content/articles/tricky-markup.yaml").write_text(TRICKY_SIDECAR, "utf-8")
    outputs = {}
    for name, site in (("demo", demo), ("basic", basic)):
        done = run_cli("build", str(site), "-o", str(root / f"{name}-out"))
        assert done.returncode == 0, done.stderr
        outputs[name] = root / f"{name}-out"
    return outputs


def html_pages(out: Path) -> list[Path]:
    return published_pages(out)


def test_every_page_is_valid_html(sites):
    pages = [p for out in sites.values() for p in html_pages(out)]
    assert len(pages) > 40
    css = [p for out in sites.values() for p in sorted((out / "assets").glob("*.css"))]
    done = subprocess.run(["java", "-jar", str(vnu_jar()), "--format", "json", "--also-check-css",
                           *map(str, pages + css)], capture_output=True, text=True, timeout=300)
    messages = json.loads(done.stderr or done.stdout)["messages"]
    errors = [f"{m.get('url', '')}:{m.get('lastLine', '?')}: {m['message']}"
              for m in messages if m["type"] == "error" or m.get("subType") == "fatal"]
    assert errors == [], "\n".join(errors)
    assert done.returncode == 0


def page_kinds(out: Path) -> list[str]:
    """One page of each kind the default templates make."""
    data = json.loads((out / "dossier.json").read_text("utf-8"))
    article = max(data["articles"], key=lambda a: len(a["claims"]))["path"]
    entity = next(e["path"] for e in data["entities"] if e["type"] == "person")
    page = next(p.relative_to(out).as_posix() for p in out.glob("*/index.html")
                if p.parent.name not in {"articles", "entities", "claims", "search"})
    return ["index.html", article, "entities/index.html", entity, "claims/index.html", page,
            "search/index.html", "404.html"]


def serious(violations: list[dict]) -> list[str]:
    return [f"{v['id']} ({v['impact']}): {v['help']} at " + ", ".join(str(n["target"]) for n in v["nodes"][:5])
            for v in violations if v["impact"] in SERIOUS]


SEARCH_WITH_RESULTS = "search/index.html?q=prisoners"


def axe_problems(page, base: str, paths: list[str]) -> dict[str, list[str]]:
    axe = Axe()
    found = {}
    for rel in paths:
        page.goto(base + rel)
        if rel == SEARCH_WITH_RESULTS:  # the results are drawn by script: wait for them
            page.locator(".search-results > *").first.wait_for(timeout=15000)
        problems = serious(axe.run(page).response["violations"])
        if problems:
            found[rel] = problems
    return found


def test_each_kind_of_page_passes_axe_in_the_dark_scheme(sites, http_root, page):
    out = sites["demo"]
    base = http_root(out)
    page.emulate_media(color_scheme="dark")
    page.goto(base + "index.html")
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background != "rgb(253, 252, 249)", "the dark scheme should change the page's colours"
    assert axe_problems(page, base, page_kinds(out) + [SEARCH_WITH_RESULTS]) == {}


def test_every_page_passes_axe_in_the_light_scheme(sites, http_root, page):
    out = sites["demo"]
    base = http_root(out)
    page.emulate_media(color_scheme="light")
    paths = [p.relative_to(out).as_posix() for p in html_pages(out)]
    assert axe_problems(page, base, paths + [SEARCH_WITH_RESULTS]) == {}


def test_status_badges_and_marks_are_readable_in_both_schemes(sites, http_root, page):
    """axe's colour-contrast rule over every status badge and claim mark, light and dark."""
    base = http_root(sites["demo"])
    axe = Axe()
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for rel in ("claims/index.html", page_kinds(sites["demo"])[1]):
            page.goto(base + rel)
            assert page.locator(".badge").count() > 0
            result = axe.run(page, context={"include": [[".badge"], ["mark"], [".footnotes"]]},
                             options={"runOnly": {"type": "rule", "values": ["color-contrast"]}})
            assert result.response["violations"] == [], (scheme, rel, result.generate_report())
            checked = [n["html"] for r in result.response["passes"] for n in r["nodes"]]
            assert sum('class="badge' in h for h in checked) == page.locator(".badge").count(), (scheme, rel)


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.ids += [value for name, value in attrs if name == "id"]


def test_no_page_repeats_an_id_even_where_a_claim_is_by_and_about_one_entity(tmp_path):
    """An entity's page lists the claims made by it and those about it: one claim can be in both."""
    site = copy_site(REPO, tmp_path / "site")
    sidecar = site / "content/articles/sbu-special-forces-haul.yaml"
    text = sidecar.read_text("utf-8")
    assert "    claimant: sbu\n    about: [sbu-special-forces," in text
    sidecar.write_text(text.replace("about: [sbu-special-forces,", "about: [sbu, sbu-special-forces,"), "utf-8")
    done = run_cli("build", str(site), "-o", str(tmp_path / "out"), "--no-search")
    assert done.returncode == 0, done.stderr
    entity = (tmp_path / "out/entities/sbu/index.html").read_text("utf-8")
    assert entity.count("“the service’s own special forces") == 2  # in both lists
    repeated = {}
    for page in html_pages(tmp_path / "out"):
        parser = _Ids()
        parser.feed(page.read_text("utf-8"))
        twice = sorted({i for i in parser.ids if parser.ids.count(i) > 1})
        if twice:
            repeated[page.relative_to(tmp_path / "out").as_posix()] = twice
    assert repeated == {}
