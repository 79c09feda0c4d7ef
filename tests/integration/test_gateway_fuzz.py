"""Fuzz the gateway from its own OpenAPI document (schemathesis, positive and negative data).

Against a real uvicorn server and the real broker, on topics of their own so the dead-letter
topic can be counted exactly, once with a feed token and once without any: no answer is a
5xx, every write answered 4xx names the field and the reason, and the dead-letter topic holds
exactly one copy per refused write (but none of an unauthenticated one, 401: those are only
counted). Without a token no write is accepted and nothing is dead-lettered at all. The
hand-made corpus of the hardening issue's inputs is ``test_fuzz_corpus.py``.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from core.settings import Settings
from domain.contracts.topics import DEAD_LETTER
from infra.topics import ensure_topics
from tests.integration.test_gateway_support import read_topic, serve_gateway
from tests.unit.test_gateway_support import FEED

pytestmark = pytest.mark.integration
EXAMPLES = 200
OPEN311_POST = "/open311/v2/requests.json"


def with_api_key(case: Any, keep_generated_key: bool) -> Any:
    """Open311 posts carry the key in the form: give most of them the valid one."""
    if (case.method == "POST" and case.path == OPEN311_POST and isinstance(case.body, dict)
            and not keep_generated_key):
        case.body["api_key"] = FEED
    return case


@pytest.mark.parametrize("with_token", [True, False], ids=["feed-token", "no-token"])
def test_fuzzed_requests_never_5xx_and_every_refused_write_is_dead_lettered(
        infra: Settings, with_token: bool) -> None:
    # The fuzzer is one client refusing many inputs: no refusal rate limit here.
    tag = "fuzz." if with_token else "fuzzanon."
    own = msgspec.structs.replace(infra, topic_prefix=f"{infra.topic_prefix}{tag}",
                                  gateway_refusal_burst=1_000_000)
    ensure_topics(own)
    refused_writes: list[tuple[str, int]] = []
    accepted_writes: list[str] = []
    with serve_gateway(own, ack_timeout_s=5.0) as gateway:
        schema = schemathesis.openapi.from_url(f"{gateway.url}/openapi.json")
        auth = {"Authorization": f"Bearer {FEED}"} if with_token else None
        cases = st.one_of(schema.as_strategy(GenerationMode.POSITIVE, headers=auth),
                          schema.as_strategy(GenerationMode.NEGATIVE, headers=auth))

        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=cases, keep_generated_key=st.integers(0, 3).map(
            lambda n: n == 0 or not with_token))
        def call(case: Any, keep_generated_key: bool) -> None:
            case = with_api_key(case, keep_generated_key)
            response = case.call(base_url=gateway.url, timeout=30)
            label = f"{case.method} {case.formatted_path}"
            assert response.status_code < 500, f"{label}: {response.status_code} {response.text}"
            if case.method == "POST" and response.status_code < 300:
                accepted_writes.append(label)
            if case.method == "POST" and 400 <= response.status_code < 500:
                body = response.json()
                error = body[0] if isinstance(body, list) else body
                assert error["reason"], f"{label}: {body}"
                if response.status_code != 401:  # unauthenticated: counted, not stored
                    refused_writes.append((label, response.status_code))

        call()
    if not with_token:
        # a token-less write is never taken, and never stored: 401 (or refused before the
        # token was read: 413/415/408, also not stored)
        assert not accepted_writes, accepted_writes
        assert read_topic(own, DEAD_LETTER, lambda rs: False, timeout_s=3) == []
        return
    assert refused_writes, "the fuzzer produced no invalid write at all"
    letters = read_topic(own, DEAD_LETTER, lambda rs: len(rs) >= len(refused_writes))
    assert len(letters) == len(refused_writes)
