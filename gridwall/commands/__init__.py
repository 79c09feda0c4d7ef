"""Subcommands of the ``gridwall`` CLI, one module per concern."""
