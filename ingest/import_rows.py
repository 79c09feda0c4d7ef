"""Rows of a department export: streaming CSV / JSON Lines reading, coercion, validation.

Reading (:func:`read_rows`) streams the file from a byte offset and yields
:class:`RawRow` s numbered from 1 (data rows; a CSV header and blank lines are not counted),
each with the byte offset just after it, so an import can resume exactly there. Memory use
does not depend on the file size.

Checking (:class:`RowChecker`) turns a row into a :class:`~domain.schemas.DepartmentRecord`
placed in a grid, or a :class:`RowReject` naming the field and the reason. Rules:

* column / field names are those of ``DepartmentRecord``; any other column (CSV) or scalar
  field (JSON) goes into ``attributes``, CSV values there coerced to int, float or bool when
  they look like one (an integer with leading zeros stays text: it is an identifier);
* empty CSV cells count as absent; ``lon``/``lat`` must be numbers; ``ts`` is epoch
  milliseconds or an ISO 8601 time (a time without an offset is street time, UTC+8);
* ``department`` may be omitted (the import's department is used) but must not differ;
* the record must validate against the domain schema, and geocode by the gateway's rules
  (:class:`ingest.gateway.placement.Placer`): an explicit ``grid_id`` must exist,
  coordinates must lie inside the street.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, BinaryIO, Literal

import msgspec

from domain.geo import Street
from domain.schemas import DepartmentRecord
from domain.wire import WireError, decode, encode
from ingest.gateway.placement import Placer
from ingest.gateway.rejects import Rejected

Format = Literal["csv", "jsonl"]
FIELDS = frozenset(DepartmentRecord.__struct_fields__)
STREET_TZ = timezone(timedelta(hours=8))
_INT = re.compile(r"-?(0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(0|[1-9][0-9]*)?\.[0-9]+([eE][-+]?[0-9]+)?"
                    r"|-?(0|[1-9][0-9]*)[eE][-+]?[0-9]+")


@dataclass(frozen=True)
class RawRow:
    """One data row as read: its number, first line, end offset, content, or parse error.

    ``typed`` says the values came typed (JSON); CSV values are all text.
    """

    number: int
    line: int
    end_offset: int
    text: str
    fields: dict[str, Any] | None = None
    error: str | None = None
    typed: bool = False


@dataclass(frozen=True)
class RowReject:
    """Why a row was refused: ``code`` (a small closed set), ``field`` and ``reason``."""

    row: RawRow
    code: str
    field: str | None
    reason: str

    @property
    def label(self) -> str:
        """What the summary groups by: code and field, no row data."""
        return f"{self.code} ({self.field})" if self.field else self.code


class _Lines:
    """Binary lines decoded one by one, tracking the byte offset and the lines consumed.

    Digests every byte read (``digest``), so a resumed import can check the part it skips.
    """

    def __init__(self, stream: BinaryIO, offset: int, encoding: str,
                 digest: hashlib._Hash | None = None) -> None:
        self._stream = stream
        self._decode = codecs.getdecoder(encoding)
        self.offset = offset
        self.line = 0
        self.taken: list[str] = []
        self.bad = False
        self.digest = digest if digest is not None else hashlib.sha256()

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        raw = self._stream.readline()
        if not raw:
            raise StopIteration
        self.offset += len(raw)
        self.line += 1
        self.digest.update(raw)
        try:
            text = self._decode(raw)[0]
        except UnicodeDecodeError:
            self.bad = True
            text = self._decode(raw, "replace")[0]
        self.taken.append(text)
        return text

    def take(self) -> tuple[str, bool]:
        """The text of the lines consumed since the last call, and whether any was undecodable."""
        text, bad = "".join(self.taken), self.bad
        self.taken, self.bad = [], False
        return text, bad


def prefix_digest(stream: BinaryIO, length: int) -> hashlib._Hash:
    """A SHA-256 object fed with the first ``length`` bytes of ``stream`` (read from 0)."""
    stream.seek(0)
    digest = hashlib.sha256()
    remaining = length
    while remaining > 0:
        chunk = stream.read(min(remaining, 1 << 20))
        if not chunk:
            break
        digest.update(chunk)
        remaining -= len(chunk)
    return digest


def read_header(stream: BinaryIO, encoding: str) -> tuple[list[str], int]:
    """The CSV header's column names (stripped) and the byte offset after it."""
    stream.seek(0)
    lines = _Lines(stream, 0, encoding)
    header = next(csv.reader(lines), None)
    if header is None:
        raise ValueError("the file is empty: a CSV export needs a header row")
    return [name.strip().lstrip("\ufeff") for name in header], lines.offset


def read_rows(stream: BinaryIO, fmt: Format, *, offset: int = 0, first_row: int = 1,
              first_line: int = 1, encoding: str = "utf-8-sig",
              header: list[str] | None = None,
              digest: hashlib._Hash | None = None) -> Iterator[RawRow]:
    """Rows from byte ``offset`` (see the module docstring); CSV needs the ``header``.

    ``digest``, if given, is fed every byte read: after a row is yielded it covers the
    file up to that row's end (the reader never reads ahead of the row it yields).
    """
    stream.seek(offset)
    lines = _Lines(stream, offset, encoding, digest)
    lines.line = first_line - 1
    number = first_row
    if fmt == "csv":
        if header is None:
            raise ValueError("reading CSV rows needs the header")
        for cells in csv.reader(lines):
            start = lines.line - len(lines.taken) + 1
            text, bad = lines.take()
            if not cells:
                continue  # a blank line
            yield _csv_row(number, start, lines.offset, text, bad, header, cells)
            number += 1
    else:
        for text in lines:
            _, bad = lines.take()
            if not text.strip():
                continue
            yield _json_row(number, lines.line, lines.offset, text, bad)
            number += 1


def _csv_row(number: int, line: int, end: int, text: str, bad: bool, header: list[str],
             cells: list[str]) -> RawRow:
    if bad:
        return RawRow(number, line, end, text, error="not valid text in the file's encoding")
    if len(cells) != len(header):
        return RawRow(number, line, end, text,
                      error=f"row has {len(cells)} fields, the header has {len(header)}")
    return RawRow(number, line, end, text, fields=dict(zip(header, cells, strict=True)))


def _json_row(number: int, line: int, end: int, text: str, bad: bool) -> RawRow:
    if bad:
        return RawRow(number, line, end, text, error="not valid text in the file's encoding")
    try:
        fields = json.loads(text)
    except ValueError as exc:
        return RawRow(number, line, end, text, error=f"malformed JSON: {exc}")
    if not isinstance(fields, dict):
        return RawRow(number, line, end, text, error="expected a JSON object")
    return RawRow(number, line, end, text, fields=fields, typed=True)


def coerce_scalar(text: str) -> str | int | float | bool:
    """A CSV cell as int, float or bool when it looks like one; otherwise the text itself."""
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return text


def coerce_ts(value: Any) -> Any:
    """Epoch ms from an int, a digit string or an ISO 8601 time; anything else unchanged."""
    if isinstance(value, str):
        text = value.strip()
        if _INT.fullmatch(text):
            return int(text)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return value
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=STREET_TZ)
        return int(moment.timestamp() * 1000)
    return value


class RowChecker:
    """Turns raw rows into placed records for one department (see the module docstring)."""

    def __init__(self, street: Street, department: str) -> None:
        self._placer = Placer(street)
        self.department = department

    def check(self, row: RawRow) -> DepartmentRecord | RowReject:
        """The placed record of ``row``, or why it is refused."""
        if row.fields is None:
            return RowReject(row, "malformed", None, row.error or "unreadable row")
        data, reject = self._shape(row)
        if reject is not None:
            return reject
        try:
            record = decode(encode(data), DepartmentRecord)
        except WireError as exc:
            return RowReject(row, "invalid", exc.field, exc.reason)
        if record.department not in (None, self.department):
            return RowReject(row, "invalid", "department",
                             f"'{record.department}' does not match the import's "
                             f"'{self.department}'")
        try:
            grid = self._placer.grid_of(record)
        except Rejected as exc:
            return RowReject(row, exc.code, exc.field, exc.reason)
        return msgspec.structs.replace(record, department=self.department, grid_id=grid)

    def _shape(self, row: RawRow) -> tuple[dict[str, Any], RowReject | None]:
        """Known fields coerced, the rest moved into ``attributes``."""
        assert row.fields is not None
        from_csv = not row.typed
        data: dict[str, Any] = {}
        attributes: dict[str, Any] = {}
        for name, value in row.fields.items():
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            if name == "attributes":
                parsed = _attributes(value)
                if parsed is None:
                    return data, RowReject(row, "invalid", "attributes",
                                           "expected a JSON object of scalar values")
                attributes.update(parsed)
            elif name in FIELDS:
                data[name] = value.strip() if isinstance(value, str) else value
            elif isinstance(value, str):
                attributes[name] = coerce_scalar(value.strip()) if from_csv else value
            elif isinstance(value, int | float | bool):
                attributes[name] = value
            else:
                return data, RowReject(row, "invalid", name,
                                       "unknown field whose value is not a scalar")
        if "ts" in data:
            data["ts"] = coerce_ts(data["ts"])
            if isinstance(data["ts"], str):
                return data, RowReject(row, "invalid", "ts",
                                       "not epoch milliseconds or an ISO 8601 time")
        for name in ("lon", "lat"):
            if isinstance(data.get(name), str):
                try:
                    data[name] = float(data[name])
                except ValueError:
                    return data, RowReject(row, "invalid", name, "not a number")
        if attributes:
            data["attributes"] = attributes
        return data, None


def _attributes(value: Any) -> dict[str, Any] | None:
    """An ``attributes`` value (a dict, or JSON text of one) with scalar values, else None."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, dict):
        return None
    if not all(isinstance(v, str | int | float | bool) for v in value.values()):
        return None
    return value
