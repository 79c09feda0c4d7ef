"""Geocoding: which grid of the street an input belongs to.

Rules (the same for every feed): an explicit ``grid_id`` must be one of the street's grids
and wins; coordinates, when given, must lie inside the street (with no ``grid_id`` they choose
the grid); an input with neither is refused. A sensor reading with neither falls back to the
registered sensor's grid. Every refusal is a 422 :class:`Rejected` naming the field.
"""

from __future__ import annotations

from domain.geo import Street
from domain.schemas import Located, SensorReading
from ingest.gateway.rejects import Rejected, invalid


def field_name(prefix: str, name: str) -> str:
    """``prefix.name``, or ``name`` alone when the input was a single object."""
    return f"{prefix}.{name}" if prefix else name


class Placer:
    """Maps located inputs to grid ids of one street (read-only, safe to share)."""

    def __init__(self, street: Street) -> None:
        self._street = street

    def community_of(self, grid_id: str | None) -> str | None:
        """The community of a grid of the street, or None."""
        grid = self._street.grids.get(grid_id or "")
        return grid.community_id if grid is not None else None

    def grid_of(self, item: Located, prefix: str = "") -> str:
        """The grid of ``item`` by the module's rules; raise 422 naming the field if none."""
        if item.grid_id is not None:
            if not self._street.has_grid(item.grid_id):
                raise Rejected(422, "unknown_grid", f"unknown grid '{item.grid_id}'",
                               field_name(prefix, "grid_id"))
            if item.lon is not None:
                self._inside(item.lon, item.lat, prefix)  # type: ignore[arg-type]
            return item.grid_id
        if item.lon is not None and item.lat is not None:
            return self._inside(item.lon, item.lat, prefix)
        raise invalid(field_name(prefix, "grid_id"), "a place is required: grid_id or lon/lat")

    def grid_of_reading(self, reading: SensorReading, prefix: str = "") -> str:
        """Like :meth:`grid_of`, falling back to the grid the sensor is registered in."""
        if reading.grid_id is None and reading.lon is None:
            sensor = self._street.sensors.get(reading.sensor_id)
            if sensor is None:
                raise invalid(field_name(prefix, "grid_id"),
                              f"sensor '{reading.sensor_id}' is not registered: "
                              "give grid_id or lon/lat")
            return sensor.grid_id
        return self.grid_of(reading, prefix)

    def _inside(self, lon: float, lat: float, prefix: str) -> str:
        grid = self._street.grid_at(lon, lat)
        if grid is None:
            raise Rejected(422, "outside_street", f"({lon}, {lat}) lies outside the street",
                           field_name(prefix, "lon"))
        return grid
