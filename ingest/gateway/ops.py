"""``GET /metrics`` (Prometheus text); ``GET /healthz`` is :mod:`ingest.gateway.health`."""

from __future__ import annotations

from starlette.responses import Response

from ingest.gateway.context import GatewayContext

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def metrics(ctx: GatewayContext) -> Response:
    """The exposition text of this process's metrics."""
    return Response(ctx.metrics.render(), media_type=PROMETHEUS_TEXT)
