"""Tuning knobs of the hub, with defaults sized for one street office's wall."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HubConfig:
    """How the hub listens, buffers and replays.

    ``host``/``port`` None mean the settings' ``hub_host``/``hub_port``; port 0 picks a
    free port (see :attr:`wall.hub.server.Hub.port`). ``poll_max_records`` must be smaller
    than ``client_queue``: one Kafka batch alone must never overflow a client that keeps up.
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
    write_limit: int = 65_536  # socket write buffer high-water mark per client (bytes)
    compression: bool = False  # per-message deflate costs CPU per client per frame

    def __post_init__(self) -> None:
        if self.poll_max_records >= self.client_queue:
            raise ValueError("poll_max_records must be smaller than client_queue")
        for name in ("client_queue", "reply_limit", "frame_items", "snapshot_frame_items",
                     "max_keys_per_channel", "poll_max_records", "max_message_bytes",
                     "write_limit"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        if self.replay_per_partition < 0:
            raise ValueError("replay_per_partition must not be negative")
