"""The commands job: duty officers' commands routed to the alert or case they act on.

Runs as a Faust agent (:func:`streams.runner.on_agent`) over the commands topic; it keeps no
state. Each command is routed (:func:`streams.commands.route`: role check, target): an alert
command becomes an alert op on the alert's grid (its op id names the command, its origin
offset the command record, so a replay is deduplicated by the alerts job), a case escalation
becomes an ``escalate`` case event on the case's grid, a refused one a dead letter and a
``rejected`` audit row.
"""

from __future__ import annotations

from typing import Any

from domain.contracts.topics import ALERT_OPS, CASE_EVENTS, COMMANDS
from domain.schemas import CaseEvent, Command
from domain.wire import decode, encode
from streams.alert_logic import AlertOp
from streams.commands import Route, route
from streams.ext import Ext
from streams.outbox import Outbox
from streams.rows import alert_action_row
from streams.runner import Item, Tally, Timer


class CommandsJob:
    """Routing of commands; see the module docstring."""

    name = "commands"
    source = "commands"
    keyed_dead_letters = False
    topic = COMMANDS.base

    def __init__(self, ext: Ext) -> None:
        self.ext = ext

    def decode(self, record: Any) -> Command:
        """One command."""
        return decode(record.value, Command)

    async def handle(self, batch: list[Item], out: Outbox) -> Tally:
        """Route every command into ``out``."""
        for rec, cmd in batch:
            target = route(cmd)
            if not isinstance(target, Route):
                self._refuse(out, rec, cmd, target)
            elif target.target == "alert":
                op = AlertOp(op_id=f"cmd.{cmd.command_id}", kind="command",
                             grid_id=target.grid_id, ts=cmd.ts, command=cmd,
                             alert_id=cmd.alert_id, origin_offset=rec.offset)
                out.send(self.ext.topic(ALERT_OPS.base), target.grid_id, encode(op))
            else:
                event = CaseEvent(event_id=f"cmd.{cmd.command_id}"[:64],
                                  case_id=cmd.case_id or "", action="escalate", ts=cmd.ts,
                                  source="command_centre", actor=cmd.actor,
                                  grid_id=target.grid_id,
                                  note=str(cmd.args.get("comment", ""))[:2000])
                out.send(self.ext.topic(CASE_EVENTS.base), target.grid_id, encode(event))
        return Tally()

    @staticmethod
    def _refuse(out: Outbox, rec: Any, cmd: Command, reason: str) -> None:
        subject = cmd.alert_id or cmd.case_id or ""
        out.dead("commands", "commands", reason, cmd.ts, rec.value, cmd.grid_id)
        out.row("alert_actions", alert_action_row(
            f"cmd.{cmd.command_id}", subject, cmd.grid_id or "", cmd.kind, cmd.actor,
            cmd.role, cmd.ts, "rejected", reason, "", ""), (subject, cmd.command_id))

    async def write_state(self) -> None:
        """No state."""

    def timers(self) -> list[Timer]:
        """No timers."""
        return []
