"""Per-grid partial figures: what a grid's owner tells the street-wide stage.

Two-stage aggregation: the worker that owns a grid's partition computes that grid's figures
(minute buckets, open cases, score outcomes) and sends the latest of them as one
:class:`GridPartial` to the single-partition, compacted ``grid-partials`` topic, keyed
``cases/<grid id>``. The one owner of that partition (the street stage) merges the latest
partial of every grid into the community and street figures and the rankings, so N workers
publish exactly what one worker would.

Guarantees: a partial is a full state, never a delta, so applying the same partial twice, or
an older one followed by the newer, leaves the newest; its size depends on the grid's own
activity (minutes of the retention window, its open cases), never on the number of grids;
open cases travel as their deadlines only (about 5 bytes a case instead of about 40 with
their ids: a grid with 30,000 open cases once made a message over Kafka's 1 MB limit and
crashed the worker on every start).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from typing import Any

import msgspec

from streams.metrics.book import STREET_KEY, GridState
from streams.metrics.buckets import Bucket
from streams.scores.book import GridOutcomes
from streams.sensors.detector import GridHealth

CASES_SOURCE = "cases"
SENSORS_SOURCE = "sensors"
HEALTH_FIELDS = tuple(f.name for f in dataclasses.fields(GridHealth))


class GridPartial(msgspec.Struct, kw_only=True):
    """The latest figures of one grid from its owner.

    ``source_ms``: the oldest input time behind the change (event-to-screen latency);
    ``outcomes``' case-to-handler map is left out (the street stage does not need it).
    """

    grid_id: str
    source_ms: int | None = None
    state: GridState
    outcomes: GridOutcomes


class SensorPartial(msgspec.Struct, kw_only=True):
    """The sensor health of one grid from the owner of its readings' partition."""

    grid_id: str
    source_ms: int | None = None
    health: GridHealth


def merged_health(partials: list[SensorPartial]) -> dict[str, Any]:
    """The sensor health of several grids: summed counts and ``health``, the share of
    installed sensors that report and are not in alarm (None: no sensors)."""
    total = GridHealth()
    for partial in partials:
        for name in HEALTH_FIELDS:
            setattr(total, name, getattr(total, name) + getattr(partial.health, name))
    return {**dataclasses.asdict(total), "health": total.score}


class HealthSums:
    """The summed sensor health of every community and of the street, kept up to date one
    grid's partial at a time (the cost of a partial does not grow with the number of grids).

    Guarantee: :meth:`merged` equals :func:`merged_health` of the latest partials of the
    scope's grids of the geography (``community_of``; other grids count nowhere).
    """

    def __init__(self, community_of: Mapping[str, str]) -> None:
        self.community_of = dict(community_of)
        self.grids: dict[str, SensorPartial] = {}
        self.totals: dict[tuple[str, str], GridHealth] = {}

    def put(self, partial: SensorPartial) -> None:
        """Hold ``partial`` as its grid's latest, replacing the previous one in the sums."""
        old = self.grids.get(partial.grid_id)
        self.grids[partial.grid_id] = partial
        community = self.community_of.get(partial.grid_id)
        if community is None:
            return
        before = old.health if old is not None else GridHealth()
        for key in (("community", community), ("street", STREET_KEY)):
            total = self.totals.get(key)
            if total is None:
                total = self.totals[key] = GridHealth()
            for name in HEALTH_FIELDS:
                setattr(total, name, getattr(total, name) + getattr(partial.health, name)
                        - getattr(before, name))

    def merged(self, level: str, key: str) -> dict[str, Any]:
        """The summed health of a community or the street (as :func:`merged_health`)."""
        total = self.totals.get((level, key)) or GridHealth()
        return {**dataclasses.asdict(total), "health": total.score}

    def clear(self) -> None:
        """Hold nothing."""
        self.grids.clear()
        self.totals.clear()


class _GridWire(msgspec.Struct, kw_only=True):
    """A :class:`GridPartial` on the topic: the grid's open cases as their step deadlines
    only (sorted, each written as its difference from the one before), so a grid with tens
    of thousands of open cases stays far below Kafka's 1 MB message limit (the case ids
    cost ~40 bytes each and are not needed by the street stage)."""

    grid_id: str
    source_ms: int | None = None
    minutes: dict[int, Bucket] = {}
    watermark_ms: int = 0
    deadlines: list[int] = []
    outcomes: GridOutcomes


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(_GridWire)
_sensor_decoder = msgspec.json.Decoder(SensorPartial)


def partial_key(grid_id: str, source: str = CASES_SOURCE) -> str:
    """The topic key of a grid's partial from ``source``."""
    return f"{source}/{grid_id}"


def encode_partial(partial: GridPartial) -> bytes:
    """The topic value of ``partial``: its handler map dropped, its open cases as deltas of
    their sorted deadlines (see :func:`decode_partial` for what comes back)."""
    outcomes = partial.outcomes
    if outcomes.handlers:
        outcomes = GridOutcomes(periods=outcomes.periods)
    state = partial.state
    deadlines = sorted(state.open.values())
    deltas = [d - p for d, p in zip(deadlines, [0, *deadlines], strict=False)]
    return _encoder.encode(_GridWire(
        grid_id=partial.grid_id, source_ms=partial.source_ms, minutes=state.minutes,
        watermark_ms=state.watermark_ms, deadlines=deltas, outcomes=outcomes))


def open_by_deadline(deadlines: list[int]) -> dict[str, int]:
    """Open cases keyed ``"<deadline>#<n>"`` (the n-th case with that deadline) instead of
    by case id: two partials of a grid share the keys of the cases that stayed open with
    their deadlines, so the street stage's replace-by-key diffs cost only what changed."""
    out: dict[str, int] = {}
    seen: dict[int, int] = {}
    for deadline in deadlines:
        n = seen.get(deadline, 0)
        seen[deadline] = n + 1
        out[f"{deadline}#{n}"] = deadline
    return out


def encode_sensor_partial(partial: SensorPartial) -> bytes:
    """The topic value of a sensor partial (key: ``partial_key(grid, SENSORS_SOURCE)``)."""
    return _encoder.encode(partial)


def decode_partial(key: bytes | None, raw: bytes) -> GridPartial | SensorPartial:
    """A partial from its topic key and value (raises ``msgspec.MsgspecError`` if
    malformed): a sensors partial if the key says so, else a cases partial whose state's
    open cases are keyed by :func:`open_by_deadline` (same count, same deadlines)."""
    if key is not None and key.startswith(SENSORS_SOURCE.encode() + b"/"):
        return _sensor_decoder.decode(raw)
    wire = _decoder.decode(raw)
    deadlines = list(itertools.accumulate(wire.deadlines))
    state = GridState(minutes=wire.minutes, open=open_by_deadline(deadlines),
                      watermark_ms=wire.watermark_ms)
    return GridPartial(grid_id=wire.grid_id, source_ms=wire.source_ms, state=state,
                       outcomes=wire.outcomes)
