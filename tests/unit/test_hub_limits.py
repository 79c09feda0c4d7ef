"""Per-connection limits: token buckets and repeated subscribes (pure, with a fake clock)."""

from __future__ import annotations

import pytest

from core.settings import settings_from
from wall.hub.config import HubConfig
from wall.hub.limits import ClientLimits, TokenBucket, rate_limited_reason


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_a_bucket_gives_its_burst_then_its_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(per_s=5.0, burst=20, clock=clock)
    assert [bucket.take() for _ in range(20)] == [0] * 20
    assert bucket.take() == 200  # one token at 5/s
    clock.t += 0.1
    assert bucket.take() == 100
    clock.t += 0.1
    assert bucket.take() == 0
    clock.t += 3600
    assert sum(bucket.take() == 0 for _ in range(100)) == 20  # never more than the burst


def test_a_cost_beyond_the_tokens_takes_nothing() -> None:
    clock = Clock()
    bucket = TokenBucket(per_s=0.5, burst=12, clock=clock)
    assert bucket.take(6) == 0 and bucket.take(6) == 0
    assert bucket.take(6) == 12_000
    clock.t += 10
    assert bucket.take(6) == 2_000  # 5 tokens back, the 6th in 2 s; nothing taken
    clock.t += 2
    assert bucket.take(6) == 0


def test_two_thousand_commands_at_once_mostly_refused() -> None:
    """The fuzzing finding: 2,000 commands in 2 s were all applied."""
    clock = Clock()
    limits = ClientLimits.of(5.0, 20, 0.5, 12, 30.0, clock)
    taken = 0
    for _ in range(2000):
        clock.t += 0.001
        taken += limits.take("commands") == 0
    assert 29 <= taken <= 30  # the burst, then 5/s over 2 s
    assert limits.refused["commands"] == 2000 - taken


def test_a_repeat_subscribe_within_the_window_sends_no_snapshot() -> None:
    clock = Clock()
    limits = ClientLimits.of(5.0, 20, 0.5, 12, 30.0, clock)
    assert limits.snapshots_due(["alerts", "cases"], []) == ["alerts", "cases"]
    limits.snapshots_sent(["alerts", "cases"])
    clock.t += 29
    assert limits.snapshots_due(["alerts", "cases", "ranking"], ["alerts", "cases"]) == [
        "ranking"]
    clock.t += 1
    assert limits.snapshots_due(["cases", "cases"], ["alerts", "cases"]) == ["cases"]
    assert limits.snapshots_due(["cases"], []) == ["cases"]  # unsubscribed: due again


def test_the_reason_says_which_limit_and_when() -> None:
    assert rate_limited_reason("commands", 180) == "rate limited: commands, retry in 180 ms"


def test_hub_config_takes_its_limits_from_settings_and_checks_them() -> None:
    s = settings_from({"GRIDWALL_HUB_COMMANDS_PER_S": "2.5", "GRIDWALL_HUB_COMMAND_BURST": "7"})
    cfg = HubConfig.from_settings(s, port=0, host=None)
    assert (cfg.commands_per_s, cfg.command_burst, cfg.port, cfg.host) == (2.5, 7, 0, None)
    with pytest.raises(ValueError, match="subscribe_burst"):
        HubConfig(subscribe_burst=3)
    with pytest.raises(ValueError, match="max_frame_bytes"):
        HubConfig(max_frame_bytes=100_000)
