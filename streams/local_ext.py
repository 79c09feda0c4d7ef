"""What a job or stage needs of its worker, in one process without Kafka (benches, tests).

:class:`LocalExt` offers the worker's ``topic``, ``now_ms``, ``handles``, ``health`` and
``outbox``; every send through an outbox it makes is acknowledged at once, counted in
``sends`` and, with ``keep`` (the default), kept in ``sent`` as (topic, key, value).
Topics are the base names (no prefix); the outbox writes rows to ``rows``, wall updates to
``wall`` and dead letters to ``dead``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from streams.health.job import JobHealth
from streams.outbox import Outbox


class LocalExt:
    """See the module docstring."""

    def __init__(self, name: str = "local", keep: bool = True) -> None:
        self.keep = keep
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.sends = 0
        self.handles: dict[str, Any] = {}
        self.health = JobHealth(name)

    def topic(self, base: str) -> str:
        """Topics keep their base names."""
        return base

    def now_ms(self) -> int:
        """Wall clock in epoch ms."""
        return int(time.time() * 1000)

    def outbox(self) -> Outbox:
        """An outbox whose sends are acknowledged at once (and kept, see ``keep``)."""
        async def send(topic: str, key: bytes, value: bytes) -> Any:
            self.sends += 1
            if self.keep:
                self.sent.append((topic, key, value))
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done

        return Outbox(send, "rows", "wall", "dead")
