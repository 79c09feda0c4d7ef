"""The one log format (core.logs): text lines that parse back, continuation lines for
tracebacks, JSON lines, and library handlers routed through the root logger."""

from __future__ import annotations

import json
import logging

import pytest

from core.logs import CONTINUATION, configure_logging, parse_line


@pytest.fixture(autouse=True)
def _restore_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logging.root, "handlers", [])
    monkeypatch.setattr(logging.root, "level", logging.WARNING)


def test_text_lines_parse_and_a_traceback_continues_indented(
        capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("wall", "info", fmt="text")
    logging.getLogger("t.one").info("two\nlines")
    try:
        raise ValueError("bad")
    except ValueError:
        logging.getLogger("t.two").exception("failed")
    lines = capsys.readouterr().err.splitlines()
    first = parse_line(lines[0])
    assert first is not None and first["ts"].endswith("Z")
    assert (first["level"], first["process"], first["logger"], first["msg"]) == (
        "INFO", "wall", "t.one", "two")
    assert lines[1] == CONTINUATION + "lines"
    assert parse_line(lines[2]) is not None and lines[2].endswith("ERROR wall t.two: failed")
    assert all(line.startswith(CONTINUATION) for line in lines[3:])
    assert "ValueError: bad" in lines[-1]


def test_json_lines_hold_one_record_each(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("hub", "warning", fmt="json")
    logging.getLogger("t.three").info("left out")
    try:
        raise KeyError("k")
    except KeyError:
        logging.getLogger("t.three").error("x=%d", 5, exc_info=True)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert {k: record[k] for k in ("level", "process", "logger", "msg")} == {
        "level": "ERROR", "process": "hub", "logger": "t.three", "msg": "x=5"}
    assert "KeyError" in record["exc"]


def test_a_library_handler_is_routed_through_the_root_logger(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    library = logging.getLogger("bokeh.server.test")
    monkeypatch.setattr(library, "handlers", [logging.StreamHandler()])
    monkeypatch.setattr(library, "propagate", False)
    configure_logging("wall", "info", fmt="text")
    library.warning("from bokeh")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].endswith("WARNING wall bokeh.server.test: from bokeh")
