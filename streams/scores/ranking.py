"""The live ranking: subjects ordered by score, with each one's trend since the last ranking.

Guarantees: ranked subjects (those with at least ``min_cases`` cases) get ranks 1..n by score,
highest first, ties broken by subject id (so the order is total and stable); subjects below
``min_cases`` are listed after them with rank None. ``rank_change`` is previous rank minus
current rank (positive: moved up; None: not ranked before or now); ``score_change`` is the
score difference since the previous call of :meth:`Ranking.rank` for the same kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streams.scores.book import Score


class Ranking:
    """Remembers the last ranking per kind to report trends."""

    def __init__(self, min_cases: int = 3) -> None:
        self.min_cases = min_cases
        self._previous: dict[str, dict[str, tuple[int | None, float]]] = {}

    def rank(self, kind: str, scores: Sequence[Score]) -> list[dict[str, Any]]:
        """The ranking of ``scores`` (all of one kind); see the module docstring."""
        ranked = sorted((s for s in scores if s.cases >= self.min_cases),
                        key=lambda s: (-s.score, s.subject))
        unranked = sorted((s for s in scores if s.cases < self.min_cases),
                          key=lambda s: s.subject)
        before = self._previous.get(kind, {})
        out: list[dict[str, Any]] = []
        now: dict[str, tuple[int | None, float]] = {}
        for position, s in enumerate([*ranked, *unranked], start=1):
            rank = position if s.cases >= self.min_cases else None
            old_rank, old_score = before.get(s.subject, (None, None))
            out.append({"subject": s.subject, "rank": rank, "score": s.score,
                        "cases": s.cases,
                        "rank_change": (old_rank - rank
                                        if old_rank is not None and rank is not None else None),
                        "score_change": (round(s.score - old_score, 2)
                                         if old_score is not None else None),
                        "breakdown": s.breakdown})
            now[s.subject] = (rank, s.score)
        self._previous[kind] = now
        return out
