"""Hostile content comes out inert.

tests/fixtures/hostile puts script, event handlers, javascript: URLs, frames,
objects, <base>, <meta refresh> and markup-breaking quotes into every place a
user writes: article Markdown, page Markdown, entity descriptions, claim
notes, and plain YAML values (titles, names, labels, tags, URLs). Every page
is then read with a strict parser, and opened in Chromium, where not one
alert may fire and the Content-Security-Policy may not be violated.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from fixtures.htmltree import Element, parse
from fixtures.sitekit import FIXTURES, run

HOSTILE = FIXTURES / "hostile"
SCRIPT_OK_TYPES = {"application/ld+json"}  # data blocks, never run
URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background", "srcset"}
NEVER = {"iframe", "object", "embed", "base", "frame", "frameset", "applet", "style", "svg", "math", "noscript"}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("hostile") / "output"
    code, _, stderr = run("build", str(HOSTILE), "-o", str(folder), "--no-search")
    assert code == 0, stderr
    return folder, stderr


@pytest.fixture(scope="module")
def out(built) -> Path:
    return built[0]


def test_unsafe_links_are_removed_with_a_warning_not_left_dangling(built, pages):
    _, stderr = built
    removed = [line for line in stderr.splitlines() if "is removed (its text is kept)" in line]
    assert {line.split(":")[0] for line in removed} == {
        "content/articles/attack.md", "content/articles/attack.yaml", "content/entities/mallory.yaml",
        "content/pages/about.md"}
    assert not [path for path, page in pages.items()
                for e in page.iter() if (e.get("href") or "").startswith("#harmful")]


@pytest.fixture(scope="module")
def pages(out) -> dict[str, Element]:
    return {p.relative_to(out).as_posix(): parse(p.read_text("utf-8")) for p in sorted(out.rglob("*.html"))}


def _own_script(e: Element) -> bool:
    src = e.get("src") or ""
    return bool(re.fullmatch(r"(\.\./)*(assets|pagefind)/[\w.-]+\.js", src)) and not e.text().strip()


def test_no_active_content_in_any_page(pages):
    problems = []
    for path, page in pages.items():
        for e in page.iter():
            where = f"{path}: <{e.tag} {e.attrs}>"
            if e.tag in NEVER:
                problems.append(f"{where}: element not allowed")
            if e.tag == "script" and e.get("type") not in SCRIPT_OK_TYPES and not _own_script(e):
                problems.append(f"{where}: script")
            if e.tag == "meta" and (e.get("http-equiv") or "").lower() == "refresh":
                problems.append(f"{where}: meta refresh")
            for name, value in e.attrs.items():
                if name.startswith("on"):
                    problems.append(f"{where}: event handler {name}")
                if name == "style":
                    problems.append(f"{where}: inline style")
                if name in URL_ATTRS and value is not None:
                    squashed = re.sub(r"[\x00-\x20]", "", unquote(value)).lower()
                    if squashed.startswith(("javascript:", "vbscript:", "data:text")):
                        problems.append(f"{where}: {name}={value!r}")
    assert not problems, "\n".join(problems)


def test_every_alert_payload_is_text_not_markup(pages):
    # The payloads survive only as visible text or attribute values, never as elements.
    for path, page in pages.items():
        for e in page.iter():
            if e.tag == "script" and e.get("type") in SCRIPT_OK_TYPES:
                continue
            for child in e.children:
                if isinstance(child, str) and "alert(" in child:
                    assert e.tag not in ("script", "style"), f"{path}: payload runs in <{e.tag}>"


def test_json_ld_blocks_cannot_be_broken_out_of(out, pages):
    raw = {p: (out / p).read_text("utf-8") for p in pages}
    for path, page in pages.items():
        for block in page.find_all("script", type="application/ld+json"):
            text = block.text()
            assert "</script" not in text.lower() and "<!--" not in text
            json.loads(text)  # still valid data
        # The raw file holds exactly as many script end tags as script elements.
        assert raw[path].lower().count("</script") == len(page.find_all("script")), path


def test_values_from_yaml_are_escaped_where_shown(pages):
    article = pages["articles/attack/index.html"]
    title = article.find("h1")
    assert "<script>alert('article-title')</script>" in title.text()
    assert title.find("script") is None
    home = pages["index.html"]
    assert home.find("title").text().startswith("Hostile </title><script>")


def test_sanitised_markdown_keeps_the_harmless_parts(pages):
    body = pages["articles/attack/index.html"].find("div", class_="body")
    assert "Mallory" in body.text() and "A div" in body.text()
    [mark] = body.find_all("mark", data_claim="fine")[:1]
    assert mark.get("id") == "claim-fine"
    links = [a for a in body.find_all("a") if a.get("href", "").startswith("https://example.org/")]
    assert links and all(not [k for k in a.attrs if k.startswith("on")] for a in links)


def test_csp_is_declared_on_every_page(pages):
    for path, page in pages.items():
        metas = [m for m in page.find_all("meta") if (m.get("http-equiv") or "").lower() == "content-security-policy"]
        assert len(metas) == 1, path
        policy = metas[0].get("content")
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy and "object-src 'none'" in policy


@pytest.mark.parametrize("path", ["articles/attack/index.html", "entities/mallory/index.html", "about/index.html",
                                  "index.html", "claims/index.html", "entities/index.html"])
def test_nothing_runs_and_the_csp_holds_in_a_browser(out, page, http_root, path):
    base = http_root(out)
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(base + path)
    page.wait_for_load_state("load")
    # Fire the events hostile handlers would wait for; blocked handlers would show as CSP violations.
    page.evaluate("""() => document.querySelectorAll('body *').forEach(e => {
        for (const type of ['mouseover', 'mouseenter', 'focus', 'load', 'error'])
            e.dispatchEvent(new Event(type, {bubbles: true}));
    })""")
    page.wait_for_timeout(200)
    assert dialogs == []
    assert violations == []
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_data_files_stay_well_formed(out):
    import xml.etree.ElementTree as ET

    for name in ("feed.xml", "sitemap.xml"):
        if (out / name).exists():
            ET.parse(out / name)  # raises on markup that broke out of its element
    if (out / "dossier.json").exists():
        data = json.loads((out / "dossier.json").read_text("utf-8"))
        assert "<script>alert('article-title')</script>" in json.dumps(data, ensure_ascii=False)
