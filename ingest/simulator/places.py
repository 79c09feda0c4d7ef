"""Where things happen: grids chosen by population, points drawn inside a grid (pure).

Guarantee of :meth:`Places.point_in`: the returned (lon, lat), rounded to 6 decimals as it
travels on the wire, geocodes back to the same grid with ``Street.grid_at``.
"""

from __future__ import annotations

import itertools
import random

from domain.geo import Grid, Poi, Street, ring_bbox

COORD_DECIMALS = 6
_MAX_TRIES = 64


class Places:
    """Seeded choices of grids and points over one street."""

    def __init__(self, street: Street) -> None:
        self.street = street
        self.grids: list[Grid] = [street.grids[g] for g in street.grid_ids]
        self._cum_population = list(itertools.accumulate(g.population for g in self.grids))
        self.pois_by_kind: dict[str, list[Poi]] = {}
        for poi in street.pois:
            self.pois_by_kind.setdefault(poi.kind, []).append(poi)
        self._compounds_by_grid: dict[str, list[Poi]] = {}
        for poi in self.pois_by_kind.get("compound", []):
            self._compounds_by_grid.setdefault(poi.grid_id, []).append(poi)

    def grid_by_population(self, rng: random.Random) -> Grid:
        """A grid with probability proportional to its population."""
        return rng.choices(self.grids, cum_weights=self._cum_population)[0]

    def any_grid(self, rng: random.Random) -> Grid:
        """A grid, each equally likely."""
        return rng.choice(self.grids)

    def poi(self, rng: random.Random, kind: str) -> Poi:
        """A point of interest of ``kind`` (compound, enterprise, party_org, sensor)."""
        return rng.choice(self.pois_by_kind[kind])

    def compound_in(self, rng: random.Random, grid_id: str) -> Poi | None:
        """A residential compound of the grid, or None if it has none."""
        options = self._compounds_by_grid.get(grid_id)
        return rng.choice(options) if options else None

    def point_in(self, rng: random.Random, grid: Grid) -> tuple[float, float]:
        """A point inside ``grid`` that geocodes back to it (see the module docstring)."""
        min_lon, min_lat, max_lon, max_lat = ring_bbox(grid.polygon)
        for _ in range(_MAX_TRIES):
            lon = round(rng.uniform(min_lon, max_lon), COORD_DECIMALS)
            lat = round(rng.uniform(min_lat, max_lat), COORD_DECIMALS)
            if self.street.grid_at(lon, lat) == grid.grid_id:
                return lon, lat
        lon, lat = (round(c, COORD_DECIMALS) for c in grid.centroid)
        if self.street.grid_at(lon, lat) != grid.grid_id:  # pragma: no cover - odd shapes only
            raise ValueError(f"no point found inside grid {grid.grid_id}")
        return lon, lat
