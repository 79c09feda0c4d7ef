"""Prometheus text exposition of a process's figures (the ``/metrics`` of hub and wall).

:func:`prometheus_text` turns a dict of figures (as ``/healthz`` answers) into the text
format: every number or boolean becomes a gauge ``<prefix>_<key>`` (booleans as 0/1,
nested dicts flattened with ``_``); a string becomes ``<prefix>_<key>_info{value="..."} 1``
so states such as ``feed="running"`` can be alerted on; ``None`` and lists are left out.
Names are cleaned to ``[a-zA-Z0-9_]``; label values are escaped as the format requires.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

_NOT_NAME = re.compile(r"[^a-zA-Z0-9_]")


def _name(*parts: str) -> str:
    return _NOT_NAME.sub("_", "_".join(parts))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _lines(prefix: str, figures: Mapping[str, Any]) -> Iterator[str]:
    for key in sorted(figures):
        value = figures[key]
        name = _name(prefix, str(key))
        if isinstance(value, Mapping):
            yield from _lines(name, value)
        elif isinstance(value, bool):
            yield f"# TYPE {name} gauge\n{name} {int(value)}"
        elif isinstance(value, int | float):
            yield f"# TYPE {name} gauge\n{name} {value}"
        elif isinstance(value, str):
            yield f'# TYPE {name}_info gauge\n{name}_info{{value="{_escape(value)}"}} 1'


def prometheus_text(prefix: str, figures: Mapping[str, Any]) -> str:
    """The figures in the Prometheus text format (ends with a newline)."""
    return "".join(line + "\n" for line in _lines(prefix, figures))
