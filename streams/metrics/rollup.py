"""Community and street views kept up to date while grid states are replaced.

The street stage receives every grid's full :class:`~streams.metrics.book.GridState` again
and again. :class:`ViewRollup` keeps, per scope (each community and the street), the sum of
its grids' minute buckets (counts, and the handling durations per step as sorted lists),
the sorted step deadlines of the scope's open cases and how many cases are open.
:meth:`ViewRollup.put` replaces one grid's state by subtracting what its previous state
contributed and adding the new one, only for the minutes and open cases that differ (a
bucket that only grew adds its new durations): the cost is proportional to the change,
not to the number of grids.

Guarantees: :meth:`ViewRollup.snapshot` equals :meth:`MetricsBook.snapshot` of a book that
holds the same grid states, for the community and street levels (counts are integer sums;
durations are kept as an exact multiset, so means and nearest-rank p90 are the same). A
window's summary is computed again only when one of its scope's minutes changed since it
was last computed; open backlog and overdue (a bisection of the sorted deadlines) are
always computed at ``now_ms``.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, bisect_right, insort
from collections.abc import Mapping
from typing import Any

from streams.metrics.book import STREET_KEY, GridState, is_overdue
from streams.metrics.buckets import Bucket, durations
from streams.metrics.stats import ratio
from streams.metrics.windows import HOUR, MINUTE, QUARTER_HOUR, Hopping

_EMPTY = Bucket()
ScopeKey = tuple[str, str]  # level, key


class MinuteSum:
    """The sum of the buckets of one scope's grids in one minute."""

    __slots__ = ("reported", "closed", "completed", "on_time", "handling", "buckets")

    def __init__(self) -> None:
        self.reported = self.closed = self.completed = self.on_time = 0
        self.handling: dict[str, list[int]] = {}  # step -> durations, ascending
        self.buckets = 0  # how many grid buckets are summed here

    def replace(self, old: Bucket | None, new: Bucket | None) -> None:
        """Take ``old``'s counts out and put ``new``'s in (None: no bucket)."""
        before, after = old or _EMPTY, new or _EMPTY
        self.reported += after.reported - before.reported
        self.closed += after.closed - before.closed
        self.completed += after.completed - before.completed
        self.on_time += after.on_time - before.on_time
        self.buckets += (new is not None) - (old is not None)
        for step in before.handling_ms.keys() | after.handling_ms.keys():
            gone = before.handling_ms.get(step, [])
            came = after.handling_ms.get(step, [])
            if came[:len(gone)] == gone:  # the bucket only grew: add its new durations
                self._add(step, came[len(gone):])
            else:
                self._remove(step, gone)
                self._add(step, came)

    def _add(self, step: str, values: list[int]) -> None:
        if not values:
            return
        held = self.handling.setdefault(step, [])
        for value in values:
            insort(held, value)

    def _remove(self, step: str, values: list[int]) -> None:
        held = self.handling.get(step)
        if held is None:
            return
        for value in values:
            del held[bisect_left(held, value)]
        if not held:
            del self.handling[step]


def summary(minutes: list[MinuteSum]) -> dict[str, Any]:
    """The merged figures of ``minutes`` (as :meth:`Bucket.summary` of their merge)."""
    reported = sum(m.reported for m in minutes)
    closed = sum(m.closed for m in minutes)
    completed = sum(m.completed for m in minutes)
    on_time = sum(m.on_time for m in minutes)
    per_step: dict[str, list[list[int]]] = {}
    for minute in minutes:
        for step, values in minute.handling.items():
            per_step.setdefault(step, []).append(values)
    handling = {}
    for step, runs in sorted(per_step.items()):
        # sorted runs: timsort merges them in about linear time
        ordered = runs[0] if len(runs) == 1 else sorted(itertools.chain.from_iterable(runs))
        handling[step] = durations(ordered)
    return {"reported": reported, "closed": closed, "completed": completed,
            "on_time_rate": ratio(on_time, completed), "handling": handling}


class Scope:
    """One community's or the street's sums; see the module docstring."""

    __slots__ = ("minutes", "stamps", "deadlines", "open", "cache")

    def __init__(self) -> None:
        self.minutes: dict[int, MinuteSum] = {}
        self.stamps: dict[int, int] = {}  # minute -> change counter when last changed
        self.deadlines: list[int] = []  # step deadlines of open cases with a clock
        self.open = 0
        self.cache: dict[str, tuple[tuple[int, ...], dict[str, Any]]] = {}  # by window name

    def replace_minute(self, minute: int, old: Bucket | None, new: Bucket | None,
                       stamp: int) -> None:
        """Replace one grid's bucket of ``minute``."""
        held = self.minutes.get(minute)
        if held is None:
            held = self.minutes[minute] = MinuteSum()
        held.replace(old, new)
        self.stamps[minute] = stamp
        if not held.buckets:
            del self.minutes[minute]
            del self.stamps[minute]

    def replace_deadline(self, old: int | None, new: int | None) -> None:
        """An open case's step deadline changed (None: not open; 0: open, no clock)."""
        self.open += (new is not None) - (old is not None)
        if old is not None and is_overdue(old, old):
            del self.deadlines[bisect_left(self.deadlines, old)]
        if new is not None and is_overdue(new, new):
            insort(self.deadlines, new)

    def window(self, name: str, wanted: range) -> dict[str, Any]:
        """The summary of window ``name`` (the minutes ``wanted``), cached until the window
        moves or one of its minutes changes."""
        signature = (wanted.start, wanted.stop, *(self.stamps.get(m, 0) for m in wanted))
        cached = self.cache.get(name)
        if cached is not None and cached[0] == signature:
            return cached[1]
        figures = summary([s for m in wanted if (s := self.minutes.get(m)) is not None])
        self.cache[name] = (signature, figures)
        return figures

    def overdue(self, now_ms: int) -> int:
        """Open cases whose step deadline is at or before ``now_ms`` (only deadlines that
        :func:`is_overdue` can ever count are held)."""
        return bisect_right(self.deadlines, now_ms)


class ViewRollup:
    """Incremental community and street views over replaced grid states."""

    def __init__(self, community_of: Mapping[str, str],
                 views: Mapping[str, Hopping] | None = None) -> None:
        self.community_of = dict(community_of)
        self.views = dict(views) if views is not None else {"15m": QUARTER_HOUR, "1h": HOUR}
        self.grids: dict[str, GridState] = {}
        self.scopes: dict[ScopeKey, Scope] = {}
        self._stamp = itertools.count(1)

    def scopes_of(self, grid_id: str) -> list[Scope]:
        """The scopes a grid counts in: its community (if in the geography), the street."""
        keys = [("street", STREET_KEY)]
        if grid_id in self.community_of:
            keys.append(("community", self.community_of[grid_id]))
        out = []
        for key in keys:
            scope = self.scopes.get(key)
            if scope is None:
                scope = self.scopes[key] = Scope()
            out.append(scope)
        return out

    def put(self, grid_id: str, state: GridState) -> None:
        """Hold ``state`` as the grid's, replacing its previous one in every scope."""
        old = self.grids.get(grid_id) or GridState()
        self.grids[grid_id] = state
        scopes = self.scopes_of(grid_id)
        for minute in old.minutes.keys() | state.minutes.keys():
            before, after = old.minutes.get(minute), state.minutes.get(minute)
            if before == after:
                continue
            stamp = next(self._stamp)
            for scope in scopes:
                scope.replace_minute(minute, before, after, stamp)
        for case_id in old.open.keys() | state.open.keys():
            before_d, after_d = old.open.get(case_id), state.open.get(case_id)
            if before_d != after_d:
                for scope in scopes:
                    scope.replace_deadline(before_d, after_d)

    def clear(self) -> None:
        """Hold nothing."""
        self.grids.clear()
        self.scopes.clear()

    def snapshot(self, level: str, key: str, now_ms: int) -> dict[str, Any]:
        """The view of a community or the street at ``now_ms`` (as
        :meth:`MetricsBook.snapshot`)."""
        if level not in ("community", "street"):
            raise ValueError(f"level {level!r}: only community and street are rolled up")
        scope = self.scopes.get((level, key)) or Scope()
        minute = MINUTE.start(now_ms)
        out: dict[str, Any] = {
            "level": level, "key": key, "minute_ms": minute,
            "minute": scope.window("minute", range(minute, minute + 1)),
            "last_minute": scope.window("last_minute", range(minute - MINUTE.size_ms,
                                                             minute - MINUTE.size_ms + 1)),
            "open_backlog": scope.open, "overdue": scope.overdue(now_ms),
        }
        for name, view in self.views.items():
            out[name] = scope.window(name, view.buckets(view.current(now_ms)))
        return out
