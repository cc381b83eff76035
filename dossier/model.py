"""The shared model: what a dossier is once its files are read.

Every value that a user wrote and that can be wrong later (a reference, a
quote) keeps its source position, so later stages can report it exactly.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from typing import NamedTuple, Optional

DEFAULT_ENTITY_TYPES = (
    ("person", "Person", "People"),
    ("organization", "Organization", "Organizations"),
    ("place", "Place", "Places"),
    ("event", "Event", "Events"),
)
DEFAULT_CLAIM_STATUSES = (  # key, label, rating (1 false .. 5 true, for ClaimReview)
    ("unverified", "Unverified", 3),
    ("corroborated", "Corroborated", 4),
    ("disputed", "Disputed", 2),
    ("confirmed", "Confirmed", 5),
    ("refuted", "Refuted", 1),
)
DEFAULT_RATINGS = {key: rating for key, _, rating in DEFAULT_CLAIM_STATUSES}
class _ReservedSlugs(frozenset):
    """Fixed names, plus page-2, page-3, ...: where the home page's later pages live."""

    def __contains__(self, slug: object) -> bool:
        return frozenset.__contains__(self, slug) or (isinstance(slug, str) and _PAGED_RE.fullmatch(slug) is not None)


_PAGED_RE = re.compile(r"page-[0-9]+")
# Top-level names the generated site uses; a free page may not take them.
RESERVED_SLUGS = _ReservedSlugs(
    {"articles", "entities", "claims", "search", "pagefind", "assets", "tags",
     "index", "404", "sitemap", "feed", "robots", "dossier"}
)


def unpickled_by_tuple_new(self: tuple) -> tuple:
    """A named tuple's __reduce__: made again by tuple.__new__, in C, not by the class's own
    __new__, a Python function (a 10,000-article cache holds some 800,000 of them: its
    articles and analyses read back in 0.6 s instead of 1.0 s)."""
    return tuple.__new__, (type(self), tuple(self))


# Pos, Ref, Selector and Mention are the model's most numerous values (some 65 of an
# article's 210: every claim, quote and reference has its position) and are read back from
# the cache by the million: as named tuples they unpickle three times faster than
# dataclasses and hold no dict each.
class Pos(NamedTuple):
    """A 1-based position in a file, the path relative to the site."""

    path: str
    line: int = 1
    col: int = 1

    __reduce__ = unpickled_by_tuple_new


class Ref(NamedTuple):
    """An id the user wrote that must name something elsewhere."""

    id: str
    pos: Pos

    __reduce__ = unpickled_by_tuple_new


@dataclass(frozen=True)
class EntityType:
    key: str
    label: str
    plural: str
    schema: str = ""  # its schema.org type in JSON-LD (Person, Organization, ...); "" = by key, else Thing


@dataclass(frozen=True)
class ClaimStatus:
    key: str
    label: str
    rating: Optional[int] = None  # 1 (false) .. 5 (true): the ClaimReview's reviewRating
    alternate_name: str = ""  # the rating in words for machines; the label when empty


@dataclass(frozen=True)
class Site:
    title: str
    description: str = ""
    language: str = "en"
    base_url: str = ""
    entity_types: tuple[EntityType, ...] = tuple(EntityType(*t) for t in DEFAULT_ENTITY_TYPES)
    claim_statuses: tuple[ClaimStatus, ...] = tuple(ClaimStatus(*s) for s in DEFAULT_CLAIM_STATUSES)
    autolink: bool = True

    def entity_type(self, key: str) -> Optional[EntityType]:
        return self._by_key[0].get(key)

    def claim_status(self, key: str) -> Optional[ClaimStatus]:
        return self._by_key[1].get(key)

    @functools.cached_property
    def _by_key(self) -> tuple[dict[str, EntityType], dict[str, ClaimStatus]]:
        # Looked up for every claim of every page: a dict, made once (not a field: not compared or digested).
        return ({t.key: t for t in reversed(self.entity_types)}, {s.key: s for s in reversed(self.claim_statuses)})


@dataclass(frozen=True)
class Relation:
    entity: Ref
    role: str


@dataclass(frozen=True)
class Entity:
    id: str
    name: str
    type: str
    path: str
    aliases: tuple[str, ...] = ()
    description: str = ""
    links: tuple[tuple[str, str], ...] = ()
    relations: tuple[Relation, ...] = ()
    # Where the name and each alias are written (for warnings about them); None: not known.
    name_pos: Optional[Pos] = None
    alias_pos: tuple[Pos, ...] = ()


class Selector(NamedTuple):
    """A W3C TextQuoteSelector: the quote, narrowed by the text around it."""

    quote: str
    pos: Pos
    prefix: str = ""
    suffix: str = ""

    __reduce__ = unpickled_by_tuple_new


class Mention(NamedTuple):
    entity: Ref
    selector: Selector

    __reduce__ = unpickled_by_tuple_new


@dataclass(frozen=True)
class Claim:
    id: str
    article: str
    selector: Selector
    pos: Pos
    status: str
    claimant: Optional[Ref] = None
    about: tuple[Ref, ...] = ()
    date: Optional[dt.date] = None
    note: str = ""
    supports: tuple[Ref, ...] = ()
    contradicts: tuple[Ref, ...] = ()
    reviewed: Optional[dt.date] = None  # when the dossier last reviewed it (its status and note)


@dataclass(frozen=True)
class Source:
    publisher: str = ""
    publisher_pos: Optional[Pos] = None
    url: str = ""
    published: Optional[dt.date] = None
    authors: tuple[str, ...] = ()
    retrieved: Optional[dt.date] = None
    archive_url: str = ""
    author_pos: tuple[Pos, ...] = ()  # where each of `authors` is written


@dataclass(frozen=True)
class Article:
    slug: str
    title: str
    text: str
    text_format: str  # "md" or "txt"
    path: str  # the text file, relative to the site
    sidecar: str  # the .yaml file, relative to the site
    source: Source = field(default_factory=Source)
    summary: str = ""
    tags: tuple[str, ...] = ()
    autolink: Optional[bool] = None  # None: the site's setting
    mentions: tuple[Mention, ...] = ()
    claims: tuple[Claim, ...] = ()
    # The language its text is written in, as its sidecar's `language:` says, when that is not
    # the site's; "": the site's (no key, or the site's own tag in any case).
    language: str = ""


@dataclass(frozen=True)
class Page:
    slug: str
    title: str
    text: str
    path: str
    description: str = ""


@dataclass(frozen=True)
class Span:
    """An anchored annotation in an article: raw offsets in its reader text."""

    start: int
    end: int
    kind: str  # "claim" or "mention"
    key: str  # claim id or entity id
    anchor: str  # html id of its first piece: "claim-<id>", or "m-<entity>-<n>" for its n-th mention of that entity
    status: str = ""  # claims only


@dataclass(frozen=True)
class Dossier:
    """Everything loaded from one site folder."""

    site: Site
    articles: tuple[Article, ...]
    entities: tuple[Entity, ...]
    pages: tuple[Page, ...]
    # Ids defined by files that failed to load: references to them stay quiet.
    broken_ids: frozenset[str] = frozenset()
