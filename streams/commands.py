"""Routing of duty officers' commands: who may do what, and where it goes.

:func:`route` checks a decoded :class:`~domain.schemas.Command` without any state: the role
must grant the kind's permission (its :class:`~domain.contracts.commands.CommandSpec`; ``act``
for every kind today, see :mod:`core.auth`), the kind must be known, and the target must
be routable to a grid (an alert id carries its grid; a case command needs ``grid_id``).
Whether the alert exists is decided by the alerts agent, which owns the alerts.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.auth import PERMISSIONS
from domain.alerts import grid_of_alert_id
from domain.contracts.commands import CASE_COMMAND_KINDS, COMMANDS
from domain.schemas import Command


@dataclass(frozen=True)
class Route:
    """Where a command goes: ``alert`` ops or a ``case`` escalation, and the grid key."""

    target: str
    grid_id: str


def route(cmd: Command) -> Route | str:
    """The route of ``cmd``, or the reason it is refused."""
    spec = COMMANDS.get(cmd.kind)
    permission = spec.permission if spec else "act"
    if permission not in PERMISSIONS.get(cmd.role, frozenset()):
        return f"role '{cmd.role}' of {cmd.actor} may not act on alerts or cases"
    if cmd.alert_id:
        if spec is None:
            return f"unknown alert command '{cmd.kind}' (known: {', '.join(COMMANDS)})"
        return Route("alert", grid_of_alert_id(cmd.alert_id))
    if cmd.case_id:
        if cmd.kind not in CASE_COMMAND_KINDS:
            return (f"unknown case command '{cmd.kind}' "
                    f"(known: {', '.join(CASE_COMMAND_KINDS)})")
        if not cmd.grid_id:
            return "a case command needs grid_id"
        return Route("case", cmd.grid_id)
    return "a command needs alert_id or case_id"
