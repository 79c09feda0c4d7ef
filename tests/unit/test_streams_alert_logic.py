"""streams.alert_logic: ops on a grid's alerts, idempotent under replay, audited."""

from __future__ import annotations

from typing import Any

from domain.alerts import AlertConfig, AlertState, Signal
from domain.schemas import Command
from streams.alert_logic import AlertBook, AlertOp, process_op

CFG = AlertConfig(ack_timeout_s=10)


class Store:
    """A stand-in for the alerts table."""

    def __init__(self) -> None:
        self.data: dict[str, AlertState] = {}
        self.index: dict[str, str] = {}

    def book(self) -> AlertBook:
        return AlertBook(self.data.get, self.index)

    def run(self, op: AlertOp, offset: int) -> Any:
        book = self.book()
        result = process_op(book, op, offset, CFG)
        self.data.update(book.changed)
        return result


def sig(n: int, raised: bool = True, ts: int = 1_000) -> AlertOp:
    s = Signal(fingerprint="sla_breach:c1:reported", grid_id="G01", kind="sla_breach",
               category="noise", severity="warning", title="t", ts=ts, raised=raised,
               case_id="c1", tier=2)
    return AlertOp(op_id=f"sig.{n}", kind="signal", grid_id="G01", ts=ts, signal=s)


def cmd(n: int, kind: str, alert_id: str, origin: int) -> AlertOp:
    c = Command(command_id=f"c{n}", kind=kind, actor="wang", role="officer", ts=2_000,
                alert_id=alert_id)
    return AlertOp(op_id=f"cmd.c{n}", kind="command", grid_id="G01", ts=2_000, command=c,
                   alert_id=alert_id, origin_offset=origin)


def test_raise_ack_clear_are_audited_and_replays_change_nothing() -> None:
    store = Store()
    raised = store.run(sig(1), 0)
    assert raised.audit["action"] == "raise" and raised.changed is not None
    alert_id = raised.changed.alert.alert_id
    assert store.run(sig(1), 5).changed is None  # the same signal re-sent after a replay
    acked = store.run(cmd(1, "ack", alert_id, origin=40), 1)
    assert acked.changed.alert.status == "acknowledged" and acked.audit["outcome"] == "ok"
    assert store.run(cmd(1, "ack", alert_id, origin=40), 6).audit is None  # routed replay
    dup = store.run(cmd(1, "ack", alert_id, origin=41), 7)  # the hub sent it twice
    assert "duplicate command" in dup.refusal and dup.audit["outcome"] == "rejected"
    cleared = store.run(sig(2, raised=False, ts=3_000), 2)
    assert cleared.changed.alert.status == "resolved" and cleared.audit["action"] == "auto_resolve"
    assert store.run(sig(1), 8).changed is None  # a late replay of the raise opens nothing
    assert store.index == {}


def test_unknown_alert_is_refused_and_audited() -> None:
    result = Store().run(cmd(1, "ack", "G01.0000000000.5", origin=1), 0)
    assert "unknown alert" in result.refusal
    assert result.audit["outcome"] == "rejected" and result.audit["alert_id"] == "G01.0000000000.5"


def test_tick_applies_only_when_still_due() -> None:
    store = Store()
    alert_id = store.run(sig(1), 0).changed.alert.alert_id
    early = AlertOp(op_id="tick.a", kind="tick", grid_id="G01", ts=5_000, tick="re_escalate",
                    alert_id=alert_id)
    assert store.run(early, 1).changed is None
    due = AlertOp(op_id="tick.b", kind="tick", grid_id="G01", ts=11_000, tick="re_escalate",
                  alert_id=alert_id)
    result = store.run(due, 2)
    assert result.changed.alert.tier == 3 and result.audit["action"] == "re_escalate"
    assert store.run(due, 3).changed is None


def test_a_packed_op_applies_its_signals_in_order_each_under_its_own_id() -> None:
    from domain.wire import decode, encode
    from streams.alert_logic import SignalEntry, expand, packed

    singles = [sig(1), sig(2, raised=False, ts=2_000), sig(3, ts=3_000)]
    op = packed("G01", "batch.G01", 1_000, [SignalEntry(op_id=s.op_id, signal=s.signal)
                                             for s in singles if s.signal is not None])
    op = decode(encode(op), AlertOp)  # as it travels
    assert [o.op_id for o in expand(op)] == ["sig.1", "sig.2", "sig.3"]
    one_by_one, packed_store = Store(), Store()
    for single in singles:
        one_by_one.run(single, 7)
    for single in expand(op):
        packed_store.run(single, 7)
    assert packed_store.data == one_by_one.data
    assert {s.alert.status for s in packed_store.data.values()} == {"resolved", "open"}
    assert packed_store.run(expand(op)[-1], 7).changed is None  # a replay: nothing new
