"""The gateway's app factory: wiring of feeds, Open311, health and metrics into one FastAPI app.

:func:`create_app` builds everything a process needs from settings (tokens file, street
geography, Kafka writer); tests and the benchmark pass their own parts. The app starts even
when Kafka is down (writes then answer 503) and closes its producer on shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope

from core.auth import TokenBook
from core.kafka_writer import KafkaWriter
from core.settings import Settings, settings
from domain.geo import Street, street
from domain.organisation import ORGANISATION_FILE, load_directory
from ingest.gateway import docs_ui, health, openapi, ops, verdicts
from ingest.gateway.body import BodyTimeoutMiddleware
from ingest.gateway.case_rules import CaseJudge
from ingest.gateway.case_view import CaseView, LayeredCaseView, MemoryCaseView, memory_of
from ingest.gateway.case_view_clickhouse import ClickHouseCaseView
from ingest.gateway.cases import CaseEventsFeed
from ingest.gateway.context import GatewayContext
from ingest.gateway.deadletter import DeadLetters
from ingest.gateway.dedup import Deduper
from ingest.gateway.departments import DepartmentRecordsFeed
from ingest.gateway.metrics import GatewayMetrics, RequestMetricsMiddleware
from ingest.gateway.open311 import reads
from ingest.gateway.open311.format import refusal
from ingest.gateway.open311.post import Open311RequestsFeed
from ingest.gateway.open311.publication import Publication
from ingest.gateway.open311.services import service_definition, service_list
from ingest.gateway.pipeline import Feed, intake
from ingest.gateway.placement import Placer
from ingest.gateway.producer import DirectProducer, GroupCommitProducer, Producer, Writer
from ingest.gateway.ratelimit import RefusalLimiter, RefusalLimitMiddleware
from ingest.gateway.rejects import Rejected
from ingest.gateway.responses import json_response
from ingest.gateway.sensors import SensorReadingsFeed
from ingest.gateway.verdicts import VerdictBook

Endpoint = Callable[[Request], Awaitable[Response]]


def kafka_writer(s: Settings, ack_timeout_s: float) -> Writer:
    """A self-healing writer that connects on first use (the gateway starts without Kafka)."""
    return KafkaWriter(s, client_id="gridwall-gateway", ack_timeout_s=ack_timeout_s,
                       connect=False)


def default_case_view(s: Settings) -> CaseView:
    """ClickHouse's cases (written by the streams) with this process's recent ones beside."""
    return LayeredCaseView(ClickHouseCaseView(s), MemoryCaseView())


def build_context(s: Settings, *, tokens: TokenBook | None = None, geo: Street | None = None,
                  writer: Writer | None = None, group_commit: bool = True,
                  ack_timeout_s: float = 10.0, view: CaseView | None = None) -> GatewayContext:
    """The shared parts of one gateway process; anything not given comes from settings."""
    metrics = GatewayMetrics()
    chosen = writer or kafka_writer(s, ack_timeout_s)
    producer: Producer = GroupCommitProducer(chosen) if group_commit else DirectProducer(chosen)
    return GatewayContext(
        settings=s, tokens=tokens or TokenBook.load(s.resolved_tokens_file),
        placer=Placer(geo or street()), producer=producer,
        deduper=Deduper(s.dedup_window_s), deadletters=DeadLetters(producer, metrics),
        metrics=metrics, cases=view or default_case_view(s))


class ScopedRoute(Route):
    """A plain Starlette route that puts itself in the scope as ``route`` (as FastAPI's routes
    do), so the metrics label its requests by the route template."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """Starlette's match, plus ``route`` in the child scope."""
        match, child = super().matches(scope)
        if match is not Match.NONE:
            child["route"] = self
        return match, child


def write_endpoint(ctx: GatewayContext, feed: Feed) -> Endpoint:
    """The endpoint running ``feed`` through the intake pipeline."""

    async def endpoint(request: Request) -> Response:
        return await intake(ctx, feed, request)

    return endpoint


def case_judge(ctx: GatewayContext) -> CaseJudge:
    """The judge of case steps, with the organisation of ``config/organisation.yaml``."""
    directory = load_directory(Path(ctx.settings.config_dir) / ORGANISATION_FILE)
    return CaseJudge(directory, memory_of(ctx.cases), ctx.placer.community_of)


def add_write_routes(app: FastAPI, ctx: GatewayContext) -> None:
    """The four write operations, as plain Starlette routes (documented by :mod:`.openapi`)."""
    feeds: tuple[tuple[str, Feed], ...] = (
        ("/v1/cases/events", CaseEventsFeed(ctx.placer, ctx.cases, case_judge(ctx))),
        ("/v1/sensors/readings", SensorReadingsFeed(ctx.placer)),
        ("/v1/departments/{department}/records", DepartmentRecordsFeed(ctx.placer)),
        ("/open311/v2/requests.json", Open311RequestsFeed(ctx.placer, ctx.cases)),
    )
    for path, feed in feeds:
        assert path in openapi.WRITES, f"{path} is not documented"
        app.router.routes.append(ScopedRoute(path, write_endpoint(ctx, feed), methods=["POST"],
                                             name=f"post_{feed.name}",
                                             include_in_schema=False))


def add_read_routes(app: FastAPI, ctx: GatewayContext, checks: health.ProduceHealth) -> None:
    """Open311 reads, health and metrics."""

    async def services_json(request: Request) -> Response:
        return json_response(service_list())

    async def service_json(request: Request) -> Response:
        code = request.path_params["service_code"]
        definition = service_definition(code)
        if definition is None:
            return refusal(Rejected(404, "not_found", "unknown service_code", "service_code"))
        return json_response(definition)

    publication = Publication.load(ctx.settings.config_dir)

    def trusted(request: Request) -> bool:
        return reads.trusted_reader(ctx.tokens, request.headers.get("authorization"),
                                    request.query_params)

    async def requests_json(request: Request) -> Response:
        return await reads.list_requests(ctx.cases, request.query_params, publication,
                                         trusted(request))

    async def request_json(request: Request) -> Response:
        return await reads.one_request(ctx.cases, request.path_params["service_request_id"],
                                       publication, trusted(request))

    async def healthz(request: Request) -> Response:
        return await health.healthz(checks)

    async def metrics(request: Request) -> Response:
        return ops.metrics(ctx)

    for path, endpoint, extra, summary in (
        ("/open311/v2/services.json", services_json, None, "Open311: the services"),
        ("/open311/v2/services/{service_code}.json", service_json, openapi.OPEN311_SERVICE,
         "Open311: one service's definition"),
        ("/open311/v2/requests.json", requests_json, openapi.OPEN311_LIST,
         "Open311: service requests in a date window (at most 90 days)"),
        ("/open311/v2/requests/{service_request_id}.json", request_json, openapi.OPEN311_ONE,
         "Open311: one service request"),
        ("/healthz", healthz, None, "Is a produce acknowledged by Kafka?"),
        ("/metrics", metrics, None, "Prometheus metrics (text format)"),
    ):
        app.add_api_route(path, endpoint, methods=["GET"], summary=summary,
                          openapi_extra=extra, response_class=Response)


def add_status_route(app: FastAPI, ctx: GatewayContext, book: VerdictBook) -> None:
    """``GET /v1/cases/events/{event_id}``: the worker's verdict (:mod:`.verdicts`)."""

    async def event_status(request: Request) -> Response:
        return await verdicts.event_status(ctx, book, request)

    app.add_api_route("/v1/cases/events/{event_id}", event_status, methods=["GET"],
                      summary="The worker's verdict on a case event (applied / refused with "
                              "the reason); ?wait=1 waits for it", response_class=Response)


def create_app(s: Settings | None = None, follow_verdicts: bool = True,
               **parts: Any) -> FastAPI:
    """The gateway app; ``parts`` are passed to :func:`build_context` (tokens, geo, ...).
    ``follow_verdicts``: follow the case verdicts topic while the app runs (its lifespan)."""
    ctx = build_context(s or settings(), **parts)
    checks = health.ProduceHealth(ctx.producer)
    book = verdicts.VerdictBook()
    follower = verdicts.VerdictFollower(ctx.settings, book)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if follow_verdicts:
            follower.start()
        yield
        await follower.stop()
        await checks.close()
        await asyncio.to_thread(ctx.producer.close)
        await asyncio.to_thread(ctx.cases.close)

    app = FastAPI(title="GridWall gateway", version="1", lifespan=lifespan, redoc_url=None,
                  docs_url=None,
                  description="Every feed of the street enters here: validated, geocoded "
                              "to a grid, acknowledged by Kafka before 202.")
    app.state.gateway = ctx
    add_write_routes(app, ctx)
    add_read_routes(app, ctx, checks)
    add_status_route(app, ctx, book)
    docs_ui.install(app)
    app.add_middleware(BodyTimeoutMiddleware, timeout_s=ctx.settings.gateway_body_timeout_s)
    app.add_middleware(RefusalLimitMiddleware, book=ctx.tokens, metrics=ctx.metrics,
                       limiter=RefusalLimiter(ctx.settings.gateway_refusals_per_s,
                                              ctx.settings.gateway_refusal_burst))
    app.add_middleware(RequestMetricsMiddleware, metrics=ctx.metrics)
    openapi.install(app)
    return app
