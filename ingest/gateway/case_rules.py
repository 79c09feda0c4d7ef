"""Case steps judged at the gateway before they are produced: who acts, may they, is it legal.

:meth:`CaseJudge.check` runs on every event of ``POST /v1/cases/events`` (after placing) and
guarantees, in this order:

1. **The actor comes from the credential** (:func:`core.auth.credential_actor`, which the
   hub's commands use too). A token naming a ``person`` stamps that person
   as the event's ``actor``; a different client-sent actor is a 403 naming the rule
   ``actor.is-token-person``. A token with ``acts_for`` (an app acting for many people)
   must name the actor (403 ``actor.required``), who must be of one of its roles (403
   ``token.acts-for``); anybody the organisation does not list acts as a resident.
2. **Authority.** :func:`domain.authority.may` with the acting person and what this process
   knows of the case; a refusal is a 403 on ``action`` whose reason starts with the rule.
3. **Legality.** If this process followed the case (the in-memory case view) and
   :mod:`domain.case_machine` refuses the step both from the acknowledged state and from the
   state after the steps still in flight (sent, not yet acknowledged), the answer is a 409
   on ``action`` with the machine's reason. A case this process does not know is passed to
   the worker, whose verdict is readable at ``GET /v1/cases/events/{event_id}``.

Legacy tokens (neither ``person`` nor ``acts_for``) skip 1 and 2: their events keep the
actor they carry. A repeat of an event already followed is not judged again (the deduper
answers it). Nothing here blocks or does I/O.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence

import msgspec

from core.auth import ActorRefused, Principal, credential_actor
from domain.authority import Facts, Refused, may
from domain.case_machine import Rejection
from domain.organisation import Directory, Person
from domain.schemas import CaseEvent
from ingest.gateway.case_view import Held, MemoryCaseView, judged
from ingest.gateway.placement import field_name
from ingest.gateway.rejects import Rejected, forbidden

IN_FLIGHT_S = 30.0  # an unacknowledged step is forgotten after this long (a failed produce)
OPENING = frozenset({"report", "resolve_on_spot"})
Chains = tuple[Held | None, Held | None]  # (acknowledged, with the steps in flight)


def illegal(reason: str, field: str) -> Rejected:
    """A step the case machine refuses from the case's known state (409)."""
    return Rejected(409, "conflict", reason, field)


class CaseJudge:
    """Stamps actors, applies the authority rules and the case machine (see the module)."""

    def __init__(self, directory: Directory, memory: MemoryCaseView | None,
                 community_of: Callable[[str | None], str | None]) -> None:
        self.directory = directory
        self._memory = memory
        self._community_of = community_of
        self._in_flight: dict[str, dict[str, CaseEvent]] = {}
        self._order: deque[tuple[float, str, str]] = deque()

    def check(self, principal: Principal, events: Sequence[CaseEvent],
              prefixes: Sequence[str]) -> list[CaseEvent]:
        """The events with their actors stamped; raise 403/409 :class:`Rejected` for the
        first one refused (the batch is all-or-nothing)."""
        self._expire(time.monotonic())
        chains: dict[str, Chains] = {}
        out = []
        for event, prefix in zip(events, prefixes, strict=True):
            event = self._stamped(principal, event, prefix)
            acked, hopeful = chains.get(event.case_id) or self._chains(event.case_id)
            if not principal.legacy:
                self._authorise(event, hopeful or acked, prefix)
            chains[event.case_id] = self._legal(acked, hopeful, event, prefix)
            out.append(event)
        return out

    def sent(self, events: Sequence[CaseEvent]) -> None:
        """Remember ``events`` as in flight until :meth:`landed` (or for IN_FLIGHT_S)."""
        now = time.monotonic()
        for event in events:
            self._in_flight.setdefault(event.case_id, {})[event.event_id] = event
            self._order.append((now, event.case_id, event.event_id))

    def landed(self, events: Sequence[CaseEvent]) -> None:
        """``events`` were acknowledged (the memory view follows them now)."""
        for event in events:
            self._forget(event.case_id, event.event_id)

    def _expire(self, now: float) -> None:
        while self._order and now - self._order[0][0] > IN_FLIGHT_S:
            _, case_id, event_id = self._order.popleft()
            self._forget(case_id, event_id)

    def _forget(self, case_id: str, event_id: str) -> None:
        pending = self._in_flight.get(case_id)
        if pending is not None:
            pending.pop(event_id, None)
            if not pending:
                del self._in_flight[case_id]

    def _chains(self, case_id: str) -> Chains:
        acked = self._memory.held(case_id) if self._memory is not None else None
        hopeful = acked
        for event in self._in_flight.get(case_id, {}).values():
            step = judged(hopeful, event) if hopeful is not None or event.action in OPENING \
                else None
            hopeful = step if isinstance(step, Held) else hopeful
        return acked, hopeful

    def _stamped(self, principal: Principal, event: CaseEvent, prefix: str) -> CaseEvent:
        field = field_name(prefix, "actor")
        if principal.legacy:
            return event
        try:
            actor = credential_actor(principal, event.actor) or event.actor
        except ActorRefused as exc:
            raise forbidden(field, str(exc)) from None
        if principal.person is None:
            role = self.directory.acting(actor).role
            allowed = principal.acts_for or frozenset()
            if "*" not in allowed and role not in allowed:
                raise forbidden(field, f"token.acts-for: '{principal.name}' acts for "
                                       f"{', '.join(sorted(allowed))}, not a {role}")
        return event if event.actor == actor else msgspec.structs.replace(event, actor=actor)

    def _authorise(self, event: CaseEvent, held: Held | None, prefix: str) -> None:
        person: Person = self.directory.acting(event.actor)
        facts = Facts(grid_id=event.grid_id, community_id=self._community_of(event.grid_id),
                      unit=held.unit if held else None,
                      reporter=held.reporter if held else None,
                      handler=held.handler if held else None)
        verdict = may(person, event.action, facts)
        if isinstance(verdict, Refused):
            raise forbidden(field_name(prefix, "action"), f"{verdict.rule}: {verdict.reason}")

    def _legal(self, acked: Held | None, hopeful: Held | None, event: CaseEvent,
               prefix: str) -> Chains:
        if any(c is not None and event.event_id in c.seen for c in (acked, hopeful)):
            return acked, hopeful  # a repeat: the deduper answers it
        opening = event.action in OPENING
        if acked is None and hopeful is None and not opening:
            return acked, hopeful  # unknown here: the worker judges it
        results = [judged(c, event) if c is not None or opening else None
                   for c in (acked, hopeful)]
        refusals = [r for r in results if isinstance(r, Rejection)]
        if refusals and len(refusals) == sum(r is not None for r in results):
            raise illegal(refusals[0].reason, field_name(prefix, "action"))
        a, h = results
        return (a if isinstance(a, Held) else acked, h if isinstance(h, Held) else hopeful)
