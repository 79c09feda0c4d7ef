"""The gateway decodes the dispatch work's case events: new actions and fields accepted,
broken ones refused 422 naming the field (domain.schemas.CaseEvent through
ingest.gateway.payloads, the one decoding path of the JSON case feed)."""

from __future__ import annotations

import msgspec
import pytest

from domain.schemas import MAX_ATTACHMENTS, CaseEvent
from ingest.gateway.payloads import decode_items
from ingest.gateway.rejects import Rejected


def body(action: str, **fields: object) -> bytes:
    data: dict[str, object] = {"event_id": "e1", "case_id": "c1", "action": action,
                               "ts": 1_700_000_000_000, "source": "command_centre"}
    data.update(fields)
    return msgspec.json.encode(data)


@pytest.mark.parametrize(("action", "fields"), [
    ("dispatch", {"target_unit": "SO-urban", "target_person": "H-SO-urban-2"}),
    ("dispatch", {}),
    ("accept", {"target_person": "H-SO-urban-2"}),
    ("decline", {"reason": "a water main: not ours"}),
    ("reassign", {"target_unit": "DD-water"}),
    ("handle", {"attachments": ["https://img.example/after.jpg", "HTTP://cdn.example/x"]}),
])
def test_the_dispatch_actions_decode(action: str, fields: dict[str, object]) -> None:
    [event] = decode_items(body(action, **fields), CaseEvent, "events").items
    assert event.action == action
    for name, value in fields.items():
        assert getattr(event, name) == value


@pytest.mark.parametrize(("action", "fields", "field"), [
    ("decline", {}, "reason"),
    ("decline", {"reason": "   "}, "reason"),
    ("reassign", {}, "target_unit"),
    ("dispatch", {"target_person": "H-1"}, "target_person"),
    ("dispatch", {"target_unit": "bad unit"}, "target_unit"),
    ("dispatch", {"target_unit": "x" * 65}, "target_unit"),
    ("handle", {"attachments": ["file:///etc/passwd"]}, "attachments[0]"),
    ("handle", {"attachments": ["https://a.example/x", "javascript:alert(1)"]},
     "attachments[1]"),
    ("handle", {"attachments": ["https://"]}, "attachments[0]"),
    ("handle", {"attachments": [f"https://a.example/{n}" for n in range(MAX_ATTACHMENTS + 1)]},
     "attachments"),
    ("handle", {"attachments": "https://a.example/x"}, "attachments"),
])
def test_broken_dispatch_events_are_refused_naming_the_field(
        action: str, fields: dict[str, object], field: str) -> None:
    with pytest.raises(Rejected) as caught:
        decode_items(body(action, **fields), CaseEvent, "events")
    assert caught.value.status == 422 and caught.value.field == field


def test_the_sink_rows_and_the_wall_carry_the_holder() -> None:
    from domain.case_machine import MAX_ATTACHMENTS_KEPT
    from streams.case_logic import process
    from streams.jobs.cases import case_wall
    from streams.rows import case_row, transition_row

    def event(action: str, n: int, **fields: object) -> CaseEvent:
        base: dict[str, object] = {"event_id": f"e{n}", "case_id": "c1", "action": action,
                                   "ts": 1_000 * n, "source": "command_centre",
                                   "grid_id": "PL02-04"}
        base.update(fields)
        return CaseEvent(**base)  # type: ignore[arg-type]

    photos = [f"https://img.example/{n}.jpg" for n in range(MAX_ATTACHMENTS)]
    record = None
    outcome = None
    for n, (action, fields) in enumerate([
            ("report", {"category": "noise", "attachments": photos, "priority": "high"}),
            ("verify", {"attachments": photos}),
            ("verify", {}),  # refused: nothing changes
            ("dispatch", {"target_unit": "SO-police", "target_person": "H-SO-police-1",
                          "attachments": photos}),
            ("decline", {"reason": "call me on 13812345678 about it"})], 1):
        outcome = process(record, event(action, n, **fields), n)
        record = outcome.record or record
    assert record is not None and outcome is not None
    assert len(record.snapshot.attachments) == MAX_ATTACHMENTS_KEPT
    row = transition_row(event("decline", 5, reason="x"), outcome.before, record, False)
    assert (row["from_unit"], row["to_unit"]) == ("SO-police", "grid.PL02-04")
    masked = transition_row(event("decline", 5, reason="call me on 13812345678 about it"),
                            outcome.before, record, False)
    assert "13812345678" not in masked["reason"] and masked["reason"].startswith("call me")
    assert case_row(record, None)["unit"] == "grid.PL02-04"
    taken = process(None, event("report", 9, category="noise", case_id="c2"), 9).record
    assert taken is not None
    for action, fields in (("verify", {}), ("dispatch", {"target_unit": "SO-env"}),
                           ("accept", {"actor": "li@example.com"})):
        n = 10 + len(taken.seen)
        taken = process(taken, event(action, n, case_id="c2", **fields), n).record
        assert taken is not None
    assert taken.snapshot.assignee == "li@example.com"
    assert "li@example.com" not in str(case_row(taken, None))
    assert "li@example.com" not in str(case_wall(taken, None, None))
    wall = case_wall(record, None, None)
    assert (wall["tier"], wall["priority"], wall["unit"]) == (1, "high", "grid.PL02-04")
    assert not {"holders", "attachments", "reporter", "handler"} & set(wall)
