"""Numbered ClickHouse migrations, applied once each and recorded in the database.

A migration is ``infra/migrations/NNNN_name.sql``: statements separated by ``;`` under
``-- forwards``, and optionally the statements that undo them under ``-- backwards``.
``{db}`` stands for the database name. SQL must run on ClickHouse 18.16 and on current
servers (see DESIGN.md for the dialect limits).

Guarantees: :func:`migrate` creates the database and the ``schema_migrations`` table if
needed, applies pending migrations in number order, records each one after its statements
succeeded, and applies nothing when everything is recorded (running it twice is a no-op).

A migration interrupted half-way can be run again when its column changes are written
``ADD COLUMN IF NOT EXISTS`` / ``DROP COLUMN IF EXISTS`` (as current ClickHouse reads them):
18.16 has no such guard, so :func:`_portable` checks it in ``system.columns`` and sends the
statement without it. Files are not checksummed: an applied migration is never re-read.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from clickhouse_driver import Client

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    """A migration file is malformed or one of its statements failed."""


@dataclass(frozen=True)
class Migration:
    """One numbered migration file, parsed."""

    number: int
    name: str
    forwards: tuple[str, ...]
    backwards: tuple[str, ...]


def _statements(text: str) -> tuple[str, ...]:
    lines = [ln for ln in text.splitlines() if not ln.strip().startswith("--")]
    return tuple(s.strip() for s in "\n".join(lines).split(";") if s.strip())


def parse(path: Path) -> Migration:
    """Parse one migration file; raise :class:`MigrationError` if its name or body is bad."""
    match = _NAME.match(path.name)
    if not match:
        raise MigrationError(f"{path.name}: name must be NNNN_lowercase_words.sql")
    text = path.read_text()
    forwards, _, backwards = text.partition("-- backwards")
    if "-- forwards" not in forwards:
        raise MigrationError(f"{path.name}: no '-- forwards' section")
    body = forwards.split("-- forwards", 1)[1]
    statements = _statements(body)
    if not statements:
        raise MigrationError(f"{path.name}: '-- forwards' has no statement")
    return Migration(int(match.group(1)), match.group(2), statements, _statements(backwards))


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """All migrations in number order; numbers must be unique."""
    found = sorted((parse(p) for p in directory.glob("*.sql")), key=lambda m: m.number)
    numbers = [m.number for m in found]
    if len(numbers) != len(set(numbers)):
        raise MigrationError(f"duplicate migration numbers in {directory}")
    return found


def _bootstrap(client: Client, db: str) -> None:
    # One row per change of state; the latest (highest version) tells whether a migration
    # is applied. Rows are only ever inserted: ALTER ... DELETE is asynchronous in
    # ClickHouse, so a rollback recorded that way could still look applied right after.
    client.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
    client.execute(
        f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations "
        "(number UInt32, name String, applied UInt8, changed_at DateTime, version UInt64) "
        "ENGINE = ReplacingMergeTree(version) ORDER BY number"
    )


def applied(client: Client, db: str) -> set[int]:
    """Numbers of the migrations whose latest record says applied."""
    _bootstrap(client, db)
    rows = client.execute(f"SELECT number, argMax(applied, version) FROM {db}.schema_migrations "
                          "GROUP BY number")
    return {number for number, state in rows if state}


def _record(client: Client, db: str, migration: Migration, state: int) -> None:
    client.execute(
        f"INSERT INTO {db}.schema_migrations (number, name, applied, changed_at, version) "
        "VALUES",
        [(migration.number, migration.name, state, datetime.now(UTC).replace(tzinfo=None),
          time.time_ns())],
    )


def pending(client: Client, db: str, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Migrations not yet applied, in order."""
    done = applied(client, db)
    return [m for m in discover(directory) if m.number not in done]


_COLUMN_GUARD = re.compile(
    r"^(ALTER\s+TABLE\s+(\w+)\.(\w+)\s+(?:ADD|DROP)\s+COLUMN\s+)"
    r"IF\s+(NOT\s+)?EXISTS\s+(\w+)", re.IGNORECASE)


def _portable(client: Client, statement: str) -> str | None:
    """``statement`` as both 18.16 and current servers run it; None if it has nothing to do.

    ``ADD COLUMN IF NOT EXISTS c`` is skipped when the column exists and otherwise sent
    without the guard; ``DROP COLUMN IF EXISTS c`` likewise when it does not exist.
    """
    match = _COLUMN_GUARD.match(statement)
    if match is None:
        return statement
    head, database, table, adding, column = match.groups()
    exists = bool(client.execute(
        "SELECT count() FROM system.columns WHERE database = %(d)s AND table = %(t)s "
        "AND name = %(c)s", {"d": database, "t": table, "c": column})[0][0])
    if exists == bool(adding):
        return None
    return head + column + statement[match.end():]


def _run(client: Client, db: str, migration: Migration, statements: tuple[str, ...]) -> None:
    for statement in statements:
        try:
            portable = _portable(client, statement.replace("{db}", db))
            if portable is not None:
                client.execute(portable)
        except Exception as exc:
            raise MigrationError(f"{migration.number:04d}_{migration.name}: {exc}") from exc


def migrate(client: Client, db: str, directory: Path = MIGRATIONS_DIR) -> Iterator[Migration]:
    """Apply pending migrations in order, yielding each one after it is recorded."""
    for migration in pending(client, db, directory):
        _run(client, db, migration, migration.forwards)
        _record(client, db, migration, 1)
        yield migration


def rollback(client: Client, db: str, number: int, directory: Path = MIGRATIONS_DIR) -> None:
    """Undo one applied migration with its ``-- backwards`` statements and forget it."""
    migration = next((m for m in discover(directory) if m.number == number), None)
    if migration is None or number not in applied(client, db):
        raise MigrationError(f"migration {number:04d} is not applied")
    _run(client, db, migration, migration.backwards)
    _record(client, db, migration, 0)
