"""One log format for every GridWall process (gateway, hub, wall, worker, simulator, ``up``).

Every log record goes to stderr through the root logger, in the format chosen by
``GRIDWALL_LOG_FORMAT``:

``text`` (the default)
    ``<time> <LEVEL> <process> <logger>: <message>`` where ``<time>`` is ISO-8601 UTC to the
    millisecond (``2026-11-30T20:39:11.123Z``). A message or traceback of several lines keeps
    its first line there; each further line starts with two spaces (a continuation), so a
    reader can always tell a new record from the rest of the previous one.
``json``
    one JSON object a line: ``ts`` (as above), ``level``, ``process``, ``logger``, ``msg``,
    and ``exc`` (the traceback) when there is one.

:func:`logging_config` is the ``logging.config.dictConfig`` dictionary; it is what uvicorn
(``log_config``) and Faust (``logging_config``) are given, so their own lines — uvicorn's
access lines and Faust's worker lines included — come out in the same format.
:func:`configure_logging` applies it in a process and routes the handlers that libraries
(Bokeh, Panel, tornado) add to their own loggers through the root logger instead.
:func:`parse_line` reads a text line back (tests and tools).
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
import re
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any

from core.settings import LOG_FORMATS

FORMATS = LOG_FORMATS
CONTINUATION = "  "
LINE = re.compile(r"(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) "
                  r"(?P<level>[A-Z]+) (?P<process>\S+) "
                  r"(?P<logger>\S+): (?P<msg>.*)")
# libraries whose handlers on their own loggers would print in their own format
_LIBRARY_LOGGERS = ("bokeh", "panel", "param", "tornado", "faust", "mode", "uvicorn",
                    "aiokafka", "kafka", "websockets", "asyncio")


def utc_iso(created: float) -> str:
    """``created`` (epoch seconds) as ISO-8601 UTC to the millisecond."""
    millis = int(created * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{millis:03d}Z"


class TextFormatter(logging.Formatter):
    """``<time> <LEVEL> <process> <logger>: <message>``, continuation lines indented."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            text = f"{text}\n{record.exc_text}"
        if record.stack_info:
            text = f"{text}\n{self.formatStack(record.stack_info)}"
        head = f"{utc_iso(record.created)} {record.levelname} {self.process} {record.name}: "
        return head + text.rstrip("\n").replace("\n", "\n" + CONTINUATION)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``ts``, ``level``, ``process``, ``logger``, ``msg``, ``exc``."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"ts": utc_iso(record.created), "level": record.levelname,
                                "process": self.process, "logger": record.name,
                                "msg": record.getMessage()}
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


def log_format() -> str:
    """The format of this process: ``GRIDWALL_LOG_FORMAT`` (``text`` unless set)."""
    chosen = os.environ.get("GRIDWALL_LOG_FORMAT", "text") or "text"
    if chosen not in FORMATS:
        raise ValueError(f"GRIDWALL_LOG_FORMAT: one of {', '.join(FORMATS)}")
    return chosen


def _level(level: int | str) -> str:
    return logging.getLevelName(level) if isinstance(level, int) else level.upper()


def logging_config(process: str, level: int | str = logging.INFO, quiet: Iterable[str] = (),
                   fmt: str | None = None, levels: Mapping[str, str] | None = None
                   ) -> dict[str, Any]:
    """The ``dictConfig`` of ``process``: the root logger at ``level`` writes to stderr in
    ``fmt`` (default :func:`log_format`); each logger in ``quiet`` logs WARNING and above
    (or ``level`` if higher), each in ``levels`` at its own level; existing loggers stay
    enabled."""
    chosen = fmt or log_format()
    formatter = TextFormatter if chosen == "text" else JsonFormatter
    root_level = _level(level)
    number = logging.getLevelName(root_level)
    quiet_level = max(logging.WARNING, number if isinstance(number, int) else 0)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"gridwall": {"()": f"{__name__}.{formatter.__name__}",
                                    "process": process}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "gridwall",
                                "stream": "ext://sys.stderr"}},
        "root": {"level": root_level, "handlers": ["stderr"]},
        "loggers": {**{name: {"level": logging.getLevelName(quiet_level)} for name in quiet},
                    **{name: {"level": lvl.upper()} for name, lvl in (levels or {}).items()}},
    }


def route_library_loggers() -> None:
    """Take the handlers off the loggers of :data:`_LIBRARY_LOGGERS` (and their children)
    so their records reach the root logger's handler, in the one format."""
    names = [n for n in list(logging.root.manager.loggerDict)
             if n.split(".")[0] in _LIBRARY_LOGGERS]
    for name in names:
        logger = logging.getLogger(name)
        if logger.handlers:
            logger.handlers.clear()
        logger.propagate = True
    parameterized = sys.modules.get("param.parameterized")
    if parameterized is not None and getattr(parameterized, "logger", None) is None:
        # param (Panel's base) adds its own handler to "param" whenever it has no logger set
        setattr(parameterized, "logger", logging.getLogger("param"))  # noqa: B010


def configure_logging(process: str, level: int | str = logging.INFO,
                      quiet: Iterable[str] = (), fmt: str | None = None) -> None:
    """Configure this process's logging (:func:`logging_config`) and route the libraries'
    loggers through it (:func:`route_library_loggers`); a later call replaces an earlier
    one."""
    logging.config.dictConfig(logging_config(process, level, quiet, fmt))
    route_library_loggers()


def parse_line(line: str) -> dict[str, str] | None:
    """The fields of a ``text`` record's first line (``ts``, ``level``, ``process``,
    ``logger``, ``msg``); None if ``line`` is not one."""
    match = LINE.fullmatch(line)
    return match.groupdict() if match else None
