"""Helpers shared by the wall's unit tests: building updates and stores."""

from __future__ import annotations

from typing import Any

from domain.schemas import WallUpdate
from wall.app.store import WallStore

NOW = 1_780_000_000_000  # a fixed "now" (epoch ms)
MIN = 60_000


def upd(channel: str, key: str, ts: int = NOW, **data: Any) -> WallUpdate:
    """A WallUpdate with ``data`` given as keyword arguments."""
    return WallUpdate(channel=channel, key=key, ts=ts, data=data)


def case(case_id: str, step: str = "reported", grid_id: str = "G01", *, opened_ms: int = NOW,
         deadline_ms: int = 0, ts: int = NOW, **extra: Any) -> WallUpdate:
    """A ``cases`` update in the shape the streams publish (CaseSnapshot + deadline)."""
    return upd("cases", case_id, ts, case_id=case_id, grid_id=grid_id, step=step,
               category=extra.pop("category", "environment"), priority="normal", tier=1,
               opened_ms=opened_ms, step_entered_ms=extra.pop("step_entered_ms", opened_ms),
               updated_ms=ts, deadline_ms=deadline_ms, **extra)


def alert(alert_id: str, severity: str = "warning", status: str = "open",
          grid_id: str = "G01", *, opened_ms: int = NOW, ts: int = NOW,
          **extra: Any) -> WallUpdate:
    """An ``alerts`` update in the shape of :class:`domain.schemas.Alert`."""
    return upd("alerts", alert_id, ts, alert_id=alert_id, grid_id=grid_id, severity=severity,
               status=status, title=extra.pop("title", f"alert {alert_id}"),
               opened_ms=opened_ms, updated_ms=ts, kind=extra.pop("kind", "sla_breach"),
               category="environment", **extra)


def store_of(*updates: WallUpdate, received_ms: int = NOW) -> WallStore:
    """A store holding ``updates``."""
    store = WallStore()
    store.apply_all(updates, received_ms)
    return store
