"""Freshness levels and banner text; labels in both languages."""

from __future__ import annotations

from tests.unit.wall_support import NOW
from wall.app.freshness import assess, banner_text
from wall.app.i18n import LABELS, tr


def test_disconnected_whenever_the_link_is_not_up() -> None:
    assert assess("down", NOW, NOW).level == "disconnected"
    assert assess("connecting", 0, NOW).level == "disconnected"
    assert assess("down", NOW, NOW).banner


def test_stale_when_up_but_quiet_or_never_fed() -> None:
    assert assess("up", 0, NOW).level == "stale"
    assert assess("up", NOW - 16_000, NOW, stale_after_s=15).level == "stale"
    live = assess("up", NOW - 3_000, NOW)
    assert live.level == "live" and not live.banner and live.age_s == 3.0


def test_banner_text_in_both_languages() -> None:
    fresh = assess("down", NOW - 40_000, NOW)
    assert banner_text(fresh, "zh").startswith("连接中断")
    assert "40 s ago" in banner_text(fresh, "en")
    assert "reconnecting" in banner_text(fresh, "en")
    assert "正在连接" in banner_text(assess("connecting", 0, NOW), "zh")


def test_every_label_has_both_languages_and_unknown_keys_echo() -> None:
    assert all(zh and en for zh, en in LABELS.values())
    assert tr("kpi.open", "en") == "Open cases"
    assert tr("no.such.key", "zh") == "no.such.key"
