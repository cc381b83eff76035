"""A site's own templates: overriding and extending the built-in ones, and the errors they give,
each at a file and line, never as a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dossier import parallel
from dossier.render import DEFAULT_TEMPLATES
from fixtures.htmltree import parse
from fixtures.sitekit import error_lines, make_site, run, snapshot, write

ARTICLE = "articles/bridge-closed/index.html"
BUILTIN = {name: (DEFAULT_TEMPLATES / name).read_text("utf-8") for name in ("base.html", "article.html", "macros.html")}


def build(site: Path, out: Path) -> tuple[int, str]:
    code, _, stderr = run("build", str(site), "-o", str(out), "--no-search")
    return code, stderr


def built(site: Path, out: Path) -> Path:
    code, stderr = build(site, out)
    assert code == 0, stderr
    return out


def scripts(page: Path) -> list[str]:
    return [s.get("src") for s in parse(page.read_text("utf-8")).find_all("script") if s.get("src")]


def errors_of_build_and_check(site: Path, out: Path) -> list[str]:
    """The error lines of a failing build, each of which check must report too."""
    code, stderr = build(site, out)
    assert code == 1, stderr
    assert "Traceback" not in stderr
    errors = error_lines(stderr)
    code, _, stderr = run("check", str(site))
    assert code == 1 and set(error_lines(stderr)) <= set(errors) and error_lines(stderr)
    return errors


def error_of_build_and_check(site: Path, out: Path, expected: str) -> None:
    """A failing build and check both report `expected` (and maybe more: other pages' errors)."""
    assert expected in errors_of_build_and_check(site, out)
    code, _, stderr = run("check", str(site))
    assert expected in error_lines(stderr)


def page_template(body: str) -> dict:
    """templates/page.html with `body` on line 3 of its content block."""
    return {"templates/page.html": '{% extends "base.html" %}\n{% block content %}\n' + body + "\n{% endblock %}\n"}


# -- scripts -------------------------------------------------------------------------------------

ANALYTICS = "<script src=\"{{ url('asset', 'analytics.js') }}\" defer></script>"


def test_scripts_a_base_template_adds_are_kept_on_article_and_search_pages(tmp_path):
    base = BUILTIN["base.html"].replace("{% block scripts %}{% endblock %}", "{% block scripts %}" + ANALYTICS + "{% endblock %}")
    site = make_site(tmp_path / "s", {"templates/base.html": base, "static/assets/analytics.js": "1;\n"})
    out = built(site, tmp_path / "out")
    assert scripts(out / "index.html") == ["assets/analytics.js"]
    assert scripts(out / ARTICLE) == ["../../assets/article.js", "../../assets/analytics.js"]
    assert scripts(out / "search/index.html") == ["../assets/search.js", "../assets/analytics.js"]


@pytest.mark.parametrize("article", [
    # A copy of the built-in article.html, with a scripts block of its own
    BUILTIN["article.html"] + "{% block scripts %}{{ super() }}<script src=\"{{ url('asset', 'extra.js') }}\"></script>{% endblock %}\n",
    # The built-in one extended
    '{% extends "dossier/article.html" %}\n'
    "{% block scripts %}{{ super() }}<script src=\"{{ url('asset', 'extra.js') }}\"></script>{% endblock %}\n",
], ids=["copied", "extended"])
def test_an_article_template_filling_the_scripts_block_with_super_keeps_every_script(tmp_path, article):
    base = BUILTIN["base.html"].replace("{% block scripts %}{% endblock %}", "{% block scripts %}" + ANALYTICS + "{% endblock %}")
    site = make_site(tmp_path / "s", {"templates/base.html": base, "templates/article.html": article,
                                      "static/assets/analytics.js": "1;\n", "static/assets/extra.js": "2;\n"})
    out = built(site, tmp_path / "out")
    assert scripts(out / ARTICLE) == ["../../assets/article.js", "../../assets/analytics.js", "../../assets/extra.js"]


# -- extending a built-in template of the same name ----------------------------------------------

def test_a_template_extends_the_built_in_one_of_its_name_under_the_dossier_prefix(tmp_path):
    site = make_site(tmp_path / "s", {
        "templates/article.html": '{% extends "dossier/article.html" %}\n'
                                  "{% block title %}Mine: {{ super() }}{% endblock %}\n",
        # The prefix is reserved: a folder of that name is not read.
        "templates/dossier/article.html": "not used\n",
    })
    out = built(site, tmp_path / "out")
    page = parse((out / ARTICLE).read_text("utf-8"))
    assert page.find("title").text().startswith("Mine: ")
    assert page.find("div", class_="body") is not None  # the rest is the built-in page
    assert scripts(out / ARTICLE) == ["../../assets/article.js"]


def test_a_template_extending_its_own_name_is_an_error_naming_the_prefix(tmp_path):
    site = make_site(tmp_path / "s", {"templates/article.html": '{% extends "article.html" %}\n'
                                                                 "{% block title %}Mine: {{ super() }}{% endblock %}\n"})
    assert errors_of_build_and_check(site, tmp_path / "out") == [
        'templates/article.html:1:1: error: template error: "article.html" extends, includes or imports itself: '
        'to build on the built-in article.html, extend "dossier/article.html"']


def test_templates_including_one_another_in_a_loop_are_an_error_at_a_file(tmp_path):
    site = make_site(tmp_path / "s", {**page_template('{% include "a.html" %}'),
                                      "templates/a.html": '{% include "page.html" %}\n'})
    assert errors_of_build_and_check(site, tmp_path / "out") == [
        "templates/page.html:1:1: error: template error: templates that extend, include or import one another in a loop"]


def test_a_name_under_the_prefix_that_is_no_built_in_template_is_an_error(tmp_path):
    site = make_site(tmp_path / "s", page_template('{% include "dossier/nav.html" %}'))
    assert errors_of_build_and_check(site, tmp_path / "out") == [
        "templates/page.html:3:1: error: template error: template not found: dossier/nav.html "
        "(dossier/ names the built-in templates: a folder templates/dossier/ is not read)"]


# -- encodings -----------------------------------------------------------------------------------

def test_a_template_saved_with_a_bom_and_crlf_gives_no_bom_in_the_pages(tmp_path):
    base = BUILTIN["base.html"].replace("{% block head %}", '{% include "partials/meta.html" %}{% block head %}')
    site = make_site(tmp_path / "s", {
        "templates/base.html": b"\xef\xbb\xbf" + base.replace("\n", "\r\n").encode(),
        "templates/partials/meta.html": b'\xef\xbb\xbf<meta name="x-custom" content="1">\r\n',
    })
    out = built(site, tmp_path / "out")
    for page in ("index.html", ARTICLE):
        text = (out / page).read_text("utf-8")
        assert "\ufeff" not in text and "\r" not in text
        assert text.startswith("<!doctype html>")
        head = parse(text).find("head")
        assert head.find("meta", name="x-custom") is not None


# -- errors at a file and line -------------------------------------------------------------------

# The built-in home.html: where it imports its macros, and where it first calls date().
HOME = (DEFAULT_TEMPLATES / "home.html").read_text("utf-8").splitlines()
HOME_IMPORT = next(n for n, line in enumerate(HOME, 1) if 'import' in line and "macros.html" in line)
HOME_DATE = next(n for n, line in enumerate(HOME, 1) if "date(" in line)
HOME_PATH = os.path.realpath(DEFAULT_TEMPLATES / "home.html")


@pytest.mark.parametrize("pool", [False, True])
def test_a_macro_of_the_site_called_with_other_arguments_is_an_error_at_the_built_in_caller(tmp_path, monkeypatch, pool):
    if pool:  # the pages rendered by worker processes, which report the failure to the parent
        monkeypatch.setattr(parallel, "POOL_THRESHOLD", 2)
    site = make_site(tmp_path / "s")
    out = built(site, tmp_path / "out")
    before = snapshot(out)
    write(site, "templates/macros.html", BUILTIN["macros.html"].replace("{% macro date(d) -%}", "{% macro date() -%}"))
    error_of_build_and_check(site, out, f"{HOME_PATH}:{HOME_DATE}:1: error: template error: TypeError: macro 'date' "
                                        "takes not more than 0 argument(s) (the built-in home.html uses the site's templates/macros.html)")
    assert snapshot(out) == before


def test_a_macro_the_built_in_templates_import_missing_is_an_error_at_the_import(tmp_path):
    site = make_site(tmp_path / "s", {"templates/macros.html": "{% macro date(d) -%}\n{{ d }}\n{%- endmacro %}\n"})
    error_of_build_and_check(site, tmp_path / "out", f"{HOME_PATH}:{HOME_IMPORT}:1: error: template error: the template "
                             f"'macros.html' (imported on line {HOME_IMPORT} in 'home.html') does not export the requested "
                             "name 'badge' (the built-in home.html uses the site's templates/macros.html)")


@pytest.mark.parametrize("body,message", [
    ("<h1>{{ page.title }}</h1>{{ page.nope }}", "'dossier.model.Page object' has no attribute 'nope'"),
    ('{{ url("nosuch") }}', "url(): no page kind 'nosuch'; known: article, asset, claim, claims, entities, entity, home, page, search"),
])
def test_a_templates_folder_linked_to_another_folder_of_the_site_gives_file_and_line(tmp_path, body, message):
    site = make_site(tmp_path / "s")
    write(site, "mytheme/page.html", page_template(body)["templates/page.html"])
    (site / "templates").symlink_to("mytheme")
    assert errors_of_build_and_check(site, tmp_path / "out") == [
        f"templates/page.html:3:1: error: template error: {message}"]


@pytest.mark.parametrize("call,message", [
    ("url('nosuch')", "url(): no page kind 'nosuch'; known: article, asset, claim, claims, entities, entity, home, page, search"),
    ("url('claim', 'no-such-claim')", "url('claim', …): no claim 'no-such-claim'"),
    ("url('entity')", "url('entity', …) needs a second argument: which entity"),
    ("reuse(none)", "reuse(): the first argument must be a macro, not none"),
    ("ld_article(none, [], none)", "ld_article(article, footnotes, publisher): expected an article "
                                   "(the page's `article`, or get_article(slug)), not none"),
    ("ld_article(get_article('bridge-closed'), none)", "ld_article(article, footnotes, publisher): expected "
                                                       "the page's `footnotes` as second argument, not none"),
    ("ld_entity(none)", "ld_entity(e): expected an entity (the page's `e`, or get_entity(id)), not none"),
    ("lang_attrs('bridge-closed')", "lang_attrs(article): expected an article (the page's `article`, or "
                                    "get_article(slug)), not str 'bridge-closed'"),
    ("in_language(none, 'words')", "in_language(article, text): expected an article (the page's `article`, or "
                                   "get_article(slug)), not none"),
])
def test_a_wrong_call_of_a_template_function_says_what_is_wrong(tmp_path, call, message):
    site = make_site(tmp_path / "s", page_template("{{ " + call + " }}"))
    assert errors_of_build_and_check(site, tmp_path / "out") == [f"templates/page.html:3:1: error: template error: {message}"]


def test_template_functions_called_right_still_work(tmp_path):
    site = make_site(tmp_path / "s", page_template(
        "<p id=x>{{ url('claim', 'six-weeks') }} {{ url('entity', 'anna-kovac', fragment='top') }}</p>"
        "{{ ld_article(get_article('bridge-closed'), []) }}{{ ld_entity(get_entity('anna-kovac')) }}"))
    out = built(site, tmp_path / "out")
    page = parse((out / "about/index.html").read_text("utf-8"))
    assert page.find("p", id="x").text() == "../articles/bridge-closed/index.html#claim-six-weeks ../entities/anna-kovac/index.html#top"


def test_a_sites_template_marks_an_articles_words_with_its_language_as_the_built_in_ones_do(tmp_path):
    """A home.html of the site's own that takes titles for the articles' own words (originals'
    headlines, not translations) marks them with lang_attrs() and in_language(), as the README says."""
    home = (DEFAULT_TEMPLATES / "home.html").read_text("utf-8")
    old = '<a class="title" href="{{ url(\'article\', a.slug) }}">{{ a.title }}</a>'
    assert old in home
    mine = home.replace(old, '<a class="title" href="{{ url(\'article\', a.slug) }}">{{ in_language(a, a.title) }}</a>')
    mine = mine.replace("{% if a.summary %}<p>", "{% if a.summary %}<p{{ lang_attrs(a) }}>")
    site = make_site(tmp_path / "s", {
        "templates/home.html": mine, "content/articles/obmin.md": "Обмін полоненими.\n",
        "content/articles/obmin.yaml": "title: Обмін полоненими\nlanguage: uk\nsummary: Обмін.\n"})
    doc = parse((built(site, tmp_path / "out") / "index.html").read_text("utf-8"))
    titles = {a.text(): a for a in doc.find_all("a", class_="title")}
    assert [(s.get("lang"), s.get("dir"), s.text()) for s in titles["Обмін полоненими"].find_all("span")] == [
        ("uk", None, "Обмін полоненими")]
    assert titles["North Bridge closed for repairs"].find_all("span") == []  # in the site's language: as it was
    assert [p.text() for p in doc.find_all("p", lang="uk")] == ["Обмін."]


# -- the Content-Security-Policy -----------------------------------------------------------------

def test_a_template_may_set_the_pages_content_security_policy(tmp_path):
    policy_of_mine = "{% block csp %}{{ csp|replace(\"style-src 'self'\", \"style-src 'self' 'unsafe-inline'\") }}{% endblock %}\n"
    site = make_site(tmp_path / "s", {"templates/page.html": page_template("<p>about</p>")["templates/page.html"] + policy_of_mine})
    out = built(site, tmp_path / "out")

    def policy(page: str) -> str:
        return parse((out / page).read_text("utf-8")).find("meta", http_equiv="Content-Security-Policy").get("content")

    assert "style-src 'self' 'unsafe-inline';" in policy("about/index.html")
    assert "style-src 'self';" in policy("index.html")


def test_an_article_template_may_rename_the_footnote_references_as_the_readme_says(tmp_path):
    renamed = "{{ body|replace('aria-label=\"Claim '|safe, 'aria-label=\"Твердження '|safe) }}"
    assert "{{ body }}" in BUILTIN["article.html"]
    site = make_site(tmp_path / "s", {"templates/article.html": BUILTIN["article.html"].replace("{{ body }}", renamed)})
    out = built(site, tmp_path / "out")
    refs = parse((out / ARTICLE).read_text("utf-8")).find_all("a", role="doc-noteref")
    assert refs and [a.get("aria-label") for a in refs] == [f"Твердження {n}" for n in range(1, len(refs) + 1)]


def warnings_of(site: Path) -> list[str]:
    code, _, stderr = run("check", str(site))
    assert code == 0, stderr
    return [line for line in stderr.splitlines() if ": warning: " in line]


@pytest.mark.parametrize("files,expected", [
    ({"templates/artcle.html": "x"},
     ["templates/artcle.html:1:1: warning: no page is made from this template, and none extends, includes or "
      "imports it (did you mean 'article.html'?)"]),
    ({"templates/dossier/article.html": "{% if %} not read, not even parsed"},
     ["templates/dossier/article.html:1:1: warning: not read: 'dossier/' names the built-in templates "
      "('dossier/article.html' is the built-in article.html); move it out of templates/dossier/"]),
    # used: included by a page's template of the site's, or by a built-in
    ({"templates/partials/note.html": "n", "templates/page.html": '{% extends "dossier/page.html" %}'
                                                                  '{% block content %}{% include "partials/note.html" %}{% endblock %}'}, []),
    ({"templates/macros.html": BUILTIN["macros.html"]}, []),
    # a name made as the page renders: nothing can be told
    ({"templates/extra.html": "e", "templates/page.html": '{% include "ex" ~ "tra.html" %}'}, []),
    ({"templates/base.html": BUILTIN["base.html"].replace("{% block page_scripts %}{% endblock %}", "")},
     ["templates/base.html:1:1: warning: it has no {% block page_scripts %}{% endblock %}: the article and search "
      "pages load their scripts there, and would be without them; add it before </body>"]),
])
def test_a_template_no_build_uses_is_a_warning(tmp_path, files, expected):
    """A misspelt override, one under dossier/ (the built-ins' prefix), or a base.html without
    the block the page scripts go in is never read, or drops scripts: said."""
    assert warnings_of(make_site(tmp_path / "s", files)) == expected


# -- what the default pages say, read as a fact-checker reads them -------------------------------

BASIC_SIDECAR = (Path(__file__).parent / "fixtures/basic/content/articles/bridge-closed.yaml").read_text("utf-8")
REOPENED_SIDECAR = (Path(__file__).parent / "fixtures/basic/content/articles/bridge-reopened.yaml").read_text("utf-8")


def text_of(element) -> str:
    return " ".join(element.text().split())


def footnote(out: Path, page: str, claim_id: str):
    return parse((out / page).read_text("utf-8")).find("li", id=f"fn-{claim_id}")


def source_list(out: Path, page: str) -> dict[str, str]:
    """An article's account of its original: label -> what it says."""
    dl = parse((out / page).read_text("utf-8")).find("dl", class_="source")
    return {text_of(dt): text_of(dd) for dt, dd in zip(dl.find_all("dt"), dl.find_all("dd"))}


def test_an_articles_source_names_its_publisher_and_says_whose_each_date_is(tmp_path):
    """The page is the dossier's copy: its dates are the original's publication and its capture,
    said as such; the publisher is in the citation, not only in the kicker; a date the source does
    not give is said to be missing, not left out unseen."""
    site = make_site(tmp_path / "s", {"content/articles/bridge-closed.yaml": (
        BASIC_SIDECAR.replace("  authors: [Mila Horvat]\n", "  authors: [Mila Horvat, anna-kovac]\n  retrieved: 2024-03-03\n"
                              "  archive_url: https://archive.example/bridge-closed\n"))})
    out = built(site, tmp_path / "out")
    assert source_list(out, ARTICLE) == {
        "Publisher": "Daily Courier", "Originally published": "2 March 2024", "By": "Mila Horvat, Anna Kovač",
        "Original": "https://example.com/courier/bridge-closed", "Archived copy": "https://archive.example/bridge-closed",
        "Retrieved for the dossier": "3 March 2024"}
    page = parse((out / ARTICLE).read_text("utf-8"))
    links = {a.get("href") for a in page.find("dl", class_="source").find_all("a")}
    assert {"../../entities/daily-courier/index.html", "../../entities/anna-kovac/index.html"} <= links
    assert source_list(out, "articles/alpha-note/index.html") == {"Originally published": "not given in the source"}


def test_a_contradiction_both_claims_declare_is_listed_once_in_each_footnote(tmp_path):
    site = make_site(tmp_path / "s", {"content/articles/bridge-reopened.yaml":
                                      REOPENED_SIDECAR + "    contradicts: [six-weeks]\n"})
    out = built(site, tmp_path / "out")
    for page, claim_id, other in ((ARTICLE, "six-weeks", "reopened-early"),
                                  ("articles/bridge-reopened/index.html", "reopened-early", "six-weeks")):
        note = footnote(out, page, claim_id)
        hrefs = [a.get("href") for p in note.find_all("p", class_="links") for a in p.find_all("a")]
        assert sum(h.endswith(f"#claim-{other}") for h in hrefs) == 1, (claim_id, hrefs)


def test_a_footnote_gives_the_status_and_claimant_of_each_claim_it_links_to(tmp_path):
    """A claim backed by a refuted one is not backed: the other claim's status and who made it
    are said beside it, in both directions."""
    out = built(make_site(tmp_path / "s"), tmp_path / "out")
    contradicts = text_of(footnote(out, ARTICLE, "six-weeks").find("p", class_="links"))
    assert contradicts == ("Contradicts: “reopened after only four weeks” (Confirmed · claimed by River Agency · "
                           "in North Bridge reopens early)")
    supported_by = text_of(footnote(out, ARTICLE, "structural-damage").find("p", class_="links"))
    assert supported_by == ("Supported by: “reopened after only four weeks” (Confirmed · claimed by River Agency · "
                            "in North Bridge reopens early)")


def test_a_claim_without_a_claimant_is_said_to_be_unattributed_wherever_it_is_listed(tmp_path):
    site = make_site(tmp_path / "s", {"content/articles/bridge-reopened.yaml": REOPENED_SIDECAR + (
        "  - {id: smaller-damage, quote: the damage was smaller than first thought, about: [north-bridge],"
        " date: 2024-05-09}\n")})
    out = built(site, tmp_path / "out")
    line = parse((out / "claims/index.html").read_text("utf-8")).find("li", id="c-smaller-damage")
    assert "Unverified · unattributed, claimed on 9 May 2024 · in North Bridge reopens early" in text_of(line)
    about = parse((out / "entities/north-bridge/index.html").read_text("utf-8")).find("li", id="about-c-smaller-damage")
    assert "unattributed" in text_of(about)
    assert "Unverified · Unattributed, claimed on 9 May 2024" in text_of(
        footnote(out, "articles/bridge-reopened/index.html", "smaller-damage").find("p", class_="claim-meta"))


def test_a_listed_claim_says_when_it_was_made_apart_from_when_its_article_came_out(tmp_path):
    out = built(make_site(tmp_path / "s"), tmp_path / "out")
    line = text_of(parse((out / "claims/index.html").read_text("utf-8")).find("li", id="c-closed-monday"))
    assert line.endswith("Confirmed · claimed by Anna Kovač on 2 March 2024 · in North Bridge closed for repairs "
                         "(Daily Courier, published 2 March 2024)"), line


def test_a_publishers_or_authors_page_lists_the_articles_it_published_or_wrote(tmp_path):
    """An article links its publisher's page, and its authors' given by entity ids: those pages
    link the article back, newest first, each saying which it was."""
    site = make_site(tmp_path / "s", {"content/articles/bridge-reopened.yaml": REOPENED_SIDECAR.replace(
        "publisher: Evening Post", "publisher: daily-courier\n  authors: [anna-kovac, daily-courier]")})
    out = built(site, tmp_path / "out")

    def listed(entity: str):
        section = parse((out / f"entities/{entity}/index.html").read_text("utf-8")).find("section", aria_labelledby="articles-by")
        return section and (text_of(section.find("h2")), [text_of(li) for li in section.find_all("li")],
                            [a.get("href") for a in section.find_all("a")])

    assert listed("daily-courier") == (
        "Articles by Daily Courier (2)",
        ["North Bridge reopens early author and publisher · published 10 May 2024",
         "North Bridge closed for repairs publisher · published 2 March 2024"],
        ["../../articles/bridge-reopened/index.html", "../../articles/bridge-closed/index.html"])
    assert listed("anna-kovac")[:2] == ("Articles by Anna Kovač (1)", ["North Bridge reopens early author · published 10 May 2024"])
    assert listed("river-agency") is None


def test_names_on_an_entity_page_come_in_the_order_of_their_names_not_of_their_ids(tmp_path):
    """Entities often mentioned alongside (as many articles: by name) and those related to it."""
    site = make_site(tmp_path / "s", {
        "content/entities/a-zed.yaml": "name: Zed Ferries\ntype: organization\n"
                                       "relations: [{entity: north-bridge, role: runs boats under}]\n",
        "content/entities/z-abe.yaml": "name: Abe Tugs\ntype: organization\n"
                                       "relations: [{entity: north-bridge, role: tows under}]\n",
        "content/articles/bridge-reopened.md": "The North Bridge reopened after only four weeks, the River Agency "
                                               "said on Friday. Zed Ferries and Abe Tugs stop.\n"})
    out = built(site, tmp_path / "out")
    page = parse((out / "entities/north-bridge/index.html").read_text("utf-8"))
    related = [text_of(li) for li in page.find("ul", class_="related").find_all("li")]
    assert related == ["Abe Tugs (1 article)", "Anna Kovač (1 article)", "Daily Courier (1 article)",
                       "River Agency (1 article)", "Zed Ferries (1 article)"]  # by id, Zed Ferries (a-zed) came first
    relations = [text_of(li) for li in page.find("ul", class_="relations").find_all("li")]
    assert relations == ["Abe Tugs tows under North Bridge", "Zed Ferries runs boats under North Bridge"]


def test_the_pages_of_an_articles_publisher_and_authors_follow_it_through_rebuilds(tmp_path):
    """Their lists are drawn from the articles' sidecars: an edit of a publisher, an author, a date
    or a title rebuilds the pages it concerns, those it named and those it names, as a cold build makes them."""
    site = make_site(tmp_path / "s")
    reopened = site / "content/articles/bridge-reopened.yaml"
    edits = [("publisher: Evening Post", "publisher: daily-courier\n  authors: [anna-kovac]"),
             ("published: 2024-05-10", "published: 2024-01-10"),
             ("title: North Bridge reopens early", "title: A bridge reopens"),
             ("publisher: daily-courier", "publisher: river-agency"),
             ("authors: [anna-kovac]", "authors: [Mila Horvat]"),
             ("publisher: river-agency", "publisher: Evening Post")]
    built(site, tmp_path / "out")
    for n, (old, new) in enumerate(edits):
        reopened.write_text(reopened.read_text("utf-8").replace(old, new), "utf-8")
        rebuilt = snapshot(built(site, tmp_path / "out"))
        cold = snapshot(built(site, tmp_path / f"cold-{n}"))
        assert {k: v for k, v in rebuilt.items() if not k.startswith(".dossier")} == \
            {k: v for k, v in cold.items() if not k.startswith(".dossier")}, new


def test_the_claims_index_says_in_what_order_it_lists_a_statuss_claims(tmp_path):
    """Grouped by status, then newest article first (the home page's order): said, and so."""
    site = make_site(tmp_path / "s", {"content/articles/bridge-reopened.yaml": REOPENED_SIDECAR.replace(
        "status: confirmed", "status: unverified")})
    out = built(site, tmp_path / "out")
    page = parse((out / "claims/index.html").read_text("utf-8"))
    assert "within each status, the newest article first" in text_of(page.find("p", class_="lede"))
    unverified = page.find("section", aria_labelledby="status-unverified")
    assert [li.get("id") for li in unverified.find_all("li")] == ["c-reopened-early", "c-structural-damage"]


def test_an_empty_dossiers_home_page_says_it_has_nothing_yet(tmp_path):
    write(tmp_path / "s", "site.yaml", "title: Empty\n")
    (tmp_path / "s/content/articles").mkdir(parents=True)
    page = parse((built(tmp_path / "s", tmp_path / "out") / "index.html").read_text("utf-8"))
    counts = page.find("section", class_="counts")
    assert [text_of(div) for div in counts.find_all("div")] == ["0 articles", "Entities None yet.", "0 claims"]
    assert text_of(page.find("section", aria_labelledby="articles-title")) == "Articles, newest first No articles yet."
    assert not [ul for ul in page.find("main").find_all(pred=lambda e: e.tag in ("ul", "ol")) if not ul.find("li")]


def test_the_home_pages_line_for_an_article_without_a_publisher_starts_with_what_it_has(tmp_path):
    page = parse((built(make_site(tmp_path / "s"), tmp_path / "out") / "index.html").read_text("utf-8"))
    lines = {text_of(li.find("a")): text_of(li.find("span", class_="meta")) for li in page.find("ol").find_all("li")}
    assert lines["Alpha note"] == "undated · 0 claims"
    assert lines["North Bridge closed for repairs"] == "Daily Courier · 2 March 2024 · 3 claims"
