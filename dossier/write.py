"""Stage 4, write: pages into a staging folder, swapped in only on success.

The staging folder sits beside the output (same file system), so the swap
is a rename. On Linux the swap is one atomic renameat2(RENAME_EXCHANGE);
elsewhere two renames. A failed or interrupted build removes the staging
folder and leaves the previous output exactly as it was.
"""

from __future__ import annotations

import ctypes
import os
import shutil
from pathlib import Path

MARKER = ".dossier-output"  # marks a folder as ours, so we may replace it
RESERVED_SUBDIRS = ("content", "templates", "static")


class UsageError(Exception):
    """A mistake in how the command was called (exit status 2)."""


def check_output_dir(site: Path, out: Path) -> None:
    """Refuse an output folder whose replacement would lose the user's work."""
    site_r, out_r = site.resolve(), out.resolve()
    if out_r == site_r or site_r.is_relative_to(out_r):
        raise UsageError(f"refusing to write the output to {out}: it would replace the site folder itself")
    for sub in RESERVED_SUBDIRS:
        if out_r.is_relative_to(site_r / sub):
            raise UsageError(f"refusing to write the output to {out}: it lies inside the site's {sub}/ folder")
    if out.exists() and not out.is_dir():
        raise UsageError(f"refusing to write the output to {out}: it is a file, not a folder")
    if out.is_dir() and not (out / MARKER).exists() and any(out.iterdir()):
        raise UsageError(f"refusing to write the output to {out}: the folder is not empty and was not made by dossier; "
                         "empty it or choose another folder")


class StagedOutput:
    """Collects the new output beside the old one; `commit` swaps it in."""

    def __init__(self, out: Path):
        self.out = out
        self.stage = out.parent / f".{out.name}.tmp-{os.getpid()}"
        self.written = 0
        self.linked = 0

    def __enter__(self) -> StagedOutput:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        for stale in self.out.parent.glob(f".{self.out.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by a killed build
        self.stage.mkdir()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        shutil.rmtree(self.stage, ignore_errors=True)

    def write(self, rel: str, data: str | bytes) -> None:
        target = self.stage / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        self.written += 1

    def link_previous(self, rel: str) -> bool:
        """Reuse the previous output's file as is (a hard link); False if it is gone."""
        target = self.stage / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(self.out / rel, target)
        except OSError:
            return False
        self.linked += 1
        return True

    def copy_tree(self, src: Path, rel: str = "") -> None:
        """Copy a folder's files in, over what is there (hidden files skipped)."""
        if not src.is_dir():
            return
        for path in sorted(src.rglob("*")):
            parts = path.relative_to(src).parts
            if path.is_file() and not any(p.startswith(".") for p in parts):
                self.write(str(Path(rel, *parts)), path.read_bytes())

    def commit(self) -> None:
        (self.stage / MARKER).write_text("This folder is made by dossier and replaced on every build.\n")
        if self.out.exists():
            if not _exchange(self.stage, self.out):
                old = self.out.parent / f".{self.out.name}.old-{os.getpid()}"
                os.rename(self.out, old)
                os.rename(self.stage, self.out)
                self.stage = old
        else:
            os.rename(self.stage, self.out)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0
