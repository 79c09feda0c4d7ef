"""Client message decoding and command validation: every refusal names the field."""

from __future__ import annotations

import msgspec
import pytest

from core.auth import Principal
from domain.alerts import COMMAND_KINDS as WORKER_COMMAND_KINDS
from domain.contracts.commands import COMMANDS, MAX_SILENCE_S
from domain.schemas import WallUpdate
from domain.wire import WireError
from wall.hub.commands import Rejected, build_command, build_tune, record_key, stamped_actor
from wall.hub.protocol import (
    COMMAND_KINDS,
    AuthMsg,
    CommandMsg,
    DeltasMsg,
    SnapshotMsg,
    SubscribeMsg,
    TuneMsg,
    decode_client,
    decode_hub,
    deltas_frame,
    encode_item,
    error_frame,
    ref_of,
    snapshot_frame,
)

NOW = 1_750_000_000_000
OFFICER = Principal("值班员", "officer", frozenset())
VIEWER = Principal("大屏", "viewer", frozenset())
OPS = Principal("运维", "ops", frozenset())


def command(raw: str) -> CommandMsg:
    msg = decode_client(raw)
    assert isinstance(msg, CommandMsg)
    return msg


@pytest.mark.parametrize(("raw", "field", "reason"), [
    ('{"token": "x"}', "type", "required field is missing"),
    ('{"type": "dance"}', "type", "unknown message type"),
    ('{"type": "auth"}', "token", "required field is missing"),
    ('{"type": "auth", "token": "x", "extra": 1}', "extra", "unknown field"),
    ('{"type": "subscribe", "channels": ["weather"]}', "channels[0]", "Invalid enum value"),
    ('{"type": "subscribe", "channels": []}', "channels", "length >= 1"),
    ('{"type": "command", "kind": "delete"}', "kind", "Invalid enum value"),
    ('{"type": "command", "kind": "ack", "alert_id": "a b"}', "alert_id", "matching regex"),
    ('{"type": "tune", "key": "Bad Key", "value": {}}', "key", "matching regex"),
    ('{"type": "tune", "key": "sla.policy", "value": 3}', "value", "Expected `object`"),
    ("[1, 2]", None, "Expected `object`"),
    ("{not json", None, "malformed JSON"),
])
def test_bad_client_messages_name_the_field(raw: str, field: str | None, reason: str) -> None:
    with pytest.raises(WireError) as info:
        decode_client(raw)
    assert info.value.field == field
    assert reason in info.value.reason


def test_good_client_messages_decode() -> None:
    assert decode_client('{"type":"auth","token":"abc"}') == AuthMsg(token="abc")
    sub = decode_client('{"type":"subscribe","channels":["alerts","cases"]}')
    assert sub == SubscribeMsg(channels=["alerts", "cases"])
    tune = decode_client('{"type":"tune","key":"sla.policy","value":{"a":1},"ref":"t1"}')
    assert tune == TuneMsg(key="sla.policy", value={"a": 1}, ref="t1")


def test_ref_is_recovered_from_an_invalid_message() -> None:
    assert ref_of('{"type":"command","kind":"nope","ref":"c7"}') == "c7"
    assert ref_of("{broken") is None
    assert ref_of('{"ref": 5}') is None


def test_the_hub_accepts_exactly_the_kinds_the_worker_applies() -> None:
    assert set(COMMAND_KINDS) == set(WORKER_COMMAND_KINDS) == set(COMMANDS)


def test_command_is_stamped_with_actor_role_and_grid() -> None:
    msg = command('{"type":"command","kind":"assign","ref":"r1","alert_id":"al-1",'
                  '"args":{"assignee":"worker-7"}}')
    cmd = build_command(msg, OFFICER, NOW, lambda c, k: "G01" if (c, k) == ("alerts", "al-1")
                        else None)
    assert (cmd.actor, cmd.role, cmd.ts, cmd.kind) == ("值班员", "officer", NOW, "assign")
    assert cmd.grid_id == "G01" and record_key(cmd) == "G01"
    assert cmd.args == {"assignee": "worker-7", "comment": ""}
    assert len(cmd.command_id) == 32


PERSON_OFFICER = Principal("闫宇", "officer", frozenset(), person="C-PL01")
APP = Principal("resident app", "officer", frozenset(), acts_for=frozenset({"resident"}))


def test_a_token_naming_a_person_stamps_that_person_on_commands_and_tunes() -> None:
    msg = command('{"type":"command","kind":"ack","alert_id":"G01.ab.1"}')
    assert build_command(msg, PERSON_OFFICER, NOW).actor == "C-PL01"
    assert build_command(msg, OFFICER, NOW).actor == "值班员"  # no person: the token's name
    tune = TuneMsg(key="alerts", value={"ack_timeout_s": 600})
    ops_person = Principal("运维", "ops", frozenset(), person="CC-duty")
    assert build_tune(tune, ops_person, NOW).actor == stamped_actor(ops_person) == "CC-duty"
    assert build_tune(tune, OPS, NOW).actor == "运维"


def test_a_client_cannot_name_the_actor_and_an_acts_for_token_cannot_command() -> None:
    with pytest.raises(WireError) as info:
        decode_client('{"type":"command","kind":"ack","alert_id":"a","actor":"CC-duty"}')
    assert (info.value.field, info.value.reason) == ("actor", "unknown field")
    with pytest.raises(Rejected) as refused:
        build_command(command('{"type":"command","kind":"ack","alert_id":"a"}'), APP, NOW)
    assert (refused.value.code, refused.value.field) == ("forbidden", "actor")
    assert refused.value.reason.startswith("actor.required")


def test_grid_comes_from_the_worker_alert_id_when_the_hub_has_not_seen_it() -> None:
    cmd = build_command(command('{"type":"command","kind":"ack",'
                                '"alert_id":"G042.ab12cd.1750000000000"}'), OFFICER, NOW)
    assert cmd.grid_id == "G042" and record_key(cmd) == "G042"


def test_record_key_falls_back_to_the_target() -> None:
    cmd = build_command(command('{"type":"command","kind":"ack","alert_id":"al-9"}'),
                        OFFICER, NOW)
    assert cmd.grid_id is None and record_key(cmd) == "al-9"


def test_case_commands_need_a_known_grid() -> None:
    esc = command('{"type":"command","kind":"escalate","case_id":"c-1"}')
    with pytest.raises(Rejected) as info:
        build_command(esc, OFFICER, NOW)
    assert (info.value.field, info.value.code) == ("grid_id", "bad_request")
    cmd = build_command(esc, OFFICER, NOW, lambda c, k: "G09" if c == "cases" else None)
    assert cmd.grid_id == "G09" and cmd.case_id == "c-1"


@pytest.mark.parametrize(("raw", "field", "reason"), [
    ('{"type":"command","kind":"ack"}', "alert_id", "required for 'ack'"),
    ('{"type":"command","kind":"escalate"}', "alert_id", "needs alert_id or case_id"),
    ('{"type":"command","kind":"comment","case_id":"c","args":{"comment":"x"}}',
     "alert_id", "required for 'comment'"),
    ('{"type":"command","kind":"ack","alert_id":"a","case_id":"c"}', "case_id", "not allowed"),
    ('{"type":"command","kind":"assign","alert_id":"a"}', "args.assignee", "required"),
    ('{"type":"command","kind":"assign","alert_id":"a","args":{"assignee":""}}',
     "args.assignee", "length >= 1"),
    ('{"type":"command","kind":"ack","alert_id":"a","args":{"colour":"red"}}', "args.colour",
     "unknown field"),
    ('{"type":"command","kind":"comment","alert_id":"a","args":{}}', "args.comment",
     "required"),
    ('{"type":"command","kind":"silence","alert_id":"a","args":{"comment":"x"}}',
     "args.duration_s", "required"),
    ('{"type":"command","kind":"silence","alert_id":"a","args":{"duration_s":60}}',
     "args.comment", "required"),
    ('{"type":"command","kind":"silence","alert_id":"a",'
     '"args":{"duration_s":0,"comment":"x"}}', "args.duration_s", ">= 1"),
    ('{"type":"command","kind":"silence","alert_id":"a",'
     f'"args":{{"duration_s":{MAX_SILENCE_S + 1},"comment":"x"}}}}', "args.duration_s",
     f"<= {MAX_SILENCE_S}"),
    ('{"type":"command","kind":"silence","alert_id":"a",'
     '"args":{"duration_s":"soon","comment":"x"}}', "args.duration_s", "Expected `int`"),
])
def test_bad_commands_are_refused_naming_the_field(raw: str, field: str, reason: str) -> None:
    with pytest.raises(Rejected) as info:
        build_command(command(raw), OFFICER, NOW)
    assert info.value.code == "bad_request"
    assert info.value.field == field
    assert reason in info.value.reason


def test_silence_carries_duration_and_comment_as_the_worker_reads_them() -> None:
    msg = command('{"type":"command","kind":"silence","alert_id":"a",'
                  '"args":{"duration_s":600,"comment":"maintenance"}}')
    assert build_command(msg, OFFICER, NOW).args == {"duration_s": 600,
                                                      "comment": "maintenance"}


def test_roles_are_checked() -> None:
    ack = command('{"type":"command","kind":"ack","alert_id":"a"}')
    with pytest.raises(Rejected) as info:
        build_command(ack, VIEWER, NOW)
    assert info.value.code == "forbidden"
    tune = TuneMsg(key="alerts", value={"ack_timeout_s": 600})
    with pytest.raises(Rejected, match="may not tune"):
        build_tune(tune, OFFICER, NOW)
    change = build_tune(tune, OPS, NOW)
    assert (change.key, change.value, change.actor, change.ts) == (
        "alerts", {"ack_timeout_s": 600}, "运维", NOW)


@pytest.mark.parametrize(("key", "value", "field", "reason"), [
    ("sla.policy", {"x": 1}, "key", "unknown live config key 'sla.policy'"),
    ("alerts", {"ack_timeout_s": -5}, "value", "alerts.ack_timeout_s: must be a positive"),
    ("sink", {"batch_size": 10**30}, "value", "sink.batch_size: must be a whole number"),
])
def test_a_tune_the_workers_would_refuse_is_refused_naming_why(
        key: str, value: dict[str, object], field: str, reason: str) -> None:
    with pytest.raises(Rejected) as info:
        build_tune(TuneMsg(key=key, value=value), OPS, NOW)
    assert (info.value.code, info.value.field) == ("bad_request", field)
    assert info.value.reason.startswith(reason)


def test_assembled_frames_match_the_documented_schema() -> None:
    update = WallUpdate(channel="alerts", key="al-1", ts=NOW, data={"title": "烟感告警"})
    deltas = decode_hub(deltas_frame([encode_item(update)]))
    assert deltas == DeltasMsg(items=[update])
    snap = decode_hub(snapshot_frame("alerts", "resync", 1, 2, [encode_item(update)] * 2))
    assert snap == SnapshotMsg(channel="alerts", reason="resync", part=1, parts=2,
                               items=[update, update])
    empty = decode_hub(snapshot_frame("cases", "subscribe", 1, 1, []))
    assert isinstance(empty, SnapshotMsg) and empty.items == []
    err = msgspec.json.decode(error_frame("r", "bad_request", "args.text", "required"))
    assert err == {"type": "error", "ref": "r", "code": "bad_request", "field": "args.text",
                   "reason": "required"}
