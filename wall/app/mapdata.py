"""The map's layer rows, from the street and the wall's state (pure; no deck.gl here).

Each ``*_rows`` function returns a list of dicts whose keys are exactly the layer's
:data:`COLUMNS` entry, in every case including an empty list. The column sets differ
between layers, because Panel's DeckGL pane matches layers to data sources by their column
names: stable, distinct columns let it ship only the changed columns and keep the camera.

Colours are RGBA lists; grid colour encodes SLA health (overdue, due soon, on time, idle),
grid height the open cases.
"""

from __future__ import annotations

import hashlib
import html
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from domain.contracts.vocabulary import sensor_label_key
from domain.geo import Grid, Poi, Street
from wall.app.boards import AlertRow, alert_rows
from wall.app.fields import integer, mapping, text
from wall.app.i18n import Lang, tr
from wall.app.kpis import DEAD_SENSOR_KINDS, is_open, is_overdue
from wall.app.mechanism import grid_top_tiers
from wall.app.store import WallStore

Rgba = list[int]
FADE_S = 60.0  # live activity dots (new cases and alerts) fade out over this many seconds
DUE_SOON_S = 600.0
ELEVATION_PER_CASE_M = 40.0
BASE_ELEVATION_M = 8.0
POI_LAYERS: tuple[str, ...] = ("compound", "enterprise", "party_org")

HEALTH_COLOURS: dict[str, Rgba] = {
    "late": [232, 65, 66, 215],
    "warn": [245, 166, 35, 205],
    "ok": [38, 194, 129, 190],
    "idle": [52, 98, 160, 170],
}
SEVERITY_COLOURS: dict[str, Rgba] = {
    "critical": [255, 59, 48, 240],
    "warning": [255, 176, 32, 235],
    "info": [90, 200, 250, 220],
}
ACKED_COLOUR: Rgba = [120, 144, 180, 220]
SILENCED_COLOUR: Rgba = [110, 110, 120, 160]
POI_COLOURS: dict[str, Rgba] = {
    "compound": [186, 140, 255, 210],
    "enterprise": [64, 156, 255, 210],
    "party_org": [255, 77, 106, 230],
}
SENSOR_ON: Rgba = [0, 229, 255, 220]
SENSOR_OFF: Rgba = [255, 59, 48, 255]
ACTIVITY_COLOUR: tuple[int, int, int] = (255, 236, 140)

COLUMNS: dict[str, tuple[str, ...]] = {
    "street": ("outline",),
    "communities": ("path", "community_id"),
    "community_labels": ("position", "label"),
    "grids": ("polygon", "grid_fill", "elevation", "tip", "grid_id"),
    "tier_outlines": ("path", "tier_colour", "tier", "grid_id"),
    "activity": ("position", "activity_fill", "activity_radius"),
    "alerts": ("position", "alert_fill", "alert_radius", "tip", "alert_id"),
    "sensors": ("position", "sensor_fill", "tip"),
    "compound": ("position", "compound_fill", "tip"),
    "enterprise": ("position", "enterprise_fill", "tip"),
    "party_org": ("position", "party_fill", "tip"),
}
FILL_COLUMN: dict[str, str] = {"compound": "compound_fill", "enterprise": "enterprise_fill",
                               "party_org": "party_fill"}


@dataclass
class GridFigures:
    """What the wall knows about one grid right now."""

    open: int = 0
    overdue: int = 0
    due_soon: int = 0
    alerts: int = 0

    @property
    def health(self) -> str:
        """``late``, ``warn``, ``ok`` or ``idle`` (no open case)."""
        if self.overdue:
            return "late"
        if self.due_soon or self.alerts:
            return "warn"
        return "ok" if self.open else "idle"


def grid_figures(store: WallStore, now_ms: int) -> dict[str, GridFigures]:
    """Per grid: open, overdue and due-soon cases and open alerts.

    A grid's own ``grid_metrics`` item (``open_backlog``, ``overdue``; grid items only, the
    one worker owning the grid computes them over every case) overrides the counts derived
    from the cases the wall holds.
    """
    out: dict[str, GridFigures] = {}
    for case in store.data("cases"):
        if not is_open(case):
            continue
        fig = out.setdefault(text(case, "grid_id"), GridFigures())
        fig.open += 1
        if is_overdue(case, now_ms):
            fig.overdue += 1
        elif 0 < integer(case, "deadline_ms") - now_ms <= DUE_SOON_S * 1000:
            fig.due_soon += 1
    for row in alert_rows(store):
        if row.status != "resolved" and not row.silenced(now_ms):
            out.setdefault(row.grid_id, GridFigures()).alerts += 1
    for key, item in store.channel("grid_metrics").items():
        if text(item.data, "level", "grid") != "grid":
            continue
        fig = out.setdefault(text(item.data, "key", key), GridFigures())
        fig.open = integer(item.data, "open_backlog", fig.open)
        fig.overdue = integer(item.data, "overdue", fig.overdue)
    return out


def jitter(key: str, spread: float = 0.0009) -> tuple[float, float]:
    """A deterministic offset in degrees for ``key``, within ±``spread``."""
    digest = hashlib.blake2b(key.encode(), digest_size=4).digest()
    return ((digest[0] * 256 + digest[1]) / 65535 - 0.5) * 2 * spread, \
        ((digest[2] * 256 + digest[3]) / 65535 - 0.5) * 2 * spread


def place(street: Street, data: Mapping[str, Any], key: str) -> list[float] | None:
    """Where to draw an item: its lon/lat, else its sensor, else near its grid's centroid."""
    lon, lat = data.get("lon"), data.get("lat")
    if isinstance(lon, int | float) and isinstance(lat, int | float):
        return [float(lon), float(lat)]
    sensor = street.sensors.get(text(data, "sensor_id"))
    if sensor is not None:
        return [sensor.lon, sensor.lat]
    grid = street.grids.get(text(data, "grid_id"))
    if grid is None:
        return None
    dx, dy = jitter(key)
    return [grid.centroid[0] + dx, grid.centroid[1] + dy]


def _tip(title: str, lines: list[tuple[str, object]], lang: Lang = "zh") -> str:
    """A tooltip; a None value reads "no data" (无数据)."""
    body = "".join(f"<div>{html.escape(k)}: <b>"
                   f"{html.escape(tr('nodata', lang) if v is None else str(v))}</b></div>"
                   for k, v in lines)
    return f"<div class='tip'><div class='tip-title'>{html.escape(title)}</div>{body}</div>"


REGISTER_HEADLINE: tuple[str, ...] = ("households", "population")


def register_figures(register: Mapping[str, Any]) -> dict[str, float]:
    """The register figures of a ``registers`` item (empty: no register data).

    ``population`` is the register's count of residents; ``households`` is derived from
    residents, so without a resident count it is left out (unknown), not 0 — a grid whose
    only records are, say, special-group members has no household figure. The other numeric
    fields (``counts`` if the item nests them) are counts as they come; times (``*_ms``) are
    not figures. Nothing comes from the geography file.
    """
    counts = mapping(register, "counts") or register
    out: dict[str, float] = {
        k: v for k, v in counts.items()
        if k != "grid_id" and not k.endswith("_ms")
        and isinstance(v, int | float) and not isinstance(v, bool)}
    if "population" not in out:
        out.pop("households", None)
    return out


def grid_tip(grid: Grid, fig: GridFigures, register: Mapping[str, Any], lang: Lang) -> str:
    """The tooltip of a grid: name, id, figures and its register counts ("no data" where
    the ``registers`` channel has none)."""
    name = grid.name if lang == "zh" else grid.name_en
    figures = register_figures(register)
    lines: list[tuple[str, object]] = [
        (tr("tip.open", lang), fig.open), (tr("tip.overdue", lang), fig.overdue),
        (tr("tip.alerts", lang), fig.alerts)]
    lines += [(tr(f"tip.{k}", lang), figures.get(k)) for k in REGISTER_HEADLINE]
    others = sorted((k, v) for k, v in figures.items() if k not in REGISTER_HEADLINE)
    lines += [(f"{tr('tip.register', lang)} · {tr(k, lang)}", v) for k, v in others[:6]]
    return _tip(f"{name} ({grid.grid_id})", lines, lang)


def street_rows(street: Street) -> list[dict[str, Any]]:
    """The street outline (one row)."""
    return [{"outline": [list(p) for p in street.outline]}]


def community_rows(street: Street) -> list[dict[str, Any]]:
    """Each community's boundary as a closed path."""
    return [{"path": [list(p) for p in (*c.polygon, c.polygon[0])], "community_id": cid}
            for cid, c in sorted(street.communities.items())]


def community_label_rows(street: Street, lang: Lang) -> list[dict[str, Any]]:
    """A label at the mean vertex of each community."""
    rows = []
    for _, c in sorted(street.communities.items()):
        lon = sum(p[0] for p in c.polygon) / len(c.polygon)
        lat = sum(p[1] for p in c.polygon) / len(c.polygon)
        rows.append({"position": [lon, lat], "label": c.name if lang == "zh" else c.name_en})
    return rows


def grid_rows(street: Street, store: WallStore, now_ms: int, lang: Lang
              ) -> list[dict[str, Any]]:
    """Every grid, extruded by open cases and coloured by health, in grid id order."""
    figures = grid_figures(store, now_ms)
    rows = []
    for grid_id in street.grid_ids:
        grid = street.grids[grid_id]
        fig = figures.get(grid_id, GridFigures())
        register = store.get("registers", grid_id) or {}
        rows.append({"polygon": [list(p) for p in grid.polygon],
                     "grid_fill": HEALTH_COLOURS[fig.health],
                     "elevation": BASE_ELEVATION_M + ELEVATION_PER_CASE_M * fig.open,
                     "tip": grid_tip(grid, fig, register, lang), "grid_id": grid_id})
    return rows


TIER_COLOURS: dict[int, Rgba] = {1: [38, 194, 129, 255], 2: [70, 194, 255, 255],
                               3: [245, 166, 35, 255], 4: [232, 65, 66, 255]}


def tier_outline_rows(street: Street, store: WallStore) -> list[dict[str, Any]]:
    """Each grid with open cases outlined in the colour of its highest open tier
    (:func:`wall.app.mechanism.grid_top_tiers`), in grid id order; quiet grids have none."""
    top = grid_top_tiers(store.data("cases"))
    return [{"path": [list(p) for p in (*street.grids[g].polygon, street.grids[g].polygon[0])],
             "tier_colour": TIER_COLOURS[top[g]], "tier": top[g], "grid_id": g}
            for g in street.grid_ids if g in top]


def activity_rows(street: Street, store: WallStore, now_ms: int) -> list[dict[str, Any]]:
    """New cases and alerts of the last :data:`FADE_S` seconds as dots that fade and shrink
    with age."""
    rows = []
    for activity in reversed(store.recent):
        age = (now_ms - activity.received_ms) / 1000
        if age >= FADE_S:
            break
        position = place(street, activity.data, activity.key)
        if position is None:
            continue
        life = max(0.0, 1.0 - max(age, 0.0) / FADE_S)
        rows.append({"position": position,
                     "activity_fill": [*ACTIVITY_COLOUR, int(40 + 215 * life)],
                     "activity_radius": 20.0 + 40.0 * life})
    return rows


def alert_colour(row: AlertRow, now_ms: int) -> Rgba:
    """Severity colour; acknowledged and silenced alerts are drawn muted."""
    if row.silenced(now_ms):
        return SILENCED_COLOUR
    if row.status == "acknowledged":
        return ACKED_COLOUR
    return SEVERITY_COLOURS.get(row.severity, SEVERITY_COLOURS["info"])


def alert_marker_rows(street: Street, store: WallStore, now_ms: int, lang: Lang
                      ) -> list[dict[str, Any]]:
    """Alerts not resolved, placed at their sensor or grid, newest last (drawn on top)."""
    rows = []
    for row in sorted(alert_rows(store), key=lambda r: (r.updated_ms, r.alert_id)):
        if row.status == "resolved":
            continue
        data = store.get("alerts", row.alert_id) or {}
        position = place(street, data, row.alert_id)
        if position is None:
            continue
        status = "silenced" if row.silenced(now_ms) else row.status
        tip = _tip(row.title or row.alert_id, [
            (tr("duty.severity", lang), tr(row.severity, lang)),
            (tr("duty.status", lang), tr(status, lang)),
            (tr("col.grid", lang), row.grid_id),
            (tr("col.who", lang), row.acked_by or row.assignee or "—")])
        rows.append({"position": position, "alert_fill": alert_colour(row, now_ms),
                     "alert_radius": 70.0 if row.severity == "critical" else 50.0,
                     "tip": tip, "alert_id": row.alert_id})
    return rows


def dead_sensors(store: WallStore) -> set[str]:
    """Sensor ids with an unresolved dead-sensor alert."""
    return {text(a, "sensor_id") for a in store.data("alerts")
            if text(a, "kind") in DEAD_SENSOR_KINDS and text(a, "status") != "resolved"}


def sensor_rows(street: Street, dead: Collection[str], lang: Lang) -> list[dict[str, Any]]:
    """Every sensor, its tooltip naming its kind's label; the ``dead`` ones red."""
    return [{"position": [p.lon, p.lat],
             "sensor_fill": SENSOR_OFF if sensor_id in dead else SENSOR_ON,
             "tip": _tip(p.name, [(tr("layer.sensor", lang), f"{_kind(p, lang)} {sensor_id}"),
                                  (tr("col.grid", lang), p.grid_id)])}
            for sensor_id, p in sorted(street.sensors.items())]


def _kind(sensor: Poi, lang: Lang) -> str:
    return tr(sensor_label_key(sensor.sensor_kind or ""), lang)


def poi_rows(street: Street, kind: str, lang: Lang) -> list[dict[str, Any]]:
    """The POIs of one kind (``compound``, ``enterprise``, ``party_org``)."""
    pois: list[Poi] = [p for p in street.pois if p.kind == kind]
    fill = FILL_COLUMN[kind]
    return [{"position": [p.lon, p.lat], fill: POI_COLOURS[kind],
             "tip": _tip(p.name, [(tr(f"layer.{kind}", lang), p.poi_id),
                                  (tr("col.grid", lang), p.grid_id)])}
            for p in pois]


def poi_counts(street: Street) -> Counter[str]:
    """How many POIs of each kind the street has."""
    return Counter(p.kind for p in street.pois)

