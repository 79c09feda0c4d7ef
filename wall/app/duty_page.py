"""``/duty``: the duty officer's console (officer login).

The alert queue (filter by severity, status and text; sort by severity or age), the
selected alert's details and its audited actions, ack / unack / assign / comment / silence
(with expiry) / escalate sent to the hub under the officer's own token, and the case
timeline through the six steps. Every action shown says who did it and when: the hub's
audit (ClickHouse ``alert_actions``) and this session's own sends, with the hub's verdict.
"""

from __future__ import annotations

import asyncio
from typing import Any

import panel as pn

from core.auth import Principal
from domain.contracts.commands import DUTY_CONSOLE_KINDS, form_args
from readside.audits import alert_actions
from wall.app import render
from wall.app.boards import AlertRow
from wall.app.context import WallContext, local_time
from wall.app.feed import send_request
from wall.app.history import timeline
from wall.app.hydrate import case_transitions
from wall.app.i18n import Lang, tr
from wall.app.panes import PAGE_STYLES, REFRESH_MS, Header, Login, html, session_lang, wrap
from wall.app.queue import QUEUE_STATUSES, age_text, alert_queue, display_status

# The kinds with a button, from their specs (domain.contracts.commands).
ACTIONS: tuple[str, ...] = DUTY_CONSOLE_KINDS
AUDIT_EVERY_S = 5


def command_message(kind: str, alert_id: str, text: str, minutes: int) -> dict[str, Any]:
    """The hub ``command`` for a button press (the args of ``docs/hub-protocol.md``).

    ``text`` fills the args the kind's spec takes from the text box (the comment, the
    assignee for ``assign``), ``minutes`` a silence's duration; a silence always carries a
    comment, as the hub requires one.
    """
    return {"type": "command", "kind": kind, "alert_id": alert_id,
            "args": form_args(kind, text, minutes)}


def option_label(row: AlertRow, now_ms: int, names: dict[str, str], lang: Lang) -> str:
    """How an alert reads in the selector."""
    return (f"[{tr(row.severity, lang)}] {row.title or row.alert_id} · "
            f"{names.get(row.grid_id, row.grid_id)} · {tr(display_status(row, now_ms), lang)}"
            f" · {row.alert_id}")


class DutyPage:
    """One officer's session."""

    def __init__(self, ctx: WallContext) -> None:
        self.ctx = ctx
        self.lang: Lang = session_lang()
        self.who: Principal | None = None
        self.token = ""
        self.sent: list[tuple[int, str, str, str, str]] = []  # ts, kind, alert, actor, result
        self.audit: list[tuple[int, str, str, str, str, str]] = []
        self.case_moves: dict[str, list[Any]] = {}
        self.ticks = 0
        self.header = Header(ctx, "title.duty", self.lang, self.set_lang)
        self.login = Login(ctx, "act", self.lang, self.signed_in)
        self.severity = pn.widgets.CheckButtonGroup(button_type="primary",
                                                    button_style="outline")
        self.status = pn.widgets.CheckButtonGroup(value=["open", "acknowledged", "silenced"],
                                                  button_type="primary",
                                                  button_style="outline")
        self.sort = pn.widgets.RadioButtonGroup(button_type="primary", value="severity")
        self.search = pn.widgets.TextInput(width=220)
        self.select = pn.widgets.Select(options={}, sizing_mode="stretch_width")
        self.text = pn.widgets.TextInput(sizing_mode="stretch_width")
        self.minutes = pn.widgets.IntInput(value=30, start=1, end=7 * 24 * 60, width=140)
        self.buttons = {k: pn.widgets.Button(button_type="danger" if k == "escalate"
                                             else "primary", width=110) for k in ACTIONS}
        for kind, button in self.buttons.items():
            button.on_click(self._press(kind))
        self.case_input = pn.widgets.TextInput(width=260)
        self.case_input.param.watch(lambda _e: asyncio.ensure_future(self.show_case()),
                                    "value")
        self.case_pane = html()
        self.queue = html()
        self.detail = html()
        self.message = html()
        self.body = pn.Column(self.login.view, sizing_mode="stretch_both")
        for widget in (self.severity, self.status, self.sort, self.search):
            widget.param.watch(lambda _e: self.refresh(), "value")
        self.select.param.watch(lambda _e: asyncio.ensure_future(self.load_audit()), "value")
        self._label()
        self.view = pn.Column(self.header.view, self.body, sizing_mode="stretch_both",
                              styles=PAGE_STYLES, margin=0)

    def _press(self, kind: str) -> Any:
        def press(_event: Any) -> None:
            asyncio.ensure_future(self.act(kind))

        return press

    def _label(self) -> None:
        lang = self.lang
        self.severity.options = {tr(s, lang): s for s in ("critical", "warning", "info")}
        self.status.options = {tr(s, lang): s for s in QUEUE_STATUSES}
        self.sort.options = {tr("duty.sort.severity", lang): "severity",
                             tr("duty.sort.age", lang): "age"}
        self.search.placeholder = tr("duty.filter", lang)
        self.case_input.name = tr("panel.timeline", lang)
        self.case_input.placeholder = tr("duty.case_id", lang)
        self.select.name = tr("duty.selected", lang)
        self.text.name = tr("duty.text", lang)
        self.minutes.name = tr("duty.minutes", lang)
        for kind, button in self.buttons.items():
            button.name = tr(f"duty.{kind}", lang)

    def set_lang(self, lang: Lang) -> None:
        """Relabel everything in ``lang``."""
        self.lang = lang
        self._label()
        self.refresh()

    def signed_in(self, who: Principal, token: str) -> None:
        """Swap the login for the console."""
        self.who, self.token = who, token
        console = pn.Row(
            pn.Column(pn.Row(self.severity, self.status), pn.Row(self.sort, self.search),
                      self.queue, self.case_input, self.case_pane,
                      sizing_mode="stretch_both", margin=(6, 10)),
            pn.Column(self.select, self.detail, pn.Row(self.text, self.minutes),
                      pn.Row(*self.buttons.values()), self.message,
                      sizing_mode="stretch_both", margin=(6, 10)),
            sizing_mode="stretch_both")
        self.body.objects = [console]
        self.refresh()
        asyncio.ensure_future(self.load_audit())

    def rows(self, now: int) -> list[AlertRow]:
        """The queue under the current filters."""
        return alert_queue(self.ctx.store, now, severities=self.severity.value,
                           statuses=self.status.value, sort=self.sort.value,
                           text_filter=self.search.value or "")

    def refresh(self) -> None:
        """The per-second redraw of header, queue, selector and details."""
        self.header.refresh()
        self.ticks += 1
        if self.who is None:
            return
        now = self.ctx.clock()
        rows = self.rows(now)
        names = self.ctx.names(self.lang)
        self.queue.object = wrap(render.card("panel.queue", self.queue_table(rows, now),
                                             self.lang, "queue"))
        options = {option_label(r, now, names, self.lang): r.alert_id for r in rows}
        if self.select.value and self.select.value not in options.values():
            held = self.ctx.store.get("alerts", self.select.value)
            if held is not None:  # keep the officer's selection even if filtered out
                row = AlertRow.of(self.select.value, held)
                options[option_label(row, now, names, self.lang)] = row.alert_id
        if options != self.select.options:
            self.select.options = options
        self.detail.object = wrap(self.detail_html(now))
        case_id = (self.case_input.value or "").strip()
        if case_id:  # the case may reach the wall (or ClickHouse) after it was typed
            self.case_pane.object = wrap(self.case_card(case_id))
        if self.ticks % AUDIT_EVERY_S == 0:
            asyncio.ensure_future(self.load_audit())
            if case_id:
                asyncio.ensure_future(self.show_case())

    def queue_table(self, rows: list[AlertRow], now: int) -> str:
        """The queue as a table with stable test ids."""
        names = self.ctx.names(self.lang)
        return render.table(
            ("duty.severity", "col.alert", "col.grid", "duty.status", "col.who", "col.age"),
            ((tr(r.severity, self.lang), r.title or r.alert_id,
              names.get(r.grid_id, r.grid_id), tr(display_status(r, now), self.lang),
              r.acked_by or r.assignee or "—", age_text(now - r.opened_ms)) for r in rows),
            self.lang, "queue-table")

    def detail_html(self, now: int) -> str:
        """The selected alert, its actions (who, when) and its case's timeline."""
        lang = self.lang
        alert_id = self.select.value
        data = self.ctx.store.get("alerts", alert_id) if alert_id else None
        if data is None:
            return render.card("duty.selected", render.empty(lang), lang)
        row = AlertRow.of(alert_id, data)
        facts = [(tr("duty.status", lang), tr(display_status(row, now), lang)),
                 (tr("duty.severity", lang), tr(row.severity, lang)),
                 (tr("col.grid", lang), self.ctx.names(lang).get(row.grid_id, row.grid_id)),
                 (tr("col.acked_by", lang), row.acked_by or "—"),
                 (tr("col.assignee", lang), row.assignee or "—"),
                 (tr("col.silenced_until", lang), local_time(row.silenced_until_ms, True)
                  if row.silenced(now) else "—"),
                 (tr("col.when", lang), local_time(row.updated_ms, True))]
        out = render.card("duty.selected", render.table(("col.field", "col.value"), facts, lang,
                                                        "alert-detail"), lang)
        actions = [(local_time(ts, True), action, actor, outcome, detail)
                   for ts, aid, action, actor, outcome, detail in self.audit if aid == alert_id]
        actions += [(local_time(ts, True), kind, actor, result, "")
                    for ts, kind, aid, actor, result in reversed(self.sent) if aid == alert_id]
        out += render.card("panel.actions", render.table(
            ("col.when", "col.what", "col.who", "col.outcome", "duty.comment"), actions, lang,
            "actions"), lang)
        if row.case_id:
            out += self.case_card(row.case_id)
        return out

    def case_card(self, case_id: str) -> str:
        """The six-step timeline of a case: ClickHouse transitions, else the steps seen live."""
        case = self.ctx.store.get("cases", case_id)
        moves = self.case_moves.get(case_id) or self.ctx.history.transitions(case_id)
        if case is None and not moves:
            return render.card("panel.timeline", render.empty(self.lang), self.lang)
        if case is None:  # known from ClickHouse only: its last recorded step is current
            case = {"step": max(moves, key=lambda t: t.ts_ms).to_step}
        title = f"{tr('panel.timeline', self.lang)} · {case_id}"
        body = render.timeline(timeline(case, moves), lambda ms: local_time(ms), self.lang)
        return f'<div class="gw-card"><h3>{render.esc(title)}</h3>{body}</div>'

    async def show_case(self) -> None:
        """Look up the case typed in the case box and show its timeline."""
        case_id = (self.case_input.value or "").strip()
        if not case_id:
            self.case_pane.object = wrap("")
            return
        self.case_moves[case_id] = await asyncio.to_thread(case_transitions,
                                                           self.ctx.settings, case_id)
        self.case_pane.object = wrap(self.case_card(case_id))

    async def load_audit(self) -> None:
        """Fetch the audited actions (and the case's transitions) from ClickHouse."""
        settings = self.ctx.settings
        self.audit = await asyncio.to_thread(alert_actions, settings, None, 200)
        alert_id = self.select.value
        data = self.ctx.store.get("alerts", alert_id) if alert_id else None
        case_id = str((data or {}).get("case_id") or "")
        if case_id:
            self.case_moves[case_id] = await asyncio.to_thread(case_transitions, settings,
                                                               case_id)
        self.detail.object = wrap(self.detail_html(self.ctx.clock()))

    async def act(self, kind: str) -> None:
        """Send one command under the officer's token; show the hub's verdict."""
        alert_id = self.select.value
        if self.who is None or not alert_id:
            return
        message = command_message(kind, alert_id, (self.text.value or "").strip(),
                                  int(self.minutes.value or 30))
        reply = await send_request(self.ctx.hub_url, self.token, message)
        now = self.ctx.clock()
        verdict = tr("duty.sent" if reply.ok else "duty.failed", self.lang)
        self.sent.append((now, kind, alert_id, self.who.name, f"{verdict}: {reply.text}"))
        del self.sent[:-100]
        tone = "ok" if reply.ok else "bad"
        self.message.object = wrap(
            f'<div class="gw-msg {tone}" data-testid="action-result" data-ok="{reply.ok}">'
            f'{render.esc(tr(f"duty.{kind}", self.lang))} · {render.esc(alert_id)} · '
            f'{render.esc(self.who.name)} · {local_time(now, True)} · {render.esc(verdict)}: '
            f'{render.esc(reply.text)}</div>')
        self.refresh()


def duty_page(ctx: WallContext) -> pn.viewable.Viewable:
    """Build one session's ``/duty`` and start its refresh callback."""
    page = DutyPage(ctx)
    pn.state.add_periodic_callback(page.refresh, period=REFRESH_MS)
    return page.view
