"""The mergeable aggregate of one key (grid, community or street) over one time bucket.

A :class:`Bucket` counts what happened in its interval: cases reported and closed, step
completions and how many were on time, and the handling time of every completed step.
Guarantees: :meth:`Bucket.add` counts one fact exactly once; :meth:`Bucket.merge` is
associative and commutative, so a community's minute is the merge of its grids' minutes and
a 15-minute view is the merge of 15 minutes, with exact means and percentiles.
"""

from __future__ import annotations

from typing import Any

import msgspec

from streams.metrics.facts import StepFact
from streams.metrics.stats import mean, percentile_sorted, ratio


class Bucket(msgspec.Struct, kw_only=True):
    """Counts of one key in one interval; ``handling_ms`` maps a step to its durations.

    ``open_end`` and ``overdue_end`` are the key's open backlog and overdue cases at the end
    of the interval (set by the owner of the key after the interval's last fact).
    """

    reported: int = 0
    closed: int = 0
    completed: int = 0
    on_time: int = 0
    handling_ms: dict[str, list[int]] = {}
    open_end: int = 0
    overdue_end: int = 0

    def add(self, fact: StepFact) -> None:
        """Count ``fact`` (which must fall in this bucket's interval)."""
        if fact.is_new:
            self.reported += 1
        if fact.to_step == "closed" and fact.from_step != "closed":
            self.closed += 1
        if fact.left_step:
            self.handling_ms.setdefault(fact.from_step, []).append(
                max(0, fact.ts - fact.entered_ms))
            if fact.left_deadline_ms:
                self.completed += 1
                self.on_time += fact.ts <= fact.left_deadline_ms

    def merge(self, other: Bucket) -> None:
        """Add ``other``'s counts into this bucket."""
        self.reported += other.reported
        self.closed += other.closed
        self.completed += other.completed
        self.on_time += other.on_time
        self.open_end += other.open_end
        self.overdue_end += other.overdue_end
        for step, values in other.handling_ms.items():
            self.handling_ms.setdefault(step, []).extend(values)

    @classmethod
    def merged(cls, buckets: list[Bucket]) -> Bucket:
        """A new bucket holding the sum of ``buckets``."""
        out = cls()
        for bucket in buckets:
            out.merge(bucket)
        return out

    def summary(self) -> dict[str, Any]:
        """Plain figures: counts, on-time rate and mean / p90 handling seconds per step."""
        return {
            "reported": self.reported, "closed": self.closed, "completed": self.completed,
            "on_time_rate": ratio(self.on_time, self.completed),
            "handling": {step: durations(sorted(values))
                         for step, values in sorted(self.handling_ms.items())},
        }


def durations(ordered: list[int]) -> dict[str, Any]:
    """Count, mean and nearest-rank p90 in seconds of handling times (ms, ascending)."""
    avg = mean(ordered)
    p90 = percentile_sorted(ordered, 90)
    return {"n": len(ordered), "mean_s": None if avg is None else avg / 1000,
            "p90_s": None if p90 is None else p90 / 1000}
