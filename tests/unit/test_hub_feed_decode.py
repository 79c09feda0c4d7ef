"""Kafka records into wall updates: alerts map to the alerts channel; bad records name why."""

from __future__ import annotations

import pytest

from domain.schemas import Alert, WallUpdate
from domain.wire import WireError, encode
from wall.hub.feed import decode_record


def test_wall_update_records_decode() -> None:
    update = WallUpdate(channel="ranking", key="street", ts=5, data={"top": ["G01"]})
    assert decode_record(False, encode(update)) == update


def test_alerts_become_alerts_channel_items_keyed_by_alert_id() -> None:
    alert = Alert(alert_id="al-1", fingerprint="fp", grid_id="G03", kind="sla_breach",
                  category="noise", severity="warning", status="open", title="超时",
                  opened_ms=1, updated_ms=7)
    update = decode_record(True, encode(alert))
    assert (update.channel, update.key, update.ts) == ("alerts", "al-1", 7)
    assert update.data["grid_id"] == "G03" and update.data["severity"] == "warning"


@pytest.mark.parametrize(("is_alert", "value", "field"), [
    (False, b'{"channel":"weather","key":"k","ts":1,"data":{}}', "channel"),
    (False, b'{"channel":"cases","key":"k","data":{}}', "ts"),
    (False, b"not json", None),
    (False, None, None),
    (True, b'{"alert_id":"a"}', "fingerprint"),
])
def test_bad_records_raise_wire_errors(is_alert: bool, value: bytes | None,
                                       field: str | None) -> None:
    with pytest.raises(WireError) as info:
        decode_record(is_alert, value)
    assert info.value.field == field
