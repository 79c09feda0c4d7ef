"""Is a produce acknowledged? What ``GET /healthz`` reports.

:meth:`ProduceHealth.check` is healthy when the gateway's producer acknowledged a produce
within the last ``fresh_s`` seconds; otherwise it produces one canary record to the
``gridwall.health`` topic through the same producer the writes use and waits at most
``timeout_s`` for its acknowledgement. Guarantees:

* healthy means Kafka acknowledged a record (acks=all) at most ``fresh_s`` seconds ago or
  during this check -- not merely that a TCP port opens;
* a check answers within about ``timeout_s``, whatever the broker does;
* concurrent checks share one canary, so probes cannot flood the topic;
* a failing canary takes part in the producer's healing like any refused write (the writer
  replaces a producer that stopped acknowledging).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass

from starlette.responses import Response

from core.kafka_records import KafkaUnavailable, OutRecord
from domain.contracts.topics import HEALTH
from domain.wire import encode
from ingest.gateway.producer import Producer
from ingest.gateway.responses import json_response, retry_later


@dataclass(frozen=True)
class Health:
    """The outcome of one check: healthy or not, why, and the age of the last ack."""

    ok: bool
    reason: str
    last_ack_s: float | None

    def body(self) -> dict[str, object]:
        """The JSON body of ``/healthz``."""
        age = None if self.last_ack_s is None else round(self.last_ack_s, 3)
        if self.ok:
            return {"status": "ok", "kafka": "acknowledged", "last_ack_s": age}
        return {"status": "unavailable", "kafka": "not_acknowledged", "reason": self.reason,
                "last_ack_s": age}


class ProduceHealth:
    """Checks of one producer (one per gateway process; see the module docstring)."""

    def __init__(self, producer: Producer, fresh_s: float = 5.0, timeout_s: float = 5.0,
                 source: str = "gateway") -> None:
        self._producer = producer
        self.fresh_s = fresh_s
        self.timeout_s = timeout_s
        self._key = f"{source}-{os.getpid()}"
        self._canary: asyncio.Task[None] | None = None

    def _age(self) -> float | None:
        acked = self._producer.acked_at
        return None if acked == float("-inf") else time.monotonic() - acked

    async def check(self) -> Health:
        """Healthy if a recent produce was acknowledged or a canary is, within the bound."""
        age = self._age()
        if age is not None and age <= self.fresh_s:
            return Health(True, "recent produce acknowledged", age)
        if self._canary is None or self._canary.done():
            self._canary = asyncio.ensure_future(self._send_canary())
            self._canary.add_done_callback(_retrieve)
        try:
            await asyncio.wait_for(asyncio.shield(self._canary), self.timeout_s)
        except TimeoutError:
            return Health(False, f"no acknowledgement within {self.timeout_s:g} s",
                          self._age())
        except KafkaUnavailable as exc:
            return Health(False, str(exc), self._age())
        return Health(True, "canary acknowledged", self._age())

    async def _send_canary(self) -> None:
        value = encode({"source": self._key, "ts": int(time.time() * 1000)})
        await self._producer.produce([OutRecord(HEALTH, self._key, value)])

    async def close(self) -> None:
        """Stop waiting for a canary still in flight."""
        if self._canary is not None and not self._canary.done():
            self._canary.cancel()
            with contextlib.suppress(asyncio.CancelledError, KafkaUnavailable):
                await self._canary


def _retrieve(task: asyncio.Task[None]) -> None:
    """Mark a canary's failure as seen (a check that timed out no longer awaits it)."""
    if not task.cancelled():
        task.exception()


async def healthz(health: ProduceHealth) -> Response:
    """200 with the check's body if healthy, else 503 with ``Retry-After``."""
    outcome = await health.check()
    if outcome.ok:
        return json_response(outcome.body())
    return retry_later(outcome.body())
