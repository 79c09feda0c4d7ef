"""The stream jobs' own topics (beside the shared catalog in :mod:`infra.topics`).

``alert-ops`` carries every operation on alerts keyed by grid (signals, routed commands,
timer ticks), so one grid's alerts change in one partition in order; ``rows`` carries
ClickHouse rows from the agents to the sink; ``grid-partials`` carries each grid owner's
latest per-grid figures to the one street-wide stage (two-stage aggregation). They are
created explicitly (the broker does not auto-create topics); Faust creates its own
changelog topics.
"""

from __future__ import annotations

from gridwall.settings import Settings
from infra.topics import CATALOG, TopicSpec, ensure_topics

ALERT_OPS = TopicSpec("gridwall.streams.alert-ops",
                      "alert operations (signals, commands, ticks) keyed by grid")
ROWS = TopicSpec("gridwall.streams.rows", "ClickHouse rows from the agents to the sink")
# One partition: the street stage has exactly one owner among the workers; compacted, so
# the latest partial of every grid is there to rebuild from when that owner changes.
GRID_PARTIALS = TopicSpec("gridwall.streams.grid-partials",
                          "latest per-grid partial figures, keyed by source/grid, for the "
                          "street-wide stage", partitions=1,
                          configs={"cleanup.policy": "compact",
                                   "min.cleanable.dirty.ratio": "0.01",
                                   "segment.ms": "60000"})
STREAM_TOPICS: tuple[TopicSpec, ...] = (ALERT_OPS, ROWS, GRID_PARTIALS)


def ensure_stream_topics(settings: Settings) -> list[str]:
    """Create the catalog's and the stream jobs' missing topics; return the names created."""
    return ensure_topics(settings, CATALOG + STREAM_TOPICS)
