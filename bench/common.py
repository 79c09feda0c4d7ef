"""Helpers every benchmark may use: percentiles, a free port, waiting for HTTP, a process's
CPU time, the output.

Output convention (see ``docs``): a human-readable table, then as the very last line one JSON
object with every figure, so runs can be compared by tools.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from wall.hub.stats import rss_mb


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) by nearest rank; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, timeout_s: float = 30.0, status: int = 200) -> bool:
    """Poll ``url`` until it answers ``status``; False if it did not within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == status:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    return False


def print_table(rows: Sequence[tuple[str, object]], title: str = "") -> None:
    """Print ``(name, value)`` rows aligned, under an optional title."""
    if title:
        print(title)
    width = max((len(name) for name, _ in rows), default=0)
    for name, value in rows:
        shown = f"{value:,.1f}" if isinstance(value, float) else str(value)
        print(f"  {name:<{width}}  {shown}")


def rounded(figures: Mapping[str, object]) -> dict[str, object]:
    """The figures with floats to 6 significant digits and NaN as None (JSON has no NaN)."""
    return {k: (float(f"{v:.6g}") if v == v else None) if isinstance(v, float) else v
            for k, v in figures.items()}


def print_figures(figures: Mapping[str, object]) -> None:
    """Print every figure as one JSON object: this must be the benchmark's last line."""
    print(json.dumps(dict(figures), sort_keys=True), flush=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from ``/proc``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants alive now (``gridwall worker`` runs its sensors job in a
    child process), from ``/proc``."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
    return found


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of ``pid`` and its live descendants."""
    return _tree_sum(pid, cpu_seconds)


def tree_rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` and its live descendants, in MiB."""
    return _tree_sum(pid, rss_mb)


def _tree_sum(pid: int, measure: Callable[[int], float]) -> float:
    """``measure`` summed over ``pid`` and its live descendants (one gone meanwhile: 0)."""
    total = 0.0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            total += measure(member)
    return total


class Following:
    """A background thread running ``self._run`` until :meth:`stop` (for dataclasses that
    follow a topic: they declare ``_stop: threading.Event`` and ``_thread`` fields, and
    ``_run`` returns once ``_stop`` is set)."""

    _stop: threading.Event
    _thread: threading.Thread | None

    def _run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        """Begin following."""
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop following (waits up to 10 s for the thread)."""
        self._stop.set()
        if self._thread:
            self._thread.join(10)
