"""Tuning knobs of the hub, with defaults sized for one street office's wall."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.settings import Settings
from wall.hub.protocol import CHANNELS

# HubConfig field -> the Settings field it defaults to in HubConfig.from_settings.
FROM_SETTINGS = {"commands_per_s": "hub_commands_per_s", "command_burst": "hub_command_burst",
                 "subscribes_per_s": "hub_subscribes_per_s",
                 "subscribe_burst": "hub_subscribe_burst"}


@dataclass(frozen=True)
class HubConfig:
    """How the hub listens, buffers and replays.

    ``host``/``port`` None mean the settings' ``hub_host``/``hub_port``; port 0 picks a
    free port (see :attr:`wall.hub.server.Hub.port`). ``poll_max_records`` must be smaller
    than ``client_queue``: one Kafka batch alone must never overflow a client that keeps up.

    Limits per connection (:mod:`wall.hub.limits`): ``commands_per_s``/``command_burst``
    for ``command`` and ``tune`` messages; ``subscribes_per_s``/``subscribe_burst`` in
    channel snapshots; ``resubscribe_window_s``: a subscribe to a channel already held
    whose snapshot was sent less than this ago sends no snapshot again. A frame larger than
    ``max_frame_bytes`` gets an ``error`` (the connection stays); one larger than
    ``max_message_bytes`` closes it (1009).
    """

    host: str | None = None
    port: int | None = None
    client_queue: int = 4096  # delta items waiting per client before it is resynced
    reply_limit: int = 64  # unread replies per client before it is disconnected (1008)
    frame_items: int = 256  # items per deltas frame
    snapshot_frame_items: int = 500  # items per snapshot frame
    max_keys_per_channel: int = 50_000
    replay_per_partition: int = 50_000
    poll_max_records: int = 1000
    fetch_max_wait_ms: int = 50
    ping_interval_s: float | None = 20.0
    ping_timeout_s: float | None = 20.0
    close_timeout_s: float = 5.0
    auth_timeout_s: float = 10.0
    max_message_bytes: int = 65_536  # largest client frame; larger closes with 1009
    max_frame_bytes: int = 32_768  # largest client frame decoded; larger gets an error
    commands_per_s: float = 5.0
    command_burst: int = 20
    subscribes_per_s: float = 0.5
    subscribe_burst: int = 12
    resubscribe_window_s: float = 30.0
    write_limit: int = 65_536  # socket write buffer high-water mark per client (bytes)
    compression: bool = False  # per-message deflate costs CPU per client per frame

    def __post_init__(self) -> None:
        if self.poll_max_records >= self.client_queue:
            raise ValueError("poll_max_records must be smaller than client_queue")
        for name in ("client_queue", "reply_limit", "frame_items", "snapshot_frame_items",
                     "max_keys_per_channel", "poll_max_records", "max_message_bytes",
                     "write_limit", "max_frame_bytes", "command_burst", "subscribe_burst"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        if self.commands_per_s <= 0 or self.subscribes_per_s <= 0:
            raise ValueError("commands_per_s and subscribes_per_s must be positive")
        if self.subscribe_burst < len(CHANNELS):
            raise ValueError(f"subscribe_burst must be at least {len(CHANNELS)} (one "
                             "subscribe to every channel)")
        if self.max_frame_bytes > self.max_message_bytes:
            raise ValueError("max_frame_bytes must not exceed max_message_bytes")
        if self.replay_per_partition < 0:
            raise ValueError("replay_per_partition must not be negative")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> HubConfig:
        """The defaults, with the limits of ``settings`` (``GRIDWALL_HUB_*``) and then
        ``overrides`` (e.g. the command line's) applied; None overrides are ignored."""
        values = {name: getattr(settings, key) for name, key in FROM_SETTINGS.items()}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
