"""Is Kafka reachable? A TCP connect to a bootstrap address, bounded in time.

It proves the broker's listener answers, not that a produce would succeed; ``/healthz``
reports it, the produce path has its own guarantee.
"""

from __future__ import annotations

import asyncio


async def kafka_reachable(bootstrap: str, timeout_s: float = 1.0) -> bool:
    """True if any ``host:port`` of ``bootstrap`` accepts a connection within ``timeout_s``."""
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)),
                                               timeout_s)
        except (OSError, TimeoutError, ValueError):
            continue
        writer.close()
        return True
    return False
