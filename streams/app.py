"""The Faust app of GridWall's stream jobs: cases, SLA timer, alerts, commands, sink, control.

:func:`make_app` builds one app per settings (its id carries the topic prefix, so test
sessions never share consumer groups or changelogs). Agents read raw bytes, decode with
msgspec, and work per batch (``take_events``): outputs are coalesced per batch and flushed
(acknowledged by the broker) *before* the batch's table writes, and the table writes'
changelog records are acknowledged before Faust acks the input, so a crash anywhere replays
input whose outputs are idempotent.

State: the ``cases`` and ``alerts`` tables (in-memory stores recovered from their
changelogs). Each write goes to the changelog partition of the input partition it came from
(:class:`PartitionedTable`), so a worker that owns a grid's partition recovers exactly that
grid's cases and alerts. Derived, in-memory: the SLA deadline index and the open-alert
cache, rebuilt from the tables after every recovery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import faust
import mode
import msgspec
from mode import Service

from domain.alerts import RESOLVED, AlertState, due_ticks
from domain.schemas import CaseEvent, Command
from domain.wire import WireError, decode, decode_one_or_many, encode
from gridwall.settings import Settings
from infra.topics import ALERTS, CASE_EVENTS, COMMANDS, DEAD_LETTER, WALL_UPDATES
from streams.alert_logic import AlertBook, AlertOp, expand, process_op
from streams.case_logic import (
    CaseRecord,
    breach_event,
    deadline_ms,
    decode_record,
    encode_record,
    escalation_ms,
    process,
)
from streams.commands import Route, route
from streams.config import LiveConfig
from streams.control import ControlFollower, load_latest
from streams.deadlines import DeadlineIndex
from streams.gapfill import GapFiller, faust_positions
from streams.health.job import JobHealth
from streams.metrics.facts import StepFact
from streams.outbox import Outbox, Send
from streams.retention import DAY_MS, FinishedCases
from streams.rows import alert_action_row, alert_row, case_row, transition_row
from streams.sink import ClickHouseSink, case_events_decoder, dead_letters_decoder, rows_decoder
from streams.topics import ALERT_OPS, ROWS

log = logging.getLogger(__name__)

T = TypeVar("T")
TAKE_MAX = 2_000
TAKE_WITHIN_S = 0.1  # workflow topics are light: favour latency over batch size
SLA_TICK_S = 0.25
# Breaches fired per SLA tick at most: a catch-up after an outage drains over several ticks
# (2,000 breaches/s) instead of holding the event loop for seconds.
BREACHES_PER_TICK = 500
ALERT_TICK_S = 0.5
TAIL_TICK_S = 1.0
PRUNE_TICK_S = 60.0
PRUNE_PER_TICK = 5_000
_alert_decoder = msgspec.json.Decoder(AlertState)


def wall_clock_ms() -> int:
    """Now, in epoch milliseconds."""
    return int(time.time() * 1000)


def app_id(settings: Settings) -> str:
    """The Faust app id (consumer group, changelog names) under the topic prefix."""
    return f"{settings.topic_prefix}gridwall-streams"


class PartitionedTable(faust.Table):
    """A table whose writes name their changelog partition (see the module docstring).

    Writes happen inside ``take_events`` batches, where Faust has no current event, so the
    caller passes the partition of the input record explicitly via :meth:`put`.

    Durability: a write changes the in-memory store at once and its changelog record is
    sent by :meth:`write_changelog`, which returns only when the broker acknowledged every
    record; a batch awaits it after its writes, before Faust may ack the batch's input.
    (Faust's own path hands changelog records to a background buffer that drains slowly
    under load, and its pre-commit ``producer.flush()`` gives up after 0.1 s without
    progress, so an input offset could be committed before its write was durable.)
    """

    # set by make_app: (topic, key, value, partition) -> awaitable of the broker's ack
    send_to: Callable[[str, bytes, bytes | None, int], Awaitable[Awaitable[Any]]] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._unsent: list[tuple[bytes, bytes | None, int]] = []

    def partition_for_key(self, key: Any) -> int | None:
        """Writes must go through :meth:`put`, which names the partition."""
        raise RuntimeError(f"table {self.name}: write without a partition; use put()")

    def put(self, key: bytes, value: bytes, partition: int) -> None:
        """Set ``key`` now; its changelog record goes to ``partition`` on the next flush."""
        self.data[key] = value
        self._unsent.append((key, value, partition))
        # The memory store drops keys of revoked partitions after a rebalance only if it
        # knows their partition; it learns that from recovery, so tell it about writes too.
        key_partition = getattr(self.data, "_key_partition", None)
        if key_partition is not None:
            key_partition[key] = partition

    def remove(self, key: bytes) -> bool:
        """Drop ``key`` now; its tombstone goes to its changelog partition on the next flush.

        Returns False if the key is absent, or if its partition is unknown (then it stays).
        """
        key_partition = getattr(self.data, "_key_partition", {})
        partition = key_partition.get(key)
        if key not in self.data or partition is None:
            return False
        del self.data[key]
        key_partition.pop(key, None)
        self._unsent.append((key, None, partition))
        return True

    async def write_changelog(self) -> None:
        """Send the changelog records of the writes so far; return when all are acked."""
        pending, self._unsent = self._unsent, []
        if not pending or self.send_to is None:
            return
        topic = self.changelog_topic.get_topic_name()
        acks = [await self.send_to(topic, key, value, partition)
                for key, value, partition in pending]
        await asyncio.gather(*acks)


@dataclass
class Runtime:
    """The worker's in-memory, derived state and its live config."""

    settings: Settings
    config: LiveConfig
    clock: Callable[[], int]
    deadlines: DeadlineIndex = field(default_factory=DeadlineIndex)
    finished: FinishedCases = field(default_factory=FinishedCases)
    open_alerts: dict[str, AlertState] = field(default_factory=dict)
    open_by_fingerprint: dict[str, str] = field(default_factory=dict)
    ticks_sent: dict[str, str] = field(default_factory=dict)
    # the last breaches' detection delays (timer tick - deadline), for job health
    breach_delays_ms: deque[int] = field(default_factory=lambda: deque(maxlen=1024))
    sink: ClickHouseSink | None = None
    # the worker's job health (set by streams.ext.install): per-batch counts of the agents
    health: JobHealth | None = None
    # called with (step fact, event) per applied transition that adds a fact
    case_hooks: list[Callable[[StepFact, CaseEvent], None]] = field(default_factory=list)
    # called with every record of the cases table after it was recovered
    recovery_hooks: list[Callable[[list[CaseRecord]], None]] = field(default_factory=list)


@dataclass
class StreamsApp:
    """The app and what tests and the CLI reach into."""

    app: faust.App
    runtime: Runtime
    cases: PartitionedTable
    alerts: PartitionedTable
    agents: dict[str, Any]
    follower: ControlFollower | None = None

    def load_control(self) -> int:
        """Apply the whole control topic now (before the worker starts); return the count.

        Call it after :func:`make_app` (which registers every live config key) and before
        starting the worker: the worker then starts from the latest config, and the control
        follower audits these records and continues after them.
        """
        start, backlog = load_latest(self.runtime.settings, self.runtime.config)
        if self.follower is not None:
            self.follower.start_offset, self.follower.backlog = start, backlog
        return len(backlog)


def make_app(settings: Settings, config: LiveConfig | None = None,
             clock: Callable[[], int] = wall_clock_ms, *, services: bool = True,
             worker_id: str = "worker", send: Send | None = None) -> StreamsApp:
    """Build the Faust app.

    ``services=False`` leaves out the sink and control follower; ``send`` replaces the
    producer for agent outputs (tests with ``agent.test_context()``).
    """
    config = config or LiveConfig.from_config_dir(settings.config_dir)
    rt = Runtime(settings, config, clock)
    datadir = Path(settings.data_dir) / "faust" / app_id(settings) / worker_id
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        app_id(settings), broker=f"kafka://{settings.kafka_bootstrap}", store="memory://",
        key_serializer="raw", value_serializer="raw",
        topic_partitions=settings.topic_partitions, topic_replication_factor=1,
        topic_allow_declare=True, web_enabled=False, producer_linger_ms=5,
        consumer_auto_offset_reset="earliest", broker_max_poll_records=5_000,
        # A SIGKILLed worker holds its partitions until its session times out.
        broker_session_timeout=10.0, broker_heartbeat_interval=1.0,
        # Standby copies would land in the same in-memory stores, so the deadline index and
        # the alert timer would see other workers' cases; the memory store replays the
        # changelog on takeover anyway.
        table_standby_replicas=0,
        # An agent that raises must not be restarted in place: Faust would go on past the
        # failed batch. Crash the worker instead; its successor replays from the last
        # committed offsets, so nothing is lost.
        agent_supervisor=mode.CrashingSupervisor,
        datadir=str(datadir),
    )
    names = {spec.base: spec.name(settings) for spec in
             (CASE_EVENTS, COMMANDS, ALERT_OPS, ROWS, DEAD_LETTER, WALL_UPDATES, ALERTS)}
    case_topic = app.topic(CASE_EVENTS.name(settings))
    commands_topic = app.topic(COMMANDS.name(settings))
    ops_topic = app.topic(ALERT_OPS.name(settings))
    tables = {name: app.tables.add(PartitionedTable(
        app, name=name, default=None, partitions=settings.topic_partitions,
        key_type=bytes, value_type=bytes)) for name in ("cases", "alerts")}
    cases, alerts = tables["cases"], tables["alerts"]
    assert isinstance(cases, PartitionedTable) and isinstance(alerts, PartitionedTable)

    async def produce(topic: str, key: bytes, value: bytes | None, partition: int | None = None
                      ) -> Any:
        return await app.producer.send(topic, key, value, partition, None, None)

    async def fake_send_to(topic: str, key: bytes, value: bytes | None, _partition: int
                           ) -> Any:
        fake: Any = send  # the tests' recorder also takes tombstones (None values)
        return await fake(topic, key, value)

    cases.send_to = alerts.send_to = produce if send is None else fake_send_to
    # the cases agent's guard against records Faust's consumer skipped (streams/gapfill.py)
    gaps = GapFiller(settings.kafka_bootstrap, app_id(settings)) if send is None else None

    def outbox() -> Outbox:
        return Outbox(send or produce, names[ROWS.base], names[WALL_UPDATES.base],
                      names[DEAD_LETTER.base])

    def load_case(case_id: str) -> CaseRecord | None:
        raw = cases.get(case_id.encode())
        return decode_record(raw) if raw else None

    def load_alert(alert_id: str) -> AlertState | None:
        raw = alerts.get(alert_id.encode())
        return _alert_decoder.decode(raw) if raw else None

    def table_records() -> list[CaseRecord]:
        return [decode_record(raw) for raw in list(cases.values()) if raw]

    def rebuild_from(records: list[CaseRecord]) -> None:
        """The deadline index and the finished cases, from the cases table's records."""
        rt.finished.clear()
        entries = []
        for rec in records:
            entries.append((rec.snapshot.case_id, rec.snapshot.grid_id, rec.clock_start_ms,
                            escalation_ms(rec, rt.config.sla)))
            rt.finished.track(rec.snapshot.case_id, rec.snapshot.step, rec.snapshot.updated_ms)
        rt.deadlines.rebuild(entries)
        log.info("deadline index rebuilt: %d open case(s)", len(rt.deadlines))

    def rebuild_deadlines() -> None:
        rebuild_from(table_records())

    def rebuild_alerts() -> None:
        rt.open_alerts.clear()
        rt.open_by_fingerprint.clear()
        for raw in list(alerts.values()):
            if raw:
                state = _alert_decoder.decode(raw)
                _track_alert(rt, state)

    async def on_cases_recovered() -> None:
        if gaps is not None:
            gaps.reset()
        records = table_records()
        rebuild_from(records)
        for hook in rt.recovery_hooks:
            hook(records)

    async def on_alerts_recovered() -> None:
        rebuild_alerts()

    cases.on_recover(on_cases_recovered)
    alerts.on_recover(on_alerts_recovered)
    config.on_change("sla", rebuild_deadlines)

    case_lock = asyncio.Lock()  # the agent's batches and the tail filler take turns

    async def cases_batch(events: list[Any]) -> None:
        async with case_lock:
            messages = [ev.message for ev in events]
            if gaps is not None:
                messages = [m for msg in messages for m in await gaps.complete(msg)]
            await apply_case_messages(messages)

    async def fill_case_tails() -> int:
        """Apply the cases input Faust fetched but never handed over (see GapFiller)."""
        if gaps is None or getattr(app, "_consumer", None) is None or app.rebalancing:
            return 0  # during a rebalance the partitions are moving: Faust seeks afterwards
        topic = names[CASE_EVENTS.base]
        owned, committed = faust_positions(app.consumer, topic)
        async with case_lock:
            missing = await gaps.missing_tails(owned, committed)
            if missing:
                await apply_case_messages(missing)
        return len(missing)

    @app.timer(interval=TAIL_TICK_S)
    async def case_tails() -> None:
        await fill_case_tails()

    async def apply_case_messages(messages: list[Any]) -> None:
        out = outbox()
        changed: dict[str, tuple[int, CaseRecord]] = {}
        for msg in messages:
            key_grid = msg.key.decode() if msg.key else None
            try:
                decoded = decode_one_or_many(msg.value, CaseEvent)
            except WireError as exc:
                out.dead("cases.decode", "cases", exc.reason, int(msg.timestamp * 1000),
                         msg.value, key_grid, exc.field)
                continue
            packed = len(decoded) > 1
            for event in decoded:
                # A packed message's events share its offset: (event_id, offset) still
                # identifies each one for replay detection.
                raw = encode(event) if packed else msg.value
                if event.grid_id is None and key_grid:
                    event = msgspec.structs.replace(event, grid_id=key_grid)
                held = changed.get(event.case_id)
                record = held[1] if held else load_case(event.case_id)
                try:
                    outcome = process(record, event, msg.offset, rt.config.sla)
                except Exception as exc:  # noqa: BLE001 - bad data must never stop the agent
                    log.exception("cases: event %s failed", event.event_id)
                    out.dead("cases", event.source, f"internal error: {exc!r}", event.ts,
                             raw, event.grid_id)
                    continue
                if outcome.rejection:
                    out.dead("cases", event.source, outcome.rejection, event.ts, raw,
                             event.grid_id)
                    continue
                if outcome.record is None:
                    continue
                new = outcome.record
                changed[event.case_id] = (msg.partition, new)
                if outcome.fact is not None:
                    for hook in rt.case_hooks:
                        hook(outcome.fact, event)
                out.row("case_transitions", transition_row(event, outcome.before, new,
                                                           outcome.breach),
                        (event.case_id, event.event_id))
                for i, signal in enumerate(outcome.signals):
                    op = AlertOp(op_id=f"sig.{event.case_id}.{event.event_id}.{i}",
                                 kind="signal", grid_id=signal.grid_id, ts=signal.ts,
                                 signal=signal)
                    out.send(names[ALERT_OPS.base], signal.grid_id, encode(op))
        for case_id, (_, rec) in changed.items():
            deadline = deadline_ms(rec, rt.config.sla)
            out.row("cases", case_row(rec, deadline), case_id)
            out.wall("cases", case_id, rec.snapshot.updated_ms,
                     _case_wall(rec, deadline, escalation_ms(rec, rt.config.sla)),
                     rec.snapshot.grid_id)
        await out.flush()
        for case_id, (partition, rec) in changed.items():
            cases.put(case_id.encode(), encode_record(rec), partition)
            rt.deadlines.set(case_id, rec.snapshot.grid_id, rec.clock_start_ms,
                             escalation_ms(rec, rt.config.sla))
            rt.finished.track(case_id, rec.snapshot.step, rec.snapshot.updated_ms)
        await cases.write_changelog()
        if gaps is not None:
            await gaps.mark_done(app.consumer)
        _count(rt, "cases", messages)

    async def alerts_batch(events: list[Any]) -> None:
        out = outbox()
        book = AlertBook(load_alert, rt.open_by_fingerprint)
        partitions: dict[str, int] = {}
        for msg, received in _decoded(out, events, AlertOp, "alerts"):
            for op in expand(received):  # a packed op: its signals one by one
                try:
                    result = process_op(book, op, msg.offset, rt.config.alerts)
                except Exception as exc:  # noqa: BLE001 - bad data must never stop the agent
                    log.exception("alerts: op %s failed", op.op_id)
                    out.dead("alerts", "alerts", f"internal error: {exc!r}", op.ts,
                             msg.value, op.grid_id)
                    continue
                if result.audit is not None:
                    out.row("alert_actions", result.audit,
                            (result.audit["alert_id"], result.audit["action_id"]))
                if result.refusal is not None:
                    raw = encode(op.command) if op.command else msg.value
                    out.dead("alerts.command", "commands", result.refusal, op.ts, raw,
                             op.grid_id)
                if result.changed is not None:
                    partitions[result.changed.alert.alert_id] = msg.partition
        for alert_id, state in book.changed.items():
            grid = state.alert.grid_id
            out.row("alerts", alert_row(state), alert_id)
            out.latest(names[ALERTS.base], grid, encode(state.alert), identity=alert_id)
            out.wall("alerts", alert_id, state.alert.updated_ms, _alert_wall(state), grid)
        await out.flush()
        for alert_id, state in book.changed.items():
            alerts.put(alert_id.encode(), encode(state), partitions[alert_id])
            _track_alert(rt, state)
        await alerts.write_changelog()
        _count(rt, "alerts", [ev.message for ev in events])

    async def commands_batch(events: list[Any]) -> None:
        out = outbox()
        for msg, cmd in _decoded(out, events, Command, "commands"):
            target = route(cmd)
            if not isinstance(target, Route):
                out.dead("commands", "commands", target, cmd.ts, msg.value, cmd.grid_id)
                out.row("alert_actions", alert_action_row(
                    f"cmd.{cmd.command_id}", cmd.alert_id or cmd.case_id or "",
                    cmd.grid_id or "", cmd.kind, cmd.actor, cmd.role, cmd.ts, "rejected",
                    target, "", ""), (cmd.alert_id or cmd.case_id or "", cmd.command_id))
            elif target.target == "alert":
                op = AlertOp(op_id=f"cmd.{cmd.command_id}", kind="command",
                             grid_id=target.grid_id, ts=cmd.ts, command=cmd,
                             alert_id=cmd.alert_id, origin_offset=msg.offset)
                out.send(names[ALERT_OPS.base], target.grid_id, encode(op))
            else:
                event = CaseEvent(event_id=f"cmd.{cmd.command_id}"[:64],
                                  case_id=cmd.case_id or "", action="escalate", ts=cmd.ts,
                                  source="command_centre", actor=cmd.actor,
                                  grid_id=target.grid_id,
                                  note=str(cmd.args.get("comment", ""))[:2000])
                out.send(names[CASE_EVENTS.base], target.grid_id, encode(event))
        await out.flush()
        _count(rt, "commands", [ev.message for ev in events])

    @app.agent(case_topic, name="cases")
    async def cases_agent(stream: Any) -> None:
        async for events in stream.take_events(TAKE_MAX, within=TAKE_WITHIN_S):
            await cases_batch(events)

    @app.agent(ops_topic, name="alerts")
    async def alerts_agent(stream: Any) -> None:
        async for events in stream.take_events(TAKE_MAX, within=TAKE_WITHIN_S):
            await alerts_batch(events)

    @app.agent(commands_topic, name="commands")
    async def commands_agent(stream: Any) -> None:
        async for events in stream.take_events(TAKE_MAX, within=TAKE_WITHIN_S):
            await commands_batch(events)

    @app.timer(interval=SLA_TICK_S)
    async def sla_timer() -> None:
        await fire_breaches()

    async def fire_breaches() -> int:
        now = rt.clock()
        due = rt.deadlines.due(now, BREACHES_PER_TICK)
        if not due:
            return 0
        out = outbox()
        for item in due:
            record = load_case(item.case_id)
            if record is None or record.clock_start_ms != item.clock_start_ms:
                continue
            out.send(names[CASE_EVENTS.base], item.grid_id,
                     encode(breach_event(record, item.deadline_ms)))
            rt.breach_delays_ms.append(now - item.deadline_ms)
        await out.flush()
        return len(due)

    @app.timer(interval=PRUNE_TICK_S)
    async def prune_timer() -> None:
        await prune_finished()

    async def prune_finished() -> int:
        retention_ms = rt.settings.case_retention_days * DAY_MS
        pruned = 0
        for case_id in rt.finished.expired(rt.clock(), retention_ms, PRUNE_PER_TICK):
            rt.finished.forget(case_id)
            pruned += cases.remove(case_id.encode())
        await cases.write_changelog()
        if pruned:
            log.info("retention: %d finished case(s) left memory", pruned)
        return pruned

    @app.timer(interval=ALERT_TICK_S)
    async def alert_timer() -> None:
        await fire_alert_ticks()

    async def fire_alert_ticks() -> int:
        now = rt.clock()
        out = outbox()
        for alert_id, state in list(rt.open_alerts.items()):
            for tick in due_ticks(state, now, rt.config.alerts):
                op_id = f"tick.{tick}.{alert_id}.{state.version}"
                if rt.ticks_sent.get(alert_id) == op_id:
                    continue
                rt.ticks_sent[alert_id] = op_id
                op = AlertOp(op_id=op_id, kind="tick", grid_id=state.alert.grid_id, ts=now,
                             tick=tick, alert_id=alert_id)
                out.send(names[ALERT_OPS.base], state.alert.grid_id, encode(op))
        sent = len(out)
        await out.flush()
        return sent

    follower = _add_services(app, rt, outbox, names) if services else None
    from streams.ext import install as install_streams2  # metrics, sensors, scores, health

    install_streams2(app, rt, worker_id)
    agents = {"cases": cases_agent, "alerts": alerts_agent, "commands": commands_agent,
              "fire_breaches": fire_breaches, "fire_alert_ticks": fire_alert_ticks,
              "prune_finished": prune_finished,
              "cases_batch": cases_batch, "alerts_batch": alerts_batch,
              "fill_case_tails": fill_case_tails,
              "commands_batch": commands_batch}
    return StreamsApp(app, rt, cases, alerts, agents, follower)


def _decoded(out: Outbox, events: list[Any], schema: type[T], stage: str
             ) -> Iterator[tuple[Any, T]]:
    """Each event's message and its decoded value; undecodable ones go to the dead letters."""
    for ev in events:
        msg = ev.message
        try:
            yield msg, decode(msg.value, schema)
        except WireError as exc:
            out.dead(f"{stage}.decode", stage, exc.reason, int(msg.timestamp * 1000),
                     msg.value, None, exc.field)


def _count(rt: Runtime, agent: str, messages: list[Any]) -> None:
    """Count a handled batch in job health, with the age of its oldest message."""
    if rt.health is None or not messages:
        return
    now = wall_clock_ms()
    rt.health.count(agent, len(messages), len(messages), now)
    rt.health.latency(agent, now - min(int(m.timestamp * 1000) for m in messages))


def _track_alert(rt: Runtime, state: AlertState) -> None:
    alert = state.alert
    if alert.status == RESOLVED:
        rt.open_alerts.pop(alert.alert_id, None)
        rt.ticks_sent.pop(alert.alert_id, None)
        if rt.open_by_fingerprint.get(alert.fingerprint) == alert.alert_id:
            del rt.open_by_fingerprint[alert.fingerprint]
    else:
        rt.open_alerts[alert.alert_id] = state
        rt.open_by_fingerprint[alert.fingerprint] = alert.alert_id


def _case_wall(rec: CaseRecord, deadline: int | None, escalation: int | None
               ) -> dict[str, Any]:
    """The wall's case: the snapshot, its step deadline (overdue from it until the case
    leaves the step) and the next escalation (its own clock)."""
    data = msgspec.structs.asdict(rec.snapshot)
    data.update(deadline_ms=deadline, escalation_ms=escalation, breaches=rec.breaches,
                version=rec.version)
    return data


def _alert_wall(state: AlertState) -> dict[str, Any]:
    data = msgspec.structs.asdict(state.alert)
    data.update(group_key=state.group_key, shelved=state.shelved,
                occurrences=state.occurrences, re_escalations=state.re_escalations,
                silenced_by=state.silenced_by, silence_comment=state.silence_comment,
                version=state.version)
    return data


def _add_services(app: faust.App, rt: Runtime, outbox: Callable[[], Outbox],
                  names: dict[str, str]) -> ControlFollower:
    settings = rt.settings

    def client() -> Any:
        from clickhouse_driver import Client

        return Client(settings.clickhouse_host, port=settings.clickhouse_port,
                      connect_timeout=3, send_receive_timeout=30)

    sink = ClickHouseSink(
        settings.kafka_bootstrap, f"{app_id(settings)}-sink",
        {names[ROWS.base]: rows_decoder, names[CASE_EVENTS.base]: case_events_decoder,
         names[DEAD_LETTER.base]: dead_letters_decoder},
        client, settings.clickhouse_database, lambda: rt.config.sink)
    rt.sink = sink
    follower = ControlFollower(settings, rt.config, 0, outbox, [])

    class Background(Service):
        """The sink and the control follower, started and stopped with the app."""

        async def on_start(self) -> None:
            self._stopping = asyncio.Event()
            self._bg_tasks = [asyncio.ensure_future(sink.run(self._stopping)),
                           asyncio.ensure_future(follower.run(self._stopping))]
            for task in self._bg_tasks:
                task.add_done_callback(_crash_on_error)

        async def on_stop(self) -> None:
            self._stopping.set()
            _, pending = await asyncio.wait(self._bg_tasks, timeout=10)
            for task in pending:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def _crash_on_error(task: asyncio.Future[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed: %r", task.exception())
            asyncio.ensure_future(app.crash(task.exception()))  # type: ignore[arg-type]

    app.service(Background)
    return follower
