"""Shortcuts taken for speed or memory give what the plain way gives."""

from __future__ import annotations

import csv
import io
import json
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import mistune
import nh3
from hypothesis import example, given, settings, strategies as st
from mistune._inline import emphasis

from dossier import anchor, export, markup, parallel

from conftest import REPO, published_pages


def _mistune_own_next_delimiter_run(text: str, pos: int) -> int:
    # mistune 3.4's loop, which anchor replaces with a regex search.
    while pos < len(text) and text[pos] not in "*_":
        pos += 1
    return pos


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab *_\n`[]()!~é.\\<>", max_size=80), st.integers(min_value=0, max_value=90))
def test_emphasis_search_finds_what_mistunes_loop_finds(text, pos):
    assert anchor._parser is not None  # importing anchor installs the faster search
    assert emphasis._next_delimiter_run(text, pos) == _mistune_own_next_delimiter_run(text, pos)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab *_\n`[]()!~é.", max_size=120))
def test_emphasis_trees_are_mistunes(text):
    faster = emphasis._next_delimiter_run
    tokens, _ = anchor._parser.parse(text)
    emphasis._next_delimiter_run = _mistune_own_next_delimiter_run
    try:
        plain = mistune.create_markdown(renderer=None, plugins=list(anchor.PLUGINS)).parse(text)[0]
    finally:
        emphasis._next_delimiter_run = faster
    assert tokens == plain


FRAGMENTS = st.lists(st.sampled_from([
    "<p>", "</p>", "<em>", "</em>", "<a href=\"https://x.org/?a=1&b=2\">", "<a href=\"javascript:alert(1)\">",
    "</a>", "<script>", "</script>", "<mark class=\"claim\" data-claim=\"c\" id=\"x\">", "</mark>", "<br />",
    "<img src=\"a.png\" onerror=\"x()\" />", "text & more", "\u00a0", "\"quoted\"", "<table><tr><td>", "<!-- c -->",
    "<div style=\"color:red\">", "</div>", "<sup class=\"fnref\">", "</sup>", "<iframe>",
]), max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(FRAGMENTS)
def test_the_reused_sanitizer_cleans_as_nh3_clean_does(fragment):
    assert markup.sanitize(fragment) == nh3.clean(fragment, **markup._SANITIZER_OPTIONS)


def test_records_made_one_at_a_time_give_the_same_json():
    data = {"a": 1, "empty": [], "site": {"title": "T"}, "rows": [{"x": 1}, {"y": "é"}]}
    lazy = dict(data, empty=iter([]), rows=iter([{"x": 1}, {"y": "é"}]))
    assert export.json_records(lazy) == export.json_records(data)


def test_work_beside_the_pool_runs_here_and_results_keep_their_order():
    count = parallel.POOL_THRESHOLD + 50
    here = os.getpid()
    results, aside = parallel.run_beside(lambda i: (i * i, os.getpid()), count, lambda done: None,
                                         lambda: os.getpid(), worker_items=16)
    assert [square for square, _ in results] == [i * i for i in range(count)]
    assert aside == here
    workers = {pid for _, pid in results}
    if parallel.cores() >= 2:
        assert here not in workers
        assert len(workers) > 2  # fresh workers took over after 16 items each


def test_each_result_is_taken_here_as_it_comes_before_the_next():
    count = parallel.POOL_THRESHOLD + 50
    taken: list[int] = []

    def tick(done: int) -> None:
        assert len(taken) == done  # this one taken already, the next not yet

    results, _ = parallel.run_beside(lambda i: [i, os.getpid()], count, tick, lambda: None, worker_items=16,
                                     take=lambda result: taken.append(os.getpid()) or tuple(result[:1]))
    assert results == [(i,) for i in range(count)]
    assert set(taken) == {os.getpid()}


def test_pool_workers_die_of_the_pools_sigterm_whatever_handler_the_parent_has():
    """serve handles SIGTERM in Python; a worker inheriting that handler could miss the
    pool's SIGTERM while it waits for a job, and the pool would wait for it for ever."""
    import signal

    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        results = parallel.run(lambda i: (signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, os.getpid()),
                               parallel.POOL_THRESHOLD + 10)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert parallel.cores() >= 2 and os.getpid() not in {pid for _, pid in results}  # in workers, not here
    assert all(default for default, _ in results)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.booleans(), max_size=60))
def test_wide_pages_are_spread_among_article_pages_and_every_page_is_rendered(wide):
    from dossier.build import _spread_wide_pages
    from dossier.render import PageSpec
    specs = [PageSpec(f"p{i}", "entity.html" if w else "article.html") for i, w in enumerate(wide)]
    order = _spread_wide_pages(specs)
    assert sorted(order) == list(range(len(specs)))
    for group in (True, False):  # each kind keeps its own order
        assert [i for i in order if wide[i] is group] == [i for i in range(len(wide)) if wide[i] is group]
    if 0 < sum(wide) < len(wide) - sum(wide):  # fewer wide pages than article pages: never two in a row
        assert not any(wide[a] and wide[b] for a, b in zip(order, order[1:]))


def test_export_files_in_parts_and_through_a_memo_are_the_same_files():
    from dossier.build import check
    result = check(Path(__file__).resolve().parent.parent)  # the demo dossier
    assert result.ok
    claims = list(export.claims_csv_parts(result.resolved))
    with_claims = {c.article for c in result.resolved.claims.values()}
    assert len(claims) == len(with_claims) + 1  # the header, then each article's rows
    assert len(list(csv.reader(io.StringIO("".join(claims))))) == len(result.resolved.claims) + 1
    whole = dict(export.files(result.resolved))
    assert "".join(claims) == whole["claims.csv"] == export.claims_csv(result.resolved)
    assert json.loads(whole["dossier.json"]) == json.loads(export.json_records(export.dossier_data(result.resolved)))
    kept: dict[tuple, str] = {}

    def memo(kind, inputs, make, owner=""):  # remembers each text, then gives it back
        return export.Record(kept.setdefault((kind, inputs), make()))

    assert dict(export.files(result.resolved, memo)) == whole
    assert len(kept) > len(result.resolved.dossier.articles) * 2  # each article's record, claims and rows
    assert dict(export.files(result.resolved, memo)) == whole


def test_json_records_in_parts_read_back_as_the_data():
    data = {"a": 1, "empty": [], "site": {"title": "T"}, "rows": [{"x": 1}, None, {"y": "é"}], "last": []}
    text = export.json_records(dict(data, rows=iter(data["rows"])))
    assert json.loads(text) == data
    lines = text.splitlines()  # one record a line
    assert lines[lines.index('"rows":['):][:5] == ['"rows":[', '{"x": 1},', 'null,', '{"y": "é"}', '],']


@settings(max_examples=100, deadline=None)
@given(st.sets(st.sampled_from("*_`[]!<~&\\\n|^"), min_size=1), st.text(alphabet="ab *_\n`[]!<~&|", max_size=60))
def test_the_remembered_text_run_pattern_is_mistunes_own(chars, text):
    from mistune.inline_parser import InlineParser
    patched = InlineParser._get_fast_trigger_re
    assert patched.remembers_its_set  # importing anchor installs it
    parser = anchor._parser.inline
    own = patched.mistunes_own(parser, chars)
    assert patched(parser, chars).pattern == own.pattern
    other = set(chars) | {"a"}  # another set: its own pattern, not the last one
    assert patched(parser, other).pattern == patched.mistunes_own(parser, other).pattern
    assert patched(parser, chars).findall(text) == own.findall(text)


MARKDOWN_PIECES = [
    "*em*", "**strong**", "~~gone~~", "`co<de>`", "[a link](https://x.org/a?b=1&c=2)", "[rel](../a/b.html#x)",
    "[ftp](ftp://x.org/f)", "[port](http://x.org:8080/)", "[m](mailto:a@b.org)", "[js](javascript:alert(1))",
    "[t](https://x.org \"a title\")", "<https://auto.org/x>", "![img](a.png)", "# Head\n", "- item\n", "1. one\n",
    "3. three\n", "> quoted\n", "```py\ncode <b>\n```\n", "    indented\n", "| a | b |\n|---|:-:|\n| 1 | 2 |\n",
    "&copy;", "&amp;", "&#169;", "\u00a0", "a  \nb", "c\\\nd", "text", "word ", " ", "\n", "\n\n", "[^n]",
    "[^n]: a note\n", "'", '"', ">", "<", "&", "_u_", "x:y", "\t", "\r", "\x0c", "é", "[*x* `y`](z.html)",
    "[<https://in.org>](https://out.org)", "<b>raw</b>", "<!-- c -->", "<div>\nblock\n</div>\n", "***", "---\n",
]


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(MARKDOWN_PIECES), max_size=6).map("".join),
       st.lists(st.tuples(st.integers(0, 60), st.integers(1, 20), st.booleans()), max_size=4))
@example("a [ftp](ftp://x.org/f) b", []).via("a scheme the sanitizer drops")
@example("a\u00a0b *c*", [(0, 3, True)]).via("a no-break space")
@example("[port](http://x.org:8080/) and `x`", [(1, 3, False)]).via("a colon the check cannot place")
def test_html_left_unsanitized_is_what_the_sanitizer_would_give(text, marks):
    """An article body skips the sanitizer only when it has no raw HTML and the sanitizer would
    give it back as it is: checked here on Markdown of every kind, with marks and mentions."""
    from dossier.model import Span
    tokens, _ = anchor._parser.parse(text)
    rt = anchor.reader_text(tokens)
    spans = [Span(a, min(a + n, len(rt.raw)), "claim" if claim else "mention", f"k{i}", f"x-{i}", "open")
             for i, (a, n, claim) in enumerate(marks) if a < len(rt.raw)]
    html, raw_html = markup.woven_html(tokens, rt, spans, lambda key: f"../{key}/index.html", lambda key: 1)
    if not raw_html and markup.stays_as_it_is(html):
        assert markup.sanitize(html) == html
    assert markup.render_body(tokens, rt, spans, lambda key: f"../{key}/index.html", lambda key: 1) \
        == markup.sanitize(html)


def test_the_models_most_numerous_values_come_back_from_a_pickle_equal_and_without_a_dict_each():
    from dossier.model import Mention, Pos, Ref, Selector
    from dossier.resolve import Hit

    pos = Pos("content/articles/a.yaml", 3, 5)
    ref = Ref("kursk-oblast", pos)
    values = [pos, ref, Selector("the quote", pos, "before ", " after"), Mention(ref, Selector("q", pos)),
              Hit("kursk-oblast", "a", "m-1", "Before ", "Kursk", " after.", True)]
    for value in values:
        pickled = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        back = pickle.loads(pickled)
        assert back == value and type(back) is type(value)
        assert not hasattr(back, "__dict__")  # millions of them in a large dossier's cache
        assert _python_calls(pickle.loads, pickled) == []  # made in C, not by the class's __new__
    assert ref.pos.line == 3 and Pos("x").line == Pos("x").col == 1


def _python_calls(function, *args) -> list[str]:
    """The Python functions (not C ones) that calling `function` runs."""
    calls = []

    def profile(frame, event, arg):
        if event == "call":
            calls.append(frame.f_code.co_qualname)

    sys.setprofile(profile)
    try:
        function(*args)
    finally:
        sys.setprofile(None)
    return calls


# Runs the command line in a process of its own, and says which templates Jinja2 compiled in it.
_COUNTING_COMPILES = """
import sys, jinja2
compiled = []
real = jinja2.Environment.compile
def counting(self, source, name=None, filename=None, *args, **kwargs):
    compiled.append(name)
    return real(self, source, name, filename, *args, **kwargs)
jinja2.Environment.compile = counting
from dossier.cli import main
code = main(sys.argv[1:])
print("compiled:", ",".join(sorted({n for n in compiled if n})))
sys.exit(code)
"""


def _build_counting_compiles(site: Path, out: Path, tmp: Path) -> list[str]:
    done = subprocess.run([sys.executable, "-c", _COUNTING_COMPILES, "build", str(site), "-o", str(out), "--no-search"],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "TMPDIR": str(tmp)})
    assert done.returncode == 0, done.stderr[-3000:]
    line = done.stdout.strip().splitlines()[-1]
    assert line.startswith("compiled:"), done.stdout
    return [name for name in line.removeprefix("compiled:").strip().split(",") if name]


def _published(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in published_pages(out)}


def test_templates_compiled_by_one_command_are_taken_by_the_next_and_an_edited_one_is_compiled_again(demo_copy, tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    first = _build_counting_compiles(demo_copy, tmp_path / "out1", tmp)
    assert {"article.html", "base.html", "entity.html", "home.html"} <= set(first)
    assert list((tmp / f"_jinja2-cache-{os.getuid()}").glob("__dossier_*.cache"))  # beside, never in the output
    assert not [p for p in (tmp_path / "out1").rglob("*") if "__dossier_" in p.name]

    assert _build_counting_compiles(demo_copy, tmp_path / "out2", tmp) == []  # a cold build: every page, none compiled
    assert _published(tmp_path / "out2") == _published(tmp_path / "out1")

    (demo_copy / "templates").mkdir()
    article = (REPO / "dossier" / "templates" / "article.html").read_text()
    (demo_copy / "templates" / "article.html").write_text(article.replace("</article>", "<p>edited template</p></article>", 1))
    assert _build_counting_compiles(demo_copy, tmp_path / "out3", tmp) == ["article.html"]
    pages = [p for p in published_pages(tmp_path / "out3") if p.parts[-3] == "articles"]
    assert pages and all("<p>edited template</p>" in p.read_text() for p in pages)


def test_a_template_cache_that_cannot_be_used_or_is_cut_short_is_passed_over(demo_copy, tmp_path):
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / f"_jinja2-cache-{os.getuid()}").write_text("a file where the folder would go")
    assert "article.html" in _build_counting_compiles(demo_copy, tmp_path / "out1", blocked)

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    _build_counting_compiles(demo_copy, tmp_path / "out2", tmp)
    for cached in (tmp / f"_jinja2-cache-{os.getuid()}").glob("__dossier_*.cache"):
        cached.write_bytes(cached.read_bytes()[: cached.stat().st_size // 2])
    assert "article.html" in _build_counting_compiles(demo_copy, tmp_path / "out3", tmp)
    assert _published(tmp_path / "out3") == _published(tmp_path / "out1") == _published(tmp_path / "out2")


_MODULES_AFTER_A_BUILD = """
import sys
from dossier.cli import main
code = main(sys.argv[1:])
print("imported:", ",".join(m for m in ("asyncio", "concurrent.futures") if m in sys.modules))
sys.exit(code)
"""


def test_a_build_without_search_never_imports_asyncio(demo_copy, tmp_path):
    """Importing asyncio costs every command about 0.04 s; only Pagefind's service needs it."""
    done = subprocess.run([sys.executable, "-c", _MODULES_AFTER_A_BUILD, "build", str(demo_copy), "-o",
                           str(tmp_path / "out"), "--no-search"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "imported:"


# -- memory of a process that builds again and again (serve, the warm process) -------------

def _edit_title(site: Path, title: str) -> None:
    text = (site / "site.yaml").read_text(encoding="utf-8")
    (site / "site.yaml").write_text(re.sub(r"(?m)^title: .*$", f"title: {title}", text), encoding="utf-8")


def test_a_process_that_builds_again_and_again_lets_go_of_each_builds_dossier(tmp_path):
    """Without the collector (paused while builds run, and seldom making a full collection on its
    own), the dossier of a build is freed once the next build has replaced it: no cycle holds it."""
    import gc
    import weakref

    from dossier.build import build
    from fixtures.sitekit import make_site

    site, out = make_site(tmp_path / "site"), tmp_path / "out"
    was = gc.isenabled()
    gc.disable()
    try:
        first = build(site, out, search=False, persist=False)
        assert first.ok
        gone = weakref.ref(first.resolved)
        del first
        for n in range(2):  # every article read again, every page made again
            _edit_title(site, f"Edited {n}")
            assert build(site, out, search=False, persist=False, changed={"site.yaml"}).ok
        assert gone() is None
    finally:
        if was:
            gc.enable()


def test_the_digests_a_process_keeps_between_builds_never_hold_two_dossiers(tmp_path):
    """Fingerprints hold every value they digested, old versions too: a process that reads every
    article again and again (site.yaml edited in serve) lets them go once a build has read a
    whole dossier again, not the build after (at 10,000 articles, 0.45 GB more till then)."""
    from dossier import cache as cache_module
    from dossier.build import build
    from fixtures.sitekit import make_site

    site, out = make_site(tmp_path / "site"), tmp_path / "out"

    def kept() -> int:
        carried = cache_module.kept_unwritten(out).fingerprints
        return 0 if carried is None else len(carried._keep)

    assert build(site, out, search=False, persist=False).ok
    sizes = [kept()]
    for n in range(5):
        _edit_title(site, f"Edited {n}")
        assert build(site, out, search=False, persist=False, changed={"site.yaml"}).ok
        sizes.append(kept())
    assert max(sizes) <= sizes[0] * 3 // 2, sizes


def test_a_build_that_reads_every_article_again_lets_go_of_the_last_dossier_before_reading(tmp_path, monkeypatch):
    """site.yaml edited in serve: no article or entity the last build read is of use, and holding
    the last dossier while the new one is read took serve over 1 GB at 10,000 articles. It is let
    go of as the new build starts reading (the collector paused, as it is while builds run)."""
    import gc
    import weakref

    from dossier import build as build_module
    from dossier import load as load_stage
    from fixtures.sitekit import make_site

    site, out = make_site(tmp_path / "site"), tmp_path / "out"
    was = gc.isenabled()
    gc.disable()
    try:
        first = build_module.build(site, out, search=False, persist=False)
        assert first.ok
        old = [weakref.ref(first.resolved), *map(weakref.ref, first.resolved.dossier.articles),
               *map(weakref.ref, first.resolved.dossier.entities)]
        del first
        alive_while_reading: list[int] = []
        read_article = load_stage.read_article

        def reading(*args, **kwargs):
            alive_while_reading.append(sum(ref() is not None for ref in old))
            return read_article(*args, **kwargs)

        monkeypatch.setattr(load_stage, "read_article", reading)
        _edit_title(site, "Edited")
        again = build_module.build(site, out, search=False, persist=False, changed={"site.yaml"})
        assert again.ok and again.rendered
        assert alive_while_reading and set(alive_while_reading) == {0}, alive_while_reading
        # An edit of one article after that goes on from the new dossier, as after any build.
        body = next((site / "content" / "articles").glob("*.md"))
        body.write_text(body.read_text(encoding="utf-8") + "\nOne more paragraph.\n", encoding="utf-8")
        edited = build_module.build(site, out, search=False, persist=False, changed={str(body.relative_to(site))})
        assert edited.ok and edited.resolved.changed is not None
    finally:
        if was:
            gc.enable()


def test_tidying_up_hands_the_memory_freed_back_to_the_system():
    """What builds freed in the middle of the heap (a dossier replaced by the next) is given back,
    not kept by the C library at the process's highest."""
    from dossier.build import tidy

    def resident_mib() -> int:
        return int(re.search(r"VmRSS:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) // 1024

    blocks = [bytes(2000) + n.to_bytes(4, "little") for n in range(100_000)]  # some 200 MB
    kept = blocks[::50]  # the heap now holds freed memory between blocks still in use
    del blocks
    before = resident_mib()
    tidy()
    assert resident_mib() < before - 100, (before, resident_mib())
    assert len(kept) == 2000
