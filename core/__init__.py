"""The base layer every GridWall process stands on: settings, tokens and roles, client
options, the one Kafka writer and its record packing, the logging set-up.

It imports only :mod:`domain` (checked by the import-linter contracts of ``pyproject.toml``);
the services (``ingest``, ``streams``, ``wall``), the read side and ``infra`` import it, and
``gridwall`` (the CLI) sits on top of them all.
"""
