"""Stage 2, resolve: check references, anchor quotes, build the registry.

The registry holds everything pages need that crosses files: claims by and
about each entity, mentions in context, relations in both directions,
backlinks between claims, co-occurring entities. It is filled in one pass,
or, when a process resolves a dossier again after a few articles changed
(serve), made from the last one with those articles' parts taken out and
put in again (see resolve_changes): the same registry, in the same order.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, NamedTuple, Optional
from urllib.parse import unquote

from markupsafe import Markup

from . import anchor, markup
from .diagnostics import Diagnostic, Diagnostics, link_pos
from .model import Article, Claim, Dossier, Entity, Pos, Ref, Span, unpickled_by_tuple_new
from .yamlread import ID_RE, did_you_mean

MIN_ALIAS = 3
SNIPPET = 160
RELATED = 12  # entities listed as often named alongside one


class Hit(NamedTuple):
    """One mention of an entity in an article, with its sentence (a named tuple, as model.Pos:
    an analysis holds one for every name found, some 15 an article)."""

    entity: str
    article: str
    anchor: str
    before: str
    text: str
    after: str
    explicit: bool

    __reduce__ = unpickled_by_tuple_new


@dataclass
class AnchoredArticle:
    article: Article
    tokens: list
    text: anchor.ReaderText
    spans: list[Span]
    footnotes: list[str]  # claim ids in the order of their marks
    hits: list[Hit]


@dataclass(frozen=True)
class Analysis:
    """What one article yields to the rest of the build: small, picklable, cacheable."""

    slug: str
    body: Markup  # the article's (sanitised) HTML with mention links, claim marks and footnote refs
    footnotes: tuple[str, ...]  # claim ids in the order of their marks
    hits: tuple[Hit, ...]
    diagnostics: tuple[Diagnostic, ...]
    # A digest of each hit's fields: a page listing mentions is the same while they are, as
    # they stay when the article changes elsewhere (a paragraph added after them).
    hit_keys: tuple[str, ...] = ()


# (articles, matcher, site autolink) -> one Analysis per article, in order.
Analyser = Callable[[list[Article], anchor.NameMatcher, bool], list[Analysis]]


@dataclass
class Resolved:
    dossier: Dossier
    entities: dict[str, Entity]
    claims: dict[str, Claim]
    analyses: dict[str, Analysis]
    hits: dict[str, list[Hit]] = field(default_factory=lambda: defaultdict(list))
    claims_by: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    claims_about: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    relations_in: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    supported_by: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    contradicted_by: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    related: Mapping[str, list[tuple[str, int]]] = field(default_factory=dict)  # see CoOccurrence
    # What the next resolve of this process may start from (see resolve_changes); not for pages.
    basis: Optional[Basis] = field(default=None, compare=False, repr=False)
    # The last resolve but for these articles (by slug): made from it (resolve_changes), or so
    # told by a build in a new process from what the last one recorded (build._articles_changed_since);
    # None: not known. A build then looks again only at what these reach.
    changed: Optional[frozenset[str]] = field(default=None, compare=False, repr=False)

    @functools.cached_property
    def in_order(self) -> list[Article]:
        """The articles as the home page lists them (see article_order)."""
        return sorted(self.dossier.articles, key=article_order)

    @functools.cached_property
    def slugs_in_order(self) -> tuple[str, ...]:
        return tuple(a.slug for a in self.in_order)

    @functools.cached_property
    def home_ranks(self) -> dict[str, int]:
        """Slug -> the article's place in in_order (sorting by it costs less than by article_order)."""
        return {slug: n for n, slug in enumerate(self.slugs_in_order)}

    @functools.cached_property
    def by_slug(self) -> dict[str, Article]:
        return {a.slug: a for a in self.dossier.articles}

    @functools.cached_property
    def claims_in_order(self) -> list[Claim]:
        """The claims as the claims index lists them: by status in the site's order, then as
        the home page lists their articles, then by id; none of a status the site does not know."""
        # The articles taken in their order: no sort of the 50,000 claims of a large dossier.
        members: dict[str, list[Claim]] = {s.key: [] for s in self.dossier.site.claim_statuses}
        for article in self.in_order:
            for c in sorted(article.claims, key=lambda c: c.id):
                if self.claims.get(c.id) is c and c.status in members:
                    members[c.status].append(c)
        return [c for found in members.values() for c in found]

    @functools.cached_property
    def claim_places(self) -> dict[str, int]:
        """Claim id -> its place in claims_in_order."""
        return {c.id: n for n, c in enumerate(self.claims_in_order)}

    @functools.cached_property
    def status_counts(self) -> Counter:
        """Status key -> how many claims the claims index lists under it."""
        return Counter(c.status for c in self.claims_in_order)

    def publisher_entity(self, article: Article) -> Optional[Entity]:
        return self.entities.get(article.source.publisher)


def article_order(article: Article) -> tuple:
    """Newest first; undated last, by title."""
    published = article.source.published
    return (published is None, -(published.toordinal() if published else 0), alphabetical(article.title), article.slug)


# Letters that the alphabets of Ukrainian (ґ є і ї й) put after a letter they look like: after it, not
# after я as their code points would. Other accented letters sort with their base letter (ä with a, é
# with e), as in the dictionaries of German and French; case is ignored.
_AFTER = "\U0010ffff"
_OWN_LETTERS = str.maketrans({"ґ": "г" + _AFTER, "є": "е" + _AFTER, "і": "и" + _AFTER * 2, "ї": "и" + _AFTER * 3,
                              "й": "и" + _AFTER * 4})


def alphabetical(text: str) -> tuple[str, str]:
    """A key that sorts names and titles as a reader looks them up, not by code point (Ärzte
    with the a's, not after z; Ігор after Иван, not after Яна); then by the text, for a fixed order."""
    folded = unicodedata.normalize("NFKD", text.casefold().translate(_OWN_LETTERS))
    return "".join(c for c in folded if not unicodedata.combining(c)), text


@dataclass
class Basis:
    """What a resolve found beyond the registry, kept for the next resolve of the same process."""

    matcher: anchor.NameMatcher
    shared_notes: tuple[Diagnostic, ...]  # about the entities, their names and the pages
    article_notes: dict[str, tuple[Diagnostic, ...]]  # slug -> about its references and notes
    present: dict[str, frozenset[str]]  # slug -> the entities its article names
    unique_claims: bool  # no claim id used twice
    ranks: Optional[dict[str, int]] = None  # each article's place in the dossier, once asked
    found_in_texts: dict[str, tuple[Diagnostic, ...]] = field(default_factory=dict)  # slug -> its analysis's, if any

    def places(self, r: Resolved) -> dict[str, int]:
        if self.ranks is None:
            self.ranks = {a.slug: i for i, a in enumerate(r.dossier.articles)}
        return self.ranks


CHANGES_FOLLOWED = 32  # more articles changed than this: resolved afresh


def resolve(dossier: Dossier, diags: Diagnostics, analyse_all: Analyser, last: Optional[Resolved] = None,
            check: bool = False) -> Resolved:
    """The dossier resolved; from `last`, this process's last resolve, when only a few of its
    articles changed and nothing else did. With `check` (the test suite), what that made is
    checked to be what resolving afresh makes."""
    changed = _articles_changed(dossier, last)
    if changed is None:
        resolved = resolve_all(dossier, diags, analyse_all)
    else:
        start = len(diags.items)
        resolved = resolve_changes(dossier, diags, analyse_all, last, changed)
        if check:
            _check_same(resolved, diags.items[start:], dossier)
    _warn_unmentioned(resolved, diags)
    return resolved


def _check_same(resolved: Resolved, found: list[Diagnostic], dossier: Dossier) -> None:
    diags = Diagnostics()
    afresh = resolve_all(dossier, diags, lambda *_: list(resolved.analyses.values()))

    def registry(r: Resolved) -> list:
        tables = [{k: v for k, v in getattr(r, name).items() if v} for name in ("hits", "relations_in", *CLAIM_TABLES)]
        return [list(r.entities.items()), list(r.claims.items()), tables, {e: r.related[e] for e in r.related}, r.in_order,
                r.claims_in_order, r.claim_places, r.status_counts, r.basis.article_notes, r.basis.present,
                r.basis.shared_notes]

    if registry(resolved) != registry(afresh) or sorted(found) != sorted(diags.items):
        raise AssertionError("resolving the changed articles made another registry than resolving afresh")


def resolve_all(dossier: Dossier, diags: Diagnostics, analyse_all: Analyser) -> Resolved:
    shared = Diagnostics()
    entities = _index_entities(dossier.entities, shared)
    errors = len(diags.items)
    claims = _index_claims(dossier.articles, diags)
    unique_claims = len(diags.items) == errors
    _check_relations(entities, dossier.broken_ids, shared)
    matcher = build_matcher(entities.values(), shared)
    _warn_dropped_urls(dossier, shared)
    notes = _article_notes(dossier.articles, entities, claims, dossier.broken_ids)
    analyses = analyse_all(list(dossier.articles), matcher, dossier.site.autolink)
    found_in_texts = {a.slug: a.diagnostics for a in analyses if a.diagnostics}
    for found in found_in_texts.values():
        diags.items.extend(found)
    resolved = Resolved(dossier, entities, claims, {a.slug: a for a in analyses})
    present = _fill_registry(resolved)
    diags.items.extend(shared.items)
    for found in notes.values():
        diags.items.extend(found)
    resolved.basis = Basis(matcher, tuple(shared.items), notes, present, unique_claims, found_in_texts=found_in_texts)
    return resolved


def _articles_changed(dossier: Dossier, last: Optional[Resolved]) -> Optional[list[int]]:
    """The places of the articles that are not the objects `last` resolved, if they are few and
    the rest of the dossier is as it was: the same entities, the same articles in the same
    order, each with the claim ids it had; else None."""
    if last is None or last.basis is None or not last.basis.unique_claims:
        return None
    was = last.dossier
    if (len(dossier.entities) != len(was.entities) or len(dossier.articles) != len(was.articles)
            or dossier.site != was.site or dossier.pages != was.pages or dossier.broken_ids != was.broken_ids
            or any(a is not b for a, b in zip(dossier.entities, was.entities))):
        return None
    changed = [i for i, (a, b) in enumerate(zip(dossier.articles, was.articles)) if a is not b]
    if len(changed) > CHANGES_FOLLOWED:
        return None
    for i in changed:
        new, old = dossier.articles[i], was.articles[i]
        if new.slug != old.slug or [c.id for c in new.claims] != [c.id for c in old.claims]:
            return None
    return changed


def resolve_changes(dossier: Dossier, diags: Diagnostics, analyse_all: Analyser, last: Resolved,
                    changed: list[int]) -> Resolved:
    """What resolve_all would make, made from `last` (see _articles_changed): the entities, the
    names and the notes of unchanged articles are as they were; the changed articles' claims
    take their places in the claim table, their parts of the registry are taken out and put in."""
    basis = last.basis
    claims = dict(last.claims)
    notes = dict(basis.article_notes)
    for i in changed:
        claims.update((c.id, c) for c in dossier.articles[i].claims)  # the same ids: the same order
    notes.update(_article_notes([dossier.articles[i] for i in changed], last.entities, claims, dossier.broken_ids))
    analyses = dict(last.analyses)  # the unchanged articles' analyses stand: the same text, the same names
    fresh = analyse_all([dossier.articles[i] for i in changed], basis.matcher, dossier.site.autolink)
    analyses.update((a.slug, a) for a in fresh)
    found_in_texts = dict(basis.found_in_texts)
    for analysis in fresh:
        found_in_texts.pop(analysis.slug, None)
        if analysis.diagnostics:
            found_in_texts[analysis.slug] = analysis.diagnostics
    resolved = Resolved(dossier, last.entities, claims, analyses, relations_in=last.relations_in)
    present = _update_registry(resolved, last, [(last.dossier.articles[i], dossier.articles[i]) for i in changed])
    diags.items.extend(basis.shared_notes)
    for found in (*notes.values(), *found_in_texts.values()):
        diags.items.extend(found)
    resolved.basis = Basis(basis.matcher, basis.shared_notes, notes, present, True, basis.ranks, found_in_texts)
    resolved.changed = frozenset(dossier.articles[i].slug for i in changed)
    now = {dossier.articles[i].slug: dossier.articles[i] for i in changed}
    if "by_slug" in last.__dict__:
        resolved.by_slug = {**last.by_slug, **now}
    if "in_order" in last.__dict__ and all(article_order(last.dossier.articles[i]) == article_order(dossier.articles[i])
                                           for i in changed):  # each in its place: the order is the last one's
        resolved.in_order = list(last.in_order)
        for slug, article in now.items():
            resolved.in_order[last.home_ranks[slug]] = article
        resolved.slugs_in_order, resolved.home_ranks = last.slugs_in_order, last.home_ranks
        if "claims_in_order" in last.__dict__ and all(
                _statuses(last.dossier.articles[i]) == _statuses(dossier.articles[i]) for i in changed):
            # The same claims in the same places, and each of the same status: so is their order.
            _carry_claims_order(resolved, last, [dossier.articles[i] for i in changed])
    return resolved


def _carry_claims_order(resolved: Resolved, last: Resolved, changed: list[Article]) -> None:
    """The claims index's order and counts, the last ones with the changed articles' claims in
    their places (each the claim of its id, as in the claim table)."""
    order, places = list(last.claims_in_order), last.claim_places
    for article in changed:
        for c in article.claims:
            if c.id in places and resolved.claims.get(c.id) is c:
                order[places[c.id]] = c
    resolved.claims_in_order, resolved.claim_places = order, places
    if "status_counts" in last.__dict__:
        resolved.status_counts = last.status_counts


def _statuses(article: Article) -> list[tuple[str, str]]:
    return [(c.id, c.status) for c in article.claims]


def dropped_url_message(url: str, remote_image: bool) -> str:
    url = unquote(url)
    shown = url if len(url) <= 60 else url[:57] + "..."
    if remote_image:
        return (f"the image '{shown}' is on another site, from which pages load nothing (for readers' privacy, "
                "and to work offline): a link to it stands in its place; save it under static/ to show it")
    return f"the link to '{shown}' is removed (its text is kept): only web, mail and relative links are kept"


def _warn_dropped_urls(dossier: Dossier, diags: Diagnostics) -> None:
    """Links and images in descriptions and pages that rendering does not keep as they are
    (claim notes: _check_article, article bodies: anchor_article)."""
    for e in dossier.entities:
        for url, remote in markup.dropped_urls_in(e.description):
            diags.warning(Pos(e.path), dropped_url_message(url, remote))
    for page in dossier.pages:
        for url, remote in markup.dropped_urls_in(page.text):
            diags.warning(link_pos(page.path, page.text, url) or Pos(page.path), dropped_url_message(url, remote))


def _index_entities(entities: Iterable[Entity], diags: Diagnostics) -> dict[str, Entity]:
    table: dict[str, Entity] = {}
    for e in entities:
        if e.id in table:
            diags.error(Pos(e.path), f"entity id '{e.id}' is already defined in {table[e.id].path}; ids are unique across all subfolders")
        else:
            table[e.id] = e
    return table


def _index_claims(articles: Iterable[Article], diags: Diagnostics) -> dict[str, Claim]:
    table: dict[str, Claim] = {}
    for article in articles:
        for c in article.claims:
            if c.id in table:
                first = table[c.id].pos
                diags.error(c.pos, f"claim id '{c.id}' is already used at {first.path}:{first.line}; claim ids are unique in the whole dossier")
            else:
                table[c.id] = c
    return table


def _check_relations(entities: dict[str, Entity], broken: frozenset[str], diags: Diagnostics) -> None:
    for e in entities.values():
        for rel in e.relations:
            if rel.entity.id not in entities:
                _check_ref(rel.entity, entities, "entity", broken, diags)


def _article_notes(articles: Iterable[Article], entities: dict, claims: dict,
                   broken: frozenset[str]) -> dict[str, tuple[Diagnostic, ...]]:
    """Slug -> what its sidecar's references and claim notes call for: unknown ids, claims that
    support and contradict the same claim, links that rendering drops."""
    diags, notes = Diagnostics(), {}
    for article in articles:
        start = len(diags.items)
        _check_article(article, entities, claims, broken, diags)
        notes[article.slug] = tuple(diags.items[start:])
    return notes


def _check_ref(ref: Ref, table: dict, what: str, broken: frozenset[str], diags: Diagnostics) -> None:
    if ref.id not in table and ref.id not in broken:
        diags.error(ref.pos, f"unknown {what} '{ref.id}'{did_you_mean(ref.id, table)}")


def _check_article(article: Article, entities: dict, claims: dict, broken: frozenset[str], diags: Diagnostics) -> None:
    # A known id is the rule: it is looked for inline, and only the others are looked at closely
    # (some 150,000 references at 10,000 articles).
    for m in article.mentions:
        if m.entity.id not in entities:
            _check_ref(m.entity, entities, "entity", broken, diags)
    for c in article.claims:
        if c.claimant is not None and c.claimant.id not in entities:
            _check_ref(c.claimant, entities, "entity", broken, diags)
        for ref in c.about:
            if ref.id not in entities:
                _check_ref(ref, entities, "entity", broken, diags)
        for ref in c.supports + c.contradicts:
            if ref.id not in claims:
                _check_ref(ref, claims, "claim", broken, diags)
        if c.contradicts or c.supports:
            _check_claim_logic(c, diags)
        for url, remote in markup.dropped_urls_in(c.note):
            diags.warning(c.pos, f"claim '{c.id}': {dropped_url_message(url, remote)}")
    if article.source.publisher_pos:
        _check_publisher(article, entities, diags)
    for name, pos in zip(article.source.authors, article.source.author_pos):
        _check_byline("author", name, pos, entities, diags)


def _check_claim_logic(c: Claim, diags: Diagnostics) -> None:
    supports = {r.id for r in c.supports}
    for ref in c.contradicts:
        if ref.id == c.id:
            diags.warning(ref.pos, f"claim '{c.id}' contradicts itself")
        elif ref.id in supports:
            diags.warning(ref.pos, f"claim '{c.id}' both supports and contradicts '{ref.id}'")
    for ref in c.supports:
        if ref.id == c.id:
            diags.warning(ref.pos, f"claim '{c.id}' supports itself")


def _check_publisher(article: Article, entities: dict, diags: Diagnostics) -> None:
    _check_byline("publisher", article.source.publisher, article.source.publisher_pos, entities, diags)


def _check_byline(what: str, name: str, pos: Optional[Pos], entities: dict, diags: Diagnostics) -> None:
    """A publisher or author may be plain text or an entity's id: one that looks like an id but
    names no entity is likely a misspelt id."""
    if pos and ID_RE.match(name) and name not in entities:
        hint = did_you_mean(name, entities)
        diags.warning(pos, f"{what} '{name}' looks like an id but names no entity{hint}; it is shown as plain text")


def build_matcher(entities: Iterable[Entity], diags: Diagnostics) -> anchor.NameMatcher:
    """Names and aliases for autolinking; ambiguous or tiny ones are left out."""
    owners: dict[str, dict[str, Pos]] = defaultdict(dict)  # name -> entity id -> where it is written there
    for e in entities:
        places = (e.name_pos, *e.alias_pos) if len(e.alias_pos) == len(e.aliases) else ()
        for name, pos in itertools.zip_longest((e.name, *e.aliases), places):
            pos = pos or Pos(e.path)
            key = anchor.norm_text(name).strip()
            if not key:
                continue  # a missing or wrong name is reported by load
            if len(key) < MIN_ALIAS:
                diags.warning(pos, f"'{name}' is shorter than {MIN_ALIAS} characters and is not autolinked")
                continue
            owners[key].setdefault(e.id, pos)
    names = {}
    for key, found in owners.items():
        if len(found) > 1:  # told at each entity that has it: either may be the one to change
            for pos in found.values():
                diags.warning(pos, f"the name '{key}' belongs to several entities ({', '.join(sorted(found))}) and is not autolinked")
        else:
            names[key] = next(iter(found))
    return anchor.NameMatcher(names)


def anchor_article(article: Article, matcher: anchor.NameMatcher, site_autolink: bool,
                   diags: Diagnostics) -> AnchoredArticle:
    tokens = anchor.parse(article)
    for url, remote in markup.dropped_urls(tokens):
        diags.warning(link_pos(article.path, article.text, url) or Pos(article.path), dropped_url_message(url, remote))
    rt = anchor.reader_text(tokens)
    # The claims' quotes are looked for first: a quote not found may hold the footnote number the
    # page shows after one of those found, and its error names that claim.
    found = [anchor.find(rt, c.selector) if c.selector.quote.strip() else [] for c in article.claims]
    marked = [(spans[0], c.id) for c, spans in zip(article.claims, found) if len(spans) == 1]
    mentions = []
    taken: dict[tuple[int, int], Pos] = {}
    for m in article.mentions:
        span = _locate(rt, m.selector, diags, tokens, marked)
        if span in taken:  # the same words cannot link to two pages, nor twice to one
            diags.warning(m.selector.pos, f"this mention marks the same words as the one at line {taken[span].line}; it is left out")
        elif span:
            taken[span] = m.selector.pos
            mentions.append((span, m.entity.id, True))
            leaf = rt.leaf_at(span[0])
            if leaf is not None and leaf.in_link:
                diags.warning(m.selector.pos, "this mention lies inside a link of the article; the article's link is kept")
    claims = [(span, c) for c, spans in zip(article.claims, found)
              if (span := _locate(rt, c.selector, diags, tokens, marked, spans))]
    autolink = site_autolink if article.autolink is None else article.autolink
    if autolink:
        mentions += _autolinks(rt, matcher, [s for s, _, _ in mentions])
    mentions.sort(key=lambda m: m[0])
    claims.sort(key=lambda c: c[0])
    spans = [Span(a, b, "claim", c.id, f"claim-{c.id}", c.status) for (a, b), c in claims]
    hits, told = [], Counter()
    for (a, b), entity, explicit in mentions:
        # Named by the entity and its turn (m-anna-kovac-2), not by the mention's place among all
        # (m-7): a citation of one stays good when mentions of others come before it.
        told[entity] += 1
        ident = f"m-{entity}-{told[entity]}"
        spans.append(Span(a, b, "mention", entity, ident))
        hits.append(_hit(rt, entity, article.slug, ident, a, b, explicit))
    return AnchoredArticle(article, tokens, rt, spans, [c.id for _, c in claims], hits)


def _locate(rt: anchor.ReaderText, sel, diags: Diagnostics, tokens: list[dict] = (),
            marked: list[tuple[tuple[int, int], str]] = (), found: Optional[list] = None) -> Optional[tuple[int, int]]:
    """The span of a selector's quote (found: anchor.find's answer, if asked already), or None
    with an error; `marked`: the spans of the article's claims found, and their ids."""
    if not sel.quote.strip():
        return None
    if found is None:
        found = anchor.find(rt, sel)
    if len(found) == 1:
        return found[0]
    if not found:
        narrowed = " with this prefix/suffix" if sel.prefix or sel.suffix else ""
        diags.error(sel.pos, f"quote not found in the article{narrowed}; {_not_found_hint(rt, sel, tokens, marked)}")
    else:
        places = "; ".join(anchor.describe_match(rt, s) for s in found[:3])
        diags.error(sel.pos, f"quote matches {len(found)} places ({places}); add a prefix or suffix to pick one")
    return None


def _not_found_hint(rt: anchor.ReaderText, sel, tokens: list[dict],
                    marked: list[tuple[tuple[int, int], str]] = ()) -> str:
    """Where the quote is without its prefix and suffix, if it is (they are what is wrong); what it
    holds that the page shows but the article's text has not, if that is why (a passage copied
    from the page with a footnote number); that it lies in the article's raw HTML, if it does
    (captured <div> and <figure> blocks); else the closest text."""
    alone = anchor.find(rt, sel._replace(prefix="", suffix="")) if sel.prefix or sel.suffix else []
    if not alone and (copied := _copied_hint(rt, sel, tokens, marked)):
        return copied
    if not alone and _in_raw_html(tokens, sel.quote):
        return ("it lies in a block of raw HTML (a <div>, a <figure>...), whose text cannot be marked: "
                "write that passage as Markdown")
    if alone:
        times = "once" if len(alone) == 1 else f"{len(alone)} times"
        return f"without them it is found {times} ({'; '.join(anchor.describe_match(rt, s) for s in alone[:3])})"
    near = anchor.closest(rt, sel.quote)
    return f"the closest text is “{near}”" if near else "nothing in it comes close"


def _copied_hint(rt: anchor.ReaderText, sel, tokens: list[dict], marked: list[tuple[tuple[int, int], str]]) -> str:
    """What to leave out of a quote that holds what a browser copies from the page besides the
    article's text, and the quote to write then ("" if that is not why it is not found)."""
    several, refs = "", None
    for span, extras in anchor.copied_extras(rt, sel.quote, tokens):
        written = anchor.shown(rt, span)
        times = len(anchor.find(rt, sel._replace(quote=written))) if written else 0
        if not times:
            continue
        if refs is None:  # where the page shows each claim's footnote number
            refs = defaultdict(list)
            for (_, end), claim in marked:
                refs[anchor.ref_position(rt, end)].append(claim)
        it = "it" if len(extras) == 1 else "them"
        told = f"it includes what is not the article's text: {', '.join(_extra_named(rt, e, refs) for e in extras)}"
        if times == 1:
            return f"{told}; leave {it} out and quote “{written}”"
        several = several or f"{told}; without {it} the quote matches {times} places: leave {it} out and add a prefix or suffix"
    return several


def _extra_named(rt: anchor.ReaderText, extra: anchor.Extra, refs: dict[int, list[str]]) -> str:
    what = {"back link": "the back link of the article's own note",
            "stand-in": "the stand-in Dossier shows for an image on another site",
            "description": "the description of an image, which browsers copy in its place",
            "raw html": "text of a block of raw HTML, such as a <figure>, which cannot be marked"}.get(extra.kind)
    if what is None:  # a number
        ids = refs.get(extra.at, [])
        claims = ("claim " if len(ids) == 1 else "claims ") + " and ".join(f"'{c}'" for c in ids)
        note = extra.at in rt.note_refs
        if ids and note:
            what = f"the numbers of the article's own note and of the footnotes of {claims}"
        elif len(ids) > 1:
            what = f"the footnote numbers Dossier adds after {claims}"
        elif ids:
            what = f"the footnote number Dossier adds after {claims}"
        elif note:
            what = "the number of the article's own note"
        else:
            word = re.search(r"\S*$", rt.raw[max(0, extra.at - 40):extra.at]).group()
            return f"“{extra.text}” after “{word}”" if word else f"“{extra.text}”"
    return f"“{extra.text}” ({what})"


def _in_raw_html(tokens: list[dict], quote: str) -> bool:
    """Whether the quote is in the text of the article's raw HTML blocks (asked once a quote is not found)."""
    texts = anchor.raw_html_texts(tokens)
    return bool(texts) and anchor.norm_text(quote).strip() in " ".join(texts)


def _autolinks(rt: anchor.ReaderText, matcher: anchor.NameMatcher, taken: list[tuple[int, int]]):
    out = []
    for a, b, entity in matcher.find(rt.norm):
        start, end = rt.raw_span(a, b)
        leaf = rt.leaf_at(start)
        if leaf is None or not leaf.linkable or end > leaf.end:
            continue
        if any(start < tb and ta < end for ta, tb in taken):
            continue
        out.append(((start, end), entity, False))
    return out


_SENTENCE_END = re.compile(r"[.!?][\"'”’)]?\s")
_SENTENCE_END_AHEAD = re.compile(r"[.!?](?=[\"'”’)]?(\s|$))|\n")


def _hit(rt: anchor.ReaderText, entity: str, slug: str, anchor_id: str, a: int, b: int, explicit: bool) -> Hit:
    raw = rt.raw
    before = raw[max(0, a - SNIPPET):a]
    cut = before.rfind("\n")
    for m in _SENTENCE_END.finditer(before, cut + 1):  # the last sentence end after the last line end
        cut = m.end() - 1
    before = before[cut + 1:] if cut >= 0 else "…" + before.split(" ", 1)[-1]
    after = raw[b:b + SNIPPET]
    end = _SENTENCE_END_AHEAD.search(after)
    after = after[:end.end()] if end else after.rsplit(" ", 1)[0] + "…"
    clean = anchor.WS_RUN.sub
    return Hit(entity, slug, anchor_id, clean(" ", before).lstrip(), clean(" ", raw[a:b]), clean(" ", after).rstrip(), explicit)


CLAIM_TABLES = ("claims_by", "claims_about", "supported_by", "contradicted_by")


def _claim_refs(c: Claim) -> tuple[list[str], ...]:
    """The ids each of CLAIM_TABLES lists `c` under."""
    return ([c.claimant.id] if c.claimant else [], [ref.id for ref in c.about],
            [ref.id for ref in c.supports], [ref.id for ref in c.contradicts])


def _fill_registry(r: Resolved) -> dict[str, frozenset[str]]:
    """The registry, in one pass; returns which entities each article names."""
    for e in r.entities.values():
        for rel in e.relations:
            r.relations_in[rel.entity.id].append((e.id, rel.role))
    tables = [getattr(r, name) for name in CLAIM_TABLES]
    for c in r.claims.values():
        for table, keys in zip(tables, _claim_refs(c)):
            for key in keys:
                table[key].append(c.id)
    present: dict[str, frozenset[str]] = {}
    for doc in r.analyses.values():
        for hit in doc.hits:
            r.hits[hit.entity].append(hit)
        present[doc.slug] = frozenset([h.entity for h in doc.hits])
    r.related = CoOccurrence(r.hits, present)
    return present


def _update_registry(r: Resolved, last: Resolved, changed: list[tuple[Article, Article]]) -> dict[str, frozenset[str]]:
    """The registry _fill_registry would make, from `last`'s: each list the changed articles
    were or are in is made again without their parts, then with their new ones in their places
    (a list is in the order of the articles, and of the claims; neither moved)."""
    # Sorted by their articles' places, stably: an article's own claims and mentions come in
    # their order already (the kept ones as they were, the new ones as the article gives them).
    article_rank = last.basis.places(last)
    ids = {c.id for _, new in changed for c in new.claims}  # the old ones' too: the same ids
    put: list[dict[str, list[str]]] = [{} for _ in CLAIM_TABLES]  # each table's lists to make again
    for old, new in changed:
        for c in old.claims:
            for table, keys in zip(put, _claim_refs(c)):
                for key in keys:
                    table.setdefault(key, [])
        for c in new.claims:
            for table, keys in zip(put, _claim_refs(c)):
                for key in keys:
                    table.setdefault(key, []).append(c.id)
    for name, table in zip(CLAIM_TABLES, put):
        was, now = getattr(last, name), defaultdict(list, getattr(last, name))
        setattr(r, name, now)
        for key, new_ids in table.items():
            now[key] = sorted([c for c in was.get(key, ()) if c not in ids] + new_ids,
                              key=lambda c: article_rank[r.claims[c].article])
    slugs = {new.slug for _, new in changed}
    present = dict(last.basis.present)
    touched: set[str] = set()
    new_hits: dict[str, list[Hit]] = defaultdict(list)
    for old, new in changed:
        touched |= present[old.slug]
        present[new.slug] = frozenset([h.entity for h in r.analyses[new.slug].hits])
        touched |= present[new.slug]
        for hit in r.analyses[new.slug].hits:
            new_hits[hit.entity].append(hit)
    r.hits = defaultdict(list, last.hits)
    for entity in touched:
        kept = [h for h in last.hits.get(entity, ()) if h.article not in slugs]
        r.hits[entity] = sorted(kept + new_hits[entity], key=lambda h: article_rank[h.article])
    known = {e: found for e, found in last.related.known.items() if e not in touched}
    r.related = CoOccurrence(r.hits, present, known, _counts_moved(last.related.counts, touched, [
        (last.basis.present[old.slug], present[new.slug]) for old, new in changed]))
    return present


def _counts_moved(counts: dict[str, Counter], touched: set[str], changed: list[tuple[frozenset, frozenset]]) -> dict[str, Counter]:
    """The co-occurrence counts kept for the entities the changed articles name or named, once
    each article names what it names now (`changed`: the entities it named, and names)."""
    moved = {}
    for entity in touched & counts.keys():
        found = counts[entity].copy()
        for before, after in changed:
            if entity in before:
                found.subtract(before)
            if entity in after:
                found.update(after)
        found.pop(entity, None)
        moved[entity] = +found  # none of those left at 0
    return moved


class CoOccurrence(Mapping):
    """Entity id -> the entities most often named in the same articles, most first (at most
    RELATED), with the number of articles. Worked out for an entity when first asked: a cold
    build asks for every one, a rebuild after an edit for the few whose pages it makes."""

    def __init__(self, hits: dict[str, list[Hit]], present: dict[str, frozenset[str]],
                 known: Optional[dict[str, list[tuple[str, int]]]] = None, counts: Optional[dict[str, Counter]] = None):
        self._hits, self._present = hits, present
        self.known = {} if known is None else known  # worked out already: still true of `hits`
        # Each entity's count of every other, for a registry made from the last (resolve_changes):
        # the next one moves those of the entities an edited article names, not counting them
        # again over thousands of articles. Only those: all 2,000 at 10,000 articles would take
        # some 4 million entries.
        self.counts = {} if counts is None else counts
        self._keeps_counts = counts is not None

    def __getitem__(self, entity: str) -> list[tuple[str, int]]:
        found = self.known.get(entity)
        if found is None:
            if not self._hits.get(entity):
                raise KeyError(entity)
            counts = self.counts.get(entity)
            if counts is None:
                counts = Counter()
                for slug in dict.fromkeys(h.article for h in self._hits[entity]):
                    counts.update(self._present[slug])  # itself too (counting a set runs in C): taken out
                del counts[entity]
                if self._keeps_counts:
                    self.counts[entity] = counts
            found = self.known[entity] = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:RELATED]
        return found

    def __iter__(self):
        return (e for e, hits in self._hits.items() if hits)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _warn_unmentioned(r: Resolved, diags: Diagnostics) -> None:
    if diags.errors:  # a sidecar that did not load or a quote not found may be why: the warning would mislead
        return
    for e in r.entities.values():
        if not r.hits.get(e.id):
            diags.warning(Pos(e.path), f"entity '{e.id}' is never mentioned in any article")
