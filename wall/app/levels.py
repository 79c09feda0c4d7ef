"""The resolution levels the wall shows, read from ClickHouse in the background.

:class:`ResolutionLevels` holds, for today and this week (local UTC+8 days, weeks from
Monday), the cases closed per grid and tier (:func:`readside.tiers.resolution_counts`).
:meth:`~ResolutionLevels.get` never blocks a page: it returns what it holds and, when that is
older than ``max_age_ms``, starts one background read (never two at once). With ClickHouse
down the reads return nothing and the wall shows zeros, as before the first read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from core.settings import Settings
from readside.tiers import resolution_counts
from wall.app.fields import day_start_ms

DAY_MS = 86_400_000
Counts = dict[str, dict[int, int]]


def week_start_ms(now_ms: int) -> int:
    """Epoch ms of the local Monday midnight that began the week containing ``now_ms``."""
    day = day_start_ms(now_ms)
    weekday = ((day + 8 * 3_600_000) // DAY_MS + 3) % 7  # 1970-01-01 was a Thursday
    return day - weekday * DAY_MS


@dataclass
class ResolutionLevels:
    """Today's and this week's closed cases per grid and tier; see the module docstring."""

    fetch: Callable[[int], Counts]
    max_age_ms: int = 60_000
    today: Counts = field(default_factory=dict)
    week: Counts = field(default_factory=dict)
    read_ms: int = -1
    _busy: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def of(cls, settings: Settings) -> ResolutionLevels:
        """Levels read through :mod:`readside.tiers` on ``settings``' database."""
        return cls(lambda since: resolution_counts(settings, since))

    def refresh(self, now_ms: int) -> None:
        """Read both periods now (blocking; the background thread's body)."""
        today, week = self.fetch(day_start_ms(now_ms)), self.fetch(week_start_ms(now_ms))
        self.today, self.week, self.read_ms = today, week, now_ms

    def _run(self, now_ms: int) -> None:
        try:
            self.refresh(now_ms)
        finally:
            self._busy.release()

    def get(self, now_ms: int, background: bool = True) -> tuple[Counts, Counts]:
        """(today, week) as held; a stale hold starts one refresh (in a thread)."""
        stale = self.read_ms < 0 or now_ms - self.read_ms >= self.max_age_ms
        if stale and self._busy.acquire(blocking=False):
            if background:
                threading.Thread(target=self._run, args=(now_ms,), daemon=True,
                                 name="wall-levels").start()
            else:
                self._run(now_ms)
        return self.today, self.week
