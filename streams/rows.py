"""ClickHouse rows of the stream jobs: one builder per table, and the sink's message format.

Agents emit rows as plain dicts inside a :class:`RowBatch` (one message per table per agent
batch) on the internal rows topic; the sink turns them into tuples in :data:`COLUMNS` order.
The columns are the table contracts' (:mod:`domain.contracts.tables`), so every table the
migrations create can be written.
Date and DateTime columns are derived from their epoch-ms column (:data:`TIME_COLUMNS`), so
a row's time is stated once, in milliseconds. Every row carries its table's replacing key
and version (see the migrations), so writing it twice is harmless.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any

import msgspec

from domain.alerts import AlertState
from domain.contracts.tables import TABLES, TimeColumns
from domain.privacy import mask_name, mask_phone, mask_text
from domain.schemas import CaseEvent, CaseSnapshot, DeadLetter
from domain.wire import encode
from streams.case_logic import CaseRecord

# The sink's column lists and Date/DateTime filling, from the table contracts.
COLUMNS: dict[str, tuple[str, ...]] = {name: t.insert_columns for name, t in TABLES.items()}
# table -> (Date column, DateTime column or "", epoch-ms column they derive from)
TIME_COLUMNS: dict[str, tuple[TimeColumns, ...]] = {name: t.times for name, t in TABLES.items()}


class RowBatch(msgspec.Struct, kw_only=True):
    """One message of the rows topic: rows for one table."""

    table: str
    rows: list[dict[str, Any]]


def to_tuples(table: str, rows: list[dict[str, Any]] | list[Any]) -> list[tuple[Any, ...]]:
    """Rows as tuples in column order, with the Date/DateTime columns filled in.

    The rows are not changed. A missing column raises ``KeyError`` (as the sink's refusal
    bisection expects). Cost per row: one C-level item fetch of every column; a table with
    time columns converts each distinct second once per call. A row of a table without time
    columns may already be a tuple in column order (:func:`row_dict` names its values); it
    is passed on as it is.
    """
    columns = COLUMNS[table]
    times = TIME_COLUMNS[table]
    if not times:
        if len(columns) == 1:
            (only,) = columns
            return [row if type(row) is tuple else (row[only],) for row in rows]
        pick = itemgetter(*columns)
        return [row if type(row) is tuple else pick(row) for row in rows]
    derived = {c for date_col, time_col, _ in times for c in (date_col, time_col) if c}
    plain = [c for c in columns if c not in derived]
    pick_plain = itemgetter(*plain) if len(plain) > 1 else None
    position = {c: i for i, c in enumerate(columns)}
    moments: dict[int, datetime] = {}
    out = []
    for row in rows:
        values: list[Any] = [None] * len(columns)
        picked = pick_plain(row) if pick_plain is not None else tuple(row[c] for c in plain)
        for column, value in zip(plain, picked, strict=True):
            values[position[column]] = value
        for date_col, time_col, ms_col in times:
            second = int(row[ms_col]) // 1000
            moment = moments.get(second)
            if moment is None:
                # aware UTC: the driver converts it exactly, whatever the client's time zone
                moment = moments[second] = datetime.fromtimestamp(second, tz=UTC)
            if date_col in position:
                values[position[date_col]] = date(moment.year, moment.month, moment.day)
            if time_col in position:
                values[position[time_col]] = moment
        out.append(tuple(values))
    return out


def row_dict(table: str, row: dict[str, Any] | tuple[Any, ...]) -> dict[str, Any]:
    """A row as a dict: a tuple row's values named by the table's columns, in order."""
    return row if isinstance(row, dict) else dict(zip(COLUMNS[table], row, strict=True))


def _text(value: str) -> str:
    """Free text as it may leave the worker: phones, ID numbers, e-mails masked."""
    return mask_text(value) or ""


def case_event_row(event: CaseEvent, partition: int, offset: int) -> dict[str, Any]:
    """The raw case event, with the reporter's personal data and the free text (description,
    note, actor) masked."""
    masked = msgspec.structs.replace(event, reporter_name=mask_name(event.reporter_name),
                                     reporter_phone=mask_phone(event.reporter_phone),
                                     description=_text(event.description),
                                     note=_text(event.note), actor=_text(event.actor))
    return {"ts_ms": event.ts, "event_id": event.event_id, "case_id": event.case_id,
            "grid_id": event.grid_id or "", "action": event.action, "source": event.source,
            "actor": masked.actor, "category": event.category or "",
            "priority": event.priority, "kafka_partition": partition, "kafka_offset": offset,
            "payload": encode(masked).decode()}


def transition_row(event: CaseEvent, before: CaseRecord | None, after: CaseRecord,
                   breach: bool) -> dict[str, Any]:
    """One applied event: the step, tier and holding unit before and after, the assignee
    and the event's reason (the actor's, assignee's and reason's free text masked)."""
    snap = after.snapshot
    return {"ts_ms": event.ts, "case_id": snap.case_id, "event_id": event.event_id,
            "grid_id": snap.grid_id, "action": event.action,
            "from_step": before.snapshot.step if before else "", "to_step": snap.step,
            "from_tier": before.snapshot.tier if before else 0, "to_tier": snap.tier,
            "actor": _text(event.actor), "source": event.source, "breach": int(breach),
            "version": after.version,
            "from_unit": (before.snapshot.unit or "") if before else "",
            "to_unit": snap.unit or "", "assignee": _text(snap.assignee or ""),
            "reason": _text(event.reason)}


def case_row(record: CaseRecord, deadline: int | None) -> dict[str, Any]:
    """The current state of a case, versioned by the number of events applied, with its
    holding unit, assignee, last dispatched unit, attachments and open supervision order
    (:func:`supervision_columns`); its free text
    (description, actor, assignee, note) masked."""
    s = record.snapshot
    return {"opened_ms": s.opened_ms, "case_id": s.case_id, "grid_id": s.grid_id,
            "category": s.category, "priority": s.priority, "step": s.step, "tier": s.tier,
            "step_entered_ms": s.step_entered_ms, "updated_ms": s.updated_ms,
            "deadline_ms": deadline or 0, "on_spot": int(s.on_spot),
            "reopen_count": s.reopen_count, "escalations": s.escalations,
            "breaches": record.breaches, "rating": s.rating or 0, "source": s.source,
            "description": _text(s.description), "actor": _text(s.actor),
            "last_event_id": s.last_event_id, "version": record.version, "lon": record.lon,
            "lat": record.lat, "note": _text(record.note), "unit": s.unit or "",
            "assignee": _text(s.assignee or ""), "dispatched_unit": s.dispatched_unit or "",
            "attachments": list(s.attachments), **supervision_columns(s)}


def supervision_columns(snap: CaseSnapshot) -> dict[str, Any]:
    """The case's open supervision order (unit, deadline, who issued it when, when it was
    missed): empty strings and zeros without one."""
    order = snap.supervision
    if order is None:
        return {"supervision_unit": "", "supervision_deadline_ms": 0, "supervision_by": "",
                "supervision_since_ms": 0, "supervision_breached_ms": 0}
    return {"supervision_unit": order.unit, "supervision_deadline_ms": order.deadline_ms,
            "supervision_by": _text(order.by), "supervision_since_ms": order.since_ms,
            "supervision_breached_ms": order.breached_ms}


def alert_row(state: AlertState) -> dict[str, Any]:
    """The current state of an alert, versioned by the number of changes."""
    a = state.alert
    return {"opened_ms": a.opened_ms, "alert_id": a.alert_id, "fingerprint": a.fingerprint,
            "group_key": state.group_key, "grid_id": a.grid_id, "kind": a.kind,
            "category": a.category, "severity": a.severity, "status": a.status,
            "title": a.title, "detail": a.detail, "case_id": a.case_id or "",
            "sensor_id": a.sensor_id or "", "tier": a.tier, "assignee": a.assignee or "",
            "acked_by": a.acked_by or "", "silenced_until_ms": a.silenced_until_ms or 0,
            "silenced_by": state.silenced_by, "silence_comment": state.silence_comment,
            "shelved": int(state.shelved), "updated_ms": a.updated_ms,
            "resolved_ms": state.resolved_ms, "occurrences": state.occurrences,
            "re_escalations": state.re_escalations, "version": state.version}


def alert_action_row(action_id: str, alert_id: str, grid_id: str, action: str, actor: str,
                     role: str, ts: int, outcome: str, detail: str, before: str, after: str
                     ) -> dict[str, Any]:
    """One audited alert action (accepted ``ok`` or ``rejected`` with the reason)."""
    return {"ts_ms": ts, "action_id": action_id, "alert_id": alert_id, "grid_id": grid_id,
            "action": action, "actor": actor, "role": role, "outcome": outcome,
            "detail": detail, "status_before": before, "status_after": after}


def dead_letter_row(dl: DeadLetter) -> dict[str, Any]:
    """A dead letter, keyed by a digest of its content (the same rejection, one row)."""
    digest = hashlib.sha1(
        "\x1f".join((dl.stage, dl.source, dl.reason, str(dl.ts), dl.raw)).encode()
    ).hexdigest()
    return {"ts_ms": dl.ts, "dl_key": digest, "source": dl.source, "stage": dl.stage,
            "reason": dl.reason, "field": dl.field or "", "grid_id": dl.grid_id or "",
            "raw": dl.raw, "raw_truncated": int(dl.raw_truncated)}
