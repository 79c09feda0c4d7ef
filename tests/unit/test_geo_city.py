"""The generated city (domain.geo_build.build_city), its setting and its loading (pure).

Small sizes only (200 grids / 2,000 sensors, and an odd-shaped 35-grid city): the full
10,000-grid city is `gridwall bench city`'s job, not the test suite's.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import SettingsError, settings, settings_from
from domain import geo_build
from domain.geo import Street, load_street, ring_edges, street
from domain.geo_build import CitySpec, build_city, feature_collection_text
from ingest.simulator.engine import SimConfig, Simulation

try:
    import shapely
    from shapely.geometry import Polygon
except ImportError:  # pragma: no cover - shapely is a project dependency
    shapely = None

SMALL = CitySpec(communities=20, grids_per_community=10, sensors_per_grid=10, seed=3)
ODD = CitySpec(communities=7, grids_per_community=5, sensors_per_grid=3, seed=5)


def write_city(spec: CitySpec, out: Path) -> Path:
    geo_build.write(out, build_city(spec))
    return out


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_city(SMALL, tmp_path_factory.mktemp("city-small"))


@pytest.fixture(scope="module")
def small(small_dir: Path) -> Street:
    return load_street(small_dir)


@pytest.fixture(scope="module")
def odd(tmp_path_factory: pytest.TempPathFactory) -> Street:
    return load_street(write_city(ODD, tmp_path_factory.mktemp("city-odd")))


@pytest.fixture
def geo_setting(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Let a test set GRIDWALL_GEO_DIR; leaves the process's settings and street as before."""
    settings.cache_clear()
    street.cache_clear()
    yield
    monkeypatch.delenv("GRIDWALL_GEO_DIR", raising=False)
    settings.cache_clear()
    street.cache_clear()


def test_deterministic_by_seed() -> None:
    layers = build_city(SMALL)
    again = build_city(SMALL)
    other = build_city(CitySpec(communities=20, grids_per_community=10, sensors_per_grid=10,
                                seed=4))
    for stem, features in layers.items():
        assert feature_collection_text(features) == feature_collection_text(again[stem])
    assert feature_collection_text(layers["pois"]) != feature_collection_text(other["pois"])


@pytest.mark.parametrize("spec", [SMALL, ODD], ids=["small", "odd"])
def test_counts_and_unique_ids(spec: CitySpec, small: Street, odd: Street) -> None:
    city = small if spec is SMALL else odd
    assert len(city.grids) == spec.grids and len(city.communities) == spec.communities
    assert len(city.sensors) == spec.sensors
    assert len({p.poi_id for p in city.pois}) == len(city.pois)
    assert len({p.sensor_id for p in city.pois if p.kind == "sensor"}) == spec.sensors
    kinds = Counter(p.kind for p in city.pois)
    assert spec.grids <= kinds["compound"] <= 2 * spec.grids
    assert kinds["enterprise"] <= 2 * spec.grids and kinds["party_org"] <= spec.grids
    assert all(len(g) <= 16 for g in city.grids)  # domain.schemas.GridId


@pytest.mark.parametrize("name", ["small", "odd"])
def test_every_poi_lies_inside_its_grid(name: str, small: Street, odd: Street) -> None:
    city = small if name == "small" else odd
    per_grid = Counter(p.grid_id for p in city.pois if p.kind == "sensor")
    spec = SMALL if name == "small" else ODD
    assert set(per_grid.values()) == {spec.sensors_per_grid} and len(per_grid) == spec.grids
    for poi in city.pois:
        assert city.grid_at(poi.lon, poi.lat) == poi.grid_id, poi.poi_id


@pytest.mark.parametrize("name", ["small", "odd"])
def test_community_structure(name: str, small: Street, odd: Street) -> None:
    city, spec = (small, SMALL) if name == "small" else (odd, ODD)
    assert sorted(city.communities) == [spec.community_id(i) for i in range(spec.communities)]
    for community in city.communities.values():
        assert len(community.grid_ids) == spec.grids_per_community
        assert all(g.startswith(f"{community.community_id}-") for g in community.grid_ids)
        assert all(city.community_of(g) == community.community_id for g in community.grid_ids)
        grids = [city.grids[g] for g in community.grid_ids]
        assert community.population == sum(g.population for g in grids)
        assert community.households == sum(g.households for g in grids)
    assert len({c.name for c in city.communities.values()}) == spec.communities
    assert len({g.name for g in city.grids.values()}) == spec.grids


@pytest.mark.parametrize("name", ["small", "odd"])
def test_grids_share_edges_exactly_and_tile_the_city(name: str, small: Street, odd: Street
                                                     ) -> None:
    city = small if name == "small" else odd
    grid_edges = Counter(e for g in city.grids.values() for e in ring_edges(g.polygon))
    outline = set(ring_edges(city.outline))
    for (a, b), count in grid_edges.items():
        assert count == 1
        assert ((b, a) in grid_edges) != ((a, b) in outline), (a, b)
    if shapely is None:  # pragma: no cover
        return
    whole = Polygon(city.outline)
    assert whole.is_valid
    union = shapely.unary_union([Polygon(g.polygon) for g in city.grids.values()])
    assert union.symmetric_difference(whole).area <= 1e-9 * whole.area
    for community in city.communities.values():
        area = Polygon(community.polygon)
        members = shapely.unary_union([Polygon(city.grids[g].polygon)
                                       for g in community.grid_ids])
        assert members.symmetric_difference(area).area <= 1e-9 * area.area


def test_random_points_resolve_to_a_containing_grid(small: Street) -> None:
    if shapely is None:  # pragma: no cover
        pytest.skip("shapely not installed")
    shapes = {g.grid_id: Polygon(g.polygon) for g in small.grids.values()}
    whole = Polygon(small.outline)
    min_lon, min_lat, max_lon, max_lat = small.bbox
    rng = random.Random(2)
    for _ in range(3_000):
        lon, lat = rng.uniform(min_lon, max_lon), rng.uniform(min_lat, max_lat)
        found = small.grid_at(lon, lat)
        spot = shapely.Point(lon, lat)
        if whole.boundary.distance(spot) > 1e-9:
            assert (found is not None) == whole.contains(spot), (lon, lat)
        if found is not None:
            assert shapes[found].distance(spot) < 1e-9, (lon, lat, found)


def test_cell_size_and_centre(small: Street) -> None:
    min_lon, min_lat, max_lon, max_lat = small.bbox
    width_km = (max_lon - min_lon) * 111.32 * math.cos(math.radians(geo_build.CENTRE_LAT))
    # 20 communities of 4 x 3 cells in rows of 5 blocks: 20 cells of ~250 m across.
    assert 4.0 < width_km < 6.0
    assert abs((min_lon + max_lon) / 2 - geo_build.CENTRE_LON) < 0.01


@pytest.mark.parametrize("fields", [
    {"communities": 0}, {"grids_per_community": 0}, {"sensors_per_grid": 0},
    {"communities": 10**7, "grids_per_community": 10**7},  # grid ids over 16 characters
])
def test_spec_rejects_impossible_cities(fields: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        CitySpec(**fields)


def test_full_size_spec_is_the_issue_s_city() -> None:
    spec = CitySpec()
    assert (spec.grids, spec.sensors) == (10_000, 100_000)
    assert spec.grid_id(99, 100) == "CT100-100"


# --- the setting and loading through domain.geo ---------------------------------------------


def test_geo_dir_setting_is_validated(tmp_path: Path, small_dir: Path) -> None:
    assert settings_from({}).geo_dir == ""
    assert settings_from({}).resolved_geo_dir == geo_build.default_out_dir()
    assert settings_from({"GRIDWALL_GEO_DIR": str(small_dir)}).resolved_geo_dir == small_dir
    with pytest.raises(SettingsError, match="GRIDWALL_GEO_DIR: .*missing street.geojson"):
        settings_from({"GRIDWALL_GEO_DIR": str(tmp_path / "nowhere")})
    (tmp_path / "street.geojson").write_text("{}")
    with pytest.raises(SettingsError, match="missing communities.geojson, grids.geojson, "
                                            "pois.geojson"):
        settings_from({"GRIDWALL_GEO_DIR": str(tmp_path)})


def test_street_loads_from_the_setting(monkeypatch: pytest.MonkeyPatch, small_dir: Path,
                                       geo_setting: None) -> None:
    monkeypatch.setenv("GRIDWALL_GEO_DIR", str(small_dir))
    city = street()
    assert city is street()
    assert city.street_id == geo_build.CITY_ID and len(city.grids) == SMALL.grids
    grid = city.grids[city.grid_ids[0]]
    assert city.grid_at(*grid.centroid) == grid.grid_id
    assert city.has_grid(grid.grid_id) and city.community_of(grid.grid_id) == grid.community_id
    monkeypatch.delenv("GRIDWALL_GEO_DIR")
    settings.cache_clear()
    street.cache_clear()
    assert len(street().grids) == 92  # the default street is untouched


def test_simulator_runs_on_a_city(small: Street) -> None:
    sim = Simulation(SimConfig(seed=2, rate=2_000.0), 1_767_225_600_000, street_=small)
    events = [next(sim) for _ in range(5_000)]
    readings = [e for e in events if type(e).__name__ == "SensorReading"]
    assert len(readings) > 4_000
    assert all(small.sensors[r.sensor_id].grid_id == r.grid_id for r in readings)
    assert all(e.grid_id in small.grids for e in events)


def test_make_city_command_writes_a_loadable_city(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from gridwall.cli import main

    out = tmp_path / "geo"
    code = main(["simulate", "--make-city", "--communities", "3", "--grids-per-community", "4",
                 "--sensors-per-grid", "2", "--geo-seed", "9", "--out", str(out)])
    assert code == 0
    assert capsys.readouterr().out.strip() == f"GRIDWALL_GEO_DIR={out}"
    city = load_street(out)
    assert (len(city.grids), len(city.sensors)) == (12, 24)
    assert settings_from({"GRIDWALL_GEO_DIR": str(out)}).resolved_geo_dir == out


# --- pushing in chunks (`gridwall simulate --push-every`) ------------------------------------


def test_runner_pushes_readings_every_s_seconds_and_the_rest_at_once() -> None:
    from domain.schemas import SensorReading
    from ingest.simulator.runner import run
    from tests.unit.test_simulator_sinks import FakeClock, ListSink, _events

    clock = FakeClock()
    sink = ListSink(clock)
    events = _events(2000)
    result = run(iter(events), sink, 100.0, duration_s=10.0, push_every_s=1.0, clock=clock,
                 sleep=clock.sleep, report=lambda _: None)
    assert 990 <= result.events <= 1001
    sent = [e for chunk in sink.chunks for e in chunk]
    assert sorted(sent, key=events.index) == events[:result.events]  # each once, none lost
    pushes = [c for c in sink.chunks if all(isinstance(e, SensorReading) for e in c)
              and len(c) > 20]
    others = [c for c in sink.chunks if not any(isinstance(e, SensorReading) for e in c)]
    assert 9 <= len(pushes) <= 11 and all(len(c) >= 60 for c in pushes)
    assert others and sum(map(len, pushes)) + sum(map(len, others)) == result.events
    for chunk in others:  # case events and records go at once, not held until a push
        assert all(abs(e.ts - chunk[0].ts) <= 50 for e in chunk)
