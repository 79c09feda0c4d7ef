"""Rankings: subjects ordered by score, with each one's trend against the previous period.

Guarantees: ranked subjects (those with at least ``min_cases`` cases) get ranks 1..n by score,
highest first, ties broken by subject id (so the order is total and stable); subjects below
``min_cases`` are listed after them with rank None. ``rank_change`` is the previous period's
rank minus the current rank (positive: moved up; None: not ranked in one of them);
``score_change`` is the score difference from the previous period (None: no score then).
Pure: the same scores give the same ranking on any worker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from streams.scores.book import Score

Standing = tuple[int | None, float]  # rank (None: unranked), score


def rank(scores: Sequence[Score], min_cases: int,
         previous: Mapping[str, Standing] | None = None) -> list[dict[str, Any]]:
    """The ranking of ``scores`` (all of one kind); see the module docstring."""
    ranked = sorted((s for s in scores if s.cases >= min_cases),
                    key=lambda s: (-s.score, s.subject))
    unranked = sorted((s for s in scores if s.cases < min_cases), key=lambda s: s.subject)
    before = previous or {}
    out: list[dict[str, Any]] = []
    for position, s in enumerate([*ranked, *unranked], start=1):
        place = position if s.cases >= min_cases else None
        old_rank, old_score = before.get(s.subject, (None, None))
        out.append({"subject": s.subject, "rank": place, "score": s.score, "cases": s.cases,
                    "rank_change": (old_rank - place
                                    if old_rank is not None and place is not None else None),
                    "score_change": (round(s.score - old_score, 2)
                                     if old_score is not None else None),
                    "breakdown": s.breakdown})
    return out


def standings(ranking: Sequence[Mapping[str, Any]]) -> dict[str, Standing]:
    """Each subject's rank and score in ``ranking`` (to compare the next period with)."""
    return {e["subject"]: (e["rank"], e["score"]) for e in ranking}
