"""Grid metrics on a hand-computed scripted hour: counts, handling times, backlog, overdue."""

from __future__ import annotations

from pathlib import Path

from domain.schemas import CaseEvent
from domain.sla import load_policy
from streams.metrics.book import MetricsBook
from streams.metrics.buckets import Bucket
from streams.metrics.facts import CaseView, StepFact

SLA = load_policy(Path(__file__).resolve().parents[2] / "config" / "sla.yaml")
T0 = 1_800_000_000_000 - 1_800_000_000_000 % 3_600_000  # an hour boundary
MIN = 60_000
COMMUNITY = {"G1": "C1", "G2": "C1", "G3": "C2"}


def ev(case: str, action: str, ts: int, grid: str = "G1", **kw: object) -> CaseEvent:
    extra: dict[str, object] = {"category": "noise", "grid_id": grid} if action in (
        "report", "resolve_on_spot") else {}
    extra.update(kw)
    return CaseEvent(event_id=f"{case}.{action}.{ts}", case_id=case, action=action,  # type: ignore[arg-type]
                     ts=ts, source="grid_worker_app", actor="w1", **extra)  # type: ignore[arg-type]


def fact(**kw: object) -> StepFact:
    base: dict[str, object] = dict(case_id="c", grid_id="G1", ts=T0, action="verify",
                                   from_step="reported", to_step="verified", entered_ms=T0,
                                   left_deadline_ms=0, deadline_ms=0, category="noise",
                                   priority="normal", tier=1, on_spot=False)
    base.update(kw)
    return StepFact(**base)  # type: ignore[arg-type]


def test_case_view_derives_deadlines_from_the_policy() -> None:
    view = CaseView(SLA)
    facts = view.apply([ev("a", "report", T0), ev("a", "verify", T0 + 2 * MIN),
                        ev("a", "close", T0 + 3 * MIN)])  # close from verified: illegal
    assert view.rejected == 1
    report, verify = facts
    assert report.is_new and report.deadline_ms == T0 + 1800_000  # noise: default 1800 s
    assert verify.left_step and verify.entered_ms == T0
    assert verify.left_deadline_ms == T0 + 1800_000
    assert verify.deadline_ms == T0 + 2 * MIN + 900_000  # verified: 900 s


def test_bucket_counts_and_handling_times() -> None:
    b = Bucket()
    b.add(fact(from_step="", to_step="reported", action="report"))
    b.add(fact(ts=T0 + 10_000, left_deadline_ms=T0 + 20_000))  # 10 s, on time
    b.add(fact(ts=T0 + 30_000, left_deadline_ms=T0 + 20_000))  # 30 s, late
    b.add(fact(ts=T0 + 50_000, from_step="handled", to_step="closed", action="close",
               left_deadline_ms=T0 + 99_000))  # 50 s, on time
    b.add(fact(action="escalate", from_step="reported", to_step="reported"))  # no completion
    s = b.summary()
    assert (s["reported"], s["closed"], s["completed"]) == (1, 1, 3)
    assert s["on_time_rate"] == 2 / 3
    assert s["handling"]["reported"] == {"n": 2, "mean_s": 20.0, "p90_s": 30.0}
    assert s["handling"]["handled"] == {"n": 1, "mean_s": 50.0, "p90_s": 50.0}


def test_bucket_merge_is_exact() -> None:
    a, b = Bucket(), Bucket()
    for i, bucket in enumerate((a, b, a, b, a)):
        bucket.add(fact(ts=T0 + (i + 1) * 10_000, left_deadline_ms=T0 + 25_000))
    merged = Bucket.merged([a, b])
    assert merged.completed == 5 and merged.on_time == 2
    assert merged.summary()["handling"]["reported"]["p90_s"] == 50.0
    assert merged.summary()["handling"]["reported"]["mean_s"] == 30.0


SCRIPT = [
    ev("a", "report", T0),                      # minute 0: G1 reports a
    ev("b", "report", T0 + 5_000, grid="G2"),   # minute 0: G2 reports b
    ev("c", "resolve_on_spot", T0 + 7_000, grid="G3"),  # minute 0: G3 on the spot
    ev("a", "verify", T0 + MIN + 20_000),       # minute 1: a verified after 80 s
    ev("b", "verify", T0 + MIN + 40_000),       # minute 1: b verified after 95 s
    ev("a", "dispatch", T0 + 2 * MIN),          # minute 2
    ev("a", "handle", T0 + 2 * MIN + 30_000),   # minute 2
    ev("a", "close", T0 + 3 * MIN),             # minute 3: a closed
]


def scripted_book() -> MetricsBook:
    book = MetricsBook(COMMUNITY)
    changed = book.update(CaseView(SLA).apply(SCRIPT))
    assert changed == {"G1", "G2", "G3"}
    return book


def test_grid_view_hand_computed() -> None:
    book = scripted_book()
    snap = book.snapshot("grid", "G1", T0 + 3 * MIN + 1)
    assert snap["minute"]["closed"] == 1 and snap["minute"]["reported"] == 0
    assert snap["last_minute"]["handling"]["verified"] == {"n": 1, "mean_s": 40.0,
                                                         "p90_s": 40.0}
    assert snap["open_backlog"] == 0 and snap["overdue"] == 0
    quarter = snap["15m"]
    assert (quarter["reported"], quarter["closed"], quarter["completed"]) == (1, 1, 4)
    assert quarter["on_time_rate"] == 1.0
    assert quarter["handling"]["reported"]["mean_s"] == 80.0


def test_community_and_street_merge_grids() -> None:
    book = scripted_book()
    now = T0 + 3 * MIN + 1
    c1 = book.snapshot("community", "C1", now)["15m"]
    assert (c1["reported"], c1["closed"]) == (2, 1)
    assert c1["handling"]["reported"] == {"n": 2, "mean_s": 87.5, "p90_s": 95.0}
    street = book.snapshot("street", "street", now)
    assert street["1h"]["reported"] == 3 and street["1h"]["closed"] == 2
    assert street["open_backlog"] == 1  # b waits in verified
    assert book.snapshot("community", "C2", now)["open_backlog"] == 0
    assert book.keys_of(["G3"]) == {("grid", "G3"), ("community", "C2"), ("street", "street")}


def test_overdue_follows_the_clock() -> None:
    book = scripted_book()
    b_deadline = T0 + MIN + 40_000 + 900_000  # verified: 900 s
    assert book.snapshot("grid", "G2", b_deadline - 1)["overdue"] == 0
    assert book.snapshot("grid", "G2", b_deadline)["overdue"] == 1


def test_minute_rows_hold_full_aggregates_once_per_change() -> None:
    book = scripted_book()
    rows = book.minute_rows(T0 + 4 * MIN)
    keys = [(r["grid_id"], (r["minute_ms"] - T0) // MIN) for r in rows]
    assert keys == [("G1", 0), ("G1", 1), ("G1", 2), ("G1", 3), ("G2", 0), ("G2", 1),
                    ("G3", 0)]
    g1m2 = rows[2]
    assert g1m2["steps"] == ["dispatched", "verified"]
    assert g1m2["step_n"] == [1, 1] and g1m2["step_p90_ms"] == [30_000, 40_000]
    assert g1m2["community_id"] == "C1" and g1m2["version"] == T0 + 4 * MIN
    assert book.minute_rows(T0 + 5 * MIN) == []  # nothing changed since


def test_late_facts_beyond_retention_are_tallied_not_counted() -> None:
    book = MetricsBook(COMMUNITY, retention_ms=10 * MIN)
    book.update([fact(ts=T0 + 30 * MIN, from_step="", to_step="reported", action="report")])
    book.update([fact(ts=T0, from_step="", to_step="reported", action="report",
                      case_id="old")])
    assert book.late == 1
    assert book.snapshot("grid", "G1", T0 + 30 * MIN)["minute"]["reported"] == 1
    # buckets older than retention are evicted
    book.update([fact(ts=T0 + 60 * MIN, from_step="", to_step="reported", action="report",
                      case_id="new")])
    assert min(book.grids["G1"].minutes) >= T0 + 50 * MIN


def scripted_histories() -> list[list[StepFact]]:
    """The scripted hour's facts, grouped per case as case records keep them."""
    facts = CaseView(SLA).apply(SCRIPT)
    return [[f for f in facts if f.case_id == case] for case in ("a", "b", "c")]


def test_rebuild_from_case_histories_equals_counting_the_facts_as_they_came() -> None:
    live = scripted_book()
    rebuilt = MetricsBook(COMMUNITY)
    rebuilt.update([fact(grid_id="G9", case_id="gone")])  # a grid no longer owned
    histories = scripted_histories()
    grids = rebuilt.rebuild(reversed(histories))  # in any order
    assert grids == {"G1", "G2", "G3", "G9"}
    assert rebuilt.grids == live.grids
    now = T0 + 4 * MIN
    for level, key in (("grid", "G1"), ("community", "C1"), ("street", "street")):
        assert rebuilt.snapshot(level, key, now) == live.snapshot(level, key, now)
    assert rebuilt.minute_rows(now) == live.minute_rows(now)  # every minute rewritten


def test_minute_rows_are_the_same_whenever_they_are_written() -> None:
    """A minute row's backlog and overdue are those at the minute's end, not at write time."""
    early, late = scripted_book(), scripted_book()
    assert early.minute_rows(T0 + 4 * MIN) == [
        {**row, "version": T0 + 4 * MIN} for row in late.minute_rows(T0 + 9 * 3_600_000)]


def test_overdue_stays_until_the_case_leaves_the_step() -> None:
    book = MetricsBook(COMMUNITY)
    (report,) = CaseView(SLA).apply([ev("x", "report", T0)])
    book.update([report])
    deadline = report.deadline_ms
    assert book.snapshot("grid", "G1", deadline - 1)["overdue"] == 0
    assert book.snapshot("grid", "G1", deadline + 10 * 3_600_000)["overdue"] == 1
