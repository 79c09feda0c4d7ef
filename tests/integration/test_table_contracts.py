"""Applying every migration yields exactly the table contracts (domain/contracts/tables.py).

Per table: the same columns in the same order with the same types, DEFAULT columns exactly
where the contract marks them derived, the replacing key as ``ORDER BY`` and the version
column of the ReplacingMergeTree; and no table the contracts do not declare (the migration
bookkeeping table aside). Checked on current ClickHouse (chDB, as
``test_chdb_dialect.py``) and on the real 18.16 server of ``gridwall infra up`` in a database
of its own.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.clients import clickhouse_client
from domain.contracts.tables import TABLES, Column, TableSpec
from infra.migrate import discover, migrate
from tests.integration.test_chdb_dialect import ChdbClient

pytestmark = pytest.mark.integration

BOOKKEEPING = {"schema_migrations"}  # infra/migrate.py's own table


def _version(engine_full: str) -> str | None:
    found = re.match(r"ReplacingMergeTree(?:\((\w*)\))?", engine_full)
    assert found, engine_full
    return found.group(1) or None


def table_differences(client: Any, db: str, specs: Iterable[TableSpec]) -> list[str]:
    """What the migrated database ``db`` has that the contracts ``specs`` do not say."""
    specs = {s.name: s for s in specs}
    tables = {name: (engine, key) for name, engine, key in client.execute(
        f"SELECT name, engine_full, sorting_key FROM system.tables WHERE database = '{db}'")}
    out = [f"table {t} is not declared" for t in sorted(tables.keys() - specs.keys()
                                                          - BOOKKEEPING)]
    out += [f"table {t} is not created" for t in sorted(specs.keys() - tables.keys())]
    for name in sorted(specs.keys() & tables.keys()):
        spec, (engine, key) = specs[name], tables[name]
        found = [Column(n, t, derived=kind == "DEFAULT") for n, t, kind in client.execute(
            "SELECT name, type, default_kind FROM system.columns "
            f"WHERE database = '{db}' AND table = '{name}' ORDER BY position"
            if _has_position(client) else
            "SELECT name, type, default_kind FROM system.columns "
            f"WHERE database = '{db}' AND table = '{name}'")]
        if found != list(spec.columns):
            out.append(f"{name}: columns {found} != contract {list(spec.columns)}")
        if key.replace(" ", "") != ",".join(spec.order_by):
            out.append(f"{name}: ORDER BY {key} != contract {spec.order_by}")
        if _version(engine) != spec.version:
            out.append(f"{name}: version {_version(engine)} != contract {spec.version}")
    return out


def _has_position(client: Any) -> bool:
    """18.16's system.columns has no ``position``; it lists columns in table order anyway."""
    return bool(client.execute("SELECT count() FROM system.columns WHERE database = 'system' "
                               "AND table = 'columns' AND name = 'position'")[0][0])


@pytest.fixture(scope="module")
def chdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbClient]:
    client = ChdbClient(tmp_path_factory.mktemp("chdb_tables"))
    assert [m.number for m in migrate(client, "gw_tables")] == [m.number for m in discover()]
    yield client
    client.session.close()


def test_migrations_yield_the_contracts_on_current_clickhouse(chdb: ChdbClient) -> None:
    assert table_differences(chdb, "gw_tables", TABLES.values()) == []


def test_a_contract_the_migrations_do_not_follow_is_found(chdb: ChdbClient) -> None:
    cases = TABLES["cases"]
    wrong_type = dataclasses.replace(cases, columns=(
        *cases.columns[:-1], Column("note", "Nullable(String)")))
    wrong_key = dataclasses.replace(TABLES["alerts"], order_by=("grid_id", "alert_id"))
    no_version = dataclasses.replace(TABLES["scores"], version=None)
    extra = TableSpec("ghost", (Column("x", "UInt8"),), ("x",), None)
    found = table_differences(
        chdb, "gw_tables",
        [wrong_type, wrong_key, no_version, extra,
         *(t for n, t in TABLES.items() if n not in ("cases", "alerts", "scores", "raw_events"))])
    assert [f.split(":")[0].split(" is")[0] for f in found] == [
        "table raw_events", "table ghost", "alerts", "cases", "scores"]


def test_migrations_yield_the_contracts_on_the_real_server(gw_settings: Any) -> None:
    client = clickhouse_client(gw_settings, connect_timeout=3)
    db = f"gw_tables_{uuid.uuid4().hex[:8]}"
    try:
        assert [m.number for m in migrate(client, db)] == [m.number for m in discover()]
        assert table_differences(client, db, TABLES.values()) == []
    finally:
        client.execute(f"DROP DATABASE IF EXISTS {db}")
        client.disconnect()


def test_every_table_a_migration_creates_is_declared() -> None:
    created = {m.group(1) for path in (Path(__file__).resolve().parents[2] / "infra"
                                       / "migrations").glob("*.sql")
               for m in re.finditer(r"CREATE TABLE IF NOT EXISTS \{db\}\.(\w+)",
                                    path.read_text())}
    assert created == set(TABLES)
