"""The permission matrix: every action x role x in-scope / out-of-scope, written out by hand
here (independently of domain.authority.GRANTS), plus the checker-is-not-the-handler rule."""

from __future__ import annotations

import pytest

from domain import authority
from domain.authority import Allowed, Facts, Refused, may
from domain.case_machine import TRANSITIONS
from domain.organisation import ROLES, Person

PEOPLE = {
    "resident": Person(id="r-1", name="r-1", role="resident"),
    "grid_worker": Person(id="W-PL01-01-1", name="w", role="grid_worker", unit="CS-PL01",
                          grids=("PL01-01",), community="PL01"),
    "community_officer": Person(id="C-PL01", name="c", role="community_officer",
                                unit="CS-PL01", community="PL01"),
    "unit_handler": Person(id="H-SO-fire-1", name="h", role="unit_handler", unit="SO-fire"),
    "centre": Person(id="CC-duty", name="cc", role="centre", unit="CC"),
    "leader": Person(id="L-secretary", name="l", role="leader", unit="CC"),
}
INSIDE = Facts(grid_id="PL01-01", community_id="PL01", unit="SO-fire", reporter="r-1",
               handler="someone-else")
OUTSIDE = Facts(grid_id="PL02-01", community_id="PL02", unit="SO-urban", reporter="r-2",
                handler="someone-else")
# role -> actions allowed inside its scope; the second set: also outside it.
EXPECTED: dict[str, tuple[set[str], set[str]]] = {
    "resident": ({"report", "evaluate"}, {"report"}),
    "grid_worker": ({"report", "resolve_on_spot", "handle", "escalate"}, set()),
    "community_officer": ({"report", "verify", "reject", "dispatch", "reassign", "escalate"},
                          set()),
    "unit_handler": ({"accept", "decline", "handle", "escalate"}, set()),
    "leader": ({"report", "escalate", "supervise"}, {"report", "escalate", "supervise"}),
    "centre": (set(authority.EVERY_ACTION), set(authority.EVERY_ACTION)),
}
ACTIONS = sorted(TRANSITIONS)


def test_every_action_of_the_machine_is_ruled() -> None:
    assert set(ACTIONS) == set(authority.EVERY_ACTION)
    assert set(EXPECTED) == set(ROLES)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("inside", [True, False], ids=["in-scope", "out-of-scope"])
def test_permission_matrix(role: str, action: str, inside: bool) -> None:
    verdict = may(PEOPLE[role], action, INSIDE if inside else OUTSIDE)
    allowed_in, allowed_out = EXPECTED[role]
    expected = action in (allowed_in if inside else allowed_out)
    assert isinstance(verdict, Allowed) == expected, verdict
    if isinstance(verdict, Refused):
        assert verdict.rule and verdict.reason
        if action in allowed_in:  # refused for scope: the grant's rule is named
            assert verdict.rule.split(".")[0] == role.replace("_", "-")
        else:
            assert verdict.rule == f"{role}.may-not-{action}"


@pytest.mark.parametrize("role", ["centre", "community_officer", "grid_worker"])
def test_the_handler_may_not_close_their_own_case(role: str) -> None:
    person = PEOPLE[role]
    facts = Facts(grid_id="PL01-01", community_id="PL01", handler=person.id)
    verdict = may(person, "close", facts)
    assert verdict == Refused(authority.CHECKER_RULE, verdict.reason)  # type: ignore[union-attr]
    assert person.id in verdict.reason  # type: ignore[union-attr]
    assert may(PEOPLE["centre"], "close", Facts(handler="W-PL01-01-1")) == Allowed(
        "centre.every-step")


@pytest.mark.parametrize("role", ["resident", "grid_worker", "community_officer",
                                  "unit_handler"])
def test_only_leaders_and_the_centre_issue_supervision_orders(role: str) -> None:
    verdict = may(PEOPLE[role], "supervise", INSIDE)
    assert verdict == Refused(f"{role}.may-not-supervise", verdict.reason)  # type: ignore[union-attr]
    assert may(PEOPLE["leader"], "supervise", OUTSIDE) == Allowed("leader.supervise")
    assert may(PEOPLE["centre"], "supervise", OUTSIDE) == Allowed("centre.every-step")


def test_unknown_facts_never_satisfy_a_scope() -> None:
    unknown = Facts()
    assert isinstance(may(PEOPLE["grid_worker"], "handle", unknown), Refused)
    assert isinstance(may(PEOPLE["unit_handler"], "accept", unknown), Refused)
    assert isinstance(may(PEOPLE["resident"], "evaluate", unknown), Refused)
    assert isinstance(may(PEOPLE["resident"], "report", unknown), Allowed)


def test_an_unknown_action_is_refused_not_raised() -> None:
    verdict = may(PEOPLE["centre"], "teleport", INSIDE)
    assert isinstance(verdict, Refused) and verdict.rule == "centre.may-not-teleport"


def test_scope_refusal_says_where() -> None:
    verdict = may(PEOPLE["grid_worker"], "handle", OUTSIDE)
    assert isinstance(verdict, Refused)
    assert verdict.rule == "grid-worker.in-grids"
    assert "PL01-01" in verdict.reason and "PL02-01" in verdict.reason
