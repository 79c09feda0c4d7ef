"""Every JSON example in docs/hub-protocol.md is a valid message of the type it shows."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

from domain.schemas import Command, WallUpdate
from domain.wire import WireError
from wall.hub.protocol import CHANNELS, CLIENT_TYPES, decode_client, decode_hub

DOC = Path(__file__).resolve().parents[2] / "docs" / "hub-protocol.md"
EXAMPLES = re.findall(r"```json\n(.*?)\n```", DOC.read_text(), flags=re.S)
HUB_TYPES = {"welcome", "subscribed", "snapshot", "deltas", "ack", "error", "health"}


def test_the_doc_shows_every_message_type() -> None:
    shown = {msgspec.json.decode(e).get("type") for e in EXAMPLES}
    assert HUB_TYPES | set(CLIENT_TYPES) <= shown


def decodes_as_client(example: str) -> bool:
    try:
        decode_client(example)
    except WireError:
        return False
    return True


def decodes_as_hub(example: str) -> bool:
    try:
        decode_hub(example)
    except msgspec.ValidationError:
        return False
    return True


@pytest.mark.parametrize("example", EXAMPLES)
def test_each_example_decodes(example: str) -> None:
    if "type" not in msgspec.json.decode(example):  # an item or a Kafka record
        msgspec.json.decode(example, type=Command if "command_id" in example else WallUpdate)
    else:
        assert decodes_as_client(example) or decodes_as_hub(example)


def test_the_doc_lists_exactly_the_protocols_channels() -> None:
    text = DOC.read_text()
    section = text[text.index("## Channels"):]
    listed = re.findall(r"`([a-z_]+)`", section.split(" — ", 1)[0])
    assert listed == list(CHANNELS)
    (welcome,) = [e for e in EXAMPLES if '"type":"welcome"' in e]
    assert msgspec.json.decode(welcome)["channels"] == list(CHANNELS)
    (health,) = [e for e in EXAMPLES if '"type":"health","ref":"h1","figures"' in e]
    assert set(msgspec.json.decode(health)["figures"]["keys"]) == set(CHANNELS)


def test_every_channel_is_produced_by_the_stream_worker() -> None:
    """A channel nothing publishes would be drawn empty forever: each one's name is used by
    the worker's code (``streams/``), which is what writes the wall updates topic."""
    sources = "\n".join(p.read_text() for p in (DOC.parents[1] / "streams").rglob("*.py"))
    assert [c for c in CHANNELS if f'"{c}"' not in sources] == []


def test_the_limits_section_states_the_codes_defaults() -> None:
    from core.settings import Settings
    from domain.wire import MAX_DEPTH
    from wall.hub.config import HubConfig

    text = DOC.read_text()
    section = text[text.index("## Limits"):text.index("## The hub's state")]
    settings = Settings()
    listed = dict(re.findall(r"\| `(GRIDWALL_HUB_[A-Z_]+)` \| ([0-9.]+) \|", section))
    assert {k: float(v) for k, v in listed.items()} == {
        f"GRIDWALL_{name.upper()}": float(getattr(settings, name))
        for name in Settings.__struct_fields__ if name.startswith("hub_") and "_per_s" in name
        or name.startswith("hub_") and name.endswith("_burst")}
    cfg = HubConfig.from_settings(settings)
    assert f"| {MAX_DEPTH} levels |" in section and f"(limit {MAX_DEPTH})" in section
    assert f"limit {cfg.max_frame_bytes})" in section and cfg.max_frame_bytes == 32 * 1024
    assert cfg.max_message_bytes == 64 * 1024 and "above 64 KiB" in section
    assert (f"{cfg.command_burst} at once, then {cfg.commands_per_s:g} per second"
            in section)
    assert (f"{cfg.subscribe_burst} at once, then {cfg.subscribes_per_s:g} per second"
            in section)
    assert f"at least {len(CHANNELS)} (one subscribe" in section
    assert f"at least {cfg.resubscribe_window_s:g} s ago" in text
