"""Visible refusals with the real gateway and worker (processes, real Kafka and ClickHouse).

Tokens of named people: a step outside a person's authority is a 403 naming the rule at
once; a step the gateway knows to be illegal is a 409 with the reason at once; a step only
the worker can judge (a case this gateway never saw) is accepted, and its verdict -- refused
with the worker's reason, or applied -- is readable at ``GET /v1/cases/events/{event_id}``,
``?wait=1`` waiting for it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.settings import Settings, settings_from
from domain.geo import street
from tests.e2e.conftest import Proc, stack_env

pytestmark = pytest.mark.integration
GRID = street().grid_ids[0]
COMMUNITY = street().community_of(GRID)
TOKENS: dict[str, dict[str, Any]] = {
    "cr-residents-app-0001": {"name": "resident app", "role": "feed",
                              "sources": ["resident_app"], "acts_for": ["resident"]},
    "cr-officer-token-0001": {"name": "officer", "role": "feed", "sources": ["*"],
                              "person": f"C-{COMMUNITY}"},
    "cr-chief-token-000001": {"name": "chief", "role": "feed", "sources": ["*"],
                              "person": "CC-chief"},
    "cr-legacy-feed-000001": {"name": "legacy", "role": "feed", "sources": ["*"]},
}
RESIDENTS, OFFICER, CHIEF, LEGACY = TOKENS


@contextlib.contextmanager
def worker_and_gateway(infra: Settings, run_id: str, tmp: Path, tag: str,
                       tokens: dict[str, Any]) -> Iterator[Settings]:
    """A worker and a gateway of their own prefix ``<tag><run id>.``, database and tokens
    file (``tokens``) on the shared broker and ClickHouse; their settings once both are up.
    Both are stopped and the database dropped after."""
    from clickhouse_driver import Client

    from infra.migrate import migrate
    from infra.topics import ensure_stream_topics

    env = stack_env(run_id, tmp, GRIDWALL_TOPIC_PREFIX=f"{tag}{run_id}.",
                    GRIDWALL_CLICKHOUSE_DATABASE=f"gw_{tag}_{run_id}",
                    GRIDWALL_KAFKA_BOOTSTRAP=infra.kafka_bootstrap,
                    GRIDWALL_CLICKHOUSE_HOST=infra.clickhouse_host,
                    GRIDWALL_CLICKHOUSE_PORT=str(infra.clickhouse_port))
    s = settings_from({k: v for k, v in env.items() if k.startswith("GRIDWALL_")})
    client = Client(s.clickhouse_host, port=s.clickhouse_port)
    list(migrate(client, s.clickhouse_database))
    ensure_stream_topics(s)
    Path(s.resolved_tokens_file).write_text(json.dumps(tokens))
    Path(s.resolved_tokens_file).chmod(0o600)
    procs: list[Proc] = []
    try:
        procs.append(Proc("worker", ["worker", "--worker-id", f"{tag}-worker", "--loglevel",
                                     "info"], env, tmp))
        procs.append(Proc("gateway", ["gateway"], env, tmp))
        procs[0].wait_log("Worker]: Ready", 120)
        procs[1].wait_http(f"http://127.0.0.1:{s.gateway_port}/healthz", 90)
        yield s
    finally:
        for proc in reversed(procs):
            proc.stop()
        if not os.environ.get("GRIDWALL_TEST_KEEP_DATA"):
            client.execute(f"DROP DATABASE IF EXISTS {s.clickhouse_database}")
        client.disconnect()


@pytest.fixture(scope="module")
def stack(infra: Settings, run_id: str, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[str]:
    """Worker and gateway of their own prefix, database and tokens; the gateway's URL."""
    with worker_and_gateway(infra, run_id, tmp_path_factory.mktemp("refusals"), "cr",
                            TOKENS) as s:
        yield f"http://127.0.0.1:{s.gateway_port}"


class Client:
    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=30)
        self.n = 0

    def step(self, token: str, action: str, case: str, **fields: Any) -> httpx.Response:
        self.n += 1
        event = {"event_id": f"{case}.{self.n}", "case_id": case, "action": action,
                 "ts": int(time.time() * 1000), "source": "grid_worker_app", "grid_id": GRID,
                 **fields}
        if action == "report":
            event.update(category="noise", source="resident_app")
        return self.http.post("/v1/cases/events", json=event,
                              headers={"Authorization": f"Bearer {token}"})

    def status(self, token: str, event_id: str, wait: bool = True) -> dict[str, Any]:
        response = self.http.get(f"/v1/cases/events/{event_id}",
                                 params={"wait": "1"} if wait else {},
                                 headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        return dict(response.json())


def accepted(response: httpx.Response) -> str:
    assert response.status_code == 202, response.text
    return str(response.json()["ids"][0])


def test_refusals_are_visible_to_their_sender(stack: str, run_id: str) -> None:
    gw = Client(stack)
    case = f"cr-{run_id}-1"
    report = accepted(gw.step(RESIDENTS, "report", case, actor="resident-7"))
    assert gw.status(RESIDENTS, report) == {
        "event_id": report, "status": "applied", "reason": "", "step": "reported",
        "case_id": case, "source": "resident_app"}
    # outside the resident's authority: 403 naming the rule, at once
    refused = gw.step(RESIDENTS, "verify", case, actor="resident-7", source="resident_app")
    assert refused.status_code == 403
    assert refused.json()["reason"].startswith("resident.may-not-verify")
    # another actor than the token's person
    other = gw.step(OFFICER, "verify", case, actor="CC-duty")
    assert other.status_code == 403 and other.json()["field"] == "actor"
    assert other.json()["reason"].startswith("actor.is-token-person")
    verify = accepted(gw.step(OFFICER, "verify", case))
    assert gw.status(OFFICER, verify)["step"] == "verified"
    # illegal from the state the gateway knows: 409 with the reason, at once
    close = gw.step(CHIEF, "close", case)
    assert close.status_code == 409
    assert "'close' is not allowed from step 'verified'" in close.json()["reason"]


def test_a_step_only_the_worker_can_judge_has_a_readable_verdict(stack: str,
                                                                 run_id: str) -> None:
    gw = Client(stack)
    unknown = f"cr-{run_id}-never-reported"
    pending = gw.status(LEGACY, "no-such-event", wait=False)
    assert pending["status"] == "pending"
    began = time.perf_counter()
    event_id = accepted(gw.step(LEGACY, "verify", unknown, actor="someone"))
    verdict = gw.status(LEGACY, event_id)
    waited = time.perf_counter() - began
    assert verdict["status"] == "refused"
    assert "needs an existing case" in verdict["reason"]
    print(f"verdict of a worker-judged step readable {waited * 1000:.0f} ms after the POST")


def test_the_status_needs_a_token(stack: str) -> None:
    response = httpx.get(f"{stack}/v1/cases/events/x")
    assert response.status_code == 401
