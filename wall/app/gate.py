"""Who may open a page of the wall server, and how many pages may be open at once.

A page session costs the server about 1.35 MB and CPU from the first request on, so the
page routes (``/wall``, ``/duty``, ``/ops`` and their ``autoload.js``) pass a :class:`Gate`
before Bokeh builds a session (:func:`install` puts it in front of them):

- **session cap**: with ``max_sessions`` sessions live (all pages together, plus page
  requests being served), a further request gets **503** with a small "wall busy" page and
  ``Retry-After``; sessions of closed pages count until Bokeh discards them (the server's
  ``unused_session_lifetime``);
- **viewer login** (``login`` on, ``GRIDWALL_WALL_VIEWER_LOGIN=1``): a request needs a
  token that may ``view`` — the ``gridwall_token`` cookie, or ``?token=`` once, which sets
  the cookie (HttpOnly, SameSite=Strict) and redirects to the same page without it; else
  **401** with a small sign-in form. The token is checked against the tokens file on each
  page request.

Page sessions are signed with a per-process secret (see :mod:`wall.app.server`), so a
websocket cannot create a session that the gate did not admit: a session websocket whose
token is not signed by this process is refused with 403 before the upgrade (quietly; Bokeh
itself would log a traceback for each).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from bokeh.util.token import check_token_signature
from panel.io.server import AutoloadJsHandler, DocHandler, WSHandler
from tornado.web import Application

COOKIE = "gridwall_token"
RETRY_AFTER_S = 30

BUSY_PAGE = """<!doctype html><meta charset="utf-8"><title>GridWall busy</title>
<body style="background:#0b1220;color:#e6edf7;font:20px sans-serif;padding:3em">
<h1>大屏繁忙 · Wall busy</h1><p>{sessions} of {cap} screens are open. Retry in
{retry} s.</p></body>"""

LOGIN_PAGE = """<!doctype html><meta charset="utf-8"><title>GridWall sign-in</title>
<body style="background:#0b1220;color:#e6edf7;font:20px sans-serif;padding:3em">
<h1>登录 · Sign in</h1><p>{message}</p><form method="get" action="{action}">
<input name="token" type="password" autocomplete="off" placeholder="viewer token" size="40">
<button type="submit">OK</button></form></body>"""


@dataclass
class Gate:
    """The session cap and the optional viewer login; see the module docstring."""

    max_sessions: int
    login: bool
    may_view: Callable[[str], bool]  # token -> may it view (the tokens file decides)
    inflight: int = 0  # page requests admitted and not finished
    refused_busy: int = 0
    refused_login: int = 0

    def sessions(self, app: Any) -> int:
        """Live Bokeh sessions of every page of ``app`` (a BokehTornado)."""
        return sum(len(app.get_sessions(path)) for path in app.app_paths)

    def busy(self, app: Any) -> str | None:
        """The 503 page if admitting one more request would exceed the cap, else None."""
        live = self.sessions(app) + self.inflight
        if live < self.max_sessions:
            return None
        self.refused_busy += 1
        return BUSY_PAGE.format(sessions=live, cap=self.max_sessions, retry=RETRY_AFTER_S)

    def figures(self, app: Any) -> dict[str, Any]:
        """What ``/healthz`` shows of the gate."""
        return {"sessions": self.sessions(app), "max_sessions": self.max_sessions,
                "viewer_login": self.login, "refused_busy": self.refused_busy,
                "refused_login": self.refused_login}


class _Gated:
    """Mixin run before a Bokeh page handler: cap, then login (see :class:`Gate`)."""

    gate: Gate
    _counted = False

    def initialize(self, *args: Any, gate: Gate, **kwargs: Any) -> None:
        self.gate = gate
        super().initialize(*args, **kwargs)  # type: ignore[misc]

    async def prepare(self) -> None:
        handler: Any = self
        page = self.gate.busy(handler.application)
        if page is not None:
            handler.set_header("Retry-After", str(RETRY_AFTER_S))
            return self._page(503, page)
        if self.gate.login and not self._signed_in(handler):
            return None
        self.gate.inflight += 1
        self._counted = True
        await super().prepare()  # type: ignore[misc]
        return None

    def _signed_in(self, handler: Any) -> bool:
        """True if the request may go on; else the 401 page or the redirect is written."""
        offered = handler.get_argument("token", None)
        if offered is not None:
            if self.gate.may_view(offered):
                handler.set_cookie(COOKIE, offered, httponly=True, samesite="Strict")
                rest = {k: v[-1] for k, v in handler.request.query_arguments.items()
                        if k != "token"}
                query = f"?{urlencode(rest)}" if rest else ""
                handler.redirect(handler.request.path + query)
                return False
            return self._login_page(handler, "That token may not view the wall.")
        cookie = handler.get_cookie(COOKIE)
        if cookie is not None and self.gate.may_view(cookie):
            return True
        return self._login_page(handler, "A viewer token is required.")

    def _login_page(self, handler: Any, message: str) -> bool:
        self.gate.refused_login += 1
        self._page(401, LOGIN_PAGE.format(message=html.escape(message),
                                          action=html.escape(handler.request.path)))
        return False

    def _page(self, status: int, body: str) -> None:
        handler: Any = self
        handler.set_status(status)
        handler.set_header("Content-Type", "text/html; charset=utf-8")
        handler.set_header("Cache-Control", "no-store")
        handler.finish(body)

    def on_finish(self) -> None:
        if self._counted:
            self.gate.inflight -= 1
            self._counted = False
        super().on_finish()  # type: ignore[misc]


class GatedDocHandler(_Gated, DocHandler):
    """Panel's page handler behind the gate."""


class GatedAutoloadJsHandler(_Gated, AutoloadJsHandler):
    """Panel's ``autoload.js`` handler (it also builds a session) behind the gate."""


class SignedWSHandler(WSHandler):
    """Panel's session websocket, refusing (403) a token this process did not sign."""

    async def prepare(self) -> None:
        offered = self.request.headers.get("Sec-WebSocket-Protocol", "").split(",")
        app: Any = self.application
        if len(offered) != 2 or not check_token_signature(
                offered[1].strip(), secret_key=app.secret_key, signed=app.sign_sessions):
            self.set_status(403)
            self.finish("session token not signed by this server")
            return
        await super().prepare()


GATED = {DocHandler: GatedDocHandler, AutoloadJsHandler: GatedAutoloadJsHandler}


def install(app: Application, gate: Gate) -> int:
    """Put ``gate`` in front of every page route of ``app``; return how many were gated."""
    gated = 0
    for outer in app.default_router.rules:
        for rule in getattr(outer.target, "rules", ()):
            replacement = GATED.get(rule.target)
            if replacement is not None:
                rule.target = replacement
                rule.target_kwargs = {**rule.target_kwargs, "gate": gate}
                gated += 1
            elif rule.target is WSHandler:
                rule.target = SignedWSHandler
    return gated
