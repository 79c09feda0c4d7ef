"""The Open311 read side from ClickHouse: the ``cases`` table the streams keep.

:class:`ClickHouseCaseView` runs the queries of :mod:`readside.cases` on one dedicated
thread (a clickhouse-driver client is not thread-safe, and a query must not block the event
loop), with a client created on first use. After a failure it stays away for ``retry_s``
seconds, so a ClickHouse outage costs each read one refused call, not a timeout. Reads see
what the streams have written, typically within a second or two of the event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from core.settings import Settings
from domain.schemas import CaseEvent
from ingest.gateway.case_view import CaseQuery, CaseRecord
from readside.cases import CaseState, case_by_id, cases_opened_between
from readside.connection import case_view_client

T = TypeVar("T")


class ClickHouseUnavailable(RuntimeError):
    """ClickHouse failed recently; the view does not ask again before the retry time."""


def record_of(state: CaseState) -> CaseRecord:
    """The read side's record of a case state row."""
    return CaseRecord(case_id=state.case_id, category=state.category, step=state.step,
                      grid_id=state.grid_id, opened_ms=state.opened_ms,
                      updated_ms=state.updated_ms, description=state.description,
                      note=state.note, lon=state.lon, lat=state.lat, tier=state.tier,
                      unit=state.unit or None, dispatched_unit=state.dispatched_unit or None,
                      deadline_ms=state.deadline_ms or None, attachments=state.attachments)


class ClickHouseCaseView:
    """Cases as the streams wrote them to ClickHouse (``apply`` does nothing here)."""

    def __init__(self, s: Settings, retry_s: float = 5.0,
                 connect: Callable[[], Any] | None = None) -> None:
        self.database = s.clickhouse_database
        self.retry_s = retry_s
        self._connect = connect or (lambda: case_view_client(s))
        self._client: Any = None
        self._down_until = 0.0
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-ch")

    def apply(self, events: Sequence[CaseEvent]) -> None:
        """Nothing: the streams write the cases table."""

    def _run(self, query: Callable[[Any], T]) -> T:
        if time.monotonic() < self._down_until:
            raise ClickHouseUnavailable("ClickHouse failed recently")
        try:
            if self._client is None:
                self._client = self._connect()
            return query(self._client)
        except Exception:
            self._down_until = time.monotonic() + self.retry_s
            if self._client is not None:
                self._client.disconnect()
                self._client = None
            raise

    async def _call(self, query: Callable[[Any], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._run, query)

    async def get(self, case_id: str) -> CaseRecord | None:
        """The case's row, or None."""
        state = await self._call(lambda c: case_by_id(c, self.database, case_id))
        return record_of(state) if state is not None else None

    async def search(self, query: CaseQuery) -> list[CaseRecord]:
        """Rows opened within the window that pass the filters, newest first."""
        states = await self._call(lambda c: cases_opened_between(
            c, self.database, query.start_ms, query.end_ms, case_ids=query.case_ids,
            categories=query.categories, statuses=query.statuses, limit=query.limit))
        return [record_of(state) for state in states]

    def close(self) -> None:
        """Disconnect (on the view's thread) and stop the thread."""
        def disconnect() -> None:
            if self._client is not None:
                self._client.disconnect()
                self._client = None

        self._thread.submit(disconnect)
        self._thread.shutdown(wait=True)

