"""Live grid metrics (pure): windows, per-minute buckets, per-grid/community/street views.

Nothing here touches Kafka or ClickHouse. An agent feeds :class:`~streams.metrics.book.MetricsBook`
one batch of :class:`~streams.metrics.facts.StepFact` at a time (``update``), asks the
:class:`~streams.metrics.coalesce.Coalescer` which keys are due for a wall update (``due``),
and reads views and ClickHouse rows (``snapshot`` / ``minute_rows``).
"""
