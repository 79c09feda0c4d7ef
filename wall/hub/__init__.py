"""The websocket hub: one Kafka consumer of the wall topics, many authenticated clients.

Modules, one job each: :mod:`~wall.hub.protocol` (messages), :mod:`~wall.hub.state`
(latest item per key), :mod:`~wall.hub.outbox` (bounded per-client queue, overflow →
resnapshot), :mod:`~wall.hub.fanout` (state → clients), :mod:`~wall.hub.feed` (Kafka
consumer), :mod:`~wall.hub.commands` (validate and stamp), :mod:`~wall.hub.intake`
(produce commands), :mod:`~wall.hub.session` (one connection), :mod:`~wall.hub.server`
(the :class:`Hub`). The message format is in ``docs/hub-protocol.md``.
"""

from wall.hub.config import HubConfig
from wall.hub.server import Hub

__all__ = ["Hub", "HubConfig"]
