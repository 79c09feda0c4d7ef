"""Outside dev mode the serving processes refuse example tokens and a world-readable file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from core.auth import (
    TokensFileError,
    ensure_dev_tokens,
    require_safe_tokens_file,
    tokens_file_problems,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "tokens.example.yaml"


def _tokens(path: Path, mode: int, token: str = "a-real-random-token-4f9") -> Path:
    path.write_text(yaml.safe_dump({token: {"name": "x", "role": "viewer"}}))
    path.chmod(mode)
    return path


def test_a_private_file_of_own_tokens_is_fine(tmp_path: Path) -> None:
    path = _tokens(tmp_path / "t.yaml", 0o600)
    assert tokens_file_problems(path) == []
    require_safe_tokens_file(path, dev=False)


def test_a_world_readable_file_is_refused_naming_its_mode(tmp_path: Path) -> None:
    path = _tokens(tmp_path / "t.yaml", 0o644)
    with pytest.raises(TokensFileError, match="mode 644.*chmod 600"):
        require_safe_tokens_file(path, dev=False)


def test_the_example_tokens_are_refused_even_when_private(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(EXAMPLE.read_text())
    path.chmod(0o600)
    with pytest.raises(TokensFileError, match="7 public example token"):
        require_safe_tokens_file(path, dev=False)


def test_dev_mode_accepts_both(tmp_path: Path) -> None:
    path = _tokens(tmp_path / "t.yaml", 0o644, token="change-me-viewer-0001")
    assert len(tokens_file_problems(path)) == 2
    require_safe_tokens_file(path, dev=True)


def test_the_tokens_gridwall_up_generates_pass_without_dev_mode(tmp_path: Path) -> None:
    path = tmp_path / "data" / "tokens.yaml"
    ensure_dev_tokens(path)
    assert tokens_file_problems(path) == []


@pytest.mark.parametrize("command", ["gateway", "hub", "wall"])
def test_each_serving_process_refuses_the_example_file_at_start(command: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWALL_")}
    env["GRIDWALL_TOKENS_FILE"] = str(EXAMPLE)
    done = subprocess.run([sys.executable, "-m", "gridwall.cli", command], env=env,
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2
    assert f"gridwall {command}: unsafe tokens file" in done.stderr
    assert "public example token" in done.stderr
