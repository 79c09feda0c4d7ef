"""Changelog recovery per table and partition: what Faust's recovery service knows, as figures.

Faust (faust-streaming) restores a table partition by reading its changelog partition from
the recovered offset to the highwater it fetched when the partition was assigned. It keeps
both in its ``Recovery`` service (``app.tables.recovery``) but publishes neither, so
:func:`faust_recovery` reads them there — the only place this module touches Faust
internals: ``actives_for_table`` (table -> its changelog partitions assigned to this worker
as active), ``active_offsets`` (offset of the last changelog record applied, -1 for none) and
``active_highwaters`` (offset of the partition's last record at assignment, -1 for an empty
partition; Faust's own "-1" convention). Faust keeps the highwater of the assignment until
the next rebalance, so a recovered partition stays recovered while the table's own writes
grow the changelog.

Guarantees of :class:`PartitionRecovery`: ``remaining`` is the number of changelog records
not yet applied, ``progress`` the share of the partition's offsets read ((offset + 1) /
(highwater + 1), 1 when nothing remains); both are None while Faust has not fetched the
offset or highwater yet (unknown, never shown as done).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PartitionRecovery:
    """Recovered offset and highwater of one changelog partition (Faust's -1 convention)."""

    offset: int | None
    highwater: int | None

    @property
    def remaining(self) -> int | None:
        """Changelog records still to apply; None while unknown."""
        if self.offset is None or self.highwater is None:
            return None
        return max(0, self.highwater - self.offset)

    @property
    def progress(self) -> float | None:
        """Share of the partition read, in [0, 1]; None while unknown."""
        remaining = self.remaining
        if remaining is None or self.offset is None or self.highwater is None:
            return None
        if remaining == 0:
            return 1.0
        return min(1.0, max(0.0, (self.offset + 1) / (self.highwater + 1)))

    def as_dict(self) -> dict[str, Any]:
        """Plain figures for the wall."""
        return {"offset": self.offset, "highwater": self.highwater,
                "remaining": self.remaining, "progress": self.progress}


def table_figures(parts: Mapping[int, PartitionRecovery]) -> dict[str, Any]:
    """A table's figures: its slowest partition's progress, the records remaining in all,
    and each partition's figures (None where any partition is still unknown)."""
    progress = [p.progress for p in parts.values()]
    remaining = [p.remaining for p in parts.values()]
    return {"progress": None if not progress or None in progress
            else min(p for p in progress if p is not None),
            "remaining": None if not remaining or None in remaining
            else sum(r for r in remaining if r is not None),
            "partitions": {str(n): p.as_dict() for n, p in sorted(parts.items())}}


def faust_recovery(app: Any) -> dict[str, dict[int, PartitionRecovery]]:
    """Per table name, per changelog partition assigned to this worker: its recovery state.

    Reads Faust's recovery service (see the module docstring); empty when the app has none.
    """
    recovery = getattr(getattr(app, "tables", None), "recovery", None)
    if recovery is None:
        return {}
    offsets, highwaters = recovery.active_offsets, recovery.active_highwaters
    out: dict[str, dict[int, PartitionRecovery]] = {}
    for table, tps in list(recovery.actives_for_table.items()):
        for tp in list(tps):
            out.setdefault(table.name, {})[tp.partition] = PartitionRecovery(
                _offset(offsets.get(tp)), _offset(highwaters.get(tp)))
    return out


def _offset(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
