"""The registers job: department records in, per-grid register counts out.

A plain consumer loop (:class:`~streams.batchloop.BatchLoop`, group
``<app id>-registers``) over the department records topic. Each batch is decoded with
msgspec (undecodable records go to the dead letters) and applied to the
:class:`~streams.registers.book.RegisterBook`; changed grids are marked dirty (their
``grid_registers`` rows are written by the metrics rows timer) and touched on the wall.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from domain.schemas import DepartmentRecord
from infra.topics import DEPARTMENT_RECORDS
from streams.ext import Ext, wall_ms
from streams.registers.book import RegisterBook

TAKE_MAX = 2_000
_record_decoder = msgspec.json.Decoder(DepartmentRecord)


class RegistersJob:
    """The register book, the grids whose rows are not yet written, and the batch handler."""

    def __init__(self, ext: Ext) -> None:
        self.ext = ext
        self.book = RegisterBook()
        self.dirty: set[str] = set()

    async def handle(self, kafka_records: Sequence[Any]) -> None:
        """Apply one fetched batch; flush its dead letters before returning."""
        ext = self.ext
        out = ext.outbox()
        records = []
        for rec in kafka_records:
            try:
                records.append(_record_decoder.decode(rec.value))
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


def install(ext: Ext) -> RegistersJob:
    """Run the registers job in the worker; return it (``ext.handles["registers_job"]``)."""
    job = RegistersJob(ext)
    ext.add_loop("registers", [ext.topic(DEPARTMENT_RECORDS.base)], job.handle, TAKE_MAX)
    ext.handles.update(registers_job=job, registers=job.book, registers_batch=job.handle)
    return job
