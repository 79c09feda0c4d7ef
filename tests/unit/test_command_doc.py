"""docs/command.md against the code: the rules table is domain.authority's, the rule names
it quotes exist, the seed's ids it names are in the organisation, the routes and topic exist."""

from __future__ import annotations

import re
from pathlib import Path

from domain import authority
from domain.contracts.topics import CASE_VERDICTS
from domain.organisation import load_directory

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "command.md").read_text()


def test_the_rules_table_is_the_code_s() -> None:
    block = DOC.split("<!-- rules-table -->", 1)[1].split("<!-- /rules-table -->", 1)[0]
    rows = [tuple(cell.strip().strip("`") for cell in line.strip("|").split("|"))
            for line in block.strip().splitlines()[2:]]
    assert rows == authority.rules_table()


def test_the_rule_names_quoted_exist() -> None:
    sources = "".join((REPO / p).read_text() for p in (
        "domain/authority.py", "domain/organisation.py", "ingest/gateway/case_rules.py"))
    quoted = set(re.findall(r"`([a-z_\-]+\.[a-z_\-]+)`", DOC))
    rules = {q for q in quoted if not q.endswith((".py", ".md", ".yaml"))
             and not q.startswith("gridwall.")}
    assert {"actor.is-token-person", "token.acts-for", "resident.may-not-verify"} <= rules
    for rule in rules - {"resident.may-not-verify"}:
        assert rule in sources, rule


def test_the_seed_ids_named_exist() -> None:
    seed = load_directory(REPO / "config" / "organisation.yaml")
    for unit in ("CC", "CS-PL01", "CS-PL09", "SO-urban", "SO-fire", "DD-water"):
        assert seed.unit(unit) is not None, unit
    for person in ("CC-duty", "CC-chief", "L-secretary", "C-PL09", "D-handler",
                   "W-PL01-03-6"):
        assert seed.person(person) is not None, person


def test_the_status_route_and_topic_exist() -> None:
    assert CASE_VERDICTS.base in DOC
    assert "/v1/cases/events/{event_id}" in (REPO / "ingest/gateway/app.py").read_text()
