"""Bounded decoding: deep or large JSON is refused with a reason wherever a frame or record
is decoded (hub frames, the hub's Kafka feed, the wall's hub feed, the worker's control
topic), never a ``RecursionError``."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import msgspec
import pytest

from domain.schemas import ConfigChange
from domain.wire import (
    MAX_DEPTH,
    BoundsError,
    WireError,
    check_bounds,
    decode,
    decode_one_or_many,
    encode,
    json_depth,
)
from streams.config import LiveConfig
from streams.control import Applied, apply_record, audit
from streams.outbox import Outbox
from wall.hub.feed import decode_record
from wall.hub.protocol import HUB_FRAME_DEPTH, TuneMsg, decode_client, decode_hub, ref_of

REPO = Path(__file__).resolve().parents[2]


def nested(levels: int, inner: bytes = b"1") -> bytes:
    """``{"a":{"a":...}}`` ``levels`` deep around ``inner``."""
    return b'{"a":' * levels + inner + b"}" * levels


def deep_tune(levels: int) -> bytes:
    return b'{"type":"tune","ref":"t1","key":"alerts","value":' + nested(levels) + b"}"


def depth_of(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    return 0


def test_json_depth_matches_the_decoded_structure_whatever_the_strings_hold() -> None:
    rng = random.Random(11)
    tricky = ['x[{"', "]]}}", "\\", '\\"[', "{\\\\", "普通 [文本]"]
    for _ in range(500):
        value: Any = {"s": rng.choice(tricky)}
        for _ in range(rng.randint(0, 45)):
            value = rng.choice([[value], {"k": value, "t": rng.choice(tricky)},
                                [1, value, {}], [[], {"x": [value]}]])
        raw = encode(value)
        assert json_depth(raw) == depth_of(value), raw


def test_check_bounds_names_the_limit() -> None:
    with pytest.raises(BoundsError, match=rf"^frame too deep \(limit {MAX_DEPTH}\)$"):
        check_bounds(nested(MAX_DEPTH + 1))
    with pytest.raises(BoundsError, match=r"^record too large \(11 bytes, limit 10\)$"):
        check_bounds(b'{"a":"xxx"}', max_bytes=10, what="record")
    assert check_bounds(nested(MAX_DEPTH)) == nested(MAX_DEPTH)
    assert check_bounds('["[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]') is not None


def test_decode_never_raises_recursion_error() -> None:
    with pytest.raises(WireError, match="too deeply nested"):
        decode(nested(5000), dict)
    with pytest.raises(WireError, match="too deeply nested"):
        decode_one_or_many(b"[" + nested(5000) + b"]", dict)


def test_a_deep_client_frame_is_refused_naming_the_limit() -> None:
    """The shape found by fuzzing: ~1,000 levels in a few KB (it raised RecursionError)."""
    raw = deep_tune(1000)
    assert 5_000 < len(raw) < 12_000
    with pytest.raises(WireError) as info:
        decode_client(raw)
    assert (info.value.field, info.value.reason) == (None, f"frame too deep (limit {MAX_DEPTH})")
    assert ref_of(raw) is None
    assert isinstance(decode_client(deep_tune(MAX_DEPTH - 2)), TuneMsg)


def test_a_large_client_frame_is_refused_when_a_size_is_given() -> None:
    raw = b'{"type":"health","ref":"' + b"x" * 40 + b'"}'
    with pytest.raises(WireError, match=r"frame too large \(\d+ bytes, limit 32\)"):
        decode_client(raw, max_bytes=32)


def test_decode_hub_refuses_deep_frames_as_validation_errors() -> None:
    raw = b'{"type":"deltas","items":[{"channel":"cases","key":"k","ts":1,"data":' + nested(
        HUB_FRAME_DEPTH) + b"}]}"
    with pytest.raises(msgspec.ValidationError, match="too deep"):
        decode_hub(raw)


def test_the_hubs_feed_refuses_deep_records() -> None:
    raw = b'{"channel":"cases","key":"k","ts":1,"data":' + nested(1000) + b"}"
    for is_alert in (False, True):
        with pytest.raises(WireError, match=f"record too deep \\(limit {MAX_DEPTH}\\)"):
            decode_record(is_alert, raw)
    ok = b'{"channel":"cases","key":"k","ts":1,"data":' + nested(MAX_DEPTH - 1) + b"}"
    assert decode_record(False, ok).key == "k"


class Sent:
    def __init__(self) -> None:
        self.records: list[tuple[str, bytes, bytes]] = []

    async def __call__(self, topic: str, key: bytes, value: bytes) -> Any:
        self.records.append((topic, key, value))


def test_a_poisoned_control_record_is_dead_lettered_and_the_next_applies() -> None:
    config = LiveConfig.from_config_dir(REPO / "config")
    poisoned = (b'{"key":"alerts","actor":"x","ts":5,"value":' + nested(1000) + b"}")
    good = encode(ConfigChange(key="alerts", value={"ack_timeout_s": 77}, actor="ops", ts=6))
    bad = apply_record(config, 3, poisoned)
    applied = apply_record(config, 4, good)
    assert bad is not None and bad.change is None and "too deep" in bad.error
    assert applied is not None and applied.verdict is not None and applied.verdict.accepted
    assert config.alerts.ack_timeout_s == 77
    outbox = Outbox(Sent(), "rows", "wall", "dead")
    audit(outbox, bad)
    (letter,) = [r for r in outbox._ordered if r[0] == "dead"]
    assert msgspec.json.decode(letter[2])["stage"] == "control.decode"


def test_a_validator_that_raises_is_a_rejection_not_a_crash(monkeypatch: Any) -> None:
    config = LiveConfig.from_config_dir(REPO / "config")

    def explode(change: ConfigChange) -> None:
        raise TypeError("unhashable type: 'dict'")

    monkeypatch.setattr(config, "apply", explode)
    raw = encode(ConfigChange(key="alerts", value={"x": {"y": 1}}, actor="ops", ts=9))
    result = apply_record(config, 8, raw)
    assert isinstance(result, Applied) and result.verdict is None
    assert result.stage == "control.apply" and "TypeError" in result.error
