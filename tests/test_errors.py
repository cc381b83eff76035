"""Broken dossiers: each gives exit 1, one exact `path:line:col: error:` line, no traceback,
and leaves the previous output as it was. `check` reports exactly what `build` does.

Every case is a change to the fixture site tests/fixtures/basic (path -> new
text, bytes, or None to delete), and the one error line it must produce.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dossier.yamlread import prose_hint
from fixtures.sitekit import BASIC, error_lines, make_site, run, run_process, snapshot

A = "content/articles/"
E = "content/entities/"
CLOSED = (BASIC / A / "bridge-closed.yaml").read_text()  # lines 25-29 hold claim six-weeks
KOVAC = (BASIC / E / "people/anna-kovac.yaml").read_text()
KNOWN_TYPES = "(known: person, organization, place, event)"
KNOWN_STATUSES = "(known: unverified, corroborated, disputed, confirmed, refuted)"


def closed(old: str, new: str) -> dict:
    assert old in CLOSED
    return {A + "bridge-closed.yaml": CLOSED.replace(old, new, 1)}


def kovac(old: str, new: str) -> dict:
    assert old in KOVAC
    return {E + "people/anna-kovac.yaml": KOVAC.replace(old, new, 1)}


SIX_WEEKS_CLAIMANT = "    claimant: anna-kovac\n    status: disputed"

CASES = [
    # -- YAML that does not parse, or has the wrong shape ------------------------------------
    ("malformed yaml", {E + "places/north-bridge.yaml": "name: [North Bridge\ntype: place\n"},
     "content/entities/places/north-bridge.yaml:2:5: error: YAML syntax: did not find expected ',' or ']' "
     "(while parsing a flow sequence that starts at line 1, column 7)" + prose_hint("name")),
    ("line separator in a quoted value", {E + "places/north-bridge.yaml": 'name: "North\u2028Bridge"\ntype: plaice\n'},
     # YAML counts U+2028 as a line break; the line given is the one an editor shows
     "content/entities/places/north-bridge.yaml:2:7: error: unknown entity type 'plaice' (did you mean 'place'?); "
     f"declare it under entity_types in site.yaml {KNOWN_TYPES}"),
    ("unclosed bracket on the last line", {E + "places/north-bridge.yaml": "type: place\nname: [North Bridge\n\n"},
     "content/entities/places/north-bridge.yaml:2:20: error: YAML syntax: did not find expected ',' or ']' "
     "(while parsing a flow sequence that starts at line 2, column 7)" + prose_hint("name")),
    ("unclosed bracket in front matter", {"content/pages/about.md": "---\ntitle: About\ndescription: [open\n---\nText.\n"},
     "content/pages/about.md:3:19: error: YAML syntax: did not find expected ',' or ']' "
     "(while parsing a flow sequence that starts at line 3, column 14)" + prose_hint("description")),
    # Text pasted after a key: YAML reads some of it as its syntax, and the error says how to write it.
    ("quote pasted with a colon in it", {A + "beta-note.yaml": "title: Beta note\nclaims:\n  - id: said\n"
                                         "    quote: he said: the bridge is closed\n    status: unverified\n"},
     "content/articles/beta-note.yaml:4:19: error: YAML syntax: mapping values are not allowed in this context"
     + prose_hint("quote")),
    ("quote pasted that begins with a quotation", {A + "beta-note.yaml": "title: Beta note\nclaims:\n  - id: said\n"
                                                   '    quote: "We had no choice," she said\n    status: unverified\n'},
     "content/articles/beta-note.yaml:4:32: error: YAML syntax: did not find expected key "
     "(while parsing a block mapping that starts at line 3, column 5)" + prose_hint("quote")),
    ("note run on to a line with a colon", {A + "beta-note.yaml": "title: Beta note\nclaims:\n  - id: said\n"
                                            "    quote: Beta\n    note: Checked against\n      the report: page 4\n"},
     "content/articles/beta-note.yaml:6:17: error: YAML syntax: mapping values are not allowed in this context"
     + prose_hint("note")),
    ("quote pasted that begins with a hash", {A + "beta-note.yaml": "title: Beta note\nclaims:\n  - id: said\n"
                                              "    quote: #bridge closed, they said\n    status: unverified\n"},
     "content/articles/beta-note.yaml:4:11: error: 'quote' must be text, found nothing; text that begins with '#' is a "
     "comment to YAML: write it as a block, 'quote: |-' and the text on the lines below, indented further"),
    ("a structure, not text: no hint", {A + "beta-note.yaml": "title: Beta note\nsource: publisher: Reuters\n"},
     "content/articles/beta-note.yaml:2:18: error: YAML syntax: mapping values are not allowed in this context"),
    ("control character written as an escape", {A + "beta-note.yaml": 'title: Beta note\nsummary: "Bell\\a here"\n'},
     "content/articles/beta-note.yaml:2:10: error: the value holds the control character U+0007 (written as an escape), "
     "which a page cannot show; remove it"),
    ("front matter not closed", {"content/pages/about.md": "---\ntitle: About\n\nText.\n"},
     "content/pages/about.md:1:1: error: the front matter is not closed: end it with a line '---'"),
    ("front matter in TOML", {"content/pages/about.md": '+++\ntitle = "About"\n+++\nText.\n'},
     "content/pages/about.md:1:1: error: front matter is read in YAML between two '---' lines, not in TOML "
     "between '+++': write 'title: …' between '---' lines"),
    ("base_url of a page", {"site.yaml": 'title: T\nbase_url: "https://example.org/site/index.html"\n'},
     "site.yaml:2:11: error: 'base_url' is the folder the site is published in, not a page: "
     "found 'https://example.org/site/index.html'; write 'https://example.org/site/'"),
    ("base_url with a query", {"site.yaml": 'title: T\nbase_url: "https://example.org/site/?utm=1#top"\n'},
     "site.yaml:2:11: error: 'base_url' is where the site is published, without '?' or '#': "
     "found 'https://example.org/site/?utm=1#top'"),
    ("tab indentation", {A + "beta-note.yaml": "title: Beta note\nsource:\n\tpublished: 2024-01-01\n"},
     "content/articles/beta-note.yaml:3:1: error: YAML syntax: a tab cannot indent YAML; use spaces"),
    ("sidecar is a list", {A + "beta-note.yaml": "- title: Beta note\n"},
     "content/articles/beta-note.yaml:1:1: error: a sidecar must be a mapping of keys to values, found a list"),
    ("sidecar is a scalar", {A + "beta-note.yaml": "Beta note\n"},
     "content/articles/beta-note.yaml:1:1: error: a sidecar must be a mapping of keys to values, found 'Beta note'"),
    ("empty sidecar", {A + "beta-note.yaml": ""},
     "content/articles/beta-note.yaml:1:1: error: the file is empty"),
    ("empty article", {A + "beta-note.md": ""},
     "content/articles/beta-note.md:1:1: error: the article is empty: put the article's text in it"),
    ("empty page", {"content/pages/about.md": "\n  \n"},
     "content/pages/about.md:1:1: error: the page is empty: write its text, or remove the file"),
    ("entity of comments only", {E + "places/north-bridge.yaml": "# to do\n"},
     "content/entities/places/north-bridge.yaml:1:1: error: the file is empty"),
    ("site.yaml is a list", {"site.yaml": "- title: T\n"},
     "site.yaml:1:1: error: site.yaml must be a mapping of keys to values, found a list"),
    ("claims is a mapping", {A + "beta-note.yaml": "title: Beta note\nclaims:\n  id: x\n"},
     "content/articles/beta-note.yaml:3:3: error: 'claims' must be a list, found a mapping"),
    ("mention is a scalar", {A + "beta-note.yaml": "title: Beta note\nmentions:\n  - north-bridge\n"},
     "content/articles/beta-note.yaml:3:5: error: a mention must be a mapping of keys to values, found 'north-bridge'"),
    ("aliases is a mapping", {E + "places/north-bridge.yaml": "name: North Bridge\ntype: place\naliases: {a: b}\n"},
     "content/entities/places/north-bridge.yaml:3:10: error: 'aliases' must be a list, found a mapping"),
    ("quote is a list", {A + "beta-note.yaml": "title: Beta note\nclaims:\n  - id: beta-claim\n    quote: [North, Bridge]\n"},
     "content/articles/beta-note.yaml:4:12: error: 'quote' must be text, found a list"),
    ("duplicate key", {A + "beta-note.yaml": "title: Beta note\nsummary: one\ntitle: Again\n"},
     "content/articles/beta-note.yaml:3:1: error: duplicate key 'title' (first at line 1)"),
    ("yaml alias", {A + "beta-note.yaml": "title: &t Beta note\nsummary: *t\n"},
     "content/articles/beta-note.yaml:2:10: error: YAML aliases (*name) are not supported here; write the value out"),
    ("yaml python tag", {A + "beta-note.yaml": "title: !!python/object/apply:os.system [ls]\n"},
     "content/articles/beta-note.yaml:1:8: error: the YAML tag '!!python/object/apply:os.system' is not supported here; remove it"),
    ("second yaml document", {A + "beta-note.yaml": "title: Beta note\n---\ntitle: Other\n"},
     "content/articles/beta-note.yaml:2:1: error: a second YAML document ('---'): one file holds one document"),
    # -- encodings and line ends -------------------------------------------------------------
    ("non-UTF-8 sidecar", {A + "beta-note.yaml": b"title: Caf\xe9 note\n"},
     "content/articles/beta-note.yaml:1:11: error: the file is not UTF-8 text (byte 0xe9); save it as UTF-8"),
    ("non-UTF-8 article", {A + "beta-note.md": b"A note about the North Bridge.\n\xff\xfe\n"},
     "content/articles/beta-note.md:2:1: error: the file is not UTF-8 text (byte 0xff); save it as UTF-8"),
    ("control character", {A + "beta-note.yaml": "title: Beta\x07 note\n"},
     "content/articles/beta-note.yaml:1:12: error: the file contains the control character U+0007, which YAML does not allow"),
    ("CRLF line ends", {E + "places/north-bridge.yaml": b"name: North Bridge\r\ndescription: x\r\ntype: plaice\r\n"},
     f"content/entities/places/north-bridge.yaml:3:7: error: unknown entity type 'plaice' (did you mean 'place'?); "
     f"declare it under entity_types in site.yaml {KNOWN_TYPES}"),
    ("byte order mark", {E + "places/north-bridge.yaml": b"\xef\xbb\xbftype: plaice\nname: North Bridge\n"},
     f"content/entities/places/north-bridge.yaml:1:7: error: unknown entity type 'plaice' (did you mean 'place'?); "
     f"declare it under entity_types in site.yaml {KNOWN_TYPES}"),
    # -- schema: keys, types, values ---------------------------------------------------------
    ("unknown key, close to a known one", {A + "beta-note.yaml": "titel: Beta note\n"},
     "content/articles/beta-note.yaml:1:1: error: unknown key 'titel' in a sidecar (did you mean 'title'?)"),
    ("misspelt language key of an article", {A + "beta-note.yaml": "title: Beta note\nlangauge: uk\n"},
     "content/articles/beta-note.yaml:2:1: error: unknown key 'langauge' in a sidecar (did you mean 'language'?)"),
    ("unknown key in a claim", closed(SIX_WEEKS_CLAIMANT, SIX_WEEKS_CLAIMANT.replace("claimant", "claimnt")),
     "content/articles/bridge-closed.yaml:27:5: error: unknown key 'claimnt' in a claim (did you mean 'claimant'?)"),
    ("site.yaml unknown key", {"site.yaml": "title: T\nbase-url: https://example.org/\n"},
     "site.yaml:2:1: error: unknown key 'base-url' in site.yaml (did you mean 'base_url'?)"),
    ("missing type", {E + "places/north-bridge.yaml": "name: North Bridge\ndescription: x\n"},
     "content/entities/places/north-bridge.yaml:1:1: error: the entity lacks the required key 'type'"),
    ("missing claim quote", {A + "beta-note.yaml": "title: Beta note\nclaims:\n  - id: beta-claim\n    status: unverified\n"},
     "content/articles/beta-note.yaml:3:5: error: the claim lacks the required key 'quote'"),
    ("site.yaml without title", {"site.yaml": "description: x\n"},
     "site.yaml:1:1: error: site.yaml lacks the required key 'title'"),
    ("empty title", {A + "beta-note.yaml": "title: ''\n"},
     "content/articles/beta-note.yaml:1:8: error: 'title' must not be empty"),
    ("undeclared entity type", {E + "places/north-bridge.yaml": "name: North Bridge\ntype: plaice\n"},
     f"content/entities/places/north-bridge.yaml:2:7: error: unknown entity type 'plaice' (did you mean 'place'?); "
     f"declare it under entity_types in site.yaml {KNOWN_TYPES}"),
    ("undeclared claim status", closed("status: disputed", "status: disputd"),
     f"content/articles/bridge-closed.yaml:28:13: error: unknown claim status 'disputd' (did you mean 'disputed'?) {KNOWN_STATUSES}"),
    ("status YAML reads as a boolean", closed("status: disputed", "status: false"),
     f"content/articles/bridge-closed.yaml:28:13: error: unknown claim status 'false' {KNOWN_STATUSES}"),
    ("impossible date", closed("published: 2024-03-02", "published: 2024-02-30"),
     "content/articles/bridge-closed.yaml:5:14: error: 'published' must be a date written YYYY-MM-DD, found '2024-02-30'"),
    ("URL without scheme", closed("url: https://example.com/courier/bridge-closed", "url: example.com/courier"),
     "content/articles/bridge-closed.yaml:4:8: error: 'url' must be an http(s) URL, found 'example.com/courier'"),
    ("javascript: URL", closed("url: https://example.com/courier/bridge-closed", "url: javascript:alert(1)"),
     "content/articles/bridge-closed.yaml:4:8: error: 'url' must be an http(s) URL, found 'javascript:alert(1)'"),
    ("bad wikidata link", {E + "organizations/river-agency.yaml":
                           "name: River Agency\ntype: organization\nlinks: {wikidata: 'wikidata.org/Q1'}\n"},
     "content/entities/organizations/river-agency.yaml:3:19: error: a wikidata link is an item id such as Q4355815, found 'wikidata.org/Q1'"),
    ("claim id syntax", closed("id: six-weeks", "id: Six_Weeks"),
     "content/articles/bridge-closed.yaml:25:9: error: 'Six_Weeks' is not a valid id (lowercase letters a-z, digits and single hyphens: 'six-weeks'?)"),
    ("bad language tag", {"site.yaml": "title: T\nlanguage: '\"><script>'\n"},
     "site.yaml:2:11: error: 'language' must be a language tag such as en or pt-BR, found '\"><script>'"),
    ("bad language tag of an article", {A + "beta-note.yaml": "title: Beta note\nlanguage: Ukrainian (uk)\n"},
     "content/articles/beta-note.yaml:2:11: error: 'language' must be a language tag such as en or pt-BR, found 'Ukrainian (uk)'"),
    ("article language tag written as a locale", closed("tags: [bridges]", "tags: [bridges]\nlanguage: pt_BR"),
     "content/articles/bridge-closed.yaml:9:11: error: 'language' must be a language tag such as en or pt-BR, found 'pt_BR'"),
    # -- references --------------------------------------------------------------------------
    ("unknown mention entity", closed("  - entity: anna-kovac", "  - entity: anna-kovak"),
     "content/articles/bridge-closed.yaml:10:13: error: unknown entity 'anna-kovak' (did you mean 'anna-kovac'?)"),
    ("unknown claimant", closed(SIX_WEEKS_CLAIMANT, SIX_WEEKS_CLAIMANT.replace("anna-kovac", "bob")),
     "content/articles/bridge-closed.yaml:27:15: error: unknown entity 'bob'"),
    ("unknown about", closed("about: [north-bridge]\n    status: unverified", "about: [south-bridge]\n    status: unverified"),
     "content/articles/bridge-closed.yaml:23:13: error: unknown entity 'south-bridge' (did you mean 'north-bridge'?)"),
    ("unknown contradicted claim", closed("contradicts: [reopened-early]", "contradicts: [reopened-late]"),
     "content/articles/bridge-closed.yaml:29:19: error: unknown claim 'reopened-late' (did you mean 'reopened-early'?)"),
    ("unknown relation target", kovac("entity: river-agency", "entity: river-agencies"),
     "content/entities/people/anna-kovac.yaml:6:14: error: unknown entity 'river-agencies' (did you mean 'river-agency'?)"),
    ("reference climbing out of the site", kovac("entity: river-agency", "entity: ../../secret"),
     "content/entities/people/anna-kovac.yaml:6:14: error: '../../secret' is not a valid id: an id names something in the dossier, never a path"),
    ("duplicate claim id", {A + "beta-note.yaml": "title: Beta note\nclaims:\n  - id: six-weeks\n    quote: North Bridge\n"},
     "content/articles/bridge-closed.yaml:25:9: error: claim id 'six-weeks' is already used at content/articles/beta-note.yaml:3; "
     "claim ids are unique in the whole dossier"),
    ("duplicate entity id", {E + "organizations/north-bridge.yaml": "name: North Bridge Company\ntype: organization\n"},
     "content/entities/places/north-bridge.yaml:1:1: error: entity id 'north-bridge' is already defined in "
     "content/entities/organizations/north-bridge.yaml; ids are unique across all subfolders"),
    # -- quotes ------------------------------------------------------------------------------
    ("wrong quote", closed("quote: repairs would take six weeks", "quote: repairs would need six weeks"),
     "content/articles/bridge-closed.yaml:26:12: error: quote not found in the article; the closest text is “repairs would take six weeks”"),
    ("ambiguous quote", {A + "beta-note.md": "The bridge is old. The bridge is long.\n",
                         A + "beta-note.yaml": "title: Beta note\nclaims:\n  - id: beta-claim\n    quote: The bridge is\n"},
     "content/articles/beta-note.yaml:4:12: error: quote matches 2 places (…[The bridge is] old. The bridge is long.…; "
     "…The bridge is old. [The bridge is] long.…); add a prefix or suffix to pick one"),
    ("quote in a raw HTML block", {A + "beta-note.md": "The bridge is old.\n\n<figure>\n<figcaption>The bridge at dawn</figcaption>\n</figure>\n",
                                   A + "beta-note.yaml": "title: Beta note\nclaims:\n  - id: beta-claim\n    quote: bridge at dawn\n"},
     "content/articles/beta-note.yaml:4:12: error: quote not found in the article; it lies in a block of raw HTML "
     "(a <div>, a <figure>...), whose text cannot be marked: write that passage as Markdown"),
    ("prefix that excludes every match", {A + "beta-note.yaml": "title: Beta note\nmentions:\n  - entity: north-bridge\n"
                                          "    quote: North Bridge\n    prefix: 'the old '\n"},
     "content/articles/beta-note.yaml:4:12: error: quote not found in the article with this prefix/suffix; "
     "without them it is found once (…e with no date about the [North Bridge].…)"),
    # -- files -------------------------------------------------------------------------------
    ("article without sidecar", {A + "beta-note.yaml": None},
     "content/articles/beta-note.md:1:1: error: this article has no sidecar: create content/articles/beta-note.yaml with at least a title"),
    ("sidecar without article", {A + "beta-note.md": None},
     "content/articles/beta-note.yaml:1:1: error: this sidecar has no article: expected content/articles/beta-note.md (or .txt)"),
    ("two texts for one article", {A + "beta-note.txt": "Another text.\n"},
     "content/articles/beta-note.txt:1:1: error: two texts for one article: beta-note.md and beta-note.txt"),
    ("accented file name", {E + "places/café.yaml": "name: Café\ntype: place\n"},
     "content/entities/places/café.yaml:1:1: error: 'café.yaml' is not a valid entity file name: use lowercase "
     "letters a-z, digits and single hyphens, e.g. 'cafe.yaml'"),
    ("Cyrillic file name", {E + "people/сирський.yaml": "name: Олександр Сирський\ntype: person\n"},
     "content/entities/people/сирський.yaml:1:1: error: 'сирський.yaml' is not a valid entity file name: use "
     "lowercase letters a-z, digits and single hyphens, e.g. 'syrskyi.yaml'"),
    ("bad entity file name", {E + "places/North_Bridge.yaml": "name: Other bridge\ntype: place\n"},
     "content/entities/places/North_Bridge.yaml:1:1: error: 'North_Bridge.yaml' is not a valid entity file name: "
     "use lowercase letters a-z, digits and single hyphens, e.g. 'north-bridge.yaml'"),
    ("bad article file name", {A + "Beta Note.md": "Text.\n"},
     "content/articles/Beta Note.md:1:1: error: 'Beta Note.md' is not a valid article file name: "
     "use lowercase letters a-z, digits and single hyphens, e.g. 'beta-note.md'"),
    ("stray file among entities", {E + "places/notes.txt": "some notes\n"},
     "content/entities/places/notes.txt:1:1: error: only .yaml files belong in content/entities"),
    ("a .yml file among articles", {A + "gamma-note.yml": "title: Gamma note\n"},
     "content/articles/gamma-note.yml:1:1: error: content/articles holds .md or .txt articles and their .yaml sidecars only; "
     "rename it to gamma-note.yaml"),
    ("no site.yaml", {"site.yaml": None},
     "site.yaml:1:1: error: there is no site.yaml: every dossier needs one, with at least a title"),
    ("page with a reserved name", {"content/pages/claims.md": "# Claims\n"},
     "content/pages/claims.md:1:1: error: a page may not be called 'claims': the site uses /claims/ itself; rename the file"),
    ("template syntax error", {"templates/home.html": "{% extends 'base.html' %}\n{% block content %}\n{% if %}\n{% endblock %}\n"},
     "templates/home.html:3:1: error: template syntax: Expected an expression, got 'end of statement block'"),
    # -- links that land nowhere: `build` checks them as `check` does -------------------------
    ("broken link in an article", {A + "beta-note.md": "A note about the [old map](../../maps/index.html).\n"},
     "content/articles/beta-note.md:1:28: error: broken link '../../maps/index.html': the site has no file maps/index.html"),
    ("broken fragment in an article", {A + "beta-note.md": "See [the claim](../bridge-closed/index.html#claim-gone).\n"},
     "content/articles/beta-note.md:1:17: error: broken link '../bridge-closed/index.html#claim-gone': "
     "articles/bridge-closed/index.html has no element with id 'claim-gone'"),
    ("root-relative link in a page", {"content/pages/about.md": "# About\n\nSee [claims](/claims/index.html).\n"},
     "content/pages/about.md:3:14: error: the link '/claims/index.html' starts with '/': it breaks when the site "
     "is published under a sub-path or opened from disk; make it relative"),
    ("link to a folder in a description", kovac("Spokesperson of the *River Agency*.", "See [the claims](../../claims/)."),
     "content/entities/people/anna-kovac.yaml:4:31: error: the link '../../claims/' names a folder: name the file "
     "('../../claims/index.html'), or it breaks when the site is opened from disk"),
]


@pytest.fixture(scope="module")
def previous_output(tmp_path_factory) -> Path:
    """An output built from the intact fixture: every broken build must leave a copy of it alone."""
    out = tmp_path_factory.mktemp("prev") / "output"
    code, _, err = run("build", str(BASIC), "-o", str(out), "--no-search")
    assert code == 0, err
    return out


def test_there_are_at_least_30_cases():
    assert len(CASES) >= 30
    assert len({name for name, _, _ in CASES}) == len(CASES)


@pytest.mark.parametrize("changes,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_dossier(tmp_path, previous_output, changes, expected):
    site = make_site(tmp_path / "site", changes)
    out = tmp_path / "output"
    shutil.copytree(previous_output, out)
    before = snapshot(out)

    code, stdout, stderr = run("build", str(site), "-o", str(out), "--no-search")

    assert code == 1, stderr
    assert expected in stderr.splitlines(), stderr
    expected_path = expected.split(":", 1)[0]
    assert {line.split(":", 1)[0] for line in error_lines(stderr)} == {expected_path}, stderr
    assert "Traceback" not in stderr + stdout
    assert snapshot(out) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".output")], "staging folder left behind"

    # `check` reports exactly what `build` reported, and writes nothing.
    check_code, _, check_err = run("check", str(site))
    assert check_code == 1
    assert _diagnostics(check_err) == _diagnostics(stderr)
    assert not (site / "output").exists()


def _diagnostics(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ": error: " in line or ": warning: " in line]


def test_all_errors_of_a_run_come_at_once_sorted_by_file_and_line(tmp_path):
    site = make_site(tmp_path / "site", {
        **closed("status: disputed", "status: disputd"),
        E + "places/north-bridge.yaml": "name: North Bridge\ntype: plaice\nbogus: 1\n",
        A + "beta-note.yaml": "titel: Beta note\n",
        "site.yaml": "title: T\nlanguage: 1 2\n",
    })
    code, _, stderr = run("check", str(site))
    assert code == 1
    errors = error_lines(stderr)
    assert [e.split(": error:")[0] for e in errors] == [
        "content/articles/beta-note.yaml:1:1",
        "content/articles/bridge-closed.yaml:28:13",
        "content/entities/places/north-bridge.yaml:2:7",
        "content/entities/places/north-bridge.yaml:3:1",
        "site.yaml:2:11",
    ]
    assert stderr.splitlines()[-1].startswith("5 errors")


def test_a_claim_without_a_valid_id_still_has_its_other_fields_checked(tmp_path):
    site = make_site(tmp_path / "site", {A + "beta-note.yaml": (
        "title: Beta note\nclaims:\n"
        "  - id: Sky\n    quote: North Bridge\n    status: bogus\n    date: 2024-13-01\n    claimant: Anna\n"
        "  - quote: North Bridge\n    status: disputd\n")})
    code, _, stderr = run("check", str(site))
    assert code == 1
    assert [e.split(": error: ")[0] for e in error_lines(stderr)] == [
        "content/articles/beta-note.yaml:3:9",  # 'Sky' is not a valid id
        "content/articles/beta-note.yaml:5:13",  # unknown status
        "content/articles/beta-note.yaml:6:11",  # no such date
        "content/articles/beta-note.yaml:7:15",  # 'Anna' is not a valid id
        "content/articles/beta-note.yaml:8:5",  # the claim lacks an id
        "content/articles/beta-note.yaml:9:13",  # unknown status
    ], stderr


@pytest.mark.parametrize("change", [
    {A + "beta-note.yaml": "title: [Beta note\n"},  # the sidecar naming the entity does not load
    {A + "beta-note.yaml": "title: Beta note\nmentions:\n  - entity: quiet-lake\n    quote: the lake\n"},
])
def test_an_entity_is_not_said_unmentioned_when_an_error_may_be_why(tmp_path, change):
    site = make_site(tmp_path / "site", {
        E + "places/quiet-lake.yaml": "name: Quiet Lake\ntype: place\n",
        A + "beta-note.md": "The Lake froze early.\n", **change})  # a quote not found: "the lake"
    code, _, stderr = run("check", str(site))
    assert code == 1
    assert "never mentioned" not in stderr, stderr


def test_a_named_pipe_in_content_is_an_error_not_a_wait(tmp_path):
    site = make_site(tmp_path / "site")
    os.mkfifo(site / E / "places/pipe.yaml")
    code, _, stderr = run_process("check", str(site), timeout=60)  # a read of the pipe would wait for ever
    assert code == 1
    assert error_lines(stderr) == [
        "content/entities/places/pipe.yaml:1:1: error: this is not a regular file (a named pipe or a device?); remove it"]


def test_a_content_folder_that_is_a_file_is_an_error(tmp_path):
    site = make_site(tmp_path / "site")
    shutil.rmtree(site / "content/pages")
    (site / "content/pages").write_text("about\n")
    code, _, stderr = run("check", str(site))
    assert code == 1
    assert error_lines(stderr) == ["content/pages:1:1: error: content/pages must be a folder; rename this file"]


def test_a_broken_sidecar_does_not_make_its_claims_unknown_elsewhere(tmp_path):
    # bridge-closed.yaml fails to parse; reopened-early still "supports: [structural-damage]".
    site = make_site(tmp_path / "site", {A + "bridge-closed.yaml": CLOSED + "  - [\n"})
    code, _, stderr = run("check", str(site))
    assert code == 1
    assert [e.split(":")[0] for e in error_lines(stderr)] == ["content/articles/bridge-closed.yaml"]


def test_an_unreadable_article_does_not_make_its_claims_unknown_elsewhere(tmp_path):
    site = make_site(tmp_path / "site", {A + "bridge-closed.md": b"\xff not UTF-8\n"})
    code, _, stderr = run("check", str(site))
    assert code == 1
    assert [e.split(":")[0] for e in error_lines(stderr)] == ["content/articles/bridge-closed.md"]


@pytest.mark.parametrize("target", ["outside", "loop", "dangling"])
def test_links_leading_out_of_the_site_or_nowhere(tmp_path, target):
    site = make_site(tmp_path / "site")
    secret = tmp_path / "secret.yaml"
    secret.write_text("name: Secret\ntype: place\n")
    link = site / E / "places/secret.yaml"
    if target == "outside":
        link.symlink_to(secret)
        message = "this is a link to a place outside the site; copy the file in instead"
    elif target == "loop":
        link.symlink_to(link)
        message = "this link leads nowhere (its target is missing, or it loops)"
    else:
        link.symlink_to(site / "missing.yaml")
        message = "this link leads nowhere (its target is missing, or it loops)"
    code, _, stderr = run("check", str(site))
    assert code == 1
    assert error_lines(stderr) == [f"content/entities/places/secret.yaml:1:1: error: {message}"]


def test_static_files_linked_from_outside_are_refused(tmp_path):
    site = make_site(tmp_path / "site")
    (site / "static").mkdir()
    (site / "static/passwd").symlink_to("/etc/passwd")
    out = tmp_path / "out"
    code, _, stderr = run("build", str(site), "-o", str(out), "--no-search")
    assert code == 1
    assert error_lines(stderr) == ["static/passwd:1:1: error: this is a link to a place outside the site; copy the file in instead"]
    assert not out.exists()


def test_huge_file_is_refused_without_reading_it_all(tmp_path):
    site = make_site(tmp_path / "site")
    with open(site / A / "beta-note.md", "ab") as f:
        f.truncate(21 * 1024 * 1024)  # sparse: cheap to make
    code, _, stderr = run("check", str(site))
    assert code == 1
    assert error_lines(stderr) == ["content/articles/beta-note.md:1:1: error: the file is too large (21 MiB; the limit is 20 MiB)"]


def test_deeply_nested_yaml_is_an_error_not_a_crash(tmp_path):
    deep = "title: " + "[" * 200_000 + "]" * 200_000 + "\n"
    site = make_site(tmp_path / "site", {A + "beta-note.yaml": deep})
    result = subprocess.run([sys.executable, str(Path(__file__).parent.parent / "build.py"), "check", str(site)],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 1, result.stderr
    assert error_lines(result.stderr) == ["content/articles/beta-note.yaml:1:71: error: the YAML nests more than 64 levels deep"]


def test_warnings_build_but_are_reported(tmp_path):
    site = make_site(tmp_path / "site", {
        E + "places/quiet-lake.yaml": "name: Quiet Lake\ntype: place\n",
        E + "places/north-bridge.yaml": "name: North Bridge\ntype: place\naliases: [NB, Kovač]\n",
        **closed("contradicts: [reopened-early]", "contradicts: [six-weeks]"),
    })
    code, _, stderr = run("check", str(site))
    assert code == 0, stderr
    warnings = [line for line in stderr.splitlines() if ": warning: " in line]
    assert warnings == [
        "content/articles/bridge-closed.yaml:29:19: warning: claim 'six-weeks' contradicts itself",
        # each at the name or alias itself; a name two entities share, at both
        "content/entities/people/anna-kovac.yaml:3:11: warning: the name 'Kovač' belongs to several entities "
        "(anna-kovac, north-bridge) and is not autolinked",
        "content/entities/places/north-bridge.yaml:3:11: warning: 'NB' is shorter than 3 characters and is not autolinked",
        "content/entities/places/north-bridge.yaml:3:15: warning: the name 'Kovač' belongs to several entities "
        "(anna-kovac, north-bridge) and is not autolinked",
        "content/entities/places/quiet-lake.yaml:1:1: warning: entity 'quiet-lake' is never mentioned in any article",
    ]


def test_unsafe_links_and_missing_images_are_warnings_in_build_and_check(tmp_path):
    site = make_site(tmp_path / "site", {
        A + "beta-note.md": "A note with [a script](javascript:alert(1)) and ![a map](maps/old.png).\n",
        **closed("status: disputed", "status: disputed\n    note: \"[run](vbscript:msgbox(1))\""),
    })
    out = tmp_path / "out"
    code, _, build_err = run("build", str(site), "-o", str(out), "--no-search")
    assert code == 0, build_err
    warnings = [line for line in build_err.splitlines() if ": warning: " in line]
    assert warnings == [
        "content/articles/beta-note.md:1:24: warning: the link to 'javascript:alert(1)' is removed (its text is kept): "
        "only web, mail and relative links are kept",
        "content/articles/beta-note.md:1:58: warning: the image 'maps/old.png' is not in the site "
        "(no file articles/beta-note/maps/old.png): it will not show",
        "content/articles/bridge-closed.yaml:25:9: warning: claim 'six-weeks': the link to 'vbscript:msgbox(1)' is "
        "removed (its text is kept): only web, mail and relative links are kept",
    ]
    page = (out / "articles/beta-note/index.html").read_text("utf-8")
    assert "javascript:" not in page and "harmful-link" not in page
    assert '<span class="removed-link">a script</span>' in page
    check_code, _, check_err = run("check", str(site))
    assert check_code == 0
    assert _diagnostics(check_err) == _diagnostics(build_err)


def test_publisher_that_looks_like_an_id_but_names_no_entity_is_a_warning(tmp_path):
    site = make_site(tmp_path / "site", closed("publisher: daily-courier", "publisher: daily-couriers"))
    code, _, stderr = run("check", str(site))
    assert code == 0
    assert ("content/articles/bridge-closed.yaml:3:14: warning: publisher 'daily-couriers' looks like an id but "
            "names no entity (did you mean 'daily-courier'?); it is shown as plain text") in stderr.splitlines()


def test_an_author_that_looks_like_an_id_but_names_no_entity_is_a_warning_at_its_place(tmp_path):
    site = make_site(tmp_path / "site", closed("authors: [Mila Horvat]", "authors: [Mila Horvat, daily-couriers]"))
    code, _, stderr = run("check", str(site))
    assert code == 0
    assert [line for line in stderr.splitlines() if "author" in line] == [
        "content/articles/bridge-closed.yaml:6:26: warning: author 'daily-couriers' looks like an id but names no "
        "entity (did you mean 'daily-courier'?); it is shown as plain text"]


def test_images_on_other_sites_are_links_and_warnings_in_build_and_check(tmp_path):
    """A captured article's images on their sites, in Markdown or in its own HTML, in a note or
    on a page: the page loads nothing from another site, so a link stands in for each, and
    build and check say so where it is written."""
    remote = ("the image '{}' is on another site, from which pages load nothing (for readers' privacy, and to "
              "work offline): a link to it stands in its place; save it under static/ to show it")
    site = make_site(tmp_path / "site", {
        A + "beta-note.md": "A note.\n\n![The bridge](https://news.example/bridge.jpg)\n\n"
                            '<a href="https://news.example/"><img src="//cdn.example/p.gif" alt=""></a>\n',
        "content/pages/about.md": "# About\n\n![logo](http://example.org/logo.png)\n",
        **closed("status: disputed", "status: disputed\n    note: \"As ![shown](https://x.example/a.png)\""),
    })
    out = tmp_path / "out"
    code, _, build_err = run("build", str(site), "-o", str(out), "--no-search")
    assert code == 0, build_err
    assert [line for line in build_err.splitlines() if ": warning: " in line] == [
        "content/articles/beta-note.md:3:15: warning: " + remote.format("https://news.example/bridge.jpg"),
        "content/articles/beta-note.md:5:43: warning: " + remote.format("//cdn.example/p.gif"),
        "content/articles/bridge-closed.yaml:25:9: warning: claim 'six-weeks': " + remote.format("https://x.example/a.png"),
        "content/pages/about.md:3:9: warning: " + remote.format("http://example.org/logo.png"),
    ]
    page = (out / "articles/beta-note/index.html").read_text("utf-8")
    assert '<a class="remote-image" href="https://news.example/bridge.jpg">[image: The bridge]</a>' in page
    assert '<a href="https://news.example/"><span class="remote-image">[image]</span></a>' in page
    assert "<img" not in page.split("<main", 1)[1]
    assert '<a class="remote-image" href="http://example.org/logo.png">[image: logo]</a>' in (
        out / "about/index.html").read_text("utf-8")
    check_code, _, check_err = run("check", str(site))
    assert check_code == 0
    assert _diagnostics(check_err) == _diagnostics(build_err)
