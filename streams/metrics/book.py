"""Per-grid metric state and the views built from it: grid, community, street.

:class:`GridState` is one grid's state (minute buckets and its open cases with their SLA
deadlines); it is a msgspec Struct so an agent can keep it in a changelogged table keyed by
grid. :class:`MetricsBook` holds the states of the grids a worker owns and answers:

* :meth:`MetricsBook.update` — count a batch of facts; returns the grids that changed;
* :meth:`MetricsBook.snapshot` — the wall's view of a grid, a community or the street at
  ``now_ms``: current and previous minute, open backlog, overdue, 15-minute and 1-hour views;
* :meth:`MetricsBook.minute_rows` — the ClickHouse rows of the grid minutes changed since
  the last call, each the full aggregate of its minute (so rewriting one is idempotent).

Guarantees: a fact is counted once, in the minute of its ``ts`` (event time). Buckets older
than ``retention_ms`` behind the newest fact seen are evicted; a fact older than that is not
counted and is tallied in ``late``. Community and street views merge the grids' buckets, so
they are exact for the grids this worker owns.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec

from streams.metrics.buckets import Bucket
from streams.metrics.facts import StepFact
from streams.metrics.windows import HOUR, MINUTE, QUARTER_HOUR, Hopping

STREET_KEY = "street"
LEVELS = ("grid", "community", "street")
DEFAULT_RETENTION_MS = 2 * HOUR.size_ms


def is_overdue(deadline_ms: int, at_ms: int) -> bool:
    """The one definition of overdue: a step deadline (0: no clock) at or before ``at_ms``."""
    return 0 < deadline_ms <= at_ms


class GridState(msgspec.Struct, kw_only=True):
    """One grid: ``minutes`` maps minute start to bucket; ``open`` maps case to deadline.

    ``watermark_ms`` is the newest fact time seen for the grid; lateness and eviction are
    measured from it, so they depend on the grid's own facts only (not on which other
    grids a worker happens to own).
    """

    minutes: dict[int, Bucket] = {}
    open: dict[str, int] = {}
    watermark_ms: int = 0

    def add(self, fact: StepFact, retention_ms: int, *, count_overdue: bool = True) -> bool:
        """Count ``fact`` in its minute and update the open cases; False if it is late.

        The minute's ``open_end`` / ``overdue_end`` become the grid's open backlog and
        overdue at the minute's end, as known after this fact. With ``count_overdue=False``
        the caller counts ``overdue_end`` later by :meth:`count_overdue` (before the grid's
        open cases change again): counting is a pass over every open case.
        """
        if fact.ts < self.watermark_ms - retention_ms:
            return False
        minute = MINUTE.start(fact.ts)
        bucket = self.minutes.get(minute)
        if bucket is None:
            bucket = self.minutes[minute] = Bucket()
        bucket.add(fact)
        if fact.is_open:
            self.open[fact.case_id] = fact.deadline_ms
        else:
            self.open.pop(fact.case_id, None)
        bucket.open_end = len(self.open)
        if count_overdue:
            bucket.overdue_end = self.overdue(MINUTE.end(fact.ts) - 1)
        self.watermark_ms = max(self.watermark_ms, fact.ts)
        return True

    def count_overdue(self, minute: int) -> None:
        """Set ``minute``'s ``overdue_end`` from the open cases now (absent minute: nothing)."""
        bucket = self.minutes.get(minute)
        if bucket is not None:
            bucket.overdue_end = self.overdue(MINUTE.end(minute) - 1)

    def overdue(self, now_ms: int) -> int:
        """Open cases whose step deadline is at or before ``now_ms``."""
        return sum(1 for d in self.open.values() if is_overdue(d, now_ms))

    def evict(self, retention_ms: int) -> None:
        """Drop minute buckets older than ``retention_ms`` behind the watermark."""
        cutoff = MINUTE.start(self.watermark_ms - retention_ms)
        for minute in [m for m in self.minutes if m < cutoff]:
            del self.minutes[minute]


def replay_order(histories: Iterable[Sequence[StepFact]]) -> list[StepFact]:
    """The facts of several cases in one deterministic order: by time, each case's own
    facts kept in the order they were applied (a fact's time counts as at least that of
    the case's earlier facts)."""
    keyed = []
    for history in histories:
        running = 0
        for i, fact in enumerate(history):
            running = max(running, fact.ts)
            keyed.append((running, fact.case_id, i, fact))
    keyed.sort(key=lambda k: k[:3])
    return [k[3] for k in keyed]


class MetricsBook:
    """The grid metrics of one worker; see the module docstring."""

    def __init__(self, community_of: Mapping[str, str],
                 retention_ms: int = DEFAULT_RETENTION_MS,
                 views: Mapping[str, Hopping] | None = None) -> None:
        self.community_of = dict(community_of)
        self.members: dict[str, list[str]] = {}  # community -> its grids (geography order)
        for grid_id, community in self.community_of.items():
            self.members.setdefault(community, []).append(grid_id)
        self.retention_ms = retention_ms
        self.views = dict(views) if views is not None else {"15m": QUARTER_HOUR, "1h": HOUR}
        self.grids: dict[str, GridState] = {}
        self.late = 0
        self._dirty_minutes: set[tuple[str, int]] = set()
        # grid -> (its state, the positive deadlines of its open cases, sorted): kept in step
        # with the state's open cases by _add, rebuilt when the grid holds another state
        self._deadlines: dict[str, tuple[GridState, list[int]]] = {}

    def update(self, facts: Iterable[StepFact]) -> set[str]:
        """Count ``facts``; return the ids of the grids whose figures changed."""
        changed: set[str] = set()
        pending: dict[str, int] = {}
        for fact in facts:
            state = self.grids.get(fact.grid_id)
            if state is None:
                state = self.grids[fact.grid_id] = GridState()
            if not self._add(state, fact, pending):
                self.late += 1
                continue
            self._dirty_minutes.add((fact.grid_id, MINUTE.start(fact.ts)))
            changed.add(fact.grid_id)
            state.evict(self.retention_ms)
        self._count_pending(pending)
        return changed

    def _add(self, state: GridState, fact: StepFact, pending: dict[str, int]) -> bool:
        """``state.add(fact)``, counting a minute's ``overdue_end`` once per run of the
        grid's facts in that minute (``pending``: grid -> minute not counted yet) instead of
        once per fact; the counts equal those made after every fact, since only the grid's
        own facts change its open cases."""
        minute = MINUTE.start(fact.ts)
        waiting = pending.get(fact.grid_id)
        if waiting is not None and waiting != minute:
            self._count_overdue(fact.grid_id, state, pending.pop(fact.grid_id))
        before = state.open.get(fact.case_id)
        if not state.add(fact, self.retention_ms, count_overdue=False):
            return False
        cached = self._deadlines.get(fact.grid_id)
        if cached is not None and cached[0] is state:
            if before:
                del cached[1][bisect_left(cached[1], before)]
            if after := state.open.get(fact.case_id):
                insort(cached[1], after)
        pending[fact.grid_id] = minute
        return True

    def _count_pending(self, pending: dict[str, int]) -> None:
        for grid_id, minute in pending.items():
            self._count_overdue(grid_id, self.grids[grid_id], minute)

    def _count_overdue(self, grid_id: str, state: GridState, minute: int) -> None:
        """:meth:`GridState.count_overdue` by bisection of the grid's sorted deadlines
        (the same count: :func:`is_overdue` is ``0 < deadline <= at``)."""
        bucket = state.minutes.get(minute)
        if bucket is None:
            return
        cached = self._deadlines.get(grid_id)
        if cached is None or cached[0] is not state:
            cached = self._deadlines[grid_id] = (
                state, sorted(d for d in state.open.values() if d > 0))
        bucket.overdue_end = bisect_right(cached[1], MINUTE.end(minute) - 1)

    def rebuild(self, histories: Iterable[Sequence[StepFact]]) -> set[str]:
        """Replace every grid's state by the replay of ``histories`` (the step facts of
        every case this worker owns, e.g. of its recovered cases table).

        Deterministic: the same cases give the same states whatever order they come in,
        and every retained minute is rewritten (``minute_rows``). Returns the grids held
        before or after (their figures may have changed).
        """
        before = set(self.grids)
        self.grids = {}
        self._dirty_minutes = set()
        pending: dict[str, int] = {}
        for fact in replay_order(histories):
            state = self.grids.get(fact.grid_id)
            if state is None:
                state = self.grids[fact.grid_id] = GridState()
            self._add(state, fact, pending)
        self._count_pending(pending)
        for grid_id, state in self.grids.items():
            state.evict(self.retention_ms)
            self._dirty_minutes.update((grid_id, m) for m in state.minutes)
        return before | set(self.grids)

    def put_state(self, grid_id: str, state: GridState) -> None:
        """Hold ``state`` as grid ``grid_id``'s (a street-wide view fed by grid owners)."""
        self.grids[grid_id] = state

    def keys_of(self, grid_ids: Iterable[str]) -> set[tuple[str, str]]:
        """The (level, key) pairs whose views depend on ``grid_ids``."""
        keys: set[tuple[str, str]] = set()
        for grid_id in grid_ids:
            keys.add(("grid", grid_id))
            if grid_id in self.community_of:
                keys.add(("community", self.community_of[grid_id]))
            keys.add(("street", STREET_KEY))
        return keys

    def grids_of(self, level: str, key: str) -> list[str]:
        """The grids (held here) that make up ``key`` at ``level``."""
        if level == "grid":
            return [key] if key in self.grids else []
        if level == "community":
            return [g for g in self.members.get(key, ()) if g in self.grids]
        if level == "street":
            return list(self.grids)
        raise ValueError(f"unknown level {level!r} (known: {', '.join(LEVELS)})")

    def grids_of_any(self, level: str, key: str) -> list[str]:
        """Like :meth:`grids_of`, but with every grid of the geography, held here or not."""
        if level == "grid":
            return [key]
        if level == "community":
            return list(self.members.get(key, ()))
        return list(self.community_of)

    def snapshot(self, level: str, key: str, now_ms: int) -> dict[str, Any]:
        """The view of ``key`` at ``level`` at ``now_ms`` (plain data for a WallUpdate)."""
        states = [self.grids[g] for g in self.grids_of(level, key)]
        minute = MINUTE.start(now_ms)
        out: dict[str, Any] = {
            "level": level, "key": key, "minute_ms": minute,
            "minute": self._merge(states, [minute]).summary(),
            "last_minute": self._merge(states, [minute - MINUTE.size_ms]).summary(),
            "open_backlog": sum(len(s.open) for s in states),
            "overdue": sum(s.overdue(now_ms) for s in states),
        }
        for name, view in self.views.items():
            start = view.current(now_ms)
            out[name] = self._merge(states, list(view.buckets(start))).summary()
        return out

    def minute_rows(self, now_ms: int) -> list[dict[str, Any]]:
        """Rows of ``grid_metrics_1m`` for grid minutes changed since the last call.

        Each row is a function of the grid's facts alone (its open backlog and overdue are
        those at the minute's end), so every worker writes the same row for a minute.
        """
        rows = []
        for grid_id, minute in sorted(self._dirty_minutes):
            state = self.grids.get(grid_id)
            bucket = state.minutes.get(minute) if state else None
            if state is None or bucket is None:
                continue  # evicted before it was written: already final in an earlier row
            rows.append(minute_row(grid_id, self.community_of.get(grid_id, ""), minute,
                                   bucket, now_ms))
        self._dirty_minutes.clear()
        return rows

    def _merge(self, states: list[GridState], minutes: Iterable[int]) -> Bucket:
        wanted = list(minutes)
        return Bucket.merged([b for s in states for m in wanted
                              if (b := s.minutes.get(m)) is not None])


def minute_row(grid_id: str, community_id: str, minute_ms: int, bucket: Bucket,
               version: int) -> dict[str, Any]:
    """One ``grid_metrics_1m`` row: the full aggregate of a grid's minute."""
    steps = sorted(bucket.handling_ms)
    summary = bucket.summary()["handling"]
    return {"minute_ms": minute_ms, "grid_id": grid_id, "community_id": community_id,
            "reported": bucket.reported, "closed": bucket.closed,
            "completed": bucket.completed, "on_time": bucket.on_time,
            "open_backlog": bucket.open_end, "overdue": bucket.overdue_end, "steps": steps,
            "step_n": [summary[s]["n"] for s in steps],
            "step_mean_ms": [round(summary[s]["mean_s"] * 1000, 1) for s in steps],
            "step_p90_ms": [int(summary[s]["p90_s"] * 1000) for s in steps],
            "version": version}
