"""Stage 1: a site's files -> the model, every value with its exact line and column."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from dossier.diagnostics import Diagnostics
from dossier.load import load
from dossier.model import Pos
from fixtures.htmltree import parse
from fixtures.sitekit import BASIC, error_lines, make_site, run, write


def load_ok(site: Path):
    diags = Diagnostics()
    dossier = load(site, diags)
    assert not diags.errors, [str(d) for d in diags.errors]
    return dossier


def test_fixture_loads_with_values_and_defaults():
    d = load_ok(BASIC)
    assert d.site.title == "River crossing dossier"
    assert d.site.language == "en"
    assert d.site.base_url == "https://example.org/river/"
    assert [t.key for t in d.site.entity_types] == ["person", "organization", "place", "event"]
    assert [s.key for s in d.site.claim_statuses] == ["unverified", "corroborated", "disputed", "confirmed", "refuted"]
    assert d.site.autolink is True
    assert [a.slug for a in d.articles] == ["alpha-note", "beta-note", "bridge-closed", "bridge-reopened"]
    assert sorted(e.id for e in d.entities) == ["anna-kovac", "daily-courier", "north-bridge", "river-agency"]
    assert [p.slug for p in d.pages] == ["about"]


def test_article_fields_and_positions():
    article = next(a for a in load_ok(BASIC).articles if a.slug == "bridge-closed")
    assert article.title == "North Bridge closed for repairs"
    assert article.path == "content/articles/bridge-closed.md"
    assert article.sidecar == "content/articles/bridge-closed.yaml"
    assert article.text_format == "md"
    assert article.source.publisher == "daily-courier"
    assert article.source.publisher_pos == Pos("content/articles/bridge-closed.yaml", 3, 14)
    assert article.source.published == dt.date(2024, 3, 2)
    assert article.source.authors == ("Mila Horvat",)
    assert article.tags == ("bridges",)
    [mention] = article.mentions
    assert mention.entity.id == "anna-kovac"
    assert mention.entity.pos == Pos("content/articles/bridge-closed.yaml", 10, 13)
    assert mention.selector.quote == "Anna Kovač"
    assert mention.selector.pos == Pos("content/articles/bridge-closed.yaml", 11, 12)
    claims = {c.id: c for c in article.claims}
    assert list(claims) == ["closed-monday", "structural-damage", "six-weeks"]
    c = claims["closed-monday"]
    assert c.pos == Pos("content/articles/bridge-closed.yaml", 13, 9)
    assert c.selector.pos == Pos("content/articles/bridge-closed.yaml", 14, 12)
    assert c.claimant.pos == Pos("content/articles/bridge-closed.yaml", 15, 15)
    assert [(r.id, r.pos.line, r.pos.col) for r in c.about] == [("north-bridge", 16, 13)]
    assert c.status == "confirmed" and c.date == dt.date(2024, 3, 2)
    assert claims["six-weeks"].contradicts[0].pos == Pos("content/articles/bridge-closed.yaml", 29, 19)
    assert claims["structural-damage"].selector.quote == 'the bridge had "serious structural damage"'


def test_entity_fields_from_subfolders():
    entities = {e.id: e for e in load_ok(BASIC).entities}
    kovac = entities["anna-kovac"]
    assert kovac.path == "content/entities/people/anna-kovac.yaml"
    assert (kovac.name, kovac.type, kovac.aliases) == ("Anna Kovač", "person", ("Kovač",))
    [rel] = kovac.relations
    assert (rel.entity.id, rel.role, rel.entity.pos) == ("river-agency", "spokesperson of",
                                                          Pos("content/entities/people/anna-kovac.yaml", 6, 14))
    assert entities["river-agency"].links == (("website", "https://example.com/agency"), ("wikidata", "Q123"))


def test_page_front_matter_and_title_from_heading(tmp_path):
    site = make_site(tmp_path / "s", {"content/pages/method.md": "# How we work\n\nText.\n"})
    pages = {p.slug: p for p in load_ok(site).pages}
    assert pages["about"].title == "About this dossier"
    assert pages["about"].text.startswith("This dossier follows")
    assert pages["method"].title == "How we work"


def test_a_title_from_a_heading_is_the_words_a_reader_sees(tmp_path):
    site = make_site(tmp_path / "s", {"content/pages/method.md": "# How *we* [work](https://example.org) &amp; `why`\n\nText.\n"})
    assert {p.slug: p for p in load_ok(site).pages}["method"].title == "How we work & why"


def test_an_entity_knows_where_its_name_and_aliases_are_written():
    kovac = {e.id: e for e in load_ok(BASIC).entities}["anna-kovac"]
    assert kovac.name_pos == Pos("content/entities/people/anna-kovac.yaml", 1, 7)
    assert kovac.alias_pos == (Pos("content/entities/people/anna-kovac.yaml", 3, 11),)


def test_front_matter_errors_point_into_the_page_file(tmp_path):
    site = make_site(tmp_path / "s", {"content/pages/method.md": "---\ntitle: Method\ncolour: red\n---\nText.\n"})
    code, _, stderr = run("check", str(site))
    assert code == 1
    assert error_lines(stderr) == ["content/pages/method.md:3:1: error: unknown key 'colour' in the front matter"]


def test_text_stays_as_typed_where_yaml_would_convert_it(tmp_path):
    site = make_site(tmp_path / "s", {"content/articles/beta-note.yaml": "title: no\nsummary: 1e3\ntags: [off, 2024-01-01]\n"})
    beta = next(a for a in load_ok(site).articles if a.slug == "beta-note")
    assert (beta.title, beta.summary, beta.tags) == ("no", "1e3", ("off", "2024-01-01"))


def test_bom_and_crlf_do_not_shift_positions(tmp_path):
    yaml_text = "title: Beta note\nclaims:\n  - id: beta-claim\n    quote: North Bridge\n    claimant: anna-kovac\n"
    site = make_site(tmp_path / "s", {
        "content/articles/beta-note.yaml": b"\xef\xbb\xbf" + yaml_text.replace("\n", "\r\n").encode(),
        "content/articles/beta-note.md": b"\xef\xbb\xbfA note\r\nabout the North Bridge.\r\n",
    })
    beta = next(a for a in load_ok(site).articles if a.slug == "beta-note")
    assert beta.title == "Beta note"
    assert beta.text == "A note\nabout the North Bridge.\n"
    assert beta.claims[0].claimant.pos == Pos("content/articles/beta-note.yaml", 5, 15)


def test_columns_count_characters_not_bytes(tmp_path):
    site = make_site(tmp_path / "s", {"content/articles/beta-note.yaml": "title: Ünïcödé\nsummary: [é, ü]\n"})
    code, _, stderr = run("check", str(site))
    assert error_lines(stderr) == ["content/articles/beta-note.yaml:2:10: error: 'summary' must be text, found a list"]
    site2 = make_site(tmp_path / "s2", {"content/articles/beta-note.yaml": "title: ☃☃ x\nsource: {published: soon}\n"})
    code, _, stderr = run("check", str(site2))
    assert error_lines(stderr) == [
        "content/articles/beta-note.yaml:2:21: error: 'published' must be a date written YYYY-MM-DD, found 'soon'"]


def test_hidden_files_and_folders_are_ignored(tmp_path):
    site = make_site(tmp_path / "s", {
        "content/articles/.draft.md": "x",
        "content/entities/.trash/Bad Name.yaml": ": : :",
        "content/entities/places/.north-bridge.yaml.swp": b"\x00\xff",
    })
    assert len(load_ok(site).articles) == 4


def test_plain_text_article(tmp_path):
    alpha = next(a for a in load_ok(BASIC).articles if a.slug == "alpha-note")
    assert alpha.text_format == "txt" and alpha.path == "content/articles/alpha-note.txt"


def test_custom_types_and_statuses(tmp_path):
    site = make_site(tmp_path / "s", {
        "site.yaml": "title: T\nentity_types:\n  unit: {label: Military unit}\n  place: {}\n"
                     "claim_statuses:\n  open: {label: Open question}\n  settled: {}\n",
        "content/entities/people/anna-kovac.yaml": "name: Anna Kovač\ntype: unit\n",
        "content/entities/organizations/river-agency.yaml": "name: River Agency\ntype: place\n",
        "content/entities/organizations/daily-courier.yaml": "name: Daily Courier\ntype: place\n",
    })
    code, _, stderr = run("check", str(site))
    errors = error_lines(stderr)
    assert errors == [
        "content/articles/bridge-closed.yaml:17:13: error: unknown claim status 'confirmed' (known: open, settled)",
        "content/articles/bridge-closed.yaml:24:13: error: unknown claim status 'unverified' (known: open, settled)",
        "content/articles/bridge-closed.yaml:28:13: error: unknown claim status 'disputed' (known: open, settled)",
        "content/articles/bridge-reopened.yaml:10:13: error: unknown claim status 'confirmed' (known: open, settled)",
    ]
    diags = Diagnostics()
    d = load(site, diags)
    assert [(t.key, t.label, t.plural) for t in d.site.entity_types] == [
        ("unit", "Military unit", "Military units"), ("place", "Place", "Places")]
    assert [(s.key, s.label) for s in d.site.claim_statuses] == [("open", "Open question"), ("settled", "Settled")]


def test_default_status_is_the_first_declared(tmp_path):
    site = make_site(tmp_path / "s", {"content/articles/beta-note.yaml":
                                      "title: B\nclaims:\n  - id: beta-claim\n    quote: North Bridge\n"})
    beta = next(a for a in load_ok(site).articles if a.slug == "beta-note")
    assert beta.claims[0].status == "unverified"


# -- templates --------------------------------------------------------------------------------

def test_a_site_template_replaces_the_default_of_that_name(tmp_path):
    site = make_site(tmp_path / "s", {
        "templates/home.html": '{% extends "base.html" %}\n{% block content %}<p id="own-home">{{ site.title }}</p>'
                               '{% endblock %}\n',
    })
    out = tmp_path / "out"
    code, _, stderr = run("build", str(site), "-o", str(out), "--no-search")
    assert code == 0, stderr
    home = parse((out / "index.html").read_text())
    assert home.find("p", id="own-home").text() == "River crossing dossier"
    assert home.find("ol", class_="article-list") is None
    # Other pages keep the default templates, including the base the override extends.
    article = parse((out / "articles/bridge-closed/index.html").read_text())
    assert article.find("div", class_="body") is not None
    assert home.find("header", class_="site-header") is not None


@pytest.mark.parametrize("template,expected", [
    ('{% extends "base.html" %}\n{% block content %}\n{{ no_such_thing.x }}\n{% endblock %}\n',
     "templates/home.html:3:1: error: template error: 'no_such_thing' is undefined"),
    ('{% extends "nope.html" %}\n', "templates/home.html:1:1: error: template error: template not found: nope.html"),
    ("\n\n{{ 1 // 0 }}\n", "templates/home.html:3:1: error: template error: ZeroDivisionError: integer division or modulo by zero"),
    ("{{ site.title|no_such_filter }}\n", "templates/home.html:1:1: error: template error: No filter named 'no_such_filter'."),
    ("{% for x in %}\n", "templates/home.html:1:1: error: template syntax: Expected an expression, got 'end of statement block'"),
])
def test_a_broken_site_template_is_an_error_at_its_line(tmp_path, template, expected):
    site = make_site(tmp_path / "s", {"templates/home.html": template})
    out = tmp_path / "out"
    code, stdout, stderr = run("build", str(site), "-o", str(out), "--no-search")
    assert code == 1
    assert error_lines(stderr) == [expected]
    assert not out.exists()
    code, _, stderr = run("check", str(site))  # check renders too, and says the same
    assert code == 1
    assert error_lines(stderr) == [expected]


def test_an_unchanged_folder_is_not_listed_again_by_the_same_process(tmp_path: Path, monkeypatch):
    """serve loads the site for every edit: the articles' folder is listed again only when its
    own stamp says an entry came or went (an edit in place leaves it as it was)."""
    import os
    import shutil
    import time
    from dossier import inputs
    site = tmp_path / "site"
    shutil.copytree(BASIC, site)
    monkeypatch.setattr(inputs, "RACY_NS", 0)  # the copy is new: its times would not vouch for it yet
    articles = site / "content" / "articles"
    first = load_ok(site)
    text = next(articles.glob("*.md"))
    listed = []
    scandir = os.scandir
    monkeypatch.setattr(os, "scandir", lambda path: listed.append(Path(path)) or scandir(path))
    text.write_text(text.read_text() + "\nOne more line.\n")  # in place: the folder's stamp stays
    again = load_ok(site)
    assert articles not in listed
    assert [a.slug for a in again.articles] == [a.slug for a in first.articles]
    assert [a.text for a in again.articles] != [a.text for a in first.articles]
    time.sleep(0.05)  # past the clock's resolution for file times (inputs.RACY_NS is 0 here)
    write(site, "content/articles/zz-late.md", "A late article.\n")
    write(site, "content/articles/zz-late.yaml", "title: Late\n")
    later = load_ok(site)
    assert articles in listed
    assert [a.slug for a in later.articles] == [a.slug for a in first.articles] + ["zz-late"]
    time.sleep(0.05)
    (articles / "zz-late.md").unlink()
    (articles / "zz-late.yaml").unlink()
    assert [a.slug for a in load_ok(site).articles] == [a.slug for a in first.articles]


def test_an_unchanged_folder_is_paired_once_and_says_the_same_each_time(tmp_path: Path, monkeypatch):
    """The articles' texts and sidecars are paired again only when the folder's entries changed;
    what the pairing found wrong is reported by every load, not by the first only."""
    import shutil
    from dossier import inputs, load as load_module
    site = tmp_path / "site"
    shutil.copytree(BASIC, site)
    write(site, "content/articles/orphan.md", "A text without its sidecar.\n")
    write(site, "content/articles/Bad Name.yaml", "title: Bad\n")
    monkeypatch.setattr(inputs, "RACY_NS", 0)
    paired = []
    pair_files = load_module._pair_files
    monkeypatch.setattr(load_module, "_pair_files", lambda *a: paired.append(1) or pair_files(*a))
    reports = []
    for _ in range(4):
        diags = Diagnostics()
        dossier = load(site, diags)
        reports.append((sorted(map(str, diags.items)), [a.slug for a in dossier.articles], dossier.broken_ids))
    assert len(paired) == 1  # the listing is kept from the first load on, and what was paired in it
    assert reports[0] == reports[1] == reports[2] == reports[3]
    messages = " ".join(reports[0][0])
    assert "orphan.md:1:1: error: this article has no sidecar" in messages
    assert "'Bad Name.yaml' is not a valid sidecar file name" in messages
    assert "orphan" in reports[0][2]


def test_a_folder_that_could_not_be_read_is_listed_again(tmp_path: Path, monkeypatch):
    """A listing that gave an error is not kept: the next load reads the folder again."""
    import os
    import shutil
    from dossier import inputs
    site = tmp_path / "site"
    shutil.copytree(BASIC, site)
    monkeypatch.setattr(inputs, "RACY_NS", 0)
    articles = site / "content" / "articles"
    scandir = os.scandir

    def refused(path):
        if Path(path) == articles:
            raise PermissionError(13, "Permission denied")
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refused)
    diags = Diagnostics()
    assert load(site, diags).articles == ()
    assert any("cannot read the folder" in d.message for d in diags.errors)
    monkeypatch.setattr(os, "scandir", scandir)
    assert load_ok(site).articles
