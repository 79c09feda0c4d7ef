"""The base layer (core) imports only domain, and nothing below the CLI imports gridwall: a
wrong-way import in a copy of the packages breaks the import-linter contracts."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from core.logs import configure_logging
from tests.unit.test_layers import lint_imports, tree  # noqa: F401 - the fixture

ROOT = Path(__file__).resolve().parents[2]


def test_core_importing_a_service_breaks_its_contract(tree: Path) -> None:  # noqa: F811
    (tree / "core" / "wrong_way.py").write_text("from streams import config\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "the base layer (core) imports only domain BROKEN" in result.stdout
    assert "core.wrong_way -> streams.config" in result.stdout


def test_a_service_importing_the_cli_breaks_its_contract(tree: Path) -> None:  # noqa: F811
    (tree / "ingest" / "wrong_way.py").write_text("from gridwall import cli\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "nothing below the CLI imports gridwall" in result.stdout
    assert "ingest.wrong_way -> gridwall.cli" in result.stdout


def test_gridwall_keeps_only_the_cli() -> None:
    modules = {p.relative_to(ROOT / "gridwall").as_posix()
               for p in (ROOT / "gridwall").rglob("*.py")}
    assert {m for m in modules if not m.startswith("commands/")} == {"__init__.py", "cli.py"}


def test_every_process_logs_through_configure_logging() -> None:
    for path in (ROOT / "gridwall" / "commands").glob("*.py"):
        assert "basicConfig" not in path.read_text(), path.name


def test_configure_logging_names_the_process_and_quiets_chatty_loggers(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(logging.root, "handlers", [])
    monkeypatch.setattr(logging.root, "level", logging.WARNING)
    chatty = logging.getLogger("test.chatty")
    monkeypatch.setattr(chatty, "level", logging.NOTSET)
    configure_logging("hub", "info", quiet=("test.chatty",))
    logging.getLogger("test.own").info("hello")
    chatty.info("per-connection noise")
    err = capsys.readouterr().err
    assert " INFO hub test.own: hello" in err
    assert "noise" not in err
