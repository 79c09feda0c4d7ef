"""The registers job: department records in, per-grid register counts out.

A plain consumer loop (:class:`~streams.batchloop.BatchLoop`, group
``<app id>-registers``) over the department records topic. Each batch is decoded with
msgspec (undecodable records go to the dead letters) and applied to the
:class:`~streams.registers.book.RegisterBook`; changed grids are marked dirty (their
``grid_registers`` rows are written by the metrics rows timer) and touched on the wall.

State moves with the input partitions (:class:`RegistersJob` is the loop's
:class:`~streams.batchloop.PartitionState`): on revocation the grids of the partition are
forgotten; on assignment the partition is re-read from its beginning (the topic keeps its
records forever: ``infra.topics.DEPARTMENT_RECORDS``) up to the committed offset, so the
book holds exactly the latest version of every record of the partition again — a restart or
a rebalance cannot shrink a count — and the restored grids are marked dirty, so their rows
are rewritten with the same values (also covering rows a killed owner never wrote).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from aiokafka import TopicPartition

from domain.contracts.topics import DEPARTMENT_RECORDS
from domain.schemas import DepartmentRecord
from streams.ext import Ext, wall_ms
from streams.registers.book import RegisterBook
from streams.runner import RawLoopJob

TAKE_MAX = 2_000
_record_decoder = msgspec.json.Decoder(DepartmentRecord)


class RegistersJob:
    """The register book, the grids whose rows are not yet written, and the batch handler."""

    def __init__(self, ext: Ext) -> None:
        self.ext = ext
        self.book = RegisterBook()
        self.dirty: set[str] = set()
        self._grids: dict[TopicPartition, set[str]] = {}  # the grids seen per partition

    async def handle(self, kafka_records: Sequence[Any]) -> None:
        """Apply one fetched batch; flush its dead letters before returning."""
        ext = self.ext
        out = ext.outbox()
        records = []
        for rec in kafka_records:
            try:
                records.append(self._decode(rec))
            except msgspec.MsgspecError as exc:
                out.dead("registers.decode", "department", str(exc), rec.timestamp,
                         rec.value, rec.key.decode() if rec.key else None)
        changed = self.book.update(records)
        self.dirty.update(changed)
        await out.flush()
        now = wall_ms()
        publisher = ext.handles.get("wall")
        if publisher is not None:
            publisher.touch_grids(dict.fromkeys(changed, now), channel="registers")
        ext.health.count("registers", len(records), len(kafka_records), now)

    def take_rows(self, version: int) -> list[dict[str, Any]]:
        """The ``grid_registers`` rows of the dirty grids; they are clean afterwards."""
        rows = self.book.rows(self.dirty, version)
        self.dirty.clear()
        return rows

    # -- PartitionState: the book moves with the department records' partitions --

    def replay_from_ms(self) -> int | None:
        """Registers are rebuilt from the partition's beginning."""
        return None

    def replay(self, kafka_records: Sequence[Any]) -> None:
        """Apply handled records again (undecodable ones were dead-lettered already)."""
        records = []
        for rec in kafka_records:
            try:
                records.append(self._decode(rec))
            except msgspec.MsgspecError:
                continue
        self.dirty.update(self.book.update(records))

    async def restored(self, partitions: dict[TopicPartition, int], now_ms: int) -> None:
        """Nothing to arm: the restored grids are dirty, the rows timer rewrites them."""

    def revoke(self, partitions: set[TopicPartition]) -> None:
        """Forget the grids of ``partitions``; their rows are the new owner's to write."""
        for tp in partitions:
            grids = self._grids.pop(tp, set())
            self.book.drop_grids(grids)
            self.dirty.difference_update(grids)

    def _decode(self, rec: Any) -> DepartmentRecord:
        record = _record_decoder.decode(rec.value)
        if record.grid_id:
            self._grids.setdefault(TopicPartition(rec.topic, rec.partition),
                                   set()).add(record.grid_id)
        return record


class RegistersLoop(RawLoopJob):
    """The registers job as the runner runs it: a plain loop over the department records
    (:data:`TAKE_MAX` a batch), the :class:`RegistersJob` as its partitions' state."""

    def __init__(self, ext: Ext) -> None:
        self.job = RegistersJob(ext)
        super().__init__("registers", DEPARTMENT_RECORDS.base, self.job.handle, self.job,
                         max_records=TAKE_MAX)
