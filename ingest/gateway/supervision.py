"""Supervision orders (督办) checked at the gateway: the unit is known, the deadline sane.

A supervision order is the case event action ``supervise`` sent to ``POST /v1/cases/events``
(the /leader page's form sends it with the leader's own token); who may issue one is the
authority rules' business (:mod:`ingest.gateway.case_rules`: leaders and the centre).
:func:`check_orders` guarantees, for every ``supervise`` event of a batch, before anything is
produced:

* ``target_unit`` names a unit of the organisation (``config/organisation.yaml``), else a 422
  naming ``target_unit``;
* ``deadline_ms`` lies after the time the gateway received the order and at most
  :data:`MAX_ORDER_S` after it, else a 422 naming ``deadline_ms``.

Like every refusal of the intake pipeline, the answer carries the field and the reason and
the refused body is kept in the dead-letter topic. Nothing here blocks or does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.organisation import Directory
from domain.schemas import CaseEvent
from ingest.gateway.placement import field_name
from ingest.gateway.rejects import invalid

MAX_ORDER_S = 30 * 86_400  # the longest a supervision order may run


def check_orders(events: Sequence[CaseEvent], prefixes: Sequence[str], directory: Directory,
                 received_ms: int) -> None:
    """Raise a 422 naming the field of the first ``supervise`` event that is unfit."""
    for event, prefix in zip(events, prefixes, strict=True):
        if event.action != "supervise":
            continue
        if event.target_unit not in directory.units:
            raise invalid(field_name(prefix, "target_unit"),
                          f"unknown unit {event.target_unit!r}: a supervision order goes to "
                          "a unit of the organisation")
        deadline = event.deadline_ms or 0
        if deadline <= received_ms:
            raise invalid(field_name(prefix, "deadline_ms"),
                          f"the deadline {deadline} has passed (received at {received_ms})")
        if deadline > received_ms + MAX_ORDER_S * 1000:
            raise invalid(field_name(prefix, "deadline_ms"),
                          f"the deadline lies more than {MAX_ORDER_S // 86_400} days ahead")
