"""``ON CLUSTER`` DDL for a replicated, sharded ClickHouse, generated from the migrations.

The migrations (``infra/migrations``) describe one server. For a cluster, every
``CREATE TABLE db.t (...) ENGINE = XMergeTree(args) ...`` becomes

- ``db.t`` on every node (``ON CLUSTER``), engine ``ReplicatedXMergeTree`` with the
  replication path ``/clickhouse/tables/{shard}/<db>/t`` and replica ``{replica}`` (the
  server's macros), the table's own engine arguments after them;
- ``db.t_all``, a ``Distributed`` table over the cluster's ``db.t``, sharded by
  ``cityHash64`` of the table's ``ORDER BY`` key, so that the rows a ``Replacing`` engine
  collapses always land on the same shard.

Every ``ALTER TABLE db.t ...`` runs ``ON CLUSTER`` on ``db.t`` and, for column changes, on
``db.t_all`` too. :func:`cluster_ddl` returns the statements in migration order; it only
rewrites text and never connects to a server.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from infra.migrate import Migration, discover

_CREATE = re.compile(r"^CREATE TABLE IF NOT EXISTS (\w+)\.(\w+)(\s*\()", re.IGNORECASE)
_ENGINE = re.compile(r"ENGINE\s*=\s*(\w*MergeTree)\(([^)]*)\)", re.IGNORECASE)
_ORDER_BY = re.compile(r"ORDER BY\s+(\([^)]*\)|[\w.]+)", re.IGNORECASE)
_ALTER = re.compile(r"^ALTER TABLE (\w+)\.(\w+)\s+(.*)$", re.IGNORECASE | re.DOTALL)
_COLUMN_CHANGE = re.compile(r"^(ADD|DROP|MODIFY|RENAME|COMMENT)\s+COLUMN\b", re.IGNORECASE)
DISTRIBUTED_SUFFIX = "_all"


class ClusterDDLError(ValueError):
    """A migration statement has a form the generator does not know."""


def _replicated_create(statement: str, cluster: str) -> list[str]:
    create = _CREATE.match(statement)
    engine = _ENGINE.search(statement)
    order = _ORDER_BY.search(statement)
    if not (create and engine and order):
        raise ClusterDDLError(f"cannot replicate: {statement[:80]}...")
    db, table = create.group(1), create.group(2)
    args = [f"'/clickhouse/tables/{{shard}}/{db}/{table}'", "'{replica}'"]
    args += [a.strip() for a in engine.group(2).split(",") if a.strip()]
    local = (f"CREATE TABLE IF NOT EXISTS {db}.{table} ON CLUSTER {cluster}"
             f"{statement[create.end(2):engine.start()]}"
             f"ENGINE = Replicated{engine.group(1)}({', '.join(args)})"
             f"{statement[engine.end():]}")
    key = order.group(1).strip("()")
    distributed = (f"CREATE TABLE IF NOT EXISTS {db}.{table}{DISTRIBUTED_SUFFIX} "
                   f"ON CLUSTER {cluster} AS {db}.{table} "
                   f"ENGINE = Distributed({cluster}, {db}, {table}, cityHash64({key}))")
    return [local, distributed]


def cluster_statement(statement: str, cluster: str) -> list[str]:
    """The cluster form of one migration statement (one or two statements)."""
    if _CREATE.match(statement):
        return _replicated_create(statement, cluster)
    alter = _ALTER.match(statement)
    if alter is None:
        raise ClusterDDLError(f"neither CREATE TABLE nor ALTER TABLE: {statement[:80]}...")
    db, table, rest = alter.groups()
    out = [f"ALTER TABLE {db}.{table} ON CLUSTER {cluster} {rest}"]
    if _COLUMN_CHANGE.match(rest):
        out.append(f"ALTER TABLE {db}.{table}{DISTRIBUTED_SUFFIX} ON CLUSTER {cluster} {rest}")
    return out


def cluster_ddl(cluster: str, database: str,
                migrations: Iterable[Migration] | None = None) -> list[str]:
    """Every forwards statement of the migrations, for ``cluster``, with ``{db}`` filled."""
    if not re.fullmatch(r"\w+", cluster) or not re.fullmatch(r"\w+", database):
        raise ClusterDDLError("cluster and database names are letters, digits and _")
    statements = [f"CREATE DATABASE IF NOT EXISTS {database} ON CLUSTER {cluster}"]
    for migration in discover() if migrations is None else migrations:
        for statement in migration.forwards:
            statements += cluster_statement(statement.replace("{db}", database), cluster)
    return statements
