"""Stage 1, load: the site's files -> the model, with source positions.

Reads site.yaml, content/articles, content/entities and content/pages. Every
problem is reported to the Diagnostics; what cannot be read is left out and
its id remembered, so later stages do not cascade.
"""

from __future__ import annotations

import functools
import html
import os
import re
import stat
import time
import unicodedata
from pathlib import Path
from typing import Callable, Optional, Sequence

import jinja2
import jinja2.meta
import mistune

from . import inputs, yamlread
from .diagnostics import BUILTIN, BUILTIN_TEMPLATES, Diagnostics
from .model import (
    DEFAULT_RATINGS, RESERVED_SLUGS, Article, Claim, ClaimStatus, Dossier, Entity, EntityType, Mention,
    Page, Pos, Relation, Selector, Site, Source,
)
from .yamlread import ID_RE, MapReader, did_you_mean

MAX_FILE_BYTES = 20 * 1024 * 1024
# Folder -> (its stamp, its visible entries, those that are folders): see SiteFiles._one_folder.
_listed: dict[str, tuple[tuple, tuple[Path, ...], frozenset[Path]]] = {}
_sites: dict[str, Site] = {}  # site folder -> its settings as last loaded (see _as_before)
# Site -> (the articles folder's listing, as kept in _listed, and what load_articles paired in it).
_paired: dict[str, tuple[tuple[Path, ...], tuple]] = {}

SITE_KEYS = ("title", "description", "language", "base_url", "entity_types",
             "claim_statuses", "autolink")
ENTITY_KEYS = ("name", "type", "aliases", "description", "links", "relations")
RELATION_KEYS = ("entity", "role")
SIDECAR_KEYS = ("title", "language", "source", "summary", "tags", "mentions", "claims", "autolink")
SOURCE_KEYS = ("publisher", "url", "published", "authors", "retrieved", "archive_url")
MENTION_KEYS = ("entity", "quote", "prefix", "suffix")
CLAIM_KEYS = ("id", "quote", "prefix", "suffix", "claimant", "about", "status", "date", "reviewed",
              "note", "supports", "contradicts")
PAGE_KEYS = ("title", "description")
LANGUAGE_RE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*\Z")
FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\n(.*?\n)?---[ \t]*(?:\n|\Z)", re.S)


def load(root: Path, diags: Diagnostics, read_articles: Optional[ArticleReader] = None,
         read_entity: Optional[EntityReader] = None) -> Dossier:
    """Read a whole site folder. Check `diags` for errors afterwards.

    `read_articles` may stand in for `read_each`, `read_entity` for
    `read_entity_file` (the build uses ones that cache, and read articles on
    every core).
    """
    files = SiteFiles(root, diags)
    site = _as_before(files, load_site(files, diags))
    broken: set[str] = set()
    entities = load_entities(files, site, diags, broken, read_entity)
    articles = load_articles(files, site, diags, broken, read_articles or read_each)
    pages = load_pages(files, diags)
    files.listing("static", recursive=True)  # reports links leading out of the site
    check_templates(files, diags)
    return Dossier(site, tuple(articles), tuple(entities), tuple(pages), frozenset(broken))


class SiteFiles:
    """Reads files of one site as text, refusing what lies outside it."""

    def __init__(self, root: Path, diags: Diagnostics):
        self.root = root.resolve()
        self.diags = diags
        self.vetted: set[Path] = set()  # listed, so known to stay inside the site
        # What the listings' entries are (the folder says, no need to ask each path again).
        self.folders: set[Path] = set()
        self.links: set[Path] = set()

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def listing(self, folder: str, recursive: bool = False) -> Sequence[Path]:
        """The visible entries of a site folder, sorted, but editors' leftovers (inputs.editor_leftover);
        links leading out are reported, not listed.

        Recursive listings hold files only and do not follow links to folders.
        """
        base = self.root / folder
        if not base.is_dir():
            if os.path.lexists(base):
                self.diags.error(Pos(folder), f"{folder} must be a folder; rename this file")
            return []
        if not self.safe_link(base):
            return []
        return self._scan(base, recursive) if recursive else self._one_folder(base)

    def _scan(self, base: Path, recursive: bool) -> list[Path]:
        found, todo = [], [base]
        while todo:
            folder_path = todo.pop()
            try:
                entries = sorted(os.scandir(folder_path), key=lambda e: e.name)
            except OSError as exc:
                self.diags.error(Pos(self.rel(folder_path)), f"cannot read the folder: {exc.strerror}")
                continue
            for entry in entries:
                if entry.name.startswith(".") or inputs.editor_leftover(entry.name):  # x.md~, #x.md#
                    continue
                path = folder_path / entry.name  # the folder parsed once, not each entry's whole path
                link = entry.is_symlink()
                if link and not self.safe_link(path):
                    continue
                if recursive and entry.is_dir():
                    if link:
                        self.diags.warning(Pos(self.rel(path)), "this is a link to a folder; links to folders are not followed")
                    else:
                        todo.append(path)
                else:
                    found.append(path)
                    self.vetted.add(path)
                    if link:
                        self.links.add(path)
                    if entry.is_dir():
                        self.folders.add(path)
        return sorted(found) if recursive else found  # one folder's entries: in order already

    def _one_folder(self, base: Path) -> list[Path]:
        """The listing of one folder, the one this process made last while the folder's own
        stamp says no entry came or went since (serve lists 20,000 articles for each edit)."""
        try:
            st = os.stat(base)
            stamp = (st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)
        except OSError:
            stamp = None
        known = _listed.get(str(base))
        if stamp is not None and known is not None and known[0] == stamp:
            _, found, folders = known
            self.vetted.update(found)
            self.folders.update(folders)
            return found  # the same tuple while the folder is the same (see load_articles)
        _listed.pop(str(base), None)
        links, said = len(self.links), len(self.diags.items)
        found = self._scan(base, recursive=False)
        # Kept unless it holds links (where they lead is checked each time), reading it gave a
        # diagnostic (said again each time), or it changed too lately for its times to vouch
        # for it (see inputs.RACY_NS).
        if (stamp is not None and len(self.links) == links and len(self.diags.items) == said
                and max(stamp[:2]) < time.time_ns() - inputs.RACY_NS):
            _listed[str(base)] = (stamp, tuple(found), frozenset(p for p in found if p in self.folders))
            return _listed[str(base)][1]  # the tuple the next listings give, while the folder is the same
        return found

    def safe_link(self, path: Path) -> bool:
        """False, with an error, if a path leads outside the site or nowhere."""
        real = Path(os.path.realpath(path))
        if not real.is_relative_to(self.root):
            self.diags.error(Pos(self.rel(path)), "this is a link to a place outside the site; copy the file in instead")
            return False
        if not real.exists():
            self.diags.error(Pos(self.rel(path)), "this link leads nowhere (its target is missing, or it loops)")
            return False
        return True

    def read(self, path: Path) -> Optional[str]:
        rel = self.rel(path)
        if path not in self.vetted and not self.safe_link(path):
            return None
        try:
            st = path.stat()
            if not stat.S_ISREG(st.st_mode):  # a named pipe or a device: reading it could wait forever
                self.diags.error(Pos(rel), "this is not a regular file (a named pipe or a device?); remove it")
                return None
            size = st.st_size
            data = path.read_bytes() if size <= MAX_FILE_BYTES else b""
        except OSError as exc:
            self.diags.error(Pos(rel), f"cannot read the file: {exc.strerror}")
            return None
        if size > MAX_FILE_BYTES:
            self.diags.error(Pos(rel), f"the file is too large ({size / 1048576:.0f} MiB; the limit is {MAX_FILE_BYTES // 1048576} MiB)")
            return None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line_start = data.rfind(b"\n", 0, exc.start) + 1
            line = data.count(b"\n", 0, exc.start) + 1
            col = len(data[line_start:exc.start].decode("utf-8", "replace")) + 1
            self.diags.error(Pos(rel, line, col), f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8")
            return None
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        # Composed characters (NFC): text copied on some systems writes é as e and an accent;
        # the reader sees the same, and quotes and names must match it.
        return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)

    def yaml(self, path: Path, what: str, keys) -> Optional[MapReader]:
        text = self.read(path)
        if text is None:
            return None
        rel = self.rel(path)
        node = yamlread.parse(text, rel, self.diags)
        if node is None:
            return None
        reader = MapReader(node, rel, self.diags, keys, what)
        return reader if reader.ok else None


def _as_before(files: SiteFiles, site: Site) -> Site:
    """The site settings this process loaded last, if they are equal: the same object, so what
    later stages know by identity (the export records, see build._record_memo) stays known."""
    before = _sites.get(str(files.root))
    if before == site:
        return before
    _sites[str(files.root)] = site
    return site


def load_site(files: SiteFiles, diags: Diagnostics) -> Site:
    path = files.root / "site.yaml"
    if not path.is_file():
        diags.error(Pos("site.yaml"), "there is no site.yaml: every dossier needs one, with at least a title")
        return Site(title="Untitled dossier")
    m = files.yaml(path, "site.yaml", SITE_KEYS)
    if m is None:
        return Site(title="Untitled dossier")
    base_url = m.url("base_url")
    if "?" in base_url or "#" in base_url:  # every page's address is made by adding its path to it
        m.diags.error(m.value_pos("base_url"), f"'base_url' is where the site is published, without '?' or '#': found '{base_url}'")
        base_url = ""
    elif re.search(r"/index\.html?\Z", base_url, re.I):  # pages' addresses would be …/index.html/about/
        m.diags.error(m.value_pos("base_url"), "'base_url' is the folder the site is published in, not a page: "
                      f"found '{base_url}'; write '{base_url.rpartition('/')[0]}/'")
        base_url = ""
    if base_url and not base_url.endswith("/"):
        base_url += "/"
    defaults = Site(title="")
    return Site(
        title=m.text("title", required=True, what="site.yaml"),
        description=m.text("description"),
        language=_language(m),
        base_url=base_url,
        entity_types=_entity_types(m) or defaults.entity_types,
        claim_statuses=_claim_statuses(m) or defaults.claim_statuses,
        autolink=bool(m.boolean("autolink", True)),
    )


def _language(m: MapReader, default: str = "en") -> str:
    """The `language` of site.yaml or of a sidecar, a language tag; `default` without one, or for one that is not."""
    language = m.text("language") or default
    if not LANGUAGE_RE.match(language):
        m.diags.error(m.value_pos("language"), f"'language' must be a language tag such as en or pt-BR, found '{language}'")
        return default
    return language


def _article_language(m: MapReader, site: Site) -> str:
    """A sidecar's `language`, or "" for the site's (tags compare regardless of case: EN is en)."""
    language = _language(m, site.language)
    return "" if language.lower() == site.language.lower() else language


def _declared(m: MapReader, key: str, fields) -> list[tuple[str, MapReader]]:
    table = m.mapping(key, None, f"'{key}'")
    if table is None:
        return []
    if not table.values:
        m.diags.error(m.value_pos(key), f"'{key}' declares nothing; declare at least one, or leave the key out for the defaults")
    out = []
    for name, node in table.values.items():
        if not ID_RE.match(name):
            m.diags.error(table.key_pos[name], f"'{name}' is not a valid name for {key} (lowercase letters, digits, hyphens)")
            continue
        entry = MapReader(node, m.path, m.diags, fields, f"{key} '{name}'")
        if entry.ok:
            out.append((name, entry))
    return out


def _entity_types(m: MapReader) -> tuple[EntityType, ...]:
    return tuple(
        EntityType(name, e.text("label") or name.capitalize(), e.text("plural") or (e.text("label") or name.capitalize()) + "s",
                   _schema_type(e))
        for name, e in _declared(m, "entity_types", ("label", "plural", "schema"))
    )


def _schema_type(e: MapReader) -> str:
    """The schema.org type an entity type stands for in JSON-LD, e.g. Organization."""
    raw = e.text("schema")
    if raw and not re.fullmatch(r"[A-Z][A-Za-z]*", raw):
        e.diags.error(e.value_pos("schema"), f"'schema' must be a schema.org type such as Organization or Person, found '{raw}'")
        return ""
    return raw


def _claim_statuses(m: MapReader) -> tuple[ClaimStatus, ...]:
    return tuple(
        ClaimStatus(name, e.text("label") or name.capitalize(), _rating(e, name), e.text("alternate_name"))
        for name, e in _declared(m, "claim_statuses", ("label", "rating", "alternate_name"))
    )


def _rating(e: MapReader, name: str) -> Optional[int]:
    """A status's ClaimReview rating, 1 (false) to 5 (true); the built-in statuses have one."""
    raw = e.text("rating")
    if not raw:
        return DEFAULT_RATINGS.get(name)
    if not re.fullmatch(r"[1-5]", raw):
        e.diags.error(e.value_pos("rating"), f"'rating' must be a whole number from 1 (false) to 5 (true), found '{raw}'")
        return None
    return int(raw)


def _yml_hint(path: Path) -> str:
    return f"; rename it to {path.stem}.yaml" if path.suffix.lower() in (".yml", ".yaml") else ""


def _stem_ok(files: SiteFiles, path: Path, what: str) -> bool:
    if ID_RE.match(path.stem):
        return True
    slug = yamlread.id_like(path.stem)
    files.diags.error(Pos(files.rel(path)), f"'{path.name}' is not a valid {what} file name: use lowercase "
                                            f"letters a-z, digits and single hyphens, e.g. '{slug}{path.suffix}'")
    return False


# (files, entity file, site) -> the entity, or None (and errors in files.diags)
EntityReader = Callable[["SiteFiles", Path, Site], Optional[Entity]]


def load_entities(files: SiteFiles, site: Site, diags: Diagnostics, broken: set[str],
                  read_entity: Optional[EntityReader] = None) -> list[Entity]:
    entities = []
    for path in files.listing("content/entities", recursive=True):
        if path.suffix != ".yaml":
            diags.error(Pos(files.rel(path)), "only .yaml files belong in content/entities" + _yml_hint(path))
            continue
        if not _stem_ok(files, path, "entity"):
            continue
        entity = (read_entity or read_entity_file)(files, path, site)
        if entity is None:
            broken.add(path.stem)
        else:
            entities.append(entity)
    return entities


def read_entity_file(files: SiteFiles, path: Path, site: Site) -> Optional[Entity]:
    m = files.yaml(path, "an entity", ENTITY_KEYS)
    if m is None:
        return None
    what = "the entity"
    type_ = m.text("type", required=True, what=what)
    if type_ and site.entity_type(type_) is None:
        known = [t.key for t in site.entity_types]
        m.diags.error(m.value_pos("type"), f"unknown entity type '{type_}'{yamlread.did_you_mean(type_, known)}; declare it under entity_types in site.yaml (known: {', '.join(known)})")
    relations = tuple(
        Relation(ref, r.text("role", required=True, what="a relation"))
        for r in m.mappings("relations", RELATION_KEYS, "a relation")
        if (ref := r.ident("entity", required=True, what="a relation")) is not None
    )
    links = []
    for name, url, pos in m.pairs("links"):
        if name != "wikidata" and not re.match(r"https?://\S+\Z", url):
            m.diags.error(pos, f"link '{name}' must be an http(s) URL, found '{url}'")
        elif name == "wikidata" and not re.match(r"Q\d+\Z", url):
            m.diags.error(pos, f"a wikidata link is an item id such as Q4355815, found '{url}'")
        else:
            links.append((name, url))
    aliases = m.text_list_at("aliases")
    return Entity(
        id=path.stem,
        name=m.text("name", required=True, what=what),
        type=type_,
        path=files.rel(path),
        aliases=tuple(text for text, _ in aliases),
        description=m.text("description"),
        links=tuple(links),
        relations=relations,
        name_pos=m.value_pos("name"),
        alias_pos=tuple(pos for _, pos in aliases),
    )


def load_articles(files: SiteFiles, site: Site, diags: Diagnostics, broken: set[str],
                  read_articles: Optional[ArticleReader] = None) -> list[Article]:
    listing = files.listing("content/articles")
    known = _paired.get(str(files.root))
    if known is not None and known[0] is listing:  # the folder's entries as they were: so are the pairs
        pairs, notes, unpaired = known[1]
    else:
        start = len(diags.items)
        pairs, unpaired = _pair_files(files, listing, diags)
        notes = tuple(diags.items[start:])
        diags.items[start:] = []
        if isinstance(listing, tuple):
            _paired[str(files.root)] = (listing, (pairs, notes, unpaired))
    diags.items.extend(notes)
    broken.update(unpaired)
    return (read_articles or read_each)(files, site, pairs, broken)


def _pair_files(files: SiteFiles, listing: Sequence[Path], diags: Diagnostics) -> tuple[list, frozenset[str]]:
    """Each article's text and sidecar, by slug; and the slugs of those that lack one."""
    texts: dict[str, Path] = {}
    sidecars: dict[str, Path] = {}
    for path in listing:
        if path in files.folders:
            diags.error(Pos(files.rel(path)), "content/articles holds files only, no folders")
        elif path.suffix in (".md", ".txt"):
            if path.stem in texts:
                diags.error(Pos(files.rel(path)), f"two texts for one article: {texts[path.stem].name} and {path.name}")
            elif _stem_ok(files, path, "article"):
                texts[path.stem] = path
        elif path.suffix == ".yaml":
            if _stem_ok(files, path, "sidecar"):
                sidecars[path.stem] = path
        else:
            diags.error(Pos(files.rel(path)), "content/articles holds .md or .txt articles and their .yaml sidecars only"
                        + _yml_hint(path))
    pairs, unpaired = [], set()
    for slug in sorted(texts.keys() | sidecars.keys()):
        if slug not in sidecars:
            diags.error(Pos(files.rel(texts[slug])), f"this article has no sidecar: create content/articles/{slug}.yaml with at least a title")
            unpaired.add(slug)
        elif slug not in texts:
            diags.error(Pos(files.rel(sidecars[slug])), f"this sidecar has no article: expected content/articles/{slug}.md (or .txt)")
            unpaired.add(slug)
        else:
            pairs.append((slug, texts[slug], sidecars[slug]))
    return pairs, frozenset(unpaired)


# (files, site, [(slug, text path, sidecar path)], broken ids) -> the articles that loaded, in order
ArticleReader = Callable[["SiteFiles", Site, list[tuple[str, Path, Path]], set[str]], list[Article]]


def read_each(files: SiteFiles, site: Site, pairs: list[tuple[str, Path, Path]], broken: set[str]) -> list[Article]:
    """Each article with its sidecar, one after the other."""
    return [a for slug, text, sidecar in pairs if (a := read_article(files, slug, text, sidecar, site, broken)) is not None]


def read_article(files: SiteFiles, slug: str, text_path: Path, sidecar: Path, site: Site, broken: set[str]) -> Optional[Article]:
    text = files.read(text_path)
    if text is not None and not text.strip():
        files.diags.error(Pos(files.rel(text_path)), "the article is empty: put the article's text in it")
        text = None
    m = files.yaml(sidecar, "a sidecar", SIDECAR_KEYS)
    if m is None:
        broken.add(slug)
        broken.update(_claim_ids_in(files, sidecar))
        return None
    rel = files.rel(sidecar)
    article = Article(
        slug=slug,
        title=m.text("title", required=True, what="the sidecar"),
        language=_article_language(m, site),
        text=text or "",
        text_format=text_path.suffix[1:],
        path=files.rel(text_path),
        sidecar=rel,
        source=_source(m),
        summary=m.text("summary"),
        tags=m.text_list("tags"),
        autolink=m.boolean("autolink", None),
        mentions=tuple(x for r in m.mappings("mentions", MENTION_KEYS, "a mention")
                       if (x := _mention(r)) is not None),
        claims=tuple(c for r in m.mappings("claims", CLAIM_KEYS, "a claim")
                     if (c := _claim(r, slug, site)) is not None),
    )
    if text is None:  # the sidecar was still checked; its claims stay quiet elsewhere
        broken.add(slug)
        broken.update(c.id for c in article.claims)
        return None
    return article


def _claim_ids_in(files: SiteFiles, sidecar: Path) -> set[str]:
    # A sidecar that does not parse still tells which claim ids it meant to define.
    try:
        text = sidecar.read_text("utf-8", errors="replace")
    except OSError:
        return set()
    return set(re.findall(r"^\s*-?\s*id:\s*['\"]?([a-z0-9-]+)", text, re.M))


def _source(m: MapReader) -> Source:
    s = m.mapping("source", SOURCE_KEYS, "'source'")
    if s is None:
        return Source()
    authors = s.text_list_at("authors")
    return Source(
        publisher=s.text("publisher"),
        publisher_pos=s.value_pos("publisher") if "publisher" in s else None,
        url=s.url("url"),
        published=s.date("published"),
        authors=tuple(name for name, _ in authors),
        retrieved=s.date("retrieved"),
        archive_url=s.url("archive_url"),
        author_pos=tuple(pos for _, pos in authors),
    )


def _selector(r: MapReader, what: str) -> Selector:
    return Selector(
        quote=r.text("quote", required=True, what=what),
        pos=r.value_pos("quote"),
        prefix=r.text("prefix"),
        suffix=r.text("suffix"),
    )


def _mention(r: MapReader) -> Optional[Mention]:
    ref = r.ident("entity", required=True, what="the mention")
    selector = _selector(r, "the mention")
    return Mention(ref, selector) if ref is not None else None


def _claim(r: MapReader, slug: str, site: Site) -> Optional[Claim]:
    ref = r.ident("id", required=True, what="the claim")
    status = r.text("status") or site.claim_statuses[0].key
    if site.claim_status(status) is None:
        known = [s.key for s in site.claim_statuses]
        r.diags.error(r.value_pos("status"), f"unknown claim status '{status}'{yamlread.did_you_mean(status, known)} (known: {', '.join(known)})")
    # Every field is read, and so checked, even without an id: all of a claim's errors in one run.
    fields = dict(selector=_selector(r, "the claim"), status=status, claimant=r.ident("claimant"),
                  about=r.ident_list("about"), date=r.date("date"), note=r.text("note"),
                  supports=r.ident_list("supports"), contradicts=r.ident_list("contradicts"),
                  reviewed=r.date("reviewed"))
    return Claim(id=ref.id, article=slug, pos=ref.pos, **fields) if ref is not None else None


def load_pages(files: SiteFiles, diags: Diagnostics) -> list[Page]:
    pages = []
    for path in files.listing("content/pages"):
        rel = files.rel(path)
        if path.suffix != ".md" or path.is_dir():
            diags.error(Pos(rel), "content/pages holds .md files only")
            continue
        if not _stem_ok(files, path, "page"):
            continue
        if path.stem in RESERVED_SLUGS:
            diags.error(Pos(rel), f"a page may not be called '{path.stem}': the site uses /{path.stem}/ itself; rename the file")
            continue
        text = files.read(path)
        if text is not None and not text.strip():
            diags.error(Pos(rel), "the page is empty: write its text, or remove the file")
        elif text is not None:
            pages.append(_page(path.stem, text, rel, diags))
    return pages


def _page(slug: str, text: str, rel: str, diags: Diagnostics) -> Page:
    title, description = "", ""
    match = FRONT_MATTER_RE.match(text)
    if not match:
        _check_no_front_matter(text, rel, diags)
    if match:
        node = yamlread.parse(match.group(1) or "", rel, diags, line_offset=1) if (match.group(1) or "").strip() else None
        if node is not None:
            m = MapReader(node, rel, diags, PAGE_KEYS, "the front matter")
            if m.ok:
                title, description = m.text("title"), m.text("description")
        text = text[match.end():]
    if not title:
        heading = re.search(r"^#\s+(.+?)\s*#*\s*$", text, re.M)
        title = _plain_text(heading.group(1)) if heading else ""
    return Page(slug, title or slug.replace("-", " ").capitalize(), text, rel, description)


# What the first lines of a page look like when front matter was meant: an opening line (YAML's
# --- or, as Hugo also reads, TOML's +++), then one of its keys (not any "Note:" after a rule).
_MEANT_FRONT_MATTER_RE = re.compile(rf"\A(---|\+\+\+)[ \t]*\n[ \t]*(?:{'|'.join(PAGE_KEYS)})[ \t]*[:=]")


def _check_no_front_matter(text: str, rel: str, diags: Diagnostics) -> None:
    """An error for front matter that would be published as text: not closed, or in TOML."""
    meant = _MEANT_FRONT_MATTER_RE.match(text)
    if meant is None:
        return
    if meant.group(1) == "+++":
        diags.error(Pos(rel), "front matter is read in YAML between two '---' lines, not in TOML between '+++': "
                              "write 'title: …' between '---' lines")
    else:
        diags.error(Pos(rel), "the front matter is not closed: end it with a line '---'")


_inline_parser = mistune.create_markdown(renderer=None)


def _plain_text(markdown: str) -> str:
    """The words a reader sees of one line of Markdown (a heading used as a title)."""
    words: list[str] = []

    def walk(tokens: list[dict]) -> None:
        for tok in tokens:
            if tok["type"] in ("text", "codespan"):
                words.append(tok["raw"])
            elif tok["type"] in ("softbreak", "linebreak"):
                words.append(" ")
            walk(tok.get("children", ()))

    walk(_inline_parser.parse(markdown)[0])
    return html.unescape(" ".join("".join(words).split()))


BUILTIN_PREFIX = f"{BUILTIN}/"  # "dossier/article.html" is the built-in article.html (see render.TemplateLoader)


def check_templates(files: SiteFiles, diags: Diagnostics) -> None:
    """Parse the site's own templates, so that a syntax error is reported like any other; and
    warn of those no build uses (a misspelt name, a folder the built-ins' prefix hides)."""
    env = jinja2.Environment()
    parsed: dict[str, jinja2.nodes.Template] = {}
    for path in files.listing("templates", recursive=True):
        rel = files.rel(path)
        if not inputs.read_by_build(rel):  # an editor's backup or autosave
            continue
        name = rel.removeprefix("templates/")
        if name.startswith(BUILTIN_PREFIX):  # never read: the built-ins' names
            diags.warning(Pos(rel), f"not read: '{BUILTIN_PREFIX}' names the built-in templates "
                          f"('{BUILTIN_PREFIX}article.html' is the built-in article.html); move it out of "
                          f"templates/{BUILTIN_PREFIX}")
            continue
        source = files.read(path)
        if source is None:
            continue
        try:
            parsed[name] = env.parse(source, name=path.name)
        except jinja2.TemplateSyntaxError as exc:
            diags.error(Pos(rel, exc.lineno or 1), f"template syntax: {exc.message}")
    _warn_unused_templates(parsed, diags)
    base = parsed.get("base.html")
    if base is not None and not _extends_builtin(base) and "page_scripts" not in {b.name for b in base.find_all(jinja2.nodes.Block)}:
        diags.warning(Pos("templates/base.html"), "it has no {% block page_scripts %}{% endblock %}: the article "
                      "and search pages load their scripts there, and would be without them; add it before </body>")


def _warn_unused_templates(parsed: dict[str, jinja2.nodes.Template], diags: Diagnostics) -> None:
    builtin = _builtin_templates()
    used = {name for refs in builtin.values() for name in refs} | set(builtin)
    for tree in parsed.values():
        refs = set(jinja2.meta.find_referenced_templates(tree))
        if None in refs:  # a name made as the page renders: which are used cannot be told
            return
        used |= refs
    for name in sorted(parsed):
        if name not in used:
            diags.warning(Pos(f"templates/{name}"), "no page is made from this template, and none extends, includes "
                          f"or imports it{did_you_mean(name, builtin)}")


@functools.cache
def _builtin_templates() -> dict[str, frozenset]:
    """Each built-in template's name -> the templates it names."""
    env = jinja2.Environment()
    return {p.name: frozenset(jinja2.meta.find_referenced_templates(env.parse(p.read_text(encoding="utf-8"))))
            for p in sorted(BUILTIN_TEMPLATES.glob("*.html"))}


def _extends_builtin(tree: jinja2.nodes.Template) -> bool:
    extends = tree.find(jinja2.nodes.Extends)
    return extends is not None and isinstance(extends.template, jinja2.nodes.Const) \
        and str(extends.template.value).startswith(BUILTIN_PREFIX)
