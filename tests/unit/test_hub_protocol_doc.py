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
