"""``GET /v1/cases/events/{event_id}``: the worker's verdict on a case event, readable by its
sender.

:class:`VerdictBook` keeps the latest verdict per event id (bounded: the oldest are
forgotten first) and wakes whoever waits for one. :class:`VerdictFollower` fills it from the
case verdicts topic (:data:`domain.contracts.topics.CASE_VERDICTS`): it assigns every
partition, starts :data:`REPLAY_PER_PARTITION` records before the end, and retries every
second while Kafka or the topic is missing, so the gateway starts without Kafka.

The answer (any token that may ingest; 401/403 otherwise) is ``{"event_id", "status",
"reason", "step", "case_id"}`` with ``status`` ``applied``, ``refused`` or ``pending`` (no
verdict yet, or never sent); ``?wait=1`` waits up to :data:`WAIT_S` seconds for a verdict
before answering ``pending``. ``?source=`` picks the verdict of that source when event ids
of several sources collide.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition
from starlette.requests import Request
from starlette.responses import Response

from core.clients import aiokafka_client_options
from core.settings import Settings
from domain.contracts.topics import CASE_VERDICTS
from domain.verdicts import CaseVerdict
from ingest.gateway.auth import authorize, bearer_token
from ingest.gateway.context import GatewayContext
from ingest.gateway.rejects import Rejected
from ingest.gateway.responses import challenge, json_response

log = logging.getLogger(__name__)
WAIT_S = 5.0
MAX_VERDICTS = 200_000
REPLAY_PER_PARTITION = 10_000
RETRY_S = 1.0
_DECODER = msgspec.json.Decoder(CaseVerdict)


class VerdictBook:
    """The latest verdicts by event id, and the waiters for those still to come."""

    def __init__(self, max_verdicts: int = MAX_VERDICTS) -> None:
        self.max_verdicts = max_verdicts
        self._by_event: OrderedDict[str, list[CaseVerdict]] = OrderedDict()
        self._waiters: dict[str, asyncio.Event] = {}

    def add(self, verdict: CaseVerdict) -> None:
        """Keep ``verdict`` (replacing an earlier one of the same source) and wake waiters."""
        kept = [v for v in self._by_event.pop(verdict.event_id, []) if v.source != verdict.source]
        self._by_event[verdict.event_id] = [*kept, verdict]
        while len(self._by_event) > self.max_verdicts:
            self._by_event.popitem(last=False)
        waiter = self._waiters.pop(verdict.event_id, None)
        if waiter is not None:
            waiter.set()

    def get(self, event_id: str, source: str | None = None) -> CaseVerdict | None:
        """The latest verdict on ``event_id`` (of ``source`` if given), or None."""
        found = [v for v in self._by_event.get(event_id, [])
                 if source is None or v.source == source]
        return found[-1] if found else None

    async def wait(self, event_id: str, source: str | None, timeout_s: float
                   ) -> CaseVerdict | None:
        """The verdict, waiting up to ``timeout_s`` for it to arrive."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while (verdict := self.get(event_id, source)) is None:
            left = deadline - loop.time()
            if left <= 0:
                return None
            waiter = self._waiters.setdefault(event_id, asyncio.Event())
            try:
                await asyncio.wait_for(waiter.wait(), left)
            except TimeoutError:
                return None
        return verdict


class VerdictFollower:
    """Follows the case verdicts topic into a :class:`VerdictBook` (see the module)."""

    def __init__(self, settings: Settings, book: VerdictBook) -> None:
        self.settings = settings
        self.book = book
        self.topic = CASE_VERDICTS.name(settings.topic_prefix)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run in the background until :meth:`stop`."""
        self._task = asyncio.create_task(self._run(), name="verdict-follower")

    async def stop(self) -> None:
        """Stop following."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Kafka away: retry, never stop
                log.warning("verdicts: cannot follow %s (%s); retrying", self.topic, exc)
            await asyncio.sleep(RETRY_S)

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap, client_id="gridwall-gateway",
            group_id=None, enable_auto_commit=False, fetch_max_wait_ms=100,
            **aiokafka_client_options(self.settings))
        await consumer.start()
        try:
            numbers = consumer.partitions_for_topic(self.topic) or set()
            if not numbers:
                await consumer._client.force_metadata_update()
                numbers = consumer.partitions_for_topic(self.topic) or set()
            if not numbers:
                raise RuntimeError(f"topic {self.topic} does not exist yet")
            partitions = [TopicPartition(self.topic, n) for n in sorted(numbers)]
            consumer.assign(partitions)
            end = await consumer.end_offsets(partitions)
            begin = await consumer.beginning_offsets(partitions)
            for tp in partitions:
                consumer.seek(tp, max(begin[tp], end[tp] - REPLAY_PER_PARTITION))
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=5_000)
                for records in batches.values():
                    for record in records:
                        self._take(record.value)
        finally:
            await consumer.stop()

    def _take(self, value: bytes | None) -> None:
        try:
            self.book.add(_DECODER.decode(value or b""))
        except msgspec.DecodeError:
            log.warning("verdicts: an undecodable record on %s skipped", self.topic)


async def event_status(ctx: GatewayContext, book: VerdictBook, request: Request) -> Response:
    """The answer of ``GET /v1/cases/events/{event_id}`` (see the module docstring)."""
    try:
        authorize(ctx.tokens, bearer_token(request.headers.get("authorization")))
    except Rejected as exc:
        return json_response(exc.body(), exc.status, challenge(exc.status))
    event_id = request.path_params["event_id"]
    source = request.query_params.get("source") or None
    wait = request.query_params.get("wait", "") not in ("", "0", "false")
    verdict = (await book.wait(event_id, source, WAIT_S) if wait
               else book.get(event_id, source))
    if verdict is None:
        return json_response({"event_id": event_id, "status": "pending", "reason": "",
                              "step": None, "case_id": None})
    return json_response({"event_id": event_id, "status": verdict.verdict,
                          "reason": verdict.reason, "step": verdict.step,
                          "case_id": verdict.case_id, "source": verdict.source})
