"""streams.outbox, streams.rows, streams.control: what leaves a batch, and in what shape."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import msgspec

from core.settings import REPO_ROOT
from domain.schemas import CaseEvent, ConfigChange, DeadLetter, WallUpdate
from domain.wire import encode
from streams.config import LiveConfig
from streams.control import apply_record, audit
from streams.outbox import MAX_MESSAGE_BYTES, Outbox
from streams.rows import COLUMNS, RowBatch, case_event_row, dead_letter_row, to_tuples


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    async def send(self, topic: str, key: bytes, value: bytes) -> Any:
        self.sent.append((topic, key, value))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def outbox(rec: Recorder) -> Outbox:
    return Outbox(rec.send, "rows", "wall", "dead")


async def test_outbox_coalesces_wall_updates_and_rows_and_keeps_ordered_sends() -> None:
    rec = Recorder()
    out = outbox(rec)
    for version in (1, 2, 3):
        out.wall("cases", "c1", version, {"version": version}, "G01")
        out.row("cases", {"case_id": "c1", "version": version}, "c1")
    out.send("alert-ops", "G01", b"a")
    out.send("alert-ops", "G01", b"b")
    out.dead("cases", "simulator", "bad", 5, b"x" * 10_000, "G01")
    await out.flush()
    assert len(out) == 0
    by_topic: dict[str, list[bytes]] = {}
    for topic, _, value in rec.sent:
        by_topic.setdefault(topic, []).append(value)
    assert by_topic["alert-ops"] == [b"a", b"b"]
    (wall,) = by_topic["wall"]
    assert msgspec.json.decode(wall, type=WallUpdate).data == {"version": 3}
    (rows,) = by_topic["rows"]
    assert msgspec.json.decode(rows, type=RowBatch).rows == [{"case_id": "c1", "version": 3}]
    (dead,) = by_topic["dead"]
    letter = msgspec.json.decode(dead, type=DeadLetter)
    assert letter.raw_truncated and len(letter.raw) == 8_192


async def test_outbox_packs_a_packed_topics_records_per_partition_in_order_per_key() -> None:
    """Alert ops of many grids leave as one array message per partition: every op once, in
    its own grid's partition, each grid's ops in order; other topics untouched."""
    from core.kafka_records import partition_for
    from domain.contracts.topics import ALERT_OPS
    from domain.wire import decode_one_or_many

    asked: list[str] = []

    async def partitions(topic: str) -> int:
        asked.append(topic)
        return 4

    rec = Recorder()
    out = Outbox(rec.send, "rows", "wall", "dead", packed={"ops": ALERT_OPS},
                 partitions=partitions)
    grids = [f"CT{g:03d}" for g in range(40)]
    for n in range(3):
        for grid in grids:
            out.send("ops", grid, encode({"grid_id": grid, "n": n}))
    out.send("other", "G01", b'{"a":1}')
    await out.flush()
    assert asked == ["ops"]
    ops = [(key, value) for topic, key, value in rec.sent if topic == "ops"]
    assert len(ops) == len({partition_for(g, 4) for g in grids})  # one per partition
    got = [(key.decode(), op) for key, value in ops
           for op in decode_one_or_many(value, dict)]
    assert sorted((op["grid_id"], op["n"]) for _, op in got) == sorted(
        (g, n) for g in grids for n in range(3))
    for key, op in got:
        assert partition_for(op["grid_id"], 4) == partition_for(key, 4)
    for grid in grids:
        assert [op["n"] for _, op in got if op["grid_id"] == grid] == [0, 1, 2]
    assert ("other", b"G01", b'{"a":1}') in rec.sent


async def test_outbox_splits_many_rows_into_messages_under_the_size_limit() -> None:
    rec = Recorder()
    out = outbox(rec)
    for i in range(2_500):
        out.row("cases", {"case_id": f"c{i}", "note": "x" * 1_200}, f"c{i}")
    await out.flush()
    batches = [msgspec.json.decode(v, type=RowBatch) for t, _, v in rec.sent if t == "rows"]
    assert all(len(v) <= MAX_MESSAGE_BYTES for t, _, v in rec.sent)
    assert len(batches) > 3  # 1,000 rows of ~1.2 kB exceed the limit: halved
    ids = [row["case_id"] for batch in batches for row in batch.rows]
    assert sorted(ids) == sorted(f"c{i}" for i in range(2_500))


def test_rows_fill_time_columns_and_mask_personal_data() -> None:
    event = CaseEvent(event_id="e1", case_id="c1", action="report", ts=1_780_000_000_123,
                      source="resident_app", grid_id="G01", category="noise",
                      reporter_name="张三丰", reporter_phone="13812345678")
    row = case_event_row(event, 2, 40)
    assert "张三丰" not in row["payload"] and "13812345678" not in row["payload"]
    (values,) = to_tuples("case_events", [row])
    named = dict(zip(COLUMNS["case_events"], values, strict=True))
    assert named["event_date"] == date(2026, 5, 28)
    assert named["ts"] == datetime(2026, 5, 28, 20, 26, 40, tzinfo=UTC)
    assert (named["kafka_partition"], named["kafka_offset"]) == (2, 40)


def test_dead_letter_key_is_deterministic() -> None:
    letter = DeadLetter(source="s", reason="r", ts=1, stage="cases", raw="{}")
    assert dead_letter_row(letter)["dl_key"] == dead_letter_row(letter)["dl_key"]
    other = DeadLetter(source="s", reason="r2", ts=1, stage="cases", raw="{}")
    assert dead_letter_row(letter)["dl_key"] != dead_letter_row(other)["dl_key"]


async def test_control_audits_every_verdict_and_dead_letters_rejections() -> None:
    config = LiveConfig.from_config_dir(Path(REPO_ROOT) / "config")
    good = ConfigChange(key="alerts", value={"ack_timeout_s": 5}, actor="ops-li", ts=10)
    bad = ConfigChange(key="sink", value={"batch_size": -1}, actor="ops-li", ts=11)
    rec = Recorder()
    out = outbox(rec)
    for offset, change in enumerate((good, bad)):
        applied = apply_record(config, offset, encode(change))
        assert applied is not None
        audit(out, applied)
    garbage = apply_record(config, 2, b"not json")
    assert garbage is not None and garbage.change is None
    audit(out, garbage)
    assert apply_record(config, 3, None) is None  # tombstone
    await out.flush()
    rows = [r for t, _, v in rec.sent if t == "rows" for r in
            msgspec.json.decode(v, type=RowBatch).rows]
    assert [(r["config_key"], r["accepted"], r["control_offset"]) for r in rows] == [
        ("alerts", 1, 0), ("sink", 0, 1)]
    assert json.loads(rows[0]["after"])["ack_timeout_s"] == 5
    assert "batch_size" in rows[1]["reason"]
    assert config.alerts.ack_timeout_s == 5 and config.sink.batch_size == 5_000
    assert len([t for t, _, _ in rec.sent if t == "dead"]) == 2
