"""The SQL dialect against current ClickHouse, embedded by chDB (the server compose deploys
is a current one; the local server is 18.16).

- every migration is applied by the real :func:`infra.migrate.migrate` (and 0012 a second
  time, then rolled back), through a client that sends its statements to chDB;
- every read-side query runs there: :mod:`readside.cases` through the gateway's
  ``ClickHouseCaseView``, :mod:`readside.wall_state`'s hydration through the wall's
  ``hydrate``, :mod:`readside.audits`' reads, :mod:`readside.units`' aggregates and
  :mod:`readside.tiers`' resolution levels, with a
  case, an alert, an alert action and a config change in the tables so that rows are
  converted;
- the ``ON CLUSTER`` DDL that ``gridwall infra cluster-ddl`` prints parses (``EXPLAIN
  AST``; chDB cannot run a cluster);
- the backup procedure of docs/deploy.md (``BACKUP DATABASE ... TO File(...)``, ``RESTORE``)
  brings the tables and rows back.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import chdb as chdb_module
import pytest

from core.settings import settings_from
from infra.cluster_ddl import cluster_ddl
from infra.migrate import _run, discover, migrate, rollback

pytestmark = pytest.mark.integration


DB = "gw_chdb"
ROOT = Path(__file__).resolve().parents[2]


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple, frozenset, set)):
        return "(" + ", ".join(_literal(v) for v in value) + ")"
    if value is None:
        return "NULL"
    if hasattr(value, "strftime"):
        return f"'{value:%Y-%m-%d %H:%M:%S}'"
    return repr(value)


class ChdbClient:
    """clickhouse-driver's ``execute`` (``%(name)s`` parameters, INSERT rows) on chDB."""

    def __init__(self, path: Path) -> None:
        self.backups = path / "backups"
        self.session = chdb_module.connect(f"{path / 'db'}?backups.allowed_path={self.backups}")
        self.session.query("SET output_format_json_quote_64bit_integers = 0")
        self.statements: list[str] = []

    def execute(self, sql: str, params: Any = None, **_: Any) -> list[tuple[Any, ...]]:
        if isinstance(params, list):  # INSERT ... VALUES with rows
            sql = sql + " " + ", ".join(_literal(tuple(row)) for row in params)
        elif params:
            sql = sql % {k: _literal(v) for k, v in params.items()}
        self.statements.append(sql)
        out = self.session.query(sql, "JSONCompact").bytes()
        return [tuple(row) for row in json.loads(out)["data"]] if out.strip() else []

    def disconnect(self) -> None:
        """Nothing: the session lives as long as the test."""


@pytest.fixture(scope="module")
def chdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbClient]:
    client = ChdbClient(tmp_path_factory.mktemp("chdb"))
    yield client
    client.session.close()


def test_every_migration_applies_and_0012_reruns_and_rolls_back(chdb: ChdbClient) -> None:
    assert [m.number for m in migrate(chdb, DB)] == [m.number for m in discover()]
    m12 = next(m for m in discover() if m.number == 12)
    _run(chdb, DB, m12, m12.forwards)  # IF NOT EXISTS: a second run changes nothing
    for migration in discover():  # as written, guards included, parses on current servers
        for statement in migration.forwards + migration.backwards:
            chdb.session.query(f"EXPLAIN AST {statement.replace('{db}', DB)}", "CSV")
    later = [m.number for m in discover() if m.number > 12]
    for number in reversed(later):
        rollback(chdb, DB, number)
    rollback(chdb, DB, 12)
    assert "note" not in {name for (name,) in chdb.execute(
        f"SELECT name FROM system.columns WHERE database = '{DB}' AND table = 'cases'")}
    assert [m.number for m in migrate(chdb, DB)] == [12, *later]


def _fill(chdb: ChdbClient) -> None:
    chdb.execute(f"INSERT INTO {DB}.cases (opened_date, opened_ms, case_id, grid_id, category, "
                 "step, version) VALUES", [(_today(), 1_700_000_000_000, "C-1", "G01",
                                            "environment", "reported", 1)])
    chdb.execute(f"INSERT INTO {DB}.alerts (opened_ms, updated_ms, alert_id, grid_id, status, "
                 "version) VALUES", [(1_700_000_000_000, 1_700_000_000_000, "A-1", "G01",
                                      "open", 1)])
    chdb.execute(f"INSERT INTO {DB}.alert_actions (ts_ms, action_id, alert_id, action) VALUES",
                 [(1_700_000_000_000, "X-1", "A-1", "ack")])
    chdb.execute(f"INSERT INTO {DB}.config_changes (ts_ms, config_key, accepted) VALUES",
                 [(1_700_000_000_000, "sla", 1)])


def _today() -> Any:
    import datetime

    return datetime.date.fromtimestamp(1_700_000_000)


def test_every_read_side_query_runs_on_current_clickhouse(chdb: ChdbClient,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    from ingest.gateway.case_view import CaseQuery
    from ingest.gateway.case_view_clickhouse import ClickHouseCaseView
    from readside import audits, connection
    from wall.app.hydrate import hydrate

    _fill(chdb)
    settings = settings_from({"GRIDWALL_CLICKHOUSE_DATABASE": DB})

    @contextmanager
    def client(_: Any) -> Iterator[ChdbClient]:
        yield chdb

    monkeypatch.setattr(connection, "session", client)
    updates = hydrate(settings, 1_700_000_060_000)
    assert {(u.channel, u.key) for u in updates} >= {("cases", "C-1"), ("alerts", "A-1")}
    audits.case_transitions(settings, "C-1")
    assert len(audits.alert_actions(settings, "A-1")) == 1
    assert len(audits.alert_actions(settings)) == 1
    assert len(audits.config_audit(settings)) == 1
    from readside.units import unit_loads, unit_records

    assert unit_loads(chdb, DB) == {} and unit_records(chdb, DB) == {}  # C-1: held by no unit
    from readside.tiers import resolution_counts

    chdb.execute(f"INSERT INTO {DB}.cases (opened_date, opened_ms, updated_ms, case_id, "
                 "grid_id, category, step, tier, version) VALUES",
                 [(_today(), 1_702_000_000_000, 1_702_000_000_000, "C-2", "G02",
                   "environment", "closed", 2, 1)])
    assert resolution_counts(settings, 1_701_500_000_000) == {"G02": {2: 1}}
    assert resolution_counts(settings, 1_702_000_000_001) == {}

    view = ClickHouseCaseView(settings, connect=lambda: chdb)

    async def reads() -> tuple[Any, Any, Any]:
        one = await view.get("C-1")
        every = await view.search(CaseQuery(
            1_699_000_000_000, 1_701_000_000_000, case_ids=frozenset({"C-1"}),
            categories=frozenset({"environment"}), statuses=frozenset({"open"}), limit=10))
        closed = await view.search(CaseQuery(1_699_000_000_000, 1_701_000_000_000,
                                             statuses=frozenset({"closed"})))
        return one, every, closed

    try:
        one, every, closed = asyncio.run(reads())
    finally:
        view.close()
    assert one is not None and [r.case_id for r in every] == ["C-1"]
    assert closed == []


def test_the_cluster_ddl_parses_on_current_clickhouse(chdb: ChdbClient) -> None:
    statements = cluster_ddl("gw_cluster", "gridwall")
    assert sum("ReplicatedReplacingMergeTree(" in s for s in statements) == sum(
        "CREATE TABLE" in s for m in discover() for s in m.forwards)
    for statement in statements:
        chdb.session.query(f"EXPLAIN AST {statement}", "CSV")
    printed = subprocess.run([sys.executable, "-m", "gridwall.cli", "infra", "cluster-ddl",
                              "--cluster", "gw_cluster", "--database", "gridwall"],
                             capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert printed == "\n\n".join(f"{s};" for s in statements) + "\n"


def test_a_broken_statement_fails_the_parse(chdb: ChdbClient) -> None:
    with pytest.raises(Exception, match="SYNTAX_ERROR"):
        chdb.session.query("EXPLAIN AST CREATE TABLE a.b ON CLUSTER c (x UInt8) ENGINE = "
                           "ReplicatedMergeTree('/p', '{replica}') ORDER", "CSV")


def test_backup_and_restore_bring_the_database_back(chdb: ChdbClient) -> None:
    list(migrate(chdb, DB))
    chdb.execute(f"INSERT INTO {DB}.case_events (event_id, case_id, ts_ms) VALUES",
                 [("E-backup", "C-backup", 1_700_000_000_000)])
    target = f"File('{chdb.backups}/gridwall-1')"
    assert "BACKUP_CREATED" in str(chdb.session.query(f"BACKUP DATABASE {DB} TO {target}",
                                                      "CSV").bytes())
    tables = chdb.execute(f"SELECT name FROM system.tables WHERE database = '{DB}'")
    chdb.session.query(f"DROP DATABASE {DB} SYNC")
    assert "RESTORED" in str(chdb.session.query(f"RESTORE DATABASE {DB} FROM {target}",
                                                "CSV").bytes())
    assert chdb.execute(f"SELECT name FROM system.tables WHERE database = '{DB}'") == tables
    assert chdb.execute(f"SELECT count() FROM {DB}.case_events WHERE case_id = 'C-backup'"
                        ) == [(1,)]
