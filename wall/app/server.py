"""The wall server: Panel serving ``/wall``, ``/duty``, ``/ops`` and ``/leader`` (one context).

:func:`run` blocks until SIGINT/SIGTERM. At start it hydrates from ClickHouse and starts the
single hub feed on the server's event loop (whatever happens to ClickHouse or the hub, the
pages serve: empty panels, the street map, and the banner saying why the data is missing).
Everything the pages load (Bokeh, Panel, deck.gl) is served by this process: no CDN.

The page routes sit behind a :class:`~wall.app.gate.Gate` (``GRIDWALL_WALL_MAX_SESSIONS``
live sessions at most, and a viewer token when ``GRIDWALL_WALL_VIEWER_LOGIN=1``); page
sessions are signed with a secret made afresh per process, so only a page the gate admitted
can open a session's websocket. ``GET /healthz`` (and ``/metrics``, as Prometheus text)
answers the hub link and the sessions (:mod:`wall.app.health`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
from pathlib import Path
from typing import Any

import yaml

from core.auth import PERMISSIONS
from core.settings import Settings
from wall.app.context import WallContext

log = logging.getLogger("gridwall.wall")
ROUTES = ("wall", "duty", "ops", "leader", "cases")
UNUSED_SESSION_LIFETIME_MS = 15_000  # a page's session outlives its closed websocket so long


def viewer_token(tokens_file: Path) -> str | None:
    """The first token of the file whose role may view (a ``viewer`` one preferred)."""
    try:
        data = yaml.safe_load(tokens_file.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    holders = [(token, holder.get("role")) for token, holder in data.items()
               if isinstance(holder, dict)]
    for wanted in ("viewer", None):
        for token, role in holders:
            if (role == wanted) if wanted else (role in PERMISSIONS
                                                and "view" in PERMISSIONS[role]):
                return str(token)
    return None


def build_routes(ctx: WallContext) -> dict[str, Any]:
    """Route name -> page factory."""
    from wall.app.cases_page import cases_page
    from wall.app.duty_page import duty_page
    from wall.app.leader_page import leader_page
    from wall.app.ops_page import ops_page
    from wall.app.wall_page import wall_page

    return {"wall": lambda: wall_page(ctx), "duty": lambda: duty_page(ctx),
            "ops": lambda: ops_page(ctx),
            "leader": lambda: leader_page(ctx), "cases": lambda: cases_page(ctx)}


def serve_pages(ctx: WallContext, host: str, port: int) -> Any:
    """The Panel server of the pages (not started), gated, with ``/healthz``."""
    import panel as pn

    from wall.app.gate import COOKIE, Gate, install
    from wall.app.health import HealthHandler, MetricsHandler

    settings = ctx.settings
    gate = Gate(settings.wall_max_sessions, settings.wall_viewer_login,
                lambda token: ctx.login(token, "view") is not None)
    origins = [f"{host}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"]
    server = pn.serve(build_routes(ctx), port=port, address=host, show=False, start=False,
                      title={"wall": "GridWall", "duty": "GridWall duty", "ops": "GridWall ops",
                             "leader": "GridWall leader", "cases": "GridWall cases"},
                      websocket_origin=origins, verbose=False,
                      check_unused_sessions=5_000,
                      unused_session_lifetime=UNUSED_SESSION_LIFETIME_MS,
                      secret_key=secrets.token_urlsafe(32), sign_sessions=True,
                      exclude_cookies=[COOKIE],
                      extra_patterns=[(r"/healthz", HealthHandler, {"ctx": ctx, "gate": gate}),
                                      (r"/metrics", MetricsHandler, {"ctx": ctx, "gate": gate})])
    if install(server._tornado, gate) != 2 * len(ROUTES):
        raise RuntimeError("the wall's page routes were not all gated")
    return server


def run(settings: Settings, host: str, port: int, hub_url: str | None = None,
        token: str | None = None) -> int:
    """Serve the wall until interrupted; returns the exit code."""
    import panel as pn

    from core.logs import route_library_loggers
    from wall.app.theme import CSS

    pn.extension("deckgl", raw_css=[CSS], theme="dark", notifications=False)
    route_library_loggers()  # Panel, Bokeh and param are loaded now: one log format
    hub_url = hub_url or f"ws://{settings.hub_host}:{settings.hub_port}/"
    token = token or viewer_token(settings.resolved_tokens_file)
    if token is None:
        log.warning("no viewer token in %s: the hub will refuse the feed",
                    settings.resolved_tokens_file)
    ctx = WallContext(settings=settings, hub_url=hub_url, hub_token=token)
    server = serve_pages(ctx, host, port)
    loop = server.io_loop

    def _stop(*_: object) -> None:
        async def _shutdown() -> None:
            await ctx.stop()
            server.stop()
            loop.stop()

        loop.add_callback_from_signal(lambda: asyncio.ensure_future(_shutdown()))

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    server.start()
    loop.add_callback(ctx.start)
    print(f"wall serving http://{host}:{port}/wall /duty /ops (hub {hub_url})", flush=True)
    loop.start()
    return 0
