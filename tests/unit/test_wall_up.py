"""``gridwall up`` runs the wall and prints its URLs and the dev tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.auth import TokenBook
from core.settings import settings
from gridwall.cli import build_parser
from gridwall.commands.run import SERVICES, access_lines
from wall.app.server import viewer_token


def test_up_runs_the_wall_and_wall_is_a_command() -> None:
    assert ("wall", ("wall",)) in [(s.name, s.argv) for s in SERVICES]
    args = build_parser().parse_args(["wall", "--port", "5999"])
    assert args.port == 5999 and args.host is None


def test_access_lines_print_urls_and_every_dev_token(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDWALL_TOKENS_FILE", str(tmp_path / "tokens.yaml"))
    settings.cache_clear()
    try:
        text = "\n".join(access_lines())
        cfg = settings()
    finally:
        settings.cache_clear()
    for path in ("/wall", "/duty", "/ops"):
        assert f"http://{cfg.wall_host}:{cfg.wall_port}{path}" in text
    for role in ("viewer", "officer", "ops", "feed"):
        assert f"  {role} " in text
    assert (tmp_path / "tokens.yaml").exists()
    for path in ("/cases", "/leader"):
        assert f"http://{cfg.wall_host}:{cfg.wall_port}{path}" in text
    assert f"http://{cfg.worker_metrics_host}:{cfg.worker_metrics_port}/metrics" in text
    book = TokenBook.load(tmp_path / "tokens.yaml")
    acting = {}
    for line in text.splitlines():
        if " acts as " in line:
            label, token = line.split()[:2]
            who = book.check(token)
            assert who is not None and who.person is not None
            assert f" acts as {who.person} " in line
            acting[label] = line.split(" acts as ", 1)[1]
    assert acting == {
        "centre": "CC-duty 石欣飞 (centre, CC)",
        "community": "C-PL01 闫宇 (community_officer, CS-PL01)",
        "handler": "D-handler 钟斌 (unit_handler, SO-urban)",
        "leader": "L-secretary 李文秀 (leader, CC)",
        "worker": "W-PL01-01-1 范娟桂 (grid_worker, CS-PL01)"}


def test_the_wall_picks_a_viewer_token(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text("feed-token-1234: {role: feed}\nofficer-token-1: {role: officer}\n"
                    "viewer-token-12: {role: viewer}\n")
    assert viewer_token(path) == "viewer-token-12"
    path.write_text("feed-token-1234: {role: feed}\nofficer-token-1: {role: officer}\n")
    assert viewer_token(path) == "officer-token-1"
    assert viewer_token(tmp_path / "missing.yaml") is None
