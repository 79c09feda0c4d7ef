"""One typed struct per wall channel: what the ``data`` of a channel's items carries.

The stream worker publishes :class:`~domain.schemas.WallUpdate` records to the wall updates
topic; the hub fans them out by channel and the wall reads them. :data:`CHANNEL_CATALOG` is
the one list of channels (the hub's ``Channel`` type and the wall's store derive from it);
each :class:`ChannelSpec` names the struct of its ``data`` and what its ``key`` is.

The structs type the fields the wall reads (``docs/wall.md``, "What the wall reads from each
channel"); a producer may send more figures than the struct lists (unknown fields are kept
by the hub and ignored here), but a listed field of the wrong type fails
:func:`decode_data` with the field's path. The wall's readers (``wall/app/fields.py``) stay
defensive on top of that: a missing field reads as 0 / empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec


class ChannelData(msgspec.Struct, kw_only=True):
    """The ``data`` of a channel item; fields not listed are allowed and ignored."""


class CaseData(ChannelData):
    """``cases``: a case's snapshot (:class:`~domain.schemas.CaseSnapshot`: tier, priority,
    the holding unit and assignee), its step deadline and its breaches; free text masked."""

    case_id: str
    grid_id: str
    category: str
    step: str
    tier: int
    opened_ms: int
    step_entered_ms: int
    updated_ms: int
    deadline_ms: int | None = None
    escalation_ms: int | None = None
    breaches: int = 0
    escalations: int = 0
    actor: str = ""
    priority: str = "normal"
    unit: str | None = None
    assignee: str | None = None


class AlertData(ChannelData):
    """``alerts``: an alert (:class:`~domain.schemas.Alert`) and its lifecycle fields."""

    alert_id: str
    grid_id: str
    kind: str
    category: str
    severity: str
    status: str
    title: str
    opened_ms: int
    updated_ms: int
    acked_by: str | None = None
    assignee: str | None = None
    silenced_until_ms: int | None = None
    case_id: str | None = None
    sensor_id: str | None = None
    tier: int = 1


class GridMetricsData(ChannelData):
    """``grid_metrics``: the figures of a grid, community or the street (``level``)."""

    level: str = "grid"
    open_backlog: int = 0
    overdue: int = 0


class RankEntry(msgspec.Struct, kw_only=True):
    """One line of a ranking; ``rank`` None: too few cases to rank."""

    subject: str
    rank: int | None
    score: float | None
    rank_change: int | None = None


class RankingData(ChannelData):
    """``ranking``: under ``street`` the top of the live period, under a subject its rank."""

    kind: str
    period: str
    period_start_ms: int
    ranking: list[RankEntry] = []


class RegistersData(ChannelData):
    """``registers``: a grid's register counts (residents, households, groups, places)."""

    grid_id: str
    population: int = 0
    households: int = 0


class AgentFigures(msgspec.Struct, kw_only=True):
    """One agent's rate and latency (None: no sample yet)."""

    events_per_s: float
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None


class JobHealthData(ChannelData):
    """``job_health``: one worker's agents, partition lag, sink and table recovery."""

    worker_id: str
    agents: dict[str, AgentFigures] = {}
    lag: dict[str, dict[str, dict[str, int]]] = {}
    sink: dict[str, float | None] = {}
    recovery: dict[str, Any] = {}


@dataclass(frozen=True)
class ChannelSpec:
    """A wall channel: its name, the struct of its ``data``, what its ``key`` is."""

    name: str
    data: type[ChannelData]
    key: str


CHANNEL_CATALOG: tuple[ChannelSpec, ...] = (
    ChannelSpec("grid_metrics", GridMetricsData, "grid id, community id or street"),
    ChannelSpec("cases", CaseData, "case id"),
    ChannelSpec("alerts", AlertData, "alert id"),
    ChannelSpec("ranking", RankingData, "street, street.<period> or a subject"),
    ChannelSpec("job_health", JobHealthData, "worker id"),
    ChannelSpec("registers", RegistersData, "grid id"),
)
CHANNELS: dict[str, ChannelSpec] = {spec.name: spec for spec in CHANNEL_CATALOG}
CHANNEL_NAMES: tuple[str, ...] = tuple(CHANNELS)


def decode_data(channel: str, data: Any) -> ChannelData:
    """``data`` as the channel's struct; ``msgspec.ValidationError`` naming the field.

    ``channel`` must be one of :data:`CHANNEL_NAMES` (``KeyError`` otherwise).
    """
    return msgspec.convert(data, CHANNELS[channel].data)
