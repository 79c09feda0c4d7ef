"""Live configuration from the compacted control topic, read whole by every worker.

Every worker must apply every change, so the control topic is read without a consumer
group: :func:`load_latest` reads it from the beginning to its end before the worker starts
(a new worker starts from the latest config), and :class:`ControlFollower` continues from
there while the worker runs (changes apply within about a second). Each change is validated
by :meth:`LiveConfig.apply`; every verdict becomes an audit row (``config_changes``, keyed
by control offset, so N workers auditing the same change leave one row), and a rejected
change also becomes a dead letter with the reason.

No record can stop a worker (at start or while it runs): :func:`apply_record` refuses a
record larger than :data:`MAX_RECORD_BYTES` or nested deeper than
:data:`~domain.wire.MAX_DEPTH` before decoding it, and turns anything a validator raises
into a rejection; such a record is dead-lettered with its reason and skipped, and the next
record applies as usual.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from core.clients import aiokafka_client_options, kafka_client_options
from core.settings import Settings
from domain.contracts.topics import CONTROL
from domain.schemas import ConfigChange
from domain.wire import WireError, decode_bounded
from streams.config import ConfigVerdict, LiveConfig
from streams.outbox import Outbox

log = logging.getLogger(__name__)
MAX_RECORD_BYTES = 65_536  # the hub refuses larger frames, hence larger tunes


@dataclass(frozen=True)
class Applied:
    """One control record as applied: its offset, the change (None if undecodable), verdict."""

    offset: int
    raw: bytes
    change: ConfigChange | None
    verdict: ConfigVerdict | None
    error: str = ""
    stage: str = "control.decode"  # of the dead letter when there is no verdict


def apply_record(config: LiveConfig, offset: int, raw: bytes | None) -> Applied | None:
    """Decode and apply one control record (a tombstone is ignored); never raises."""
    if raw is None:
        return None
    try:
        change = decode_bounded(raw, ConfigChange, max_bytes=MAX_RECORD_BYTES, what="record")
    except WireError as exc:
        return Applied(offset, raw, None, None, str(exc))
    try:
        verdict = config.apply(change)
    except Exception as exc:  # noqa: BLE001 - a validator's surprise must not stop the worker
        log.warning("control record %d (%s) refused: %r", offset, change.key, exc)
        return Applied(offset, raw, change, None, f"{change.key}: {type(exc).__name__}: {exc}",
                       "control.apply")
    return Applied(offset, raw, change, verdict)


def audit(outbox: Outbox, applied: Applied) -> None:
    """Queue the audit row (and the dead letter of a rejection) of one applied record."""
    change, verdict = applied.change, applied.verdict
    if change is None or verdict is None:
        outbox.dead(applied.stage, "control", applied.error[:500],
                    change.ts if change else 0, applied.raw)
        return
    outbox.row("config_changes", {
        "ts_ms": change.ts, "config_key": change.key, "control_offset": applied.offset,
        "actor": change.actor, "accepted": int(verdict.accepted), "reason": verdict.reason,
        "before": json.dumps(verdict.before, sort_keys=True),
        "after": json.dumps(verdict.after, sort_keys=True)}, identity=applied.offset)
    if not verdict.accepted:
        outbox.dead("control", "control", verdict.reason, change.ts, applied.raw)


def load_latest(settings: Settings, config: LiveConfig, timeout_s: float = 15.0
                ) -> tuple[int, list[Applied]]:
    """Apply the whole control topic to ``config``; return the next offset and what applied."""
    from kafka import KafkaConsumer
    from kafka import TopicPartition as KTP

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None,
                             enable_auto_commit=False, consumer_timeout_ms=1000,
                             **kafka_client_options(settings))
    tp = KTP(CONTROL.name(settings.topic_prefix), 0)
    applied: list[Applied] = []
    try:
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp])[tp]
        position = consumer.position(tp)
        waited = 0.0
        while position < end and waited < timeout_s:
            batch = consumer.poll(timeout_ms=500)
            waited += 0.5
            for record in batch.get(tp, []):
                result = apply_record(config, record.offset, record.value)
                if result is not None:
                    applied.append(result)
            position = consumer.position(tp)
        return position, applied
    finally:
        consumer.close()


class ControlFollower:
    """Follows the control topic from ``start_offset``, applying and (``audits``) auditing
    each change. A follower that does not audit applies the keys its process registered
    and leaves the audit rows and dead letters to the process that knows every key."""

    def __init__(self, settings: Settings, config: LiveConfig, start_offset: int,
                 new_outbox: Callable[[], Outbox], backlog: list[Applied], *,
                 audits: bool = True) -> None:
        self.settings = settings
        self.audits = audits
        self.config = config
        self.start_offset = start_offset
        self.new_outbox = new_outbox
        self.backlog = backlog

    async def run(self, stopping: asyncio.Event) -> None:
        """Audit the start-up backlog, then follow until ``stopping`` is set."""
        await self._emit(self.backlog)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap,
                                    group_id=None, enable_auto_commit=False,
                                    fetch_max_wait_ms=200,
                                    **aiokafka_client_options(self.settings))
        tp = TopicPartition(CONTROL.name(self.settings.topic_prefix), 0)
        await consumer.start()
        try:
            consumer.assign([tp])
            consumer.seek(tp, self.start_offset)
            while not stopping.is_set():
                fetched = await consumer.getmany(tp, timeout_ms=500)
                applied = [a for r in fetched.get(tp, [])
                           if (a := apply_record(self.config, r.offset, r.value))]
                for item in applied:
                    log.info("control: %s %s", item.change.key if item.change else "?",
                             "applied" if item.verdict and item.verdict.accepted
                             else "rejected")
                await self._emit(applied)
        finally:
            await consumer.stop()

    async def _emit(self, applied: list[Applied]) -> None:
        if not applied or not self.audits:
            return
        outbox = self.new_outbox()
        for item in applied:
            audit(outbox, item)
        await outbox.flush()


