"""The big screen's mechanism figures (pure): tiers, escalations, emergencies, SLA rows,
resolution shares, the tier outlines of the map, and the store's record of tier rises."""

from __future__ import annotations

from typing import Any

from domain.geo import street
from domain.schemas import WallUpdate
from wall.app import mechanism as m
from wall.app import mechanism_html
from wall.app.levels import ResolutionLevels, week_start_ms
from wall.app.mapdata import TIER_COLOURS, tier_outline_rows
from wall.app.panels import PANELS, PanelInput
from wall.app.store import WallStore

NOW = 1_780_000_000_000


def case(case_id: str, step: str = "verified", tier: int = 1, **more: Any) -> dict[str, Any]:
    return {"case_id": case_id, "grid_id": more.pop("grid_id", "G01"), "step": step,
            "tier": tier, "category": "environment", "opened_ms": NOW - 60_000,
            "updated_ms": NOW - 30_000, **more}


def test_open_by_tier_counts_open_cases_only_with_every_tier_present() -> None:
    cases = [case("a", tier=1), case("b", tier=2), case("c", tier=2), case("d", tier=4),
             case("e", step="closed", tier=3), {"step": "dispatched"}, case("f", tier=9)]
    assert m.open_by_tier(cases) == [("tier.1", 2), ("tier.2", 2), ("tier.3", 0),
                                     ("tier.4", 2)]
    assert m.open_by_tier([]) == [("tier.1", 0), ("tier.2", 0), ("tier.3", 0), ("tier.4", 0)]


def test_grid_top_tier_is_the_highest_open_tier() -> None:
    cases = [case("a", tier=1, grid_id="G01"), case("b", tier=3, grid_id="G01"),
             case("c", step="evaluated", tier=4, grid_id="G01"),
             case("d", tier=2, grid_id="G02"), case("e", step="closed", grid_id="G03")]
    assert m.grid_top_tiers(cases) == {"G01": 3, "G02": 2}


def test_recent_escalations_within_the_hour_newest_first_with_holder() -> None:
    cases = {"a": case("a", tier=2, unit="CS-C01", assignee="P7"),
             "b": case("b", tier=3, unit="CC"), "c": case("c", tier=2)}
    rises = {"a": NOW - 10_000, "b": NOW - 5_000, "c": NOW - 3_700_000, "gone": NOW}
    rows = m.recent_escalations(rises, cases, NOW)
    assert [(r.case_id, r.tier, r.unit, r.assignee) for r in rows] == [
        ("b", 3, "CC", ""), ("a", 2, "CS-C01", "P7")]
    html = mechanism_html.escalations(rows, {}, NOW, "en")
    assert "CS-C01 · P7" in html and 'data-tier="3"' in html


def test_store_records_tier_rises_and_live_escalated_sightings_not_falls() -> None:
    store = WallStore()
    store.apply(WallUpdate(channel="cases", key="a", ts=1, data=case("a", tier=2)), 1)
    store.apply(WallUpdate(channel="cases", key="h", ts=1,
                           data=case("h", tier=2, escalations=1)), 0)  # hydrated
    assert store.tier_rises == {}
    store.apply(WallUpdate(channel="cases", key="c", ts=1,
                           data=case("c", tier=2, escalations=1, updated_ms=NOW - 7)), 5)
    assert store.tier_rises == {"c": NOW - 7}
    del store.tier_rises["c"]
    store.apply(WallUpdate(channel="cases", key="a", ts=2,
                           data=case("a", tier=3, updated_ms=NOW - 1)), 2)
    assert store.tier_rises == {"a": NOW - 1}
    store.apply(WallUpdate(channel="cases", key="a", ts=3, data=case("a", tier=3,
                                                                       step="dispatched")), 3)
    store.apply(WallUpdate(channel="cases", key="a", ts=4, data={"tier": "x"}), 4)
    assert store.tier_rises == {"a": NOW - 1}


def test_store_bounds_tier_rises() -> None:
    store = WallStore(max_keys=2)
    for n in range(4):
        key = f"c{n}"
        store.apply(WallUpdate(channel="cases", key=key, ts=1, data=case(key, tier=1)), 1)
        store.apply(WallUpdate(channel="cases", key=key, ts=2, data=case(key, tier=2)), 2)
    assert list(store.tier_rises) == ["c2", "c3"]


def test_emergencies_stay_pinned_until_accepted_or_past_handling() -> None:
    cases = [("a", case("a", priority="emergency", opened_ms=NOW - 5)),
             ("b", case("b", priority="emergency", opened_ms=NOW - 9)),
             ("c", case("c", priority="emergency", accepted_ms=NOW)),
             ("d", case("d", step="handled", priority="emergency")),
             ("e", case("e", priority="high"))]
    assert [k for k, _ in m.pinned_emergencies(cases)] == ["b", "a"]
    html = mechanism_html.emergencies(m.pinned_emergencies(cases), {}, NOW, "zh", limit=1)
    assert html.count('data-testid="emergency-row"') == 1 and "+1" in html
    assert 'data-testid="no-emergency"' in mechanism_html.emergencies([], {}, NOW, "en")


def test_sla_rows_carry_priority_and_tier_most_overdue_first() -> None:
    cases = [("a", case("a", deadline_ms=NOW + 60_000, priority="low", tier=1)),
             ("b", case("b", deadline_ms=NOW - 60_000, priority="emergency", tier=3)),
             ("c", case("c", deadline_ms=NOW + 60_000, priority="high", tier=2)),
             ("d", case("d", deadline_ms=NOW - 1, step="closed")), ("e", case("e"))]
    rows = m.sla_rows(cases, NOW)
    assert [(r.case_id, r.priority, r.tier) for r in rows] == [
        ("b", "emergency", 3), ("c", "high", 2), ("a", "low", 1)]
    html = mechanism_html.countdowns(rows, {}, "en")
    assert "-0:01:00" in html and "Emergency" in html and "Street" in html


def test_resolution_shares_per_community_sum_to_one() -> None:
    community_of = {"G01": "C01", "G02": "C01", "G03": "C02", "G04": "C03"}
    counts = {"G01": {1: 3, 2: 1}, "G02": {3: 4}, "G03": {9: 2}, "G99": {1: 50}}
    rows = m.resolution_shares(counts, community_of)
    assert [(r.community, r.total) for r in rows] == [("C01", 8), ("C02", 2), ("C03", 0)]
    assert rows[0].shares == (3 / 8, 1 / 8, 4 / 8, 0.0)
    assert rows[1].shares == (0.0, 0.0, 0.0, 1.0)
    assert rows[2].shares == (0.0, 0.0, 0.0, 0.0)


def test_closed_counts_take_closed_cases_since_a_time() -> None:
    cases = [case("a", step="closed", tier=1), case("b", step="evaluated", tier=2),
             case("c", step="closed", tier=2, updated_ms=NOW - 10**9), case("d", tier=1)]
    assert m.closed_counts(cases, NOW - 60_000) == {"G01": {1: 1, 2: 1}}


def test_week_starts_on_local_monday() -> None:
    # 2026-11-30 is a Monday; 10:00 on Wednesday 2026-12-02 in UTC+8 is 02:00 UTC
    wednesday = 1_796_176_800_000  # 2026-12-02T02:00:00Z
    monday_local_midnight = 1_795_968_000_000  # 2026-11-30T00:00+08:00
    assert week_start_ms(wednesday) == monday_local_midnight
    assert week_start_ms(monday_local_midnight) == monday_local_midnight


def test_levels_read_once_per_age_and_hold_the_last_read() -> None:
    calls: list[int] = []

    def fetch(since: int) -> dict[str, dict[int, int]]:
        calls.append(since)
        return {"G01": {1: len(calls)}}

    levels = ResolutionLevels(fetch, max_age_ms=60_000)
    today, week = levels.get(NOW, background=False)
    assert len(calls) == 2 and today == {"G01": {1: 1}} and week == {"G01": {1: 2}}
    levels.get(NOW + 59_000, background=False)
    assert len(calls) == 2
    levels.get(NOW + 60_000, background=False)
    assert len(calls) == 4


def test_map_outlines_grids_by_their_highest_open_tier() -> None:
    s = street()
    g1, g2 = s.grid_ids[0], s.grid_ids[1]
    store = WallStore()
    for key, grid, tier in (("a", g1, 1), ("b", g1, 4), ("c", g2, 2)):
        store.apply(WallUpdate(channel="cases", key=key, ts=1,
                               data=case(key, tier=tier, grid_id=grid)), 1)
    rows = tier_outline_rows(s, store)
    assert [(r["grid_id"], r["tier"], r["tier_colour"]) for r in rows] == [
        (g1, 4, TIER_COLOURS[4]), (g2, 2, TIER_COLOURS[2])]
    assert rows[0]["path"][0] == rows[0]["path"][-1]
    legend = mechanism_html.tier_legend("en")
    assert all(name in legend for name in ("Grid", "Community", "Street", "District"))


def test_mechanism_cards_render_on_an_empty_and_a_full_store() -> None:
    store = WallStore()
    for lang in ("zh", "en"):
        given = PanelInput(store, NOW, lang)  # type: ignore[arg-type]
        assert all(spec.html(given) for spec in PANELS)
    store.apply(WallUpdate(channel="cases", key="a", ts=1,
                           data=case("a", tier=2, priority="emergency",
                                     deadline_ms=NOW - 1)), 1)
    given = PanelInput(store, NOW, "en", community_of={"G01": "C01"},
                       levels=({"G01": {1: 1}}, {"G01": {1: 1, 2: 3}}))
    html = {spec.name: spec.html(given) for spec in PANELS}
    assert 'data-testid="emergency-row"' in html["emergencies"]
    assert 'data-today="1" data-week="4"' in html["resolution"]
    assert ">Community<" in html["tiers"]
