"""The pipeline, top to bottom: load -> resolve -> render -> write."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from . import load as load_stage
from .diagnostics import Diagnostics
from .render import SiteRenderer
from .resolve import Resolved, resolve
from .write import StagedOutput, check_output_dir

ASSETS = Path(__file__).parent / "assets"


@dataclass
class BuildResult:
    diagnostics: Diagnostics
    resolved: Optional[Resolved] = None
    pages: int = 0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.diagnostics.errors

    def summary(self) -> str:
        if self.resolved is None:
            return ""
        d = self.resolved.dossier
        stages = ", ".join(f"{k} {v:.2f}s" for k, v in self.timings.items())
        total = sum(self.timings.values())
        return (f"{len(d.articles)} articles, {len(d.entities)} entities, {len(self.resolved.claims)} claims, "
                f"{self.pages} pages in {total:.2f}s ({stages})")


def check(site: Path) -> BuildResult:
    """Load and resolve only: every error `build` would report, nothing written."""
    result = BuildResult(Diagnostics())
    clock = time.perf_counter()
    dossier = load_stage.load(site, result.diagnostics)
    result.timings["load"] = time.perf_counter() - clock
    clock = time.perf_counter()
    result.resolved = resolve(dossier, result.diagnostics)
    result.timings["resolve"] = time.perf_counter() - clock
    return result


def build(site: Path, out: Path) -> BuildResult:
    check_output_dir(site, out)
    result = check(site)
    if not result.ok:
        return result
    clock = time.perf_counter()
    renderer = SiteRenderer(result.resolved, site)
    with StagedOutput(out) as staged:
        for path, html in renderer.pages():
            staged.write(path, html)
        staged.copy_tree(ASSETS, "assets")
        staged.copy_tree(site / "static")
        result.pages = staged.written
        result.timings["render+write"] = time.perf_counter() - clock
        staged.commit()
    return result
