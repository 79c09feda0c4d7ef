"""Kafka records into wall updates: the alerts topic carries alerts-channel updates only;
bad records name why."""

from __future__ import annotations

import pytest

from domain.schemas import WallUpdate
from domain.wire import WireError, encode
from wall.hub.feed import decode_record


def test_wall_update_records_decode() -> None:
    update = WallUpdate(channel="ranking", key="street", ts=5, data={"top": ["G01"]})
    assert decode_record(False, encode(update)) == update


def test_the_alerts_topic_carries_alerts_channel_updates() -> None:
    update = WallUpdate(channel="alerts", key="al-1", ts=7,
                        data={"grid_id": "G03", "severity": "warning", "shelved": False})
    assert decode_record(True, encode(update)) == update


@pytest.mark.parametrize(("is_alert", "value", "field"), [
    (False, b'{"channel":"weather","key":"k","ts":1,"data":{}}', "channel"),
    (False, b'{"channel":"cases","key":"k","data":{}}', "ts"),
    (False, b"not json", None),
    (False, None, None),
    (True, b'{"alert_id":"a"}', "channel"),  # the Alert struct alone is no longer accepted
    (True, b'{"channel":"cases","key":"k","ts":1,"data":{}}', "channel"),
])
def test_bad_records_raise_wire_errors(is_alert: bool, value: bytes | None,
                                       field: str | None) -> None:
    with pytest.raises(WireError) as info:
        decode_record(is_alert, value)
    assert info.value.field == field
