"""Consumer lag per partition, sampled from a Kafka consumer (Faust's or a plain aiokafka one).

Guarantee: :func:`consumer_lags` returns, for every partition the consumer owns now (topics
ending in one of ``skip`` left out), the highwater of its last fetch minus its position; a
partition without a position or a fetched highwater yet, or one moving in a rebalance, is
left out rather than reported as 0. It never raises for one partition and never waits more
than ``timeout_s`` for one position.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def consumer_lags(consumer: Any, skip: tuple[str, ...] = (), timeout_s: float = 1.0
                        ) -> dict[tuple[str, int], int]:
    """(topic, partition) -> lag of the partitions ``consumer`` owns; see the module doc."""
    lags: dict[tuple[str, int], int] = {}
    for tp in list(consumer.assignment()):
        if skip and tp.topic.endswith(skip):
            continue
        with contextlib.suppress(Exception):  # partition moving in a rebalance
            position = await asyncio.wait_for(consumer.position(tp), timeout_s)
            highwater = consumer.highwater(tp)
            if position is not None and highwater is not None:
                lags[(tp.topic, tp.partition)] = highwater - position
    return lags
