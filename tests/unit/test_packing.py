"""Packing records of packed topics per key, and reading them back."""

from __future__ import annotations

import msgspec
import pytest

from core.kafka_records import OutRecord, pack_records
from domain.contracts.topics import CASE_EVENTS, DEAD_LETTER
from domain.schemas import CaseEvent
from domain.wire import WireError, decode_one_or_many, encode


def _event(i: int, grid: str) -> CaseEvent:
    return CaseEvent(event_id=f"e{i}", case_id=f"c{i}", action="report", ts=i,
                     source="simulator", category="noise", grid_id=grid)


def _records(n: int, grids: tuple[str, ...] = ("PL01-01", "PL02-03")) -> list[OutRecord]:
    return [OutRecord(CASE_EVENTS, grids[i % len(grids)], encode(_event(i, grids[i % len(grids)])))
            for i in range(n)]


def _unpack(records: list[OutRecord]) -> list[tuple[str, CaseEvent]]:
    return [(r.key, e) for r in records for e in decode_one_or_many(r.value, CaseEvent)]


def test_every_record_lands_once_in_order_per_key() -> None:
    records = _records(1001)
    packed = pack_records(records, max_records=100)
    assert len(packed) == 6 + 5  # 501 and 500 records of two keys, 100 per message
    got = _unpack(packed)
    assert sorted(e.event_id for _, e in got) == sorted(f"e{i}" for i in range(1001))
    for grid in ("PL01-01", "PL02-03"):
        order = [int(e.event_id[1:]) for key, e in got if key == grid]
        assert order == sorted(order)
        assert all(e.grid_id == grid for key, e in got if key == grid)


def test_size_cap_and_single_records_pass_through() -> None:
    records = _records(10, grids=("PL01-01",))
    size = len(records[0].value)
    packed = pack_records(records, max_bytes=3 * size + 3)
    assert all(len(decode_one_or_many(r.value, CaseEvent)) <= 3 for r in packed)
    assert len(_unpack(packed)) == 10
    single = _records(1)
    assert pack_records(single) == single


def test_unpacked_topics_are_left_alone() -> None:
    letters = [OutRecord(DEAD_LETTER, "cases", b'{"a":1}') for _ in range(3)]
    assert pack_records(letters) == letters


def test_packed_values_are_valid_json_arrays() -> None:
    [message] = pack_records(_records(3, grids=("PL01-01",)))
    assert isinstance(msgspec.json.decode(message.value), list)


@pytest.mark.parametrize("raw", [b"", b"   ", b"[]", b"17", b"[1, 2]", b"nul"])
def test_decode_refuses_what_is_neither_object_nor_array(raw: bytes) -> None:
    with pytest.raises(WireError):
        decode_one_or_many(raw, CaseEvent)
