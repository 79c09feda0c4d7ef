"""Migration 0012 runs again after an interruption, on the real (18.16) server."""

from __future__ import annotations

import uuid

import pytest
from clickhouse_driver import Client

from core.settings import Settings
from infra.migrate import _run, discover, migrate, rollback

pytestmark = pytest.mark.integration


def test_0012_runs_twice_and_rolls_back_twice(infra: Settings, ch: Client) -> None:
    db = f"gw_rerun_{uuid.uuid4().hex[:8]}"
    try:
        list(migrate(ch, db))
        m12 = next(m for m in discover() if m.number == 12)
        _run(ch, db, m12, m12.forwards[:1])  # as if interrupted after its first statement
        _run(ch, db, m12, m12.forwards)
        columns = {name for (name,) in ch.execute(
            f"SELECT name FROM system.columns WHERE database = '{db}' AND table = 'cases'")}
        assert {"lon", "lat", "note"} <= columns
        _run(ch, db, m12, m12.backwards[:1])
        last = max(m.number for m in discover())
        for number in range(last, 11, -1):
            if number in {m.number for m in discover()}:
                rollback(ch, db, number)
        columns = {name for (name,) in ch.execute(
            f"SELECT name FROM system.columns WHERE database = '{db}' AND table = 'cases'")}
        assert not {"lon", "lat", "note"} & columns
        assert [m.number for m in migrate(ch, db)][0] == 12
    finally:
        ch.execute(f"DROP DATABASE IF EXISTS {db}")
