"""One runner for every stream job: it owns the order of effects.

A job is a small class in its own module (``streams/jobs/<name>.py``) that offers:

* ``name`` (its agent, consumer group suffix, health and dead-letter stage) and ``source``
  (the dead letters' source); ``keyed_dead_letters``: whether an undecodable record's key
  is its grid;
* ``decode(record)``: one input record to its value (msgspec); raising
  :class:`~domain.wire.WireError` or :class:`msgspec.MsgspecError` rejects the record;
* ``handle(batch, out)``: the batch's decoded records in input order; outputs go into
  ``out`` (an :class:`~streams.outbox.Outbox`), state changes are staged; returns a
  :class:`Tally` for job health (None: the job counts itself);
* ``write_state()``: apply the staged state and write its changelog records, returning only
  when the broker acknowledged them (a job whose state is rebuilt has nothing to write);
* ``timers()``: the job's periodic work (:class:`Timer`), registered by the runner.

:meth:`Runner.process` does, for every batch of every job, in this order:

1. **decode** every record (a record that does not decode goes to the dead letters as stage
   ``<name>.decode`` and is not handed over);
2. **handle** the decoded batch;
3. **flush** the outputs — :meth:`Outbox.flush` returns when every output is acknowledged;
4. **state**: ``write_state()`` (acknowledged changelog);
5. count the batch in job health.

Then the engine **commits** the input: a Faust agent's batch body returns and Faust acks the
batch's events (``take_events`` acks after the body, FAUST-NOTES) and commits them; a
:class:`~streams.batchloop.BatchLoop` commits the batch's offsets after its handler (this
method) returned. A crash at any step replays the batch, whose outputs carry deterministic
ids or replacing keys, so nothing is lost and a replay changes nothing.

Engines: :func:`on_agent` runs a job as a Faust agent over ``take_events`` batches
(:class:`FaustAgent`, with the gap and tail filler of :mod:`streams.faust_adapter` where
asked), :func:`on_loop` as a plain
consumer loop with its state moving with its partitions, :func:`add_timers` registers a
job's timers. One batch of a job is processed at a time (a Faust agent has one actor, a loop
one batch in hand, and the tail filler takes turns with the agent), so a job may stage state
between ``handle`` and ``write_state``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import faust
import msgspec
from mode import Service

from domain.wire import WireError
from streams.batchloop import DEFAULT_FETCH_MAX_BYTES, BatchLoop, Handler, PartitionState
from streams.ext import wall_ms
from streams.health.job import JobHealth
from streams.outbox import Outbox

if TYPE_CHECKING:
    from streams.faust_adapter import FaustGapFill

log = logging.getLogger(__name__)

TAKE_MAX = 2_000
TAKE_WITHIN_S = 0.1  # workflow topics are light: favour latency over batch size
TAIL_TICK_S = 1.0
# input bytes decoded between two yields to the event loop (~256 KB: ~1,700 readings, a few ms)
DECODE_SLICE_BYTES = 256 * 1024
STOP_WAIT_S = 10.0


@dataclass(frozen=True, slots=True)
class Record:
    """One input record, the fields a job reads (an aiokafka record has the same ones)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp: int  # ms


class Item(NamedTuple):
    """A decoded input record: the record and its value."""

    record: Any
    value: Any


class Tally(NamedTuple):
    """What a handled batch counts in job health.

    ``events``: None counts one per input record; ``oldest_ms``: None takes the oldest input
    record's timestamp; ``latency``: whether to record a latency at all.
    """

    events: int | None = None
    oldest_ms: int | None = None
    latency: bool = True


class Timer(NamedTuple):
    """A job's periodic work: ``tick`` every ``interval_s`` seconds."""

    name: str
    interval_s: float
    tick: Callable[[], Awaitable[Any]]


class Job(Protocol):
    """A stream job; see the module docstring."""

    name: str
    source: str
    keyed_dead_letters: bool

    def decode(self, record: Any) -> Any:
        """The record's value; raise WireError or msgspec.MsgspecError to reject it."""

    async def handle(self, batch: list[Item], out: Outbox) -> Tally | None:
        """Handle the decoded batch: outputs into ``out``, state staged."""

    async def write_state(self) -> None:
        """Apply the staged state; return when its changelog is acknowledged."""

    def timers(self) -> Sequence[Timer]:
        """The job's timers."""


class RawLoopJob:
    """A plain-loop job whose handler decodes its own records: the runner hands it the
    records as fetched (decoding never rejects here; the handler dead-letters what does not
    decode and flushes its own outputs before returning; the runner's flush and state steps
    are then empty). The registers job and the street stage are run so: they decode the same
    records again when their partition is restored (``replay``).
    """

    source = "streams"
    keyed_dead_letters = False

    def __init__(self, name: str, topic: str, handler: Handler,
                 state: PartitionState | None, timers: Sequence[Timer] = (),
                 max_records: int = 5_000) -> None:
        self.name = name
        self.topic = topic
        self.handler = handler
        self.state = state
        self.max_records = max_records
        self._timers = list(timers)

    def decode(self, record: Any) -> Any:
        """The record itself."""
        return record

    async def handle(self, batch: list[Item], out: Outbox) -> Tally | None:
        """The handler over the records; it counts itself in job health."""
        await self.handler([item.record for item in batch])
        return None

    async def write_state(self) -> None:
        """State is the handler's (rebuilt on assignment, see its module)."""

    def timers(self) -> list[Timer]:
        """The timers given."""
        return list(self._timers)


class Runner:
    """Runs one job's batches in the order of effects of the module docstring."""

    def __init__(self, job: Job, outbox: Callable[[], Outbox], health: JobHealth) -> None:
        self.job = job
        self.outbox = outbox
        self.health = health

    async def process(self, records: Sequence[Any]) -> None:
        """Decode, handle, flush outputs, write state, count; the caller commits after."""
        if not records:
            return
        out = self.outbox()
        batch = await self.decode(records, out)
        tally = await self.job.handle(batch, out)
        await out.flush()
        await self.job.write_state()
        if tally is not None:
            self.count(records, tally)

    async def decode(self, records: Sequence[Any], out: Outbox) -> list[Item]:
        """The decoded records; the others are dead-lettered into ``out``. Yields to the
        event loop after every :data:`DECODE_SLICE_BYTES` of input (a fetch of packed
        readings can hold megabytes: decoded in one go it kept a case event waiting
        hundreds of ms)."""
        job = self.job
        batch = []
        decoded = 0
        for rec in records:
            if decoded >= DECODE_SLICE_BYTES:
                decoded = 0
                await asyncio.sleep(0)
            decoded += len(rec.value or b"")
            try:
                batch.append(Item(rec, job.decode(rec)))
            except WireError as exc:
                self._dead(out, rec, exc.reason, exc.field)
            except msgspec.MsgspecError as exc:
                self._dead(out, rec, str(exc), None)
        return batch

    def _dead(self, out: Outbox, rec: Any, reason: str, field: str | None) -> None:
        job = self.job
        grid = rec.key.decode() if job.keyed_dead_letters and rec.key else None
        out.dead(f"{job.name}.decode", job.source, reason, rec.timestamp, rec.value, grid,
                 field)

    def count(self, records: Sequence[Any], tally: Tally) -> None:
        """Count the batch in job health, with the age of its oldest input."""
        now = wall_ms()
        events = len(records) if tally.events is None else tally.events
        self.health.count(self.job.name, events, len(records), now)
        if tally.latency:
            oldest = (min(r.timestamp for r in records) if tally.oldest_ms is None
                      else tally.oldest_ms)
            self.health.latency(self.job.name, now - oldest)


def faust_record(message: Any) -> Record:
    """A Faust message (or a refetched record shaped like one: timestamp in seconds)."""
    return Record(message.topic, message.partition, message.offset, message.key,
                  message.value, int(message.timestamp * 1000))


class FaustAgent:
    """A job run as a Faust agent over ``take_events`` batches of one topic; with ``gaps``,
    every batch is completed by the gap filler and :meth:`fill_tails` (a timer) applies what
    Faust fetched but never handed over (:mod:`streams.faust_adapter`). Batches and tail
    fills take turns (one lock), so the job sees one batch at a time."""

    def __init__(self, runner: Runner, gaps: FaustGapFill | None = None) -> None:
        self.runner = runner
        self.gaps = gaps
        self._lock = asyncio.Lock()
        self._stream: Any = None

    async def batch(self, messages: list[Any]) -> None:
        """Process one batch of Faust messages (as ``take_events`` hands them)."""
        async with self._lock:
            if self.gaps is not None:
                messages = await self.gaps.complete(messages)
            await self.runner.process([faust_record(m) for m in messages])
            if self.gaps is not None:
                await self.gaps.done()

    async def fill_tails(self) -> int:
        """Process the partitions' tails Faust never handed over; return how many records.

        Checked on every tick, also while events wait in the agent's stream: skipping then
        (tried) left a two-worker run's partition unapplied for over two minutes in CI."""
        gaps = self.gaps
        if gaps is None:
            return 0
        async with self._lock:
            positions = gaps.positions()
            if positions is None:
                return 0
            missing = await gaps.missing_tails(*positions)
            await self.runner.process([faust_record(m) for m in missing])
            await gaps.done()
        return len(missing)

    async def run(self, stream: Any) -> None:
        """The agent's body."""
        self._stream = stream
        async for events in stream.take_events(TAKE_MAX, within=TAKE_WITHIN_S):
            await self.batch([ev.message for ev in events])


def on_agent(app: faust.App, runner: Runner, topic: str,
             gaps: FaustGapFill | None = None) -> tuple[Any, FaustAgent]:
    """Run the job as a :class:`FaustAgent` over ``topic`` (agent name: the job's), with its
    tail timer when ``gaps`` is given; return the Faust agent and the engine."""
    engine = FaustAgent(runner, gaps)

    async def agent(stream: Any) -> None:
        await engine.run(stream)

    agent.__name__ = agent.__qualname__ = f"{runner.job.name}_agent"
    handle = app.agent(app.topic(topic), name=runner.job.name)(agent)
    if gaps is not None:
        add_timers(app, [Timer(f"{runner.job.name}_tails", TAIL_TICK_S, engine.fill_tails)])
    return handle, engine


def on_loop(app: faust.App, runner: Runner, topics: Sequence[str], group: str,
            max_records: int, state: PartitionState | None, bootstrap: str,
            client_options: dict[str, Any] | None = None) -> BatchLoop:
    """Run the job as a :class:`BatchLoop` (consumer group ``group``) started and stopped
    with the app, its ``state`` moving with its partitions; a failing loop crashes the
    worker."""
    name = runner.job.name
    handler: Handler = runner.process
    loop = BatchLoop(bootstrap, group, topics, handler, max_records,
                     client_options=client_options,
                     fetch_max_bytes=getattr(runner.job, "fetch_max_bytes",
                                             DEFAULT_FETCH_MAX_BYTES))
    if state is not None:
        loop.own(state)
    add_service(app, f"{name.title()}Loop", loop.run)
    return loop


def add_service(app: faust.App, name: str, run: Callable[[asyncio.Event], Awaitable[None]]
                ) -> None:
    """Run ``run(stopping)`` from the app's start to its stop; if it fails, crash the app
    (its successor replays from the last commit)."""

    def crash_on_error(task: asyncio.Future[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed: %r", name, task.exception())
            asyncio.ensure_future(app.crash(task.exception()))  # type: ignore[arg-type]

    async def on_start(service: Any) -> None:
        service.stopping = asyncio.Event()
        service.task = asyncio.ensure_future(run(service.stopping))
        service.task.add_done_callback(crash_on_error)

    async def on_stop(service: Any) -> None:
        service.stopping.set()
        _, pending = await asyncio.wait([service.task], timeout=STOP_WAIT_S)
        for task in pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    app.service(type(name, (Service,), {"on_start": on_start, "on_stop": on_stop}))


def add_timers(app: faust.App, timers: Sequence[Timer]) -> None:
    """Register each timer with the app (started and stopped with it)."""
    for timer in timers:
        app.timer(interval=timer.interval_s, name=timer.name)(_nullary(timer))


def _nullary(timer: Timer) -> Callable[[], Awaitable[None]]:
    """The timer's tick as a function of no arguments (Faust passes the app to a function
    that takes any)."""

    async def run() -> None:
        await timer.tick()

    run.__name__ = run.__qualname__ = timer.name
    return run
