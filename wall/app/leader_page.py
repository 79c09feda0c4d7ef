"""``/leader``: the leaders' view (督查通), for a leader's or an officer's token.

Who may open it: :func:`wall.app.leader.may_lead` (a token that may act, or one naming a
person of the organisation whose role is leader or centre). What it shows, redrawn every
second from the wall's live store: the grid and grid-worker rankings of the chosen scoring
period (the ``ranking`` items the street stage publishes), the overdue cases, the escalated
cases, and the open supervision orders (督办: unit, case, deadline, time left). Below the
cards, the issue form (:mod:`wall.app.leader_form`) posts a ``supervise`` event with the
signed-in leader's own token, when the token names a person.
"""

from __future__ import annotations

import logging
from pathlib import Path

import panel as pn

from core.auth import TokenBook, TokensFileError
from domain.organisation import ORGANISATION_FILE, Directory, load_directory
from wall.app import leader, leader_html
from wall.app.context import WallContext
from wall.app.i18n import Lang, tr
from wall.app.leader_form import SupervisionForm
from wall.app.panes import PAGE_STYLES, REFRESH_MS, Header, html, session_lang, wrap
from wall.app.render import card, esc

log = logging.getLogger("gridwall.wall")
KINDS = ("grid", "worker")
GRID_STYLE = ("display:grid;grid-template-columns:1fr 1fr;gap:0.6vw;align-items:start;"
              "padding:0 0.6vw")


def directory_of(ctx: WallContext) -> Directory:
    """The organisation of the wall's config directory (empty if it cannot be read)."""
    try:
        return load_directory(Path(ctx.settings.config_dir) / ORGANISATION_FILE)
    except Exception as exc:  # noqa: BLE001 - a broken file shows names as ids, never a crash
        log.warning("cannot read the organisation: %s", exc)
        return Directory([], [])


class LeaderPage:
    """One leader's session."""

    def __init__(self, ctx: WallContext) -> None:
        self.ctx = ctx
        self.lang: Lang = session_lang()
        self.directory = directory_of(ctx)
        self.signed = False
        self.header = Header(ctx, "title.leader", self.lang, self.set_lang)
        self.token = pn.widgets.PasswordInput(width=420, placeholder="dev-officer-…")
        self.button = pn.widgets.Button(button_type="primary", width=140)
        self.button.on_click(lambda _e: self.submit())
        self.message = html()
        self.period = pn.widgets.RadioButtonGroup(button_type="primary", options={},
                                                  button_style="outline")
        self.period.param.watch(lambda _e: self.refresh(), "value")
        self.cards = html(sizing_mode="stretch_both")
        self.form = SupervisionForm(self.directory, ctx.settings.resolved_gateway_url,
                                    self._live_cases, ctx.clock)
        self.body = pn.Column(pn.Column(self.token, self.button, self.message,
                                        margin=(20, 40)), sizing_mode="stretch_both")
        self._label()
        self.view = pn.Column(self.header.view, self.body, sizing_mode="stretch_both",
                              styles=PAGE_STYLES, margin=0)

    def _label(self) -> None:
        self.token.name = tr("login.prompt", self.lang)
        self.button.name = tr("login.button", self.lang)
        self.period.name = tr("leader.period", self.lang)
        self.form.label(self.lang)

    def set_lang(self, lang: Lang) -> None:
        """Relabel everything in ``lang``."""
        self.lang = lang
        self._label()
        self.refresh()

    def submit(self) -> None:
        """Check the token (see :func:`wall.app.leader.may_lead`); open the view or refuse."""
        token = (self.token.value or "").strip()
        try:
            who = TokenBook.load(self.ctx.settings.resolved_tokens_file).check(token)
        except TokensFileError as exc:
            log.warning("cannot check a login: %s", exc)
            who = None
        self.token.value = ""
        if not leader.may_lead(who, self.directory):
            self.message.object = wrap(f'<div class="gw-msg bad" data-testid="login-error">'
                                       f'{esc(tr("leader.denied", self.lang))}</div>')
            return
        self.signed = True
        assert who is not None
        self.form.sign_in(token, who.person or "")
        self.body.objects = [pn.Row(self.period, self.form.view, margin=(4, 10)), self.cards]
        self.refresh()

    def _period_options(self) -> None:
        items = list(self.ctx.store.channel("ranking").items())
        found = sorted({p for kind in KINDS for p in leader.periods(
            ((k, i.data) for k, i in items), kind)})
        options = {tr(f"period.{p}", self.lang): p for p in found}
        if options != self.period.options:
            self.period.options = options
            if self.period.value not in found:
                self.period.value = found[0] if found else None

    def cards_html(self, now: int) -> str:
        """The view's cards: rankings, overdue, escalated, supervision."""
        store, lang, names = self.ctx.store, self.lang, self.ctx.names(self.lang)
        items = [(k, i.data) for k, i in store.channel("ranking").items()]
        cases = [(k, i.data) for k, i in store.channel("cases").items()]
        period = str(self.period.value or "")
        people = {p.id: p.name for p in self.directory.people.values()}
        grids = leader.standings(items, "grid", period)
        workers = leader.standings(items, "worker", period)
        parts = [
            card("panel.ranking", leader_html.standings(grids, names, lang, "grid-rank"),
                 lang, "leader-grids"),
            card("panel.workers", leader_html.standings(workers, people, lang,
                                                        "worker-rank"), lang,
                 "leader-workers"),
            card("panel.overdue", leader_html.cases(leader.overdue(cases, now), names, lang,
                                                    "overdue-row"), lang, "leader-overdue"),
            card("panel.escalated", leader_html.cases(leader.escalated(cases, now), names,
                                                      lang, "escalated-row"), lang,
                 "leader-escalated"),
            card("panel.supervision", leader_html.supervision(
                leader.orders(cases, now), self._unit_names(), lang), lang,
                 "leader-supervision")]
        return f'<div class="gw-leader" style="{GRID_STYLE}">{"".join(parts)}</div>'

    def _live_cases(self) -> dict[str, dict[str, object]]:
        """The wall store's cases by id (what the issue form orders on)."""
        return {k: dict(i.data) for k, i in self.ctx.store.channel("cases").items()}

    def _unit_names(self) -> dict[str, str]:
        """Unit id -> name in the page's language."""
        return {u.id: (u.name if self.lang == "zh" or not u.name_en else u.name_en)
                for u in self.directory.units.values()}

    def refresh(self) -> None:
        """The per-second redraw."""
        self.header.refresh()
        if not self.signed:
            return
        self._period_options()
        self.cards.object = wrap(self.cards_html(self.ctx.clock()))


def leader_page(ctx: WallContext) -> pn.viewable.Viewable:
    """Build one session's ``/leader`` and start its refresh callback."""
    page = LeaderPage(ctx)
    pn.state.add_periodic_callback(page.refresh, period=REFRESH_MS)
    return page.view
