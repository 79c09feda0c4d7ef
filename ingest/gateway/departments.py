"""``POST /v1/departments/{department}/records``: records from department systems.

The department comes from the URL (a body naming another one is refused); each record is
geocoded and produced keyed by its grid. A record is a duplicate when the same department sent
the same ``record_id`` with the same ``ts`` and the same content: a newer version of a record
is not a duplicate, and the same version with other content is a 409 conflict.

Attribute names come from the record type's closed set and their values must fit it
(:data:`domain.vocab.RECORD_ATTRIBUTES`): otherwise a 422 naming ``attributes.<name>``. A
record's ``ts`` is its version, so it may be old, but not more than
``GRIDWALL_EVENT_MAX_AHEAD_S`` after its receipt (a future version would shadow every later
correction).
"""

from __future__ import annotations

import msgspec
from starlette.requests import Request

from core.auth import Principal
from core.kafka_records import OutRecord
from domain.contracts.topics import DEPARTMENT_RECORDS
from domain.plausible import attributes_problem
from domain.schemas import DepartmentRecord
from domain.vocab import DEPARTMENTS
from domain.wire import encode
from ingest.gateway.auth import check_source
from ingest.gateway.payloads import decode_items, implausible
from ingest.gateway.pipeline import Feed, Item, Receipt, Submission, payload_digest, receipt
from ingest.gateway.placement import Placer, field_name
from ingest.gateway.rejects import invalid

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
        stamp = receipt(request)
        items = [self._item(department, record, batch.prefix(i), stamp)
                 for i, record in enumerate(batch.items)]
        return Submission(items)

    def _item(self, department: str, record: DepartmentRecord, prefix: str,
              stamp: Receipt) -> Item:
        if record.department not in (None, department):
            raise invalid(field_name(prefix, "department"),
                          f"'{record.department}' does not match the URL's '{department}'")
        problem = (attributes_problem(record.record_type, record.attributes)
                   or stamp.window.ahead_problem(record.ts, stamp.received_ms))
        if problem is not None:
            raise implausible(problem, prefix)
        grid = self._placer.grid_of(record, prefix)
        record = msgspec.structs.replace(record, department=department, grid_id=grid)
        value = encode(record)
        out = OutRecord(DEPARTMENT_RECORDS, grid, value)
        return Item(f"departments|{department}|{record.record_id}|{record.ts}",
                    record.record_id, (out,), payload_digest(value),
                    field_name(prefix, "record_id"))
