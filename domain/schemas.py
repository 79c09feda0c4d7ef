"""Wire schemas: msgspec Structs for everything that travels through Kafka.

Decoding with :mod:`domain.wire` is strict: a wrong type, an unknown enum value, a missing
required field or a broken cross-field rule fails with the field's path and the reason.
Timestamps are UTC epoch milliseconds. Personal data of residents (names, phone numbers,
ID numbers) is carried only in the fields marked *personal*; :mod:`domain.privacy` masks
them before anything reaches the wall.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from domain.vocab import (
    MAX_ATTRIBUTES,
    CaseAction,
    Category,
    Department,
    Priority,
    RecordType,
    SensorKind,
    Severity,
    Source,
    Step,
)

Id = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
GridId = Annotated[str, Meta(min_length=1, max_length=16)]
EpochMs = Annotated[int, Meta(ge=0, le=4_102_444_800_000)]
Lon = Annotated[float, Meta(ge=-180.0, le=180.0)]
Lat = Annotated[float, Meta(ge=-90.0, le=90.0)]
Text = Annotated[str, Meta(max_length=2000)]
Short = Annotated[str, Meta(max_length=128)]
Rating = Annotated[int, Meta(ge=1, le=5)]
# A unit id of the organisation (``SO-urban``, ``CS-PL01``) or a tier queue (``grid.PL01-03``).
UnitId = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
# An attachment: an http(s) URL without spaces (a photo of the scene).
Url = Annotated[str, Meta(min_length=8, max_length=512, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/]+[^\s]*$")]
MAX_ATTACHMENTS = 8
Scalar = str | int | float | bool
# An attribute value: strings bounded (the longest attribute of domain.vocab is 500).
AttributeValue = Annotated[str, Meta(max_length=500)] | int | float | bool


class Located(msgspec.Struct, kw_only=True):
    """Something placed on the map: an explicit grid, or coordinates to geocode, or both."""

    grid_id: GridId | None = None
    lon: Lon | None = None
    lat: Lat | None = None

    def __post_init__(self) -> None:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("`lon` and `lat` must be given together")


class CaseEvent(Located, kw_only=True, forbid_unknown_fields=True):
    """One step of a case's life: a report or a workflow action.

    Rules beyond types: ``report`` and ``resolve_on_spot`` need ``category`` and a place
    (``grid_id`` or ``lon``/``lat``); ``evaluate`` needs ``rating``; ``reassign`` needs
    ``target_unit``; ``decline`` needs ``reason``; ``target_person`` needs ``target_unit``
    (except on ``accept``, where it names who in the unit takes the case); ``supervise`` (a
    supervision order, 督办) needs ``target_unit`` and ``deadline_ms``. Other actions
    may omit the place: the case already has a grid. ``attachments`` are at most
    :data:`MAX_ATTACHMENTS` http(s) URLs (photos).
    """

    event_id: Id
    case_id: Id
    action: CaseAction
    ts: EpochMs
    source: Source
    actor: Short = ""
    category: Category | None = None
    priority: Priority = "normal"
    description: Text = ""
    note: Text = ""
    rating: Rating | None = None
    reporter_name: Short | None = None  # personal
    reporter_phone: Short | None = None  # personal
    target_unit: UnitId | None = None
    target_person: Id | None = None
    reason: Text = ""
    attachments: Annotated[list[Url], Meta(max_length=MAX_ATTACHMENTS)] = []
    deadline_ms: EpochMs | None = None  # a supervision order's deadline

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.action in ("report", "resolve_on_spot"):
            if self.category is None:
                raise ValueError(f"`category` is required for action '{self.action}'")
            if self.grid_id is None and self.lon is None:
                raise ValueError(f"`grid_id` or `lon`/`lat` is required for '{self.action}'")
        if self.action == "evaluate" and self.rating is None:
            raise ValueError("`rating` is required for action 'evaluate'")
        if self.action == "reassign" and self.target_unit is None:
            raise ValueError("`target_unit` is required for action 'reassign'")
        if self.action == "decline" and not self.reason.strip():
            raise ValueError("`reason` is required for action 'decline'")
        if self.action == "supervise" and (self.target_unit is None or self.deadline_ms is None):
            raise ValueError("`target_unit` and `deadline_ms` are required for 'supervise'")
        if (self.target_person is not None and self.target_unit is None
                and self.action != "accept"):
            raise ValueError("`target_person` needs `target_unit` (the person's unit)")


class SensorReading(Located, kw_only=True, forbid_unknown_fields=True):
    """One measurement of one sensor."""

    sensor_id: Id
    kind: SensorKind
    value: float
    ts: EpochMs


class SensorBatch(msgspec.Struct, kw_only=True):
    """What the sensors topic carries: the readings of one grid from one request.

    A Faust stream pays its cost per message, so readings travel in batches; every reading
    in ``readings`` belongs to ``grid_id``.
    """

    batch_id: Id
    grid_id: GridId
    received_ms: EpochMs
    source: Source
    readings: list[SensorReading]


_sensor_batches = msgspec.json.Decoder(SensorBatch | list[SensorBatch])


def decode_sensor_batches(value: bytes) -> list[SensorBatch]:
    """The batches of one message of the readings topic: one :class:`SensorBatch`, or an
    array of them (the topic is packed per partition: batches of several grids of the
    message's partition). Raises ``msgspec.MsgspecError`` if it is neither."""
    batches = _sensor_batches.decode(value)
    return batches if isinstance(batches, list) else [batches]


class DepartmentRecord(Located, kw_only=True, forbid_unknown_fields=True):
    """A record from a department system, kept per grid in the registers.

    ``attributes`` holds typed facts (e.g. ``households``, ``group``): at most
    :data:`~domain.vocab.MAX_ATTRIBUTES`, strings at most 500 characters; which names and
    values a record type may carry is checked by :func:`domain.plausible.attributes_problem`
    where records enter (the gateway). ``person_name``,
    ``person_id_number`` and ``person_phone`` are personal and never leave the worker
    unmasked.
    """

    record_id: Id
    record_type: RecordType
    ts: EpochMs
    department: Department | None = None
    attributes: Annotated[dict[Short, AttributeValue], Meta(max_length=MAX_ATTRIBUTES)] = {}
    person_name: Short | None = None  # personal
    person_id_number: Short | None = None  # personal
    person_phone: Short | None = None  # personal


class Alert(msgspec.Struct, kw_only=True):
    """An alert as the wall and duty officers see it.

    ``fingerprint`` identifies the condition (same condition, same fingerprint), so repeats
    update one alert instead of opening new ones.
    """

    alert_id: Id
    fingerprint: str
    grid_id: GridId
    kind: str
    category: str
    severity: Severity
    status: str
    title: Text
    opened_ms: EpochMs
    updated_ms: EpochMs
    detail: Text = ""
    case_id: str | None = None
    sensor_id: str | None = None
    tier: int = 1
    assignee: str | None = None
    acked_by: str | None = None
    silenced_until_ms: int | None = None


class DeadLetter(msgspec.Struct, kw_only=True):
    """A rejected input, kept whole enough to investigate and replay.

    ``raw`` is the original body, cut to a bounded size (``raw_truncated`` says so).
    """

    source: str
    reason: str
    ts: EpochMs
    stage: str
    field: str | None = None
    grid_id: str | None = None
    raw: str = ""
    raw_truncated: bool = False


class Command(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A duty or ops action, stamped with the acting user and role by the hub."""

    command_id: Id
    kind: Annotated[str, Meta(min_length=1, max_length=32)]
    actor: Short
    role: Short
    ts: EpochMs
    alert_id: Id | None = None
    case_id: Id | None = None
    grid_id: GridId | None = None
    args: dict[str, Any] = {}


class ConfigChange(msgspec.Struct, kw_only=True):
    """A live configuration value on the compacted control topic (key = ``key``)."""

    key: Short
    value: dict[str, Any]
    actor: Short
    ts: EpochMs


class Holding(msgspec.Struct, kw_only=True):
    """Who held a case from ``since_ms``: a unit (or tier queue), optionally a person, the
    action that handed it over and its reason (a decline's)."""

    unit: str
    since_ms: int
    action: str
    person: str | None = None
    reason: str = ""


class Supervision(msgspec.Struct, kw_only=True):
    """An open supervision order (督办): ``unit`` must act on the case by ``deadline_ms``;
    issued by ``by`` at ``since_ms`` (which identifies the order) with ``note``;
    ``breached_ms`` is when its deadline passed unmet (0: not yet)."""

    unit: str
    deadline_ms: int
    by: str
    since_ms: int
    note: str = ""
    breached_ms: int = 0


class CaseSnapshot(msgspec.Struct, kw_only=True):
    """The current state of one case (see :mod:`domain.case_machine`).

    ``unit`` holds the case now (a unit id or a tier queue), ``assignee`` the person within
    it; ``holders`` lists every holder in order (bounded, the oldest dropped first);
    ``sla_start_ms`` is when the current step's SLA started (step entry, restarted when a
    reassign hands the case to another unit); ``dispatched_unit`` is the unit the case was
    last dispatched to (a reopen returns it there); ``accepted_ms`` when that unit accepted;
    ``supervision`` the open supervision order, if any.
    """

    case_id: str
    grid_id: str
    category: Category
    priority: Priority
    step: Step
    tier: int
    opened_ms: int
    step_entered_ms: int
    updated_ms: int
    source: str = ""
    on_spot: bool = False
    reopen_count: int = 0
    escalations: int = 0
    rating: int | None = None
    description: str = ""
    actor: str = ""
    last_event_id: str = ""
    unit: str | None = None
    assignee: str | None = None
    dispatched_unit: str | None = None
    accepted_ms: int | None = None
    sla_start_ms: int = 0
    reporter: str = ""
    handler: str = ""
    holders: list[Holding] = []
    attachments: list[str] = []
    supervision: Supervision | None = None


class WallUpdate(msgspec.Struct, kw_only=True):
    """One delta on the wall updates topic (Kafka key: ``key``).

    ``channel`` is one of ``grid_metrics``, ``cases``, ``alerts``, ``ranking``,
    ``job_health``, ``registers`` (:mod:`domain.contracts.channels`, one struct each for
    ``data``); ``key`` identifies the entity within the channel (a grid id, case id, alert
    id, worker id, or ``"street"``). A later update for the same
    (channel, key) replaces the earlier one, so the latest update per key is a snapshot.
    ``data`` holds no unmasked personal data.
    """

    channel: Annotated[str, Meta(min_length=1, max_length=32)]
    key: Annotated[str, Meta(min_length=1, max_length=128)]
    ts: EpochMs
    data: dict[str, Any]
