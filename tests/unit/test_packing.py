"""Packing records of packed topics per key, and reading them back."""

from __future__ import annotations

import msgspec
import pytest

from core.kafka_records import OutRecord, pack_records, partition_for
from domain.contracts.topics import CASE_EVENTS, DEAD_LETTER, SENSOR_READINGS
from domain.schemas import CaseEvent, SensorBatch, SensorReading, decode_sensor_batches
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


def _sensor_records(grids: list[str], per_grid: int) -> list[OutRecord]:
    """``per_grid`` one-reading SensorBatches of each grid, interleaved across grids."""
    return [OutRecord(SENSOR_READINGS, grid, encode(SensorBatch(
        batch_id=f"b{i}:{grid}", grid_id=grid, received_ms=i, source="sensor",
        readings=[SensorReading(sensor_id=f"s-{grid}", kind="gas", value=float(i), ts=i)])))
        for i in range(per_grid) for grid in grids]


@pytest.mark.parametrize("partitions", [1, 3, 8])
def test_sensor_batches_pack_per_partition_with_every_batch_in_its_own_partition(
        partitions: int) -> None:
    grids = [f"CT{c:03d}-{g:03d}" for c in range(1, 11) for g in range(1, 11)]
    records = _sensor_records(grids, per_grid=7)
    packed = pack_records(records, max_records=150,
                          partition_of=lambda r: partition_for(r.key, partitions))
    # a few messages per partition (700 batches, at most 150 a message), not one per grid
    assert len(packed) <= partitions + len(records) // 150 + 1
    got = [(m, b) for m in packed for b in decode_sensor_batches(m.value)]
    assert sorted(b.batch_id for _, b in got) == sorted(
        msgspec.json.decode(r.value)["batch_id"] for r in records)
    for message, batch in got:
        # the message goes where its key's records go, and so does each batch's own grid
        assert partition_for(batch.grid_id, partitions) == partition_for(message.key,
                                                                         partitions)
    for grid in grids:  # each grid's batches keep their order
        order = [b.received_ms for _, b in got if b.grid_id == grid]
        assert order == list(range(7))


def test_without_a_partition_function_sensor_batches_pack_per_key() -> None:
    records = _sensor_records(["PL01-01", "PL01-02"], per_grid=3)
    packed = pack_records(records)
    assert sorted(m.key for m in packed) == ["PL01-01", "PL01-02"]
    assert all({b.grid_id for b in decode_sensor_batches(m.value)} == {m.key} for m in packed)


def test_a_readings_message_decodes_as_one_batch_or_an_array_of_batches() -> None:
    [one, two] = _sensor_records(["PL01-01", "PL02-03"], per_grid=1)
    assert [b.grid_id for b in decode_sensor_batches(one.value)] == ["PL01-01"]
    both = b"[" + one.value + b"," + two.value + b"]"
    assert [b.grid_id for b in decode_sensor_batches(both)] == ["PL01-01", "PL02-03"]
    for bad in (b"[]x", b"17", b'[{"batch_id": 1}]'):
        with pytest.raises(msgspec.MsgspecError):
            decode_sensor_batches(bad)
