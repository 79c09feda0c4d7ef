"""The case console's reads (ClickHouse through :mod:`readside`) and writes (the gateway).

Reads are synchronous and total (run them in a thread): if ClickHouse is down or a table is
missing they return empty results, and the console shows an empty queue. Writes go to the
gateway's ``POST /v1/cases/events`` under the signed-in person's own token, then wait for
the worker's verdict at ``GET /v1/cases/events/{event_id}?wait=1`` (a refusal the gateway
can judge at once comes back as 403/409 instead).
"""

from __future__ import annotations

from typing import Any

import httpx

from core.settings import Settings
from domain.routing import OnTime
from readside import connection
from readside.cases import CaseState, cases_opened_between
from readside.units import unit_loads, unit_records
from wall.app.cases_logic import Move, Outcome, People, outcome_of

LOOKBACK_MS = 30 * 24 * 3600 * 1000  # cases opened within this long are queued
POST_TIMEOUT_S = 10.0


def listed_cases(settings: Settings, now_ms: int, limit: int = 2000) -> list[CaseState]:
    """The cases opened within the lookback, newest first (the queue picks from them; a
    selected case stays shown after its last step)."""
    try:
        with connection.session(settings) as client:
            cases = cases_opened_between(client, settings.clickhouse_database,
                                         now_ms - LOOKBACK_MS, now_ms, limit=limit)
    except Exception:  # noqa: BLE001 - no ClickHouse means an empty queue, never a crash
        return []
    return list(cases)


def case_people(settings: Settings, case_ids: list[str]) -> dict[str, People]:
    """Case id -> who reported it and who handled it last."""
    if not case_ids:
        return {}
    found = connection.rows(settings, (
        "SELECT case_id, argMinIf(actor, ts_ms, action IN ('report', 'resolve_on_spot')), "
        "argMaxIf(actor, ts_ms, action = 'handle') FROM {db}.case_transitions FINAL "
        "WHERE case_id IN %(ids)s GROUP BY case_id"), {"ids": tuple(case_ids)})
    return {str(cid): People(str(rep), str(han)) for cid, rep, han in found}


def case_moves(settings: Settings, case_id: str) -> list[Move]:
    """Every recorded transition of a case with its holders, oldest first."""
    found = connection.rows(settings, (
        "SELECT ts_ms, action, from_step, to_step, actor, from_unit, to_unit, assignee, reason "
        "FROM {db}.case_transitions FINAL WHERE case_id = %(id)s ORDER BY ts_ms, version"),
        {"id": case_id})
    return [Move(int(r[0]), *(str(x) for x in r[1:])) for r in found]


def routing_inputs(settings: Settings) -> tuple[dict[str, int], dict[str, OnTime]]:
    """The units' open loads and on-time records (routing's inputs); empty on failure."""
    try:
        with connection.session(settings) as client:
            db = settings.clickhouse_database
            return unit_loads(client, db), unit_records(client, db)
    except Exception:  # noqa: BLE001 - routing then ranks on its rules alone
        return {}, {}


async def send_step(gateway_url: str, token: str, body: dict[str, Any]) -> Outcome:
    """Post one step under ``token``; the gateway's refusal or the worker's verdict."""
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(base_url=gateway_url, timeout=POST_TIMEOUT_S) as client:
            answer = await client.post("/v1/cases/events", json=body, headers=headers)
            if answer.status_code != 202:
                return outcome_of(answer.status_code, _json(answer), None)
            verdict = await client.get(f"/v1/cases/events/{body['event_id']}",
                                       params={"wait": "1"}, headers=headers)
            return outcome_of(202, None, _json(verdict))
    except httpx.HTTPError as exc:
        return Outcome(False, "unreachable", f"gateway: {type(exc).__name__}: {exc}")


def _json(answer: httpx.Response) -> Any:
    try:
        return answer.json()
    except ValueError:
        return answer.text
