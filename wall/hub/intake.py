"""Command intake: validate, stamp, produce to Kafka with acks=all, answer ack or error.

:meth:`CommandIntake.command` and :meth:`CommandIntake.tune` return the one frame to send
back: ``ack`` (with the ``command_id``) only after the broker acknowledged the record
(acks=all, idempotent producer), else ``error`` naming the field and the problem. Producing
runs in a worker thread, so a slow broker never blocks the event loop (other clients keep
receiving updates meanwhile). Nothing raises out of these methods.

The producer is a self-healing :class:`~core.kafka_writer.KafkaWriter`: after a broker crash a
command is answered ``error`` (``unavailable``) within about the writer's ack timeout, and
the first command after the broker is back goes through a fresh producer. :meth:`close`
gives up on unacknowledged records after :data:`CLOSE_TIMEOUT_S` (logged), so a hub stops
promptly with its broker down.

Records: a :class:`~domain.schemas.Command` goes to ``COMMANDS`` keyed by its grid (see
:func:`wall.hub.commands.record_key`); a :class:`~domain.schemas.ConfigChange` goes to
``CONTROL`` keyed by its config key. The ``command_id`` in a tune's ack identifies the
request only (a ConfigChange has no id field).
"""

from __future__ import annotations

import asyncio
import logging

from core.auth import Principal
from core.kafka_records import KafkaUnavailable, OutRecord
from core.kafka_writer import KafkaWriter
from core.settings import Settings
from domain.contracts.topics import COMMANDS, CONTROL
from domain.wire import encode
from wall.hub.commands import (
    GridLookup,
    Rejected,
    build_command,
    build_tune,
    new_command_id,
    record_key,
)
from wall.hub.protocol import AckMsg, CommandMsg, TuneMsg, error_frame, frame
from wall.hub.stats import HubStats, now_ms

log = logging.getLogger("gridwall.hub.intake")
CLOSE_TIMEOUT_S = 5.0


class CommandIntake:
    """Owns the hub's producer; one instance per hub."""

    def __init__(self, settings: Settings, stats: HubStats, lookup: GridLookup) -> None:
        self.settings = settings
        self.stats = stats
        self.lookup = lookup
        self._writer: KafkaWriter | None = None

    async def start(self) -> None:
        """Create the producer (it connects to the broker) off the event loop."""
        self._writer = await asyncio.to_thread(KafkaWriter, self.settings, "gridwall-hub")

    async def close(self) -> None:
        """Flush (at most :data:`CLOSE_TIMEOUT_S`) and close the producer (idempotent)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            await asyncio.to_thread(writer.close, CLOSE_TIMEOUT_S)

    async def command(self, msg: CommandMsg, who: Principal) -> bytes:
        """Handle a ``command`` message; return the ``ack`` or ``error`` frame."""
        try:
            command = build_command(msg, who, now_ms(), self.lookup)
            await self._produce(OutRecord(COMMANDS, record_key(command), encode(command)))
        except Rejected as exc:
            return self._refused(msg.ref, exc)
        self.stats.commands_accepted += 1
        log.info("command %s %s by %s (%s) alert=%s case=%s", command.command_id,
                 command.kind, command.actor, command.role, command.alert_id, command.case_id)
        return frame(AckMsg(ref=msg.ref, command_id=command.command_id, kind=command.kind))

    async def tune(self, msg: TuneMsg, who: Principal) -> bytes:
        """Handle a ``tune`` message; return the ``ack`` or ``error`` frame."""
        try:
            change = build_tune(msg, who, now_ms())
            await self._produce(OutRecord(CONTROL, change.key, encode(change)))
        except Rejected as exc:
            return self._refused(msg.ref, exc)
        self.stats.commands_accepted += 1
        request_id = new_command_id()
        log.info("tune %s %s by %s (%s)", request_id, change.key, change.actor, who.role)
        return frame(AckMsg(ref=msg.ref, command_id=request_id, kind="tune"))

    def _refused(self, ref: str | None, exc: Rejected) -> bytes:
        self.stats.commands_rejected += 1
        return error_frame(ref, exc.code, exc.field, exc.reason)

    async def _produce(self, record: OutRecord) -> None:
        writer = self._writer
        if writer is None:
            raise Rejected("unavailable", None, "the hub is not connected to Kafka")
        try:
            await asyncio.to_thread(writer.send_all, [record])
        except KafkaUnavailable as exc:
            log.warning("not produced: %s", exc)
            raise Rejected("unavailable", None, "Kafka did not acknowledge; retry") from None
