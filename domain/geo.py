"""The street's geography: grids, communities, points of interest, point-in-grid lookup.

Loads the GeoJSON files written by :mod:`domain.geo_build` (``street``, ``communities``,
``grids``, ``pois``). Reading those files is the only I/O here.

Guarantees of :meth:`Street.grid_at`, for geography whose grids tile the street with shared
edges that are vertex-for-vertex identical (what ``geo_build`` writes and the tests check):

* every point inside the street maps to exactly one grid, and that grid contains it;
* every point outside the street maps to ``None``;
* a point exactly on a boundary resolves as if moved an infinitesimal step east (and, to
  break ties on exactly east-west edges, an even smaller step north): a point on an edge
  shared by two grids always goes to the same one of them, the one east of the edge; a point
  on the street's own border may resolve to None.

The lookup uses a bucket index built at load time (:class:`GridIndex`), so it costs O(1) for
most points and a ray cast over two or three small polygons for the rest.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import msgspec

from domain.contracts.vocabulary import SENSOR_BY_NAME

GEO_DIR_ENV = "GRIDWALL_GEO_DIR"  # the setting `geo_dir` of core.settings
POI_KINDS = frozenset({"compound", "enterprise", "party_org", "sensor"})
SENSOR_KINDS = frozenset(SENSOR_BY_NAME)  # the catalog's kinds (domain.contracts.vocabulary)
# Buckets per axis of the lookup index: ~65 m buckets, so about two thirds of the street's
# buckets lie inside one grid (O(1) lookup); measured ~0.06 s to build, > 2 M lookups/s.
# 128 is only ~15% faster and takes ~3x longer to build.
INDEX_BUCKETS_PER_AXIS = 64

LonLat = tuple[float, float]
Ring = tuple[LonLat, ...]  # exterior ring, counter-clockwise, first vertex not repeated
BBox = tuple[float, float, float, float]  # (min_lon, min_lat, max_lon, max_lat)
# A non-horizontal edge, oriented south to north: (lat_lo, lat_hi, lon_at_lat_lo, dlon/dlat).
Edge = tuple[float, float, float, float]
Candidate = tuple[str, tuple[Edge, ...]]
# A bucket is either the id of the one grid that contains all of it, or
# (covered, candidates): candidates are the grids meeting it; covered means the grids
# together cover the whole bucket (no street border crosses it).
Bucket = str | tuple[bool, tuple[Candidate, ...]]


class GeoError(ValueError):
    """The GeoJSON files are missing, malformed or inconsistent."""


@dataclass(frozen=True, slots=True)
class Grid:
    """A base grid (网格). ``polygon`` is its exterior ring; ``centroid`` is (lon, lat)."""

    grid_id: str
    name: str
    name_en: str
    community_id: str
    households: int
    population: int
    polygon: Ring
    centroid: LonLat


@dataclass(frozen=True, slots=True)
class Community:
    """A community (社区, second-level grid); ``grid_ids`` are its grids, sorted."""

    community_id: str
    name: str
    name_en: str
    households: int
    population: int
    polygon: Ring
    grid_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Poi:
    """A point of interest inside ``grid_id``; sensors also carry sensor_kind and sensor_id."""

    poi_id: str
    kind: str
    name: str
    grid_id: str
    lon: float
    lat: float
    sensor_kind: str | None = None
    sensor_id: str | None = None


@dataclass(frozen=True, eq=False)
class Street:
    """The street (街道) with its communities, grids and points of interest.

    ``grids`` and ``communities`` are keyed by id; ``pois`` is in file order; ``sensors`` are
    the POIs of kind ``sensor`` keyed by ``sensor_id``. Treat the containers as read-only.
    """

    street_id: str
    name: str
    name_en: str
    outline: Ring
    grids: dict[str, Grid]
    communities: dict[str, Community]
    pois: list[Poi]
    sensors: dict[str, Poi]
    _index: GridIndex = field(repr=False)

    def grid_at(self, lon: float, lat: float) -> str | None:
        """Return the id of the grid containing (lon, lat), or None outside the street.

        Exactly one grid for every point inside the street; boundary points resolve
        deterministically (see the module docstring). NaN coordinates give None.
        """
        return self._index.lookup(lon, lat)

    def has_grid(self, grid_id: str) -> bool:
        """Return True if ``grid_id`` is one of this street's grids."""
        return grid_id in self.grids

    def community_of(self, grid_id: str) -> str:
        """Return the community id of ``grid_id``; raises KeyError for an unknown grid."""
        return self.grids[grid_id].community_id

    @property
    def grid_ids(self) -> list[str]:
        """All grid ids, sorted (a fresh list on every call)."""
        return sorted(self.grids)

    @property
    def bbox(self) -> BBox:
        """(min_lon, min_lat, max_lon, max_lat) of the street outline."""
        return ring_bbox(self.outline)


def ring_bbox(ring: Iterable[LonLat]) -> BBox:
    """Return (min_lon, min_lat, max_lon, max_lat) of the given points."""
    lons, lats = zip(*ring, strict=True)
    return min(lons), min(lats), max(lons), max(lats)


def ring_edges(ring: Ring) -> list[tuple[LonLat, LonLat]]:
    """Return the ring's edges (a, b), including the closing one."""
    return list(zip(ring, ring[1:] + ring[:1], strict=True))


def crossing_edges(ring: Ring) -> tuple[Edge, ...]:
    """Precompute the ring's non-horizontal edges for :func:`edges_contain`.

    Each edge is oriented south to north whatever the ring's direction, so an edge shared by
    two polygons gives bit-identical numbers in both: that is what makes boundary points
    resolve to exactly one polygon.
    """
    edges = []
    for (ax, ay), (bx, by) in ring_edges(ring):
        if ay == by:
            continue
        (x0, y0), (x1, y1) = ((ax, ay), (bx, by)) if ay < by else ((bx, by), (ax, ay))
        edges.append((y0, y1, x0, (x1 - x0) / (y1 - y0)))
    return tuple(edges)


def edges_contain(edges: Sequence[Edge], lon: float, lat: float) -> bool:
    """Ray casting (eastward ray, half-open in latitude) over edges from crossing_edges."""
    inside = False
    for lat_lo, lat_hi, lon_lo, slope in edges:
        if lat_lo <= lat < lat_hi and lon < lon_lo + (lat - lat_lo) * slope:
            inside = not inside
    return inside


def segment_meets_box(a: LonLat, b: LonLat, box: BBox) -> bool:
    """Return True if segment a-b touches the closed box (Liang-Barsky clipping)."""
    (ax, ay), (bx, by) = a, b
    min_x, min_y, max_x, max_y = box
    dx, dy = bx - ax, by - ay
    t_in, t_out = 0.0, 1.0
    for p, q in ((-dx, ax - min_x), (dx, max_x - ax), (-dy, ay - min_y), (dy, max_y - ay)):
        if p == 0.0:
            if q < 0.0:
                return False
            continue
        t = q / p
        if p < 0.0:
            t_in = max(t_in, t)
        else:
            t_out = min(t_out, t)
        if t_in > t_out:
            return False
    return True


def border_edges(rings: Iterable[Ring]) -> list[tuple[LonLat, LonLat]]:
    """Return the edges that belong to only one ring: the outer border of the tiling.

    An edge counts as shared only if another ring has it with identical endpoints, so any
    mismatch makes it a border edge, which keeps the index conservative.
    """
    all_edges = [edge for ring in rings for edge in ring_edges(ring)]
    counts = Counter(tuple(sorted(edge)) for edge in all_edges)
    return [edge for edge in all_edges if counts[tuple(sorted(edge))] == 1]


class GridIndex:
    """Uniform bucket index over the street's bbox for fast point-in-grid lookup.

    Built once: each bucket (slightly enlarged, so rounding never hides a grid) records the
    grids whose polygon meets it, or the single grid that contains it entirely. A lookup is
    then O(1) for most points and a ray cast over a few small polygons for the rest.
    """

    def __init__(self, grids: Iterable[Grid], buckets_per_axis: int = INDEX_BUCKETS_PER_AXIS):
        """Index ``grids``; ``buckets_per_axis`` buckets along each side of their bbox."""
        grid_list = sorted(grids, key=lambda grid: grid.grid_id)
        if not grid_list:
            raise GeoError("cannot index a street without grids")
        self._min_lon, self._min_lat, max_lon, max_lat = ring_bbox(
            point for grid in grid_list for point in grid.polygon
        )
        self._n = buckets_per_axis
        self._step_lon = (max_lon - self._min_lon) / self._n
        self._step_lat = (max_lat - self._min_lat) / self._n
        self._scale_lon = 1.0 / self._step_lon
        self._scale_lat = 1.0 / self._step_lat
        self._buckets = self._build(grid_list)

    def _bucket_box(self, col: int, row: int) -> BBox:
        """The bucket's box, enlarged by a millionth of a bucket on every side."""
        pad_lon, pad_lat = self._step_lon * 1e-6, self._step_lat * 1e-6
        west = self._min_lon + col * self._step_lon
        south = self._min_lat + row * self._step_lat
        return (
            west - pad_lon,
            south - pad_lat,
            west + self._step_lon + pad_lon,
            south + self._step_lat + pad_lat,
        )

    def _bucket_range(self, lo: float, hi: float, origin: float, step: float) -> range:
        """Bucket numbers along one axis that the interval [lo, hi] may touch."""
        first = max(0, math.floor((lo - origin) / step) - 1)
        return range(first, min(self._n, math.floor((hi - origin) / step) + 2))

    def _build(self, grids: Sequence[Grid]) -> list[Bucket]:
        """Fill every bucket; see the class docstring."""
        owners: dict[int, str] = {}
        candidates: dict[int, list[Candidate]] = {}
        for grid in grids:
            edges = ring_edges(grid.polygon)
            crossing = crossing_edges(grid.polygon)
            min_x, min_y, max_x, max_y = ring_bbox(grid.polygon)
            for row in self._bucket_range(min_y, max_y, self._min_lat, self._step_lat):
                for col in self._bucket_range(min_x, max_x, self._min_lon, self._step_lon):
                    box = self._bucket_box(col, row)
                    if box[0] > max_x or box[2] < min_x or box[1] > max_y or box[3] < min_y:
                        continue  # away from the grid's bbox: neither meets nor lies inside it
                    key = row * self._n + col
                    if any(segment_meets_box(a, b, box) for a, b in edges):
                        candidates.setdefault(key, []).append((grid.grid_id, crossing))
                    elif edges_contain(crossing, (box[0] + box[2]) / 2, (box[1] + box[3]) / 2):
                        owners[key] = grid.grid_id
        # Buckets the street's border crosses: each border edge is tested against the buckets
        # near its own bbox only (the same test as testing every bucket against every edge,
        # without the cost of buckets x border edges at city scale).
        crossed: set[int] = set()
        for a, b in border_edges(grid.polygon for grid in grids):
            for row in self._bucket_range(min(a[1], b[1]), max(a[1], b[1]), self._min_lat,
                                          self._step_lat):
                for col in self._bucket_range(min(a[0], b[0]), max(a[0], b[0]), self._min_lon,
                                              self._step_lon):
                    key = row * self._n + col
                    if key not in crossed and segment_meets_box(a, b, self._bucket_box(col, row)):
                        crossed.add(key)
        buckets: list[Bucket] = []
        for key in range(self._n * self._n):
            if key in owners:
                buckets.append(owners[key])
                continue
            covered = key not in crossed
            buckets.append((covered and key in candidates, tuple(candidates.get(key, ()))))
        return buckets

    def lookup(self, lon: float, lat: float) -> str | None:
        """Return the grid id containing (lon, lat), or None; see the module docstring."""
        fx = (lon - self._min_lon) * self._scale_lon
        fy = (lat - self._min_lat) * self._scale_lat
        n = self._n
        # Written so that NaN fails the test too.
        if not (0.0 <= fx < n and 0.0 <= fy < n):
            return None
        bucket = self._buckets[int(fy) * n + int(fx)]
        if isinstance(bucket, str):
            return bucket
        covered, candidates = bucket
        if covered:
            # The candidates tile the bucket: if not in the others, it is in the last one.
            for grid_id, edges in candidates[:-1]:
                if edges_contain(edges, lon, lat):
                    return grid_id
            return candidates[-1][0]
        for grid_id, edges in candidates:
            if edges_contain(edges, lon, lat):
                return grid_id
        return None


def default_geo_dir() -> Path:
    """The geography directory of this process: ``$GRIDWALL_GEO_DIR`` if set, else the
    repository's ``config/geo`` -- the rule of the ``geo_dir`` setting, which
    ``core.settings`` validates when a process starts (domain imports no settings)."""
    override = os.environ.get(GEO_DIR_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "config" / "geo"


def read_features(path: Path) -> list[dict[str, Any]]:
    """Return the features of a GeoJSON FeatureCollection file; GeoError if unreadable."""
    try:
        collection = msgspec.json.decode(path.read_bytes())
        features = collection["features"]
    except (OSError, ValueError, KeyError, TypeError, msgspec.DecodeError) as exc:
        raise GeoError(f"{path}: not a readable GeoJSON FeatureCollection: {exc}") from exc
    if not isinstance(features, list):
        raise GeoError(f"{path}: 'features' is not a list")
    return features


def geometry_of(feature: dict[str, Any], kind: str) -> Any:
    """Return the coordinates of a feature's geometry, checking its type is ``kind``."""
    geometry = feature.get("geometry") or {}
    if geometry.get("type") != kind:
        raise GeoError(f"expected a {kind} geometry, got {geometry.get('type')!r}")
    return geometry["coordinates"]


def polygon_ring(feature: dict[str, Any]) -> Ring:
    """Return a Polygon feature's exterior ring, open (last vertex not repeating the first)."""
    rings = geometry_of(feature, "Polygon")
    if len(rings) != 1:
        raise GeoError("polygons with holes are not supported")
    ring = tuple((float(lon), float(lat)) for lon, lat in rings[0])
    if len(ring) > 1 and ring[0] == ring[-1]:
        ring = ring[:-1]
    if len(ring) < 3:
        raise GeoError("a polygon needs at least 3 distinct vertices")
    return ring


def parse_grid(feature: dict[str, Any]) -> Grid:
    """Build a Grid from a feature of ``grids.geojson``."""
    props = feature["properties"]
    lon, lat = props["centroid"]
    return Grid(
        grid_id=str(props["grid_id"]),
        name=str(props["name"]),
        name_en=str(props["name_en"]),
        community_id=str(props["community_id"]),
        households=int(props["households"]),
        population=int(props["population"]),
        polygon=polygon_ring(feature),
        centroid=(float(lon), float(lat)),
    )


def parse_community(feature: dict[str, Any], grid_ids: Iterable[str]) -> Community:
    """Build a Community from a feature of ``communities.geojson`` and its grid ids."""
    props = feature["properties"]
    return Community(
        community_id=str(props["community_id"]),
        name=str(props["name"]),
        name_en=str(props["name_en"]),
        households=int(props["households"]),
        population=int(props["population"]),
        polygon=polygon_ring(feature),
        grid_ids=tuple(sorted(grid_ids)),
    )


class _PoiProperties(msgspec.Struct):
    poi_id: str
    kind: str
    name: str
    grid_id: str
    sensor_kind: str | None = None
    sensor_id: str | None = None


class _PointGeometry(msgspec.Struct):
    type: str
    coordinates: tuple[float, float]


class _PoiFeature(msgspec.Struct):
    properties: _PoiProperties
    geometry: _PointGeometry


class _PoiCollection(msgspec.Struct):
    features: list[_PoiFeature]


_POI_DECODER = msgspec.json.Decoder(_PoiCollection)


def read_pois(path: Path) -> list[Poi]:
    """The POIs of ``pois.geojson`` in file order; GeoError if unreadable or inconsistent.

    Decoded straight into typed structs (a generated city holds 100,000+ POIs, and every
    process loads them at start).
    """
    try:
        features = _POI_DECODER.decode(path.read_bytes()).features
    except (OSError, msgspec.DecodeError) as exc:
        raise GeoError(f"{path}: not a readable POI FeatureCollection: {exc}") from exc
    return [parse_poi(feature) for feature in features]


def parse_poi(feature: _PoiFeature) -> Poi:
    """Build a Poi from a decoded feature of ``pois.geojson``; GeoError for an unknown kind."""
    props, geometry = feature.properties, feature.geometry
    if geometry.type != "Point":
        raise GeoError(f"expected a Point geometry, got {geometry.type!r}")
    kind = props.kind
    if kind not in POI_KINDS:
        raise GeoError(f"POI {props.poi_id!r}: unknown kind {kind!r}")
    sensor = kind == "sensor"
    if sensor and (props.sensor_kind not in SENSOR_KINDS or not props.sensor_id):
        raise GeoError(f"sensor {props.poi_id!r}: bad sensor_kind or missing sensor_id")
    lon, lat = geometry.coordinates
    return Poi(props.poi_id, kind, props.name, props.grid_id, lon, lat,
               props.sensor_kind if sensor else None, props.sensor_id if sensor else None)


def unique_by(items: Iterable[Any], key: str, what: str) -> dict[str, Any]:
    """Key ``items`` by attribute ``key``; GeoError on a duplicate."""
    keyed: dict[str, Any] = {}
    for item in items:
        item_id = getattr(item, key)
        if item_id in keyed:
            raise GeoError(f"duplicate {what} {item_id!r}")
        keyed[item_id] = item
    return keyed


def check_references(
    grids: dict[str, Grid], community_ids: Iterable[str], pois: Iterable[Poi]
) -> None:
    """GeoError unless every grid names a known community and every POI a known grid."""
    known = set(community_ids)
    for grid in grids.values():
        if grid.community_id not in known:
            raise GeoError(f"grid {grid.grid_id}: unknown community {grid.community_id!r}")
    for poi in pois:
        if poi.grid_id not in grids:
            raise GeoError(f"POI {poi.poi_id}: unknown grid {poi.grid_id!r}")


def load_street(geo_dir: Path | None = None) -> Street:
    """Load and cross-check the geography in ``geo_dir`` (default: :func:`default_geo_dir`).

    Guarantees: ids are unique, every grid belongs to a known community, every POI to a known
    grid, every sensor has a known sensor_kind; raises GeoError otherwise. Does not re-check
    the geometry (the tests do that for the committed files).
    """
    geo_dir = default_geo_dir() if geo_dir is None else Path(geo_dir)
    street_features = read_features(geo_dir / "street.geojson")
    if len(street_features) != 1:
        raise GeoError(f"{geo_dir / 'street.geojson'}: expected exactly one feature")
    grids: dict[str, Grid] = unique_by(
        (parse_grid(f) for f in read_features(geo_dir / "grids.geojson")), "grid_id", "grid"
    )
    members: dict[str, list[str]] = {}
    for grid in grids.values():
        members.setdefault(grid.community_id, []).append(grid.grid_id)
    communities: dict[str, Community] = unique_by(
        (
            parse_community(f, members.get(str(f["properties"]["community_id"]), ()))
            for f in read_features(geo_dir / "communities.geojson")
        ),
        "community_id",
        "community",
    )
    pois = read_pois(geo_dir / "pois.geojson")
    unique_by(pois, "poi_id", "POI")
    check_references(grids, communities, pois)
    street_props = street_features[0]["properties"]
    return Street(
        street_id=str(street_props["street_id"]),
        name=str(street_props["name"]),
        name_en=str(street_props.get("name_en", "")),
        outline=polygon_ring(street_features[0]),
        grids=grids,
        communities=communities,
        pois=pois,
        sensors=unique_by((p for p in pois if p.kind == "sensor"), "sensor_id", "sensor"),
        _index=GridIndex(grids.values()),
    )


@lru_cache(maxsize=1)
def street() -> Street:
    """Return the street loaded from :func:`default_geo_dir`, loaded once per process.

    After changing ``GRIDWALL_GEO_DIR`` call ``street.cache_clear()``.
    """
    return load_street()
