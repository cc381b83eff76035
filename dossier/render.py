"""Stage 3, render: the resolved dossier -> pages (path, HTML text).

Templates come from the site's templates/ first, then the defaults in
dossier/templates/, file by file. Every link is relative to the page that
holds it and names the file (…/index.html), so the output works at any
URL path and from disk.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional
from xml.sax.saxutils import escape as xml_escape

import jinja2
from markupsafe import Markup

from . import markup
from .model import Article, Claim, Entity
from .resolve import AnchoredArticle, Resolved

DEFAULT_TEMPLATES = Path(__file__).parent / "templates"
CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
       "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'")


def article_path(slug: str) -> str:
    return f"articles/{slug}/index.html"


def entity_path(entity_id: str) -> str:
    return f"entities/{entity_id}/index.html"


def page_path(slug: str) -> str:
    return f"{slug}/index.html"


def article_order(article: Article) -> tuple:
    """Newest first; undated last, by title."""
    published = article.source.published
    return (published is None, -(published.toordinal() if published else 0), article.title.lower(), article.slug)


@dataclass(frozen=True)
class Footnote:
    number: int
    claim: Claim
    supported_by: tuple[Claim, ...]
    contradicted_by: tuple[Claim, ...]


class SiteRenderer:
    def __init__(self, resolved: Resolved, site_dir: Path):
        self.r = resolved
        self.site = resolved.dossier.site
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader([
                jinja2.FileSystemLoader(str(site_dir / "templates")),
                jinja2.FileSystemLoader(str(DEFAULT_TEMPLATES)),
            ]),
            autoescape=True, trim_blocks=True, lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
        )
        self.env.filters["markdown"] = lambda text: Markup(markup.markdown(text or ""))
        self.env.globals.update(
            site=self.site, csp=CSP, url=self._url, get_entity=self.r.entities.get,
            get_claim=self.r.claims.get, get_article=self._article, status=self._status,
            entity_type=self.site.entity_type, nav_pages=self._nav_pages(),
        )
        self._articles = {a.article.slug: a.article for a in resolved.articles}

    # -- helpers the templates call -------------------------------------
    @jinja2.pass_context
    def _url(self, ctx, kind: str, key: str = "", fragment: str = "") -> str:
        """A link from the page being rendered to another page of the site."""
        if kind == "claim":
            kind, key, fragment = "article", self.r.claims[key].article, f"claim-{key}"
        path = {"home": "index.html", "entities": "entities/index.html",
                "claims": "claims/index.html", "search": "search/index.html",
                "article": article_path(key), "entity": entity_path(key), "page": page_path(key),
                "asset": f"assets/{key}"}[kind]
        return ctx["root"] + path + (f"#{fragment}" if fragment else "")

    def _article(self, slug: str) -> Optional[Article]:
        return self._articles.get(slug)

    def _status(self, key: str):
        return self.site.claim_status(key) or type("S", (), {"key": key, "label": key})

    def _nav_pages(self):
        return sorted(self.r.dossier.pages, key=lambda p: p.slug)

    def render(self, template: str, path: str, **context) -> tuple[str, str]:
        root = "../" * path.count("/")
        return path, self.env.get_template(template).render(root=root, path=path, **context)

    # -- the pages -------------------------------------------------------
    def pages(self) -> Iterator[tuple[str, str]]:
        articles = sorted(self.r.articles, key=lambda a: article_order(a.article))
        yield self.home([a.article for a in articles])
        for doc in articles:
            yield self.article_page(doc)
        yield self.entities_index()
        for entity in sorted(self.r.entities.values(), key=lambda e: e.id):
            yield self.entity_page(entity)
        yield self.claims_index()
        for page in self._nav_pages():
            yield self.render("page.html", page_path(page.slug), page=page)
        yield self.render("search.html", "search/index.html")
        yield self.render("404.html", "404.html", base=self.site.base_url)
        if self.site.base_url:
            yield "sitemap.xml", self.sitemap(articles)

    def home(self, articles: list[Article]) -> tuple[str, str]:
        by_type = [(t, sum(1 for e in self.r.entities.values() if e.type == t.key)) for t in self.site.entity_types]
        by_status = [(s, sum(1 for c in self.r.claims.values() if c.status == s.key)) for s in self.site.claim_statuses]
        return self.render("home.html", "index.html", articles=articles, entity_counts=by_type,
                           claim_counts=by_status, claim_total=len(self.r.claims))

    def article_page(self, doc: AnchoredArticle) -> tuple[str, str]:
        path = article_path(doc.article.slug)
        root = "../../"
        numbers = {cid: n for n, cid in enumerate(doc.footnotes, 1)}
        body = markup.render_body(doc.tokens, doc.text, doc.spans,
                                  lambda e: root + entity_path(e), numbers.__getitem__)
        notes = [Footnote(n, self.r.claims[cid], self._claims(self.r.supported_by.get(cid, ())),
                          self._claims(self.r.contradicted_by.get(cid, ())))
                 for cid, n in numbers.items()]
        return self.render("article.html", path, article=doc.article, body=Markup(body), footnotes=notes,
                           publisher=self.r.publisher_entity(doc.article))

    def _claims(self, ids) -> tuple[Claim, ...]:
        return tuple(self.r.claims[i] for i in ids if i in self.r.claims)

    def entities_index(self) -> tuple[str, str]:
        groups = []
        for t in self.site.entity_types:
            members = sorted((e for e in self.r.entities.values() if e.type == t.key), key=lambda e: e.name.lower())
            if members:
                groups.append((t, members))
        return self.render("entities.html", "entities/index.html", groups=groups,
                           mention_counts={e: len(h) for e, h in self.r.hits.items()})

    def entity_page(self, e: Entity) -> tuple[str, str]:
        hits = self.r.hits.get(e.id, [])
        by_article: dict[str, list] = {}
        for h in hits:
            by_article.setdefault(h.article, []).append(h)
        ordered = sorted(by_article.items(), key=lambda kv: article_order(self._articles[kv[0]]))
        return self.render(
            "entity.html", entity_path(e.id), e=e, type=self.site.entity_type(e.type),
            relations_out=[(rel.role, rel.entity.id) for rel in e.relations],
            relations_in=sorted(self.r.relations_in.get(e.id, [])),
            claims_by=self._sorted_claims(self.r.claims_by.get(e.id, [])),
            claims_about=self._sorted_claims(self.r.claims_about.get(e.id, [])),
            mentions=ordered, mention_total=len(hits),
            related=[(self.r.entities[x], n) for x, n in self.r.related.get(e.id, []) if x in self.r.entities],
        )

    def _sorted_claims(self, ids) -> list[Claim]:
        order = {s.key: i for i, s in enumerate(self.site.claim_statuses)}
        return sorted(self._claims(ids), key=lambda c: (order.get(c.status, 99), article_order(self._articles[c.article]), c.id))

    def claims_index(self) -> tuple[str, str]:
        groups = []
        for s in self.site.claim_statuses:
            members = [c for c in self.r.claims.values() if c.status == s.key]
            members.sort(key=lambda c: (article_order(self._articles[c.article]), c.id))
            if members:
                groups.append((s, members))
        return self.render("claims.html", "claims/index.html", groups=groups)

    def sitemap(self, articles: list[AnchoredArticle]) -> str:
        base = self.site.base_url
        paths = ["index.html", "entities/index.html", "claims/index.html"]
        paths += [article_path(a.article.slug) for a in articles]
        paths += [entity_path(e) for e in sorted(self.r.entities)]
        paths += [page_path(p.slug) for p in self._nav_pages()]
        urls = "".join(f"  <url><loc>{xml_escape(base + posixpath.normpath(p))}</loc></url>\n" for p in paths)
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n' + urls + "</urlset>\n")
