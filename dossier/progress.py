"""Progress of a long build on stderr: counts per stage, never noise in small runs.

Shown when stderr is a terminal or the dossier is large (LARGE articles or
more); a terminal gets one line updated in place, a log one line per tenth.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, Optional, TextIO

LARGE = 1000


class Progress:
    def __init__(self, stream: Optional[TextIO] = None, enabled: Optional[bool] = None):
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = self.tty if enabled is None else enabled
        self.forced = enabled is not None

    def sized(self, articles: int) -> None:
        """Turn on for a large dossier (unless told otherwise)."""
        if not self.forced and articles >= LARGE:
            self.enabled = True

    def counter(self, label: str, total: int) -> Callable[[int], None]:
        """A function to call with the count done so far, e.g. 'rendered 300/12000 pages'."""
        if not self.enabled or total == 0:
            return lambda done: None
        step = max(1, total // 10)
        last = [0.0]

        def tick(done: int) -> None:
            now = time.monotonic()
            if self.tty and (done == total or now - last[0] > 0.1):
                last[0] = now
                end = "\n" if done == total else ""
                self.stream.write(f"\rdossier: {label.format(done=done, total=total)}\x1b[K{end}")
                self.stream.flush()
            elif not self.tty and (done == total or done % step == 0):
                self.stream.write(f"dossier: {label.format(done=done, total=total)}\n")
                self.stream.flush()

        return tick

    def note(self, text: str) -> None:
        if self.enabled:
            self.stream.write(f"dossier: {text}\n")
            self.stream.flush()
