"""One spec per command kind: its permission, targets, ``args`` struct and duty-console form.

A duty officer's command travels from the duty console (``wall.app.duty_page``) through the
hub (``wall.hub.commands``: role, targets and ``args`` checked, then stamped into a
:class:`~domain.schemas.Command`) to the worker (``streams.commands`` routes it,
:func:`domain.alerts.apply_command` applies it). All three read the kind's
:class:`CommandSpec` from :data:`COMMANDS`; none keeps its own list of kinds.

Guarantees: :func:`decode_args` returns plain ``args`` only when they match the kind's
struct (unknown fields refused) and otherwise raises :class:`~domain.wire.WireError` naming
the field under ``args``; :func:`form_args` builds, from the duty console's text box and
minutes box, args that :func:`decode_args` accepts whenever the text box is filled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from domain.schemas import Text
from domain.wire import decode

MAX_SILENCE_S = 7 * 24 * 3600  # a sanity bound; the worker applies its live policy
NonEmptyShort = Annotated[str, Meta(min_length=1, max_length=128)]
NonEmptyText = Annotated[str, Meta(min_length=1, max_length=2000)]
Target = Literal["alert_id", "case_id"]
# Where a duty-console form puts an arg: the text box (left out when empty), the text box
# or a default reason when empty, the minutes box in seconds.
FormSource = Literal["text", "text_or_default", "minutes"]
DEFAULT_REASON = "duty console"


class Args(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The ``args`` of a command kind; unknown fields are refused."""


class CommentArgs(Args):
    comment: Text = ""


class AssignArgs(Args):
    assignee: NonEmptyShort
    comment: Text = ""


class RequiredCommentArgs(Args):
    comment: NonEmptyText


class SilenceArgs(Args):
    duration_s: Annotated[int, Meta(ge=1, le=MAX_SILENCE_S)]
    comment: NonEmptyText


@dataclass(frozen=True)
class CommandSpec:
    """A command kind: who may send it, what it targets, its args, its duty-console form.

    ``permission`` is a permission of ``core.auth`` the sender's role must grant;
    ``targets`` the id fields the command accepts (one of them is required); ``form`` maps
    each arg the duty console fills to its :data:`FormSource`, and is empty for kinds the
    console has no button for.
    """

    name: str
    args: type[Args]
    targets: tuple[Target, ...] = ("alert_id",)
    permission: str = "act"
    form: tuple[tuple[str, FormSource], ...] = ()

    @property
    def on_duty_console(self) -> bool:
        """Whether the duty console has a button for this kind."""
        return bool(self.form)


_COMMENT: tuple[tuple[str, FormSource], ...] = (("comment", "text"),)

COMMAND_CATALOG: tuple[CommandSpec, ...] = (
    CommandSpec("ack", CommentArgs, form=_COMMENT),
    CommandSpec("unack", CommentArgs, form=_COMMENT),
    CommandSpec("assign", AssignArgs, form=(("assignee", "text"),)),
    CommandSpec("comment", RequiredCommentArgs, form=_COMMENT),
    CommandSpec("silence", SilenceArgs,
                form=(("duration_s", "minutes"), ("comment", "text_or_default"))),
    CommandSpec("unsilence", CommentArgs),
    CommandSpec("shelve", CommentArgs),
    CommandSpec("unshelve", CommentArgs),
    CommandSpec("escalate", CommentArgs, targets=("alert_id", "case_id"), form=_COMMENT),
    CommandSpec("resolve", CommentArgs),
)
COMMANDS: dict[str, CommandSpec] = {spec.name: spec for spec in COMMAND_CATALOG}
COMMAND_KINDS: tuple[str, ...] = tuple(COMMANDS)
# Kinds that may name a case instead of an alert (the worker escalates the case).
CASE_COMMAND_KINDS: tuple[str, ...] = tuple(s.name for s in COMMAND_CATALOG
                                            if "case_id" in s.targets)
DUTY_CONSOLE_KINDS: tuple[str, ...] = tuple(s.name for s in COMMAND_CATALOG
                                            if s.on_duty_console)


def decode_args(kind: str, raw: Any) -> dict[str, Any]:
    """The ``args`` of a ``kind`` command as plain data; WireError naming ``args.<field>``.

    ``kind`` must be one of :data:`COMMAND_KINDS` (``KeyError`` otherwise).
    """
    args = decode(raw, COMMANDS[kind].args, root="args")
    out: dict[str, Any] = msgspec.to_builtins(args)
    return out


def form_args(kind: str, text: str, minutes: int) -> dict[str, Any]:
    """The args of a duty-console press of ``kind`` with the text and minutes boxes."""
    out: dict[str, Any] = {}
    for name, source in COMMANDS[kind].form:
        if source == "minutes":
            out[name] = max(1, minutes) * 60
        elif source == "text_or_default":
            out[name] = text or DEFAULT_REASON
        elif text:
            out[name] = text
    return out
