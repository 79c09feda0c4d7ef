"""Shared pieces of the gateway tests (no tests here): tokens, writers, sample payloads."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from core.auth import TokenBook
from core.kafka_records import KafkaUnavailable, OutRecord
from domain.geo import street

FEED = "feed-all-token-0001"
SENSOR_ONLY = "feed-sensor-token-0002"
VIEWER = "viewer-token-00000003"
OFFICER = "officer-token-0000004"
ADMIN = "admin-token-000000005"
TOKENS: dict[str, dict[str, Any]] = {
    FEED: {"name": "all-feeds", "role": "feed", "sources": ["*"]},
    SENSOR_ONLY: {"name": "sensor-hub", "role": "feed", "sources": ["sensor"]},
    VIEWER: {"name": "screen", "role": "viewer"},
    OFFICER: {"name": "duty", "role": "officer"},
    ADMIN: {"name": "admin", "role": "admin"},
}


def token_book() -> TokenBook:
    """The book of :data:`TOKENS`."""
    return TokenBook.from_mapping(TOKENS)


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


def inside(index: int = 0) -> tuple[float, float, str]:
    """(lon, lat, grid_id) of the centroid of the ``index``-th grid (inside the street)."""
    geo = street()
    grid = geo.grids[geo.grid_ids[index % len(geo.grids)]]
    lon, lat = grid.centroid
    assert geo.grid_at(lon, lat) == grid.grid_id
    return lon, lat, grid.grid_id


def report(event_id: str, index: int = 0, **overrides: Any) -> dict[str, Any]:
    """A valid report event at the centroid of grid ``index``."""
    lon, lat, _ = inside(index)
    event = {"event_id": event_id, "case_id": f"case-{event_id}", "action": "report",
             "ts": int(time.time() * 1000), "source": "resident_app", "category": "noise",
             "lon": lon, "lat": lat, "description": "loud music"}
    event.update(overrides)
    return event


def reading(sensor_index: int = 0, **overrides: Any) -> dict[str, Any]:
    """A valid reading of the ``sensor_index``-th registered sensor (placed by registry)."""
    sensor = list(street().sensors.values())[sensor_index]
    value = {"sensor_id": sensor.sensor_id, "kind": sensor.sensor_kind, "value": 1.5,
             "ts": int(time.time() * 1000)}
    value.update(overrides)
    return value


def department_record(record_id: str, index: int = 0, **overrides: Any) -> dict[str, Any]:
    """A valid department record in grid ``index``."""
    value = {"record_id": record_id, "record_type": "incident", "ts": int(time.time() * 1000),
             "grid_id": inside(index)[2], "attributes": {"kind": "theft"}}
    value.update(overrides)
    return value


class MemoryWriter:
    """A writer that keeps what it was sent; ``fail`` makes every send raise (thread-safe)."""

    def __init__(self) -> None:
        self.records: list[OutRecord] = []
        self.rounds = 0
        self.fail = False
        self.closed = False
        self._lock = threading.Lock()

    def send_all(self, records: Sequence[OutRecord]) -> None:
        """Keep ``records`` or raise KafkaUnavailable while ``fail`` is set."""
        with self._lock:
            if self.fail:
                raise KafkaUnavailable("test: Kafka is down")
            self.rounds += 1
            self.records.extend(records)

    def close(self) -> None:
        """Remember the close."""
        self.closed = True

    def on(self, base: str) -> list[OutRecord]:
        """Records sent to the topic with base name ``base``."""
        return [r for r in self.records if r.topic.base == base]


class FlakyWriter:
    """Wraps a writer; its first ``failures`` sends raise KafkaUnavailable without sending."""

    def __init__(self, inner: Any, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self._lock = threading.Lock()

    def send_all(self, records: Sequence[OutRecord]) -> None:
        """Fail while failures remain, then delegate."""
        with self._lock:
            if self.failures > 0:
                self.failures -= 1
                raise KafkaUnavailable("test: broker unreachable")
        self.inner.send_all(records)

    def close(self) -> None:
        """Close the wrapped writer."""
        self.inner.close()
