"""The gateway's Prometheus metrics, rendered in the text exposition format (version 0.0.4).

Counters and a histogram owned by one event loop (no locks: only that loop updates them).
With several worker processes each process has its own figures. Label values are escaped;
labels only ever carry closed sets (route templates, status codes, reject codes, topics), so
clients cannot grow the number of series.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
PRODUCE_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                     10.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: tuple[str, ...], values: tuple[str, ...], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class Counter:
    """A monotonically increasing count per label combination."""

    def __init__(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> None:
        self.name, self.doc, self.label_names = name, doc, labels
        # An unlabelled counter shows 0 before its first increment, as Prometheus expects.
        self.values: dict[tuple[str, ...], float] = {} if labels else {(): 0.0}

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        """Add ``amount`` to the series of ``labels`` (in the declared order)."""
        self.values[labels] = self.values.get(labels, 0.0) + amount

    def render(self) -> list[str]:
        """The HELP, TYPE and sample lines."""
        lines = [f"# HELP {self.name} {self.doc}", f"# TYPE {self.name} counter"]
        for labels, value in sorted(self.values.items()):
            lines.append(f"{self.name}{_labels(self.label_names, labels)} {value:g}")
        return lines


class Histogram:
    """Observations counted into cumulative ``le`` buckets, with their sum and count."""

    def __init__(self, name: str, doc: str, buckets: tuple[float, ...]) -> None:
        self.name, self.doc, self.buckets = name, doc, buckets
        self.counts = [0] * (len(buckets) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, value: float) -> None:
        """Count one observation."""
        self.counts[bisect_left(self.buckets, value)] += 1
        self.sum += value

    def render(self) -> list[str]:
        """The HELP, TYPE, bucket, sum and count lines."""
        lines = [f"# HELP {self.name} {self.doc}", f"# TYPE {self.name} histogram"]
        running = 0
        for bound, count in zip((*self.buckets, float("inf")), self.counts, strict=True):
            running += count
            le = "+Inf" if bound == float("inf") else f"{bound:g}"
            lines.append(f'{self.name}_bucket{{le="{le}"}} {running}')
        lines.append(f"{self.name}_sum {self.sum:.6f}")
        lines.append(f"{self.name}_count {running}")
        return lines


class GatewayMetrics:
    """Everything ``/metrics`` shows."""

    def __init__(self) -> None:
        self.requests = Counter("gridwall_gateway_requests_total",
                                "HTTP requests by route template, method and status.",
                                ("route", "method", "status"))
        self.rejects = Counter("gridwall_gateway_rejects_total",
                               "Refused inputs by feed and reason code.", ("feed", "reason"))
        self.duplicates = Counter("gridwall_gateway_duplicates_total",
                                  "Inputs answered as duplicates, by feed.", ("feed",))
        self.records = Counter("gridwall_gateway_records_total",
                               "Records acknowledged by Kafka, by topic.", ("topic",))
        self.unavailable = Counter("gridwall_gateway_kafka_unavailable_total",
                                   "Requests answered 503 because Kafka did not acknowledge.")
        self.deadletter_failures = Counter(
            "gridwall_gateway_deadletter_failures_total",
            "Refused inputs whose dead-letter copy Kafka did not acknowledge.")
        self.produce_seconds = Histogram(
            "gridwall_gateway_produce_seconds",
            "Time from handing a request's records to the producer until Kafka acknowledged.",
            PRODUCE_BUCKETS_S)

    def render(self) -> str:
        """The full exposition text."""
        lines: list[str] = []
        for metric in (self.requests, self.rejects, self.duplicates, self.records,
                       self.unavailable, self.deadletter_failures, self.produce_seconds):
            lines.extend(metric.render())
        return "\n".join(lines) + "\n"


class RequestMetricsMiddleware:
    """Pure ASGI middleware counting every HTTP response by route template and status."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                route = scope.get("route")
                method = scope["method"] if scope["method"] in _METHODS else "OTHER"
                self.metrics.requests.inc(getattr(route, "path", "unmatched"), method,
                                          str(message["status"]))
            await send(message)

        await self.app(scope, receive, counting_send)
