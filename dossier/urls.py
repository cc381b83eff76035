"""Where each page of the output lives, relative to the output folder."""

from __future__ import annotations


def article_path(slug: str) -> str:
    return f"articles/{slug}/index.html"


def entity_path(entity_id: str) -> str:
    return f"entities/{entity_id}/index.html"


def page_path(slug: str) -> str:
    return f"{slug}/index.html"
