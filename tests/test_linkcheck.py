"""`check` verifies every internal link and #fragment of the site it would build."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from hypothesis import given, settings, strategies as st

from conftest import REPO, run_cli
from dossier.linkcheck import LinkChecker, PageLinks, PageReader, check_folder


def problems(pages: dict[str, str], files=(), base_url: str = "", later=()) -> list[tuple[str, int, int, str]]:
    checker = LinkChecker(base_url, tuple(later))
    for path, html in pages.items():
        checker.add_page(path, html)
    for path in files:
        checker.add_file(path)
    return sorted((p.page, p.line, p.col, p.url) for p in checker.check())


def test_links_that_land_are_quiet():
    pages = {
        "index.html": '<a href="articles/a/index.html#claim-x">a</a><a href="#top" id="top">top</a>'
                      '<link rel="stylesheet" href="assets/site.css"><a href="https://example.com/">out</a>'
                      '<a href="mailto:x@example.com">mail</a><img src="data:image/png;base64,AAAA" alt="">'
                      '<form action="search/index.html"></form><a href="search/index.html?q=kursk">q</a>',
        "articles/a/index.html": "<mark id='claim-x'>x</mark><a href=../../index.html>home</a>"
                                 '<img srcset="../../assets/a.png 1x, ../../assets/b.png 2x" alt="">',
        "search/index.html": '<a href="../index.html#top">back</a>',
    }
    assert problems(pages, files=["assets/site.css", "assets/a.png", "assets/b.png"]) == []


def test_each_kind_of_broken_link_is_found_with_its_position():
    page = ("<p>\n"
            '  <a href="missing/index.html">1</a>\n'
            '<a href="other/">2</a> <a href="other/index.html#nowhere">3</a>\n'
            '<a href="/other/index.html">4</a><a href="../../outside.html">5</a>\n'
            '<a href="#not-here">6</a><img src="img/none.png" alt="">\n'
            "</p>")
    found = problems({"index.html": page, "other/index.html": "<h1 id='here'>x</h1>"})
    assert found == [
        ("index.html", 2, 3, "missing/index.html"),
        ("index.html", 3, 1, "other/"),
        ("index.html", 3, 24, "other/index.html#nowhere"),
        ("index.html", 4, 1, "/other/index.html"),
        ("index.html", 4, 34, "../../outside.html"),
        ("index.html", 5, 1, "#not-here"),
        ("index.html", 5, 26, "img/none.png"),
    ]


def test_a_folder_named_without_its_file_is_an_error_even_if_it_exists():
    found = problems({"index.html": '<a href="other">x</a>', "other/index.html": ""})
    assert found == [("index.html", 1, 1, "other")]


def test_comments_scripts_and_text_are_not_links():
    page = ('<!-- <a href="gone.html">old</a> -->'
            '<script type="application/ld+json">{"url": "<a href=\\"gone.html\\">"}</script>'
            "<p>write href=&quot;gone.html&quot; to link</p><title>a <a href=gone.html></title>")
    assert problems({"index.html": page}) == []


def test_entities_and_percent_escapes_are_decoded():
    pages = {"index.html": '<a href="a%20b.html#caf%C3%A9">x</a><a href="q.html?a=1&amp;b=2">y</a>',
             "a b.html": '<p id="café">z</p>', "q.html": ""}
    assert problems(pages) == []


def test_base_url_links_are_checked_as_internal():
    base = "https://example.org/kursk/"
    pages = {"404.html": f'<link rel="stylesheet" href="{base}assets/site.css"><a href="{base}index.html">home</a>'
                         f'<a href="{base}gone/index.html">x</a><a href="https://example.org/elsewhere/">y</a>',
             "index.html": f'<link rel="canonical" href="{base}index.html">'}
    assert problems(pages, files=["assets/site.css"], base_url=base) == [("404.html", 1, 128, f"{base}gone/index.html")]


def test_folders_generated_later_are_taken_on_trust():
    page = '<script src="../pagefind/pagefind-ui.js"></script><a href="../pagefind/">x</a>'
    assert problems({"search/index.html": page}, later=["pagefind/"]) == [("search/index.html", 1, 51, "../pagefind/")]


def test_a_fresh_build_has_no_broken_link(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "site.yaml").write_text((REPO / "site.yaml").read_text() + "base_url: https://example.org/kursk/\n")
    shutil.copytree(REPO / "content", site / "content")
    done = run_cli("build", str(site), "-o", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert check_folder(tmp_path / "out", "https://example.org/kursk/") == []
    assert check_folder(tmp_path / "out") == []  # absolute links to base_url are not followed then


def test_check_reports_broken_links_at_the_source_file(demo_copy):
    assert run_cli("check", str(demo_copy)).returncode == 0
    article = demo_copy / "content/articles/sbu-special-forces-haul.md"
    lines = article.read_text("utf-8").splitlines()
    lines.append("")
    lines.append("See [the method](../../method/) and [a claim](../../claims/index.html#status-nope).")
    article.write_text("\n".join(lines) + "\n", "utf-8")
    about = demo_copy / "content/pages/about.md"
    about.write_text(about.read_text("utf-8") + "\nMore [here](/articles/index.html).\n", "utf-8")
    (demo_copy / "static/notes").mkdir(parents=True)
    (demo_copy / "static/notes/index.html").write_text(
        '<!doctype html>\n<html lang="en"><title>n</title>\n<p><a href="../nowhere.html">x</a></p></html>\n')
    done = run_cli("check", str(demo_copy))
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if ": error: " in line]
    n = len(lines)
    about_line = len(about.read_text("utf-8").splitlines())
    assert errors == [
        f"content/articles/sbu-special-forces-haul.md:{n}:18: error: the link '../../method/' names a folder: "
        "name the file ('../../method/index.html'), or it breaks when the site is opened from disk",
        f"content/articles/sbu-special-forces-haul.md:{n}:47: error: broken link "
        "'../../claims/index.html#status-nope': claims/index.html has no element with id 'status-nope'",
        f"content/pages/about.md:{about_line}:13: error: the link '/articles/index.html' starts with '/': it breaks "
        "when the site is published under a sub-path or opened from disk; make it relative",
        "static/notes/index.html:3:13: error: broken link '../nowhere.html': the site has no file nowhere.html",
    ]
    assert not (demo_copy / "output").exists(), "check writes nothing"

    # `build` reports the same, and keeps nothing of what it made.
    out = demo_copy.parent / "built"
    built = run_cli("build", str(demo_copy), "-o", str(out), "--no-search")
    assert built.returncode == 1
    assert [line for line in built.stderr.splitlines() if ": error: " in line] == errors
    assert not out.exists()


def test_a_static_page_replacing_a_made_page_is_checked_as_it_is(demo_copy):
    """A file of static/ lies over the page the build made at its path: `build`, with or without
    its cache, checks the file's links and ids, as `check` does, not the page it replaced."""
    out = demo_copy.parent / "built"
    assert run_cli("build", str(demo_copy), "-o", str(out), "--no-search").returncode == 0
    slug = "moscow-ombudsman-account"
    made = (out / "articles" / slug / "index.html").read_text("utf-8")
    assert 'id="claim-' in made
    replacement = demo_copy / "static/articles" / slug / "index.html"
    replacement.parent.mkdir(parents=True)
    replacement.write_text('<!doctype html>\n<html lang="en"><title>mine</title>\n'
                           '<p><a href="../nowhere.html">x</a></p></html>\n', "utf-8")
    checked = run_cli("check", str(demo_copy))
    assert checked.returncode == 1
    errors = [line for line in checked.stderr.splitlines() if ": error: " in line]
    assert "static/articles/moscow-ombudsman-account/index.html:3:13: error: broken link '../nowhere.html': " \
           "the site has no file articles/nowhere.html" in errors
    assert any(f"'../articles/{slug}/index.html#claim-" in line for line in errors), errors
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    for target in (out, demo_copy.parent / "cold"):  # with the cache of the last build, and without
        built = run_cli("build", str(demo_copy), "-o", str(target), "--no-search")
        assert built.returncode == 1
        assert [line for line in built.stderr.splitlines() if ": error: " in line] == errors
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert not (demo_copy.parent / "cold").exists()

    # The same page with a line added keeps every id and link: it is published as it is.
    replacement.write_text(made.replace("</main>", "<p>Mine.</p></main>"), "utf-8")
    assert run_cli("build", str(demo_copy), "-o", str(out), "--no-search").returncode == 0
    assert (out / "articles" / slug / "index.html").read_text("utf-8") == replacement.read_text("utf-8")
    # Gone again: the page the build makes comes back.
    replacement.unlink()
    assert run_cli("build", str(demo_copy), "-o", str(out), "--no-search").returncode == 0
    assert (out / "articles" / slug / "index.html").read_text("utf-8") == made


def test_check_reports_links_of_custom_templates_at_the_built_page(demo_copy):
    (demo_copy / "templates").mkdir()
    claims = (REPO / "dossier/templates/claims.html").read_text("utf-8")
    (demo_copy / "templates/claims.html").write_text(
        claims.replace("{% block content %}", '{% block content %}\n<a href="{{ root }}tags/index.html">Tags</a>'))
    done = run_cli("check", str(demo_copy))
    assert done.returncode == 1
    assert re.search(r"^output/claims/index\.html:\d+:1: error: broken link '\.\./tags/index\.html': "
                     r"the site has no file tags/index\.html$", done.stderr, re.M), done.stderr


def test_attribute_text_inside_another_attributes_value_is_not_a_link():
    page = '<meta name="description" content="&lt;img src=x onerror=alert(1)&gt; and href=nowhere">'
    assert problems({"index.html": page}) == []
    assert problems({"index.html": page + '<img alt="a" src="x">'}) == [("index.html", 1, 88, "x")]


def test_a_missing_image_is_a_warning_a_missing_page_an_error():
    checker = LinkChecker()
    checker.add_page("index.html", '<img src="maps/old.png" alt="map"><a href="maps/old.html">map</a>'
                                   '<img srcset="a.png 1x, b.png 2x" alt=""><img src="/abs.png" alt="">')
    checker.add_file("a.png")
    found = sorted((p.url, p.level) for p in checker.check())
    assert found == [("/abs.png", "warning"), ("b.png", "warning"), ("maps/old.html", "error"),
                     ("maps/old.png", "warning")]


def test_pages_from_an_earlier_build_are_checked_from_their_summaries():
    """A page taken from the last build comes as its record's links: its targets must
    still exist, and a fragment into a page rendered now must still be there."""
    reader = LinkChecker().reader
    old = reader.summarize("a/index.html", '<a href="../b/index.html#x">b</a><a href="../c/index.html#y">c</a>'
                                           '<a href="../gone.html">g</a>')
    pages = {"a/index.html": '<a href="../b/index.html#x">b</a><a href="../c/index.html#y">c</a>'
                             '<a href="../gone.html">g</a>',
             "b/index.html": "<p>x is gone</p>", "c/index.html": '<p id="z">y was never checked again</p>'}
    checker = LinkChecker(read=pages.__getitem__)
    checker.add_summary("a/index.html", reader.summarize("a/index.html", pages["a/index.html"]), fresh=False)
    checker.add_page("b/index.html", pages["b/index.html"])  # rendered again
    checker.add_summary("c/index.html", reader.summarize("c/index.html", pages["c/index.html"]), fresh=False)
    found = sorted((p.page, p.line, p.col, p.url) for p in checker.check())
    # c's fragment is not looked at: neither page changed since the build that checked it.
    assert found == [("a/index.html", 1, 1, "../b/index.html#x"), ("a/index.html", 1, 67, "../gone.html")]
    assert old.links.split("\n") == ["b/index.html#x", "c/index.html#y", "gone.html"]


def test_a_tag_is_read_as_a_browser_reads_it():
    """A '>' or a quote inside a quoted value does not end the tag or hide the attributes after it;
    a script left open is markup; names are read in any case."""
    pages = {"index.html": '<a title="a > b" href="gone1.html">1</a>\n'
                           """<a title='say "hi"' href="gone2.html">2</a>\n"""
                           '<A HREF=gone3.html>3</A><a data-href="gone.html" xhref="gone.html">4</a>\n'
                           '<script src="gone4.js"><a href="gone5.html">5</a>'}
    assert problems(pages) == [("index.html", 1, 1, "gone1.html"), ("index.html", 2, 1, "gone2.html"),
                               ("index.html", 3, 1, "gone3.html"), ("index.html", 4, 1, "gone4.js"),
                               ("index.html", 4, 24, "gone5.html")]


# Odd and hostile markup for the property below: links that land, break a rule, depend on the
# page's folder or climb to the root; quotes, comments and scripts left open; ids in every form.
URLS = ["#x", "", "index.html", "../a/index.html#y", "../b/index.html", "../../a/c/index.html#z", "/abs.html",
        "../../../out.html", "sub/", "..", " spaced.html ", "a%20b.html#caf%C3%A9", "?q=1&amp;r=2", "x&amp;y.html",
        "https://example.org/site/", "https://example.org/site/a/index.html#x", "https://example.org/site/../up.html",
        "https://example.org/elsewhere/", "mailto:x@example.org", "//cdn.example.org/x.js", "javascript:alert(1)",
        "data:image/png;base64,AAAA", "c\n.html", "#y\nz", "%2Fa.html"]
PIECES = ['<a href="{u}">', "<a href='{u}' id=x>", "<a href={u}>", '<img src="{u}" alt="">', "<A HREF='{u}'>",
          '<source srcset="{u} 1x, {u} 2x">', '<a name="y">', '<p id="x">', "<h2 ID='z'>", '<p id="a\nb">',
          '<a title="x > y" href="{u}">', """<a title='say "{u}"' href="{u}">""", '<meta content="&lt;a href={u}&gt;">',
          "<!-- <a href='{u}'> -->", "<!--", "-->", '<script type="application/ld+json">{{"u": "{u}"}}</script>',
          '<script src="{u}">', "</script>", "<title>", "</title>", "<style>", "</style >", "text href={u} ",
          "<form action={u}>", '<object data="{u}">', "<video poster='{u}'>", '"', "'", "<", ">", "=", "\n", " ",
          "<a\nhref=\"{u}\"\nid=\"m\">", "<a href = '{u}'>", "<a href=>", "<a/href='{u}'>", "<b <a href='{u}'>"]
PAGES = ["index.html", "404.html", "a/index.html", "b/index.html", "a/c/index.html", "b/d/index.html"]
markup = st.lists(st.tuples(st.sampled_from(PIECES), st.sampled_from(URLS)), max_size=30).map(
    lambda parts: "".join(piece.format(u=url) for piece, url in parts))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PAGES), markup), min_size=1, max_size=6))
def test_summaries_are_what_a_full_reading_finds(pages):
    """`summarize` (no positions, each tag worked out once for every folder as deep) keeps what
    `read` (every link with its position) finds, whatever pages of whatever folders it read before."""
    shared = PageReader("https://example.org/site/")
    for page, html in pages:
        full = PageReader("https://example.org/site/").read(page, html)
        assert shared.summarize(page, html) == PageLinks.of(*full)


FOLDERS = ["", "a", "b", "a/c", "b/d", "a/c/e"]
LINKS = URLS + ["../a/index.html#q", "index.html#m-1", "index.html#m-2", "c/index.html#z", "../../b/index.html#",
                "sub/#x", "../#x", "../../../out.html#x", "https://example.org/site/a/index.html#y", "#", "#%41"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(FOLDERS), st.sampled_from(LINKS)), min_size=1, max_size=20))
def test_a_links_outcome_is_what_working_it_out_alone_gives(pairs):
    """Outcomes are remembered per depth and a `path#fragment` is taken from its path's: in any
    order of folders and links, each is what working that one link out from its folder gives."""
    shared = PageReader("https://example.org/site/")
    for folder, url in pairs:
        depth = folder.count("/") + 1 if folder else 0
        assert shared._outcome(folder, depth, url) == PageReader("https://example.org/site/")._work_out(folder, url)


def test_a_broken_link_in_an_article_saved_with_a_bom_is_placed_as_without_it(tmp_path):
    from fixtures.sitekit import error_lines, run, tiny_site

    for name, bom in (("plain", ""), ("bom", "\ufeff")):
        site = tiny_site(tmp_path / name, bom + "See [x](nope.html). Anna Kovač spoke.\n", "title: A\n")
        code, _, stderr = run("check", str(site))
        assert code == 1
        assert [line.split(": error:")[0] for line in error_lines(stderr)] == ["content/articles/a.md:1:9"], name
