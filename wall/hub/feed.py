"""The hub's one Kafka consumer: wall updates and alerts, replayed on start, then live.

:class:`WallFeed` reads every partition of ``WALL_UPDATES`` and ``ALERTS`` (aiokafka, no
consumer group, no commits: every hub reads everything and keeps no offsets).

- **Rebuild on start** (:meth:`WallFeed.start`): each partition is read from
  ``max(beginning, end - replay_per_partition)`` up to the end offset seen at start, and
  handed to the sink before :meth:`~WallFeed.start` returns, so the state is current when
  the first client connects. Keys last updated before that window are absent from the
  hub's snapshots (the Panel wall hydrates from ClickHouse anyway).
- **Live** (:meth:`WallFeed.run`): batches of at most ``max_records`` records go to the
  sink in partition order; per key, order is topic order (a key lives in one partition).
- The alerts topic carries the worker's one publication of each alert change, an
  ``alerts`` :class:`~domain.schemas.WallUpdate` (a low-volume topic of its own, so a
  restart replays every recent alert); a record of another channel there is refused.
- A record that does not decode, is larger than :data:`MAX_RECORD_BYTES` or nested deeper
  than :data:`~domain.wire.MAX_DEPTH` (refused before decoding), or names an unknown
  channel, is counted in
  ``records_rejected``, logged (at most once per :data:`LOG_EVERY_S` seconds) and skipped;
  it never stops the feed.
- Partitions added after start are not read until the hub restarts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

import msgspec
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from core.clients import aiokafka_client_options
from core.settings import Settings
from domain.contracts.topics import ALERTS, WALL_UPDATES
from domain.schemas import WallUpdate
from domain.wire import WireError, check_bounds, decode
from wall.hub.protocol import CHANNELS
from wall.hub.stats import HubStats

log = logging.getLogger("gridwall.hub.feed")
LOG_EVERY_S = 10.0
MAX_RECORD_BYTES = 1_048_576  # Kafka's default largest message
TOPIC_WAIT_S = 10.0


class Sink(Protocol):
    """Where decoded updates go (:meth:`wall.hub.fanout.Fanout.publish`)."""

    def __call__(self, updates: list[WallUpdate]) -> None:
        """Apply ``updates`` in order."""


_updates = msgspec.json.Decoder(WallUpdate)


class FeedError(RuntimeError):
    """The feed cannot start (a topic is missing, the broker is unreachable)."""


def decode_record(is_alert: bool, value: bytes | None) -> WallUpdate:
    """One record's value (of the alerts topic if ``is_alert``) as a :class:`WallUpdate`;
    raise :class:`WireError` if invalid."""
    if value is None:
        raise WireError(None, "empty record")
    check_bounds(value, max_bytes=MAX_RECORD_BYTES, what="record")
    try:
        update = _updates.decode(value)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        decode(value, WallUpdate)  # raises the field-naming error
        raise WireError(None, str(exc)) from None
    if update.channel not in CHANNELS:
        raise WireError("channel", f"unknown channel '{update.channel}'")
    if is_alert and update.channel != "alerts":
        raise WireError("channel", f"channel '{update.channel}' on the alerts topic")
    return update


class WallFeed:
    """Replay, then follow, the wall topics into ``sink``; see the module docstring."""

    def __init__(self, settings: Settings, sink: Sink, stats: HubStats, *,
                 replay_per_partition: int = 50_000, max_records: int = 1000,
                 fetch_max_wait_ms: int = 50) -> None:
        self.settings = settings
        self.sink = sink
        self.stats = stats
        self.replay_per_partition = replay_per_partition
        self.max_records = max_records
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.state = "stopped"
        self._alerts_topic = ALERTS.name(settings.topic_prefix)
        self._topics = (WALL_UPDATES.name(settings.topic_prefix), self._alerts_topic)
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions: list[TopicPartition] = []
        self._replay_end: dict[TopicPartition, int] = {}
        self._last_log = 0.0

    async def start(self) -> int:
        """Connect, assign every partition and replay the window; return records replayed."""
        self.state = "starting"
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap, client_id="gridwall-hub",
            group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
            fetch_max_wait_ms=self.fetch_max_wait_ms,
            **aiokafka_client_options(self.settings))
        try:
            await consumer.start()
        except Exception as exc:
            raise FeedError(f"Kafka at {self.settings.kafka_bootstrap}: {exc}") from exc
        self._consumer = consumer
        try:
            self._partitions = await self._assign(consumer)
            replayed = await self._replay(consumer)
        except BaseException:
            await self.stop()
            raise
        self.state = "running"
        return replayed

    async def _partitions_of(self, consumer: AIOKafkaConsumer, topic: str) -> set[int]:
        # A topic created a moment ago may take a few metadata refreshes to appear.
        deadline = time.monotonic() + TOPIC_WAIT_S
        while True:
            # consumer.topics() fetches the same metadata but returns only the names.
            cluster = await consumer._client.fetch_all_metadata()
            numbers = cluster.partitions_for_topic(topic)
            if numbers:
                return set(numbers)
            if time.monotonic() >= deadline:
                raise FeedError(f"topic {topic} does not exist (run `gridwall topics ensure`)")
            await asyncio.sleep(0.2)

    async def _assign(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        partitions: list[TopicPartition] = []
        for topic in self._topics:
            numbers = await self._partitions_of(consumer, topic)
            partitions += [TopicPartition(topic, n) for n in sorted(numbers)]
        consumer.assign(partitions)
        begin = await consumer.beginning_offsets(partitions)
        end = await consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, max(begin[tp], end[tp] - self.replay_per_partition))
        self._replay_end = end
        return partitions

    async def _replay(self, consumer: AIOKafkaConsumer) -> int:
        self.state = "replaying"
        before = self.stats.records_in
        waiting = [tp for tp in self._partitions
                   if await consumer.position(tp) < self._replay_end[tp]]
        while waiting:
            self._handle(await consumer.getmany(*waiting, timeout_ms=500,
                                                max_records=self.max_records))
            waiting = [tp for tp in waiting if await consumer.position(tp) < self._replay_end[tp]]
        self.stats.replayed = self.stats.records_in - before
        return self.stats.replayed

    async def run(self) -> None:
        """Follow the topics until cancelled, handing each batch to the sink."""
        consumer = self._require()
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=1000, max_records=self.max_records)
                if batch:
                    self._handle(batch)
                    # Let the clients' writers take what was just offered before the next batch.
                    await asyncio.sleep(0)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.state = "failed"
            log.exception("wall feed failed")
            raise

    async def lag(self) -> int | None:
        """Records behind the high-water marks, summed over partitions (None before start)."""
        if self._consumer is None or self.state not in ("running", "replaying"):
            return None
        total = 0
        for tp in self._partitions:
            high = self._consumer.highwater(tp)
            if high is not None:
                total += max(0, high - await self._consumer.position(tp))
        return total

    def fetch_age_s(self) -> float | None:
        """Seconds since the broker last answered a fetch (None before the first answer).

        While connected it stays below a second even when no records come (empty fetches
        answer every ``fetch_max_wait_ms``); a growing age means the broker is unreachable.
        """
        if self._consumer is None:
            return None
        stamps = [self._consumer.last_poll_timestamp(tp) for tp in self._partitions]
        known = [stamp for stamp in stamps if stamp is not None]
        return round(time.time() - max(known) / 1000, 3) if known else None

    async def stop(self) -> None:
        """Close the consumer (idempotent)."""
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()
        self.state = "stopped"

    def _require(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise FeedError("the feed is not started")
        return self._consumer

    def _handle(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        updates: list[WallUpdate] = []
        for tp, records in batch.items():
            is_alert = tp.topic == self._alerts_topic
            for record in records:
                try:
                    updates.append(decode_record(is_alert, record.value))
                except WireError as exc:
                    self._reject(tp, record.offset, exc)
            self.stats.records_in += len(records)
        if updates:
            self.sink(updates)

    def _reject(self, tp: TopicPartition, offset: int, exc: WireError) -> None:
        self.stats.records_rejected += 1
        now = time.monotonic()
        if now - self._last_log >= LOG_EVERY_S:
            self._last_log = now
            log.warning("skipping record %s[%d]@%d: %s (%d rejected so far)", tp.topic,
                        tp.partition, offset, exc, self.stats.records_rejected)
