"""Map layer rows and the deck.gl spec: stable distinct columns, colours, fading, placement."""

from __future__ import annotations

import pytest

from domain.geo import street
from tests.unit.wall_support import MIN, NOW, alert, case, store_of, upd
from wall.app.deckspec import base_spec, layer_frames, with_data
from wall.app.mapdata import (
    ACKED_COLOUR,
    COLUMNS,
    FADE_S,
    HEALTH_COLOURS,
    SENSOR_OFF,
    activity_rows,
    grid_figures,
    grid_rows,
    place,
)
from wall.app.store import WallStore


@pytest.fixture(scope="module")
def st():  # type: ignore[no-untyped-def]
    return street()


def test_every_layer_has_distinct_stable_columns_even_when_empty(st) -> None:  # type: ignore[no-untyped-def]
    empty = layer_frames(st, WallStore(), NOW, "zh")
    busy_store = store_of(case("A", grid_id=st.grid_ids[0]), alert("a1", grid_id=st.grid_ids[1]))
    busy = layer_frames(st, busy_store, NOW, "en")
    column_sets = [tuple(sorted(f.columns)) for f in empty.values()]
    assert len(set(column_sets)) == len(column_sets)
    for layer_id, frame in empty.items():
        assert list(frame.columns) == list(COLUMNS[layer_id])
        assert list(busy[layer_id].columns) == list(COLUMNS[layer_id])
    assert len(empty["grids"]) == len(st.grids) == 92
    assert len(empty["alerts"]) == 0 and len(busy["alerts"]) == 1


def test_spec_has_no_basemap_and_every_layer_gets_its_frame(st) -> None:  # type: ignore[no-untyped-def]
    visible = {"compound": True, "enterprise": False, "party_org": False, "sensor": True}
    spec = base_spec(st, visible)
    assert spec["mapStyle"] is None
    frames = layer_frames(st, WallStore(), NOW, "zh")
    full = with_data(spec, frames, visible)
    assert {layer["id"] for layer in full["layers"]} == set(frames)
    by_id = {layer["id"]: layer for layer in full["layers"]}
    assert by_id["compound"]["visible"] is True and by_id["enterprise"]["visible"] is False
    assert spec["layers"][0]["data"] == []  # the base spec is not modified


def test_grid_health_colours_and_extrusion(st) -> None:  # type: ignore[no-untyped-def]
    g_late, g_warn, g_ok = st.grid_ids[:3]
    store = store_of(case("A", grid_id=g_late, deadline_ms=NOW - 1),
                     case("B", grid_id=g_warn, deadline_ms=NOW + 5 * MIN),
                     case("C", grid_id=g_ok, deadline_ms=NOW + 60 * MIN),
                     case("D", grid_id=g_ok, deadline_ms=NOW + 60 * MIN))
    rows = {r["grid_id"]: r for r in grid_rows(st, store, NOW, "zh")}
    assert rows[g_late]["grid_fill"] == HEALTH_COLOURS["late"]
    assert rows[g_warn]["grid_fill"] == HEALTH_COLOURS["warn"]
    assert rows[g_ok]["grid_fill"] == HEALTH_COLOURS["ok"]
    assert rows[st.grid_ids[3]]["grid_fill"] == HEALTH_COLOURS["idle"]
    assert rows[g_ok]["elevation"] > rows[g_late]["elevation"] > rows[st.grid_ids[3]]["elevation"]
    assert st.grids[g_ok].name in rows[g_ok]["tip"]


def test_grid_metrics_override_derived_counts(st) -> None:  # type: ignore[no-untyped-def]
    g = st.grid_ids[0]
    store = store_of(case("A", grid_id=g),
                     upd("grid_metrics", g, level="grid", open_backlog=7, overdue=2),
                     upd("grid_metrics", "street", level="street", open_backlog=99))
    fig = grid_figures(store, NOW)[g]
    assert (fig.open, fig.overdue, fig.health) == (7, 2, "late")


def test_activity_dots_fade_and_vanish(st) -> None:  # type: ignore[no-untyped-def]
    g = st.grid_ids[0]
    store = WallStore()
    store.apply(case("A", grid_id=g), NOW)
    fresh = activity_rows(st, store, NOW)
    older = activity_rows(st, store, NOW + int(FADE_S * 500))
    assert fresh[0]["activity_fill"][3] > older[0]["activity_fill"][3]
    assert activity_rows(st, store, NOW + int(FADE_S * 1000)) == []


def test_placement_prefers_coordinates_then_sensor_then_grid(st) -> None:  # type: ignore[no-untyped-def]
    sensor_id, sensor = next(iter(st.sensors.items()))
    assert place(st, {"lon": 1.5, "lat": 2.5}, "k") == [1.5, 2.5]
    assert place(st, {"sensor_id": sensor_id}, "k") == [sensor.lon, sensor.lat]
    near = place(st, {"grid_id": st.grid_ids[0]}, "k")
    cx, cy = st.grids[st.grid_ids[0]].centroid
    assert near is not None and abs(near[0] - cx) <= 0.0009 and abs(near[1] - cy) <= 0.0009
    assert place(st, {"grid_id": "nowhere"}, "k") is None
    assert place(st, {"grid_id": st.grid_ids[0]}, "k") == near  # deterministic


def test_alert_markers_and_dead_sensors(st) -> None:  # type: ignore[no-untyped-def]
    sensor_id = next(iter(st.sensors))
    store = store_of(alert("a1", grid_id=st.grid_ids[0], status="acknowledged"),
                     alert("a2", kind="sensor_dead", sensor_id=sensor_id, status="open"),
                     alert("a3", status="resolved"))
    frames = layer_frames(st, store, NOW, "zh")
    fills = dict(zip(frames["alerts"]["alert_id"], frames["alerts"]["alert_fill"], strict=True))
    assert set(fills) == {"a1", "a2"}
    assert fills["a1"] == ACKED_COLOUR
    assert SENSOR_OFF in list(frames["sensors"]["sensor_fill"])


def test_a_wider_screen_is_one_zoom_level_closer_with_larger_pixel_sizes(st) -> None:  # type: ignore[no-untyped-def]
    hd, uhd = base_spec(st, {}, 1.0), base_spec(st, {}, 2.0)
    assert uhd["initialViewState"]["zoom"] - hd["initialViewState"]["zoom"] == pytest.approx(1)
    labels = {s: next(la for la in spec["layers"] if la["id"] == "community_labels")
              for s, spec in ((1, hd), (2, uhd))}
    assert labels[2]["getSize"] == 2 * labels[1]["getSize"]


def test_grid_tooltip_shows_register_figures_only_and_no_data_where_there_is_none(st) -> None:  # type: ignore[no-untyped-def]
    from wall.app.mapdata import GridFigures, grid_tip

    grid = st.grids[st.grid_ids[0]]
    assert grid.households and grid.population  # the geography's generated figures
    blank = grid_tip(grid, GridFigures(), {}, "zh")
    assert "户数: <b>无数据</b>" in blank and "人口: <b>无数据</b>" in blank
    assert f"<b>{grid.households}</b>" not in blank and f"<b>{grid.population}</b>" not in blank
    # one special-group record: a member counted, no residents, so no household figure
    group_only = grid_tip(grid, GridFigures(), {"grid_id": grid.grid_id, "group.elderly": 1,
                                                "households": 0, "source_ms": NOW}, "en")
    assert "Households: <b>no data</b>" in group_only
    assert "Population: <b>no data</b>" in group_only
    assert "group.elderly: <b>1</b>" in group_only and "source_ms" not in group_only
    residents = grid_tip(grid, GridFigures(), {"population": 3, "households": 2}, "en")
    assert "Households: <b>2</b>" in residents and "Population: <b>3</b>" in residents
