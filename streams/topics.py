"""The stream jobs' own topics (beside the shared catalog in :mod:`infra.topics`).

``alert-ops`` carries every operation on alerts keyed by grid (signals, routed commands,
timer ticks), so one grid's alerts change in one partition in order; ``rows`` carries
ClickHouse rows from the agents to the sink. Both are created explicitly (the broker does
not auto-create topics); Faust creates its own changelog topics.
"""

from __future__ import annotations

from gridwall.settings import Settings
from infra.topics import CATALOG, TopicSpec, ensure_topics

ALERT_OPS = TopicSpec("gridwall.streams.alert-ops",
                      "alert operations (signals, commands, ticks) keyed by grid")
ROWS = TopicSpec("gridwall.streams.rows", "ClickHouse rows from the agents to the sink")
STREAM_TOPICS: tuple[TopicSpec, ...] = (ALERT_OPS, ROWS)


def ensure_stream_topics(settings: Settings) -> list[str]:
    """Create the catalog's and the stream jobs' missing topics; return the names created."""
    return ensure_topics(settings, CATALOG + STREAM_TOPICS)
