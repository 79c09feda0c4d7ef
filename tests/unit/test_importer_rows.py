"""Reading, coercing and checking rows of department exports (pure: no services)."""

from __future__ import annotations

import io
import json

import pytest

from domain.geo import street
from domain.schemas import DepartmentRecord
from ingest.import_rows import (
    RawRow,
    RowChecker,
    RowReject,
    coerce_scalar,
    coerce_ts,
    prefix_digest,
    read_header,
    read_rows,
)

CSV = ("\ufeffrecord_id, record_type ,ts,grid_id,lon,lat,households,code,note\n"
       "a1,resident,1767225600000,PL01-01,,,3,007,plain\n"
       "\n"
       'a2,building,2026-01-01T08:00:00,,117.956413,37.396339,2.5,x,"two\nlines"\n'
       "a3,resident,1767225600000,PL01-02,,,true,,\n").encode()


def _csv_rows(data: bytes = CSV, offset: int | None = None, first_row: int = 1,
              first_line: int = 2) -> list[RawRow]:
    stream = io.BytesIO(data)
    header, end = read_header(stream, "utf-8-sig")
    return list(read_rows(stream, "csv", offset=end if offset is None else offset,
                          first_row=first_row, first_line=first_line, header=header))


def test_csv_rows_are_numbered_with_lines_and_offsets() -> None:
    rows = _csv_rows()
    assert [(r.number, r.line) for r in rows] == [(1, 2), (2, 4), (3, 6)]
    assert rows[1].fields is not None and rows[1].fields["note"] == "two\nlines"
    assert rows[0].fields is not None and "record_type" in rows[0].fields  # names stripped
    assert rows[-1].end_offset == len(CSV)
    again = _csv_rows(offset=rows[0].end_offset, first_row=2, first_line=3)
    assert [r.text for r in again] == [r.text for r in rows[1:]]  # resume after row 1


def test_the_digest_covers_exactly_the_bytes_up_to_the_last_row_yielded() -> None:
    stream = io.BytesIO(CSV)
    header, end = read_header(stream, "utf-8-sig")
    digest = prefix_digest(stream, end)
    rows = read_rows(stream, "csv", offset=end, header=header, digest=digest)
    first = next(rows)
    assert digest.hexdigest() == prefix_digest(io.BytesIO(CSV), first.end_offset).hexdigest()


def test_csv_problems_are_row_errors() -> None:
    data = b"record_id,record_type\nok,resident\nshort\n\xff\xfe,resident\n"
    rows = _csv_rows(data)
    assert rows[0].error is None
    assert rows[1].error == "row has 1 fields, the header has 2"
    assert rows[2].error == "not valid text in the file's encoding"
    with pytest.raises(ValueError):
        read_header(io.BytesIO(b""), "utf-8")


def test_jsonl_rows_keep_types_and_report_bad_lines() -> None:
    data = (b'{"record_id":"j1","record_type":"resident","ts":1,"grid_id":"PL01-01"}\n\n'
            b"{broken\n[1,2]\n")
    rows = list(read_rows(io.BytesIO(data), "jsonl"))
    assert [(r.number, r.line) for r in rows] == [(1, 1), (2, 3), (3, 4)]
    assert rows[0].typed and rows[0].fields == json.loads(data.splitlines()[0])
    assert rows[1].error is not None and rows[1].error.startswith("malformed JSON")
    assert rows[2].error == "expected a JSON object"


@pytest.mark.parametrize(("text", "value"), [("3", 3), ("-12", -12), ("2.5", 2.5),
                                             ("1e3", 1000.0), ("007", "007"), ("true", True),
                                             ("FALSE", False), ("3a", "3a"), ("0", 0)])
def test_csv_cells_are_coerced_when_they_look_like_numbers(text: str, value: object) -> None:
    assert coerce_scalar(text) == value and type(coerce_scalar(text)) is type(value)


def test_times_are_epoch_ms_or_iso_8601_in_street_time_by_default() -> None:
    assert coerce_ts("1767225600000") == 1_767_225_600_000
    assert coerce_ts("2026-01-01T08:00:00") == 1_767_225_600_000  # 08:00 UTC+8
    assert coerce_ts("2026-01-01T00:00:00Z") == 1_767_225_600_000
    assert coerce_ts("yesterday") == "yesterday"
    assert coerce_ts(5) == 5


@pytest.fixture(scope="module")
def checker() -> RowChecker:
    return RowChecker(street(), "civil_affairs")


def test_good_csv_rows_become_placed_records(checker: RowChecker) -> None:
    records = [checker.check(row) for row in _csv_rows()]
    assert all(isinstance(r, DepartmentRecord) for r in records)
    first, second, third = records
    assert isinstance(first, DepartmentRecord) and isinstance(second, DepartmentRecord)
    assert isinstance(third, DepartmentRecord)
    assert first.attributes == {"households": 3, "code": "007", "note": "plain"}
    assert first.department == "civil_affairs" and first.grid_id == "PL01-01"
    assert second.ts == 1_767_225_600_000 and second.grid_id == "PL01-01"  # geocoded
    assert second.lon == pytest.approx(117.956413)
    assert third.attributes == {"households": True}


def _json(checker: RowChecker, fields: dict[str, object]) -> DepartmentRecord | RowReject:
    return checker.check(RawRow(1, 1, 0, json.dumps(fields), fields=fields, typed=True))


BASE = {"record_id": "r1", "record_type": "resident", "ts": 1, "grid_id": "PL01-01"}


def test_json_extra_scalars_go_into_attributes_uncoerced(checker: RowChecker) -> None:
    record = _json(checker, {**BASE, "households": "12", "floors": 3,
                             "attributes": {"group": "veteran"}})
    assert isinstance(record, DepartmentRecord)
    assert record.attributes == {"households": "12", "floors": 3, "group": "veteran"}


@pytest.mark.parametrize(("change", "code", "field"), [
    ({"grid_id": "XX-99"}, "unknown_grid", "grid_id"),
    ({"grid_id": None, "lon": 1.0, "lat": 2.0}, "outside_street", "lon"),
    ({"grid_id": None}, "invalid", "grid_id"),
    ({"record_type": None}, "invalid", "record_type"),
    ({"record_type": "alien"}, "invalid", "record_type"),
    ({"ts": "soon"}, "invalid", "ts"),
    ({"ts": -5}, "invalid", "ts"),
    ({"lon": 117.95}, "invalid", "lon"),  # lat missing
    ({"lon": "east", "lat": "north"}, "invalid", "lon"),
    ({"department": "police"}, "invalid", "department"),
    ({"department": "nobody"}, "invalid", "department"),
    ({"nested": {"a": 1}}, "invalid", "nested"),
    ({"attributes": {"a": [1]}}, "invalid", "attributes"),
    ({"person_name": "x" * 200}, "invalid", "person_name"),
])
def test_reject_reasons_name_the_field(checker: RowChecker, change: dict[str, object],
                                       code: str, field: str | None) -> None:
    fields = {k: v for k, v in {**BASE, **change}.items() if v is not None}
    result = _json(checker, fields)
    assert isinstance(result, RowReject), result
    assert (result.code, result.field) == (code, field), result.reason
    assert result.reason
    assert result.label == (f"{code} ({field})" if field else code)


def test_unreadable_rows_are_malformed(checker: RowChecker) -> None:
    result = checker.check(RawRow(4, 9, 0, "x", error="row has 1 fields, the header has 2"))
    assert isinstance(result, RowReject)
    assert (result.code, result.field, result.reason) == (
        "malformed", None, "row has 1 fields, the header has 2")
