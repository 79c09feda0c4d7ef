"""The GridWall stream jobs: a Faust app (cases, alerts, commands), live config, ClickHouse sink.

Pure logic lives in small modules without Faust (``case_logic``, ``deadlines``, ``config``,
``rows``, and :mod:`domain.alerts`); ``app`` wires it to Kafka, ``sink`` writes ClickHouse.
"""
