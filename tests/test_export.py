"""The machine-readable output: dossier.json and its schema, claims.csv,
feed.xml, robots.txt, and the metadata (JSON-LD, OpenGraph) in every page."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import given, strategies as st

from conftest import REPO, published_pages, run_cli
from dossier import export
from dossier.export import script_tag

BASE = "https://example.org/kursk/"
ATOM = "{http://www.w3.org/2005/Atom}"
HOSTILE = "Ends </script><script>alert(1)</script> & <!-- here"
LD_RE = re.compile(r'<script type="application/ld\+json">(.*?)</script>', re.S)


def copy_demo(folder: Path, extra_site_yaml: str = "") -> Path:
    folder.mkdir(parents=True)
    (folder / "site.yaml").write_text((REPO / "site.yaml").read_text("utf-8") + extra_site_yaml, "utf-8")
    shutil.copytree(REPO / "content", folder / "content")
    return folder


def build(site: Path, out: Path) -> Path:
    done = run_cli("build", str(site), "-o", str(out))
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> tuple[Path, Path]:
    """The demo with base_url set and one summary that tries to break out of a script."""
    root = tmp_path_factory.mktemp("published")
    site = copy_demo(root / "site", f"base_url: {BASE}\n")
    sidecar = site / "content/articles/sbu-special-forces-haul.yaml"
    text = re.sub(r"(?m)^summary: .*$", "summary: " + json.dumps(HOSTILE), sidecar.read_text("utf-8"))
    sidecar.write_text(text, "utf-8")
    return site, build(site, root / "out")


@pytest.fixture(scope="module")
def plain_build(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("plain")
    return build(copy_demo(root / "site"), root / "out")


def sidecar_claims(site: Path) -> dict[str, dict]:
    claims = {}
    for path in sorted((site / "content/articles").glob("*.yaml")):
        for claim in yaml.safe_load(path.read_text("utf-8")).get("claims") or []:
            claims[claim["id"]] = {**claim, "article": path.stem}
    return claims


def json_ld(html: str) -> list[dict]:
    return [json.loads(block) for block in LD_RE.findall(html)]


def nodes(blocks: list[dict]) -> list[dict]:
    return [n for b in blocks for n in b.get("@graph", [b])]


# -- dossier.json ------------------------------------------------------------

def test_dossier_json_validates_against_the_published_schema(published):
    _, out = published
    data = json.loads((out / "dossier.json").read_text("utf-8"))
    schema = json.loads((out / data["$schema"]).read_text("utf-8"))
    assert schema == json.loads((REPO / "dossier/schema/dossier.schema.json").read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    assert [e.message for e in validator.iter_errors(data)] == []
    assert data["version"].startswith("1.")
    assert data["site"]["base_url"] == BASE


def test_the_schema_rejects_what_it_should(published):
    _, out = published
    data = json.loads((out / "dossier.json").read_text("utf-8"))
    validator = jsonschema.Draft202012Validator(json.loads((out / "dossier.schema.json").read_text("utf-8")))
    broken = json.loads(json.dumps(data))
    del broken["claims"][0]["status"]
    broken["claims"][1]["rating"] = 9
    broken["entities"][0]["id"] = "Not An Id"
    broken["version"] = "2.0"
    assert len(list(validator.iter_errors(broken))) == 4


def test_dossier_json_round_trips_every_sidecar_claim(published):
    site, out = published
    data = json.loads((out / "dossier.json").read_text("utf-8"))
    exported = {c["id"]: c for c in data["claims"]}
    written = sidecar_claims(site)
    assert exported.keys() == written.keys()
    for cid, claim in written.items():
        for key, value in claim.items():
            value = value.isoformat() if isinstance(value, dt.date) else value
            assert exported[cid][key] == value, (cid, key)
        assert set(exported[cid]) - set(claim) <= {
            "status", "status_label", "rating", "anchor", "footnote", "path", "url", "sidecar", "line"}
        assert exported[cid]["url"] == BASE + exported[cid]["path"]
        assert exported[cid]["path"].endswith("/index.html#claim-" + cid)


def test_claim_anchors_in_dossier_json_exist_on_the_pages(published):
    _, out = published
    data = json.loads((out / "dossier.json").read_text("utf-8"))
    for claim in data["claims"]:
        page, anchor = claim["path"].split("#")
        html = (out / page).read_text("utf-8")
        assert f'id="{anchor}"' in html
        assert f'id="fnref-{claim["id"]}"' in html
    for article in data["articles"]:
        numbers = [c["footnote"] for c in data["claims"] if c["article"] == article["slug"]]
        assert numbers == list(range(1, len(numbers) + 1))


def test_dossier_json_lists_entities_relations_and_statuses(published):
    site, out = published
    data = json.loads((out / "dossier.json").read_text("utf-8"))
    syrsky = next(e for e in data["entities"] if e["id"] == "oleksandr-syrsky")
    assert syrsky["file"] == "content/entities/people/oleksandr-syrsky.yaml"
    assert {"from": "oleksandr-syrsky", "role": "directed", "to": "kursk-incursion"} in data["relations"]
    ratings = {s["key"]: s["rating"] for s in data["site"]["claim_statuses"]}
    assert ratings == {"unverified": 3, "corroborated": 4, "disputed": 2, "confirmed": 5, "refuted": 1}
    entity_files = {p.stem for p in (site / "content/entities").rglob("*.yaml")}
    assert {e["id"] for e in data["entities"]} == entity_files


# -- claims.csv -------------------------------------------------------------

def test_claims_csv_has_one_row_per_claim(published):
    site, out = published
    with open(out / "claims.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    written = sidecar_claims(site)
    assert [r["id"] for r in rows] == [c["id"] for c in json.loads((out / "dossier.json").read_text())["claims"]]
    for row in rows:
        claim = written[row["id"]]
        assert row["quote"] == claim["quote"]
        assert row["status"] == claim.get("status", "unverified")
        assert row["about"].split("; ") == (claim.get("about") or [""])
        assert row["note"] == claim.get("note", "")
        assert row["url"] == BASE + row["page"]


# -- feed, robots, sitemap -----------------------------------------------------

def test_atom_feed_lists_articles_with_absolute_links(published):
    site, out = published
    feed = ET.parse(out / "feed.xml").getroot()
    assert feed.tag == f"{ATOM}feed"
    assert feed.find(f"{ATOM}id").text == BASE
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == len(list((site / "content/articles").glob("*.yaml")))
    for entry in entries:
        href = entry.find(f"{ATOM}link[@rel='alternate']").get("href")
        assert href.startswith(BASE + "articles/") and href.endswith("/index.html")
        assert (out / href[len(BASE):]).is_file()
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT00:00:00Z", entry.find(f"{ATOM}updated").text)
    published = [getattr(e.find(f"{ATOM}published"), "text", "") for e in entries]
    dated = [d for d in published if d]
    assert published == sorted(dated, reverse=True) + [""] * (len(published) - len(dated)), "newest first, undated last"


def test_robots_and_sitemap_point_at_the_published_site(published):
    _, out = published
    assert f"Sitemap: {BASE}sitemap.xml" in (out / "robots.txt").read_text()
    urls = [loc.text for loc in ET.parse(out / "sitemap.xml").getroot().iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert urls and all(u.startswith(BASE) and (out / u[len(BASE):]).is_file() for u in urls)


def test_without_base_url_there_is_no_feed_and_no_absolute_link(plain_build):
    out = plain_build
    assert not (out / "feed.xml").exists() and not (out / "sitemap.xml").exists()
    assert (out / "robots.txt").read_text() == "User-agent: *\nDisallow:\n"
    assert (out / "dossier.json").is_file() and (out / "claims.csv").is_file()
    home = (out / "index.html").read_text()
    assert 'rel="canonical"' not in home and "feed.xml" not in home


# -- metadata in the pages ----------------------------------------------------

def test_every_page_has_title_description_canonical_opengraph_and_json_ld(published):
    _, out = published
    for path in published_pages(out):
        rel = path.relative_to(out).as_posix()
        if rel.startswith("pagefind/") or rel == "404.html":
            continue
        html = path.read_text("utf-8")
        assert re.search(r"<title>[^<]+</title>", html), rel
        assert re.search(r'<meta name="description" content="[^"]+">', html), rel
        assert f'<link rel="canonical" href="{BASE}{rel}">' in html, rel
        for prop in ("og:title", "og:description", "og:type", "og:url", "og:site_name"):
            assert f'<meta property="{prop}" content="' in html, (rel, prop)
        assert '<meta name="twitter:card" content="summary">' in html
        assert json_ld(html), rel


def test_article_json_ld_is_a_news_article_with_a_claim_review_per_claim(published):
    site, out = published
    data = json.loads((out / "dossier.json").read_text())
    statuses = {s["key"]: s for s in data["site"]["claim_statuses"]}
    entities = {e["id"]: e for e in data["entities"]}
    for article in data["articles"]:
        graph = nodes(json_ld((out / article["path"]).read_text("utf-8")))
        news = [n for n in graph if n["@type"] == "NewsArticle"]
        assert len(news) == 1 and news[0]["url"] == article["url"]
        if article["source"].get("url"):
            assert news[0]["isBasedOn"]["url"] == article["source"]["url"]
        reviews = {n["claimReviewed"]: n for n in graph if n["@type"] == "ClaimReview"}
        claims = [c for c in data["claims"] if c["article"] == article["slug"]]
        assert len(reviews) == len(claims)
        for claim in claims:
            review = reviews[claim["quote"]]
            assert review["url"] == claim["url"]
            rating = review["reviewRating"]
            assert rating["ratingValue"] == statuses[claim["status"]]["rating"]
            assert (rating["bestRating"], rating["worstRating"]) == (5, 1)
            assert rating["alternateName"] == statuses[claim["status"]]["label"]
            item = review["itemReviewed"]
            assert item["@type"] == "Claim"
            if "claimant" in claim:
                assert item["author"]["name"] == entities[claim["claimant"]]["name"]
            if article["source"].get("url"):
                assert item["appearance"]["url"] == article["source"]["url"]


def test_entity_json_ld_has_its_type_and_same_as(published):
    site, out = published
    data = json.loads((out / "dossier.json").read_text())
    kinds = {t["key"]: t["schema"] for t in data["site"]["entity_types"]}
    assert kinds == {"person": "Person", "organization": "Organization", "place": "Place", "event": "Event",
                     "unit": "Organization"}  # the demo's site.yaml says units are organizations
    linked = 0
    for entity in data["entities"]:
        (node,) = nodes(json_ld((out / entity["path"]).read_text("utf-8")))
        assert node["@type"] == kinds[entity["type"]]
        assert node["name"] == entity["name"] and node["url"] == entity["url"]
        assert node.get("sameAs", []) == entity.get("same_as", [])
        linked += bool(entity.get("same_as"))
    assert linked, "the demo should have entities with external links"


def test_json_ld_cannot_be_broken_out_of(published):
    _, out = published
    html = (out / "articles/sbu-special-forces-haul/index.html").read_text("utf-8")
    assert "alert(1)</script>" not in html
    assert html.count("<script") == html.count("</script>")
    (news,) = [n for n in nodes(json_ld(html)) if n["@type"] == "NewsArticle"]
    assert news["description"] == HOSTILE


def test_script_tag_escapes_markup_characters():
    tag = script_tag({"a": "</script><b>&"})
    assert "</script>" not in tag[:-len("</script>")] and "<b>" not in tag
    assert json.loads(LD_RE.search(tag).group(1)) == {"a": "</script><b>&"}


# -- the rating mapping in site.yaml --------------------------------------------

def test_site_yaml_declares_ratings_and_rejects_bad_ones(tmp_path):
    site = copy_demo(tmp_path / "site")
    text = (site / "site.yaml").read_text("utf-8")
    text = re.sub(r"(?m)^  disputed: .*$", "  disputed: {label: Disputed, rating: 2, alternate_name: Mixed}", text)
    text = re.sub(r"(?m)^  refuted: .*$", "  refuted: {label: Refuted, rating: 7}", text)
    (site / "site.yaml").write_text(text, "utf-8")
    done = run_cli("check", str(site))
    line = next(n for n, s in enumerate(text.splitlines(), 1) if "rating: 7" in s)
    assert done.returncode == 1
    assert re.search(rf"^site\.yaml:{line}:\d+: error: 'rating' must be a whole number from 1 \(false\) to 5 \(true\), found '7'$",
                     done.stderr, re.M), done.stderr
    (site / "site.yaml").write_text(text.replace("rating: 7", "rating: 1"), "utf-8")
    out = build(site, tmp_path / "out")
    statuses = json.loads((out / "dossier.json").read_text())["site"]["claim_statuses"]
    assert {"key": "disputed", "label": "Disputed", "rating": 2, "alternate_name": "Mixed"} in statuses
    disputed = next(c for c in json.loads((out / "dossier.json").read_text())["claims"] if c["status"] == "disputed")
    review = next(n for n in nodes(json_ld((out / disputed["path"].split("#")[0]).read_text()))
                  if n.get("claimReviewed") == disputed["quote"])
    assert review["reviewRating"]["alternateName"] == "Mixed"


def test_entity_types_may_name_their_schema_org_type(tmp_path):
    site = copy_demo(tmp_path / "site")
    text = (site / "site.yaml").read_text("utf-8")
    text = re.sub(r"(?m)^  unit: .*$", "  unit: {label: Military unit, plural: Military units, schema: military unit}", text)
    (site / "site.yaml").write_text(text, "utf-8")
    done = run_cli("check", str(site))
    line = next(n for n, s in enumerate(text.splitlines(), 1) if s.startswith("  unit:"))
    assert done.returncode == 1
    assert re.search(rf"^site\.yaml:{line}:\d+: error: 'schema' must be a schema.org type such as Organization "
                     r"or Person, found 'military unit'$", done.stderr, re.M), done.stderr
    (site / "site.yaml").write_text(re.sub(r"(?m)^  unit: .*$", "  unit: {label: Military unit}", text), "utf-8")
    out = build(site, tmp_path / "out")
    kinds = {t["key"]: t["schema"] for t in json.loads((out / "dossier.json").read_text())["site"]["entity_types"]}
    assert kinds["unit"] == "Thing" and kinds["person"] == "Person"
    (node,) = nodes(json_ld((out / "entities/akhmat-unit/index.html").read_text("utf-8")))
    assert node["@type"] == "Thing"


def test_plain_text_for_metadata_drops_markdown_marks():
    from dossier.export import plain
    assert plain("A **bold** [link](https://x.org/) and `code`,\n  *em* and <b>tag</b>.") == \
        "A bold link and code, em and tag."
    assert plain("- one\n- two\n\n# Head\n> quoted snake_case_name") == "one two Head quoted snake_case_name"


def test_plain_text_for_metadata_keeps_what_the_page_shows():
    """'<' and '>' that open no tag, an autolink's address, entities and escapes: as the page shows them."""
    from dossier.export import plain
    assert plain("Casualties were <100 on day one and >300 by day three. Source: <https://example.org/report>. "
                 "AT&amp;T said 2\\*3.") == ("Casualties were <100 on day one and >300 by day three. "
                                             "Source: https://example.org/report. AT&T said 2*3.")
    assert plain("Turnout rose from <5% to >20% in a year; see a <-> b.") == \
        "Turnout rose from <5% to >20% in a year; see a <-> b."


def test_csv_cells_that_look_like_formulas_stay_text():
    from dossier.export import _cell

    assert _cell("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert [_cell(v) for v in ("+1", "-1", "@SUM(A1)")] == ["'+1", "'-1", "'@SUM(A1)"]
    assert [_cell(v) for v in ("909 captured", None, 3)] == ["909 captured", "", "3"]


@given(st.text())
def test_the_feeds_escaping_is_xml_saxutils(text: str):
    """The feed escapes as the standard library does, without importing it at start-up."""
    from xml.sax import saxutils
    assert export.xml_escape(text) == saxutils.escape(text)
    assert export.quoteattr(text) == saxutils.quoteattr(text)


def test_building_imports_no_web_client():
    """xml.sax.saxutils brings urllib.request and the email package: a tenth of the start-up."""
    code = "import sys, dossier.cli; print('urllib.request' in sys.modules, 'xml.sax.saxutils' in sys.modules)"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert found == ["False", "False"]


def test_every_page_of_a_list_is_a_collection_page():
    """The claims index and the home page go on over pages of 100: every one of them is a list."""
    from dossier.export import LinkedData
    from dossier.model import Site

    ld = LinkedData(Site(title="T"), lambda _: None)
    first = {"claims/page-2/index.html": "claims/index.html", "page-3/index.html": "index.html"}  # as their pagers say
    kinds = {path: ld.page("../", path, "T", "d", listing=first.get(path))["@type"]
             for path in ("claims/index.html", "claims/page-2/index.html", "page-3/index.html", "entities/index.html",
                          "about/index.html", "search/index.html")}
    assert kinds == {"claims/index.html": "CollectionPage", "claims/page-2/index.html": "CollectionPage",
                     "page-3/index.html": "CollectionPage", "entities/index.html": "CollectionPage",
                     "about/index.html": "WebPage", "search/index.html": "SearchResultsPage"}



def test_the_later_pages_of_a_built_listing_are_collection_pages(tmp_path):
    """Through the templates: the home page's second page, made by a real build, says it is a list."""
    from fixtures.sitekit import run, write

    site = tmp_path / "site"
    write(site, "site.yaml", "title: Many\n")
    for n in range(101):
        write(site, f"content/articles/a{n}.md", f"Text {n}.\n")
        write(site, f"content/articles/a{n}.yaml", f"title: Article {n}\n")
    code, _, err = run("build", str(site), "-o", str(tmp_path / "out"), "--no-search")
    assert code == 0, err
    [block] = json_ld((tmp_path / "out/page-2/index.html").read_text("utf-8"))
    assert block["@type"] == "CollectionPage"


# -- who says what: claimants and the original article in the JSON-LD ------------------

SPEAKERS_SITE = """title: Speakers
base_url: https://example.org/speakers/
entity_types:
  person: {label: Person}
  organization: {label: Organization}
  place: {label: Place}
  event: {label: Event}
  unit: {label: Military unit, schema: Organization}
"""
SPEAKERS_ENTITIES = {
    "anna-kovac": "name: Anna Kovač\ntype: person\n",
    "river-agency": "name: River Agency\ntype: organization\n",
    "north-bridge": "name: North Bridge\ntype: place\n",
    "spring-flood": "name: Spring flood\ntype: event\n",
    "bridge-brigade": "name: Bridge Brigade\ntype: unit\n",
}
SPEAKERS_TEXT = ("North Bridge says it is closed. Anna Kovač says repairs take six weeks. "
                 "The brigade says the road is open. The flood says nothing.\n")
SPEAKERS_SIDECAR = """title: Bridge closed
source:
  publisher: river-agency
  url: https://example.com/news/bridge-closed
  published: 2024-03-02
  authors: [Mila Horvat, Ivo Petrić]
  archive_url: https://archive.example/bridge-closed
summary: Who says the bridge is closed.
claims:
  - {id: by-place, quote: it is closed, claimant: north-bridge, about: [north-bridge], status: unverified}
  - {id: by-person, quote: repairs take six weeks, claimant: anna-kovac, status: disputed}
  - {id: by-unit, quote: the road is open, claimant: bridge-brigade, status: refuted}
  - {id: by-event, quote: says nothing, claimant: spring-flood, status: unverified}
"""


@pytest.fixture(scope="module")
def speakers(tmp_path_factory) -> list[dict]:
    """The JSON-LD nodes of an article whose claimants are a place, a person, a unit and an event."""
    from fixtures.sitekit import run, tiny_site

    root = tmp_path_factory.mktemp("speakers")
    site = tiny_site(root / "site", SPEAKERS_TEXT, SPEAKERS_SIDECAR, entities=SPEAKERS_ENTITIES, site_yaml=SPEAKERS_SITE)
    code, _, err = run("build", str(site), "-o", str(root / "out"), "--no-search")
    assert code == 0, err
    return nodes(json_ld((root / "out/articles/a/index.html").read_text("utf-8")))


def claim_by(graph: list[dict], claim_id: str) -> dict:
    (review,) = [n for n in graph if n.get("@id", "").endswith(f"#claim-{claim_id}")]
    return review["itemReviewed"]


def test_a_claims_author_is_only_ever_a_person_or_an_organization(speakers):
    """schema.org's `author` (and Google's itemReviewed.author) is a Person or an Organization:
    a place or an event that 'says' something is not given as one."""
    assert claim_by(speakers, "by-person")["author"] == {
        "@type": "Person", "@id": "https://example.org/speakers/entities/anna-kovac/index.html#entity",
        "name": "Anna Kovač", "url": "https://example.org/speakers/entities/anna-kovac/index.html"}
    unit = claim_by(speakers, "by-unit")["author"]
    assert (unit["@type"], unit["name"]) == ("Organization", "Bridge Brigade")  # as site.yaml says units are
    for claim_id in ("by-place", "by-event"):
        assert "author" not in claim_by(speakers, claim_id), claim_id
    # what the place claim is about stays said
    assert [n["name"] for n in claim_by(speakers, "by-place")["about"]] == ["North Bridge"]


def test_the_original_articles_facts_belong_to_the_original_and_are_said_once(speakers):
    (page,) = [n for n in speakers if n["@type"] == "NewsArticle"]
    original = page["isBasedOn"]
    # the dossier's page: its own address, published by the dossier, not by the original's publisher
    assert page["url"] == "https://example.org/speakers/articles/a/index.html"
    assert page["publisher"] == {"@type": "Organization", "@id": "https://example.org/speakers/index.html#dossier",
                                 "url": "https://example.org/speakers/index.html"}
    (dossier,) = [n for n in speakers if n["@id"] == page["publisher"]["@id"]]
    assert dossier["name"] == "Speakers"
    assert "author" not in page and "datePublished" not in page and "archivedAt" not in page
    # the captured original: its address, date, authors, publisher and archive copy
    assert original["@type"] == "NewsArticle" and original["@id"] != page["@id"]
    assert original["url"] == "https://example.com/news/bridge-closed"
    assert original["datePublished"] == "2024-03-02"
    assert [a["name"] for a in original["author"]] == ["Mila Horvat", "Ivo Petrić"]
    assert original["publisher"]["name"] == "River Agency"
    assert original["archivedAt"] == "https://archive.example/bridge-closed"
    # each claim appears in the original: a reference to that node, not a second account of it
    for review in (n for n in speakers if n["@type"] == "ClaimReview"):
        appearance = review["itemReviewed"]["appearance"]
        assert appearance["@id"] == original["@id"] and appearance["url"] == original["url"]
        assert set(appearance) <= {"@id", "@type", "url"}, appearance
    text = json.dumps(speakers, ensure_ascii=False)
    for fact in ("Mila Horvat", '"2024-03-02"', "https://archive.example/bridge-closed"):
        assert text.count(fact) == 1, fact


def test_a_publisher_that_is_a_place_is_not_given_as_publisher(tmp_path):
    """A publisher named by the id of a place entity: `publisher` is a Person or an Organization too."""
    from fixtures.sitekit import run, tiny_site

    sidecar = SPEAKERS_SIDECAR.replace("publisher: river-agency", "publisher: north-bridge")
    site = tiny_site(tmp_path / "site", SPEAKERS_TEXT, sidecar, entities=SPEAKERS_ENTITIES, site_yaml=SPEAKERS_SITE)
    code, _, err = run("build", str(site), "-o", str(tmp_path / "out"), "--no-search")
    assert code == 0, err
    graph = nodes(json_ld((tmp_path / "out/articles/a/index.html").read_text("utf-8")))
    (page,) = [n for n in graph if n["@type"] == "NewsArticle"]
    assert "publisher" not in page["isBasedOn"]
    (dossier,) = [n for n in graph if n["@id"] == page["publisher"]["@id"]]
    assert dossier["name"] == "Speakers"


# -- the JSON-LD as a graph: every node named once, every reference resolved ------------------

REFERENCE_KEYS = {"@id", "@type", "url"}  # what a node named again by its @id carries (export._reference)


def every_node(value) -> list[dict]:
    """Every node of a JSON-LD block, nested ones too, in document order."""
    if isinstance(value, list):
        return [n for v in value for n in every_node(v)]
    if not isinstance(value, dict):
        return []
    return [value] + [n for k, v in value.items() if k != "@context" for n in every_node(v)]


def graph_problems(blocks: list[dict]) -> list[str]:
    """What makes a page's JSON-LD wrong as a graph: a reference to an @id the page does not
    describe, two descriptions of one @id that disagree, a node with an address of its own
    (a url) but no @id, so that its repeats cannot be told to be one thing."""
    found = every_node(blocks)
    described: dict[str, dict] = {}
    problems = []
    for node in found:
        if "@id" not in node:
            if "url" in node:
                problems.append(f"no @id: {node}")
            continue
        if set(node) <= REFERENCE_KEYS:
            continue
        for key, value in node.items():
            if key in described.get(node["@id"], {}) and described[node["@id"]][key] != value:
                problems.append(f"{node['@id']} says two things of {key}")
        described.setdefault(node["@id"], {}).update(node)
    for node in found:
        if "@id" in node and set(node) <= REFERENCE_KEYS and node["@id"] not in described:
            problems.append(f"refers to {node['@id']}, not described on the page")
    return problems


def test_every_pages_json_ld_is_a_graph_whose_references_all_resolve(published, plain_build):
    """Parsed as JSON, each block a node or an @graph; every @id named is described on the page,
    never two ways; anything with an address has an @id (without base_url too: ids are relative)."""
    for out in (published[1], plain_build):
        for path in published_pages(out):
            rel = path.relative_to(out).as_posix()
            if rel.startswith("pagefind/") or rel == "404.html":
                continue
            blocks = json_ld(path.read_text("utf-8"))
            assert blocks and all(b["@context"] == "https://schema.org" for b in blocks), rel
            assert graph_problems(blocks) == [], rel


def test_the_dossier_is_one_organization_with_an_id_the_same_on_every_page(published):
    """The dossier publishes each page and reviews each claim: one node, described once per page
    and named by its @id elsewhere, the same @id on every page (so its repeats are one thing)."""
    _, out = published
    data = json.loads((out / "dossier.json").read_text())
    ids = set()
    for article in data["articles"]:
        graph = nodes(json_ld((out / article["path"]).read_text("utf-8")))
        (page,) = [n for n in graph if n.get("@id", "").endswith("#article")]
        (dossier,) = [n for n in every_node(graph) if n.get("name") == data["site"]["title"] and n["@type"] == "Organization"]
        assert dossier["@id"] == page["publisher"]["@id"] and dossier["url"] == BASE + "index.html"
        for review in (n for n in graph if n["@type"] == "ClaimReview"):
            assert review["author"]["@id"] == dossier["@id"]
        ids.add(dossier["@id"])
    assert len(ids) == 1 and ids.pop().startswith(BASE)


AUTHORS_SIDECAR = SPEAKERS_SIDECAR.replace("publisher: river-agency", "publisher: Harbour Times").replace(
    "authors: [Mila Horvat, Ivo Petrić]", "authors: [Mila Horvat, anna-kovac, river-agency, Harbour Times, north-bridge]")


def test_an_authors_type_is_what_the_dossier_says_of_it_never_guessed_from_the_name(tmp_path):
    """A byline is a person ("Mila Horvat") or an organization ("Reuters", "Staff"): the format
    does not say which, so a name alone is a Thing, which both are. An entity's id says (a person,
    an organization, or neither: a place is left out, as for a claimant); a byline that is the
    publisher's own name is the publisher."""
    from fixtures.sitekit import run, tiny_site

    site = tiny_site(tmp_path / "site", SPEAKERS_TEXT, AUTHORS_SIDECAR, entities=SPEAKERS_ENTITIES, site_yaml=SPEAKERS_SITE)
    code, _, err = run("build", str(site), "-o", str(tmp_path / "out"), "--no-search")
    assert code == 0, err
    graph = nodes(json_ld((tmp_path / "out/articles/a/index.html").read_text("utf-8")))
    (original,) = [n["isBasedOn"] for n in graph if n.get("@id", "").endswith("#article")]
    base = "https://example.org/speakers/entities/"
    assert original["author"] == [
        {"@type": "Thing", "name": "Mila Horvat"},
        {"@type": "Person", "@id": base + "anna-kovac/index.html#entity", "name": "Anna Kovač",
         "url": base + "anna-kovac/index.html"},
        {"@type": "Organization", "@id": base + "river-agency/index.html#entity", "name": "River Agency",
         "url": base + "river-agency/index.html"},
        original["publisher"],
    ]
    assert original["publisher"] == {"@type": "Organization", "name": "Harbour Times"}
    assert graph_problems(graph) == []


def test_an_article_page_gives_no_publication_date_of_its_own(published):
    """OpenGraph's article:published_time is when the article at og:url, the dossier's annotated
    page, was first published: not known (the original's date is the original's, in the JSON-LD's
    isBasedOn, and on the page as such)."""
    _, out = published
    for path in (out / "articles").glob("*/index.html"):
        html = path.read_text("utf-8")
        assert '<meta property="og:type" content="article">' in html
        assert "article:published_time" not in html
        (page,) = [n for n in nodes(json_ld(html)) if n.get("@id", "").endswith("#article")]
        assert "datePublished" not in page and "dateCreated" not in page


def test_a_claim_review_is_dated_by_the_day_the_dossier_reviewed_the_claim_never_by_the_claims_own(tmp_path):
    """ClaimReview.datePublished is when the fact check came out: a claim's `reviewed:` date; the
    claim's `date` is when the claimant made it (the Claim's datePublished), and a build's day is
    no one's: without a review date, none is given. dossier.json and the footnote say it too."""
    from fixtures.sitekit import run, tiny_site

    sidecar = SPEAKERS_SIDECAR.replace(
        "status: disputed}", "status: disputed, date: 2024-03-01, reviewed: 2024-04-02}")
    site = tiny_site(tmp_path / "site", SPEAKERS_TEXT, sidecar, entities=SPEAKERS_ENTITIES, site_yaml=SPEAKERS_SITE)
    code, _, err = run("build", str(site), "-o", str(tmp_path / "out"), "--no-search")
    assert code == 0, err
    html = (tmp_path / "out/articles/a/index.html").read_text("utf-8")
    reviews = {n["@id"].rpartition("#claim-")[2]: n for n in nodes(json_ld(html)) if n.get("@type") == "ClaimReview"}
    assert reviews["by-person"]["datePublished"] == "2024-04-02"
    assert reviews["by-person"]["itemReviewed"]["datePublished"] == "2024-03-01"
    assert "datePublished" not in reviews["by-place"]
    exported = {c["id"]: c for c in json.loads((tmp_path / "out/dossier.json").read_text("utf-8"))["claims"]}
    assert exported["by-person"]["reviewed"] == "2024-04-02" and "reviewed" not in exported["by-place"]
    with open(tmp_path / "out/claims.csv", newline="", encoding="utf-8") as f:
        assert {r["id"]: r["reviewed"] for r in csv.DictReader(f)} == {
            "by-place": "", "by-person": "2024-04-02", "by-unit": "", "by-event": ""}
    footnote = re.search(r'<li id="fn-by-person".*?</li>', html, re.S).group(0)
    assert "2 April 2024" in re.sub(r"<[^>]+>", "", footnote), footnote


def test_a_review_date_that_is_no_date_is_an_error_at_its_line(tmp_path):
    from fixtures.sitekit import error_lines, run, tiny_site

    sidecar = SPEAKERS_SIDECAR.replace("status: disputed}", "status: disputed, reviewed: soon}")
    site = tiny_site(tmp_path / "site", SPEAKERS_TEXT, sidecar, entities=SPEAKERS_ENTITIES, site_yaml=SPEAKERS_SITE)
    code, _, err = run("build", str(site), "-o", str(tmp_path / "out"), "--no-search")
    line = 1 + sidecar.splitlines().index(next(l for l in sidecar.splitlines() if "reviewed: soon" in l))
    assert code == 1 and [l.split(": error: ")[0] for l in error_lines(err)] == [
        f"content/articles/a.yaml:{line}:{sidecar.splitlines()[line - 1].index('soon') + 1}"], err


def test_the_feed_names_an_author_given_by_an_entity_id_as_the_page_does(tmp_path):
    from fixtures.sitekit import run, tiny_site

    site = tiny_site(tmp_path / "site", SPEAKERS_TEXT, AUTHORS_SIDECAR, entities=SPEAKERS_ENTITIES, site_yaml=SPEAKERS_SITE)
    code, _, err = run("build", str(site), "-o", str(tmp_path / "out"), "--no-search")
    assert code == 0, err
    (entry,) = ET.parse(tmp_path / "out/feed.xml").getroot().findall(f"{ATOM}entry")
    assert [a.find(f"{ATOM}name").text for a in entry.findall(f"{ATOM}author")] == [
        "Mila Horvat", "Anna Kovač", "River Agency", "Harbour Times", "North Bridge"]
