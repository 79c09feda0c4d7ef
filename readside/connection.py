"""ClickHouse clients for reads, and the total query the wall's reads run through.

:func:`session` opens a client on the settings' database and disconnects it on exit;
:func:`rows` runs one query through it and is total: any failure (server down, database or
table missing, bad SQL) logs why and returns ``[]``. :func:`case_view_client` is the
long-lived client of the gateway's case view (short timeouts: a read waits at most a few
seconds).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from core.clients import clickhouse_client
from core.settings import Settings

log = logging.getLogger("gridwall.readside")


@contextmanager
def session(settings: Settings) -> Iterator[Any]:
    """A client on the settings' database, disconnected when the block ends."""
    client = clickhouse_client(settings, database=settings.clickhouse_database,
                               connect_timeout=2, send_receive_timeout=20,
                               sync_request_timeout=5)
    try:
        yield client
    finally:
        client.disconnect()


def rows(settings: Settings, sql: str, params: dict[str, Any] | None = None
         ) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` (``{db}`` is the settings' database), or [] on any failure."""
    try:
        with session(settings) as client:
            found = client.execute(sql.format(db=settings.clickhouse_database), params or {})
    except Exception as exc:  # noqa: BLE001 - any failure means "no history", never a crash
        log.warning("ClickHouse query failed (%s): %s", type(exc).__name__,
                    str(exc).splitlines()[0] if str(exc) else "")
        return []
    return list(found)


def case_view_client(settings: Settings) -> Any:
    """A client for the gateway's case view (connects on first query, short timeouts)."""
    return clickhouse_client(settings, connect_timeout=2, send_receive_timeout=5,
                             sync_request_timeout=2)
