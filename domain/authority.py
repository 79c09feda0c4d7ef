"""Who may take which step of a case, where: :func:`may` answers Allowed or Refused(rule).

The rules are data (:data:`GRANTS`, one :class:`Grant` per role and scope) so that the
documentation's table is generated from them (:func:`rules_table`):

* residents report anywhere and evaluate only the cases they reported;
* grid workers report, resolve on the spot, handle and escalate in their grids;
* community officers report, verify, reject, dispatch, reassign and escalate within their
  community;
* unit handlers accept, decline, handle and escalate what was dispatched to their unit;
* leaders report, escalate and issue supervision orders (``supervise``) anywhere;
* the street command centre may take every step;
* whoever handled a case may not close it (the checker is not the handler), whatever the role.

Guarantees: :func:`may` is pure and total (an unknown action or role is a refusal, never an
exception); every refusal names its rule (:attr:`Refused.rule`) and says why in words.
A fact of the case that is unknown (``None``) never satisfies a scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from domain.organisation import Person

Scope = Literal["anywhere", "grids", "community", "unit", "own"]
CHECKER_RULE = "close.checker-not-handler"


class CaseFacts(Protocol):
    """What the rules read of a case; ``None`` is unknown (the case may be new)."""

    @property
    def grid_id(self) -> str | None: ...

    @property
    def community_id(self) -> str | None: ...

    @property
    def unit(self) -> str | None:
        """The unit that holds the case (``CaseSnapshot.unit``)."""

    @property
    def reporter(self) -> str | None:
        """Who reported the case."""

    @property
    def handler(self) -> str | None:
        """Who handled the case last."""


@dataclass(frozen=True)
class Facts:
    """A plain :class:`CaseFacts`."""

    grid_id: str | None = None
    community_id: str | None = None
    unit: str | None = None
    reporter: str | None = None
    handler: str | None = None


@dataclass(frozen=True)
class Grant:
    """``role`` may take ``actions`` within ``scope``; ``rule`` names the grant."""

    rule: str
    role: str
    actions: tuple[str, ...]
    scope: Scope


@dataclass(frozen=True)
class Allowed:
    """The step is allowed by ``rule``."""

    rule: str


@dataclass(frozen=True)
class Refused:
    """The step is refused by ``rule``; ``reason`` says why."""

    rule: str
    reason: str


EVERY_ACTION = ("report", "resolve_on_spot", "verify", "reject", "dispatch", "reassign",
                "accept", "decline", "handle", "close", "reopen", "evaluate", "escalate",
                "supervise")
GRANTS: tuple[Grant, ...] = (
    Grant("resident.report", "resident", ("report",), "anywhere"),
    Grant("resident.evaluate-own", "resident", ("evaluate",), "own"),
    Grant("grid-worker.in-grids", "grid_worker",
          ("report", "resolve_on_spot", "handle", "escalate"), "grids"),
    Grant("community-officer.in-community", "community_officer",
          ("report", "verify", "reject", "dispatch", "reassign", "escalate"), "community"),
    Grant("unit-handler.dispatched-to-unit", "unit_handler",
          ("accept", "decline", "handle", "escalate"), "unit"),
    Grant("leader.report-escalate", "leader", ("report", "escalate"), "anywhere"),
    Grant("leader.supervise", "leader", ("supervise",), "anywhere"),
    Grant("centre.every-step", "centre", EVERY_ACTION, "anywhere"),
)


def may(person: Person, action: str, case: CaseFacts) -> Allowed | Refused:
    """May ``person`` take ``action`` on ``case``? Allowed(rule) or Refused(rule, reason)."""
    if action == "close" and case.handler is not None and case.handler == person.id:
        return Refused(CHECKER_RULE, f"{person.id} handled this case and may not close it: "
                                     "the checker who closes is not the handler")
    grants = [g for g in GRANTS if g.role == person.role and action in g.actions]
    if not grants:
        allowed = sorted({a for g in GRANTS if g.role == person.role for a in g.actions})
        return Refused(f"{person.role}.may-not-{action}",
                       f"a {person.role.replace('_', ' ')} may not {action} "
                       f"(may: {', '.join(allowed) or 'nothing'})")
    refusal: Refused | None = None
    for grant in grants:
        problem = _outside(grant.scope, person, case)
        if problem is None:
            return Allowed(grant.rule)
        refusal = refusal or Refused(grant.rule, f"{person.id} may {action} {problem}")
    assert refusal is not None
    return refusal


def _outside(scope: Scope, person: Person, case: CaseFacts) -> str | None:
    """Why ``case`` lies outside ``person``'s ``scope`` (None: inside)."""
    if scope == "anywhere":
        return None
    if scope == "grids":
        if case.grid_id is not None and case.grid_id in person.grids:
            return None
        return f"only in grids {', '.join(person.grids)}; the case is in {case.grid_id}"
    if scope == "community":
        if case.community_id is not None and case.community_id == person.community:
            return None
        return (f"only in community {person.community}; the case is in "
                f"{case.community_id}")
    if scope == "unit":
        if case.unit is not None and case.unit == person.unit:
            return None
        return f"only cases dispatched to {person.unit}; this one is with {case.unit}"
    if case.reporter is not None and case.reporter == person.id:
        return None
    return "only on cases they reported"


def rules_table() -> list[tuple[str, str, str, str]]:
    """(rule, role, actions, scope) per grant, plus the checker rule: the docs' table."""
    rows: list[tuple[str, str, str, str]] = [
        (g.rule, g.role, ", ".join(g.actions), str(g.scope)) for g in GRANTS]
    rows.append((CHECKER_RULE, "every role", "close", "not the case's last handler"))
    return rows
