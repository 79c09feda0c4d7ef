"""The case console's pure parts: which steps a person may take, the queue, the event sent.

Nothing here does I/O. Guarantees:

* :func:`actions_for` offers an action only if the case machine allows it from the case's
  step (:data:`domain.case_machine.TRANSITIONS`) *and* :func:`domain.authority.may` allows
  it to the person on that case; the gateway judges again, so an offer is never a promise.
* :func:`queue` holds the cases on which the person may take at least one action, and the
  cases under an open supervision order (督办) to the person's unit, sorted by deadline (a
  supervised case by its order's deadline; cases without a running deadline last, then
  oldest first).
* :func:`event_body` builds the ``POST /v1/cases/events`` body of one button press; the
  actor is the person the token names (the gateway stamps it anyway).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from domain.authority import Allowed, Facts, may
from domain.case_machine import TRANSITIONS, community_of
from domain.organisation import Person
from readside.cases import CaseState

# The console's buttons, in the order of the loop.
CONSOLE_ACTIONS: tuple[str, ...] = ("verify", "reject", "dispatch", "reassign", "accept",
                                    "decline", "handle", "close", "reopen", "evaluate")
NEEDS_REASON = frozenset({"reject", "decline"})
NEEDS_UNIT = frozenset({"dispatch", "reassign"})
STAFF_SOURCE, RESIDENT_SOURCE = "command_centre", "resident_app"


@dataclass(frozen=True)
class People:
    """Who reported a case and who handled it last ("" when unknown)."""

    reporter: str = ""
    handler: str = ""


def facts_of(case: CaseState, people: People) -> Facts:
    """What the authority rules read of ``case``."""
    return Facts(grid_id=case.grid_id or None,
                 community_id=community_of(case.grid_id) if case.grid_id else None,
                 unit=case.unit or None, reporter=people.reporter or None,
                 handler=people.handler or None)


def actions_for(person: Person, case: CaseState, people: People) -> list[str]:
    """The console actions legal from the case's step that ``person`` may take on it."""
    facts = facts_of(case, people)
    return [a for a in CONSOLE_ACTIONS if case.step in TRANSITIONS[a][0]
            and isinstance(may(person, a, facts), Allowed)]


def supervised_for(person: Person, case: CaseState) -> bool:
    """True if an open supervision order puts ``case`` on ``person``'s unit's queue."""
    return bool(case.supervision_unit) and case.supervision_unit == person.unit


def due_ms(case: CaseState) -> int:
    """The deadline the queue sorts by: a supervision order's, else the step's (0: none)."""
    return case.supervision_deadline_ms if case.supervision_unit else case.deadline_ms


def queue(person: Person, cases: Iterable[CaseState],
          people: Mapping[str, People]) -> list[tuple[CaseState, list[str]]]:
    """(case, actions) for every case ``person`` may act on or their unit is ordered to
    settle, by deadline (none last)."""
    out = []
    for case in cases:
        actions = actions_for(person, case, people.get(case.case_id, People()))
        if actions or supervised_for(person, case):
            out.append((case, actions))
    return sorted(out, key=lambda ca: (due_ms(ca[0]) == 0, due_ms(ca[0]),
                                       ca[0].opened_ms, ca[0].case_id))


def deadline_text(deadline_ms: int, now_ms: int) -> str:
    """``12m left`` / ``overdue 3m`` / ``—`` (no running deadline)."""
    if not deadline_ms:
        return "—"
    minutes = abs(deadline_ms - now_ms) // 60_000
    return f"{minutes}m left" if deadline_ms >= now_ms else f"overdue {minutes}m"


def event_body(person: Person, case: CaseState, action: str, event_id: str, now_ms: int,
               form: Mapping[str, str]) -> dict[str, Any]:
    """The event of one button press; ``form`` holds ``reason``, ``note``, ``photo``,
    ``unit`` and ``rating`` as typed (empty ones are left out)."""
    body: dict[str, Any] = {
        "event_id": event_id, "case_id": case.case_id, "action": action, "ts": now_ms,
        "source": RESIDENT_SOURCE if person.role == "resident" else STAFF_SOURCE,
        "grid_id": case.grid_id, "actor": person.id}
    reason, note = form.get("reason", "").strip(), form.get("note", "").strip()
    photo, unit = form.get("photo", "").strip(), form.get("unit", "").strip()
    if reason:
        body["reason"] = reason
    if note:
        body["note"] = note
    if photo:
        body["attachments"] = [photo]
    if action in NEEDS_UNIT and unit:
        body["target_unit"] = unit
    if action == "evaluate":
        body["rating"] = int(form.get("rating") or 5)
    return body


def missing_input(action: str, form: Mapping[str, str]) -> str | None:
    """The form field the action needs and lacks (checked before sending), or None."""
    if action in NEEDS_REASON and not form.get("reason", "").strip():
        return "reason"
    if action in NEEDS_UNIT and not form.get("unit", "").strip():
        return "unit"
    return None


@dataclass(frozen=True)
class Outcome:
    """What the gateway answered a press: ``ok`` only if the step was applied."""

    ok: bool
    status: str  # "applied", "refused", "pending", or the HTTP status of a refusal
    reason: str


def outcome_of(http_status: int, body: Any, verdict: Any | None) -> Outcome:
    """The press's outcome from the POST's status and body and the verdict's JSON."""
    if http_status != 202:
        if isinstance(body, dict):
            reason = f"{body.get('error', '')}: {body.get('reason') or body}"
        else:
            reason = str(body)
        return Outcome(False, str(http_status), reason)
    if not isinstance(verdict, dict):
        return Outcome(False, "pending", "")
    status = str(verdict.get("status") or "pending")
    return Outcome(status == "applied", status, str(verdict.get("reason") or ""))


@dataclass(frozen=True)
class Move:
    """One row of a case's timeline (ClickHouse ``case_transitions``)."""

    ts_ms: int
    action: str
    from_step: str
    to_step: str
    actor: str
    from_unit: str
    to_unit: str
    assignee: str
    reason: str


def holders(moves: Iterable[Move]) -> list[tuple[int, int | None, str, str]]:
    """(from_ms, until_ms or None, unit, assignee): who held the case at every moment."""
    spans: list[tuple[int, int | None, str, str]] = []
    for move in sorted(moves, key=lambda m: m.ts_ms):
        held = (move.to_unit, move.assignee)
        if spans and (spans[-1][2], spans[-1][3]) == held:
            continue
        if spans:
            start, _, unit, who = spans[-1]
            spans[-1] = (start, move.ts_ms, unit, who)
        spans.append((move.ts_ms, None, *held))
    return spans
