"""Routing: which units may receive a case, ranked, each with its reasons.

Rules (``config/routing.yaml``, :func:`load_rules`) map category × community × tier to
candidate units. :func:`propose` is pure: given a case (its category, grid and tier), each
unit's open load and on-time record (passed in, for example aggregated from the ``cases``
table), it returns every unit a matching rule offers, best first:

1. the most specific matching rule first (a rule naming the category, the community and the
   tier beats one naming only the category, which beats ``"*"``);
2. then the higher score: the unit's on-time share minus its load penalty
   ``open / (open + load_half)`` (a unit without a record counts as half on time);
3. then the unit id (ties are stable).

A unit offered by several rules appears once, with its most specific rule. Guarantees:
:func:`propose` never raises for a known case shape and never returns a unit twice; a
malformed rules file is a :class:`RoutingError` naming the rule and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from domain.case_machine import community_of
from domain.config_file import read_yaml
from domain.vocab import CATEGORIES, MAX_TIER

FILE = "routing.yaml"
UNKNOWN_ON_TIME = 0.5  # the on-time share assumed for a unit without a record


class RoutingError(ValueError):
    """The routing rules are malformed; the message names the rule and field."""


class Routable(Protocol):
    """What routing reads of a case."""

    @property
    def category(self) -> str: ...

    @property
    def grid_id(self) -> str: ...

    @property
    def tier(self) -> int: ...


@dataclass(frozen=True)
class OnTime:
    """A unit's record: ``on_time`` of ``total`` finished steps met their SLA."""

    on_time: int
    total: int

    @property
    def share(self) -> float:
        """The on-time share (:data:`UNKNOWN_ON_TIME` without a record)."""
        return self.on_time / self.total if self.total > 0 else UNKNOWN_ON_TIME


@dataclass(frozen=True)
class Rule:
    """Units offered for a category (``"*"``: any), in some communities and tiers (empty:
    any)."""

    category: str
    units: tuple[str, ...]
    communities: frozenset[str] = frozenset()
    tiers: frozenset[int] = frozenset()

    def matches(self, case: Routable, community: str) -> bool:
        """The rule applies to ``case`` (in ``community``)."""
        return ((self.category in ("*", case.category))
                and (not self.communities or community in self.communities)
                and (not self.tiers or case.tier in self.tiers))

    @property
    def specificity(self) -> int:
        """How many of category, community and tier the rule names."""
        return (int(self.category != "*") + int(bool(self.communities))
                + int(bool(self.tiers)))

    def describe(self) -> str:
        """The rule in words."""
        where = ", ".join(sorted(self.communities)) if self.communities else "any community"
        tiers = ", ".join(str(t) for t in sorted(self.tiers)) if self.tiers else "any"
        category = "any category" if self.category == "*" else self.category
        return f"rule: {category} in {where} at tier {tiers}"


@dataclass(frozen=True)
class Rules:
    """The routing rules and the load weight."""

    rules: tuple[Rule, ...]
    load_half: float = 10.0


@dataclass(frozen=True)
class Candidate:
    """A proposed receiver: unit id, score, the rule's specificity, and why."""

    unit: str
    score: float
    specificity: int
    reasons: tuple[str, ...]


def propose(case: Routable, rules: Rules, loads: Mapping[str, int],
            records: Mapping[str, OnTime]) -> list[Candidate]:
    """Every unit a matching rule offers for ``case``, best first (see the module
    docstring); ``loads`` maps a unit to its open cases, ``records`` to its on-time
    record (a unit missing from either counts 0 open / no record)."""
    community = community_of(case.grid_id)
    best: dict[str, Rule] = {}
    for rule in rules.rules:
        if not rule.matches(case, community):
            continue
        for pattern in rule.units:
            unit = pattern.format(community=community, grid=case.grid_id)
            held = best.get(unit)
            if held is None or rule.specificity > held.specificity:
                best[unit] = rule
    out = [_candidate(unit, rule, loads.get(unit, 0), records.get(unit), rules.load_half)
           for unit, rule in best.items()]
    return sorted(out, key=lambda c: (-c.specificity, -c.score, c.unit))


def _candidate(unit: str, rule: Rule, load: int, record: OnTime | None,
               load_half: float) -> Candidate:
    share = record.share if record is not None else UNKNOWN_ON_TIME
    penalty = load / (load + load_half) if load > 0 else 0.0
    on_time = (f"on time {record.on_time} of {record.total} ({share:.0%})"
               if record is not None and record.total > 0 else "no on-time record yet")
    return Candidate(unit=unit, score=round(share - penalty, 6),
                     specificity=rule.specificity,
                     reasons=(rule.describe(), f"open load {load}", on_time))


# -- loading ------------------------------------------------------------------------------


def rules_from(data: Any, where: str = FILE) -> Rules:
    """Validate plain data (the YAML's shape) into rules; :class:`RoutingError` naming the
    rule and field otherwise."""
    if not isinstance(data, Mapping):
        raise RoutingError(f"{where}: expected a mapping with rules")
    load_half = data.get("load_half", 10)
    if isinstance(load_half, bool) or not isinstance(load_half, int | float) or load_half <= 0:
        raise RoutingError(f"{where}: load_half: must be a positive number")
    raw = data.get("rules")
    if not isinstance(raw, list) or not raw:
        raise RoutingError(f"{where}: rules: expected a non-empty list")
    return Rules(tuple(_rule(item, f"{where}: rules[{i}]") for i, item in enumerate(raw)),
                 float(load_half))


def _rule(item: Any, where: str) -> Rule:
    if not isinstance(item, Mapping):
        raise RoutingError(f"{where}: expected a mapping")
    unknown = sorted(set(item) - {"category", "units", "communities", "tiers"})
    if unknown:
        raise RoutingError(f"{where}.{unknown[0]}: unknown key")
    category = item.get("category")
    if category != "*" and category not in CATEGORIES:
        raise RoutingError(f"{where}.category: expected a known category or \"*\"")
    units = item.get("units")
    if (not isinstance(units, list) or not units
            or not all(isinstance(u, str) and u for u in units)):
        raise RoutingError(f"{where}.units: expected a non-empty list of unit ids")
    for unit in units:
        try:
            unit.format(community="c", grid="g")
        except (KeyError, IndexError, ValueError):
            raise RoutingError(f"{where}.units: {unit!r}: only {{community}} and {{grid}} "
                               "may be filled in") from None
    communities = item.get("communities") or []
    if not isinstance(communities, list) or not all(isinstance(c, str) for c in communities):
        raise RoutingError(f"{where}.communities: expected a list of community ids")
    tiers = item.get("tiers") or []
    if not isinstance(tiers, list) or not all(
            isinstance(t, int) and not isinstance(t, bool) and 1 <= t <= MAX_TIER
            for t in tiers):
        raise RoutingError(f"{where}.tiers: expected a list of tiers 1-{MAX_TIER}")
    return Rule(str(category), tuple(units), frozenset(communities), frozenset(tiers))


def load_rules(path: Path) -> Rules:
    """Read ``config/routing.yaml`` (or another file of its shape)."""
    return rules_from(read_yaml(path, RoutingError, "routing"), str(path))
