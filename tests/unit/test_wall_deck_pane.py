"""The map in Panel's DeckGL pane: an update changes only data columns, never the camera."""

from __future__ import annotations

from typing import Any

import panel as pn
import pytest

from domain.geo import street
from tests.unit.wall_support import NOW, alert, case, store_of
from wall.app.deckspec import TOOLTIP, base_spec, layer_frames, with_data
from wall.app.store import WallStore

# Bokeh's own DataFrame conversion, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:Warning")


def _sources_by_layer(model: Any) -> dict[str, Any]:
    return {layer["id"]: model.data_sources[layer["data"]] for layer in model.layers}


def test_updates_reuse_every_source_and_keep_the_camera() -> None:
    st = street()
    visible = {"sensor": True}
    spec = base_spec(st, visible)
    pane = pn.pane.DeckGL(with_data(spec, layer_frames(st, WallStore(), NOW, "zh"), visible),
                          tooltips=TOOLTIP)
    model = pane.get_root()
    before = _sources_by_layer(model)
    camera = dict(model.initialViewState)
    polygons = before["grids"].data["polygon"]
    busy = store_of(case("A", grid_id=st.grid_ids[0], deadline_ms=NOW - 1),
                    alert("a1", grid_id=st.grid_ids[1]))
    pane.object = with_data(spec, layer_frames(st, busy, NOW + 1000, "zh"), visible)
    after = _sources_by_layer(model)
    assert all(after[k] is before[k] for k in before), "a layer got a new data source"
    assert model.initialViewState == camera
    assert after["grids"].data["polygon"] is polygons  # unchanged column not re-sent
    assert len(after["alerts"].data["alert_id"]) == 1
    assert model.data.get("mapStyle", "absent") is None


@pytest.fixture(autouse=True)
def _no_server_state() -> None:
    pn.state.clear_caches()
