"""Outside dev mode the serving processes refuse example tokens and a world-readable file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from core.auth import (
    TokenBook,
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


ORGANISATION = ROOT / "config" / "organisation.yaml"


def test_the_dev_people_tokens_name_people_of_the_organisation(tmp_path: Path) -> None:
    from domain.organisation import load_directory

    directory = load_directory(ORGANISATION)
    tokens = ensure_dev_tokens(tmp_path / "tokens.yaml")
    book = TokenBook.load(tmp_path / "tokens.yaml")
    roles = {}
    for label in ("centre", "community", "handler", "leader", "worker"):
        who = book.check(tokens[label])
        assert who is not None and who.person is not None and who.may("ingest")
        person = directory.person(who.person)
        assert person is not None and person.name == who.name
        roles[label] = person.role
    assert roles == {"centre": "centre", "community": "community_officer",
                     "handler": "unit_handler", "leader": "leader", "worker": "grid_worker"}
    feed = book.check(tokens["feed"])  # the simulator's token stays the all-sources one
    assert feed is not None and feed.person is None and "*" in feed.sources


def test_an_old_dev_file_gets_the_people_and_a_foreign_file_is_left_alone(
        tmp_path: Path) -> None:
    old = tmp_path / "old.yaml"
    old.write_text(yaml.safe_dump({"dev-feed-0123456789ab": {"role": "feed", "sources": ["*"]},
                                   "dev-viewer-0123456789ab": {"role": "viewer"}}))
    tokens = ensure_dev_tokens(old)
    assert tokens["feed"] == "dev-feed-0123456789ab"
    assert {"centre", "community", "handler", "leader", "worker", "officer"} <= set(tokens)
    assert ensure_dev_tokens(old) == tokens  # nothing more added
    assert oct(old.stat().st_mode & 0o777) == "0o600"
    foreign = tmp_path / "real.yaml"
    foreign.write_text(yaml.safe_dump({"a-real-random-token-4f9": {"role": "feed"}}))
    before = foreign.read_text()
    assert ensure_dev_tokens(foreign) == {"feed": "a-real-random-token-4f9"}
    assert foreign.read_text() == before
