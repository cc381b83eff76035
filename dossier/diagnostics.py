"""Errors and warnings about the user's files, collected for one report."""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import Pos


@dataclass(frozen=True, order=True)
class Diagnostic:
    path: str
    line: int
    col: int
    level: str  # "error" or "warning"
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.level}: {self.message}"


@dataclass
class Diagnostics:
    """Collects every problem of a run so that all are reported at once."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, pos: Pos, message: str) -> None:
        self.items.append(Diagnostic(pos.path, pos.line, pos.col, "error", message))

    def warning(self, pos: Pos, message: str) -> None:
        self.items.append(Diagnostic(pos.path, pos.line, pos.col, "warning", message))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.level == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.level == "warning"]

    def sorted(self) -> list[Diagnostic]:
        return sorted(set(self.items))

    def extend(self, other: Diagnostics) -> None:
        self.items.extend(other.items)
