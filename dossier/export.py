"""Data for other tools: dossier.json, claims.csv, feed.xml, robots.txt, JSON-LD.

Everything here is made from the resolved dossier alone, in every build.
`files()` gives the export files (path, text); `template_globals()` gives
the functions templates call to put JSON-LD in a page's head. JSON-LD is
built as dicts and serialised by `script_tag`, which escapes `<`, `>` and
`&` so that no text in it can end the script element early.
"""

from __future__ import annotations

import csv
import html
import datetime as dt
import itertools
import json
import operator
import re
from functools import partial
from pathlib import Path
from typing import Callable, Iterator, Optional

import jinja2
from markupsafe import Markup

from . import __version__
from .markup import markdown
from .model import Article, Claim, ClaimStatus, Entity, Site
from .resolve import Resolved
from .urls import article_path, entity_path

# dossier.json's format: the major number changes when a field changes
# meaning or goes away; the minor one when fields are added.
FORMAT_VERSION = "1.2"  # 1.1: a claim's `reviewed`; 1.2: an article's `language`
SCHEMA = Path(__file__).parent / "schema" / "dossier.schema.json"
SCHEMA_NAME = "dossier.schema.json"
FEED_LIMIT = 50  # newest articles in feed.xml
BEST_RATING, WORST_RATING = 5, 1
SCHEMA_TYPES = {"person": "Person", "organization": "Organization", "place": "Place", "event": "Event"}
# The types that may be an `author` or a `publisher`: schema.org expects a Person or an
# Organization there (and Google's ClaimReview guide for a claim's author), so these and
# Organization's direct subtypes. A Place or an Event said to claim something ("Moscow
# says") is a figure of speech, not an author: it is left out rather than mistyped.
AGENT_TYPES = frozenset({
    "Person", "Patient", "Organization", "Airline", "Consortium", "Cooperative", "Corporation",
    "EducationalOrganization", "FundingScheme", "GovernmentOrganization", "LibrarySystem", "LocalBusiness",
    "MedicalOrganization", "NewsMediaOrganization", "NGO", "OnlineBusiness", "PerformingGroup", "PoliticalParty",
    "Project", "ResearchOrganization", "SearchRescueOrganization", "SportsOrganization", "SportsTeam", "WorkersUnion",
})
LIST_SEPARATOR = "; "  # between ids in one CSV cell
CSV_COLUMNS = ("id", "status", "status_label", "rating", "quote", "claimant", "claimant_name", "about",
               "date", "reviewed", "note", "supports", "contradicts", "article", "article_title", "publisher",
               "published", "source_url", "page", "url")


# -- the export files ---------------------------------------------------

class Record(str):
    """One record of an export file in its final text: a line of dossier.json or of claims.csv."""

    key = None  # what the build that made it knows it by (see Memo)
    owner = ""  # the slug of the article it belongs to ("": none)


# Records are made through a memo: memo(kind, inputs, make, owner) gives make()'s text as
# a Record, or the text an earlier build made from the same inputs (every value a record
# is made from is among its inputs, besides the site; the build keys them by digest).
# An article's claims go through it as one run, not one by one: a large dossier has
# ten times as many claims as articles, and an edit changes one article's at a time.
# `owner`: the slug of the article the record belongs to (see article_records).
Memo = Callable[[str, tuple, Callable[[], str], str], Record]


def made_now(kind: str, inputs: tuple, make: Callable[[], str], owner: str = "") -> Record:
    """No earlier build to take from: every record is made."""
    return Record(make())


# The files made of records (and of what the site and the entities say): with the same site,
# entities and order of articles, each is the last build's but for the records of the
# articles that changed (see article_records).
RECORD_FILES = ("dossier.json", "claims.csv")


def files(resolved: Resolved, memo: Memo = made_now) -> Iterator[tuple[str, str]]:
    """Every export file of a build: (path in the output, text)."""
    for path, parts in file_parts(resolved, memo):
        yield path, "".join(parts)


def file_parts(resolved: Resolved, memo: Memo = made_now) -> Iterator[tuple[str, Iterator[str]]]:
    """files(), each text in parts to be written as they come: dossier.json and claims.csv
    of a large dossier are tens of megabytes, never held whole. Each record is a part, or each
    run of records: an article's claims in dossier.json, its rows in claims.csv."""
    yield "dossier.json", json_record_parts(dossier_data(resolved, lazy=True, memo=memo))
    yield SCHEMA_NAME, iter([SCHEMA.read_text("utf-8")])
    yield "claims.csv", claims_csv_parts(resolved, memo)
    yield "robots.txt", iter([robots_txt(resolved.dossier.site)])
    if resolved.dossier.site.base_url:
        yield "feed.xml", iter([atom_feed(resolved)])


def json_records(data: dict) -> str:
    """JSON with one record of each top-level list per line: easy to grep and diff, and
    written by the json module's fast encoder (indent= would use its slow one)."""
    return "".join(json_record_parts(data))


_NONE = object()


def json_record_parts(data: dict) -> Iterator[str]:
    """json_records(data) in parts. A list may come as an iterator: each record is then
    made, written and dropped in turn, so the records of a large dossier are never all held at once.
    A record may come as a Record, already JSON."""
    opening = "{"
    for key, value in data.items():
        if isinstance(value, (list, Iterator)):
            records = iter(value)
            first = next(records, _NONE)
            if first is _NONE:
                yield f"{opening}{json.dumps(key)}:[]"
            else:
                yield f"{opening}{json.dumps(key)}:[\n"
                yield _json(first)
                for record in records:
                    yield ",\n"
                    yield _json(record)
                yield "\n]"
        else:
            yield f"{opening}{json.dumps(key)}:{json.dumps(value, ensure_ascii=False)}"
        opening = ",\n"
    yield "{}\n" if opening == "{" else "}\n"


def _json(record) -> str:
    return record if type(record) is Record else json.dumps(record, ensure_ascii=False)


class _Run(list):
    """Records that go into a list one after the other, made and remembered together."""


def _json_text(value) -> str:
    if type(value) is _Run:
        return ",\n".join(json.dumps(v, ensure_ascii=False) for v in value)
    return json.dumps(value, ensure_ascii=False)


def _nonempty(records: Iterator) -> Iterator:
    """Each record of a list, a run's records each in turn (a run made through a memo is
    already one text, maybe empty: it goes in whole, or not at all)."""
    for record in records:
        if type(record) is _Run:
            yield from record
        elif record != "":
            yield record


def ordered_articles(resolved: Resolved) -> list[Article]:
    """Newest first, undated last: the order of the home page."""
    return resolved.in_order


def article_claims(resolved: Resolved, article: Article) -> list[tuple[Claim, int]]:
    """One article's claims in text order, with footnote numbers (0: not found in the text)."""
    footnotes = analysis_footnotes(resolved, article)
    numbers = {cid: n for n, cid in enumerate(footnotes or (), 1)}
    return [(claim, numbers.get(claim.id, 0))
            for claim in sorted(article.claims, key=lambda c: numbers.get(c.id, len(numbers) + 1))
            if resolved.claims.get(claim.id) is claim]  # a duplicate id is an error, not a second claim


def analysis_footnotes(resolved: Resolved, article: Article) -> Optional[tuple[str, ...]]:
    """The ids of an article's claims in the order their marks come in its text."""
    analysis = resolved.analyses.get(article.slug)
    return analysis.footnotes if analysis else None


def _iso(day: Optional[dt.date]) -> Optional[str]:
    return day.isoformat() if day else None


_LEFT_OUT = (None, "", [], {})


def _compact(fields: dict) -> dict:
    """Leave out what the user left out: empty text, empty lists, no date."""
    # A value that is true is none of those: most are, and skip the four comparisons.
    return {k: v for k, v in fields.items() if v or v not in _LEFT_OUT}


def _absolute(site: Site, path: str) -> Optional[str]:
    return site.base_url + path if site.base_url else None


def dossier_data(resolved: Resolved, lazy: bool = False, memo: Optional[Memo] = None) -> dict:
    """dossier.json: everything a tool needs, ids as in the sidecars (see the schema).

    lazy: the lists of records come as iterators, made as they are read.
    memo: the articles, entities and claims come as Records, made through it."""
    site = resolved.dossier.site
    records = (lambda items: items) if lazy else list
    entities = sorted(resolved.entities.values(), key=lambda e: e.id)
    return {
        "$schema": SCHEMA_NAME,
        "version": FORMAT_VERSION,
        "generator": f"dossier {__version__}",
        "site": _compact({
            "title": site.title, "description": site.description, "language": site.language,
            "base_url": site.base_url,
            "entity_types": [{"key": t.key, "label": t.label, "plural": t.plural, "schema": schema_type(site, t.key)}
                             for t in site.entity_types],
            "claim_statuses": [_status_data(s) for s in site.claim_statuses],
        }),
        "articles": records(_article_record(resolved, a, memo) for a in ordered_articles(resolved)),
        "entities": records(_json_record(memo, site, "entity", (e,), partial(_entity_data, e, site)) for e in entities),
        "relations": records({"from": e.id, "role": rel.role, "to": rel.entity.id}
                             for e in entities for rel in e.relations),
        "claims": records(_nonempty(_claims_record(resolved, a, memo) for a in ordered_articles(resolved))),
    }


def _json_record(memo: Optional[Memo], site: Site, kind: str, inputs: tuple, make: Callable[[], object],
                 owner: str = ""):
    """A record of dossier.json: without a memo its data, with one its JSON text, made through it.
    A run (a list of records: an article's claims) is several records of the list in one text,
    or none; one record is one."""
    if memo is None:
        return make()
    return memo(kind, (site, *inputs), lambda: _json_text(make()), owner)


def _article_record(resolved: Resolved, a: Article, memo: Optional[Memo]):
    return _json_record(memo, resolved.dossier.site, "article", _article_inputs(a, resolved),
                        partial(_article_data, a, resolved), a.slug)


def _claims_record(resolved: Resolved, a: Article, memo: Optional[Memo]):
    return _json_record(memo, resolved.dossier.site, "claims", (a, analysis_footnotes(resolved, a)),
                        partial(_claims_run, a, resolved), a.slug)


def article_records(resolved: Resolved, article: Article, memo: Memo) -> list[tuple[str, Record]]:
    """The records of one article in the RECORD_FILES, as files() makes them: (path, record),
    in the order they come in those files; none that is empty (files() leaves those out)."""
    records = [("dossier.json", _article_record(resolved, article, memo)),
               ("dossier.json", _claims_record(resolved, article, memo)),
               ("claims.csv", _csv_record(resolved, article, memo))]
    return [(path, record) for path, record in records if record]


def _status_data(s: ClaimStatus) -> dict:
    return _compact({"key": s.key, "label": s.label, "rating": s.rating, "alternate_name": s.alternate_name})


def _article_inputs(a: Article, resolved: Resolved) -> tuple:
    """What an article's record is made from, besides the site."""
    analysis = resolved.analyses.get(a.slug)
    return a, a.source.publisher in resolved.entities, analysis.footnotes if analysis else None


def _article_data(a: Article, resolved: Resolved) -> dict:
    site, src = resolved.dossier.site, a.source
    path = article_path(a.slug)
    analysis = resolved.analyses.get(a.slug)
    return _compact({
        "slug": a.slug, "title": a.title, "language": a.language, "path": path, "url": _absolute(site, path),
        "text_file": a.path, "sidecar": a.sidecar, "summary": a.summary, "tags": list(a.tags),
        "source": _compact({
            "publisher": src.publisher,
            "publisher_entity": src.publisher if src.publisher in resolved.entities else None,
            "url": src.url, "published": _iso(src.published), "authors": list(src.authors),
            "retrieved": _iso(src.retrieved), "archive_url": src.archive_url,
        }),
        "mentions": [_compact({"entity": m.entity.id, "quote": m.selector.quote,
                               "prefix": m.selector.prefix, "suffix": m.selector.suffix}) for m in a.mentions],
        "claims": list(analysis.footnotes) if analysis else [c.id for c in a.claims],
    })


def schema_type(site: Site, key: str) -> str:
    """The schema.org type of an entity type: as site.yaml says, else by its key, else Thing."""
    declared = site.entity_type(key)
    return (declared.schema if declared else "") or SCHEMA_TYPES.get(key, "Thing")


def same_as(entity: Entity) -> list[str]:
    """An entity's external links as URLs (a Wikidata item id becomes its page)."""
    return [f"https://www.wikidata.org/wiki/{value}" if name == "wikidata" else value
            for name, value in entity.links]


def _entity_data(e: Entity, site: Site) -> dict:
    path = entity_path(e.id)
    return _compact({
        "id": e.id, "name": e.name, "type": e.type, "path": path, "url": _absolute(site, path), "file": e.path,
        "aliases": list(e.aliases), "description": e.description, "links": dict(e.links), "same_as": same_as(e),
    })


def _claims_run(article: Article, resolved: Resolved) -> _Run:
    return _Run(_claim_data(c, n, resolved) for c, n in article_claims(resolved, article))


def _claim_data(c: Claim, number: int, resolved: Resolved) -> dict:
    site = resolved.dossier.site
    status = site.claim_status(c.status)
    page = f"{article_path(c.article)}#claim-{c.id}"
    return _compact({
        "id": c.id, "article": c.article,
        "quote": c.selector.quote, "prefix": c.selector.prefix, "suffix": c.selector.suffix,
        "claimant": c.claimant.id if c.claimant else None,
        "about": [r.id for r in c.about],
        "status": c.status, "status_label": status.label if status else c.status,
        "rating": status.rating if status else None,
        "date": _iso(c.date), "reviewed": _iso(c.reviewed), "note": c.note,
        "supports": [r.id for r in c.supports], "contradicts": [r.id for r in c.contradicts],
        "anchor": f"claim-{c.id}", "footnote": number or None,
        "path": page, "url": _absolute(site, page),
        "sidecar": c.pos.path, "line": c.pos.line,
    })


def claims_csv(resolved: Resolved) -> str:
    """claims.csv: one row per claim, for spreadsheets (UTF-8, comma, CRLF, header row)."""
    return "".join(claims_csv_parts(resolved))


def claims_csv_parts(resolved: Resolved, memo: Memo = made_now) -> Iterator[str]:
    """claims_csv(resolved) in parts: the header, then each article's rows, a Record made through the memo."""
    yield _csv_line(CSV_COLUMNS)
    for article in ordered_articles(resolved):
        rows = _csv_record(resolved, article, memo)
        if rows is not None:
            yield rows


def _csv_record(resolved: Resolved, article: Article, memo: Memo) -> Optional[Record]:
    """An article's rows of claims.csv, one run: made, remembered and read back together; None
    if it has no claims. Its inputs are its claimants in the sidecar's order: the rows' order is
    the text's, made in make."""
    if not any(resolved.claims.get(c.id) is c for c in article.claims):
        return None
    claimants = tuple(resolved.entities.get(c.claimant.id) if c.claimant else None for c in article.claims)
    publisher = resolved.entities.get(article.source.publisher)
    return memo("csv", (resolved.dossier.site, article, analysis_footnotes(resolved, article), claimants, publisher),
                partial(_csv_rows, article, publisher, resolved), article.slug)


def _csv_rows(article: Article, publisher: Optional[Entity], resolved: Resolved) -> str:
    def claimant(c: Claim) -> Optional[Entity]:
        return resolved.entities.get(c.claimant.id) if c.claimant else None

    return "".join(_csv_row(c, article, claimant(c), publisher, resolved) for c, _ in article_claims(resolved, article))


def _csv_row(claim: Claim, article: Article, claimant: Optional[Entity], publisher: Optional[Entity],
             resolved: Resolved) -> str:
    row = _claim_data(claim, 0, resolved)
    row.update(
        about=LIST_SEPARATOR.join(row.get("about", ())),
        supports=LIST_SEPARATOR.join(row.get("supports", ())),
        contradicts=LIST_SEPARATOR.join(row.get("contradicts", ())),
        claimant_name=claimant.name if claimant else "",
        article_title=article.title,
        publisher=publisher.name if publisher else article.source.publisher,
        published=_iso(article.source.published),
        source_url=article.source.url,
        page=row["path"], url=_absolute(resolved.dossier.site, row["path"]),
    )
    return _csv_line([_cell(row.get(k)) for k in CSV_COLUMNS])


class _Line(list):
    write = list.append  # what csv.writer writes a row into


_line = _Line()
_line_writer = csv.writer(_line)  # one writer for every line: making one costs as much as a row


def _csv_line(cells) -> str:
    _line.clear()
    _line_writer.writerow(cells)
    return "".join(_line)


_FORMULA_STARTS = frozenset(("=", "+", "-", "@", "\t", "\r"))


def _cell(value) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in _FORMULA_STARTS else text


# The feed's escaping, as xml.sax.saxutils does it: that module imports urllib.request and
# the email package with it, a tenth of the time `dossier build` takes to start.
def xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


def quoteattr(text: str) -> str:
    """An attribute's value, quoted: in double quotes unless it holds one and no single quote."""
    text = xml_escape(text).replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    if '"' not in text:
        return f'"{text}"'
    if "'" not in text:
        return f"'{text}'"
    return '"{}"'.format(text.replace('"', "&quot;"))


def robots_txt(site: Site) -> str:
    lines = ["User-agent: *", "Disallow:"]
    if site.base_url:
        lines.append(f"Sitemap: {site.base_url}sitemap.xml")
    return "\n".join(lines) + "\n"


_PUBLISHED, _RETRIEVED = operator.attrgetter("published"), operator.attrgetter("retrieved")


def _atom_time(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def atom_feed(resolved: Resolved) -> str:
    """feed.xml: the newest articles as an Atom feed (needs base_url: Atom ids are absolute)."""
    site = resolved.dossier.site
    articles = ordered_articles(resolved)[:FEED_LIMIT]
    sources = [a.source for a in resolved.dossier.articles]
    days = filter(None, itertools.chain(map(_PUBLISHED, sources), map(_RETRIEVED, sources)))
    newest = max(days, default=dt.date(1970, 1, 1))
    head = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang={quoteattr(site.language)}>',
        f"  <title>{xml_escape(site.title)}</title>",
    ]
    if site.description:
        head.append(f"  <subtitle>{xml_escape(site.description)}</subtitle>")
    head += [
        f"  <id>{xml_escape(site.base_url)}</id>",
        f'  <link rel="self" type="application/atom+xml" href={quoteattr(site.base_url + "feed.xml")}/>',
        f'  <link rel="alternate" type="text/html" href={quoteattr(site.base_url + "index.html")}/>',
        f"  <updated>{_atom_time(newest)}</updated>",
        f"  <author><name>{xml_escape(site.title)}</name></author>",
        f'  <generator version="{__version__}">dossier</generator>',
    ]
    entries = [_atom_entry(a, resolved, newest) for a in articles]
    return "\n".join(head + entries + ["</feed>"]) + "\n"


def _atom_entry(a: Article, resolved: Resolved, fallback: dt.date) -> str:
    url = resolved.dossier.site.base_url + article_path(a.slug)
    day = a.source.published or a.source.retrieved or fallback
    publisher = resolved.entities.get(a.source.publisher)
    parts = [
        "  <entry>",
        f"    <title>{xml_escape(a.title)}</title>",
        f"    <id>{xml_escape(url)}</id>",
        f'    <link rel="alternate" type="text/html" href={quoteattr(url)}/>',
    ]
    if a.source.url:
        parts.append(f'    <link rel="via" href={quoteattr(a.source.url)}/>')
    parts.append(f"    <updated>{_atom_time(day)}</updated>")
    if a.source.published:
        parts.append(f"    <published>{_atom_time(a.source.published)}</published>")
    parts += [f"    <author><name>{xml_escape(_named(resolved, name))}</name></author>" for name in a.source.authors]
    parts += [f"    <category term={quoteattr(tag)}/>" for tag in a.tags]
    if a.summary:
        parts.append(f"    <summary>{xml_escape(a.summary)}</summary>")
    if a.source.publisher:
        parts.append(f"    <source><title>{xml_escape(publisher.name if publisher else a.source.publisher)}</title></source>")
    parts.append("  </entry>")
    return "\n".join(parts)


def _named(resolved: Resolved, name: str) -> str:
    """A byline as the page shows it: an entity's id is that entity's name."""
    e = resolved.entities.get(name)
    return e.name if e else name


# -- JSON-LD --------------------------------------------------------------

def script_tag(data: dict) -> Markup:
    """A JSON-LD block; `<`, `>` and `&` are escaped so no text can close the script."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(f'<script type="application/ld+json">{text}</script>')


# What may make Markdown differ from its plain text: else the text is taken as it is.
_MARKDOWN_HINT = re.compile(r"[\\`*_\[\]<>&#!~|\n]")
_BLOCK_TAG = re.compile(r"</?(?:p|li|ul|ol|h[1-6]|blockquote|pre|br|hr|div|table|thead|tbody|tr|td|th|section)\b[^>]*>")
_TAG = re.compile(r"<[^>]*>")


def plain(markdown_text: str) -> str:
    """The plain text a reader sees of some Markdown, for metadata (descriptions, review bodies).

    Taken from the HTML the page shows (markup.markdown, made once per text and kept: the
    page's own note or description already made it), its tags dropped: in that HTML a '<' of
    the text is '&lt;', so '<100 ... >300' stays, and an autolink keeps its address.
    """
    if not _MARKDOWN_HINT.search(markdown_text):
        return " ".join(markdown_text.split())
    text = _TAG.sub("", _BLOCK_TAG.sub(" ", markdown(markdown_text)))  # blocks apart, inline marks gone
    return " ".join(html.unescape(text).split())


class LinkedData:
    """schema.org descriptions of the pages of one site.

    `entity` looks an entity up the way templates do (so the build cache
    sees the look-up); `root` and `path` are those of the page being
    rendered: links are absolute with base_url, else relative to the page.
    """

    def __init__(self, site: Site, entity: Callable[[str], Optional[Entity]]):
        self.site = site
        self.entity = entity

    def link(self, root: str, path: str) -> str:
        return (self.site.base_url or root) + path

    def _site_node(self, root: str) -> dict:
        return {"@type": "WebSite", "@id": self.link(root, "index.html#site"), "name": self.site.title,
                "url": self.link(root, "index.html")}

    def _dossier_node(self, root: str) -> dict:
        """The dossier as the organization that publishes its pages and reviews the claims: described
        once in a page's graph, named by this @id elsewhere, the same on every page."""
        return {"@type": "Organization", "@id": self.link(root, "index.html#dossier"), "name": self.site.title,
                "url": self.link(root, "index.html")}

    def entity_node(self, root: str, e: Entity, full: bool = False) -> dict:
        node = {"@type": schema_type(self.site, e.type), "@id": self.link(root, entity_path(e.id) + "#entity"),
                "name": e.name, "url": self.link(root, entity_path(e.id))}
        if full:
            node.update(_compact({"alternateName": list(e.aliases), "description": plain(e.description)}))
        if same_as(e):
            node["sameAs"] = same_as(e)
        return node

    def _thing(self, root: str, entity_id: str) -> Optional[dict]:
        """An entity by id, whatever its type (what a claim is `about`)."""
        e = self.entity(entity_id)
        return self.entity_node(root, e) if e is not None else None

    def _party(self, root: str, entity_id: str, text: str = "") -> Optional[dict]:
        """Who made a work (`author`, `publisher`): an entity by id if its type is a Person or an
        Organization (AGENT_TYPES), none if it is another; else a named organization (a publisher
        given as plain text)."""
        e = self.entity(entity_id) if entity_id else None
        if e is None:
            return {"@type": "Organization", "name": text} if text else None
        node = self.entity_node(root, e)
        return node if node["@type"] in AGENT_TYPES else None

    def page(self, root: str, path: str, title: str, description: str, listing: Optional[str] = None) -> dict:
        """A page's node; `listing`: the first page of the listing it is one page of, if any (the
        later pages of the home page and of the claims index are lists, as the first)."""
        site_node = self._site_node(root)
        if path == "index.html":
            return {"@context": "https://schema.org", **site_node, "description": description,
                    "inLanguage": self.site.language}
        kind = {"index.html": "CollectionPage", "entities/index.html": "CollectionPage",
                "claims/index.html": "CollectionPage",
                "search/index.html": "SearchResultsPage"}.get(listing or path, "WebPage")
        url = self.link(root, path)
        return {"@context": "https://schema.org", "@type": kind, "@id": url, "name": title or self.site.title,
                "description": description, "url": url, "inLanguage": self.site.language,
                "isPartOf": site_node}

    def entity_page(self, root: str, e: Entity) -> dict:
        node = self.entity_node(root, e, full=True)
        node["mainEntityOfPage"] = self.link(root, entity_path(e.id))
        return {"@context": "https://schema.org", **node}

    def article_page(self, root: str, article: Article, claims: list[Claim], publisher: Optional[Entity]) -> dict:
        path = article_path(article.slug)
        original = self._original(root, article, publisher)
        dossier = self._dossier_node(root)
        # The page is the dossier's annotated copy: the dossier publishes it; who wrote and
        # published the original, and when, are said of the original alone (isBasedOn). The
        # page's own date of publication is not known (a build's date is not it).
        node = _compact({
            "@type": "NewsArticle", "@id": self.link(root, path + "#article"), "headline": article.title,
            "name": article.title, "description": article.summary, "url": self.link(root, path),
            "mainEntityOfPage": self.link(root, path), "publisher": _reference(dossier),
            # Its text is the article's, in the article's language; the notes around it are the dossier's.
            "keywords": list(article.tags), "inLanguage": article.language or self.site.language,
            "isPartOf": self._site_node(root),
            "isBasedOn": original,
        })
        reviews = [self.claim_review(root, c, article, _reference(original), _reference(dossier)) for c in claims]
        return {"@context": "https://schema.org", "@graph": [node, dossier, *reviews]}

    def _original(self, root: str, article: Article, publisher: Optional[Entity]) -> dict:
        """The article as its publisher put it out, of which the page is an annotated copy."""
        src = article.source
        by = self._party(root, publisher.id if publisher else "", src.publisher)
        return _compact({
            "@type": "NewsArticle", "@id": self.link(root, article_path(article.slug) + "#original"),
            "headline": article.title, "url": src.url, "inLanguage": article.language,
            "datePublished": _iso(src.published),
            "author": [n for name in src.authors if (n := self._author(root, name, src.publisher, publisher, by))],
            "publisher": by,
            "archivedAt": src.archive_url,
        })

    def _author(self, root: str, name: str, publisher_text: str, publisher: Optional[Entity],
                by: Optional[dict]) -> Optional[dict]:
        """One byline of the original, typed by what the dossier says of it: the publisher's own name
        (a byline such as "Reuters" on a Reuters story) is the publisher; an entity's id is that
        entity (a person or an organization; none if another, as _party). A name alone says nothing
        of its type, and bylines are people ("Olena Marchuk") and organizations ("Reuters",
        "Staff") alike: it is not guessed from the name but typed Thing, which every byline is."""
        if by is not None and name in (publisher_text, publisher.name if publisher else None):
            return by
        if self.entity(name) is not None:
            return self._party(root, name)
        return {"@type": "Thing", "name": name}

    def claim_review(self, root: str, c: Claim, article: Article, appearance: dict, reviewer: dict) -> dict:
        status = self.site.claim_status(c.status)
        rating = {"@type": "Rating", "alternateName": (status.alternate_name or status.label) if status else c.status}
        if status and status.rating:
            rating.update(ratingValue=status.rating, bestRating=BEST_RATING, worstRating=WORST_RATING)
        claim = _compact({
            "@type": "Claim",
            # none for a claimant that is a place or an event (see AGENT_TYPES): schema.org has no
            # property for a non-agent source; the footnote, dossier.json and claims.csv name it
            "author": self._party(root, c.claimant.id) if c.claimant else None,
            "datePublished": _iso(c.date),
            "inLanguage": article.language,  # the claim's words are its article's (none: the site's, as the page's)
            "appearance": appearance,
            "about": [n for r in c.about if (n := self._thing(root, r.id))],
        })
        url = self.link(root, f"{article_path(article.slug)}#claim-{c.id}")
        return _compact({
            # When the dossier reviewed the claim (`reviewed:`): not the claim's own date, nor a
            # build's day, which would be no one's and make every build differ.
            "@type": "ClaimReview", "@id": url, "url": url, "datePublished": _iso(c.reviewed),
            "claimReviewed": c.selector.quote,
            "itemReviewed": claim, "reviewRating": rating, "reviewBody": plain(c.note),
            "author": reviewer,
        })


def _reference(node: dict) -> dict:
    """A node named again by its @id; its url too, for readers that do not join nodes by id
    (Google reads a claim's appearance by its url)."""
    return _compact({"@type": node["@type"], "@id": node["@id"], "url": node.get("url")})


def template_globals(site: Site, entity: Callable[[str], Optional[Entity]]) -> dict:
    """The JSON-LD functions templates call: each returns a ready script element."""
    ld = LinkedData(site, entity)

    @jinja2.pass_context
    def ld_page(ctx, title="", description=""):
        pager = ctx.get("pager")
        return script_tag(ld.page(ctx["root"], ctx["path"], Markup(title).striptags(), Markup(description).striptags(),
                                  listing=pager.first if pager is not None else None))

    @jinja2.pass_context
    def ld_entity(ctx, e):
        return script_tag(ld.entity_page(ctx["root"], e))

    @jinja2.pass_context
    def ld_article(ctx, article, footnotes, publisher=None):
        return script_tag(ld.article_page(ctx["root"], article, [fn.claim for fn in footnotes], publisher))

    return {"ld_page": ld_page, "ld_entity": ld_entity, "ld_article": ld_article, "plain": plain}
