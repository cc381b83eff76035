#!/usr/bin/env python3
"""The same words as a Hugo site: articles as pages, their entities as taxonomy terms.

    python bench/hugo.py SITE HUGO_SITE

Each article becomes content/articles/<slug>.md with its title, date and
the entities its sidecar names as `entities` terms (a plain-text article,
<slug>.txt, becomes <slug>.html: its paragraphs, as Hugo takes HTML content). The layouts are
careful ones (no page loops over every page; term lists paginate 100 a
page), so Hugo is measured at its best.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import yaml

from floor import article_texts, plain_html

CONFIG = """baseURL = "https://example.org/hugo/"
title = "Synthetic dossier"
disableKinds = ["RSS", "sitemap", "robotsTXT"]
paginate = 100
[taxonomies]
entity = "entities"
"""
LAYOUTS = {
    "_default/baseof.html": """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{{ .Title }} · {{ .Site.Title }}</title></head>
<body><header><a href="{{ "/" | relURL }}">{{ .Site.Title }}</a></header>
<main>{{ block "main" . }}{{ end }}</main></body></html>
""",
    "_default/single.html": """{{ define "main" }}<article><h1>{{ .Title }}</h1>
<p>{{ .Date.Format "2 January 2006" }}</p>
{{ .Content }}
<ul>{{ range .GetTerms "entities" }}<li><a href="{{ .RelPermalink }}">{{ .LinkTitle }}</a></li>{{ end }}</ul>
</article>{{ end }}
""",
    "_default/list.html": """{{ define "main" }}<h1>{{ .Title }}</h1>
<ul>{{ range (.Paginate .Pages).Pages }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}</ul>
{{ template "_internal/pagination.html" . }}{{ end }}
""",
    "_default/terms.html": """{{ define "main" }}<h1>{{ .Title }}</h1>
<ul>{{ range .Data.Terms.Alphabetical }}<li><a href="{{ .Page.RelPermalink }}">{{ .Page.Title }}</a> ({{ .Count }})</li>{{ end }}</ul>{{ end }}
""",
    "index.html": """{{ define "main" }}<h1>{{ .Site.Title }}</h1>
<ul>{{ range (.Paginate (where .Site.RegularPages "Section" "articles")).Pages }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}</ul>
{{ template "_internal/pagination.html" . }}{{ end }}
""",
}


def convert(site: Path, target: Path) -> Path:
    if target.exists():
        shutil.rmtree(target)
    (target / "content" / "articles").mkdir(parents=True)
    (target / "config.toml").write_text(CONFIG)
    for rel, text in LAYOUTS.items():
        (target / "layouts" / rel).parent.mkdir(parents=True, exist_ok=True)
        (target / "layouts" / rel).write_text(text)
    for text in article_texts(site):
        meta = yaml.load(text.with_suffix(".yaml").read_text("utf-8"), Loader=yaml.CSafeLoader)
        names = {m["entity"] for m in meta.get("mentions") or []}
        for claim in meta.get("claims") or []:
            names.add(claim.get("claimant"))
            names.update(claim.get("about") or [])
        published = (meta.get("source") or {}).get("published")
        front = {"title": meta["title"], "entities": sorted(n for n in names if n)}
        if published:
            front["date"] = str(published)
        body, suffix = text.read_text("utf-8"), text.suffix
        if suffix == ".txt":
            body, suffix = plain_html(body), ".html"
        (target / "content" / "articles" / (text.stem + suffix)).write_text(
            "---\n" + json.dumps(front, ensure_ascii=False) + "\n---\n" + body, "utf-8")
    return target


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("site", type=Path)
    p.add_argument("target", type=Path)
    a = p.parse_args()
    convert(a.site, a.target)


if __name__ == "__main__":
    main()
