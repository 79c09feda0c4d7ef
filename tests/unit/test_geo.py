"""Tests of the street geography (domain.geo) and its generator (domain.geo_build).

Pure: no network, no services. Geometric checks use shapely where it is needed as an
independent referee; the validity check falls back to a plain self-intersection test.
"""

from __future__ import annotations

import itertools
import math
import random
import re
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from domain import geo_build
from domain.geo import (
    SENSOR_KINDS,
    GeoError,
    Ring,
    Street,
    default_geo_dir,
    load_street,
    ring_edges,
    street,
)

try:
    import shapely
    from shapely.geometry import Polygon
except ImportError:  # pragma: no cover - shapely is a project dependency
    shapely = None

needs_shapely = pytest.mark.skipif(shapely is None, reason="shapely not installed")
RANDOM_POINTS = 20_000
LAYERS = ("street", "communities", "grids", "pois")
COMMITTED = geo_build.default_out_dir()  # the committed files, whatever GRIDWALL_GEO_DIR says


@pytest.fixture(scope="module")
def st() -> Street:
    """The committed street geography."""
    return load_street(COMMITTED)


def shoelace_area(ring: Ring) -> float:
    """Signed area of a ring (positive when counter-clockwise)."""
    x0, y0 = ring[0]
    return (
        sum(
            (ax - x0) * (by - y0) - (bx - x0) * (ay - y0) for (ax, ay), (bx, by) in ring_edges(ring)
        )
        / 2
    )


def segments_cross(
    a: tuple[float, float], b: tuple[float, float], c: tuple[float, float], d: tuple[float, float]
) -> bool:
    """True if segments a-b and c-d share any point (collinear overlaps included)."""

    def orient(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> int:
        value = (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
        return (value > 0) - (value < 0)

    def on_segment(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> bool:
        return min(p[0], q[0]) <= r[0] <= max(p[0], q[0]) and min(p[1], q[1]) <= r[1] <= max(
            p[1], q[1]
        )

    o1, o2, o3, o4 = orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b)
    if o1 != o2 and o3 != o4:
        return True
    return any(
        o == 0 and on_segment(p, q, r)
        for o, (p, q, r) in zip(
            (o1, o2, o3, o4), ((a, b, c), (a, b, d), (c, d, a), (c, d, b)), strict=True
        )
    )


def is_simple(ring: Ring) -> bool:
    """True if no two non-adjacent edges of the ring meet and all vertices are distinct."""
    if len(set(ring)) != len(ring):
        return False
    edges = ring_edges(ring)
    count = len(edges)
    for i, j in itertools.combinations(range(count), 2):
        adjacent = j == i + 1 or (i == 0 and j == count - 1)
        if not adjacent and segments_cross(*edges[i], *edges[j]):
            return False
    return True


def all_rings(st: Street) -> Iterator[tuple[str, Ring]]:
    """Every polygon of the geography with a label."""
    yield "street", st.outline
    yield from ((c.community_id, c.polygon) for c in st.communities.values())
    yield from ((g.grid_id, g.polygon) for g in st.grids.values())


def polygon(ring: Ring) -> Polygon:
    """A shapely polygon for a ring."""
    return Polygon(ring)


def random_points(st: Street, count: int, seed: int = 7) -> list[tuple[float, float]]:
    """``count`` uniform points over the street's bbox enlarged by 5% each side."""
    rng = random.Random(seed)
    min_lon, min_lat, max_lon, max_lat = st.bbox
    pad_lon, pad_lat = (max_lon - min_lon) * 0.05, (max_lat - min_lat) * 0.05
    return [
        (
            rng.uniform(min_lon - pad_lon, max_lon + pad_lon),
            rng.uniform(min_lat - pad_lat, max_lat + pad_lat),
        )
        for _ in range(count)
    ]


# --- ids and counts -----------------------------------------------------------------------


def test_counts_and_ids(st: Street) -> None:
    assert st.street_id == "PL" and st.name == "彭李街道"
    assert len(st.grids) == 92
    assert sorted(st.communities) == [f"PL{n:02d}" for n in range(1, 10)]
    assert st.grid_ids == sorted(st.grids) and len(set(st.grid_ids)) == 92
    for grid in st.grids.values():
        assert re.fullmatch(r"PL0[1-9]-\d\d", grid.grid_id)
        assert grid.grid_id.startswith(grid.community_id + "-")
        assert st.has_grid(grid.grid_id)
        assert st.community_of(grid.grid_id) == grid.community_id
        assert grid.name and grid.name_en and grid.households > 0 and grid.population > 0
    assert not st.has_grid("PL99-01")
    with pytest.raises(KeyError):
        st.community_of("PL99-01")


def test_communities_sum_their_grids(st: Street) -> None:
    for community in st.communities.values():
        members = [st.grids[g] for g in community.grid_ids]
        assert 10 <= len(members) <= 11
        assert [g.grid_id for g in members] == [
            f"{community.community_id}-{n:02d}" for n in range(1, len(members) + 1)
        ]
        assert community.households == sum(g.households for g in members)
        assert community.population == sum(g.population for g in members)
    assert sum(len(c.grid_ids) for c in st.communities.values()) == 92


def test_pois(st: Street) -> None:
    kinds = Counter(p.kind for p in st.pois)
    assert kinds == {"compound": 150, "enterprise": 120, "party_org": 60, "sensor": 600}
    assert len({p.poi_id for p in st.pois}) == len(st.pois)
    assert len(st.sensors) == 600
    for sensor_id, sensor in st.sensors.items():
        assert re.fullmatch(r"S\d{4}", sensor_id) and sensor.sensor_id == sensor_id
        assert sensor.sensor_kind in SENSOR_KINDS
    assert {s.sensor_kind for s in st.sensors.values()} == SENSOR_KINDS
    assert {s.grid_id for s in st.sensors.values()} == set(st.grids)
    for poi in st.pois:
        assert poi.name
        assert st.grid_at(poi.lon, poi.lat) == poi.grid_id, poi


# --- geometry -----------------------------------------------------------------------------


def test_polygons_are_valid_and_counter_clockwise(st: Street) -> None:
    for label, ring in all_rings(st):
        assert shoelace_area(ring) > 0, label
        if shapely is not None:
            assert polygon(ring).is_valid, label
        else:  # pragma: no cover
            assert is_simple(ring), label


def test_self_intersection_check_works() -> None:
    bow_tie: Ring = ((0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0))
    square: Ring = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
    assert not is_simple(bow_tie) and is_simple(square)


def test_edges_are_shared_exactly(st: Street) -> None:
    """Every grid edge is another grid's edge reversed, or an edge of the street outline."""
    grid_edges = Counter(e for g in st.grids.values() for e in ring_edges(g.polygon))
    outline = set(ring_edges(st.outline))
    for (a, b), count in grid_edges.items():
        assert count == 1
        assert ((b, a) in grid_edges) != ((a, b) in outline), (a, b)
    assert outline <= set(grid_edges)
    total = sum(shoelace_area(g.polygon) for g in st.grids.values())
    assert math.isclose(total, shoelace_area(st.outline), rel_tol=1e-9)


@needs_shapely
def test_grids_tile_the_street(st: Street) -> None:
    shapes = {g.grid_id: polygon(g.polygon) for g in st.grids.values()}
    for (id_a, a), (id_b, b) in itertools.combinations(shapes.items(), 2):
        if a.intersects(b):
            assert a.intersection(b).area <= 1e-12 * min(a.area, b.area), (id_a, id_b)
    outline = polygon(st.outline)
    union = shapely.unary_union(list(shapes.values()))
    assert union.symmetric_difference(outline).area <= 1e-9 * outline.area
    communities = shapely.unary_union([polygon(c.polygon) for c in st.communities.values()])
    assert communities.symmetric_difference(outline).area <= 1e-9 * outline.area


@needs_shapely
def test_grids_tile_their_community(st: Street) -> None:
    for community in st.communities.values():
        area = polygon(community.polygon)
        members = [polygon(st.grids[g].polygon) for g in community.grid_ids]
        for grid_id, shape in zip(community.grid_ids, members, strict=True):
            assert shape.difference(area).area <= 1e-9 * shape.area, grid_id
        union = shapely.unary_union(members)
        assert union.symmetric_difference(area).area <= 1e-9 * area.area


@needs_shapely
def test_centroids_inside_their_grid(st: Street) -> None:
    for grid in st.grids.values():
        assert polygon(grid.polygon).contains(shapely.Point(grid.centroid)), grid.grid_id
        assert st.grid_at(*grid.centroid) == grid.grid_id


def test_street_is_about_4_km_square(st: Street) -> None:
    min_lon, min_lat, max_lon, max_lat = st.bbox
    width_km = (max_lon - min_lon) * 111.32 * math.cos(math.radians(37.38))
    height_km = (max_lat - min_lat) * 110.574
    assert 3.0 < width_km < 5.0 and 3.0 < height_km < 5.0
    assert abs((min_lon + max_lon) / 2 - 117.97) < 0.01
    assert abs((min_lat + max_lat) / 2 - 37.38) < 0.01


# --- lookup -------------------------------------------------------------------------------


@needs_shapely
def test_random_points_map_to_exactly_one_containing_grid(st: Street) -> None:
    points = random_points(st, RANDOM_POINTS)
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    grid_ids = sorted(st.grids)
    inside_street = shapely.contains_xy(polygon(st.outline), xs, ys)
    containing = [shapely.contains_xy(polygon(st.grids[g].polygon), xs, ys) for g in grid_ids]
    inside_count = 0
    for k, (lon, lat) in enumerate(points):
        found = st.grid_at(lon, lat)
        hits = [grid_ids[i] for i, mask in enumerate(containing) if mask[k]]
        if inside_street[k]:
            inside_count += 1
            assert hits == [found], (lon, lat, hits, found)
        else:
            assert found is None and not hits, (lon, lat, found)
    assert inside_count > RANDOM_POINTS // 2


@pytest.mark.parametrize(
    "point",
    [
        (0.0, 0.0),
        (117.0, 37.38),
        (119.0, 37.38),
        (117.97, 36.0),
        (117.97, 39.0),
        (math.nan, 37.38),
        (117.97, math.nan),
        (math.inf, 37.38),
        (-math.inf, -math.inf),
    ],
)
def test_far_and_invalid_points_are_outside(st: Street, point: tuple[float, float]) -> None:
    assert st.grid_at(*point) is None


def test_corners_of_the_bbox_are_outside(st: Street) -> None:
    min_lon, min_lat, max_lon, max_lat = st.bbox
    for lon, lat in itertools.product((min_lon, max_lon), (min_lat, max_lat)):
        assert st.grid_at(lon, lat) is None


@needs_shapely
def test_boundary_points_resolve_to_one_touching_grid(st: Street) -> None:
    """Grid vertices and edge midpoints: a deterministic answer among the grids touching it."""
    shapes = {g.grid_id: polygon(g.polygon) for g in st.grids.values()}
    outline = polygon(st.outline)
    probes = {
        point
        for g in st.grids.values()
        for a, b in ring_edges(g.polygon)
        for point in (a, ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2))
    }
    for lon, lat in sorted(probes):
        found = st.grid_at(lon, lat)
        assert found == st.grid_at(lon, lat)
        spot = shapely.Point(lon, lat)
        if outline.boundary.distance(spot) > 1e-9:
            assert found is not None, (lon, lat)
        if found is not None:
            assert shapes[found].distance(spot) < 1e-9, (lon, lat, found)


def test_lookup_speed(st: Street) -> None:
    """Prints lookups/s; asserts only that the lookups complete."""
    points = random_points(st, 200_000, seed=11)
    grid_at = st.grid_at
    start = time.perf_counter()
    found = [grid_at(lon, lat) for lon, lat in points]
    elapsed = time.perf_counter() - start
    print(f"\ngrid_at: {len(points) / elapsed:,.0f} lookups/s ({len(points)} random points)")
    assert len(found) == len(points)


# --- loading ------------------------------------------------------------------------------


def test_default_dir_and_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from core.settings import settings

    monkeypatch.delenv("GRIDWALL_GEO_DIR", raising=False)
    settings.cache_clear()
    assert default_geo_dir() == COMMITTED
    copy_layers(COMMITTED, tmp_path)
    monkeypatch.setenv("GRIDWALL_GEO_DIR", str(tmp_path))
    settings.cache_clear()
    try:
        assert default_geo_dir() == tmp_path
    finally:
        monkeypatch.delenv("GRIDWALL_GEO_DIR")
        settings.cache_clear()


def test_street_is_cached() -> None:
    assert street() is street()
    assert len(street().grids) == 92


def copy_layers(source: Path, target: Path, layers: Sequence[str] = LAYERS) -> None:
    """Copy the GeoJSON layers from one directory to another."""
    target.mkdir(parents=True, exist_ok=True)
    for layer in layers:
        (target / f"{layer}.geojson").write_bytes((source / f"{layer}.geojson").read_bytes())


def test_missing_file_is_a_geo_error(tmp_path: Path) -> None:
    copy_layers(COMMITTED, tmp_path, LAYERS[:-1])
    with pytest.raises(GeoError, match="pois.geojson"):
        load_street(tmp_path)


def test_unknown_grid_in_pois_is_a_geo_error(tmp_path: Path) -> None:
    copy_layers(COMMITTED, tmp_path)
    pois = tmp_path / "pois.geojson"
    pois.write_text(
        pois.read_text(encoding="utf-8").replace('"PL01-01"', '"PL01-99"', 1), encoding="utf-8"
    )
    with pytest.raises(GeoError, match="PL01-99"):
        load_street(tmp_path)


# --- generator ----------------------------------------------------------------------------


def test_generator_reproduces_committed_files(tmp_path: Path) -> None:
    assert geo_build.main(["--out", str(tmp_path)]) == 0
    for layer in LAYERS:
        name = f"{layer}.geojson"
        assert (tmp_path / name).read_bytes() == (COMMITTED / name).read_bytes(), name


def test_generator_rejects_impossible_layouts() -> None:
    with pytest.raises(ValueError):
        geo_build.group_cells([(0, 0), (0, 1)], 1)  # not horizontally adjacent
    with pytest.raises(ValueError):
        geo_build.boundary_ring([(0, 0), (1, 1)])  # touch at one vertex only
    assert geo_build.group_cells([(0, 0), (1, 0), (2, 0)], 2) == [((0, 0), (1, 0)), ((2, 0),)]
