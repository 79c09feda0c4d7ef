"""No function outside tests and benches is longer than 80 lines (decorators excluded)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "gridwall", "infra", "ingest", "streams", "wall")
LIMIT = 80


def long_functions(root: Path, packages: tuple[str, ...]) -> list[str]:
    found = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = (node.end_lineno or node.lineno) - node.lineno + 1
                    if length > LIMIT:
                        found.append(f"{path.relative_to(root)}:{node.lineno} {node.name} "
                                     f"({length} lines)")
    return found


def test_no_function_is_longer_than_80_lines() -> None:
    assert long_functions(ROOT, PACKAGES) == []


def test_the_check_finds_an_81_line_function(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    body = "\n".join(f"        x{i} = {i}" for i in range(LIMIT))
    (tmp_path / "pkg" / "m.py").write_text(f"class C:\n    async def f(self):\n{body}\n")
    assert long_functions(tmp_path, ("pkg",)) == ["pkg/m.py:2 f (81 lines)"]
