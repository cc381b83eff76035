"""Stage 3, render: the resolved dossier -> pages of HTML.

`SiteRenderer.specs()` describes every page (path, template, context);
`render(spec)` turns one into text. Templates come from the site's
templates/ first, then the defaults in dossier/templates/, file by file.
Every link is relative to the page that holds it and names the file
(…/index.html), so the output works at any URL path and from disk.

While a page renders, the registry look-ups its template makes are
recorded (`RenderedPage.deps`), so a later build can tell whether the
page would come out the same without rendering it again.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, NoReturn, Optional

import jinja2
import jinja2.meta
from markupsafe import Markup, escape

from . import export, inputs, markup
from .cache import CODE_DIGEST
from .diagnostics import BUILTIN, BUILTIN_TEMPLATES, template_places, within
from .model import Article, Claim, ClaimStatus, Entity
from .resolve import Analysis, Resolved, alphabetical
from .urls import article_path, entity_path, page_path

DEFAULT_TEMPLATES = BUILTIN_TEMPLATES
CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
       "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'")


# Written right to left: these languages (ISO 639 codes; he/iw, yi/ji old and new), and any tag naming one
# of these scripts (az-Arab). A tag with another script is left to right (ar-Latn).
RTL_LANGUAGES = frozenset({"ar", "arc", "azb", "ckb", "dv", "fa", "he", "iw", "ji", "ks", "lrc", "mzn", "nqo",
                           "pnb", "prs", "ps", "sd", "syr", "ug", "ur", "yi"})
RTL_SCRIPTS = frozenset({"adlm", "arab", "hebr", "mand", "nkoo", "rohg", "samr", "syrc", "thaa"})


def text_direction(language: str) -> str:
    """How a language tag (site.yaml's `language`) is written, "rtl" or "ltr": the pages' <html dir>."""
    primary, *rest = language.lower().split("-")
    for subtag in rest:
        if len(subtag) == 1:  # an extension or private use (-x-…): no script after it
            break
        if len(subtag) == 4 and subtag.isalpha():  # the script
            return "rtl" if subtag in RTL_SCRIPTS else "ltr"
    return "rtl" if primary in RTL_LANGUAGES else "ltr"


def language_attributes(language: str, page_direction: str) -> Markup:
    """The attributes of an element holding words in `language` (an article's, "" for the site's)
    on a page written in `page_direction`: ` lang="ar" dir="rtl"`, ` lang="uk"` (its direction
    is the page's), or nothing for the site's own language."""
    if not language:
        return Markup("")
    direction = text_direction(language)
    return Markup(' lang="{}"').format(language) + (Markup(f' dir="{direction}"') if direction != page_direction else "")


@dataclass(frozen=True)
class SpecGroup:
    """Pages made from the same inputs.

    `make` reads nothing but `inputs`, the site settings and the templates
    (its pages' templates may also look things up, as every page's may:
    see RenderedPage.deps). So when the inputs are the last build's, so are
    the pages: a build may take them without making their specs. None:
    the group is made every time (pages of listings, made from everything).

    `sources` names what the inputs are drawn from (see SOURCES), the ids
    they refer to whether or not they resolve: a build whose sources are
    all as they were knows the inputs are too, without making them.
    """

    name: str
    inputs: Optional[tuple]
    make: Callable[[], Iterable[PageSpec]]
    sources: frozenset[str] = frozenset()


# What a group's inputs are drawn from, each a digest a build can tell has changed:
#   "article:<slug>"  the article's two files, and what analysing them gave (with the names autolinked);
#   "card:<slug>"     the article but its text (see build._know_article): its title, its place among the
#                     articles, its publisher and authors (whose pages list it);
#   "hits:<slug>"     the article's mentions, each with its context, and what places it among the articles;
#   "claims:<slug>"   the article's claims, and what places it among the articles (resolve.article_order);
#   "entity:<id>"     the entity's file.
# SiteRenderer.groups_reached is the other way round: the groups one source reaches now.


@dataclass(frozen=True)
class Footnote:
    number: int
    claim: Claim
    supported_by: tuple[Claim, ...]
    contradicted_by: tuple[Claim, ...]


# What url(kind, key) links to: pages without a key, and pages named by one.
_FIXED_PATHS = {"home": "index.html", "entities": "entities/index.html",
                "claims": "claims/index.html", "search": "search/index.html"}
_KEYED_PATHS = {"article": article_path, "entity": entity_path, "page": page_path,
                "asset": lambda key: f"assets/{key}"}


def _call_error(message: str) -> jinja2.TemplateRuntimeError:
    """A mistake in a template's call of one of Dossier's functions: reported at the template's line."""
    return jinja2.TemplateRuntimeError(message)


def _described(value) -> str:
    return "none" if value is None else f"{type(value).__name__} {value!r}"[:80]


def _url_mistake(kind: str, key: str) -> NoReturn:
    if kind in _KEYED_PATHS:
        raise _call_error(f"url({kind!r}, …) needs a second argument: which {kind}")
    known = ", ".join(sorted([*_FIXED_PATHS, *_KEYED_PATHS, "claim"]))
    raise _call_error(f"url(): no page kind {kind!r}; known: {known}")


def _expect(call: str, value, kinds: tuple, wanted: str, may_be_none: bool = False) -> None:
    if not (isinstance(value, kinds) or (may_be_none and value is None)):
        raise _call_error(f"{call}: expected {wanted}, not {_described(value)}")


def _checked_ld(functions: dict) -> dict:
    """ld_article and ld_entity, saying plainly when given what they do not take."""
    ld_article, ld_entity = functions["ld_article"], functions["ld_entity"]

    @jinja2.pass_context
    def checked_article(ctx, article, footnotes, publisher=None):
        call = "ld_article(article, footnotes, publisher)"
        _expect(call, article, (Article, ArticleLookedUp), "an article (the page's `article`, or get_article(slug))")
        _expect(call, footnotes, (list, tuple), "the page's `footnotes` as second argument")
        for note in footnotes:
            _expect(call, note, (Footnote,), "the page's `footnotes` as second argument")
        _expect(call, publisher, (Entity,), "an entity or none as publisher", may_be_none=True)
        return ld_article(ctx, article, footnotes, publisher)

    @jinja2.pass_context
    def checked_entity(ctx, e):
        _expect("ld_entity(e)", e, (Entity,), "an entity (the page's `e`, or get_entity(id))")
        return ld_entity(ctx, e)

    return {**functions, "ld_article": checked_article, "ld_entity": checked_entity}


_BY_VALUE = frozenset({str, Markup, int, float, bool, type(None), dt.date})  # reuse() keys on these as they are


def _value_or_id(arg) -> object:
    return (type(arg), arg) if type(arg) in _BY_VALUE else id(arg)


PAGE_SIZE = 100  # items on one page of a listing: no page grows with the dossier


@dataclass(frozen=True)
class Pager:
    """Where one page sits in a listing split over several pages.

    It holds the first page's path and the count, not every page's path: a
    build digests the context of each page it may make again, and a listing
    of 500 pages would otherwise be digested 500 times over."""

    number: int  # 1-based
    first: str  # the listing's first page
    count: int

    def page(self, number: int) -> str:
        return paged_path(self.first, number)

    @property
    def path(self) -> str:
        return self.page(self.number)

    @property
    def paths(self) -> tuple[str, ...]:  # every page of the listing, first to last
        return tuple(self.page(n) for n in range(1, self.count + 1))

    @property
    def prev(self) -> Optional[str]:
        return self.page(self.number - 1) if self.number > 1 else None

    @property
    def next(self) -> Optional[str]:
        return self.page(self.number + 1) if self.number < self.count else None

    @property
    def last(self) -> str:
        return self.page(self.count)


def paged_path(first: str, number: int) -> str:
    """Page `number` of a listing whose first page is `first` (…/index.html)."""
    return first if number == 1 else f"{first[:-len('index.html')]}page-{number}/index.html"


def pagers(first: str, count: int) -> list[Pager]:
    count = max(count, 1)
    return [Pager(n, first, count) for n in range(1, count + 1)]


def chunks(items: list) -> list[list]:
    return [items[i:i + PAGE_SIZE] for i in range(0, len(items), PAGE_SIZE)] or [[]]


def _read(name: str) -> bool:
    """Whether a template's file is one a build reads: not an editor's backup or autosave."""
    return inputs.read_by_build(f"templates/{name}")


class _CompiledTemplates(jinja2.BytecodeCache):
    """Templates compiled once per process (`serve` builds again and again, each time with a
    new environment), and kept on disk for the next process: compiling them costs a command
    0.1 s, more than a one-article rebuild of a 1,000-article dossier renders. Kept by name
    and file with the checksum of their source, so an edited template is compiled anew.

    On disk they go to Jinja2's own cache folder for this user in the system's temporary
    folder (made private to the user, or not used), never into the output, which is
    published: compiled code holds the templates' full paths. Each file is named for
    Dossier's code and the libraries' versions as well (`code`): the code compiled depends
    on the environment's options, which Jinja2's key does not hold, and on Jinja2's
    version. The disk is a help, not a need: a folder that cannot be used is passed over."""

    def __init__(self, code: str):
        self._code: dict[str, tuple[str, object]] = {}
        self._pattern = f"__dossier_{code}_%s.cache"
        self._disk: Optional[jinja2.FileSystemBytecodeCache] = None
        self._disk_tried = False

    def _on_disk(self) -> Optional[jinja2.FileSystemBytecodeCache]:
        if not self._disk_tried:  # made on first use: importing Dossier touches no folder
            self._disk_tried = True
            try:
                self._disk = jinja2.FileSystemBytecodeCache(pattern=self._pattern)
            except (OSError, RuntimeError):  # no private folder can be had: memory only
                self._disk = None
        return self._disk

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        checksum, code = self._code.get(bucket.key, (None, None))
        if checksum == bucket.checksum:
            bucket.code = code
            return
        disk = self._on_disk()
        if disk is not None:
            try:
                disk.load_bytecode(bucket)  # a file of another source or Python: left unused
            except Exception:  # unreadable or cut short: compiled again
                bucket.reset()
            if bucket.code is not None:
                self._code[bucket.key] = (bucket.checksum, bucket.code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self._code[bucket.key] = (bucket.checksum, bucket.code)
        disk = self._on_disk()
        if disk is not None:
            try:
                disk.dump_bytecode(bucket)
            except OSError:
                pass


_COMPILED = _CompiledTemplates(CODE_DIGEST)


class TemplateLoader(jinja2.BaseLoader):
    """The site's templates/ over the built-in templates, file by file; `dossier/<name>` is
    always the built-in one, so that a site's article.html can extend "dossier/article.html".
    The prefix is reserved: a folder templates/dossier/ is not read. A BOM is dropped (an
    editor's, never meant as text: in <head> it would end the head)."""

    def __init__(self, site_templates: Path):
        self.site_templates = site_templates
        self.site = jinja2.FileSystemLoader(str(site_templates), encoding="utf-8-sig")
        self.builtin = jinja2.FileSystemLoader(str(DEFAULT_TEMPLATES))

    def get_source(self, environment: jinja2.Environment, name: str):
        pieces = jinja2.loaders.split_template_path(name)
        if len(pieces) > 1 and pieces[0] == BUILTIN:
            try:
                return self.builtin.get_source(environment, "/".join(pieces[1:]))
            except jinja2.TemplateNotFound:
                raise jinja2.TemplateNotFound(name, f"{name} ({BUILTIN}/ names the built-in templates: "
                                                    f"a folder templates/{BUILTIN}/ is not read)") from None
        try:
            return self.site.get_source(environment, name)
        except jinja2.TemplateNotFound:
            pass
        try:
            return self.builtin.get_source(environment, name)
        except jinja2.TemplateNotFound:
            raise jinja2.TemplateNotFound(name) from None  # named alone: the folders are no concern of the site's

    def list_templates(self) -> list[str]:
        own = [n for n in self.site.list_templates() if not n.startswith(f"{BUILTIN}/")]
        builtin = self.builtin.list_templates()
        return sorted({*own, *builtin, *(f"{BUILTIN}/{n}" for n in builtin)})

    def overrides(self, name: str) -> bool:
        """Whether the site's templates/ holds a template of this name that a build reads."""
        return (self.site_templates / name).is_file() and _read(name)


class _Environment(jinja2.Environment):
    def join_path(self, template: str, parent: str) -> str:
        """`template` as named in `parent`'s extends, include or import. A template naming itself
        would recurse until Python stops it; said plainly instead, at the line that does."""
        if template == parent:
            hint = (f': to build on the built-in {template}, extend "{BUILTIN}/{template}"'
                    if (DEFAULT_TEMPLATES / template).is_file() else "")
            raise jinja2.TemplateRuntimeError(f'"{template}" extends, includes or imports itself{hint}')
        return template


@dataclass
class PageSpec:
    """One output file: a template and its context, or ready text."""

    path: str
    template: Optional[str] = None
    context: dict = field(default_factory=dict)
    text: Optional[str] = None
    # What the context is made from, when that is less to digest than the context itself (the
    # page's key is then made from it): the context must be the same whenever these are.
    inputs: Optional[tuple] = None


@dataclass
class RenderedPage:
    path: str
    text: str
    deps: frozenset[tuple[str, str]]  # ("entity"|"claim"|"article"|"article-card"|"article-text", id) looked up


HEADLINE = ("slug", "title", "source", "language")  # what the look-up "article" gives (see ArticleLookedUp)


class ArticleLookedUp:
    """What get_article() gives a template: the article's headline (its slug, title, source and
    language: the look-up "article"); any other field, once read, counts as a look-up of its own, the text
    ("article-text") or the rest of the sidecar ("article-card"). A page that lists an article
    by its title, date or publisher is then known to be the same when only its text, summary,
    tags or claims changed."""

    __slots__ = ("_article", "_renderer")

    def __init__(self, article: Article, renderer: SiteRenderer):
        self._article, self._renderer = article, renderer

    # The headline's fields are read directly: looked up through __getattr__, each read first
    # failed (an exception made and caught), tens of thousands of times per 1,000 articles.
    slug = property(lambda self: self._article.slug)
    title = property(lambda self: self._article.title)
    source = property(lambda self: self._article.source)
    language = property(lambda self: self._article.language)  # what its quotes are marked with, wherever listed

    def __getattr__(self, name: str):
        if name not in HEADLINE:
            self._renderer._deps.add(("article-text" if name == "text" else "article-card", self._article.slug))
        return getattr(self._article, name)

    def __repr__(self) -> str:
        self._renderer._deps.add(("article-text", self._article.slug))
        return repr(self._article)


class SiteRenderer:
    def __init__(self, resolved: Resolved, site_dir: Path):
        self.r = resolved
        self.site_dir = site_dir
        self.site = resolved.dossier.site
        self._looked_up_articles: dict[str, ArticleLookedUp] = {}  # made as templates look them up
        self._in_order = resolved.in_order  # as on the home page
        self._rank = resolved.home_ranks
        self._by_slug = resolved.by_slug
        self._source_names: dict[str, dict[str, str]] = {}
        self._deps: set[tuple[str, str]] = set()
        self._root = ""  # of the page being rendered
        self._fragments: dict[tuple, tuple[Markup, frozenset, tuple]] = {}  # see _reuse
        self._direction = text_direction(self.site.language)  # every page's
        self.env = _Environment(
            loader=TemplateLoader(site_dir / "templates"),
            autoescape=True, trim_blocks=True, lstrip_blocks=True,
            # A renderer serves one build: its templates are read once, not looked at again per page.
            auto_reload=False, undefined=jinja2.StrictUndefined, bytecode_cache=_COMPILED,
        )
        self.env.filters["markdown"] = lambda text: Markup(markup.markdown(text or ""))
        self.env.globals.update(
            site=self.site, csp=CSP, url=self._url, get_entity=self._entity,
            get_claim=self._claim, get_article=self._article, status=self._status,
            entity_type=self.site.entity_type, nav_pages=self._nav_pages(), reuse=self._reuse,
            direction=self._direction, lang_attrs=self._lang_attrs, in_language=self._in_language,
        )
        self.env.globals.update(_checked_ld(export.template_globals(self.site, self._entity)))

    def close(self) -> None:
        """Let go of the build it rendered. Its templates refer back to it (their functions are its
        methods): a cycle that the collector, paused during builds, frees only at its next full
        collection, and a process that builds again and again (serve, the warm process) would
        meanwhile hold every build's dossier and page fragments (some 35 MB a build at 1,000
        articles). What is left of the cycle once its fields are gone is small."""
        self.env.globals.clear()
        if self.env.cache is not None:
            self.env.cache.clear()
        self.__dict__.clear()

    # -- what templates may look up; each look-up is recorded -------------
    def _entity(self, entity_id: str) -> Optional[Entity]:
        self._deps.add(("entity", entity_id))
        return self.r.entities.get(entity_id)

    def _claim(self, claim_id: str) -> Optional[Claim]:
        self._deps.add(("claim", claim_id))
        return self.r.claims.get(claim_id)

    def _article(self, slug: str) -> Optional[ArticleLookedUp]:
        self._deps.add(("article", slug))
        found = self._looked_up_articles.get(slug)
        if found is None and slug in self._by_slug:
            found = self._looked_up_articles[slug] = ArticleLookedUp(self._by_slug[slug], self)
        return found

    def _url(self, kind: str, key: str = "", fragment: str = "") -> str:
        """A link from the page being rendered to another page of the site.

        It takes no template context: a function that does is given a copy
        of the context at every call made in a loop, which cost more than
        the rest of the call."""
        if kind == "claim":
            claim = self._claim(key)
            if claim is None:
                raise _call_error(f"url('claim', …): no claim {key!r}")
            kind, key, fragment = "article", claim.article, f"claim-{key}"
        if kind == "claims" and fragment.startswith("status-"):  # the page where that status begins
            return self._root + self._status_pages().get(fragment[7:], "claims/index.html") + f"#{fragment}"
        path = _FIXED_PATHS.get(kind)
        if path is None:
            path = _KEYED_PATHS[kind](key) if kind in _KEYED_PATHS and key else _url_mistake(kind, key)
        return self._root + path + (f"#{fragment}" if fragment else "")

    def _reuse(self, macro, *args, **kwargs) -> Markup:
        """`reuse(macro, args...)` in a template: macro(args...), made once for all pages
        as deep (the same root) and then reused, with the look-ups it made.

        For a macro whose output depends only on its arguments and on the
        links url() makes (a claim's line, listed on many pages). Arguments
        are told apart by value (text, numbers, dates) or else by identity:
        the dossier's objects, which do not change during a build."""
        if not callable(macro):
            raise _call_error(f"reuse(): the first argument must be a macro, not {_described(macro)}")
        code = getattr(getattr(macro, "_func", None), "__code__", None) or macro  # the same macro on every page
        key = (code, self._root, *map(_value_or_id, args), *[(k, _value_or_id(v)) for k, v in sorted(kwargs.items())])
        found = self._fragments.get(key)
        if found is None:
            outer, self._deps = self._deps, set()
            try:
                html = macro(*args, **kwargs)
            finally:
                made, self._deps = self._deps, outer
                outer.update(made)
            # The arguments are kept with it: no object known by its id here is freed and its id reused.
            found = self._fragments[key] = (html, frozenset(made), (args, kwargs))
        else:
            self._deps.update(found[1])
        return found[0]

    def _lang_attrs(self, article, call: str = "lang_attrs(article)") -> Markup:
        """`lang_attrs(article)` in a template: the attributes of an element that holds the
        article's own words (its text, a quote, a mention in context): its language, and its
        direction where that is not the page's; nothing when it is in the site's language."""
        _expect(call, article, (Article, ArticleLookedUp),
                "an article (the page's `article`, or get_article(slug))")
        return language_attributes(article.language, self._direction)

    def _in_language(self, article, text) -> Markup:
        """`in_language(article, text)` in a template: the text (some of the article's own words,
        escaped) in a <span> with lang_attrs(article); the text alone when those are none."""
        attributes = self._lang_attrs(article, "in_language(article, text)")
        return Markup("<span{}>{}</span>").format(attributes, text) if attributes else escape(text)

    def _status(self, key: str):
        return self.site.claim_status(key) or type("S", (), {"key": key, "label": key})

    def _nav_pages(self):
        return sorted(self.r.dossier.pages, key=lambda p: p.slug)

    # -- turning a spec into text -----------------------------------------
    def render(self, spec: PageSpec) -> RenderedPage:
        if spec.text is not None:
            return RenderedPage(spec.path, spec.text, frozenset())
        self._deps = set()
        root = self._root = "../" * spec.path.count("/")
        try:
            text = self.env.get_template(spec.template).render(root=root, path=spec.path, **spec.context)
        except Exception as exc:
            self._note_overrides(exc)
            raise
        return RenderedPage(spec.path, text, frozenset(self._deps))

    def _note_overrides(self, exc: Exception) -> None:
        """An error in a built-in template is most likely caused by a site's template it uses
        (a macros.html whose macros take other arguments): the error says which those are."""
        for filename, _ in template_places(exc):
            if within(filename, self.site_dir / "templates") is not None:
                return  # the site's own template is named, at its line
            name = within(filename, DEFAULT_TEMPLATES)
            if name is not None:
                break
        else:
            return
        loader = self.env.loader
        used = jinja2.meta.find_referenced_templates(self.env.parse(loader.builtin.get_source(self.env, name)[0]))
        own = sorted(f"templates/{n}" for n in set(used) if n and loader.overrides(n))
        if own:
            exc.add_note(f"the built-in {name} uses the site's {', '.join(own)}")

    def warm(self) -> None:
        """Compile every template now, so processes forked later share the compiled code."""
        for name in self.env.list_templates(filter_func=lambda n: n.endswith(".html") and _read(n)):
            try:
                self.env.get_template(name)
            except jinja2.TemplateError:
                pass  # reported when a page that uses it renders

    def templates_digest(self) -> str:
        """Changes whenever any template a page may use changes."""
        h = hashlib.blake2b(digest_size=16)
        for name in sorted(self.env.list_templates(filter_func=_read)):
            source, filename, _ = self.env.loader.get_source(self.env, name)
            h.update(f"{name}\0{filename}\0{source}\0".encode())
        return h.hexdigest()

    # -- the pages ----------------------------------------------------------
    def specs(self, exports: bool = True) -> Iterator[PageSpec]:
        for group in self.spec_groups():
            yield from group.make()
        if exports:
            yield from self.export_specs()

    def spec_groups(self) -> Iterator[SpecGroup]:
        """Every page but the export files, in groups: an article's page, an entity's pages, the rest."""
        return (make() for _, make in self.group_plan())

    def group_plan(self) -> Iterator[tuple[str, Callable[[], SpecGroup]]]:
        """Each group's name and how to make it (its inputs are gathered then): a build that knows
        a group's sources did not change need not make it (see SpecGroup)."""
        articles = self._in_order
        yield "home", lambda: SpecGroup("home", None, lambda: self.home(articles))
        for article in articles:
            yield f"article:{article.slug}", lambda a=article: self.article_group(a, self.r.analyses[a.slug])
        yield "entities", lambda: SpecGroup("entities", None, lambda: [self.entities_index()])
        for entity in sorted(self.r.entities.values(), key=lambda e: e.id):
            yield f"entity:{entity.id}", lambda e=entity: self.entity_group(e)
        # Made from the claims in the order they are listed (their statuses among them) and the site.
        yield "claims", lambda: SpecGroup("claims", (tuple(self.r.claims_in_order),), self.claims_index,
                                          frozenset(self._named("claims", (a.slug for a in articles if a.claims))))
        yield "other", lambda: SpecGroup("other", None, lambda: self._other_pages(articles))

    def _named(self, kind: str, keys: Iterable[str]) -> set[str]:
        """The names of sources (see SOURCES), each made once and shared by every group naming it:
        at 10,000 articles the groups name some 130,000."""
        names = self._source_names.setdefault(kind, {})
        return {names.get(k) or names.setdefault(k, f"{kind}:{k}") for k in set(keys)}

    def groups_reached(self, source: str) -> set[str]:
        """The groups whose inputs draw on `source` as it is now (see SOURCES): with each
        group's own `sources` as the last build recorded them, every group a changed source
        may have changed."""
        kind, _, key = source.partition(":")
        reached = set()
        if kind == "article" and key in self._by_slug:
            reached.add(source)
            for c in self._by_slug[key].claims:
                for ref in (*c.supports, *c.contradicts):  # the article whose claim it backs or disputes
                    target = self.r.claims.get(ref.id)
                    if target is not None:
                        reached.add(f"article:{target.article}")
        elif kind == "hits" and key in self.r.analyses:
            reached.update(f"entity:{h.entity}" for h in self.r.analyses[key].hits)
        elif kind == "claims" and key in self._by_slug and self._by_slug[key].claims:
            reached.add("claims")
            for c in self._by_slug[key].claims:
                reached.update(f"entity:{ref.id}" for ref in (c.claimant, *c.about) if ref)
        elif kind == "entity" and key in self.r.entities:
            reached.add(source)
            reached.update(f"entity:{rel.entity.id}" for rel in self.r.entities[key].relations)
        elif kind == "card" and key in self._by_slug:  # the pages listing the article (those that did: by the last sources)
            reached.update(f"entity:{e}" for e in _credited(self._by_slug[key]) if e in self.r.entities)
        return reached

    def _other_pages(self, articles: list[Article]) -> Iterator[PageSpec]:
        for page in self._nav_pages():
            yield PageSpec(page_path(page.slug), "page.html", {"page": page})
        yield PageSpec("search/index.html", "search.html")
        yield PageSpec("404.html", "404.html", {"base": self.site.base_url})
        if self.site.base_url:
            yield PageSpec("sitemap.xml", text=self.sitemap(articles))

    def export_specs(self) -> Iterator[PageSpec]:
        """dossier.json, claims.csv and the like: files made from the whole dossier at once."""
        for path, text in export.files(self.r):
            yield PageSpec(path, text=text)

    def pages(self) -> Iterator[RenderedPage]:
        return (self.render(spec) for spec in self.specs())

    def home(self, articles: list[Article]) -> Iterator[PageSpec]:
        types = Counter(e.type for e in self.r.entities.values())
        statuses = self.r.status_counts
        by_type = [(t, types[t.key]) for t in self.site.entity_types]
        by_status = [(s, statuses[s.key]) for s in self.site.claim_statuses]
        parts = chunks(articles)
        for pager, part in zip(pagers("index.html", len(parts)), parts):
            yield PageSpec(pager.path, "home.html", dict(
                articles=part, article_total=len(articles), pager=pager,
                entity_counts=by_type, claim_counts=by_status, claim_total=len(self.r.claims)))

    def article_group(self, article: Article, analysis: Analysis) -> SpecGroup:
        claims = tuple(self.r.claims[cid] for cid in analysis.footnotes)
        supporters = tuple(self._claims(self.r.supported_by.get(c.id, ())) for c in claims)
        contradictors = tuple(self._claims(self.r.contradicted_by.get(c.id, ())) for c in claims)
        publisher = self.r.publisher_entity(article)

        def make() -> list[PageSpec]:
            notes = [Footnote(n, *note) for n, note in enumerate(zip(claims, supporters, contradictors), 1)]
            return [PageSpec(article_path(article.slug), "article.html", dict(
                article=article, body=analysis.body, footnotes=notes, publisher=publisher))]

        # Flat (each claim's list ended by None): digesting it walks no tuple per footnote.
        inputs = (article, analysis.body, publisher, claims, tuple(x for sup in supporters for x in (*sup, None)),
                  tuple(x for con in contradictors for x in (*con, None)))
        sources = self._named("article", (article.slug, *(c.article for sup in (*supporters, *contradictors) for c in sup)))
        if article.source.publisher:
            sources |= self._named("entity", (article.source.publisher,))  # named, found or not
        return SpecGroup(f"article:{article.slug}", inputs, make, frozenset(sources))

    def _claims(self, ids) -> tuple[Claim, ...]:
        return tuple(self.r.claims[i] for i in ids if i in self.r.claims)

    def entities_index(self) -> PageSpec:
        groups = []
        for t in self.site.entity_types:
            members = sorted((e for e in self.r.entities.values() if e.type == t.key), key=lambda e: alphabetical(e.name))
            if members:
                groups.append((t, members))
        counts = {e: len(self.r.hits.get(e, ())) for e in self.r.entities}
        return PageSpec("entities/index.html", "entities.html", dict(groups=groups, mention_counts=counts))

    def entity_group(self, e: Entity) -> SpecGroup:
        """An entity's page; its claims and mentions go on over further pages, 100 of each a page."""
        # Stable: each article's mentions stay in the order of its text, the articles as on the home page.
        hits = tuple(sorted(self.r.hits.get(e.id, ()), key=lambda h: self._rank[h.article]))
        claims_by = tuple(self._sorted_claims(self.r.claims_by.get(e.id, [])))
        claims_about = tuple(self._sorted_claims(self.r.claims_about.get(e.id, [])))
        articles_by = tuple(self._articles_by.get(e.id, ()))
        # Names are listed as a reader looks them up (by name, not by the ids the reader never sees).
        relations_in = tuple(sorted(self.r.relations_in.get(e.id, []), key=lambda x: (self._name_order(x[0]), x[1])))
        related = tuple(sorted(((self.r.entities[x], n) for x, n in self.r.related.get(e.id, []) if x in self.r.entities),
                               key=lambda pair: (-pair[1], alphabetical(pair[0].name), pair[0].id)))

        def make() -> Iterator[PageSpec]:
            by_article: dict[str, list] = {}
            for h in hits:
                by_article.setdefault(h.article, []).append(h)
            lists = [chunks(list(claims_by)), chunks(list(claims_about)), chunks(list(by_article.items())),
                     chunks(list(articles_by))]
            count = max(len(parts) for parts in lists)
            for pager in pagers(entity_path(e.id), count):
                by_part, about_part, mention_part, articles_by_part = (
                    parts[pager.number - 1] if pager.number <= len(parts) else [] for parts in lists)
                yield PageSpec(pager.path, "entity.html", dict(
                    e=e, type=self.site.entity_type(e.type), pager=pager,
                    relations_out=[(rel.role, rel.entity.id) for rel in e.relations],
                    relations_in=list(relations_in),
                    claims_by=by_part, claims_by_total=len(claims_by),
                    claims_about=about_part, claims_about_total=len(claims_about),
                    mentions=mention_part, mention_total=len(hits), related=list(related),
                    articles_by=articles_by_part, articles_by_total=len(articles_by),
                ))

        sources = (self._named("hits", (h.article for h in hits))
                   | self._named("claims", (c.article for c in (*claims_by, *claims_about)))
                   | self._named("card", articles_by)
                   | self._named("entity", (e.id, *(x for x, _ in relations_in), *(x.id for x, _ in related))))
        return SpecGroup(f"entity:{e.id}", (e, hits, claims_by, claims_about, relations_in, related, articles_by), make,
                         frozenset(sources))

    @functools.cached_property
    def _articles_by(self) -> dict[str, list[str]]:
        """Entity id -> the slugs of the articles it published or wrote, as the home page lists them:
        the other way of an article's link to its publisher's and authors' pages."""
        found: dict[str, list[str]] = {}
        for a in self._in_order:
            for e in _credited(a):
                if e in self.r.entities:
                    found.setdefault(e, []).append(a.slug)
        return found

    def _name_order(self, entity_id: str) -> tuple:
        e = self.r.entities.get(entity_id)
        return (*alphabetical(e.name if e else entity_id), entity_id)

    def _sorted_claims(self, ids) -> list[Claim]:
        order = {s.key: i for i, s in enumerate(self.site.claim_statuses)}
        return sorted(self._claims(ids), key=lambda c: (order.get(c.status, 99), self._rank[c.article], c.id))

    def _status_pages(self) -> dict[str, str]:
        """Status key -> the page of the claims index where that status begins."""
        if not hasattr(self, "_status_page_memo"):
            counts = self.r.status_counts
            starts, before = {}, 0
            for s in self.site.claim_statuses:
                if s.key in counts:
                    starts[s.key] = paged_path("claims/index.html", before // PAGE_SIZE + 1)
                    before += counts[s.key]
            self._status_page_memo = starts
        return self._status_page_memo

    def claims_index(self) -> Iterator[PageSpec]:
        ordered = self.r.claims_in_order
        counts, starts = self.r.status_counts, self._status_pages()
        overview = tuple((s, counts[s.key], starts[s.key]) for s in self.site.claim_statuses if s.key in counts)
        parts = chunks(ordered)
        for pager, part in zip(pagers("claims/index.html", len(parts)), parts):
            groups: list[tuple[ClaimStatus, list[Claim]]] = []
            for c in part:
                if not groups or groups[-1][0].key != c.status:
                    groups.append((self.site.claim_status(c.status), []))
                groups[-1][1].append(c)
            # The page is what its claims, the overview and its place make: keyed on them, not on
            # the lists made from them (500 pages at 10,000 articles, most of them as they were).
            yield PageSpec(pager.path, "claims.html",
                           dict(groups=groups, overview=list(overview), pager=pager, claim_total=len(ordered)),
                           inputs=(tuple(part), overview, pager.number, len(parts), len(ordered)))

    def sitemap(self, articles: list[Article]) -> str:
        slugs = self.r.slugs_in_order if articles is self.r.in_order else tuple(a.slug for a in articles)
        listed = (self.site.base_url, slugs, tuple(sorted(self.r.entities)),
                  tuple(p.slug for p in self._nav_pages()))
        if _last_sitemap and _last_sitemap[0] == listed:  # serve's last build listed the same pages
            return _last_sitemap[1]
        base, slugs, entity_ids, page_slugs = listed
        paths = ["index.html", "entities/index.html", "claims/index.html"]
        paths += [article_path(slug) for slug in slugs]
        paths += [entity_path(e) for e in entity_ids]
        paths += [page_path(slug) for slug in page_slugs]
        urls = "".join(f"  <url><loc>{export.xml_escape(base + p)}</loc></url>\n" for p in paths)
        text = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n' + urls + "</urlset>\n")
        _last_sitemap[:] = [listed, text]
        return text


def _credited(article: Article) -> dict[str, None]:
    """The publisher and authors of an article, each once, in order (those that are entity ids link to their pages)."""
    return dict.fromkeys(filter(None, (article.source.publisher, *article.source.authors)))


# The last sitemap made in this process, with what it lists: 12,000 links at 10,000 articles,
# the same after most edits.
_last_sitemap: list = []
