"""The pipeline, top to bottom: load -> resolve -> render -> write.

Per-article work (anchoring, the article body's HTML) runs on every core
and is cached by the digest of its inputs; a page whose inputs did not
change is taken from the previous output as is (see cache.py).
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import ctypes
import dataclasses
import gc
import hashlib
import itertools
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Optional

from markupsafe import Markup

from . import cache as cache_stage
from . import export, inputs, linkcheck, parallel
from . import load as load_stage
from . import markup
from . import search as search_stage
from .anchor import NameMatcher
from .cache import (BASE_FILE, CACHE_FILE, FORMAT, BuildCache, Fingerprints, Loaded, PageRecord, PreviousRecords, claim_digest,
                    digest, remembered_digest)
from .diagnostics import Diagnostics, template_error_pos, template_error_message
from .model import Article, Dossier, Entity, Pos
from .progress import Progress
from .render import HEADLINE, PageSpec, SiteRenderer
from .resolve import CHANGES_FOLLOWED, Analysis, Resolved, anchor_article, article_order, resolve
from .urls import entity_path
from .write import MARKER, StagedOutput, check_output_dir, output_lock, sweep_staging

CACHE_FILES = (CACHE_FILE, BASE_FILE, inputs.STAMPS_FILE)  # what a build that persists keeps in its output

ASSETS = Path(__file__).parent / "assets"
# Pages one render worker makes before a fresh one takes over: entity pages read claims
# and articles from all over the dossier, and a worker copies the memory of each it reads.
# Forking afresh costs CPU, so only a build whose heap is large enough to matter pays it
# (at 1,000 articles it cost about 0.9 s of 8 and saved nothing: the build peaks at 0.2 GB).
# At 10,000, cold, once the model's small values were named tuples (eighth session, builds
# alternated): 64 pages took 61.2 s twice, peaking at 738 and 773 MiB; 192, 57.2 s and 800 MiB;
# 256, 52.8 and 56.3 s, 837-845 MiB. 64 cost some 9 s of CPU more than 256, all of it copying.
RENDER_WORKER_ITEMS = 192
RENDER_WORKERS_RENEWED_FROM = 5000  # pages to render
WARMS_FRAGMENTS = "claims.html"  # the template of pages rendered before the workers start


@dataclass
class BuildResult:
    diagnostics: Diagnostics
    resolved: Optional[Resolved] = None
    pages: int = 0
    reused: int = 0  # pages whose bytes were the previous output's (linked, not written)
    written: int = 0  # files written afresh
    timings: dict[str, float] = field(default_factory=dict)
    analyses_used: dict[str, Analysis] = field(default_factory=dict)
    rendered: list[str] = field(default_factory=list)  # pages whose inputs changed
    changed: list[str] = field(default_factory=list)  # pages whose bytes changed
    counts: str = ""  # "N articles, N entities, N claims"

    def __post_init__(self):
        if self.resolved is not None:
            self.resolved_now(self.resolved)

    def resolved_now(self, resolved: Resolved) -> None:
        d = resolved.dossier
        self.resolved = resolved
        self.counts = f"{len(d.articles)} articles, {len(d.entities)} entities, {len(resolved.claims)} claims"

    @property
    def ok(self) -> bool:
        return not self.diagnostics.errors

    def summary(self) -> str:
        counts = self.counts
        if not counts:
            return ""
        stages = ", ".join(f"{k} {v:.2f}s" for k, v in self.timings.items())
        total = sum(self.timings.values())
        detail = f" ({len(self.rendered)} rendered, {self.written} written, {self.reused} unchanged)"
        pages = f", {self.pages} pages{detail}" if self.pages else ""
        return f"{counts}{pages} in {total:.2f}s ({stages})"


def analyse(article: Article, matcher: NameMatcher, autolink: bool) -> Analysis:
    """Everything about one article that needs only the article and the names."""
    diags = Diagnostics()
    doc = anchor_article(article, matcher, autolink, diags)
    numbers = {cid: n for n, cid in enumerate(doc.footnotes, 1)}
    # Markup now, once: the article page takes it as it is (wrapping it there would copy
    # every body, some 80 MB at 10,000 articles, into the page specs).
    body = Markup(markup.render_body(doc.tokens, doc.text, doc.spans,
                                     lambda e: "../../" + entity_path(e), numbers.__getitem__))
    hit_keys = tuple(digest("hit", h.entity, h.article, h.anchor, h.before, h.text, h.after, h.explicit)
                     for h in doc.hits)
    return Analysis(article.slug, body, tuple(doc.footnotes), tuple(doc.hits), tuple(diags.items), hit_keys)


@dataclass
class _Run:
    """What one build carries between its stages."""

    previous: BuildCache
    cache: BuildCache  # filled with what this build used: becomes the next build's `previous`
    fingerprints: Fingerprints
    progress: Progress
    article_keys: dict[str, str] = field(default_factory=dict)  # slug -> digest of its files
    article_cards: dict[str, str] = field(default_factory=dict)  # slug -> digest of all but its text
    analysis_keys: dict[str, str] = field(default_factory=dict)  # slug -> digest of what its analysis is made from
    rendered: set[str] = field(default_factory=set)  # pages rendered by this build
    # The site's files' digests by path, as the inputs' fingerprint saw them just before (if it did).
    file_digests: dict[str, str] = field(default_factory=dict)
    misses: int = 0  # entries computed afresh: the cache file must be rewritten
    # What reading each article's files said, and the ids its failure left undefined (if any),
    # by slug; and the ids left undefined before the articles were read (see _LastRead).
    article_notes: dict[str, tuple] = field(default_factory=dict)
    article_broken: dict[str, tuple] = field(default_factory=dict)
    broken_before: frozenset[str] = frozenset()
    site_key: str = ""  # the digest of the site settings, on which every article and entity read is keyed

    def keyed_on(self, site) -> str:
        """The site settings' digest, made once a build. If it is not the last build's, no article
        or entity read before is of use: the last dossier, which this process may still hold
        (serve, the warm process), is let go of before the new one is read, not after it. At
        10,000 articles the two together took serve over 1 GB when site.yaml was edited."""
        if not self.site_key:
            self.site_key = digest(FORMAT, site)
            if self.previous.shape.get("site", self.site_key) != self.site_key:
                self._let_go_of_last_dossier()
        return self.site_key

    def _let_go_of_last_dossier(self) -> None:
        last = self.previous
        held = last.resolved is not None  # by this process, not read back from a file
        last.loaded, last.analyses, last.record_keys = {}, {}, {}  # the export records' keys hold their inputs
        last.resolved = last.last_read = None
        if self.fingerprints is last.fingerprints:  # carried: it holds every value it digested
            self.fingerprints = self.cache.fingerprints = Fingerprints()
            self.fingerprints.builds = 1
        last.fingerprints = None
        if held:  # the last build's pages, rendered here, hold parts of it in cycles (see tidy)
            gc.collect()


@dataclass(frozen=True)
class _LastRead:
    """What a build keeps in this process's memory of reading its articles: the next build of
    the process reads again (_load_again) and analyses again (resolve.resolve_changes) only
    the articles whose files alone changed since. Its dossier is the one its resolve kept
    (BuildCache.resolved)."""

    look: tuple  # the fingerprint of the inputs this load followed (inputs.last_look)
    notes: tuple  # what loading said, but of the articles' own files
    broken: frozenset[str]  # the ids left undefined, but by the articles' own files
    article_keys: dict[str, str]  # as in _Run
    article_cards: dict[str, str]
    article_notes: dict[str, tuple]
    article_broken: dict[str, tuple]
    analysis_keys: dict[str, str]


def make_reader(run: _Run) -> load_stage.ArticleReader:
    """An article reader for load(): cached articles first, the rest read on every core."""

    def read(files: load_stage.SiteFiles, site, pairs, broken: set[str]) -> list[Article]:
        run.progress.sized(len(pairs))
        run.broken_before = frozenset(broken)
        site_key = run.keyed_on(site)
        both = [_files_keys(site_key, slug, text, sidecar, files.links, run.file_digests) for slug, text, sidecar in pairs]
        keys = [k for k, _ in both]
        todo = [i for i, k in enumerate(keys) if k is None or k not in run.previous.loaded]

        def read_one(i: int) -> Loaded:
            slug, text, sidecar = pairs[todo[i]]
            own, gone = load_stage.SiteFiles(files.root, Diagnostics()), set()
            article = load_stage.read_article(own, slug, text, sidecar, site, gone)
            claim_keys = tuple(map(claim_digest, article.claims)) if article is not None else ()
            return Loaded(article, tuple(own.diags.items), tuple(sorted(gone)), claim_keys)

        fresh = dict(zip(todo, parallel.run(read_one, len(todo), run.progress.counter("read {done}/{total} articles", len(todo)))))
        run.misses += len(todo)
        articles = []
        for i, (key, sidecar_key) in enumerate(both):
            loaded = fresh.get(i) or run.previous.loaded[key]
            if loaded.diagnostics:
                files.diags.items.extend(loaded.diagnostics)
                run.article_notes[pairs[i][0]] = loaded.diagnostics
            if loaded.broken:
                broken.update(loaded.broken)
                run.article_broken[pairs[i][0]] = loaded.broken
            if key is not None:
                run.cache.loaded[key] = loaded
            if loaded.value is not None:
                articles.append(loaded.value)
                if key is not None:
                    _know_article(run, loaded, key, sidecar_key)
        return articles

    return read


def make_entity_reader(run: _Run) -> load_stage.EntityReader:
    """An entity reader for load(): each entity file read once, then taken from the cache while
    its bytes, its place in the site and the site settings stay the same."""

    def read(files: load_stage.SiteFiles, path: Path, site) -> Optional[Entity]:
        try:
            key = None if path in files.links else remembered_digest(run.keyed_on(site), files.rel(path),
                                                                      _file_digest(path, run.file_digests))
        except OSError:
            key = None
        loaded = run.previous.loaded.get(key) if key is not None else None
        if loaded is None:
            own = load_stage.SiteFiles(files.root, Diagnostics())
            own.vetted = files.vetted
            loaded = Loaded(load_stage.read_entity_file(own, path, site), tuple(own.diags.items), ())
            run.misses += 1
        files.diags.items.extend(loaded.diagnostics)
        if key is not None:
            run.cache.loaded[key] = loaded
            if loaded.value is not None and not run.fingerprints.knows(loaded.value):
                run.fingerprints.know(loaded.value, key)
        return loaded.value

    return read


def _files_keys(site_key: str, slug: str, text: Path, sidecar: Path, links: set[Path],
                digests: dict[str, str]) -> tuple[Optional[str], Optional[str]]:
    """Digests of an article's two files, and of its sidecar alone; None (never cached) for links
    (as the listing found them) or unreadable files."""
    try:
        if links and (text in links or sidecar in links):
            return None, None
        sidecar_key = remembered_digest(site_key, slug, _file_digest(sidecar, digests))
        return remembered_digest(sidecar_key, text.name, _file_digest(text, digests)), sidecar_key
    except OSError:
        return None, None


def _file_digest(path: Path, digests: dict[str, str]) -> str:
    """The digest the inputs' fingerprint saw for the file, else the file's digest now."""
    return digests.get(str(path)) or inputs.content_digest(path)


def _know_article(run: _Run, loaded: Loaded, key: str, sidecar_key: str) -> None:
    # An article is what its two files (and the site) say, a claim what it says (made when read):
    # their digests are known, and editing the text, or the sidecar elsewhere, leaves the claims'.
    article = loaded.value
    run.article_keys[article.slug] = key
    run.article_cards[article.slug] = remembered_digest(sidecar_key, article.path)  # its text file's name, not its bytes
    if not run.fingerprints.knows(article):  # else known since the last build of this process, its claims too
        run.fingerprints.know(article, key)
        run.fingerprints.know_all(article.claims, loaded.claim_keys)


def make_analyser(run: _Run, used: dict[str, Analysis]):
    """An analyser for resolve(): cached results first, the rest on every core."""

    def analyse_all(articles: list[Article], matcher: NameMatcher, autolink: bool) -> list[Analysis]:
        keys = [remembered_digest(FORMAT, run.article_keys.get(a.slug) or run.fingerprints(a),
                                  matcher.fingerprint, autolink) for a in articles]
        todo = [i for i, k in enumerate(keys) if k not in run.previous.analyses]
        counter = run.progress.counter("analysed {done}/{total} articles", len(todo))
        fresh = dict(zip(todo, parallel.run(lambda i: analyse(articles[todo[i]], matcher, autolink), len(todo), counter)))
        run.misses += len(todo)
        out = [fresh.get(i) or run.previous.analyses[k] for i, k in enumerate(keys)]
        used.update(zip(keys, out))
        run.analysis_keys.update((a.slug, k) for a, k in zip(articles, keys))
        _know_analyses(run, zip(keys, out))
        return out

    return analyse_all


def _know_analyses(run: _Run, analyses: Iterable[tuple[str, Analysis]]) -> None:
    for key, analysis in analyses:  # the body is what the analysis says, a mention what it holds
        if not run.fingerprints.knows(analysis.body):  # else known since the last build, its mentions too
            run.fingerprints.know(analysis.body, f"{key}:body")
            run.fingerprints.know_all(analysis.hits, analysis.hit_keys)


def check(site: Path, cache: Optional[BuildCache] = None, progress: Optional[Progress] = None) -> BuildResult:
    """Load and resolve only: every error `build` would report, nothing written."""
    run = _Run(cache or BuildCache(), BuildCache(), Fingerprints(), progress or Progress())
    with _collector_paused():
        return _check(site, run)


@contextlib.contextmanager
def _collector_paused():
    """No cyclic garbage collection while the build runs.

    A build makes millions of long-lived objects and few cycles; the
    collector would walk them all again and again (half the time of
    reading the cache back). When the build is done, what it made joins
    the oldest generation untraversed (freeze, then unfreeze, moves whole
    lists): else the first collection after it would walk every object
    the build made, seconds at 10,000 articles, between a rebuild of
    `serve` and its reload. The build's cyclic garbage goes with the next
    full collection.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.freeze()
            gc.unfreeze()
            gc.enable()


# Seconds without a change after a build before a process that builds again and again (serve,
# the warm process) collects what its builds left (see tidy): long enough that a writer saving
# as they go seldom has a rebuild wait for the collection.
TIDY_AFTER = 5.0


def tidy() -> None:
    """Free the cyclic garbage of the builds since the last call: for a process that builds again
    and again, once it is idle. Builds leave some (the templates of the pages rendered in this
    process refer to their own contexts, which hold the last dossier's claims) and, as the
    collector is paused while they run (_collector_paused), only a full collection frees it,
    which the interpreter seldom makes on its own: serve would grow by some 15 MB at 1,000
    articles with each edit of site.yaml. A full collection walks every object: 0.8 s at 10,000
    articles, hence only when no change is waiting. What is freed is then handed back to the
    system: the C library keeps it otherwise, and the process would stay at its highest (after a
    site.yaml edit at 10,000 articles, 0.74-0.82 GB; 0.67 GB once handed back)."""
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)  # glibc's; elsewhere there is nothing to call
    except (OSError, AttributeError):
        pass


def _check(site: Path, run: _Run, look: Optional[tuple] = None) -> BuildResult:
    """Load and resolve. `look`: the inputs' fingerprint taken just before (inputs.last_look),
    for a build that may load again only what changed since the last."""
    result = BuildResult(Diagnostics())
    clock = time.perf_counter()
    dossier, notes, broken = _load(site, run, result.diagnostics, look)
    result.timings["load"] = time.perf_counter() - clock
    clock = time.perf_counter()
    analyse_all = make_analyser(run, result.analyses_used)
    resolved = resolve(dossier, result.diagnostics, analyse_all, run.previous.resolved, check=CHECK_UNREACHED)
    if resolved.changed is not None:  # resolved from the last resolve: only the changed articles analysed
        _carry_analyses(run, resolved, analyse_all, result.analyses_used)
    result.resolved_now(resolved)
    result.timings["resolve"] = time.perf_counter() - clock
    if look is not None:
        run.cache.last_read = _LastRead(look, notes, broken, run.article_keys, run.article_cards,
                                        run.article_notes, run.article_broken, run.analysis_keys)
    return result


def _load(site: Path, run: _Run, diags: Diagnostics, look: Optional[tuple]) -> tuple[Dossier, tuple, frozenset[str]]:
    """The dossier; what loading said and the ids it left undefined, but of the articles' own files."""
    dossier = _load_again(site, run, diags, look)
    if dossier is not None:
        return dossier, run.previous.last_read.notes, run.previous.last_read.broken
    dossier = load_stage.load(site, diags, make_reader(run), make_entity_reader(run))
    return dossier, tuple(_without(diags.items, itertools.chain.from_iterable(run.article_notes.values()))), run.broken_before


def _load_again(site: Path, run: _Run, diags: Diagnostics, look: Optional[tuple]) -> Optional[Dossier]:
    """The dossier of this process's last build, with the articles whose files changed since
    read again, if no other file did (serve, after an edit: the other 20,000 files of a
    10,000-article dossier need no look). None if that cannot be told."""
    last, resolved = run.previous.last_read, run.previous.resolved
    if (look is None or last is None or resolved is None or run.fingerprints is not run.previous.fingerprints
            or len(last.article_keys) != len(resolved.dossier.articles)):  # not one a link, read anew each time
        return None
    changed = inputs.changed_since(site, last.look)
    if changed is None:
        return None
    was, by_slug = resolved.dossier, resolved.by_slug
    slugs = {rel.rpartition("/")[2].rpartition(".")[0] for rel in changed}
    if not all(s in by_slug for s in slugs) or not changed <= {p for s in slugs for p in (by_slug[s].path, by_slug[s].sidecar)}:
        return None
    run.article_keys, run.article_cards = dict(last.article_keys), dict(last.article_cards)
    run.article_notes = {s: n for s, n in last.article_notes.items() if s not in slugs}
    run.article_broken = {s: b for s, b in last.article_broken.items() if s not in slugs}
    run.cache.loaded = dict(run.previous.loaded)
    for slug in slugs:
        run.cache.loaded.pop(run.article_keys.pop(slug), None)
        del run.article_cards[slug]
    root = site.resolve()
    pairs = [(s, root / by_slug[s].path, root / by_slug[s].sidecar) for s in sorted(slugs)]
    fresh = {a.slug: a for a in make_reader(run)(load_stage.SiteFiles(root, Diagnostics()), was.site, pairs, set())}
    diags.items.extend(last.notes)
    diags.items.extend(itertools.chain.from_iterable(run.article_notes.values()))
    dossier = dataclasses.replace(
        was, articles=tuple(fresh[a.slug] if a.slug in slugs else a for a in was.articles
                            if a.slug not in slugs or a.slug in fresh),
        broken_ids=last.broken.union(*run.article_broken.values()))
    if CHECK_UNREACHED:  # the test suite: what a whole load makes
        whole = Diagnostics()
        assert load_stage.load(site, whole, read_entity=_READ_ENTITY_FILE) == dossier and whole.sorted() == diags.sorted(), \
            "loaded again unlike a whole load"
    return dossier


def _carry_analyses(run: _Run, r: Resolved, analyse_all, used: dict[str, Analysis]) -> None:
    """resolve.resolve_changes analysed the changed articles alone: the others' analyses are
    the last build's, under the keys it kept."""
    last = run.previous.last_read
    if last is None:  # not kept (a cache given to check()): each found again by its key
        analyse_all(list(r.dossier.articles), r.basis.matcher, r.dossier.site.autolink)
        return
    run.analysis_keys = keys = {**last.analysis_keys, **run.analysis_keys}
    now = {keys[slug]: analysis for slug, analysis in r.analyses.items()}
    used.clear()
    used.update(now)
    if run.fingerprints is not run.previous.fingerprints:  # renewed: none of them known yet
        _know_analyses(run, now.items())


# The entity reader of a whole load, as defined: the check above reads every file, and tests
# that count the files a build reads must not count those.
_READ_ENTITY_FILE = load_stage.read_entity_file


def _without(items: list, taken) -> list:
    """`items` less each of `taken`, once for each time it is there."""
    left = collections.Counter(taken)
    if not left:
        return list(items)
    kept = []
    for item in items:
        if left[item] > 0:
            left[item] -= 1
        else:
            kept.append(item)
    return kept


def check_site(site: Path) -> BuildResult:
    """The `check` command: `check`, then every internal link of the site rendered in memory."""
    result = check(site)
    if result.ok:
        clock = time.perf_counter()
        found: list[tuple[Pos, str]] = []

        def failed(exc: Exception) -> None:  # a site's own template failed: the errors `build` would report
            failures = template_failures(exc, site)
            if failures is None:
                raise exc
            found.extend(failures.found)

        linkcheck.check_rendered(SiteRenderer(result.resolved, site), site,
                                 [(ASSETS, "assets"), (site / "static", "")], result.diagnostics, failed=failed)
        if found:
            TemplateFailures(found).report(result.diagnostics)
        result.timings["links"] = time.perf_counter() - clock
    return result


def build(site: Path, out: Path, search: bool = True, progress: Optional[Progress] = None,
          persist: bool = True, changed: Optional[set[str]] = None, by_stamps: bool = False,
          always: bool = False) -> BuildResult:
    """Build `site` into `out`. With `persist` False the cache and the input stamps are kept in
    this process's memory only, not written into the output: for a process that builds the same
    output again and again and is the only one to read it (serve), writing them is wasted time.
    `changed`: the site's files a watcher saw change since this process last built it (serve);
    only those are looked at again to tell whether anything changed (inputs.fingerprint);
    `by_stamps`: without `changed`, they are told by the files' stamps (the warm process).
    `always`: go through the build even if nothing changed since the last one (every page is
    then kept as it is): the warm process does, to hold the build in memory from the start."""
    out = check_output_dir(site, out)  # a link's target, say: the folder really written
    with output_lock(out, lambda: print(f"dossier: waiting for another build into {out} to finish", file=sys.stderr)):
        clock = time.perf_counter()
        files, state = BuildCache.read_state(out, persist)
        if persist:
            inputs.trust(site, inputs.kept_stamps(out))
        now = inputs.fingerprint(site, changed=changed, by_stamps=by_stamps)
        if not always and _same_build(state, now, search, out, files):
            sweep_staging(out)
            return _repeat(state, time.perf_counter() - clock)
        with _collector_paused():
            return _build(site, out, search, progress or Progress(), now, persist)


def _same_build(state: dict, now: str, search: bool, out: Path, files: frozenset[str]) -> bool:
    """True if the last build read the same files with the same options, and its output is all there."""
    return (state.get("inputs") == now and state.get("search") == search
            and all(os.path.isfile(os.path.join(out, f)) for f in files)
            and (not search or os.path.isfile(os.path.join(out, "pagefind", "pagefind-entry.json"))))


def _repeat(state: dict, seconds: float) -> BuildResult:
    """The result of the last build, whose output stands as it is."""
    diagnostics = Diagnostics()
    diagnostics.items.extend(state["report"])
    return BuildResult(diagnostics, pages=state["pages"], reused=state["pages"], counts=state["counts"],
                       timings={"inputs unchanged": seconds})


def _remember_state(run: _Run, result: BuildResult, now: str, search: bool) -> None:
    run.cache.state = {"inputs": now, "search": search, "report": tuple(result.diagnostics.items),
                       "pages": result.pages, "counts": result.counts}


def _build(site: Path, out: Path, search: bool, progress: Progress, now: str, persist: bool) -> BuildResult:
    clock = time.perf_counter()
    previous = BuildCache.load(out, persist)
    # A cache this process kept holds the very objects it digested: their digests stand. They
    # also hold every value they digested, old versions of edited articles too: renewed now and then.
    carried = previous.fingerprints
    run = _Run(previous, BuildCache(), carried if carried is not None and carried.builds < CARRIED_BUILDS else Fingerprints(),
               progress, file_digests=inputs.digests_seen(site))
    run.fingerprints.builds += 1
    run.cache.fingerprints = run.fingerprints
    del previous, carried  # the run holds them now, and may let go of the last dossier (_Run.keyed_on)
    cache_time = time.perf_counter() - clock
    result = _check(site, run, inputs.last_look(site))
    result.timings["load"] += cache_time  # reading the cache back is part of loading
    if not result.ok:
        return result
    run.cache.resolved = result.resolved
    # For a build in a new process (serve's next build starts from `resolved`); kept by builds
    # that do not persist too, for the cache the warm process writes when it stops.
    run.cache.shape = _resolve_shape(result.resolved, run)
    if persist and run.previous.resolved is None:  # a new process: which articles changed, from the cache
        result.resolved.changed = _articles_changed_since(run.previous, run.cache.shape, result.resolved)
    clock = time.perf_counter()
    renderer = SiteRenderer(result.resolved, site)
    run.cache.analyses = result.analyses_used
    # Without a search index to make over the whole output, a rebuild touches only what changed;
    # serve's output is its own, so what it holds is what the last build left there.
    with contextlib.closing(renderer), StagedOutput(out, incremental=not search and bool(run.previous.pages),
                                                    holds=None if persist else run.previous.files) as staged:
        searched = search_stage.Searched.of(result.resolved) if search else None
        copies = search_stage.SearchCopies(staged.stage, searched) if searched else None
        try:
            result.rendered, result.changed = write_pages(renderer, staged, run, copies)
        except Exception as exc:  # a site's own template failed: report it like any content error
            failures = template_failures(exc, site)
            if failures is None:
                raise
            failures.report(result.diagnostics)
            return result
        assets = staged.copy_tree(ASSETS, "assets")
        if _static_clashes(site, [*run.cache.pages, *assets], search, result.diagnostics):
            return result
        replaced = _replaced_by_static(staged.copy_tree(site / "static", site=site, diags=result.diagnostics), run)
        result.pages, result.reused = staged.written + staged.linked, staged.linked
        result.written = staged.written
        result.timings["render+write"] = time.perf_counter() - clock
        indexing = None
        if copies is not None:
            copies.complete(staged.stage, set(result.rendered), previous=out)
            for path in replaced:  # the page searched is the file that lies there
                copies.add(path, staged.read_text(path))
            # Pagefind reads the pages while this process checks their links and writes its cache.
            # It is done before the swap: a failing index leaves the old output as it was.
            indexing = search_stage.Indexing(staged.stage, searched, copies=copies)
        try:
            clock = time.perf_counter()
            check_links(renderer, staged, run, site, result.diagnostics, replaced)
            result.timings["links"] = time.perf_counter() - clock
            if not result.ok:
                return result
            _remember_state(run, result, now, search)
            clock = time.perf_counter()
            _save_cache(staged, run, site, persist)
            result.timings["cache"] = time.perf_counter() - clock
            if indexing is not None:
                clock = time.perf_counter()
                indexing.wait()
                result.timings["search"] = time.perf_counter() - clock  # what is left of it by now
        finally:
            if indexing is not None:
                indexing.stop()
        clock = time.perf_counter()
        # Not persisted, the output must hold no cache: one an earlier build left would no longer describe it.
        staged.commit(last=CACHE_FILE, drop=() if persist else CACHE_FILES)
    if run.fingerprints.outgrown():  # the last dossier's values with this one's: not kept for the next build
        run.cache.fingerprints = None
    run.cache.remember(out, persist)
    result.timings["commit"] = time.perf_counter() - clock  # the swap, and the old output cleared away
    return result


def write_kept_cache(site: Path, out: Path) -> bool:
    """Write into `out` the cache that builds without `persist` kept in memory, and the stamps of
    the files they read, as a build that persists writes them: the warm process does as it stops,
    so that the next build in a new process goes on from there. False if there is none."""
    kept = cache_stage.kept_unwritten(out)
    if kept is None or not (out / MARKER).is_file():
        return False
    for name, write in ((inputs.STAMPS_FILE, lambda f: f.write(inputs.stamps_file(site))),
                        (CACHE_FILE, kept.dump_to)):  # the cache last: the stamps alone mean nothing
        part = out / f"{name}.tmp-{os.getpid()}"
        try:
            with open(part, "wb") as f:
                write(f)
            os.replace(part, out / name)
        except BaseException:  # disk full, a signal: no part left behind, the cache not written
            part.unlink(missing_ok=True)
            raise
    kept.remember(out)
    return True


def _resolve_shape(r: Resolved, run: _Run) -> dict:
    """What a build in a new process needs of this resolve to tell, as serve's resolve tells
    (resolve._articles_changed), which articles alone changed since: each article by its slug
    and the digest of its files, the entities by theirs, the rest of what resolving reads, and
    the order of the articles (which the export files follow)."""
    fps, d = run.fingerprints, r.dossier
    return {"articles": tuple((a.slug, fps(a)) for a in d.articles), "entities": tuple(map(fps, d.entities)),
            "rest": digest(fps(d.site), fps(d.pages), sorted(d.broken_ids)), "site": digest(FORMAT, d.site),
            "unique_claims": r.basis.unique_claims, "in_order": r.slugs_in_order}


def _articles_changed_since(last: BuildCache, shape: dict, r: Resolved) -> Optional[frozenset[str]]:
    """The slugs of the articles whose files changed since the last build, if they are few and
    the rest of the dossier is as it was (the conditions of resolve._articles_changed, told by
    digests instead of objects): the dossier is then the last one but for these, as after
    serve's resolve_changes. None if not, or if the last build left no shape."""
    was = last.shape
    if (not was or not was["unique_claims"] or len(was["articles"]) != len(shape["articles"])
            or was["entities"] != shape["entities"] or was["rest"] != shape["rest"]):
        return None
    changed = [i for i, (now, then) in enumerate(zip(shape["articles"], was["articles"])) if now != then]
    if len(changed) > CHANGES_FOLLOWED:
        return None
    for i in changed:
        (slug, _), (old_slug, old_key) = shape["articles"][i], was["articles"][i]
        old = last.loaded.get(old_key)
        if (slug != old_slug or old is None or old.value is None
                or [c.id for c in r.dossier.articles[i].claims] != [c.id for c in old.value.claims]):
            return None
    return frozenset(shape["articles"][i][0] for i in changed)


def _static_clashes(site: Path, made: list[str], search: bool, diags: Diagnostics) -> bool:
    """Report the files of static/ that clash in kind with the files the build `made` (and the
    search index's folder); True if one does: the output could not be written, and the build
    goes no further (what cannot be copied is told too, as copying it would)."""
    files, odd = inputs.copied_files(site / "static", within=site)
    static = [(rel, path.relative_to(site).as_posix()) for rel, path in files]
    if not linkcheck.report_clashes(made, linkcheck.GENERATED_LATER if search else (), static, diags):
        return False
    for path, message in odd:
        diags.error(Pos(path.relative_to(site).as_posix()), message)
    return True


def _replaced_by_static(copied: list[str], run: _Run) -> set[str]:
    """The pages made by this build that a file of static/ replaced (`copied`: its paths).

    Their links and ids are the file's, not the render's; and the cache forgets them, and
    their groups, so that the next build makes them again (if the file is gone, the page
    must come back) instead of keeping what the output holds.
    """
    replaced = {path for path in copied if path in run.cache.pages}
    if replaced:
        for path in replaced:
            del run.cache.pages[path]
        run.cache.groups = {name: g for name, g in run.cache.groups.items() if replaced.isdisjoint(g[1])}
        run.cache.world = ""  # no build keeps every page as it is after this one
    return replaced


def check_links(renderer: SiteRenderer, staged: StagedOutput, run: _Run, site: Path, diags: Diagnostics,
                replaced: frozenset[str] | set[str] = frozenset()) -> None:
    """The link check `check` runs, over this build's output before it is kept.

    Pages rendered now come as the workers read them, the others as their
    records say (see linkcheck.LinkChecker); any other HTML file (a static
    page, also one that `replaced` a page rendered here) is read here.
    """
    files = staged.files()  # the pages and other files made: the cache and stamps come later
    same_files = files == run.previous.files and not replaced  # a replaced page's records say nothing of it
    changed = {p for p in staged.fresh if p.endswith(".html")}
    if same_files and not changed:
        # The same files as the last build, and every page as it was: so is every verdict.
        problems = list(run.previous.link_problems)
    elif same_files and _same_ids(changed, run):
        # Every other page's links land where they did, on the same ids: only these need a look.
        problems = [p for p in run.previous.link_problems if p.page not in changed]
        problems += _find_link_problems(renderer, staged, run, site, files, only=changed)
    else:
        problems = _find_link_problems(renderer, staged, run, site, files)
    run.cache.link_problems = tuple(problems)
    if problems:
        linkcheck.report(problems, site, _link_sources(renderer, site, files, replaced), diags)


def _same_ids(pages: set[str], run: _Run) -> bool:
    """True if each page was made by this build and by the last, with the same element ids."""
    for path in pages:
        old, new = run.previous.pages.get(path), run.cache.pages.get(path)
        if not (old and new and old.links is not None and new.links is not None and old.links.ids == new.links.ids):
            return False
    return True


def _find_link_problems(renderer: SiteRenderer, staged: StagedOutput, run: _Run, site: Path,
                        files: set[str], only: Optional[set[str]] = None) -> list[linkcheck.Problem]:
    checker = linkcheck.LinkChecker(renderer.site.base_url, linkcheck.GENERATED_LATER, read=staged.read_text)
    for path in sorted(files):
        record = run.cache.pages.get(path)
        if not path.endswith(".html"):
            checker.add_file(path)
        elif record is not None and record.links is not None:
            checker.add_summary(path, record.links, fresh=path in run.rendered)
        else:
            checker.add_page(path, staged.read_text(path))
    return checker.check(only)


def _link_sources(renderer: SiteRenderer, site: Path, files: set[str],
                  replaced: frozenset[str] | set[str] = frozenset()) -> dict[str, list[str]]:
    sources = linkcheck.page_sources(renderer.r)
    sources.update((path, [f"static/{path}"]) for path in files
                   if path.endswith(".html") and (path in replaced or path not in sources)
                   and (site / "static" / path).is_file())
    return sources


def _save_cache(staged: StagedOutput, run: _Run, site: Path, persist: bool) -> None:
    """Write the cache, or keep the previous file when this build computed nothing new;
    and the stamps of the files read, for the next build (see inputs.STAMPS_FILE).
    Without `persist`, neither: the cache stays in memory (see BuildCache.remember)."""
    run.cache.files = frozenset(staged.files())
    if not persist:
        return
    counts = staged.written, staged.linked
    staged.put(inputs.STAMPS_FILE, inputs.stamps_file(site))
    staged.written, staged.linked = counts  # neither is a page
    same = (not run.misses and run.cache.files == run.previous.files
            and run.cache.loaded.keys() == run.previous.loaded.keys()
            and run.cache.analyses.keys() == run.previous.analyses.keys()
            and run.cache.records == run.previous.records
            and run.cache.pages == run.previous.pages and run.cache.looked_up == run.previous.looked_up
            and run.cache.groups == run.previous.groups and run.cache.sources == run.previous.sources
            and run.cache.link_problems == run.previous.link_problems
            and run.cache.state == run.previous.state)
    if same and (run.previous.base is None or staged.link_previous(BASE_FILE)) and staged.link_previous(CACHE_FILE):
        run.cache.chunks, run.cache.base = run.previous.chunks, run.previous.base
        return
    kept = run.cache.kept_from(run.previous)
    base = run.cache.base_for(run.previous, kept)
    if base is not None and not _keep_base(base, staged):
        base = None
    staged.write_with(CACHE_FILE, lambda f: run.cache.dump_to(f, kept, base))
    staged.written -= 1  # the cache is not a page


def _keep_base(base: tuple, staged: StagedOutput) -> bool:
    """Keep in the output the full cache file that the one written now refers to: the base the
    last cache referred to, or the last cache itself, linked as the base."""
    if Path(base[0]).name == BASE_FILE:
        return staged.link_previous(BASE_FILE)
    return staged.link_previous_as(CACHE_FILE, BASE_FILE)


def _reuse(path: str, key: str, run: _Run, staged: StagedOutput, changed: frozenset = frozenset()) -> bool:
    """Link the previous output's file if its inputs are the same (its key, and none of its
    look-ups among those that now return something `changed`); True if done."""
    old = run.previous.pages.get(path)
    if old and old.key == key and changed.isdisjoint(old.deps) and staged.link_previous(path):
        run.cache.pages[path] = old
        return True
    return False


def _keep_group(name: str, key: str, run: _Run, staged: StagedOutput, changed: frozenset) -> bool:
    """Take a group's pages as the last build made them if its inputs are the same (see
    render.SpecGroup) and none of its pages made a look-up that now returns something else;
    True if done. Its specs are then never made: for most of the pages of a large dossier,
    making them and digesting their contexts would be most of an edit's work."""
    old = run.previous.groups.get(name)
    if old is None or old[0] != key:
        return False
    records = [run.previous.pages.get(path) for path in old[1]]
    if None in records or (changed and not all(changed.isdisjoint(r.deps) for r in records)):
        return False
    for n, path in enumerate(old[1]):
        if not staged.link_previous(path):  # gone from the output: the group is made again
            for linked in old[1][:n]:
                staged.forget(linked)
            return False
    for path, record in zip(old[1], records):
        run.cache.pages[path] = record
    run.cache.groups[name] = old
    return True


def _keep_all(staged: StagedOutput, run: _Run) -> bool:
    """Take every page of the last build as it is; False (and nothing counted) if one is missing."""
    linked = staged.linked
    for path in run.previous.pages:
        if not staged.link_previous(path):
            staged.linked = linked
            return False
    run.cache.pages.update(run.previous.pages)
    run.cache.groups = run.previous.groups
    run.cache.sources = run.previous.sources
    run.cache.looked_up = run.previous.looked_up
    _records_kept(run)
    return True


def _records_kept(run: _Run) -> None:
    """The export files are the last build's: so are their records."""
    last = run.previous
    run.cache.records, run.cache.record_keys, run.cache.record_owners = last.records, last.record_keys, last.record_owners


def _exports(renderer: SiteRenderer, staged: StagedOutput, run: _Run, common: str):
    """The export files: (make, keep), or None when the last build's are still right.

    make() writes them (dossier.json, claims.csv, ...: made from the whole
    dossier at once, seconds for a large one) and returns what keep(made)
    records. It runs here while the workers render the pages: in a process
    of its own it would read, and so copy, the whole of this one's memory.
    """
    r, fps = renderer.r, run.fingerprints
    key = _export_key_from_last(r, run, common)
    if key is None:
        # What the export files are made from: the site, each article but its text (what its
        # sidecar says, its claims with it, and the order of its claims in the text), the entities.
        articles = [(a.slug, run.article_cards.get(a.slug) or fps(a), r.analyses[a.slug].footnotes)
                    for a in sorted(r.dossier.articles, key=lambda a: a.slug)]
        key = f"export:{digest(common, articles, fps(tuple(r.entities.values())))}"
    paths = [p for p, rec in run.previous.pages.items() if rec.key == key]
    # Kept only if the last build made every one: one a static file replaced was not (see
    # _replaced_by_static), and must be made again if that file is gone.
    whole = set(paths) == _export_paths(r.dossier.site)
    if CHECK_UNREACHED and whole:  # kept: they must be what they would be made
        assert all(staged.out.joinpath(path).read_bytes() == text.encode() for path, text in export.files(r)), \
            "the export files' inputs changed unseen"
    if whole and all(_reuse(p, key, run, staged) for p in paths):
        _records_kept(run)
        return None

    def make() -> list[tuple[str, str, bool]]:
        counts = staged.written, staged.linked  # counted by keep()
        made = []
        with PreviousRecords(staged.out, run.previous, verify=staged.holds is None) as previous:
            edits = _record_edits(r, run, staged, previous)
            if edits is None:  # the records are all made: those of other objects are gone
                run.cache.records, run.cache.record_keys, run.cache.record_owners = {}, {}, {}
            memo = _record_memo(run, previous)
            for path, parts in export.file_parts(r, memo):  # tens of MB: written as made
                if edits is not None and path in edits:
                    made.append(_put_edited(path, edits[path], run, staged, previous))
                    if CHECK_UNREACHED:
                        _check_edited(path, parts, run, staged)
                    continue
                whole = hashlib.blake2b(digest_size=16)
                wrote = staged.put_parts(path, _encoded(parts, whole, path, run.cache.records, run.cache.record_owners))
                whole.update(b"\0")  # now digest(the file's bytes)
                made.append((path, whole.hexdigest(), wrote))
        staged.written, staged.linked = counts
        return made

    def keep(made: list[tuple[str, str, bool]]) -> None:
        for path, output, wrote in made:
            staged.note(path, wrote)
            if wrote:
                staged.written += 1
            else:
                staged.linked += 1
            run.cache.pages[path] = PageRecord(key, (), output)

    return make, keep


def _export_paths(site) -> set[str]:
    """The paths of the export files a build of this site makes (export.file_parts)."""
    paths = {"dossier.json", export.SCHEMA_NAME, "claims.csv", "robots.txt"}
    return paths | {"feed.xml"} if site.base_url else paths


def _export_key_from_last(r: Resolved, run: _Run, common: str) -> Optional[str]:
    """The export files' key, made from the last build's when the dossier was resolved from the
    last one (see Resolved.changed; None if it was not): that key if each changed article's card
    and the order of its claims are as they were, else that key with what changed. Such a key
    stands for these inputs alone (the last one stood for the rest), without digesting them all."""
    last, record, before = run.previous.resolved, run.previous.pages.get("dossier.json"), run.previous.sources
    if r.changed is None or last is None or record is None or before.get("") != common:
        return None
    changes = [(slug, run.article_cards.get(slug), r.analyses[slug].footnotes) for slug in sorted(r.changed)
               if (before.get(f"card:{slug}") != run.article_cards.get(slug)
                   or r.analyses[slug].footnotes != last.analyses[slug].footnotes)]
    return f"export:{digest(record.key, changes)}" if changes else record.key


def _record_memo(run: _Run, previous: PreviousRecords) -> export.Memo:
    """Export records as the last build wrote them when their inputs are the same (see export.Memo)."""
    fps = run.fingerprints
    # A process's last build keyed its records by the very objects they were made from too:
    # the same objects (the model's values are frozen), the same key, without digesting them.
    known = run.previous.record_keys  # run.cache.record_keys: those this build makes (see make in _exports)

    def memo(kind: str, inputs: tuple, make, owner: str = "") -> export.Record:
        # The inputs are held with the key: no object named by its id here can go and leave its id to another.
        ident = (kind, *[tuple(map(id, x)) if type(x) is tuple else id(x) for x in inputs])
        held = known.get(ident)
        if held is not None:
            key = held[1]
        else:
            # Fingerprints are hex digits or reprs (no NUL in either): joined, they say which is which.
            key = hashlib.blake2b("\0".join([kind, *map(fps, inputs)]).encode(), digest_size=16).digest()
        run.cache.record_keys[ident] = (inputs, key)
        text = previous.text(key)
        if text is None:
            text = make()
            run.misses += 1
        record = export.Record(text)
        record.key, record.owner = key, owner
        return record

    return memo


def _encoded(parts, whole, path: str, places: dict, owners: dict) -> Iterator[bytes]:
    """Each part of a file as bytes, added to the `whole` digest; where each record lies goes in
    `places`, its key under its article in `owners` (see BuildCache.records, record_owners)."""
    offset = 0
    for part in parts:
        data = part.encode("utf-8")
        whole.update(data)
        if type(part) is export.Record and part.key is not None:
            places[part.key] = (path, offset, len(data))
            if part.owner:
                owners.setdefault(part.owner, []).append(part.key)
        offset += len(data)
        yield data


# An edit to a record file: where the last build's record lay (start, length), the bytes of
# the record now and its key.
_Edit = tuple[int, int, bytes, bytes]


def _record_edits(r: Resolved, run: _Run, staged: StagedOutput,
                  previous: PreviousRecords) -> Optional[dict[str, list[_Edit]]]:
    """The records of the export.RECORD_FILES to rewrite, by file, in the file's order: those of
    the articles that changed; the cache's records moved to where they will lie. None if the
    files must be made in full: the dossier is not the last one but for some articles (its site
    and entities are then the last ones, see Resolved.changed), the articles are in another
    order, or the files are not the ones the last build wrote (an output not this process's own
    is read to tell). A changed article's records are as many as its last ones, in the same
    files (it has the same claim ids); were they not, the files would be made in full."""
    last = run.previous
    if r.changed is None or not last.record_owners or r.slugs_in_order != _last_order(last):
        return None
    if not all(path in last.pages for path in export.RECORD_FILES):  # one a static file replaced: not the last build's
        return None
    if staged.holds is None and not all(previous.as_written(path) for path in export.RECORD_FILES):
        return None
    gone = {key for slug in r.changed for key in last.record_owners.get(slug, ())}
    # Carried on, but for the changed articles' last records: their objects go, the new ones come.
    run.cache.record_keys = {ident: held for ident, held in last.record_keys.items() if held[1] not in gone}
    memo = _record_memo(run, previous)
    articles = {a.slug: a for a in r.dossier.articles if a.slug in r.changed}
    edits: dict[str, list[_Edit]] = {path: [] for path in export.RECORD_FILES}
    owners = dict(last.record_owners)
    for slug in r.changed:
        was = [last.records.get(key) for key in last.record_owners.get(slug, ())]
        now = export.article_records(r, articles[slug], memo)
        if None in was or [w[0] for w in was] != [path for path, _ in now]:
            return None
        for (path, start, length), (_, record) in zip(was, now):
            edits[path].append((start, length, record.encode("utf-8"), record.key))
        owners[slug] = [record.key for _, record in now]
    for found in edits.values():
        found.sort()
    run.cache.records = _records_moved(last.records, edits, gone)
    run.cache.record_owners = owners
    return edits


def _last_order(last: BuildCache) -> Optional[tuple[str, ...]]:
    """The order of the last build's articles: from its resolve, kept in this process's memory,
    or else from its shape, kept in the cache."""
    return last.resolved.slugs_in_order if last.resolved is not None else last.shape.get("in_order")


def _records_moved(places: dict, edits: dict[str, list[_Edit]], gone: set[bytes]) -> dict:
    """Where each record lies once the files are edited: those after an edit moved by what it
    added or took away, those edited where their new bytes go, those replaced (`gone`) no more."""
    shifts = {path: ([start for start, *_ in found], list(itertools.accumulate(
        (len(data) - length for _, length, data, _ in found), initial=0))) for path, found in edits.items()}
    moved = {}
    for key, (path, start, length) in places.items():
        if key not in gone:
            starts, by = shifts[path]
            moved[key] = (path, start + by[bisect.bisect_left(starts, start)], length)
    for path, found in edits.items():
        by = shifts[path][1]
        for n, (start, _, data, key) in enumerate(found):
            moved[key] = (path, start + by[n], len(data))
    return moved


def _put_edited(path: str, edits: list[_Edit], run: _Run, staged: StagedOutput,
                previous: PreviousRecords) -> tuple[str, str, bool]:
    """A record file written as the last build's with `edits` made: (path, a digest that stands
    for its bytes, whether written). In an output of this process's own (serve) the digest is
    made from the last one and the edits, not from the bytes, which no other process checks;
    else it is the bytes' (the next build reads them to tell, see _record_edits), made from the
    last file's bytes and the edits while the new file is written."""
    spliced = [(start, length, data) for start, length, data, _ in edits]
    wrote = staged.put_edited(path, spliced)
    if staged.holds is None:
        return path, previous.edited_digest(path, spliced), wrote
    last = run.previous.pages[path].output
    return path, digest("edited", last, [(start, length, key) for start, length, _, key in edits]), wrote


def _check_edited(path: str, parts, run: _Run, staged: StagedOutput) -> None:
    """The test suite's check of an edited record file: the bytes a full make gives, and its
    records where a full make puts them. An article edited before keeps the key its record had
    then (a full make keys it anew): the same bytes, in the same place."""
    places: dict = {}
    whole = b"".join(_encoded(parts, hashlib.blake2b(), path, places, {}))
    assert staged.read_bytes(path) == whole, f"{path}: edited, it is not what a full make gives"
    kept = {k: v for k, v in run.cache.records.items() if v[0] == path}
    assert sorted(kept.values()) == sorted(places.values()), f"{path}: records misplaced"
    assert all(kept[k] == places[k] for k in kept.keys() & places.keys()), f"{path}: records misplaced"


def write_pages(renderer: SiteRenderer, staged: StagedOutput, run: _Run,
                copies: Optional[search_stage.SearchCopies] = None) -> tuple[list[str], list[str]]:
    """Render each page whose inputs changed, on every core; link the others from the last output.
    A page rendered leaves its search copy in `copies`, if given.

    Returns the paths rendered and, of those, the paths whose bytes changed.
    """
    r, fps = renderer.r, run.fingerprints
    articles = r.by_slug
    lookups = {"entity": r.entities.get, "claim": r.claims.get, "article-text": articles.get,
               "article": lambda slug: _headline(articles.get(slug)),
               "article-card": lambda slug: run.article_cards.get(slug) or articles.get(slug)}

    memo: dict[tuple[str, str], str] = {}

    def dep_digest(dep: tuple[str, str]) -> str:
        found = memo.get(dep)
        if found is None:
            found = memo[dep] = fps(lookups[dep[0]](dep[1]))
        return found

    common = digest(FORMAT, renderer.templates_digest(), fps(r.dossier.site), fps(r.dossier.pages))
    run.cache.world = _world(r, run, common)
    if run.cache.world == run.previous.world and _keep_all(staged, run):
        return [], []
    exports = _exports(renderer, staged, run, common)
    changed_sources = _sources_changed(renderer, run, common)
    # The last build's look-ups (some 60,000 at 10,000 articles, made a million times by its
    # pages) whose values changed: a page is kept only if it made none of them.
    changed_deps = _changed_lookups(run, renderer.r, changed_sources, dep_digest)
    reached = None if changed_sources is None else _groups_reached(renderer, run, changed_sources)
    todo: list[tuple[PageSpec, str]] = []
    unreached = []
    for name, make_group in renderer.group_plan():
        old = run.previous.groups.get(name)
        if reached is not None and old is not None and name not in reached:
            # Its sources are as they were, and so its inputs: kept without being made, below.
            if CHECK_UNREACHED:
                _check_unreached(make_group(), old[0], common, fps)
            run.cache.groups[name] = old  # in the plan's place, whether it is kept or made again
            unreached.append((name, old, make_group))
            continue
        todo += _pages_to_make(make_group(), run, staged, changed_deps, common)
    for name, old, make_group in _keep_groups(unreached, run, staged, changed_deps):
        todo += _pages_to_make(make_group(), run, staged, changed_deps, common)
    if len(todo) >= parallel.POOL_THRESHOLD:
        renderer.warm()  # compile templates once, before workers fork

    link_reader = linkcheck.PageReader(renderer.site.base_url)

    def render_one(i: int):
        spec, key = todo[i]
        try:
            page = renderer.render(spec)
        except Exception as exc:  # reported by the parent, which has no traceback of ours
            pos = template_error_pos(exc, renderer.site_dir)
            # The trace only for a bug: a template error may fail thousands of pages.
            return _RenderFailure(pos, template_error_message(exc), traceback.format_exc() if pos is None else "")
        data = page.text.encode("utf-8")
        links = link_reader.summarize(spec.path, page.text) if spec.path.endswith(".html") else None
        if copies is not None:
            copies.add(spec.path, page.text)
        # The look-ups travel alone; the parent has their digests (see below).
        record = PageRecord(key, tuple(sorted(page.deps)), digest(data), links)
        old = run.previous.pages.get(spec.path)
        if old and old.output == record.output and staged.link_previous(spec.path):
            return record, False
        staged.write(spec.path, data)
        return record, True

    counter = run.progress.counter("rendered {done}/{total} pages", len(todo))
    written, linked = staged.written, staged.linked  # workers count in their own copies
    results: list = [None] * len(todo)
    renewed = len(todo) >= RENDER_WORKERS_RENEWED_FROM
    # The claims index lists every claim once: rendered here first, the claim lines it makes
    # (see SiteRenderer._reuse) are there for the entity pages of every worker. Not in a build
    # large enough to fork workers afresh all along: at 10,000 articles, holding every claim's
    # line in the process they are forked from cost 0.1 GB and more system time, for no gain
    # in CPU that could be measured.
    canonical: dict[tuple[str, str], tuple[str, str]] = {}

    def held_once(result):
        # Each look-up held once, however many pages made it (its digest: in looked_up), from
        # the moment its page comes: a million at 10,000 articles, some 50 MB held twice.
        if not isinstance(result, _RenderFailure):
            result[0].deps = tuple([canonical.setdefault(d, d) for d in result[0].deps])
        return result

    first = [] if renewed else [i for i, (spec, _) in enumerate(todo) if spec.template == WARMS_FRAGMENTS]
    for i in first:
        results[i] = held_once(render_one(i))
    counter(len(first))
    made_here = set(first)
    order = [i for i in _spread_wide_pages([spec for spec, _ in todo]) if i not in made_here]
    in_order, made = parallel.run_beside(lambda n: render_one(order[n]), len(order),
                                         lambda done: counter(len(first) + done),
                                         exports[0] if exports else lambda: None,
                                         worker_items=RENDER_WORKER_ITEMS if renewed else 0, take=held_once)
    for n, i in enumerate(order):
        results[i] = in_order[n]
    failures = [result for result in results if isinstance(result, _RenderFailure)]
    if failures:
        raise _failed(failures)
    rendered, changed = [], []
    for (spec, _), result in zip(todo, results):
        record, wrote = result
        run.cache.pages[spec.path] = record
        run.rendered.add(spec.path)
        staged.note(spec.path, wrote)
        rendered.append(spec.path)
        if wrote:
            changed.append(spec.path)
    run.misses += len(todo)
    staged.written = written + len(changed)
    staged.linked = linked + len(rendered) - len(changed)
    if exports:
        exports[1](made)
    # In the order of their paths, as in every build: the cache's chunks then hold the same
    # pages as the last build's, and those that did not change are copied (see BuildCache.dump_to).
    run.cache.pages = dict(sorted(run.cache.pages.items()))
    run.cache.looked_up = _looked_up(run, rendered, changed_deps, dep_digest)
    return rendered, changed


def _pages_to_make(group, run: _Run, staged: StagedOutput, changed: frozenset, common: str) -> list[tuple[PageSpec, str]]:
    """The pages of a group that must be rendered, with their keys; the group's others (or all
    of them, if its inputs are the last build's) are taken as they were."""
    fps = run.fingerprints
    group_key = None if group.inputs is None else digest(common, group.name, fps(group.inputs))
    if group_key is not None and _keep_group(group.name, group_key, run, staged, changed):
        return []
    specs, todo = list(group.make()), []
    for spec in specs:
        text_key = hashlib.blake2b(spec.text.encode(), digest_size=16).hexdigest() if spec.text is not None else None
        # A group of one page (an article's) is what its inputs make: their digest stands for
        # its context. A page of a larger group is keyed on its own context: a claim changed
        # on one page of the claims index leaves the other pages' keys as they were.
        context = (group_key if group_key is not None and len(specs) == 1
                   else fps(spec.inputs if spec.inputs is not None else spec.context))
        key = digest(common, spec.path, spec.template, context, text_key)
        if not _reuse(spec.path, key, run, staged, changed):
            todo.append((spec, key))
    if group_key is not None:
        run.cache.groups[group.name] = (group_key, tuple(spec.path for spec in specs), tuple(sorted(group.sources)))
    else:
        run.cache.groups.pop(group.name, None)
    return todo


def _keep_groups(groups: list[tuple[str, tuple, object]], run: _Run, staged: StagedOutput, changed: frozenset) -> list:
    """_keep_group for the groups no changed source reached (12,000 at 10,000 articles after an
    edit), all at once when every page of theirs is there and made none of the `changed`
    look-ups; else one by one. Returns those that cannot be kept: made again."""
    pages = run.previous.pages
    paths = [path for _, old, _ in groups for path in old[1]]
    records = [pages.get(path) for path in paths]
    if (None not in records and not (changed and any(not changed.isdisjoint(r.deps) for r in records))
            and staged.link_all_previous(paths)):
        run.cache.pages.update(zip(paths, records))
        return []
    return [group for group in groups if not _keep_group(group[0], group[1][0], run, staged, changed)]


def _world(r: Resolved, run: _Run, common: str) -> str:
    """The digest of every input of every page: the templates, the site, the articles (with
    their analyses) and the entities. When none of them changed, every page is the last build's,
    unexamined. After a resolve from the last one (Resolved.changed), the last digest with the
    changed articles' keys: those articles were read again, so their keys are not the last ones."""
    if r.changed and run.previous.world and run.previous.sources.get("") == common:
        return digest("changed", run.previous.world, sorted((s, run.article_keys.get(s)) for s in r.changed))
    return digest(common, sorted(run.cache.analyses), sorted(run.article_keys.values()),
                  run.fingerprints(tuple(r.entities.values())))


def _looked_up(run: _Run, rendered: list[str], changed_deps: frozenset, dep_digest) -> dict[tuple[str, str], str]:
    """The look-ups the pages made, in the order the pages first make them, with their digests."""
    was = run.previous.looked_up  # a look-up not among those that changed has the digest it had
    # After most edits, the last table with the values that changed made again.
    kept = {**was, **{d: dep_digest(d) for d in changed_deps}} if _same_lookups_made(run, rendered) else None
    if kept is not None and not CHECK_UNREACHED:
        return kept
    looked = dict.fromkeys(itertools.chain.from_iterable(record.deps for record in run.cache.pages.values()))
    made = {d: was[d] if d in was and d not in changed_deps else dep_digest(d) for d in looked}
    assert kept is None or list(kept.items()) == list(made.items()), "the look-ups kept are not those the pages made"
    return made


def _same_lookups_made(run: _Run, rendered: list[str]) -> bool:
    """True if the pages are the last build's and those rendered made the same look-ups as then:
    the table of look-ups is then the last one (a million made by the pages at 10,000 articles)."""
    old, new = run.previous.pages, run.cache.pages
    return (bool(run.previous.looked_up) and old.keys() == new.keys()
            and all(old[path].deps == new[path].deps for path in rendered))


# Builds of one process (serve) that go on with the digests the first of them made (see _build).
CARRIED_BUILDS = 100


# Set by the test suite: every group a build keeps unmade because its sources did not change is
# made anyway, and its inputs checked to be the last build's (see _groups_reached); every look-up
# is made again, and those that changed checked to be the ones found from the sources (_changed_lookups).
CHECK_UNREACHED = os.environ.get("DOSSIER_CHECK_UNREACHED") == "1"


def _sources_changed(renderer: SiteRenderer, run: _Run, common: str) -> Optional[set[str]]:
    """The sources (render.SOURCES) whose digests differ from the last build's; None if the
    templates or the site changed, which every page draws on. Records the digests for the next build."""
    r, before = renderer.r, run.previous.sources
    if before.get("") != common:
        run.cache.sources = _source_digests(r, run, common)
        return None
    if r.changed is not None:
        # Resolved from the last build's dossier (its entities too), but for these articles.
        now = {**before, **_article_sources(r, run, r.changed)}
        found = {s for slug in r.changed for s in (f"article:{slug}", f"card:{slug}", f"hits:{slug}", f"claims:{slug}")
                 if now[s] != before.get(s)}
        if CHECK_UNREACHED:
            assert list(now.items()) == list(_source_digests(r, run, common).items()), "sources changed unseen"
    else:
        now = _source_digests(r, run, common)
        found = {s for s in now.keys() | before.keys() if now.get(s) != before.get(s)}
    run.cache.sources = now
    return found


def _source_digests(r: Resolved, run: _Run, common: str) -> dict[str, str]:
    """Each source's digest; "": the templates and the site, which every page draws on."""
    now = {"": common, **_article_sources(r, run, None)}
    now.update((f"entity:{e.id}", run.fingerprints(e)) for e in r.entities.values())
    return now


def _article_sources(r: Resolved, run: _Run, slugs: Optional[frozenset[str]]) -> dict[str, str]:
    """The digests of the articles' sources (of those with these slugs, if given)."""
    fps, now = run.fingerprints, {}
    for a in r.dossier.articles if slugs is None else [r.by_slug[s] for s in sorted(slugs) if s in r.by_slug]:
        now[f"article:{a.slug}"] = run.analysis_keys.get(a.slug) or fps((a, r.analyses[a.slug]))
        now[f"card:{a.slug}"] = run.article_cards.get(a.slug) or fps(a)
        order = article_order(a)
        now[f"hits:{a.slug}"] = fps((r.analyses[a.slug].hits, order))  # each mention's digest is known
        now[f"claims:{a.slug}"] = fps((a.claims, order))  # each claim's too
    return now


# The kinds of look-up whose values each kind of source gives (render.SOURCES): equal digests,
# equal values. A claim is what its article's sidecar says (the card); one no longer there
# returns None.
LOOKUPS_OF_SOURCE = {"entity": ("entity",), "card": ("article", "article-card", "claim"), "article": ("article-text",)}


def _headline(article: Optional[Article]) -> Optional[tuple]:
    """What the look-up "article" gives a page (see render.ArticleLookedUp)."""
    return tuple(getattr(article, name) for name in HEADLINE) if article is not None else None


def _changed_lookups(run: _Run, r: Resolved, changed_sources: Optional[set[str]], dep_digest) -> frozenset:
    """The last build's look-ups whose values changed. Only those whose source changed are
    looked up again (after an edit, a few of some 60,000); all of them if that is not known."""
    if changed_sources is None or CHECK_UNREACHED:
        exact = frozenset([d for d, was in run.previous.looked_up.items() if dep_digest(d) != was])
        if changed_sources is None:
            return exact
    gone = run.fingerprints(None)
    # For each kind of look-up, the keys whose source changed (a claim's: its article's card).
    changed_keys: dict[str, set[str]] = {kind: set() for kinds in LOOKUPS_OF_SOURCE.values() for kind in kinds}
    for source in changed_sources:
        kind, _, key = source.partition(":")
        for lookup in LOOKUPS_OF_SOURCE.get(kind, ()):
            changed_keys[lookup].add(key)
    cards, claims, table = changed_keys["claim"], r.claims, run.previous.looked_up

    def changed(dep: tuple[str, str], was: str) -> bool:
        kind, key = dep
        if kind == "claim":
            claim = claims.get(key)
            maybe = claim.article in cards if claim is not None else was != gone
        else:
            maybe = key in changed_keys[kind]
        return maybe and dep_digest(dep) != was

    last = run.previous.resolved
    if last is None:  # which claims the changed cards held is not known: every look-up is looked at
        found = [dep for dep, was in table.items() if changed(dep, was)]
    else:
        # Only those of the changed sources: the claims the changed cards hold and held.
        probes = [(kind, key) for kind, keys in changed_keys.items() if kind != "claim" for key in keys]
        held = [d.by_slug.get(slug) for d in (r, last) for slug in cards]
        probes += [("claim", c.id) for a in held if a is not None for c in a.claims]
        found = [dep for dep in probes if dep in table and changed(dep, table[dep])]
    if CHECK_UNREACHED:
        assert frozenset(found) == exact, f"look-ups changed unseen: {sorted(exact - frozenset(found))[:5]}"
    return frozenset(found)


def _groups_reached(renderer: SiteRenderer, run: _Run, changed: set[str]) -> set[str]:
    """The groups whose inputs may differ from the last build's, given the sources that changed.

    A group is reached if one of the sources the last build drew its inputs from
    changed (render.SOURCES), or if a changed source draws it in now (an article
    that names an entity for the first time)."""
    reached = {name for name, (_, _, sources) in run.previous.groups.items() if not changed.isdisjoint(sources)}
    for source in changed:
        reached |= renderer.groups_reached(source)
    return reached


def _check_unreached(group, key: str, common: str, fps: Fingerprints) -> None:
    if digest(common, group.name, fps(group.inputs)) != key:
        raise AssertionError(f"group {group.name} changed, but no changed source reached it")


def _spread_wide_pages(specs: list[PageSpec]) -> list[int]:
    """The order to render pages in: those that list from all over the dossier (entity,
    claims, index pages) spread evenly among the article pages.

    A render worker copies the memory of every inherited object it reads: given such
    pages in a row (there are thousands), each would copy much of the dossier."""
    places = []
    for group in ([i for i, spec in enumerate(specs) if spec.template == "article.html"],
                  [i for i, spec in enumerate(specs) if spec.template != "article.html"]):
        places += [((n + 0.5) / len(group), i) for n, i in enumerate(group)]
    return [i for _, i in sorted(places)]


@dataclass
class _RenderFailure:
    pos: Optional[Pos]  # None: not the site's templates, a bug in Dossier
    message: str
    trace: str


class TemplateFailures(Exception):
    """The template errors the pages met, each (position, message) once however many pages
    met it: one mistake in a template every article page uses is one error, not 10,000."""

    def __init__(self, found: Iterable[tuple[Pos, str]]):
        self.found = list(dict.fromkeys(found))
        super().__init__("; ".join(message for _, message in self.found))

    def report(self, diags: Diagnostics) -> None:
        for pos, message in self.found:
            diags.error(pos, message)


def _failed(failures: list[_RenderFailure]) -> Exception:
    """What pages that failed to render raise: a bug, if one is Dossier's, else every template error."""
    for failure in failures:
        if failure.pos is None:
            return RuntimeError(f"a page failed to render:\n{failure.trace}")
    return TemplateFailures((failure.pos, failure.message) for failure in failures)


def template_failures(exc: Exception, site: Path) -> Optional[TemplateFailures]:
    """The template errors an exception raised while rendering stands for; None if it is a bug."""
    if isinstance(exc, TemplateFailures):
        return exc
    pos = template_error_pos(exc, site)
    return None if pos is None else TemplateFailures([(pos, template_error_message(exc))])
