"""The leaders' view's supervision form: issue an order (督办) on a case to a unit.

A press builds the ``supervise`` event (:func:`wall.app.leader.order_event`) for the case as
the wall's live store holds it, and posts it to the gateway's ``POST /v1/cases/events`` with
the signed-in leader's own token (the gateway stamps the actor, applies the authority rules
and checks the unit and deadline), then waits for the worker's verdict, as ``/cases`` does
(:func:`wall.app.cases_data.send_step`). The outcome line shows ``applied`` or the refusal
with its reason. A case the wall does not hold open is refused on the page before sending.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import panel as pn

from domain.organisation import Directory
from wall.app import cases_data, leader
from wall.app.i18n import Lang, tr
from wall.app.kpis import is_open
from wall.app.panes import html, wrap
from wall.app.render import esc

DEFAULT_MINUTES = 240


class SupervisionForm:
    """The issue form of one leader's session; ``cases`` reads the live store's cases."""

    def __init__(self, directory: Directory, gateway_url: str,
                 cases: Callable[[], Mapping[str, Mapping[str, Any]]],
                 clock: Callable[[], int]) -> None:
        self.gateway_url = gateway_url
        self.cases = cases
        self.clock = clock
        self.token = ""
        self.actor = ""
        self.lang: Lang = "zh"
        self.presses = 0
        units = {f"{u.id} · {u.name}": u.id for u in directory.units.values()}
        self.case = pn.widgets.TextInput(width=170)
        self.unit = pn.widgets.Select(options=units, width=220)
        self.minutes = pn.widgets.IntInput(value=DEFAULT_MINUTES, start=1, width=110)
        self.note = pn.widgets.TextInput(width=200)
        self.button = pn.widgets.Button(button_type="warning", width=110, align="end")
        self.button.on_click(lambda _e: asyncio.ensure_future(self.issue()))
        self.message = html(width=360, sizing_mode="fixed", align="end")
        # one row (beside the period switch): the cards below keep their height
        self.view = pn.Row(self.case, self.unit, self.minutes, self.note, self.button,
                           self.message, margin=0)

    def label(self, lang: Lang) -> None:
        """The widgets' labels in ``lang``."""
        self.lang = lang
        self.case.name = tr("supervision.case", lang)
        self.unit.name = tr("supervision.unit", lang)
        self.minutes.name = tr("supervision.minutes", lang)
        self.note.name = tr("supervision.note", lang)
        self.button.name = tr("supervision.issue", lang)

    def sign_in(self, token: str, actor: str) -> None:
        """Issue orders as ``actor`` (the person ``token`` names)."""
        self.token, self.actor = token, actor

    async def issue(self) -> None:
        """Post the order; show the gateway's refusal or the worker's verdict."""
        case_id = (self.case.value or "").strip()
        case = self.cases().get(case_id)
        if not self.actor:
            self.show(False, "", tr("supervision.no_token", self.lang))
            return
        if case is None or not is_open(case):
            self.show(False, "", f"{tr('supervision.unknown_case', self.lang)}: {case_id}")
            return
        now = self.clock()
        body = leader.order_event(case, case_id, str(self.unit.value or ""),
                                  int(self.minutes.value or DEFAULT_MINUTES),
                                  self.note.value or "", self.actor,
                                  f"{case_id}-supervise-{uuid.uuid4().hex[:10]}", now)
        outcome = await cases_data.send_step(self.gateway_url, self.token, body)
        self.show(outcome.ok, outcome.status, outcome.reason)

    def show(self, ok: bool, status: str, reason: str) -> None:
        """The outcome line of the last press."""
        self.presses += 1
        tone = "ok" if ok else "bad"
        self.message.object = wrap(
            f'<div class="gw-msg {tone}" data-testid="supervision-result" data-ok="{ok}" '
            f'data-seq="{self.presses}">{esc(status)} {esc(reason)}</div>')
