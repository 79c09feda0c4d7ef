"""The gateway's abuse limits as pure logic: refusal buckets per client, client keys, server
options."""

from __future__ import annotations

import json

from core.auth import TokenBook
from core.settings import settings_from
from ingest.gateway.ratelimit import RefusalLimiter, client_key, feed_of, too_many
from ingest.gateway.server import HeaderTimeoutHttpTools, server_options


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_client_may_be_refused_burst_times_then_waits_for_the_refill() -> None:
    clock = Clock()
    limiter = RefusalLimiter(rate=0.5, burst=3, clock=clock)
    for _ in range(3):
        assert limiter.retry_after("a") is None
        limiter.charge("a")
    assert limiter.retry_after("a") == 2  # one refusal back in 1 / 0.5 s
    assert limiter.retry_after("b") is None  # another client is unaffected
    clock.now += 1.0
    assert limiter.retry_after("a") == 1
    clock.now += 1.0
    assert limiter.retry_after("a") is None
    clock.now += 1000.0
    for _ in range(3):  # refills to the burst, never beyond
        limiter.charge("a")
    assert limiter.retry_after("a") is not None


def test_at_most_max_clients_are_remembered_least_recent_first() -> None:
    limiter = RefusalLimiter(rate=0.001, burst=1, max_clients=2, clock=Clock())
    for key in ("a", "b"):
        limiter.charge(key)
    limiter.charge("c")  # "a" is forgotten
    assert limiter.retry_after("b") is not None and limiter.retry_after("c") is not None
    assert limiter.retry_after("a") is None


def scope(headers: dict[bytes, bytes] | None = None, query: bytes = b"") -> dict[str, object]:
    return {"headers": list((headers or {}).items()), "query_string": query,
            "client": ("10.0.0.7", 5555)}


def test_a_client_is_its_known_token_else_its_address() -> None:
    book = TokenBook.from_mapping({"feed-token-123": {"role": "feed", "sources": ["*"]}})
    assert client_key(scope({b"authorization": b"Bearer feed-token-123"}), book) == (
        "token:feed-token-123")
    assert client_key(scope(query=b"api_key=feed-token-123"), book) == "token:feed-token-123"
    for unknown in (scope({b"authorization": b"Bearer made-up-token"}),
                    scope(query=b"api_key=made-up"), scope(query=b"&".join([b"a=1"] * 100)),
                    scope()):
        assert client_key(unknown, book) == "addr:10.0.0.7"


def test_feeds_of_write_paths_are_a_closed_set() -> None:
    assert [feed_of(p) for p in ("/v1/cases/events", "/v1/sensors/readings",
                                 "/v1/departments/x/records", "/open311/v2/requests.json",
                                 "/anything")] == [
        "cases", "sensors", "departments", "open311", "other"]


def test_server_options_come_from_settings() -> None:
    s = settings_from({"GRIDWALL_GATEWAY_KEEP_ALIVE_S": "7",
                       "GRIDWALL_GATEWAY_MAX_CONNECTIONS": "300",
                       "GRIDWALL_GATEWAY_MAX_HEADER_BYTES": "8192"})
    assert server_options(s) == {"http": HeaderTimeoutHttpTools, "timeout_keep_alive": 7,
                                 "limit_concurrency": 300,
                                 "h11_max_incomplete_event_size": 8192}


def test_a_429_is_in_the_feed_s_own_error_form_with_retry_after() -> None:
    open311 = too_many("/open311/v2/requests.json", 3)
    assert open311.status_code == 429 and open311.headers["retry-after"] == "3"
    assert json.loads(open311.body)[0]["code"] == 429
    cases = too_many("/v1/cases/events", 1)
    assert json.loads(cases.body) == {"error": "rate_limited", "field": "client",
                                      "reason": "too many refused requests; retry after 1 s"}
