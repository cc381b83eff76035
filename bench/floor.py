#!/usr/bin/env python3
"""The floor: a bare mistune + Jinja2 render of a dossier's articles.

    python bench/floor.py SITE OUT [--processes 2]

What any Markdown-to-HTML generator must do at the least: read each
article and its sidecar (for the title), turn the Markdown into HTML,
put it into a page template and write one file per article, on a pool of
processes. No anchoring, no annotations, no entity or index pages. Dossier's
cold build is measured against this.
"""

from __future__ import annotations

import argparse
import html
import multiprocessing
import re
import shutil
import sys
from pathlib import Path

import jinja2
import mistune
import yaml

PAGE = jinja2.Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<link rel="stylesheet" href="../../assets/site.css"></head>
<body><header><a href="../../index.html">Home</a></header>
<main><article><h1>{{ title }}</h1>
{{ body }}
</article></main></body></html>
""", autoescape=True)
_markdown = mistune.create_markdown(plugins=["strikethrough", "table", "footnotes"])
_out = Path()


def plain_html(text: str) -> str:
    """A plain-text article (.txt) as HTML: its paragraphs, escaped, as Dossier reads them."""
    return "\n".join(f"<p>{html.escape(p.strip(), quote=False)}</p>" for p in re.split(r"\n\s*\n", text) if p.strip())


def article_texts(site: Path) -> list[Path]:
    """An article's text is content/articles/<slug>.md, or .txt for plain text (the contract)."""
    folder = site / "content" / "articles"
    return sorted([*folder.glob("*.md"), *folder.glob("*.txt")], key=lambda p: p.name)


def render_one(text_path: Path) -> int:
    sidecar = yaml.load(text_path.with_suffix(".yaml").read_text("utf-8"), Loader=yaml.CSafeLoader)
    text = text_path.read_text("utf-8")
    body = jinja2.utils.markupsafe.Markup(plain_html(text) if text_path.suffix == ".txt" else _markdown(text))
    page = PAGE.render(title=sidecar["title"], body=body)
    target = _out / "articles" / text_path.stem / "index.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, "utf-8")
    return 1


def render(site: Path, out: Path, processes: int = 2) -> int:
    global _out
    _out = out
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    articles = article_texts(site)
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        return sum(pool.map(render_one, articles, chunksize=max(1, len(articles) // (processes * 8))))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("site", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--processes", type=int, default=2)
    a = p.parse_args()
    n = render(a.site, a.out, a.processes)
    print(f"floor: rendered {n} articles", file=sys.stderr)


if __name__ == "__main__":
    main()
