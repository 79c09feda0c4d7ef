"""``gridwall import`` against the real broker: interrupted, resumed, every row once."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest

from core.kafka_writer import KafkaWriter
from core.settings import Settings
from domain.contracts.topics import DEAD_LETTER, DEPARTMENT_RECORDS
from domain.geo import street
from domain.schemas import DeadLetter, DepartmentRecord
from domain.wire import decode
from ingest.import_scan import TopicLog
from ingest.importer import Importer, ImportPaths

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


class Crash(Exception):
    pass


def _export(path: Path, tag: str) -> tuple[set[str], set[int]]:
    """40 rows: good ones by grid id or by coordinates, bad ones of several kinds."""
    grids = [street().grids[g] for g in street().grid_ids]
    bad_rows = {4: f"{tag}b4,resident,1767225600000,NO-GRID,,,1",
                9: f"{tag}b9,alien,1767225600000,PL01-01,,,1",
                17: f"{tag}b17,resident,1767225600000,,1.0,2.0,1",
                26: f"{tag}b26,resident,not-a-time,PL01-01,,,1",
                33: f"{tag}b33,resident,1767225600000"}
    lines = ["record_id,record_type,ts,grid_id,lon,lat,households"]
    good = set()
    for row in range(1, 41):
        if row in bad_rows:
            lines.append(bad_rows[row])
            continue
        grid = grids[row % len(grids)]
        if row % 2:
            lines.append(f"{tag}g{row},building,2026-01-01T08:00:{row:02d},{grid.grid_id},,,{row}")
        else:
            lon, lat = grid.centroid
            lines.append(f"{tag}g{row},resident,1767225600000,,{lon},{lat},{row}")
        good.add(f"{tag}g{row}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return good, set(bad_rows)


def _cli(path: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gridwall.cli", "import", str(path), "--department", "police",
         "--batch-size", "4", *extra], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=120)


def test_interrupted_import_resumes_with_every_row_once(tmp_path: Path, infra: Settings,
                                                        gw_env: dict[str, str]) -> None:
    tag = "imp" + uuid.uuid4().hex[:6]
    path = tmp_path / "police.csv"
    good, bad = _export(path, tag)
    log = TopicLog(infra)
    before = log.end_offsets([DEPARTMENT_RECORDS, DEAD_LETTER])

    def crash(last_row: int) -> None:
        if last_row >= 12:
            raise Crash  # Kafka acknowledged rows 9..12, the checkpoint does not know yet

    writer = KafkaWriter(infra, client_id="test-import")
    with pytest.raises(Crash):
        Importer(infra, ImportPaths.beside(path, "police"), "police", "csv", writer=writer,
                 log=log, street=street(), batch_size=4, after_send=crash).run()
    writer.close()

    partly = _cli(path, gw_env, "--resume", "--limit", "9")
    assert partly.returncode == 0, partly.stderr
    assert "stopped after row 17" in partly.stdout and "found already in Kafka" in partly.stdout
    refused = _cli(path, gw_env)  # without --resume: refuses to import twice
    assert refused.returncode == 1 and "--resume" in refused.stderr
    done = _cli(path, gw_env, "--resume")
    assert done.returncode == 0, done.stderr
    assert "import complete: 40 rows, accepted 35, rejected 5" in done.stdout

    produced = list(log.read(before))
    log.close()
    records = Counter(decode(m.value, DepartmentRecord).record_id for m in produced
                      if m.topic == DEPARTMENT_RECORDS.name(infra.topic_prefix))
    assert records == Counter(good)
    for message in produced:
        if message.topic == DEPARTMENT_RECORDS.name(infra.topic_prefix):
            record = decode(message.value, DepartmentRecord)
            assert message.key == (record.grid_id or "").encode()
            assert record.department == "police"
    letters = [decode(m.value, DeadLetter) for m in produced
               if m.topic == DEAD_LETTER.name(infra.topic_prefix)]
    ours = [json.loads(letter.raw) for letter in letters if letter.stage == "import"
            and letter.source == "import.police" and tag in letter.raw]
    assert Counter(letter["row"] for letter in ours) == Counter(bad)
    rejects = [json.loads(line) for line in
               Path(f"{path}.rejects.jsonl").read_text().splitlines()]
    assert Counter(r["row"] for r in rejects) == Counter(bad)
    assert {r["row"]: r["code"] for r in rejects} == {
        4: "unknown_grid", 9: "invalid", 17: "outside_street", 26: "invalid", 33: "malformed"}
