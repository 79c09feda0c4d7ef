"""``GET /healthz`` of the wall server: the hub link, the data's age, the page sessions.

Answers JSON, 200 while the hub link is ``up`` and 503 otherwise (the pages still serve
then, with the banner saying why the data is missing). Fields: ``status`` (``ok`` or
``degraded``), ``hub`` (``connecting``/``up``/``down``), ``hub_connects``,
``hub_failures``, ``hub_last_error``, ``last_received_age_s`` (seconds since the last hub
frame, by the wall's clock; null before the first), ``hydrated`` (items read from
ClickHouse at start), and the gate's ``sessions``, ``max_sessions``, ``viewer_login``,
``refused_busy``, ``refused_login`` (:meth:`wall.app.gate.Gate.figures`). No token needed:
it shows no data. ``GET /metrics`` (:class:`MetricsHandler`) answers the same figures in the
Prometheus text format.
"""

from __future__ import annotations

import json
from typing import Any

from tornado.web import RequestHandler

from core.prom import prometheus_text
from wall.app.context import WallContext
from wall.app.gate import Gate


def health(ctx: WallContext, gate: Gate, app: Any) -> dict[str, Any]:
    """The figures of ``/healthz``."""
    feed = ctx.feed
    link = feed.link if feed is not None else "down"
    last = ctx.store.last_received_ms
    return {"status": "ok" if link == "up" else "degraded", "hub": link,
            "hub_connects": feed.connects if feed else 0,
            "hub_failures": feed.failures if feed else 0,
            "hub_last_error": feed.last_error if feed else "",
            "last_received_age_s": round((ctx.clock() - last) / 1000, 3) if last else None,
            "hydrated": ctx.hydrated, **gate.figures(app)}


class HealthHandler(RequestHandler):
    """``GET /healthz``; see the module docstring."""

    def initialize(self, ctx: WallContext, gate: Gate) -> None:
        self.ctx = ctx
        self.gate = gate

    def get(self) -> None:
        figures = health(self.ctx, self.gate, self.application)
        self.set_status(200 if figures["hub"] == "up" else 503)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(figures, ensure_ascii=False) + "\n")


class MetricsHandler(HealthHandler):
    """``GET /metrics``: the figures of ``/healthz`` as Prometheus text (always 200)."""

    def get(self) -> None:
        figures = health(self.ctx, self.gate, self.application)
        self.set_header("Content-Type", "text/plain; version=0.0.4")
        self.set_header("Cache-Control", "no-store")
        self.finish(prometheus_text("gridwall_wall", figures))
