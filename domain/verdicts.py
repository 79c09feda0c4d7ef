"""The worker's verdict on one case event, as the case verdicts topic carries it.

The cases job publishes one :class:`CaseVerdict` per event it judged (keyed by the case's
grid): ``applied`` with the step the case is in now, or ``refused`` with the reason (the
same reason as the event's dead-letter copy). The gateway answers
``GET /v1/cases/events/{event_id}`` from them. A verdict carries no personal data.
"""

from __future__ import annotations

from typing import Literal

import msgspec

Verdict = Literal["applied", "refused"]


class CaseVerdict(msgspec.Struct, kw_only=True, frozen=True):
    """Applied or refused (with ``reason``): the fate of event ``event_id`` of ``source``."""

    event_id: str
    case_id: str
    source: str
    verdict: Verdict
    ts: int  # when the worker judged it (epoch ms)
    reason: str = ""
    step: str | None = None
