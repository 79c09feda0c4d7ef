"""Command kinds, wall channels and wall panels: each declared once and complete.

Recipe 3 of docs/extending.md (a new wall panel) and the channel/command contracts: every
channel has a struct, a doc entry and producers whose data decode against it; every command
kind has one spec that the duty console, the hub and the worker all follow; every panel has
its title in both languages and reads only channels of the catalog.
"""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

from core.auth import PERMISSIONS, Principal
from domain.alerts import COMMAND_KINDS as WORKER_KINDS
from domain.alerts import Signal, raise_or_update
from domain.contracts.channels import CHANNEL_CATALOG, CHANNEL_NAMES, CHANNELS, decode_data
from domain.contracts.commands import (
    COMMAND_CATALOG,
    COMMANDS,
    DUTY_CONSOLE_KINDS,
    decode_args,
    form_args,
)
from domain.geo import street
from domain.schemas import CaseSnapshot
from domain.wire import WireError
from streams.case_logic import CaseRecord
from streams.commands import Route, route
from streams.health.job import JobHealth
from streams.jobs.alerts import alert_wall
from streams.jobs.cases import case_wall
from streams.registers.book import RegisterBook
from tests.unit.wall_support import NOW, alert, case, store_of, upd
from wall.app.duty_page import ACTIONS, command_message
from wall.app.i18n import LANGS, tr
from wall.app.panels import PANELS, PanelInput, column_html, untitled_panels
from wall.app.store import CHANNELS as STORE_CHANNELS
from wall.hub.commands import Rejected, build_command
from wall.hub.protocol import CHANNELS as HUB_CHANNELS
from wall.hub.protocol import COMMAND_KINDS as HUB_KINDS
from wall.hub.protocol import CommandMsg

DOCS = Path(__file__).resolve().parents[2] / "docs"


# -- channels -------------------------------------------------------------------------------


def test_every_channel_has_one_struct_and_every_reader_derives_its_list() -> None:
    assert HUB_CHANNELS == STORE_CHANNELS == CHANNEL_NAMES
    for spec in CHANNEL_CATALOG:
        assert issubclass(spec.data, msgspec.Struct) and spec.key


def test_every_channel_has_its_doc_entries() -> None:
    protocol = (DOCS / "hub-protocol.md").read_text()
    listed = protocol.split("## Channels", 1)[1].split("\n\n", 2)[1]
    wall_table = (DOCS / "wall.md").read_text().split("### What the wall reads", 1)[1]
    for name in CHANNEL_NAMES:
        assert f"`{name}`" in listed, f"{name}: not listed under Channels in hub-protocol.md"
        assert re.search(rf"^\| `{name}` \|", wall_table, re.M), f"{name}: no row in wall.md"


def _alert_state():  # type: ignore[no-untyped-def]
    return raise_or_update(None, Signal(fingerprint="sensor_threshold:S1", grid_id="G01",
                                        kind="sensor_threshold", category="fire_hazard",
                                        severity="warning", title="smoke sensor S1", ts=NOW,
                                        sensor_id="S1"))


def _health() -> dict:
    health = JobHealth("w1")
    health.count("sensors", 10, 1, NOW)
    health.sink_insert(100, NOW)
    return health.snapshot(NOW)


def test_the_producers_data_decode_against_their_channel_structs() -> None:
    snapshot = CaseSnapshot(case_id="c1", grid_id="G01", category="noise", priority="normal",
                            step="reported", tier=1, opened_ms=1, step_entered_ms=1,
                            updated_ms=1)
    assert decode_data("cases", case_wall(CaseRecord(snapshot=snapshot, clock_start_ms=1),
                                          5, None)).deadline_ms == 5  # type: ignore[attr-defined]
    assert decode_data("alerts", alert_wall(_alert_state())).category == "fire_hazard"  # type: ignore[attr-defined]
    assert decode_data("job_health", _health()).worker_id == "w1"  # type: ignore[attr-defined]
    registers = RegisterBook()
    assert decode_data("registers", {"grid_id": "G01", **registers.snapshot("G01"),
                                     "source_ms": None}).grid_id == "G01"  # type: ignore[attr-defined]
    ranking = decode_data("ranking", {"kind": "grid", "period": "day", "period_start_ms": 0,
                                      "ranking": [{"subject": "G01", "rank": None,
                                                   "score": None, "rank_change": None}]})
    assert ranking.ranking[0].rank is None  # type: ignore[attr-defined]
    assert decode_data("grid_metrics", {"level": "grid", "open_backlog": 3}).overdue == 0  # type: ignore[attr-defined]


def test_a_listed_field_of_the_wrong_type_is_named() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"\$\.open_backlog"):
        decode_data("grid_metrics", {"open_backlog": "three"})
    with pytest.raises(KeyError):
        decode_data("events", {})
    assert set(CHANNELS) == set(CHANNEL_NAMES)


# -- commands -------------------------------------------------------------------------------


def test_every_command_kind_has_one_spec_the_three_sides_follow() -> None:
    assert HUB_KINDS == WORKER_KINDS == tuple(COMMANDS)
    assert ACTIONS == DUTY_CONSOLE_KINDS
    officer = Principal("王", "officer", frozenset())
    for spec in COMMAND_CATALOG:
        assert any(spec.permission in perms for perms in PERMISSIONS.values()), spec.name
        if spec.on_duty_console:
            for lang in LANGS:
                assert tr(f"duty.{spec.name}", lang) != f"duty.{spec.name}", spec.name
        args = form_args(spec.name, "到场核实", 30) or {"comment": "x"}
        if spec.name == "assign":
            args = {"assignee": "网格员张"}
        msg = CommandMsg(kind=spec.name, alert_id="G01.abcdef0123.1",
                         args=msgspec.Raw(msgspec.json.encode(args)))
        command = build_command(msg, officer, NOW)
        assert route(command) == Route("alert", "G01"), spec.name


def test_the_duty_console_sends_args_its_spec_accepts() -> None:
    for kind in DUTY_CONSOLE_KINDS:
        message = command_message(kind, "G01.a.1", "到场", 15)
        decoded = decode_args(kind, msgspec.json.encode(message["args"]))
        assert {k: decoded[k] for k in message["args"]} == message["args"], kind
    assert command_message("silence", "a", "", 15)["args"] == {"duration_s": 900,
                                                               "comment": "duty console"}
    with pytest.raises(WireError, match="comment"):
        decode_args("comment", b"{}")


def test_every_command_kind_has_its_row_in_the_hub_protocol() -> None:
    doc = (DOCS / "hub-protocol.md").read_text().split("### `command`", 1)[1]
    rows = re.findall(r"^\| ((?:`\w+`(?:, )?)+) \| (.+?) \| (.+?) \|$", doc, re.M)
    documented = {}
    for kinds, targets, args in rows:
        for kind in re.findall(r"`(\w+)`", kinds):
            documented[kind] = (tuple(re.findall(r"`(\w+)`", targets)),
                                {name.strip("`?") for name in re.findall(r"`\w+`\??", args)})
    assert set(documented) == set(COMMANDS)
    for kind, (targets, args) in documented.items():
        spec = COMMANDS[kind]
        assert targets == spec.targets, kind
        assert args == {f.name for f in msgspec.structs.fields(spec.args)}, kind


def test_case_targets_come_from_the_spec() -> None:
    officer = Principal("王", "officer", frozenset())
    msg = CommandMsg(kind="ack", case_id="c1", grid_id="G01")
    with pytest.raises(Rejected, match="alert_id"):
        build_command(msg, officer, NOW)
    msg = CommandMsg(kind="escalate", case_id="c1", grid_id="G01")
    assert route(build_command(msg, officer, NOW)) == Route("case", "G01")


def test_a_role_without_the_kind_s_permission_is_refused_on_both_sides() -> None:
    viewer = Principal("v", "viewer", frozenset())
    with pytest.raises(Rejected, match="may not send commands"):
        build_command(CommandMsg(kind="ack", alert_id="G01.a.1"), viewer, NOW)


# -- panels ---------------------------------------------------------------------------------


def _input(lang: str, filled: bool) -> PanelInput:
    st = street()
    store = store_of(
        case("c1"), case("c2", "verified", deadline_ms=NOW - 5), alert("a1"),
        upd("ranking", "street", ranking=[{"subject": "G01", "rank": 1, "score": 90.0,
                                           "rank_change": 1}])) if filled else store_of()
    return PanelInput(store, NOW, lang,  # type: ignore[arg-type]
                      {g: x.name for g, x in st.grids.items()},
                      {g: x.community_id for g, x in st.grids.items()},
                      {c: x.name for c, x in st.communities.items()})


def test_every_panel_has_its_title_in_both_languages_and_reads_known_channels() -> None:
    assert len({p.name for p in PANELS}) == len(PANELS)
    assert untitled_panels() == []
    for panel in PANELS:
        assert set(panel.reads) <= set(CHANNEL_NAMES), panel.name
        for lang in LANGS:
            title = tr(panel.label_key, lang)
            assert title != panel.label_key, f"{panel.name}: no {lang} title"
            for filled in (False, True):
                card = panel.html(_input(lang, filled))
                assert f'data-testid="{panel.name}"' in card and title in card


def test_the_columns_hold_every_panel_once() -> None:
    html = column_html(_input("en", True), "left") + column_html(_input("en", True), "right")
    assert re.findall(r'data-testid="([a-z_]+)"', html) == [
        p.name for p in sorted(PANELS, key=lambda p: p.column)]
