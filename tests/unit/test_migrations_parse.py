"""Migration files: well-formed, uniquely numbered, each with a way back."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.migrate import MigrationError, discover, parse


def test_every_migration_parses_and_has_backwards() -> None:
    migrations = discover()
    assert migrations, "no migrations found"
    assert [m.number for m in migrations] == sorted({m.number for m in migrations})
    for migration in migrations:
        assert migration.backwards, f"{migration.number:04d} has no backwards section"


FORBIDDEN = ("DateTime64", " TTL ", "JSONExtract", "OVER (", "SimpleAggregateFunction",
             "toStartOfInterval", "allow_experimental")


def test_dialect_runs_on_old_and_new_servers() -> None:
    for migration in discover():
        text = " ".join(migration.forwards)
        for word in FORBIDDEN:
            assert word not in text, f"{migration.number:04d} uses {word.strip()}"


def test_malformed_files_are_refused(tmp_path: Path) -> None:
    bad_name = tmp_path / "1_x.sql"
    bad_name.write_text("-- forwards\nSELECT 1;")
    with pytest.raises(MigrationError):
        parse(bad_name)
    empty = tmp_path / "0001_empty.sql"
    empty.write_text("-- forwards\n-- backwards\nSELECT 1;")
    with pytest.raises(MigrationError):
        parse(empty)
