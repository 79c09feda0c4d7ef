"""Pacing the event stream to a rate, handing chunks to a sink, reporting progress.

:func:`run` sends event ``k`` of the stream no earlier than ``k / rate`` seconds after the
start (the engine stamps it ``k / rate`` seconds after ``start_ms`` too, so timestamps stay
live), in chunks of whatever came due since the last send. If the sink is slower than the
rate, chunks grow (up to ``max_chunk``) and the run goes as fast as the sink allows.
Guarantees: events reach the sink each exactly once, in stream order (see ``push_every_s``
for the exception); the run stops after
``duration_s`` (checked between chunks), after ``max_events`` events, or on Ctrl-C, and
always returns its totals. ``push_every_s`` holds readings back and sends them together
every that many seconds (case events and records still go as they come due). A progress
line is reported every ``progress_every_s``.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from domain.schemas import SensorReading
from ingest.simulator.engine import Event
from ingest.simulator.sink import Sink, SinkStats


@dataclass
class RunResult:
    """How a run went: events handed to the sink, wall seconds, the sink's totals."""

    events: int
    seconds: float
    stats: SinkStats
    interrupted: bool = False

    @property
    def rate(self) -> float:
        """Events per second achieved over the whole run."""
        return self.events / self.seconds if self.seconds > 0 else 0.0


def progress_line(result: RunResult, recent_rate: float, detail: str = "") -> str:
    """One human-readable status line: events, rates, accepted/rejected/errors."""
    s = result.stats
    line = (f"simulate: {result.events:,} events in {result.seconds:,.0f} s, "
            f"{recent_rate:,.0f} events/s now, {result.rate:,.0f} overall; "
            f"accepted {s.accepted:,}, duplicates {s.duplicates:,}, rejected {s.rejected:,}, "
            f"errors {s.errors:,}")
    return f"{line}; {detail}" if detail else line


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def hold_readings(chunk: list[Event], held: list[Event]) -> list[Event]:
    """Append ``chunk``'s readings to ``held`` and return its other events, both in order.

    One pass finds the few other events; the readings between them are copied by slices.
    """
    at = [i for i, e in enumerate(chunk) if type(e) is not SensorReading]
    begin = 0
    for i in at:
        held.extend(chunk[begin:i])
        begin = i + 1
    held.extend(chunk[begin:])
    return [chunk[i] for i in at]


def run(events: Iterator[Event], sink: Sink, rate: float, *, duration_s: float | None = None,
        max_events: int | None = None, progress_every_s: float = 5.0, tick_s: float = 0.05,
        max_chunk: int = 20_000, push_every_s: float = 0.0,
        report: Callable[[str], None] = _stderr,
        detail: Callable[[], str] = lambda: "",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep) -> RunResult:
    """Feed ``events`` to ``sink`` at ``rate`` per second (see the module docstring).

    With ``push_every_s`` > 0 sensor readings are held back and sent together every
    ``push_every_s`` seconds (as sensor hubs that push what they read), or once ``max_chunk``
    are held; case events and department records still go as they come due, so they may
    reach the sink before readings stamped earlier. What is held is sent when the run ends.
    """
    start = clock()
    # a Simulation hands out chunks itself (Simulation.take), cheaper than one by one
    take: Callable[[int], list[Event]] | None = getattr(events, "take", None)
    result = RunResult(0, 0.0, sink.stats)
    last_report, last_count = start, 0
    held: list[Event] = []
    next_push = start + push_every_s
    try:
        while max_events is None or result.events < max_events:
            now = clock()
            elapsed = now - start
            if duration_s is not None and elapsed >= duration_s:
                break
            due = int(elapsed * rate) + 1
            if max_events is not None:
                due = min(due, max_events)
            if due <= result.events:
                sleep(max(tick_s, result.events / rate - elapsed))
                continue
            wanted = min(due - result.events, max_chunk)
            chunk = take(wanted) if take is not None else list(itertools.islice(events, wanted))
            if not chunk:
                break
            result.events += len(chunk)
            if push_every_s > 0:
                others = hold_readings(chunk, held)
                if others:
                    sink.send(others)
                if clock() >= next_push or len(held) >= max_chunk:
                    sink.send(held)
                    held = []
                    next_push = max(next_push + push_every_s, clock())
            else:
                sink.send(chunk)
            now = clock()
            result.seconds = now - start
            if now - last_report >= progress_every_s:
                report(progress_line(result, (result.events - last_count) / (now - last_report),
                                     detail()))
                last_report, last_count = now, result.events
    except KeyboardInterrupt:
        result.interrupted = True
    if held:
        sink.send(held)
    result.seconds = clock() - start
    return result
