"""The dead-letter copy of a refused input, with no credential and no unmasked personal data.

:func:`dead_letter` builds the :class:`~domain.schemas.DeadLetter`. A body of at most
:data:`RAW_LIMIT` bytes goes through :func:`domain.privacy.scrub_payload` (``api_key``,
tokens, passwords removed at any depth; names, phones, ID numbers masked, and personal
patterns in free text); a longer one is cut to RAW_LIMIT bytes first and scrubbed as text
(inline fields and patterns), so the work per refusal is bounded. ``raw_truncated`` says it
was cut; the reason is scrubbed as text too.

:class:`DeadLetters` produces nothing for refusals in
:data:`~ingest.gateway.rejects.NOT_STORED` (401, 408, 429, 499) nor for any refusal of a
request that presented no token the book knows (a 413 or 415 refused before the token was
read; :func:`~ingest.gateway.auth.authenticated`): the caller counts them. It produces the
others keyed by the feed name (a refused input often has no grid) and waits a
bounded time for the acknowledgement: the refusal is answered either way, a copy Kafka did
not acknowledge is logged with its reason and counted, never raised.
"""

from __future__ import annotations

import asyncio
import logging
import time

from core.kafka_records import KafkaUnavailable, OutRecord
from domain.contracts.topics import DEAD_LETTER
from domain.privacy import scrub_payload, scrub_text
from domain.schemas import DeadLetter
from domain.wire import encode
from ingest.gateway.auth import authenticated
from ingest.gateway.metrics import GatewayMetrics
from ingest.gateway.producer import Producer
from ingest.gateway.rejects import NOT_STORED, Rejected

log = logging.getLogger(__name__)
RAW_LIMIT = 65536
STAGE = "gateway"


def dead_letter(source: str, rejected: Rejected, raw: bytes, now_ms: int,
                cut: bool = False) -> DeadLetter:
    """The dead-letter record of ``raw`` refused for ``rejected``: scrubbed, then capped at
    RAW_LIMIT bytes; ``cut`` says ``raw`` is already only the start of the body."""
    cut = cut or len(raw) > RAW_LIMIT
    text = raw[:RAW_LIMIT].decode("utf-8", errors="ignore" if cut else "replace")
    scrubbed = (scrub_text(text) if cut else scrub_payload(text)).encode()
    truncated = cut or len(scrubbed) > RAW_LIMIT
    text = scrubbed[:RAW_LIMIT].decode("utf-8", errors="ignore")
    return DeadLetter(source=source, reason=scrub_text(f"{rejected.code}: {rejected.reason}"),
                      ts=now_ms, stage=STAGE, field=rejected.field, raw=text,
                      raw_truncated=truncated)


class DeadLetters:
    """Writes dead-letter records through a producer, waiting at most ``wait_s`` for the ack."""

    def __init__(self, producer: Producer, metrics: GatewayMetrics, wait_s: float = 2.0) -> None:
        self._producer = producer
        self._metrics = metrics
        self._wait_s = wait_s

    async def record(self, source: str, rejected: Rejected, raw: bytes) -> bool:
        """Produce the copy; True once acknowledged, False (logged, counted) otherwise, or
        when the refusal is one that is not stored."""
        if rejected.status in NOT_STORED or not authenticated():
            return False
        letter = dead_letter(source, rejected, raw, int(time.time() * 1000),
                             cut=rejected.status == 413)
        record = OutRecord(DEAD_LETTER, source, encode(letter))
        # On timeout the copy still goes out with a later round; its outcome is then only
        # retrieved (so asyncio does not warn), the refusal is already answered.
        sending = asyncio.ensure_future(self._producer.produce([record]))
        sending.add_done_callback(_retrieve)
        try:
            await asyncio.wait_for(asyncio.shield(sending), self._wait_s)
            return True
        except (KafkaUnavailable, TimeoutError) as exc:
            self._metrics.deadletter_failures.inc()
            log.error("dead-letter copy not acknowledged (%s); refused %s input: %s",
                      exc or "timeout", source, letter.reason)
            return False


def _retrieve(task: asyncio.Future[None]) -> None:
    if not task.cancelled():
        task.exception()
