"""``/ops``: the ops console (ops login).

Job health from the workers' ``job_health`` items (events/s and latency per agent, lag per
consumer and partition, sink batch size and insert rate, recovery per table and changelog
partition; an unknown figure shows "—"); live tuning: pick a config
key, edit its value as YAML, *validate and diff* against the value in force (validated
with the workers' own validators), then *apply*, which sends a ``tune`` under the ops
user's token; the audit log of config changes (who, what, before, after, verdict) from
ClickHouse. Apply is only enabled for the exact text that passed validation. Above job
health, the processes ``gridwall up`` supervises (``<data dir>/supervisor.json``, written by
``infra.supervisor``): state, pid, restarts, last exit code, last restart time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import panel as pn
import yaml

from core.auth import Principal
from infra.supervisor import status_path
from readside.audits import config_audit, current_config
from wall.app import render
from wall.app.context import WallContext, local_time
from wall.app.feed import send_request
from wall.app.i18n import Lang, tr
from wall.app.opsview import (
    Supervision,
    agent_rates,
    check_change,
    diff,
    partition_lags,
    recovery_rows,
    startup_config,
    supervision,
    workers,
)
from wall.app.panes import PAGE_STYLES, REFRESH_MS, Header, Login, html, session_lang, wrap

AUDIT_EVERY_S = 5


def health_html(ctx: WallContext, now: int, lang: Lang) -> str:
    """Workers, agents, recovery per table partition and the largest partition lags."""
    rows = workers(ctx.store, now)
    summary = render.table(
        ("col.worker", "ops.events_per_s", "ops.latency", "ops.sink", "ops.insert_rate",
         "ops.recovery", "panel.lag", "fresh.age"),
        ((w.worker, f"{w.events_per_s:,.1f}",
          f"{render.figure(w.latency_p50_ms, '.0f')} / {render.figure(w.latency_p99_ms, '.0f')}"
          " ms", render.figure(w.sink_batch_rows, ",.0f"), f"{w.insert_rows_per_s:,.0f}/s",
          render.percent(w.recovery), f"{w.total_lag:,}", f"{w.age_s:.0f}s") for w in rows),
        lang, "workers")
    agents = render.table(("col.worker", "col.agent", "ops.events_per_s", "ops.latency"),
                          ((w, a, f"{r:,.1f}", f"p99 {render.figure(p99, '.0f')} ms")
                           for w, a, r, p99 in agent_rates(ctx.store)), lang, "agents")
    recovery = render.table(("col.worker", "col.table", "col.part", "ops.recovery",
                             "ops.remaining"),
                            ((r.worker, r.table, r.partition, render.percent(r.progress),
                              render.figure(r.remaining, ",d"))
                             for r in recovery_rows(ctx.store)[:16]), lang, "recovery")
    lags = render.table(("col.worker", "col.consumer", "panel.lag", "col.partition"),
                        ((w, c, f"{lag:,}", part) for w, c, part, lag in
                         partition_lags(ctx.store)[:16]), lang, "lags")
    return (render.card("panel.jobs", summary, lang)
            + render.card("ops.events_per_s", agents, lang)
            + render.card("panel.recovery", recovery, lang)
            + render.card("panel.lag", lags, lang))


def processes_html(sup: Supervision | None, lang: Lang) -> str:
    """The card of the processes ``gridwall up`` supervises (empty without its status)."""
    if sup is None:
        return render.card("panel.processes", render.empty(lang), lang, "processes")
    tone = "bad" if sup.gave_up else "ok"
    gave_up = f" · gave up: {sup.gave_up}" if sup.gave_up else ""
    status = (f"gridwall up · {sup.state}{gave_up} · {tr('fresh.age', lang)} "
              f"{sup.age_s:.0f} {tr('fresh.seconds', lang)}")
    line = f'<div class="gw-msg {tone}" data-testid="up-state">{render.esc(status)}</div>'
    rows = render.table(
        ("col.process", "col.state", "col.pid", "col.restarts", "col.exit_code",
         "col.restarted"),
        ((r.name, r.state, "—" if r.pid is None else r.pid, r.restarts,
          "—" if r.last_exit_code is None else r.last_exit_code,
          "—" if r.last_restart_ms is None else local_time(r.last_restart_ms, True))
         for r in sup.rows), lang, "supervised")
    return render.card("panel.processes", line + rows, lang,
                       "processes")


def read_supervision(data_dir: str, now_ms: int) -> Supervision | None:
    """Read ``up``'s status file; None when there is none or it is not JSON."""
    try:
        doc = json.loads(status_path(data_dir).read_text())
    except (OSError, ValueError):
        return None
    return supervision(doc, now_ms)


class OpsPage:
    """One ops user's session."""

    def __init__(self, ctx: WallContext) -> None:
        self.ctx = ctx
        self.lang: Lang = session_lang()
        self.who: Principal | None = None
        self.token = ""
        self.ticks = 0
        self.audit: list[tuple[int, str, str, bool, str, str, str]] = []
        self.in_force: dict[str, dict[str, Any]] = startup_config(ctx.settings.config_dir)
        self.checked: tuple[str, str] | None = None  # (key, text) that passed validation
        self.header = Header(ctx, "title.ops", self.lang, self.set_lang)
        self.login = Login(ctx, "tune", self.lang, self.signed_in)
        self.key = pn.widgets.Select(options=sorted(self.in_force), value="sla", width=220)
        self.editor = pn.widgets.TextAreaInput(height=360, sizing_mode="stretch_width")
        self.check = pn.widgets.Button(button_type="primary", width=180)
        self.apply = pn.widgets.Button(button_type="danger", width=140, disabled=True)
        self.result = html()
        self.health = html()
        self.audit_pane = html()
        self.key.param.watch(lambda _e: self.load_value(), "value")
        self.editor.param.watch(lambda _e: self._invalidate(), "value")
        self.check.on_click(lambda _e: self.validate())
        self.apply.on_click(lambda _e: asyncio.ensure_future(self.send()))
        self.body = pn.Column(self.login.view, sizing_mode="stretch_both")
        self._label()
        self.load_value()
        self.view = pn.Column(self.header.view, self.body, sizing_mode="stretch_both",
                              styles=PAGE_STYLES, margin=0)

    def _label(self) -> None:
        self.key.name = tr("ops.key", self.lang)
        self.check.name = tr("ops.check", self.lang)
        self.apply.name = tr("ops.apply", self.lang)

    def set_lang(self, lang: Lang) -> None:
        """Relabel in ``lang``."""
        self.lang = lang
        self._label()
        self.refresh()

    def signed_in(self, who: Principal, token: str) -> None:
        """Swap the login for the console."""
        self.who, self.token = who, token
        tuning = pn.Column(
            html(render.card("panel.config", "", self.lang)),
            pn.Row(self.key, self.check, self.apply), self.editor, self.result,
            sizing_mode="stretch_both", margin=(6, 10))
        self.body.objects = [pn.Row(pn.Column(self.health, self.audit_pane,
                                              sizing_mode="stretch_both", margin=(6, 10)),
                                    tuning, sizing_mode="stretch_both")]
        self.refresh()
        asyncio.ensure_future(self.load_audit())

    def _invalidate(self) -> None:
        if self.checked != (self.key.value, self.editor.value):
            self.apply.disabled = True

    def load_value(self) -> None:
        """Put the value in force of the chosen key into the editor."""
        value = self.in_force.get(self.key.value, {})
        self.editor.value = yaml.safe_dump(value, allow_unicode=True, sort_keys=True)
        self.result.object = wrap("")

    def validate(self) -> None:
        """Parse, validate, diff; enable Apply only for a valid change."""
        key, text = self.key.value, self.editor.value or ""
        self.checked = None
        self.apply.disabled = True
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            return self._show(False, f"YAML: {exc}")
        problem = check_change(key, value)
        if problem is not None:
            return self._show(False, problem)
        changes = diff(self.in_force.get(key, {}), value)
        if not changes:
            return self._show(True, tr("ops.nochange", self.lang))
        self.checked = (key, text)
        self.apply.disabled = False
        table = render.table(("ops.key", "col.before", "col.after"), changes, self.lang,
                             "diff")
        self._show(True, tr("ops.valid", self.lang), table)

    def _show(self, ok: bool, text: str, extra: str = "") -> None:
        tone = "ok" if ok else "bad"
        self.result.object = wrap(f'<div class="gw-msg {tone}" data-testid="tune-result">'
                                  f'{render.esc(text)}</div>{extra}')

    async def send(self) -> None:
        """Send the validated change as a ``tune``."""
        if self.who is None or self.checked != (self.key.value, self.editor.value):
            return
        key = self.key.value
        value = yaml.safe_load(self.editor.value or "")
        reply = await send_request(self.ctx.hub_url, self.token,
                                   {"type": "tune", "key": key, "value": value})
        self.apply.disabled = True
        self.checked = None
        verdict = tr("duty.sent" if reply.ok else "duty.failed", self.lang)
        self._show(reply.ok, f"{key} · {self.who.name} · {local_time(self.ctx.clock(), True)}"
                             f" · {verdict}: {reply.text}")
        await asyncio.sleep(1.5)
        await self.load_audit()

    async def load_audit(self) -> None:
        """Fetch the audit log and the values in force from ClickHouse."""
        self.audit = await asyncio.to_thread(config_audit, self.ctx.settings, 50)
        for key, value in current_config(self.audit).items():
            self.in_force[key] = value
        if set(self.in_force) - set(self.key.options):
            self.key.options = sorted(self.in_force)
        rows = [(local_time(ts, True), key, actor,
                 tr("ops.accepted" if ok else "ops.rejected", self.lang)
                 + (f": {reason}" if reason else ""),
                 _short(before), _short(after))
                for ts, key, actor, ok, reason, before, after in self.audit]
        self.audit_pane.object = wrap(render.card("panel.audit", render.table(
            ("col.when", "ops.key", "col.who", "col.outcome", "col.before", "col.after"), rows,
            self.lang, "audit"), self.lang))

    def refresh(self) -> None:
        """The per-second redraw."""
        self.header.refresh()
        self.ticks += 1
        if self.who is None:
            return
        now = self.ctx.clock()
        processes = processes_html(read_supervision(self.ctx.settings.data_dir, now), self.lang)
        self.health.object = wrap(processes + health_html(self.ctx, now, self.lang))
        if self.ticks % AUDIT_EVERY_S == 0:
            asyncio.ensure_future(self.load_audit())


def _short(text: str, limit: int = 60) -> str:
    with contextlib.suppress(ValueError):
        text = json.dumps(json.loads(text), ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def ops_page(ctx: WallContext) -> pn.viewable.Viewable:
    """Build one session's ``/ops`` and start its refresh callback."""
    page = OpsPage(ctx)
    pn.state.add_periodic_callback(page.refresh, period=REFRESH_MS)
    return page.view
