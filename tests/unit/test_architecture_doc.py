"""docs/architecture.md and docs/extending.md name only things that exist.

Every path they name is in the repository, every topic the data flow draws is in a topic
catalog, every contract module of the table exists and is read where the table says, and
the layer rules the page marks as checked are import-linter contracts of pyproject.toml.
README points to these pages and nowhere outside the repository.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from domain.contracts import topics as catalog

REPO = Path(__file__).resolve().parents[2]
ARCH = (REPO / "docs" / "architecture.md").read_text()
EXTENDING = (REPO / "docs" / "extending.md").read_text()


def _paths(text: str) -> set[str]:
    found = set(re.findall(r"`?((?:domain|gridwall|infra|ingest|readside|streams|wall|config|"
                           r"docs|tests)/[\w/.\-]*)", text))
    return {p.rstrip(".,") for p in found if not p.endswith("<channel>")}


def test_every_path_named_exists() -> None:
    for doc in (ARCH, EXTENDING):
        for path in _paths(doc):
            assert (REPO / path).exists() or (REPO / f"{path}.py").exists(), path


def test_the_data_flow_draws_catalog_topics() -> None:
    full = {spec.base.removeprefix("gridwall.")
            for spec in catalog.CATALOG + catalog.STREAM_TOPICS}
    bases = full | {name.removeprefix("streams.") for name in full}
    flow = ARCH.split("## Data flow", 1)[1]
    drawn = {name for name in re.findall(r"\b([a-z]+(?:[.\-][a-z]+)+)\b", flow)
             if not name.endswith((".py", ".md"))}
    drawn |= {"commands", "control", "alerts", "deadletter"}
    assert len(drawn) >= 10 and drawn <= bases, drawn - bases


def test_the_contract_table_names_real_readers() -> None:
    rows = re.findall(r"^\| `(domain/contracts/\w+\.py)` \|(.*)$", ARCH, re.M)
    listed = {path for path, _ in rows}
    on_disk = {f"domain/contracts/{p.name}" for p in (REPO / "domain" / "contracts").glob("*.py")
               if p.name != "__init__.py"}
    assert listed == on_disk
    for path, rest in rows:
        module = path.removesuffix(".py").replace("/", ".")
        for reader in re.findall(r"`((?:streams|wall|ingest)/[\w/]+\.py)`", rest):
            assert module in (REPO / reader).read_text(), f"{reader} does not read {module}"


def test_the_rules_marked_checked_are_import_linter_contracts() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    names = " ".join(c["name"] for c in config["contracts"])
    assert len(re.findall(r"\(checked\)(?!\*)", ARCH)) == 5
    for phrase in ("never import each other", "domain imports no", "read side imports no",
                   "core) imports only domain", "nothing below the CLI imports gridwall"):
        assert phrase in names


def test_the_readme_points_inside_the_repository() -> None:
    readme = (REPO / "README.md").read_text()
    assert "../shared" not in readme
    assert "docs/architecture.md" in readme and "docs/extending.md" in readme
