"""Grid and worker scores from case outcomes, with an explainable breakdown, and the ranking.

:class:`~streams.scores.book.ScoreBook` counts outcomes from step facts (``update``) and
scores every subject with the weights of :class:`~domain.scoring_policy.ScoringPolicy`;
:class:`~streams.scores.ranking.Ranking` orders them and reports each one's trend.
"""
