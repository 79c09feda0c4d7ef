"""Process settings from ``GRIDWALL_*`` environment variables, typed and validated at start-up.

Every field of :class:`Settings` can be set as ``GRIDWALL_<FIELD NAME IN UPPER CASE>``.
:func:`load_settings` converts the strings to the declared types and fails with
:class:`SettingsError` naming the variable and the reason; a process never starts on a
half-understood configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import msgspec

PREFIX = "GRIDWALL_"
REPO_ROOT = Path(__file__).resolve().parent.parent
GEO_LAYERS = ("street", "communities", "grids", "pois")  # <layer>.geojson in a geography dir


KAFKA_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
KAFKA_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


GATEWAY_LIMITS = ("gateway_refusals_per_s", "gateway_refusal_burst", "gateway_body_timeout_s",
                  "gateway_header_timeout_s", "gateway_keep_alive_s",
                  "gateway_max_connections", "gateway_max_header_bytes")

HUB_WALL_LIMITS = ("hub_commands_per_s", "hub_command_burst", "hub_subscribes_per_s",
                   "hub_subscribe_burst", "wall_max_sessions")


LOG_FORMATS = ("text", "json")


class SettingsError(ValueError):
    """A ``GRIDWALL_*`` variable has a value of the wrong type or out of range."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Where the real parts are and how the processes behave.

    Defaults are for one developer machine: everything on loopback.
    """

    data_dir: str = str(REPO_ROOT / ".gridwall")
    config_dir: str = str(REPO_ROOT / "config")
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_controller_port: int = 9093
    kafka_heap_mb: int = 1024
    topic_prefix: str = ""
    topic_partitions: int = 8
    clickhouse_host: str = "127.0.0.1"
    clickhouse_port: int = 9000
    clickhouse_http_port: int = 8123
    clickhouse_database: str = "gridwall"
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    hub_host: str = "127.0.0.1"
    hub_port: int = 8765
    wall_host: str = "127.0.0.1"
    wall_port: int = 5006
    tokens_file: str = ""
    # Dev mode (GRIDWALL_DEV=1): the example tokens and a world-readable tokens file are
    # accepted. Off, the gateway, hub and wall refuse both at start (core.auth).
    dev: bool = False
    # Peer addresses, for processes that dial another one (compose sets service names).
    # Empty: derived from the peer's own host/port settings (one machine).
    hub_url: str = ""  # the wall dials it; default ws://HUB_HOST:HUB_PORT/
    gateway_url: str = ""  # the simulator posts to it; default http://GATEWAY_HOST:PORT
    # ClickHouse credentials and TLS (clickhouse-driver: user, password, secure, verify,
    # ca_certs); passed to every client by core.clients.clickhouse_client.
    clickhouse_user: str = "default"
    clickhouse_password: str = ""
    clickhouse_secure: bool = False
    clickhouse_verify: bool = True
    clickhouse_ca_certs: str = ""
    # Kafka security (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL) and SASL mechanism (PLAIN,
    # SCRAM-SHA-256, SCRAM-SHA-512); passed to every client by core.clients.
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = ""
    kafka_username: str = ""
    kafka_password: str = ""
    kafka_ssl_cafile: str = ""
    # Replication of GridWall's topics and of the workers' changelogs: 1 for one broker;
    # 3 and 2 for three brokers (docs/deploy.md).
    topic_replication_factor: int = 1
    topic_min_insync_replicas: int = 1
    max_body_bytes: int = 1_048_576
    dedup_window_s: int = 600
    # Plausible event times (docs/gateway.md "Validation"): an event time more than
    # event_max_age_s before or event_max_ahead_s after its receive time is refused.
    event_max_age_s: int = 604_800
    event_max_ahead_s: int = 300
    case_retention_days: int = 30
    # The geography every process loads (domain.geo.street()): a directory holding
    # street/communities/grids/pois.geojson, e.g. a city written by `gridwall simulate
    # --make-city`. Empty: the street of config/geo.
    geo_dir: str = ""
    # `gridwall up` restarts a process that exits: after restart_backoff_s, doubling per
    # failure up to restart_backoff_max_s; restart_max_failures exits within
    # restart_window_s make it give up, stop the rest and exit non-zero (docs/infra.md).
    restart_backoff_s: float = 1.0
    restart_backoff_max_s: float = 30.0
    restart_max_failures: int = 5
    restart_window_s: float = 60.0
    # Gateway abuse limits (docs/gateway.md "Abuse limits"): refusals per client (a known
    # token, else the remote address) refill at gateway_refusals_per_s up to
    # gateway_refusal_burst, then writes get 429; the body must arrive within
    # gateway_body_timeout_s, request headers within gateway_header_timeout_s; idle
    # keep-alive connections close after gateway_keep_alive_s; at most
    # gateway_max_connections at once (503 beyond); at most gateway_max_header_bytes.
    gateway_refusals_per_s: float = 2.0
    gateway_refusal_burst: int = 60
    gateway_body_timeout_s: float = 10.0
    gateway_header_timeout_s: float = 10.0
    gateway_keep_alive_s: int = 5
    gateway_max_connections: int = 1000
    gateway_max_header_bytes: int = 16384
    # Per hub connection (docs/hub-protocol.md "Limits"): commands and tunes per second
    # (sustained) and at once (burst); channel snapshots asked for per second and at once.
    hub_commands_per_s: float = 5.0
    hub_command_burst: int = 20
    hub_subscribes_per_s: float = 0.5
    hub_subscribe_burst: int = 12
    # The wall server (docs/wall.md "Sessions"): live page sessions at most (beyond: 503
    # "wall busy"), and whether /wall needs a token that may view.
    wall_max_sessions: int = 50
    wall_viewer_login: bool = False
    # The worker's /metrics and /healthz (docs/infra.md "Worker metrics"): an HTTP listener
    # on worker_metrics_host:worker_metrics_port; 0 turns it off. Several workers on one
    # host need a port each (a taken port leaves that worker without the endpoint).
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = 9464
    # Every process's log lines (core.logs): "text" (time level process logger: message)
    # or "json" (one object a line); gateway_access_log adds uvicorn's line per request.
    log_format: str = "text"
    gateway_access_log: bool = False

    def __post_init__(self) -> None:
        for name in ("topic_partitions", "kafka_heap_mb", "max_body_bytes",
                     "case_retention_days", "topic_replication_factor",
                     "topic_min_insync_replicas", "event_max_age_s", "event_max_ahead_s"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{PREFIX}{name.upper()}: must be positive")
        for name in ("clickhouse_port", "clickhouse_http_port", "gateway_port", "hub_port",
                     "wall_port", "kafka_controller_port"):
            if not 0 < getattr(self, name) < 65536:
                raise SettingsError(f"{PREFIX}{name.upper()}: not a TCP port")
        self._check_security()
        if not 0 <= self.worker_metrics_port < 65536:
            raise SettingsError(f"{PREFIX}WORKER_METRICS_PORT: not a TCP port (0: off)")
        if self.log_format not in LOG_FORMATS:
            raise SettingsError(f"{PREFIX}LOG_FORMAT: one of {', '.join(LOG_FORMATS)}")
        if self.geo_dir:
            missing = [f"{layer}.geojson" for layer in GEO_LAYERS
                       if not (Path(self.geo_dir) / f"{layer}.geojson").is_file()]
            if missing:
                raise SettingsError(f"{PREFIX}GEO_DIR: {self.geo_dir} is not a geography "
                                    f"directory (missing {', '.join(missing)})")
        for name in ("restart_backoff_s", "restart_backoff_max_s", "restart_max_failures",
                     "restart_window_s", *GATEWAY_LIMITS, *HUB_WALL_LIMITS):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{PREFIX}{name.upper()}: must be positive")

    def _check_security(self) -> None:
        """Refuse replication and Kafka security settings that no client could use."""
        if self.topic_min_insync_replicas > self.topic_replication_factor:
            raise SettingsError(f"{PREFIX}TOPIC_MIN_INSYNC_REPLICAS: larger than "
                                f"{PREFIX}TOPIC_REPLICATION_FACTOR")
        if self.kafka_security_protocol not in KAFKA_SECURITY_PROTOCOLS:
            raise SettingsError(f"{PREFIX}KAFKA_SECURITY_PROTOCOL: one of "
                                f"{', '.join(KAFKA_SECURITY_PROTOCOLS)}")
        sasl = self.kafka_security_protocol.startswith("SASL_")
        if sasl and self.kafka_sasl_mechanism not in KAFKA_SASL_MECHANISMS:
            raise SettingsError(f"{PREFIX}KAFKA_SASL_MECHANISM: one of "
                                f"{', '.join(KAFKA_SASL_MECHANISMS)} with SASL")
        if sasl and not self.kafka_username:
            raise SettingsError(f"{PREFIX}KAFKA_USERNAME: required with SASL")

    @property
    def resolved_hub_url(self) -> str:
        """The hub's websocket URL for a process that dials it."""
        return self.hub_url or f"ws://{self.hub_host}:{self.hub_port}/"

    @property
    def resolved_gateway_url(self) -> str:
        """The gateway's base URL for a process that posts to it."""
        return (self.gateway_url or f"http://{self.gateway_host}:{self.gateway_port}").rstrip("/")

    @property
    def kafka_host(self) -> str:
        """Host part of the first bootstrap address."""
        return self.kafka_bootstrap.split(",")[0].rsplit(":", 1)[0]

    @property
    def kafka_port(self) -> int:
        """Port part of the first bootstrap address."""
        return int(self.kafka_bootstrap.split(",")[0].rsplit(":", 1)[1])

    @property
    def data_path(self) -> Path:
        """The data directory as a path (not created here)."""
        return Path(self.data_dir)

    @property
    def resolved_geo_dir(self) -> Path:
        """The geography directory: ``GRIDWALL_GEO_DIR`` or the repository's ``config/geo``."""
        return Path(self.geo_dir) if self.geo_dir else REPO_ROOT / "config" / "geo"

    @property
    def resolved_tokens_file(self) -> Path:
        """The tokens file: ``GRIDWALL_TOKENS_FILE`` or ``<data dir>/tokens.yaml``."""
        return Path(self.tokens_file) if self.tokens_file else self.data_path / "tokens.yaml"


def settings_from(environ: Mapping[str, str]) -> Settings:
    """Build settings from an environment mapping; raise :class:`SettingsError` on bad values.

    Unknown ``GRIDWALL_*`` variables are rejected too, so a typo never passes silently.
    """
    known = {f.upper(): f for f in Settings.__struct_fields__}
    values: dict[str, str] = {}
    for key, raw in environ.items():
        if not key.startswith(PREFIX):
            continue
        name = key[len(PREFIX):]
        if name not in known:
            if name in _FOREIGN_VARIABLES:
                continue
            raise SettingsError(f"{key}: unknown setting")
        values[known[name]] = raw
    try:
        return msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(_name_variable(str(exc))) from None


# Variables with the prefix that are read by other modules, not by Settings.
_FOREIGN_VARIABLES = frozenset({"TEST_KEEP_DATA"})


def _name_variable(message: str) -> str:
    """Rewrite msgspec's ``... - at `$.field``` into ``GRIDWALL_FIELD: ...``."""
    reason, sep, where = message.rpartition(" - at `$.")
    if not sep:
        return message
    return f"{PREFIX}{where.rstrip('`').upper()}: {reason}"


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The settings of this process, read once from ``os.environ``."""
    return settings_from(os.environ)
