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
import multiprocessing
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


def render_one(md_path: Path) -> int:
    sidecar = yaml.load(md_path.with_suffix(".yaml").read_text("utf-8"), Loader=yaml.CSafeLoader)
    body = jinja2.utils.markupsafe.Markup(_markdown(md_path.read_text("utf-8")))
    html = PAGE.render(title=sidecar["title"], body=body)
    target = _out / "articles" / md_path.stem / "index.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, "utf-8")
    return 1


def render(site: Path, out: Path, processes: int = 2) -> int:
    global _out
    _out = out
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    articles = sorted((site / "content" / "articles").glob("*.md"))
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
