"""Generate the synthetic geography of 彭李街道 (Pengli street, Binzhou) as GeoJSON.

Run ``python -m domain.geo_build [--out config/geo]``. The output is a pure function of the
constants in this module (fixed seed, no clock, standard library only), so running it twice
gives byte-identical files.

How the geography is built, and why it tiles exactly:

* A lattice of ``LAYOUT_COLS x LAYOUT_ROWS`` cells (~400 m each, column widths and row heights
  varied) is laid over the street; every lattice vertex is jittered once and rounded to
  6 decimals. All polygons are rings of these shared vertices, so two neighbouring polygons
  share their common edges vertex for vertex: no gaps, no overlaps, no T-junctions.
* ``LAYOUT`` assigns each cell to a community (or to nothing: outside the street).
* A base grid is one cell, or two horizontally adjacent cells where a community has more
  cells than grids (see ``COMMUNITIES``).
* Points of interest are placed strictly inside one cell of their grid.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from domain.contracts.vocabulary import SENSOR_CATALOG

SEED = 20_240_601
STREET_ID = "PL"
STREET_NAME = "彭李街道"
STREET_NAME_EN = "Pengli Street"
CENTRE_LON = 117.97
CENTRE_LAT = 37.38
CELL_M = 400.0
# Column widths / row heights vary by up to this fraction of CELL_M.
SPAN_VARIATION = 0.15
# Each lattice vertex moves by up to this fraction of CELL_M along each axis: small enough
# that every cell stays a convex quadrilateral.
VERTEX_JITTER = 0.10
# POIs are placed at bilinear parameters in [POI_MARGIN, 1 - POI_MARGIN] of a cell.
POI_MARGIN = 0.12
METRES_PER_DEG_LAT = 110_574.0
METRES_PER_DEG_LON_AT_EQUATOR = 111_320.0

# North row first. A digit n puts the cell in community PL0n; "." is outside the street.
LAYOUT = (
    ".11122233.",
    "1111222333",
    "1112222333",
    "1444255533",
    "4445555666",
    "4444556666",
    "7477556666",
    "7778889999",
    "7788889999",
    ".77888899.",
)
LAYOUT_ROWS = len(LAYOUT)
LAYOUT_COLS = len(LAYOUT[0])

# (name, name_en, number of base grids), in community-number order.
COMMUNITIES: tuple[tuple[str, str, int], ...] = (
    ("黄河社区", "Huanghe Community", 10),
    ("渤海社区", "Bohai Community", 11),
    ("新立河社区", "Xinlihe Community", 10),
    ("秦台社区", "Qintai Community", 10),
    ("彭李社区", "Pengli Community", 11),
    ("梧桐社区", "Wutong Community", 10),
    ("滨河社区", "Binhe Community", 10),
    ("丰泽社区", "Fengze Community", 10),
    ("凤凰社区", "Fenghuang Community", 10),
)

POI_COUNTS = {"compound": 150, "enterprise": 120, "party_org": 60, "sensor": 600}
POI_PREFIX = {"compound": "C", "enterprise": "E", "party_org": "P", "sensor": "S"}


def words(text: str) -> tuple[str, ...]:
    """Split a space-separated list of names (keeps long name lists compact)."""
    return tuple(text.split())


# sensor kind -> (Chinese device name, relative weight), from the catalog
SENSOR_KINDS: dict[str, tuple[str, int]] = {s.name: (s.label.zh, s.weight)
                                            for s in SENSOR_CATALOG}
COMPOUND_STEMS = words(
    "黄河 渤海 滨河 金茂 阳光 幸福 锦绣 丽景 书香 翰林 紫荆 颐和 鲁北 "
    "新城 富源 华府 盛世 东方 绿洲 龙城 碧水 翠园 安居 康乐 和谐 明珠 "
    "北海 中海 香榭 御景"
)
COMPOUND_SUFFIXES = words("花园 小区 家园 名邸 雅苑 公寓 新村 嘉园")
ENTERPRISE_STEMS = words(
    "鲁滨 华裕 渤兴 滨泰 黄三角 盛源 鑫达 恒通 海川 博远 金沙 宏图 瑞丰 "
    "安泰 立信 嘉禾 永丰 德润 明辉 广源"
)
ENTERPRISE_TRADES = words("机械 纺织 化工 食品 物流 建材 电子 家纺 医药 包装 商贸 餐饮")

Cell = tuple[int, int]  # (column from west, row from south)
Vertex = tuple[int, int]  # lattice vertex (column, row); cell (i, j) spans (i..i+1, j..j+1)
LonLat = tuple[float, float]
Feature = dict[str, Any]


@dataclass(frozen=True)
class GridPlan:
    """One base grid: its id, names, community, the lattice cells it covers and its people."""

    grid_id: str
    number: int
    community_index: int
    cells: tuple[Cell, ...]
    households: int
    population: int


def community_id(index: int) -> str:
    """Return the id of community ``index`` (0-based): ``PL01`` .. ``PL09``."""
    return f"{STREET_ID}{index + 1:02d}"


def layout_cells() -> dict[int, list[Cell]]:
    """Map community index (0-based) to its cells in reading order (north row first)."""
    cells: dict[int, list[Cell]] = {}
    for r, row in enumerate(LAYOUT):
        if len(row) != LAYOUT_COLS:
            raise ValueError(f"LAYOUT row {r} has {len(row)} cells, expected {LAYOUT_COLS}")
        for i, mark in enumerate(row):
            if mark != ".":
                cells.setdefault(int(mark) - 1, []).append((i, LAYOUT_ROWS - 1 - r))
    return cells


def group_cells(cells: Sequence[Cell], grid_count: int) -> list[tuple[Cell, ...]]:
    """Split a community's cells into ``grid_count`` grids of one or two cells.

    Merges the first horizontally adjacent free pairs in reading order, so the result is
    deterministic. Raises ValueError if the community cannot be split that way.
    """
    merges = len(cells) - grid_count
    if merges < 0:
        raise ValueError(f"{len(cells)} cells cannot hold {grid_count} grids")
    members = set(cells)
    groups: list[tuple[Cell, ...]] = []
    used: set[Cell] = set()
    for cell in cells:
        if cell in used:
            continue
        east = (cell[0] + 1, cell[1])
        if merges and east in members and east not in used:
            groups.append((cell, east))
            used.update((cell, east))
            merges -= 1
        else:
            groups.append((cell,))
            used.add(cell)
    if merges:
        raise ValueError("not enough horizontally adjacent cells to merge")
    return groups


def plan_grids(rng: random.Random) -> list[GridPlan]:
    """Plan every base grid, in community order then reading order."""
    by_community = layout_cells()
    if sorted(by_community) != list(range(len(COMMUNITIES))):
        raise ValueError("LAYOUT must use exactly the communities listed in COMMUNITIES")
    plans: list[GridPlan] = []
    for index, (_, _, grid_count) in enumerate(COMMUNITIES):
        for number, cells in enumerate(group_cells(by_community[index], grid_count), start=1):
            households = rng.randint(450, 1400) * len(cells)
            population = round(households * rng.uniform(2.55, 3.05))
            grid_id = f"{community_id(index)}-{number:02d}"
            plans.append(GridPlan(grid_id, number, index, cells, households, population))
    return plans


def spans(count: int, rng: random.Random, cell_m: float = CELL_M) -> list[float]:
    """Return ``count + 1`` increasing offsets in metres, centred on 0, ~``cell_m`` apart."""
    widths = [cell_m * (1 + rng.uniform(-SPAN_VARIATION, SPAN_VARIATION)) for _ in range(count)]
    offsets = [0.0]
    for width in widths:
        offsets.append(offsets[-1] + width)
    half = offsets[-1] / 2
    return [offset - half for offset in offsets]


def to_lonlat(x_m: float, y_m: float) -> LonLat:
    """Convert metres east/north of the street centre to a rounded (lon, lat)."""
    metres_per_deg_lon = METRES_PER_DEG_LON_AT_EQUATOR * math.cos(math.radians(CENTRE_LAT))
    return (
        round(CENTRE_LON + x_m / metres_per_deg_lon, 6),
        round(CENTRE_LAT + y_m / METRES_PER_DEG_LAT, 6),
    )


def lattice(rng: random.Random, cols: int = LAYOUT_COLS, rows: int = LAYOUT_ROWS,
            cell_m: float = CELL_M) -> dict[Vertex, LonLat]:
    """Jitter every lattice vertex once; all polygons are built from these shared points."""
    xs = spans(cols, rng, cell_m)
    ys = spans(rows, rng, cell_m)
    jitter = VERTEX_JITTER * cell_m
    points: dict[Vertex, LonLat] = {}
    for j, y in enumerate(ys):
        for i, x in enumerate(xs):
            dx = rng.uniform(-jitter, jitter)
            dy = rng.uniform(-jitter, jitter)
            points[(i, j)] = to_lonlat(x + dx, y + dy)
    return points


def cell_corners(cell: Cell) -> tuple[Vertex, Vertex, Vertex, Vertex]:
    """Return the cell's corners counter-clockwise from the south-west one."""
    i, j = cell
    return (i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)


def boundary_ring(cells: Iterable[Cell]) -> list[Vertex]:
    """Return the outer boundary of a set of cells as a counter-clockwise vertex ring.

    Every lattice vertex on the boundary is kept (so neighbours share edges exactly); the ring
    starts at its smallest vertex and is not closed. Raises ValueError unless the cells form
    one region without holes that does not touch itself at a single vertex.
    """
    directed: set[tuple[Vertex, Vertex]] = set()
    for cell in cells:
        corners = cell_corners(cell)
        directed.update(zip(corners, corners[1:] + corners[:1], strict=True))
    successor: dict[Vertex, Vertex] = {}
    for start, end in directed:
        if (end, start) in directed:
            continue
        if start in successor:
            raise ValueError(f"region touches itself at vertex {start}")
        successor[start] = end
    first = min(successor)
    ring = [first]
    while (current := successor[ring[-1]]) != first:
        ring.append(current)
    if len(ring) != len(successor):
        raise ValueError("region is not one simply connected piece")
    return ring


def ring_coordinates(ring: Sequence[Vertex], points: dict[Vertex, LonLat]) -> list[list[float]]:
    """Return a closed GeoJSON linear ring for the given lattice vertices."""
    coords = [list(points[vertex]) for vertex in ring]
    return coords + [coords[0]]


def polygon_centroid(ring: Sequence[LonLat]) -> LonLat:
    """Return the area centroid of a simple polygon (open ring), rounded to 6 decimals."""
    area2 = cx = cy = 0.0
    x0, y0 = ring[0]
    for (ax, ay), (bx, by) in zip(ring, list(ring[1:]) + [ring[0]], strict=True):
        # Relative to the first vertex, for precision with ~118 degree longitudes.
        ax, ay, bx, by = ax - x0, ay - y0, bx - x0, by - y0
        cross = ax * by - bx * ay
        area2 += cross
        cx += (ax + bx) * cross
        cy += (ay + by) * cross
    return round(x0 + cx / (3 * area2), 6), round(y0 + cy / (3 * area2), 6)


def polygon_feature(
    properties: dict[str, Any], cells: Iterable[Cell], points: dict[Vertex, LonLat]
) -> Feature:
    """Return a GeoJSON Polygon Feature covering ``cells``."""
    coordinates = ring_coordinates(boundary_ring(cells), points)
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": "Polygon", "coordinates": [coordinates]},
    }


def point_feature(properties: dict[str, Any], point: LonLat) -> Feature:
    """Return a GeoJSON Point Feature."""
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": "Point", "coordinates": list(point)},
    }


def grid_name(plan: GridPlan) -> tuple[str, str]:
    """Return the Chinese and English names of a grid."""
    name, name_en, _ = COMMUNITIES[plan.community_index]
    return f"{name}第{plan.number}网格", f"{name_en} Grid {plan.number}"


def grid_features(plans: Sequence[GridPlan], points: dict[Vertex, LonLat]) -> list[Feature]:
    """Return one Polygon Feature per grid, with names, people and centroid."""
    features = []
    for plan in plans:
        name, name_en = grid_name(plan)
        ring = [points[vertex] for vertex in boundary_ring(plan.cells)]
        properties = {
            "grid_id": plan.grid_id,
            "name": name,
            "name_en": name_en,
            "community_id": community_id(plan.community_index),
            "households": plan.households,
            "population": plan.population,
            "centroid": list(polygon_centroid(ring)),
        }
        features.append(polygon_feature(properties, plan.cells, points))
    return features


def community_features(plans: Sequence[GridPlan], points: dict[Vertex, LonLat]) -> list[Feature]:
    """Return one Polygon Feature per community; people are the sums over its grids."""
    features = []
    for index, (name, name_en, _) in enumerate(COMMUNITIES):
        members = [plan for plan in plans if plan.community_index == index]
        properties = {
            "community_id": community_id(index),
            "name": name,
            "name_en": name_en,
            "grid_count": len(members),
            "households": sum(plan.households for plan in members),
            "population": sum(plan.population for plan in members),
        }
        cells = [cell for plan in members for cell in plan.cells]
        features.append(polygon_feature(properties, cells, points))
    return features


def street_feature(plans: Sequence[GridPlan], points: dict[Vertex, LonLat]) -> Feature:
    """Return the street outline; people are the sums over all grids."""
    properties = {
        "street_id": STREET_ID,
        "name": STREET_NAME,
        "name_en": STREET_NAME_EN,
        "community_count": len(COMMUNITIES),
        "grid_count": len(plans),
        "households": sum(plan.households for plan in plans),
        "population": sum(plan.population for plan in plans),
    }
    cells = [cell for plan in plans for cell in plan.cells]
    return polygon_feature(properties, cells, points)


def point_in_cell(cell: Cell, points: dict[Vertex, LonLat], rng: random.Random) -> LonLat:
    """Return a rounded point strictly inside a (convex) cell, away from its edges."""
    sw, se, ne, nw = (points[vertex] for vertex in cell_corners(cell))
    u = rng.uniform(POI_MARGIN, 1 - POI_MARGIN)
    v = rng.uniform(POI_MARGIN, 1 - POI_MARGIN)
    lon, lat = (
        (1 - v) * ((1 - u) * s_w + u * s_e) + v * ((1 - u) * n_w + u * n_e)
        for s_w, s_e, n_w, n_e in zip(sw, se, nw, ne, strict=True)
    )
    return round(lon, 6), round(lat, 6)


def poi_hosts(plans: Sequence[GridPlan], rng: random.Random) -> Iterator[tuple[str, GridPlan]]:
    """Yield (kind, grid) for every POI to create, grouped by kind, grids in plan order.

    Every grid gets at least one compound and at least six sensors; the rest are spread at
    random. Counts match POI_COUNTS exactly.
    """
    floors = {"compound": 1, "enterprise": 0, "party_org": 0, "sensor": 6}
    for kind, total in POI_COUNTS.items():
        per_grid = dict.fromkeys(range(len(plans)), floors[kind])
        for _ in range(total - floors[kind] * len(plans)):
            per_grid[rng.randrange(len(plans))] += 1
        for index, plan in enumerate(plans):
            for _ in range(per_grid[index]):
                yield kind, plan


def unique_names(stems: Sequence[str], suffixes: Sequence[str], rng: random.Random) -> list[str]:
    """Return every stem+suffix combination in a seeded random order (no repeats)."""
    names = [stem + suffix for stem in stems for suffix in suffixes]
    rng.shuffle(names)
    return names


def sensor_kind_for(rng: random.Random) -> str:
    """Draw a sensor kind according to the SENSOR_KINDS weights."""
    kinds = list(SENSOR_KINDS)
    return rng.choices(kinds, weights=[SENSOR_KINDS[k][1] for k in kinds])[0]


def poi_features(
    plans: Sequence[GridPlan], points: dict[Vertex, LonLat], rng: random.Random
) -> list[Feature]:
    """Return every point of interest, each strictly inside one cell of its grid."""
    compounds = iter(unique_names(COMPOUND_STEMS, COMPOUND_SUFFIXES, rng))
    enterprises = iter(
        unique_names(
            [f"滨州{stem}" for stem in ENTERPRISE_STEMS],
            [f"{trade}有限公司" for trade in ENTERPRISE_TRADES],
            rng,
        )
    )
    serial = dict.fromkeys(POI_COUNTS, 0)
    party_orgs_in_grid: dict[str, int] = {}
    features = []
    for kind, plan in poi_hosts(plans, rng):
        serial[kind] += 1
        poi_id = f"{POI_PREFIX[kind]}{serial[kind]:04d}"
        grid, _ = grid_name(plan)
        properties: dict[str, Any] = {"poi_id": poi_id, "kind": kind, "grid_id": plan.grid_id}
        if kind == "compound":
            properties["name"] = next(compounds)
        elif kind == "enterprise":
            properties["name"] = next(enterprises)
        elif kind == "party_org":
            count = party_orgs_in_grid[plan.grid_id] = party_orgs_in_grid.get(plan.grid_id, 0) + 1
            properties["name"] = f"{grid}第{count}党支部"
        else:
            sensor_kind = sensor_kind_for(rng)
            properties.update(
                name=f"{grid}{SENSOR_KINDS[sensor_kind][0]}{poi_id}",
                sensor_kind=sensor_kind,
                sensor_id=poi_id,
            )
        cell = plan.cells[rng.randrange(len(plan.cells))]
        features.append(point_feature(properties, point_in_cell(cell, points, rng)))
    return features


def build(rng_seed: int = SEED) -> dict[str, list[Feature]]:
    """Build every layer; returns file stem -> features. Same seed, same result."""
    rng = random.Random(rng_seed)
    plans = plan_grids(rng)
    points = lattice(rng)
    return {
        "street": [street_feature(plans, points)],
        "communities": community_features(plans, points),
        "grids": grid_features(plans, points),
        "pois": poi_features(plans, points, rng),
    }


# --- a generated city: any number of communities, grids and sensors -----------------------

CITY_ID = "CT"
CITY_NAME = "滨州示范城区"
CITY_NAME_EN = "Binzhou Demo City"
CITY_CELL_M = 250.0
# Directional infixes that keep community names unique once the stems are used up.
CITY_NAME_ROUNDS = ("", "东", "西", "南", "北", "中", "新")
GRID_ID_MAX = 16  # domain.schemas.GridId


@dataclass(frozen=True)
class CitySpec:
    """What a generated city holds: ``communities`` × ``grids_per_community`` grids, each
    with exactly ``sensors_per_grid`` sensors, 1–2 compounds, 0–2 enterprises and 0–1 party
    organisations. The same spec gives byte-identical files.
    """

    communities: int = 100
    grids_per_community: int = 100
    sensors_per_grid: int = 10
    seed: int = 1

    def __post_init__(self) -> None:
        for name in ("communities", "grids_per_community", "sensors_per_grid"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if len(self.grid_id(self.communities - 1, self.grids_per_community)) > GRID_ID_MAX:
            raise ValueError(f"grid ids would be longer than {GRID_ID_MAX} characters")

    @property
    def grids(self) -> int:
        """Base grids in the city."""
        return self.communities * self.grids_per_community

    @property
    def sensors(self) -> int:
        """Sensors in the city."""
        return self.grids * self.sensors_per_grid

    def community_id(self, index: int) -> str:
        """Id of community ``index`` (0-based): ``CT001`` … (at least two digits)."""
        return f"{CITY_ID}{index + 1:0{max(2, len(str(self.communities)))}d}"

    def grid_id(self, index: int, number: int) -> str:
        """Id of grid ``number`` (1-based) of community ``index``: ``CT001-001`` …"""
        digits = max(2, len(str(self.grids_per_community)))
        return f"{self.community_id(index)}-{number:0{digits}d}"


def ceil_sqrt(n: int) -> int:
    """The smallest k with k * k >= n (n >= 1)."""
    return math.isqrt(n - 1) + 1


def city_blocks(spec: CitySpec) -> tuple[int, int, list[list[Cell]]]:
    """Lay the communities out as blocks of cells; returns (cols, rows, cells per community).

    Each community is a block of ``w x h`` cells (``w = ceil(sqrt(grids))``, ``h`` rows:
    at most ``w - 1`` cells more than grids, absorbed by two-cell grids); blocks fill rows
    of ``ceil(sqrt(communities))`` from the north-west, the last row left-aligned, so the
    city is one simply connected region. Cells are listed in reading order (north row first).
    """
    width = ceil_sqrt(spec.grids_per_community)
    height = -(-spec.grids_per_community // width)
    block_cols = ceil_sqrt(spec.communities)
    block_rows = -(-spec.communities // block_cols)
    cols, rows = block_cols * width, block_rows * height
    blocks = []
    for index in range(spec.communities):
        block_col, block_row = index % block_cols, index // block_cols
        blocks.append([(block_col * width + i, rows - 1 - (block_row * height + r))
                       for r in range(height) for i in range(width)])
    return cols, rows, blocks


def city_community_names(spec: CitySpec, rng: random.Random) -> list[tuple[str, str]]:
    """(name, name_en) of every community: seeded stems, unique however many are needed."""
    stems = list(dict.fromkeys(COMPOUND_STEMS + ENTERPRISE_STEMS))
    rng.shuffle(stems)
    names = []
    for index in range(spec.communities):
        round_, stem = divmod(index, len(stems))
        infix = (CITY_NAME_ROUNDS[round_] if round_ < len(CITY_NAME_ROUNDS)
                 else str(round_))
        names.append((f"{stems[stem]}{infix}社区", f"Community {index + 1}"))
    return names


def numbered(names: Sequence[str], index: int) -> str:
    """``names[index]`` cycling through the list; later rounds carry a number, so unique."""
    round_, at = divmod(index, len(names))
    return names[at] if round_ == 0 else f"{names[at]}{round_ + 1}"


def plan_city(spec: CitySpec, rng: random.Random
              ) -> tuple[int, int, list[GridPlan], list[tuple[str, str]]]:
    """Plan every grid of the city: (cols, rows, grid plans, community names)."""
    cols, rows, blocks = city_blocks(spec)
    names = city_community_names(spec, rng)
    plans = []
    for index, cells in enumerate(blocks):
        for number, group in enumerate(group_cells(cells, spec.grids_per_community), start=1):
            households = rng.randint(450, 1400) * len(group)
            population = round(households * rng.uniform(2.55, 3.05))
            plans.append(GridPlan(spec.grid_id(index, number), number, index, group,
                                  households, population))
    return cols, rows, plans, names


def city_poi_features(spec: CitySpec, plans: Sequence[GridPlan],
                      names: Sequence[tuple[str, str]], points: dict[Vertex, LonLat],
                      rng: random.Random) -> list[Feature]:
    """Every POI of the city, grid by grid, each strictly inside one cell of its grid."""
    per_grid = [{"compound": rng.randint(1, 2), "enterprise": rng.randint(0, 2),
                 "party_org": rng.randint(0, 1), "sensor": spec.sensors_per_grid}
                for _ in plans]
    totals = {kind: sum(counts[kind] for counts in per_grid) for kind in POI_COUNTS}
    digits = {kind: max(4, len(str(total))) for kind, total in totals.items()}
    compounds = unique_names(COMPOUND_STEMS, COMPOUND_SUFFIXES, rng)
    enterprises = unique_names([f"滨州{stem}" for stem in ENTERPRISE_STEMS],
                               [f"{trade}有限公司" for trade in ENTERPRISE_TRADES], rng)
    serial = dict.fromkeys(POI_COUNTS, 0)
    features = []
    for plan, counts in zip(plans, per_grid, strict=True):
        grid = f"{names[plan.community_index][0]}第{plan.number}网格"
        for kind in POI_COUNTS:
            for count in range(1, counts[kind] + 1):
                poi_id = f"{POI_PREFIX[kind]}{serial[kind] + 1:0{digits[kind]}d}"
                properties: dict[str, Any] = {"poi_id": poi_id, "kind": kind,
                                              "grid_id": plan.grid_id}
                if kind == "compound":
                    properties["name"] = numbered(compounds, serial[kind])
                elif kind == "enterprise":
                    properties["name"] = numbered(enterprises, serial[kind])
                elif kind == "party_org":
                    properties["name"] = f"{grid}第{count}党支部"
                else:
                    sensor_kind = sensor_kind_for(rng)
                    properties.update(name=f"{grid}{SENSOR_KINDS[sensor_kind][0]}{poi_id}",
                                      sensor_kind=sensor_kind, sensor_id=poi_id)
                serial[kind] += 1
                cell = plan.cells[rng.randrange(len(plan.cells))]
                features.append(point_feature(properties, point_in_cell(cell, points, rng)))
    return features


def build_city(spec: CitySpec) -> dict[str, list[Feature]]:
    """Build every layer of a generated city (same layers and properties as :func:`build`).

    Same spec, same result. The street feature's properties also record the spec
    (``generator``), so a directory can be checked against what was asked for.
    """
    rng = random.Random(f"city:{spec.seed}")
    cols, rows, plans, names = plan_city(spec, rng)
    points = lattice(rng, cols, rows, CITY_CELL_M)
    grids = []
    for plan in plans:
        name, name_en = names[plan.community_index]
        ring = [points[vertex] for vertex in boundary_ring(plan.cells)]
        grids.append(polygon_feature({
            "grid_id": plan.grid_id, "name": f"{name}第{plan.number}网格",
            "name_en": f"{name_en} Grid {plan.number}",
            "community_id": spec.community_id(plan.community_index),
            "households": plan.households, "population": plan.population,
            "centroid": list(polygon_centroid(ring))}, plan.cells, points))
    communities = []
    for index, (name, name_en) in enumerate(names):
        members = plans[index * spec.grids_per_community:(index + 1) * spec.grids_per_community]
        communities.append(polygon_feature({
            "community_id": spec.community_id(index), "name": name, "name_en": name_en,
            "grid_count": len(members),
            "households": sum(plan.households for plan in members),
            "population": sum(plan.population for plan in members)},
            [cell for plan in members for cell in plan.cells], points))
    street = polygon_feature({
        "street_id": CITY_ID, "name": CITY_NAME, "name_en": CITY_NAME_EN,
        "community_count": spec.communities, "grid_count": len(plans),
        "households": sum(plan.households for plan in plans),
        "population": sum(plan.population for plan in plans),
        "generator": {"communities": spec.communities,
                      "grids_per_community": spec.grids_per_community,
                      "sensors_per_grid": spec.sensors_per_grid, "seed": spec.seed}},
        [cell for plan in plans for cell in plan.cells], points)
    return {"street": [street], "communities": communities, "grids": grids,
            "pois": city_poi_features(spec, plans, names, points, rng)}


def feature_collection_text(features: Sequence[Feature]) -> str:
    """Serialise a FeatureCollection compactly, one Feature per line, UTF-8 text."""
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    return '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"


def write(out_dir: Path, layers: dict[str, list[Feature]]) -> list[Path]:
    """Write ``<stem>.geojson`` for every layer into ``out_dir``; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, features in layers.items():
        path = out_dir / f"{stem}.geojson"
        path.write_bytes(feature_collection_text(features).encode("utf-8"))
        paths.append(path)
    return paths


def default_out_dir() -> Path:
    """Return the repository's ``config/geo`` directory."""
    return Path(__file__).resolve().parent.parent / "config" / "geo"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: build and write every layer, print what was written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=default_out_dir(), help="output directory")
    args = parser.parse_args(argv)
    layers = build()
    for path in write(args.out, layers):
        print(f"wrote {path} ({len(layers[path.stem])} features)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
