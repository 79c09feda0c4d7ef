"""Panel building blocks shared by the pages: themed HTML panes, language, login, header.

Only this module and the ``*_page`` modules import Panel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import panel as pn
import param

from core.auth import Principal
from wall.app.context import WallContext, local_time
from wall.app.i18n import Lang, tr
from wall.app.opsview import workers
from wall.app.render import banner, strip
from wall.app.theme import BACKGROUND, CSS

PAGE_STYLES = {"background": BACKGROUND, "color": "#e6f0ff"}
# Widgets are sized in px by Panel; these make their text follow the screen like the panes.
WIDGET_CSS = """
:host { font-size: 0.72vw; }
.bk-btn, .bk-input, select, input, textarea, label { font-size: 0.72vw !important; }
.bk-btn { padding: 0.25vw 0.6vw; }
"""


class ScreenWidth(pn.custom.JSComponent):
    """Reports the browser window's width (px) to the server, and again on resize."""

    width_px = param.Integer(default=0, doc="window.innerWidth of the page")

    _esm = """
    export function render({ model }) {
      const send = () => { model.width_px = window.innerWidth };
      send();
      window.addEventListener('resize', send);
      return document.createElement('span');
    }"""
REFRESH_MS = 1000


def html(text: str = "", **kwargs: Any) -> pn.pane.HTML:
    """An HTML pane with the wall's stylesheet; ``text`` is wrapped in the ``gw`` class."""
    kwargs.setdefault("sizing_mode", "stretch_width")
    return pn.pane.HTML(wrap(text), stylesheets=[CSS], margin=0, **kwargs)


def wrap(text: str) -> str:
    """Wrap a fragment in the themed root element."""
    return f'<div class="gw">{text}</div>'


def session_lang() -> Lang:
    """``en`` if the page was opened with ``?lang=en``, else ``zh``."""
    args = pn.state.session_args or {}
    values = args.get("lang") or [b"zh"]
    return "en" if values[0] in (b"en", "en") else "zh"


class Header:
    """Title, freshness strip, language switch and the stale/disconnected banner."""

    def __init__(self, ctx: WallContext, title_key: str, lang: Lang,
                 on_lang: Callable[[Lang], None]) -> None:
        self.ctx = ctx
        self.title_key = title_key
        self.lang: Lang = lang
        self.title = html(sizing_mode="stretch_width")
        self.strip = html(sizing_mode="stretch_width")
        self.banner = html(sizing_mode="stretch_width")
        self.switch = pn.widgets.Button(name=tr("lang.switch", lang), button_type="primary",
                                        margin=(8, 8), stylesheets=[WIDGET_CSS],
                                        styles={"min-width": "6vw"})
        self._on_lang = on_lang
        self.switch.on_click(lambda _e: self.toggle())
        self.view = pn.Column(
            pn.Row(self.title, self.strip, self.switch, sizing_mode="stretch_width",
                   styles={"background": "#0a1f44", "border-bottom": "2px solid #1f6feb"}),
            self.banner, sizing_mode="stretch_width", margin=0)
        self.refresh()

    def toggle(self) -> None:
        """Switch language and tell the page."""
        self.lang = "en" if self.lang == "zh" else "zh"
        self.switch.name = tr("lang.switch", self.lang)
        self.refresh()
        self._on_lang(self.lang)

    def refresh(self) -> None:
        """Redraw the strip and the banner from the current freshness."""
        fresh = self.ctx.freshness()
        now = self.ctx.clock()
        rows = workers(self.ctx.store, now)
        up = sum(1 for w in rows if w.age_s < 30)
        self.title.object = wrap(f'<div class="gw-title" style="padding:0.3vw 0.8vw">'
                                 f'{tr(self.title_key, self.lang)}</div>')
        self.strip.object = wrap(strip(fresh, up, len(rows), local_time(now, True), self.lang))
        self.banner.object = wrap(banner(fresh, self.lang))


class Login:
    """A token prompt; calls ``on_success(principal, token)`` for a token allowed ``permission``.

    The token stays in the session (never in the page) so that the user's commands reach the
    hub under their own identity.
    """

    def __init__(self, ctx: WallContext, permission: str, lang: Lang,
                 on_success: Callable[[Principal, str], None]) -> None:
        self.ctx = ctx
        self.permission = permission
        self.token = pn.widgets.PasswordInput(name=tr("login.prompt", lang), width=420,
                                              placeholder="dev-officer-…")
        self.button = pn.widgets.Button(name=tr("login.button", lang), button_type="primary",
                                        width=140)
        self.message = html()
        self.lang = lang
        self._on_success = on_success
        self.button.on_click(lambda _e: self.submit())
        self.view = pn.Column(self.token, self.button, self.message, margin=(20, 40),
                              name="login")

    def submit(self) -> None:
        """Check the token; show an error or hand over to the page."""
        who = self.ctx.login(self.token.value or "", self.permission)
        if who is None:
            self.message.object = wrap(f'<div class="gw-msg bad" data-testid="login-error">'
                                       f'{tr("login.bad", self.lang)}</div>')
            return
        token = (self.token.value or "").strip()
        self.token.value = ""
        self._on_success(who, token)
