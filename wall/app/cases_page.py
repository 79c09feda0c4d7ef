"""``/cases``: the case console of one person (signed in with a token that names them).

The queue of the cases the person may act on (their unit and scope, by
:func:`wall.app.cases_logic.queue`), sorted by deadline; the selected case's detail with
who held it at every moment, its timeline and its photos; and the actions, sent to the
gateway's write API under the person's own token. Every press shows its outcome: applied,
or the refusal with its reason (403 naming the rule, 409 the illegal step, or the worker's
refused verdict).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import panel as pn

from core.auth import Principal
from domain.organisation import ORGANISATION_FILE, Directory, Person, load_directory
from domain.routing import FILE as ROUTING_FILE
from domain.routing import Candidate, load_rules, propose
from readside.cases import CaseState
from wall.app import cases_data, render
from wall.app.cases_logic import CONSOLE_ACTIONS, Move, event_body, missing_input
from wall.app.cases_logic import queue as person_queue
from wall.app.cases_view import detail_html, queue_html, unit_name
from wall.app.context import WallContext, local_time
from wall.app.i18n import Lang, tr
from wall.app.panes import PAGE_STYLES, REFRESH_MS, Header, Login, html, session_lang, wrap

RELOAD_EVERY_S = 2


class CasesPage:
    """One person's session."""

    def __init__(self, ctx: WallContext) -> None:
        self.ctx = ctx
        config = Path(ctx.settings.config_dir)
        self.directory: Directory = load_directory(config / ORGANISATION_FILE)
        self.rules = load_rules(config / ROUTING_FILE)
        self.lang: Lang = session_lang()
        self.person: Person | None = None
        self.token = ""
        self.rows: list[tuple[CaseState, list[str]]] = []
        self.cases: dict[str, CaseState] = {}
        self.moves: list[Move] = []
        self.candidates: list[Candidate] = []
        self.ticks = 0
        self.presses = 0  # numbers the outcome lines (data-seq)
        self.header = Header(ctx, "title.cases", self.lang, self.set_lang)
        self.login = Login(ctx, "ingest", self.lang, self.signed_in)
        self._widgets()
        self.body = pn.Column(self.login.view, sizing_mode="stretch_both")
        self._label()
        self.view = pn.Column(self.header.view, self.body, sizing_mode="stretch_both",
                              styles=PAGE_STYLES, margin=0)

    def _widgets(self) -> None:
        self.select = pn.widgets.Select(options={}, sizing_mode="stretch_width")
        self.select.param.watch(lambda _e: asyncio.ensure_future(self.load_case(True)),
                                "value")
        self.reason = pn.widgets.TextInput(sizing_mode="stretch_width")
        self.note = pn.widgets.TextInput(sizing_mode="stretch_width")
        self.photo = pn.widgets.TextInput(sizing_mode="stretch_width")
        self.unit = pn.widgets.Select(options={}, sizing_mode="stretch_width")
        self.rating = pn.widgets.IntInput(value=5, start=1, end=5, width=120)
        self.buttons = {a: pn.widgets.Button(width=96, button_type="primary")
                        for a in CONSOLE_ACTIONS}
        for action, button in self.buttons.items():
            button.on_click(self._press(action))
        self.whoami = html()
        self.queue = html()
        self.detail = html()
        self.message = html()

    def _press(self, action: str) -> Any:
        def press(_event: Any) -> None:
            asyncio.ensure_future(self.act(action))

        return press

    def _label(self) -> None:
        lang = self.lang
        self.select.name = tr("cases.selected", lang)
        for widget, key in ((self.reason, "cases.reason"), (self.note, "cases.note"),
                            (self.photo, "cases.photo"), (self.unit, "cases.unit"),
                            (self.rating, "cases.rating")):
            widget.name = tr(key, lang)
            if isinstance(widget, pn.widgets.TextInput):
                widget.placeholder = tr(key, lang)
        for action, button in self.buttons.items():
            button.name = tr(f"cases.{action}", lang)
        self.unit.options = {unit_name(self.directory, u, lang): u
                             for u in sorted(self.directory.units)}

    def set_lang(self, lang: Lang) -> None:
        """Relabel everything in ``lang``."""
        self.lang = lang
        self._label()
        self.redraw()

    def signed_in(self, who: Principal, token: str) -> None:
        """Swap the login for the console; a token naming no person is refused."""
        if who.person is None:
            self.login.message.object = wrap(
                f'<div class="gw-msg bad" data-testid="login-error">'
                f'{render.esc(tr("cases.not_person", self.lang))}</div>')
            return
        self.person, self.token = self.directory.acting(who.person), token
        self.whoami.object = wrap(
            f'<div class="gw-msg ok" data-testid="cases-whoami">{tr("login.as", self.lang)}: '
            f'{render.esc(self.person.name)} ({render.esc(self.person.id)}) · '
            f'{render.esc(self.person.role)} · {render.esc(self.person.unit or "")}</div>')
        actions = pn.Column(self.select, pn.Row(self.unit, self.reason),
                            pn.Row(self.note, self.photo, self.rating),
                            pn.FlexBox(*self.buttons.values(), flex_wrap="wrap",
                                       sizing_mode="stretch_width"), self.message,
                            sizing_mode="stretch_width")
        self.body.objects = [pn.Row(
            pn.Column(self.whoami, self.queue, sizing_mode="stretch_both", margin=(6, 10),
                      styles={"flex": "2 1 0", "min-width": "0"}),
            pn.Column(actions, self.detail, sizing_mode="stretch_both", margin=(6, 10),
                      styles={"flex": "3 1 0", "min-width": "0"}),
            sizing_mode="stretch_both")]
        asyncio.ensure_future(self.reload())

    def refresh(self) -> None:
        """The per-second tick: header, and a reload from ClickHouse every few seconds."""
        self.header.refresh()
        self.ticks += 1
        if self.person is not None and self.ticks % RELOAD_EVERY_S == 0:
            asyncio.ensure_future(self.reload())

    async def reload(self) -> None:
        """Reload the queue (and the selected case) from ClickHouse."""
        if self.person is None:
            return
        settings, now = self.ctx.settings, self.ctx.clock()
        cases = await asyncio.to_thread(cases_data.listed_cases, settings, now)
        people = await asyncio.to_thread(cases_data.case_people, settings,
                                         [c.case_id for c in cases])
        self.cases = {c.case_id: c for c in cases}
        self.rows = person_queue(self.person, cases, people)
        options = {f"{c.case_id} · {tr(c.category, self.lang)} · {tr(c.step, self.lang)}":
                   c.case_id for c, _ in self.rows}
        held = self.select.value
        if held and held not in options.values() and held in self.cases:
            case = self.cases[held]  # keep the selection when it leaves the queue
            options[f"{held} · {tr(case.step, self.lang)}"] = held
        if options != self.select.options:
            self.select.options = options
        await self.load_case(False)

    async def load_case(self, selected_now: bool) -> None:
        """Read the selected case's timeline and routing proposals; redraw."""
        case = self.cases.get(self.select.value or "")
        settings = self.ctx.settings
        if case is not None:
            self.moves = await asyncio.to_thread(cases_data.case_moves, settings,
                                                 case.case_id)
            loads, records = await asyncio.to_thread(cases_data.routing_inputs, settings)
            self.candidates = propose(case, self.rules, loads, records)
            if selected_now and self.candidates:  # the routing's proposal preselected
                self.unit.value = self.candidates[0].unit
        self.redraw()

    def redraw(self) -> None:
        """Queue and detail from what was last loaded."""
        if self.person is None:
            return
        now = self.ctx.clock()
        self.queue.object = wrap(queue_html(self.rows, self.directory, now, self.lang))
        case = self.cases.get(self.select.value or "")
        self.detail.object = wrap(detail_html(case, self.moves if case else [],
                                              self.directory, self.candidates, self.lang))

    async def act(self, action: str) -> None:
        """Send one step under the person's token; show the outcome with its reason."""
        case = self.cases.get(self.select.value or "")
        if self.person is None or case is None:
            return
        form = {"reason": self.reason.value or "", "note": self.note.value or "",
                "photo": self.photo.value or "", "unit": self.unit.value or "",
                "rating": str(self.rating.value or 5)}
        lacking = missing_input(action, form)
        label = f"{tr(f'cases.{action}', self.lang)} · {case.case_id} · {self.person.id}"
        if lacking:
            self.show(False, label, "missing", f"{tr('cases.missing', self.lang)}: "
                      f"{tr(f'cases.{lacking}', self.lang)}")
            return
        event_id = f"{case.case_id}-{action}-{uuid.uuid4().hex[:10]}"
        body = event_body(self.person, case, action, event_id, self.ctx.clock(), form)
        outcome = await cases_data.send_step(self.ctx.settings.resolved_gateway_url,
                                             self.token, body)
        self.show(outcome.ok, label, outcome.status, outcome.reason)
        if outcome.ok:
            self.reason.value = self.note.value = self.photo.value = ""
        await asyncio.sleep(0.5)
        await self.reload()

    def show(self, ok: bool, label: str, status: str, reason: str) -> None:
        """The outcome line of the last press."""
        tone = "ok" if ok else "bad"
        self.presses += 1
        self.message.object = wrap(
            f'<div class="gw-msg {tone}" data-testid="case-result" data-ok="{ok}" '
            f'data-seq="{self.presses}" '
            f'data-status="{render.esc(status)}">{render.esc(label)} · '
            f'{local_time(self.ctx.clock(), True)} · {render.esc(status)}'
            f'{": " + render.esc(reason) if reason else ""}</div>')


def cases_page(ctx: WallContext) -> pn.viewable.Viewable:
    """Build one session's ``/cases`` and start its refresh callback."""
    page = CasesPage(ctx)
    pn.state.add_periodic_callback(page.refresh, period=REFRESH_MS)
    return page.view
