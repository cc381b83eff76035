"""The pipeline, top to bottom: load -> resolve -> render -> write.

Per-article work (anchoring, the article body's HTML) runs on every core
and is cached by the digest of its inputs; a page whose inputs did not
change is taken from the previous output as is (see cache.py).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from . import linkcheck
from . import load as load_stage
from . import markup
from . import search as search_stage
from .anchor import NameMatcher
from .cache import CACHE_FILE, FORMAT, BuildCache, PageRecord, digest
from .diagnostics import Diagnostics, template_error_pos, template_error_message
from .model import Article
from .render import SiteRenderer
from .resolve import Analysis, Resolved, anchor_article, resolve
from .urls import entity_path
from .write import StagedOutput, check_output_dir

ASSETS = Path(__file__).parent / "assets"
POOL_THRESHOLD = 200  # fewer uncached articles than this: a pool costs more than it saves


@dataclass
class BuildResult:
    diagnostics: Diagnostics
    resolved: Optional[Resolved] = None
    pages: int = 0
    reused: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    analyses_used: dict[str, Analysis] = field(default_factory=dict)
    rendered: list[str] = field(default_factory=list)  # pages whose inputs changed
    changed: list[str] = field(default_factory=list)  # pages whose bytes changed

    @property
    def ok(self) -> bool:
        return not self.diagnostics.errors

    def summary(self) -> str:
        if self.resolved is None:
            return ""
        d = self.resolved.dossier
        stages = ", ".join(f"{k} {v:.2f}s" for k, v in self.timings.items())
        total = sum(self.timings.values())
        reused = f" ({self.reused} unchanged)" if self.reused else ""
        pages = f", {self.pages} pages{reused}" if self.pages else ""
        return (f"{len(d.articles)} articles, {len(d.entities)} entities, {len(self.resolved.claims)} claims"
                f"{pages} in {total:.2f}s ({stages})")


def analyse(article: Article, matcher: NameMatcher, autolink: bool) -> Analysis:
    """Everything about one article that needs only the article and the names."""
    diags = Diagnostics()
    doc = anchor_article(article, matcher, autolink, diags)
    numbers = {cid: n for n, cid in enumerate(doc.footnotes, 1)}
    body = markup.render_body(doc.tokens, doc.text, doc.spans,
                              lambda e: "../../" + entity_path(e), numbers.__getitem__)
    return Analysis(article.slug, body, tuple(doc.spans), tuple(doc.footnotes), tuple(doc.hits),
                    tuple(diags.items))


_worker_args: tuple = ()  # (matcher, autolink), inherited by forked workers


def _analyse_in_worker(article: Article) -> Analysis:
    return analyse(article, *_worker_args)


def make_analyser(cache: BuildCache, used: dict[str, Analysis]):
    """An analyser for resolve(): cached results first, the rest on all cores."""

    def analyse_all(articles: list[Article], matcher: NameMatcher, autolink: bool) -> list[Analysis]:
        global _worker_args
        keys = [digest(FORMAT, a, matcher.fingerprint, autolink) for a in articles]
        todo = [(k, a) for k, a in zip(keys, articles) if k not in cache.analyses]
        _worker_args = (matcher, autolink)
        fresh = _run_parallel([a for _, a in todo])
        cache.analyses.update((k, r) for (k, _), r in zip(todo, fresh))
        used.update((k, cache.analyses[k]) for k in keys)
        return [cache.analyses[k] for k in keys]

    return analyse_all


def _run_parallel(articles: list[Article]) -> list[Analysis]:
    cores = os.cpu_count() or 1
    if len(articles) < POOL_THRESHOLD or cores < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [_analyse_in_worker(a) for a in articles]
    with multiprocessing.get_context("fork").Pool(cores) as pool:
        return pool.map(_analyse_in_worker, articles, chunksize=max(1, len(articles) // (cores * 8)))


def check(site: Path, cache: Optional[BuildCache] = None) -> BuildResult:
    """Load and resolve only: every error `build` would report, nothing written."""
    result = BuildResult(Diagnostics())
    cache = cache or BuildCache()
    clock = time.perf_counter()
    dossier = load_stage.load(site, result.diagnostics)
    result.timings["load"] = time.perf_counter() - clock
    clock = time.perf_counter()
    result.resolved = resolve(dossier, result.diagnostics, make_analyser(cache, result.analyses_used))
    result.timings["resolve"] = time.perf_counter() - clock
    return result


def check_site(site: Path) -> BuildResult:
    """The `check` command: `check`, then every internal link of the site rendered in memory."""
    result = check(site)
    if result.ok:
        clock = time.perf_counter()
        linkcheck.check_rendered(SiteRenderer(result.resolved, site), site,
                                 [(ASSETS, "assets"), (site / "static", "")], result.diagnostics)
        result.timings["links"] = time.perf_counter() - clock
    return result


def build(site: Path, out: Path, search: bool = True) -> BuildResult:
    check_output_dir(site, out)
    previous = BuildCache.load(out)
    result = check(site, previous)
    if not result.ok:
        return result
    clock = time.perf_counter()
    renderer = SiteRenderer(result.resolved, site)
    cache = BuildCache(analyses=result.analyses_used)
    with StagedOutput(out) as staged:
        try:
            result.rendered, result.changed = write_pages(renderer, staged, previous, cache)
        except Exception as exc:  # a site's own template failed: report it like any content error
            pos = template_error_pos(exc, site)
            if pos is None:
                raise
            result.diagnostics.error(pos, template_error_message(exc))
            return result
        staged.copy_tree(ASSETS, "assets")
        staged.copy_tree(site / "static")
        result.pages, result.reused = staged.written + staged.linked, staged.linked
        staged.write(CACHE_FILE, cache.dump())
        result.timings["render+write"] = time.perf_counter() - clock
        if search:  # before the swap: a failing index leaves the old output as it was
            clock = time.perf_counter()
            search_stage.index(staged.stage, result.resolved)
            result.timings["search"] = time.perf_counter() - clock
        staged.commit()
    return result


def write_pages(renderer: SiteRenderer, staged: StagedOutput, previous: BuildCache,
                cache: BuildCache) -> tuple[list[str], list[str]]:
    """Render each page whose inputs changed; link the others from the last output.

    Returns the paths rendered and, of those, the paths whose bytes changed.
    """
    rendered, changed = [], []
    r = renderer.r
    lookups = {"entity": r.entities.get, "claim": r.claims.get,
               "article": {a.slug: a for a in r.dossier.articles}.get}
    memo: dict[tuple[str, str], str] = {}

    def dep_digest(dep: tuple[str, str]) -> str:
        if dep not in memo:
            memo[dep] = digest(lookups[dep[0]](dep[1]))
        return memo[dep]

    common = digest(FORMAT, renderer.templates_digest(), r.dossier.site, r.dossier.pages)
    for spec in renderer.specs():
        key = digest(common, spec.path, spec.template, spec.context, spec.text)
        old = previous.pages.get(spec.path)
        if old and old.key == key and all(dep_digest(d) == v for d, v in old.deps.items()) \
                and staged.link_previous(spec.path):
            cache.pages[spec.path] = old
            continue
        page = renderer.render(spec)
        rendered.append(spec.path)
        data = page.text.encode("utf-8")
        record = PageRecord(key, {d: dep_digest(d) for d in sorted(page.deps)}, digest(data))
        if not (old and old.output == record.output and staged.link_previous(spec.path)):
            staged.write(spec.path, data)
            changed.append(spec.path)
        cache.pages[spec.path] = record
    return rendered, changed
