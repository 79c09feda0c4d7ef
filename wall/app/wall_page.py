"""``/wall``: the command-centre big screen.

Layout: header (title, freshness strip, language switch) and banner; left column KPI tiles,
six-step funnel, categories; centre the 2.5D map with layer toggles and legend; right
column ranking, alert ticker, SLA countdowns, per-community sparklines, latest activity
(the side columns' cards are the specs of :mod:`wall.app.panels`).

Every second a per-session callback redraws what changed: the header always (ages move),
panels and map only when the store changed, the language switched, or live dots are
fading. Views are computed once per (store version, second, language) for all sessions;
the map's spec object is built once per session and only its layer data is replaced, so
the camera stays where the viewer left it.
"""

from __future__ import annotations

from typing import Any

import panel as pn

from wall.app import kpis, render
from wall.app.context import WallContext
from wall.app.deckspec import TOOLTIP, base_spec, layer_frames, with_data
from wall.app.i18n import Lang, tr
from wall.app.levels import ResolutionLevels
from wall.app.mapdata import FADE_S, POI_LAYERS
from wall.app.mechanism_html import tier_legend
from wall.app.panels import PanelInput, column_html
from wall.app.panes import (
    PAGE_STYLES,
    REFRESH_MS,
    WIDGET_CSS,
    Header,
    ScreenWidth,
    html,
    session_lang,
    wrap,
)

TOGGLES: tuple[str, ...] = (*POI_LAYERS, "sensor")
# The KPI tiles three abreast (leaves the left column room for the tier and resolution cards).
TILES_3 = ("<style>.gw-tiles.gw-tiles{grid-template-columns:repeat(3,1fr)}"
           ".gw-tile.gw-tile .v{font-size:1.5vw}.gw-tile.gw-tile .k{font-size:0.7vw}</style>")


def side_styles(width: str) -> dict[str, str]:
    """A side column of a fixed share of the screen width."""
    return {"width": width, "min-width": width, "max-width": width, "flex": f"0 0 {width}",
            "overflow": "hidden"}


_LEVELS: dict[int, ResolutionLevels] = {}


def levels_of(ctx: WallContext) -> ResolutionLevels:
    """The server's resolution levels (one background reader per wall context)."""
    if id(ctx) not in _LEVELS:
        _LEVELS[id(ctx)] = ResolutionLevels.of(ctx.settings)
    return _LEVELS[id(ctx)]


def panel_input(ctx: WallContext, now: int, lang: Lang) -> PanelInput:
    """What the cards of :mod:`wall.app.panels` draw from."""
    return PanelInput(ctx.store, now, lang, ctx.names(lang), ctx.community_of,
                      ctx.community_names(lang), levels_of(ctx).get(now))


def left_html(ctx: WallContext, now: int, lang: Lang) -> str:
    """KPI tiles, then the left column's cards (funnel, categories)."""
    given = panel_input(ctx, now, lang)
    tiles = kpis.kpi_tiles(ctx.store, given.counts, len(ctx.street.sensors), now)
    return TILES_3 + render.tiles(tiles, lang) + column_html(given, "left")


def right_html(ctx: WallContext, now: int, lang: Lang) -> str:
    """The right column's cards (ranking, ticker, countdowns, sparklines, latest activity)."""
    return column_html(panel_input(ctx, now, lang), "right")


class WallPage:
    """One session's big screen."""

    def __init__(self, ctx: WallContext) -> None:
        self.ctx = ctx
        self.lang: Lang = session_lang()
        self.visible: dict[str, bool] = {kind: kind == "sensor" for kind in TOGGLES}
        self.scale = 1.0
        self.spec = base_spec(ctx.street, self.visible)
        self.screen = ScreenWidth(width=0, height=0, margin=0)
        self.screen.param.watch(self._on_screen, "width_px")
        self.header = Header(ctx, "title.wall", self.lang, self.set_lang)
        self.left = html()
        self.right = html()
        self.legend = html()
        self.toggles = pn.widgets.CheckButtonGroup(
            options=self._toggle_options(), value=[k for k, v in self.visible.items() if v],
            button_type="primary", button_style="outline", margin=(4, 8),
            stylesheets=[WIDGET_CSS])
        self.toggles.param.watch(self._on_toggle, "value")
        self.map = pn.pane.DeckGL(self._map_object(), tooltips=TOOLTIP,
                                  sizing_mode="stretch_both", min_height=500, margin=0,
                                  throttle={"view": 300, "hover": 150})
        self._drawn: tuple[Any, ...] = ()
        self.view = pn.Column(
            self.screen, self.header.view,
            pn.Row(pn.Column(self.left, sizing_mode="stretch_height", margin=(6, 6),
                             styles=side_styles("20vw")),
                   pn.Column(pn.Row(self.toggles, self.legend, sizing_mode="stretch_width"),
                             self.map, sizing_mode="stretch_both", margin=(6, 4)),
                   pn.Column(self.right, sizing_mode="stretch_height", margin=(6, 6),
                             styles=side_styles("26vw")),
                   sizing_mode="stretch_both"),
            sizing_mode="stretch_both", styles=PAGE_STYLES, margin=0)
        self.refresh()

    def _toggle_options(self) -> dict[str, str]:
        return {tr(f"layer.{kind}", self.lang): kind for kind in TOGGLES}

    def _map_object(self) -> dict[str, Any]:
        now = self.ctx.clock()
        second = now // 1000
        frames = self.ctx.cached(("frames", self.ctx.store.version, second, self.lang),
                                 lambda: layer_frames(self.ctx.street, self.ctx.store, now,
                                                      self.lang))
        return with_data(self.spec, frames, self.visible)

    def _on_screen(self, event: Any) -> None:
        """Frame the street for this screen's width (moves the camera: only on load/resize)."""
        scale = min(4.0, max(0.5, (event.new or 1920) / 1920))
        if abs(scale - self.scale) / self.scale > 0.05:
            self.scale = scale
            self.spec = base_spec(self.ctx.street, self.visible, scale)
            self.map.object = self._map_object()

    def _on_toggle(self, event: Any) -> None:
        self.visible = {kind: kind in event.new for kind in TOGGLES}
        self.map.object = self._map_object()

    def set_lang(self, lang: Lang) -> None:
        """Redraw everything in ``lang``."""
        self.lang = lang
        self.toggles.options = self._toggle_options()
        self._drawn = ()
        self.refresh()

    def refresh(self) -> None:
        """The per-second redraw; see the module docstring."""
        self.header.refresh()
        now = self.ctx.clock()
        store = self.ctx.store
        fading = bool(store.recent) and now - store.recent[-1].received_ms < FADE_S * 1000
        state = (store.version, self.lang, now // 1000 if fading else 0)
        if state == self._drawn:
            return
        self._drawn = state
        second = now // 1000
        self.left.object = wrap(self.ctx.cached(("left", store.version, second, self.lang),
                                                lambda: left_html(self.ctx, now, self.lang)))
        self.right.object = wrap(self.ctx.cached(("right", store.version, second, self.lang),
                                                 lambda: right_html(self.ctx, now, self.lang)))
        self.legend.object = wrap(f'<div style="display:flex;gap:1.5vw">'
                                  f"{render.legend(self.lang)}{tier_legend(self.lang)}</div>")
        self.map.object = self._map_object()


def wall_page(ctx: WallContext) -> pn.viewable.Viewable:
    """Build one session's ``/wall`` and start its refresh callback."""
    page = WallPage(ctx)
    pn.state.add_periodic_callback(page.refresh, period=REFRESH_MS)
    return page.view
