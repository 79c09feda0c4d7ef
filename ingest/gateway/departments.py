"""``POST /v1/departments/{department}/records``: records from department systems.

The department comes from the URL (a body naming another one is refused); each record is
geocoded and produced keyed by its grid. A record is a duplicate when the same department sent
the same ``record_id`` with the same ``ts``: a newer version of a record is not a duplicate.
"""

from __future__ import annotations

import msgspec
from starlette.requests import Request

from domain.schemas import DepartmentRecord
from domain.vocab import DEPARTMENTS
from domain.wire import encode
from gridwall.auth import Principal
from infra.topics import DEPARTMENT_RECORDS
from ingest.gateway.auth import check_source
from ingest.gateway.payloads import decode_items
from ingest.gateway.pipeline import Feed, Item, Submission
from ingest.gateway.placement import Placer, field_name
from ingest.gateway.rejects import invalid
from ingest.kafka_out import OutRecord

DEPARTMENT_SOURCE = "department"


class DepartmentRecordsFeed(Feed):
    """Records of the eight departments."""

    name = "departments"

    def __init__(self, placer: Placer) -> None:
        self._placer = placer

    def dead_letter_source(self, request: Request) -> str:
        """``departments.<department>`` for a known department, else ``departments``."""
        department = request.path_params.get("department")
        return f"departments.{department}" if department in DEPARTMENTS else self.name

    def parse(self, request: Request, raw: bytes, principal: Principal) -> Submission:
        """Check the department and source, decode, geocode every record."""
        department = request.path_params.get("department", "")
        if department not in DEPARTMENTS:
            raise invalid("department", f"unknown department; one of {', '.join(DEPARTMENTS)}")
        check_source(principal, DEPARTMENT_SOURCE, "department")
        batch = decode_items(raw, DepartmentRecord, "records")
        items = [self._item(department, record, batch.prefix(i))
                 for i, record in enumerate(batch.items)]
        return Submission(items)

    def _item(self, department: str, record: DepartmentRecord, prefix: str) -> Item:
        if record.department not in (None, department):
            raise invalid(field_name(prefix, "department"),
                          f"'{record.department}' does not match the URL's '{department}'")
        grid = self._placer.grid_of(record, prefix)
        record = msgspec.structs.replace(record, department=department, grid_id=grid)
        out = OutRecord(DEPARTMENT_RECORDS, grid, encode(record))
        return Item(f"departments|{department}|{record.record_id}|{record.ts}",
                    record.record_id, (out,))
