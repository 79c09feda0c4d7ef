"""The ``gridwall`` command: one subcommand per process or task.

Each module in :data:`COMMAND_MODULES` contributes its subcommands through
``register(subparsers)``; heavy imports happen inside the handlers, so ``gridwall --help``
stays fast. A handler returns the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from core.settings import SettingsError

COMMAND_MODULES = (
    "gridwall.commands.infra",
    "gridwall.commands.run",
    "gridwall.commands.worker",
    "gridwall.commands.bench",
    "gridwall.commands.hub",
    "gridwall.commands.simulate",
    "gridwall.commands.import_cmd",
    "gridwall.commands.gateway",
    "gridwall.commands.wall",
)


# Processes that check bearer tokens: they refuse an unsafe tokens file at start.
TOKEN_SERVERS = frozenset({"gateway", "hub", "wall"})


def _tokens_file_is_safe(command: str) -> bool:
    """False, after saying why on stderr, if ``command`` must not start on its tokens file."""
    from core.auth import TokensFileError, require_safe_tokens_file
    from core.settings import settings

    cfg = settings()
    try:
        require_safe_tokens_file(cfg.resolved_tokens_file, cfg.dev)
    except TokensFileError as exc:
        print(f"gridwall {command}: unsafe tokens file: {exc}", file=sys.stderr)
        return False
    return True


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="gridwall", description="GridWall: a real-time command wall for grid governance.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; errors become a message and exit 2."""
    args = build_parser().parse_args(argv)
    try:
        if args.command in TOKEN_SERVERS and not _tokens_file_is_safe(args.command):
            return 2
        return int(args.handler(args) or 0)
    except SettingsError as exc:
        print(f"gridwall: bad setting: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
