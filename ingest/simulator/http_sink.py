"""Through the gateway over HTTP (the default way the simulator feeds the street).

:class:`HttpSink` posts each chunk as few requests as the body limit allows: readings to
``/v1/sensors/readings`` (object form with a ``request_id``, so a retried request is a
duplicate, not a second copy), case events to ``/v1/cases/events`` (their ``event_id``
makes retries safe), records to ``/v1/departments/{department}/records``. Guarantees:

* 503, 429, other 5xx and connection failures are retried after a back-off (the server's
  ``Retry-After`` when given, else doubling up to ``max_backoff_s``) until delivered;
* any other 4xx is counted per status and error code and logged (the simulator should
  never send invalid data, so each one points at a bug), never retried;
* 401 and 403 raise :class:`~ingest.simulator.sink.SinkFatal`: a bad token does not heal.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence

import httpx

from domain.wire import encode
from ingest.simulator.engine import Event
from ingest.simulator.sink import SinkFatal, SinkStats, split

log = logging.getLogger(__name__)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_MAX_BODY = 512 * 1024


def json_arrays(items: Sequence[object], max_bytes: int) -> Iterator[tuple[bytes, int]]:
    """Encode ``items`` as JSON arrays of at most ``max_bytes`` (one item may exceed it).

    Yields (body, number of items); every item lands in exactly one array, in order.
    """
    parts: list[bytes] = []
    size = 2
    for item in items:
        encoded = encode(item)
        if parts and size + len(encoded) + 1 > max_bytes:
            yield b"[" + b",".join(parts) + b"]", len(parts)
            parts, size = [], 2
        parts.append(encoded)
        size += len(encoded) + 1
    if parts:
        yield b"[" + b",".join(parts) + b"]", len(parts)


class HttpSink:
    """Delivers chunks through the gateway (see the module docstring)."""

    def __init__(self, base_url: str, token: str, run_tag: str, *,
                 client: httpx.Client | None = None, max_body_bytes: int = DEFAULT_MAX_BODY,
                 max_backoff_s: float = 10.0, timeout_s: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.stats = SinkStats()
        self._client = client or httpx.Client(base_url=base_url, timeout=timeout_s)
        self._headers = {"Authorization": f"Bearer {token}",
                         "Content-Type": "application/json"}
        self._run_tag = run_tag
        self._requests = 0
        self._max_body = max_body_bytes
        self._max_backoff_s = max_backoff_s
        self._sleep = sleep
        self._logged: dict[str, int] = {}

    def send(self, events: Sequence[Event]) -> None:
        """Post ``events``; return once each request was answered 2xx or a final 4xx."""
        parts = split(events)
        self.stats.sent += len(events)
        # Leave room for the object wrapper around the readings array.
        for array, count in json_arrays(parts.readings, self._max_body - 128):
            self._requests += 1
            request_id = f"{self._run_tag}-h{self._requests}"
            body = (b'{"request_id":"' + request_id.encode() + b'","source":"sensor",'
                    b'"readings":' + array + b"}")
            self._post("/v1/sensors/readings", body, count)
        for array, count in json_arrays(parts.cases, self._max_body):
            self._post("/v1/cases/events", array, count)
        for department, records in parts.records.items():
            for array, count in json_arrays(records, self._max_body):
                self._post(f"/v1/departments/{department}/records", array, count)

    def _post(self, path: str, body: bytes, count: int) -> None:
        backoff = 0.5
        while True:
            try:
                response = self._client.post(path, content=body, headers=self._headers)
            except httpx.TransportError as exc:
                self._retry_after(None, backoff, f"{path}: {exc!r}")
                backoff = min(self._max_backoff_s, backoff * 2)
                continue
            status = response.status_code
            if status < 300:
                self._accepted(response, count)
                return
            if status in RETRY_STATUSES:
                self._retry_after(response.headers.get("Retry-After"), backoff,
                                  f"{path}: HTTP {status}")
                backoff = min(self._max_backoff_s, backoff * 2)
                continue
            if status in (401, 403):
                raise SinkFatal(f"the gateway refused the token on {path}: HTTP {status} "
                                f"{response.text[:200]}")
            self._refused(path, response, count)
            return

    def _accepted(self, response: httpx.Response, count: int) -> None:
        duplicates = 0
        try:
            answer = response.json()
            if isinstance(answer, dict) and answer.get("duplicate") is True:
                duplicates = count  # the whole request was seen before
            elif isinstance(answer, dict) and isinstance(answer.get("duplicates"), int):
                duplicates = min(count, answer["duplicates"])
        except ValueError:
            pass
        self.stats.duplicates += duplicates
        self.stats.accepted += count - duplicates

    def _refused(self, path: str, response: httpx.Response, count: int) -> None:
        try:
            answer = response.json()
            code = str(answer.get("error", "")) if isinstance(answer, dict) else ""
        except ValueError:
            code = ""
        reason = f"HTTP {response.status_code} {code}".strip()
        self.stats.reject(count, reason)
        seen = self._logged.get(reason, 0)
        self._logged[reason] = seen + 1
        if seen < 3:  # the first few of each kind, then only the counts
            log.warning("gateway refused %d event(s) on %s: %s %s", count, path, reason,
                        response.text[:300])

    def _retry_after(self, header: str | None, backoff: float, what: str) -> None:
        self.stats.errors += 1
        self.stats.retries += 1
        delay = backoff
        if header:
            with contextlib.suppress(ValueError):
                delay = min(self._max_backoff_s, max(0.0, float(header)))
        log.info("%s; retrying in %.1f s", what, delay)
        self._sleep(delay)

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()
