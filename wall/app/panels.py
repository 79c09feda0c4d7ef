"""The cards of the ``/wall`` side columns, one :class:`PanelSpec` each (pure, no Panel).

:data:`PANELS` lists every card in display order with its column, the wall channels it reads
and the function that draws its body from a :class:`PanelInput`; ``wall.app.wall_page`` only
lays the columns out. A card's title is the label ``panel.<name>`` of
:mod:`wall.app.i18n`, its test id its name. A new panel is one entry here (its body may call
a new pure view function of this module) plus its label (``docs/extending.md``).

Guarantees: a body never raises on a store missing any channel or field (the view functions
read defensively, see ``wall/app/fields.py``) and returns HTML with every text escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from wall.app import boards, kpis, mechanism, mechanism_html, render
from wall.app.i18n import LANGS, Lang, tr
from wall.app.store import WallStore

Column = Literal["left", "right"]


@dataclass
class PanelInput:
    """What a panel body may use: the store, the time, the language, the street's names."""

    store: WallStore
    now: int
    lang: Lang
    names: Mapping[str, str] = field(default_factory=dict)  # grid id -> name
    community_of: Mapping[str, str] = field(default_factory=dict)  # grid id -> community
    community_names: Mapping[str, str] = field(default_factory=dict)
    # cases closed per grid and tier, (today, this week): wall.app.levels
    levels: tuple[Mapping[str, Mapping[int, int]], Mapping[str, Mapping[int, int]]] = ({}, {})

    @cached_property
    def counts(self) -> kpis.CaseCounts:
        """The case counts the KPI tiles, funnel and categories share (computed once)."""
        return kpis.count_cases(self.store.data("cases"), self.now)


@dataclass(frozen=True)
class PanelSpec:
    """A card: name (label ``panel.<name>``, test id), column, channels read, body."""

    name: str
    column: Column
    reads: tuple[str, ...]
    body: Callable[[PanelInput], str]

    @property
    def label_key(self) -> str:
        """The i18n key of the card's title."""
        return f"panel.{self.name}"

    def html(self, given: PanelInput) -> str:
        """The whole card."""
        return render.card(self.label_key, self.body(given), given.lang, self.name)


def _funnel(p: PanelInput) -> str:
    return render.bars(kpis.funnel(p.counts), p.lang)


def _categories(p: PanelInput) -> str:
    return render.bars(kpis.categories(p.counts, 4), p.lang)


def _ranking(p: PanelInput) -> str:
    return render.ranking(boards.ranking(p.store, 4), p.names, p.lang)


def _ticker(p: PanelInput) -> str:
    return render.ticker(boards.ticker(p.store, 3), p.names, p.now, p.lang)


def _cases(p: PanelInput) -> list[tuple[str, Mapping[str, Any]]]:
    return [(k, i.data) for k, i in p.store.channel("cases").items()]


def _countdown(p: PanelInput) -> str:
    return mechanism_html.countdowns(mechanism.sla_rows(_cases(p), p.now, 4), p.names, p.lang)


def _tiers(p: PanelInput) -> str:
    return mechanism_html.tiers(mechanism.open_by_tier(p.store.data("cases")), p.lang)


def _resolution(p: PanelInput) -> str:
    today, week = (mechanism.resolution_shares(c, p.community_of) for c in p.levels)
    return mechanism_html.resolution(today, week, p.community_names, p.lang)


def _escalations(p: PanelInput) -> str:
    cases = {k: i.data for k, i in p.store.channel("cases").items()}
    rows = mechanism.recent_escalations(p.store.tier_rises, cases, p.now, limit=3)
    return mechanism_html.escalations(rows, p.names, p.now, p.lang)


def _emergencies(p: PanelInput) -> str:
    return mechanism_html.emergencies(mechanism.pinned_emergencies(_cases(p)), p.names,
                                      p.now, p.lang)


def _sparklines(p: PanelInput) -> str:
    spark = boards.sparklines(p.store, p.community_of, p.now)
    return mechanism_html.three_columns(render.sparklines(spark, p.community_names, p.lang))


def _live(p: PanelInput) -> str:
    return render.live_feed(boards.live_feed(p.store, p.now, limit=2), p.names, p.lang)


PANELS: tuple[PanelSpec, ...] = (
    PanelSpec("tiers", "left", ("cases",), _tiers),
    PanelSpec("funnel", "left", ("cases",), _funnel),
    PanelSpec("resolution", "left", ("cases",), _resolution),
    PanelSpec("categories", "left", ("cases",), _categories),
    PanelSpec("emergencies", "right", ("cases",), _emergencies),
    PanelSpec("ranking", "right", ("ranking",), _ranking),
    PanelSpec("countdown", "right", ("cases",), _countdown),
    PanelSpec("escalations", "right", ("cases",), _escalations),
    PanelSpec("ticker", "right", ("alerts",), _ticker),
    PanelSpec("sparklines", "right", ("cases",), _sparklines),
    PanelSpec("live", "right", ("cases", "alerts"), _live),
)


def column_html(given: PanelInput, column: Column) -> str:
    """Every card of ``column``, in :data:`PANELS` order."""
    return "".join(spec.html(given) for spec in PANELS if spec.column == column)


def untitled_panels() -> list[str]:
    """Names of the panels whose title has no label in some language (should be none)."""
    return [spec.name for spec in PANELS
            if any(tr(spec.label_key, lang) == spec.label_key for lang in LANGS)]
