"""The layer contracts of pyproject.toml ([tool.importlinter]) hold, and a wrong-way import
breaks them: ``lint-imports`` runs on the repository, then on a copy of its packages with one
module added that imports the wall from ingest, a service from domain, or closes a cycle."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "core", "readside", "ingest", "streams", "wall", "gridwall", "infra")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the tree in ``cwd`` (its packages first on the path)."""
    script = "import sys; from importlinter.cli import lint_imports_command as c; c()"
    return subprocess.run([sys.executable, "-c", script, "--no-cache", "--no-logo"], cwd=cwd,
                          env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the repository's packages (Python files only) and its pyproject.toml."""
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name,
                        ignore=lambda d, names: [n for n in names if n == "__pycache__"
                                                 or (Path(d, n).is_file()
                                                     and not n.endswith(".py"))])
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_repository_keeps_every_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 kept, 0 broken" in result.stdout


def test_ingest_importing_the_wall_breaks_the_peer_contract(tree: Path) -> None:
    (tree / "ingest" / "wrong_way.py").write_text("from wall.hub import intake\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "services are peers" in result.stdout and "BROKEN" in result.stdout
    assert "ingest.wrong_way -> wall.hub.intake" in result.stdout


def test_domain_importing_a_service_or_settings_breaks_its_contract(tree: Path) -> None:
    (tree / "domain" / "wrong_way.py").write_text(
        "from streams import config\nfrom core import settings\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "domain.wrong_way -> streams.config" in result.stdout
    assert "domain.wrong_way -> core.settings" in result.stdout


def test_a_file_cycle_inside_a_service_breaks_the_acyclic_contract(tree: Path) -> None:
    (tree / "ingest" / "wrong_way.py").write_text("from ingest import batching\n")
    batching = tree / "ingest" / "batching.py"
    batching.write_text(batching.read_text() + "\nfrom ingest import wrong_way  # noqa\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "No cycles are allowed in ingest" in result.stdout
