"""A plain-text progress bar for the importer, on stderr, without extra dependencies.

On a terminal the bar is redrawn in place (``\\r``) at most every ``every_s``; elsewhere
(a log file, CI) a full line is written every ``line_every_s`` instead, so logs stay short.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

WIDTH = 30


def bar(done: int, total: int, width: int = WIDTH) -> str:
    """``[#####.....]  50%`` for ``done`` of ``total`` (a total of 0 counts as done)."""
    fraction = 1.0 if total <= 0 else min(1.0, done / total)
    filled = int(fraction * width)
    return f"[{'#' * filled}{'.' * (width - filled)}] {fraction * 100:3.0f}%"


class ImportProgress:
    """Shows bytes read of the file, rows, accepted and rejected, and rows per second."""

    def __init__(self, total_bytes: int, stream: TextIO = sys.stderr, every_s: float = 0.2,
                 line_every_s: float = 5.0, clock: Callable[[], float] = time.monotonic,
                 ) -> None:
        self.total_bytes = total_bytes
        self._stream = stream
        self._tty = stream.isatty()
        self._every = every_s if self._tty else line_every_s
        self._clock = clock
        self._started = clock()
        self._shown = float("-inf")
        self._drawn = False
        self._last = ""

    def update(self, offset: int, rows: int, accepted: int, rejected: int,
               force: bool = False) -> None:
        """Report the state after a batch (drawn only if enough time passed, or ``force``)."""
        now = self._clock()
        if not force and now - self._shown < self._every:
            return
        self._shown = now
        elapsed = max(now - self._started, 1e-9)
        state = f"{bar(offset, self.total_bytes)} {rows:,} rows, accepted {accepted:,}, " \
                f"rejected {rejected:,}"
        if state == self._last:
            return  # nothing new to say
        self._last = state
        text = f"{state}, {rows / elapsed:,.0f} rows/s"
        if self._tty:
            self._stream.write("\r" + text)
            self._drawn = True
        else:
            self._stream.write(text + "\n")
        self._stream.flush()

    def finish(self) -> None:
        """End the in-place bar with a newline."""
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()
