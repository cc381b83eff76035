"""Dossier: annotated news articles into a cross-linked static site.

The pipeline, one module per stage:
load (files -> model) -> resolve (references, anchoring) -> render (HTML)
-> write (atomic swap) -> search (Pagefind index).
"""

__version__ = "0.1.0"
