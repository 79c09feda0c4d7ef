"""Import settling, checkpoints and resume, against an in-memory Kafka (pure: no services)."""

from __future__ import annotations

import json
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pytest

from core.kafka_records import KafkaUnavailable, OutRecord
from core.settings import Settings
from domain.contracts.topics import DEAD_LETTER, DEPARTMENT_RECORDS, TopicSpec
from domain.geo import street
from domain.schemas import DeadLetter, DepartmentRecord
from domain.wire import decode
from ingest import import_checkpoint
from ingest.import_scan import Message, Offsets
from ingest.importer import Importer, ImportFailed, ImportPaths, summary

SETTINGS = Settings(topic_prefix="unit.")
PARTITIONS = 4
GOOD, BAD = 37, 9


class MemoryKafka:
    """Topics as lists per partition; ``fail_after`` acks that many records, then fails."""

    def __init__(self) -> None:
        self.topics: dict[str, dict[int, list[Message]]] = {}
        self.fail_after: int | None = None

    def send_all(self, records: Sequence[OutRecord]) -> None:
        for record in records:
            if self.fail_after is not None:
                if self.fail_after == 0:
                    self.fail_after = None
                    raise KafkaUnavailable("broker gone")
                self.fail_after -= 1
            name = record.topic.name(SETTINGS.topic_prefix)
            partition = zlib.crc32(record.key.encode()) % PARTITIONS
            log = self.topics.setdefault(name, {p: [] for p in range(PARTITIONS)})[partition]
            log.append(Message(name, partition, len(log), record.key.encode(), record.value))

    def end_offsets(self, specs: Iterable[TopicSpec]) -> Offsets:
        prefix = SETTINGS.topic_prefix
        return {spec.name(prefix): {p: len(self.topics.get(spec.name(prefix), {}).get(p, []))
                                      for p in range(PARTITIONS)} for spec in specs}

    def read(self, start: Offsets) -> Iterator[Message]:
        for topic, parts in start.items():
            for partition, offset in parts.items():
                yield from self.topics.get(topic, {}).get(partition, [])[offset:]

    def values(self, spec: TopicSpec) -> list[bytes]:
        return [m.value for part in self.topics.get(spec.name(SETTINGS.topic_prefix), {}).values()
                for m in part]


def write_export(path: Path) -> tuple[set[str], set[int]]:
    """A CSV with GOOD good rows and BAD bad ones interleaved; returns good ids, bad rows."""
    grids = street().grid_ids
    lines = ["record_id,record_type,ts,grid_id,households"]
    good, bad = set(), set()
    for i in range(1, GOOD + BAD + 1):
        if i % 5 == 0 and len(bad) < BAD:
            lines.append(f"bad{i},resident,{i},NO-GRID,{i}")
            bad.add(i)
        else:
            lines.append(f"good{i},resident,{1_767_225_600_000 + i},{grids[i % len(grids)]},{i}")
            good.add(f"good{i}")
    path.write_text("\n".join(lines) + "\n")
    return good, bad


def importer(path: Path, kafka: MemoryKafka, **options: object) -> Importer:
    return Importer(SETTINGS, ImportPaths.beside(path, "civil_affairs"), "civil_affairs",
                    "csv", writer=kafka, log=kafka, street=street(), batch_size=4,
                    **options)  # type: ignore[arg-type]


def assert_exactly_once(path: Path, kafka: MemoryKafka, good: set[str], bad: set[int]) -> None:
    records = Counter(decode(v, DepartmentRecord).record_id for v in kafka.values(
        DEPARTMENT_RECORDS))
    assert records == Counter(good)
    letters = [decode(v, DeadLetter) for v in kafka.values(DEAD_LETTER)]
    assert Counter(json.loads(letter.raw)["row"] for letter in letters) == Counter(bad)
    assert all(letter.stage == "import" and letter.field == "grid_id" for letter in letters)
    rejects = [json.loads(line) for line in
               Path(f"{path}.rejects.jsonl").read_text().splitlines()]
    assert Counter(r["row"] for r in rejects) == Counter(bad)
    assert all(r["code"] == "unknown_grid" and r["raw"].startswith("bad") for r in rejects)


def test_a_full_import_settles_every_row_once(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    good, bad = write_export(path)
    kafka = MemoryKafka()
    run = importer(path, kafka)
    checkpoint = run.run()
    assert checkpoint.complete and checkpoint.done_row == GOOD + BAD
    assert checkpoint.accepted == GOOD and checkpoint.rejected == {"unknown_grid (grid_id)": BAD}
    assert_exactly_once(path, kafka, good, bad)
    lines = summary(checkpoint, run.totals, run.paths)
    assert lines[0].startswith("import complete") and any("unknown_grid" in x for x in lines)


class Crash(Exception):
    pass


def test_a_crash_after_the_ack_resumes_without_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    good, bad = write_export(path)
    kafka = MemoryKafka()

    def crash(last_row: int) -> None:
        if last_row >= 20:
            raise Crash  # acknowledged by Kafka, not yet settled in the checkpoint

    with pytest.raises(Crash):
        importer(path, kafka, after_send=crash).run()
    saved = import_checkpoint.load(Path(f"{path}.civil_affairs.checkpoint.json"))
    assert saved is not None and saved.pending is not None and saved.done_row == 16
    resumed = importer(path, kafka)
    checkpoint = resumed.run(resume=True)
    assert checkpoint.complete and resumed.totals.reconciled == 4
    assert_exactly_once(path, kafka, good, bad)


def test_a_partly_acknowledged_batch_is_completed_on_resume(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    good, bad = write_export(path)
    kafka = MemoryKafka()
    kafka.fail_after = 10  # two batches and half of the third
    with pytest.raises(ImportFailed, match="--resume"):
        importer(path, kafka).run()
    resumed = importer(path, kafka)
    resumed.run(resume=True)
    assert resumed.totals.reconciled == 2
    assert_exactly_once(path, kafka, good, bad)


def test_a_limited_run_stops_and_resume_finishes(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    good, bad = write_export(path)
    kafka = MemoryKafka()
    first = importer(path, kafka).run(limit=10)
    assert not first.complete and first.done_row == 10 and first.pending is None
    with pytest.raises(ImportFailed, match="--resume"):
        importer(path, kafka).run()  # never re-import by accident
    importer(path, kafka).run(resume=True, limit=3)
    last = importer(path, kafka).run(resume=True)
    assert last.complete and last.accepted == GOOD
    assert_exactly_once(path, kafka, good, bad)
    again = importer(path, kafka).run(resume=True)  # nothing left to do
    assert again.complete and len(kafka.values(DEPARTMENT_RECORDS)) == GOOD


def test_restart_imports_again_and_a_changed_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    good, bad = write_export(path)
    kafka = MemoryKafka()
    importer(path, kafka).run(limit=8)
    path.write_text(path.read_text().replace("good1,", "gooX1,"))
    with pytest.raises(ImportFailed, match="changed"):
        importer(path, kafka).run(resume=True)
    importer(path, kafka).run(restart=True)
    records = Counter(decode(v, DepartmentRecord).record_id
                      for v in kafka.values(DEPARTMENT_RECORDS))
    assert records["gooX1"] == 1 and records["good2"] == 2  # imported twice, as asked


def test_jsonl_imports_too(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    rows = [{"record_id": "j1", "record_type": "enterprise", "ts": 5, "grid_id": "PL01-01",
             "employees": 40}, {"record_id": "j2", "record_type": "resident", "ts": 5}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    kafka = MemoryKafka()
    run = Importer(SETTINGS, ImportPaths.beside(path, "fire"), "fire", "jsonl", writer=kafka,
                   log=kafka, street=street())
    checkpoint = run.run()
    assert checkpoint.accepted == 1 and checkpoint.rejected == {"invalid (grid_id)": 1}
    record = decode(kafka.values(DEPARTMENT_RECORDS)[0], DepartmentRecord)
    assert record.attributes == {"employees": 40} and record.department == "fire"
