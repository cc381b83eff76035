"""The build cache: what an earlier build computed, keyed on content digests.

It lives inside the output folder it describes (output/.dossier-cache), so
it is swapped in with that output and can never disagree with it; deleting
the output makes the next build cold.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__

CACHE_FILE = ".dossier-cache"


def _code_digest() -> str:
    # A cache made by other code (an upgrade, a local change) is not trusted.
    h = hashlib.blake2b(digest_size=8)
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()


FORMAT = f"dossier-cache-{__version__}-{_code_digest()}"


def digest(*parts: object) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part if isinstance(part, bytes) else repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()


@dataclass
class PageRecord:
    key: str  # digest of template set, site settings and the page's context
    deps: dict[tuple[str, str], str]  # registry look-ups -> digest of what they returned
    output: str  # digest of the bytes written


@dataclass
class BuildCache:
    format: str = FORMAT
    analyses: dict[str, object] = field(default_factory=dict)  # article key -> Analysis
    pages: dict[str, PageRecord] = field(default_factory=dict)  # output path -> record

    @classmethod
    def load(cls, out: Path) -> BuildCache:
        try:
            with open(out / CACHE_FILE, "rb") as f:
                cache = pickle.load(f)
        except Exception:  # missing, truncated or from another version: start cold
            return cls()
        return cache if isinstance(cache, cls) and cache.format == FORMAT else cls()

    def dump(self) -> bytes:
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)
