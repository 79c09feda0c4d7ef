"""``GET /healthz`` (Kafka reachable?) and ``GET /metrics`` (Prometheus text)."""

from __future__ import annotations

from starlette.responses import Response

from ingest.gateway.context import GatewayContext
from ingest.gateway.health import kafka_reachable
from ingest.gateway.responses import json_response, retry_later

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


async def healthz(ctx: GatewayContext) -> Response:
    """200 ``{"status": "ok"}`` if Kafka answers, else 503 with Retry-After."""
    if await kafka_reachable(ctx.settings.kafka_bootstrap):
        return json_response({"status": "ok", "kafka": "reachable"})
    return retry_later({"status": "unavailable", "kafka": "unreachable"})


def metrics(ctx: GatewayContext) -> Response:
    """The exposition text of this process's metrics."""
    return Response(ctx.metrics.render(), media_type=PROMETHEUS_TEXT)
