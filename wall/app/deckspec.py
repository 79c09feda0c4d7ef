"""The deck.gl JSON spec of the street map (the format pydeck emits), and its layer data.

:func:`base_spec` is built once per page: view, lighting-free 2.5D camera, no basemap
(``mapStyle`` null: the street, communities and grids drawn from :mod:`domain.geo` *are*
the basemap, so the page needs no tile server). :func:`layer_frames` returns one pandas
DataFrame per layer with the columns of :data:`wall.app.mapdata.COLUMNS`, even when a layer
is empty. Assigning fresh frames to the same spec and re-rendering the pane changes only the
data sources (and only their changed columns): the camera stays where the viewer put it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import pandas as pd

from domain.geo import Street
from wall.app.i18n import Lang
from wall.app.mapdata import (
    COLUMNS,
    FILL_COLUMN,
    POI_LAYERS,
    activity_rows,
    alert_marker_rows,
    community_label_rows,
    community_rows,
    dead_sensors,
    grid_rows,
    poi_rows,
    sensor_rows,
    street_rows,
    tier_outline_rows,
)
from wall.app.store import WallStore

TOOLTIP = {"html": "{tip}", "style": {"backgroundColor": "rgba(8,16,32,0.92)",
                                      "color": "#e8f1ff", "fontSize": "18px",
                                      "border": "1px solid #2b6cb0", "padding": "8px"}}
PITCH = 45
BEARING = -12
BASE_ZOOM = 13.65  # frames the street in the map area of a 1920 px wide screen


def view_state(street: Street, scale: float = 1.0) -> dict[str, float]:
    """A camera that frames the whole street at a 2.5D pitch.

    ``scale`` is the screen width over 1920 px: a 3840 px screen (scale 2) is one zoom level
    closer, so the street fills the same share of the screen.
    """
    min_lon, min_lat, max_lon, max_lat = street.bbox
    return {"longitude": (min_lon + max_lon) / 2 - 0.0015,
            "latitude": (min_lat + max_lat) / 2 - 0.002,
            "zoom": round(BASE_ZOOM + math.log2(max(scale, 0.25)), 3), "pitch": PITCH,
            "bearing": BEARING, "maxZoom": 19, "minZoom": 11}


# Marks, labels and dots are drawn over the extruded grids instead of hidden inside them.
ON_TOP = {"depthCompare": "always", "depthWriteEnabled": False}


def _layer(layer_id: str, kind: str, **props: Any) -> dict[str, Any]:
    return {"@@type": kind, "id": layer_id, "data": [], **props}


def _overlay(layer_id: str, kind: str, **props: Any) -> dict[str, Any]:
    return _layer(layer_id, kind, parameters=ON_TOP, **props)


def base_layers(visible: Mapping[str, bool], scale: float = 1.0) -> list[dict[str, Any]]:
    """The layers, bottom to top, without data; ``visible`` toggles the POI layers.

    Pixel sizes (labels, minimum radii, line widths) grow with ``scale`` (see view_state).
    """
    layers = [
        _layer("street", "PolygonLayer", getPolygon="@@=outline", filled=True, stroked=True,
               getFillColor=[14, 26, 46, 255], getLineColor=[94, 160, 255, 255],
               lineWidthMinPixels=3 * scale, pickable=False),
        _layer("grids", "PolygonLayer", getPolygon="@@=polygon", extruded=True,
               wireframe=True, getFillColor="@@=grid_fill", getElevation="@@=elevation",
               getLineColor=[140, 190, 255, 120], lineWidthMinPixels=1, pickable=True,
               autoHighlight=True, highlightColor=[255, 255, 255, 80]),
        _overlay("communities", "PathLayer", getPath="@@=path", getColor=[120, 200, 255, 255],
               getWidth=6, widthMinPixels=3 * scale, pickable=False),
        _overlay("tier_outlines", "PathLayer", getPath="@@=path", getColor="@@=tier_colour",
                 getWidth=4, widthMinPixels=2.5 * scale, pickable=False),
        _overlay("community_labels", "TextLayer", getPosition="@@=position",
               getText="@@=label", getSize=20 * scale, getColor=[230, 240, 255, 255],
               characterSet="auto", fontFamily="WenQuanYi Micro Hei, Noto Sans CJK SC, "
               "sans-serif", billboard=True, getTextAnchor="middle", getAlignmentBaseline="center",
               background=True, getBackgroundColor=[6, 14, 30, 200],
               backgroundPadding=[6, 3], pickable=False),
        _overlay("sensors", "ScatterplotLayer", getPosition="@@=position",
               getFillColor="@@=sensor_fill", getRadius=10, radiusMinPixels=2 * scale,
               pickable=True, visible=visible.get("sensor", True)),
    ]
    layers += [
        _overlay(kind, "ScatterplotLayer", getPosition="@@=position",
               getFillColor=f"@@={FILL_COLUMN[kind]}", getRadius=22, radiusMinPixels=3 * scale,
               pickable=True, visible=visible.get(kind, False))
        for kind in POI_LAYERS
    ]
    layers += [
        _overlay("activity", "ScatterplotLayer", getPosition="@@=position",
               getFillColor="@@=activity_fill", getRadius="@@=activity_radius",
               radiusMinPixels=4 * scale, pickable=False),
        _overlay("alerts", "ScatterplotLayer", getPosition="@@=position",
               getFillColor=[0, 0, 0, 0], getLineColor="@@=alert_fill",
               getRadius="@@=alert_radius", stroked=True, filled=True,
               lineWidthMinPixels=4 * scale, radiusMinPixels=8 * scale, pickable=True),
    ]
    return layers


def base_spec(street: Street, visible: Mapping[str, bool], scale: float = 1.0
              ) -> dict[str, Any]:
    """The whole spec without data: camera, views, no basemap, layers."""
    return {"initialViewState": view_state(street, scale), "mapStyle": None,
            "views": [{"@@type": "MapView", "controller": True}],
            "layers": base_layers(visible, scale)}


def frame(layer_id: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A DataFrame with exactly the layer's columns (also when ``rows`` is empty)."""
    columns = list(COLUMNS[layer_id])
    if not rows:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    return pd.DataFrame({c: [row[c] for row in rows] for c in columns})


@lru_cache(maxsize=8)
def static_frames(street: Street, lang: Lang) -> dict[str, pd.DataFrame]:
    """The layers that never change for a street and language (built once, shared)."""
    rows: dict[str, list[dict[str, Any]]] = {
        "street": street_rows(street), "communities": community_rows(street),
        "community_labels": community_label_rows(street, lang)}
    rows.update({kind: poi_rows(street, kind, lang) for kind in POI_LAYERS})
    return {layer_id: frame(layer_id, layer_rows) for layer_id, layer_rows in rows.items()}


@lru_cache(maxsize=8)
def sensor_frame(street: Street, dead: frozenset[str], lang: Lang) -> pd.DataFrame:
    """The sensors layer, which changes only when the set of dead sensors does."""
    return frame("sensors", sensor_rows(street, dead, lang))


def layer_frames(street: Street, store: WallStore, now_ms: int, lang: Lang
                 ) -> dict[str, pd.DataFrame]:
    """The data of every layer of :func:`base_layers`, keyed by layer id.

    Static layers and an unchanged sensors layer are the very same frames as last time.
    """
    return {**static_frames(street, lang),
            "grids": frame("grids", grid_rows(street, store, now_ms, lang)),
            "sensors": sensor_frame(street, frozenset(dead_sensors(store)), lang),
            "tier_outlines": frame("tier_outlines", tier_outline_rows(street, store)),
            "activity": frame("activity", activity_rows(street, store, now_ms)),
            "alerts": frame("alerts", alert_marker_rows(street, store, now_ms, lang))}


def with_data(spec: Mapping[str, Any], frames: Mapping[str, pd.DataFrame],
              visible: Mapping[str, bool]) -> dict[str, Any]:
    """A copy of ``spec`` whose layers carry ``frames`` and the POI toggles ``visible``."""
    layers = []
    for layer in spec["layers"]:
        layer = dict(layer, data=frames[layer["id"]])
        if layer["id"] in visible:
            layer["visible"] = visible[layer["id"]]
        layers.append(layer)
    return {**spec, "layers": layers}
