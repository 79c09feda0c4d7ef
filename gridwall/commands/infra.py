"""``gridwall infra up|down|status|cluster-ddl``, ``gridwall migrate`` and ``gridwall topics
ensure``."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from core.settings import settings


def register(sub: Any) -> None:
    """Add the infrastructure subcommands to ``sub``."""
    infra = sub.add_parser("infra", help="start, stop or inspect local Kafka and ClickHouse")
    actions = infra.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("up", help="start both (reusing running ones)").set_defaults(
        handler=infra_up)
    actions.add_parser("down", help="stop both by PID").set_defaults(handler=infra_down)
    actions.add_parser("status", help="each part, its address and health").set_defaults(
        handler=infra_status)
    ddl = actions.add_parser("cluster-ddl", help="print the migrations as ON CLUSTER DDL: "
                                                 "Replicated*MergeTree + Distributed tables")
    ddl.add_argument("--cluster", required=True, help="the cluster's name in remote_servers")
    ddl.add_argument("--database", help="database (default GRIDWALL_CLICKHOUSE_DATABASE)")
    ddl.set_defaults(handler=cluster_ddl_cmd)

    mig = sub.add_parser("migrate", help="apply pending ClickHouse migrations")
    mig.add_argument("--rollback", type=int, metavar="N", help="undo migration N instead")
    mig.set_defaults(handler=migrate_cmd)

    topics = sub.add_parser("topics", help="Kafka topics of the catalog")
    topic_actions = topics.add_subparsers(dest="action", required=True, metavar="ACTION")
    topic_actions.add_parser("ensure", help="create missing topics").set_defaults(
        handler=topics_ensure)


def _servers() -> tuple[Any, Any]:
    from infra.clickhouse_server import ClickHouseServer
    from infra.kafka_server import KafkaServer

    s = settings()
    return KafkaServer(s), ClickHouseServer(s)


def infra_up(_: argparse.Namespace | None = None) -> int:
    """Start Kafka and ClickHouse (or reuse running ones); exit 1 with the reason on failure."""
    from infra.process import StartError

    for server in _servers():
        began = time.monotonic()
        try:
            state = server.up()
        except StartError as exc:
            print(f"gridwall infra up: {exc}", file=sys.stderr)
            return 1
        print(f"{server.process.name:<11} {state:<8} {server.address:<22} "
              f"{time.monotonic() - began:5.1f} s")
    return 0


def infra_down(_: argparse.Namespace | None = None) -> int:
    """Stop both servers by PID."""
    for server in _servers():
        stopped = server.down()
        print(f"{server.process.name:<11} {'stopped' if stopped else 'not running'}")
    return 0


def infra_status(_: argparse.Namespace | None = None) -> int:
    """Print each part, its address and health; exit 1 unless both are healthy."""
    healthy = True
    for server in _servers():
        pid = server.process.pid()
        try:
            ok = server.answers()
        except Exception:  # noqa: BLE001 - any failure to answer is "unhealthy"
            ok = False
        healthy &= ok
        print(f"{server.process.name:<11} {server.address:<22} "
              f"pid {pid if pid else '-':<8} {'healthy' if ok else 'DOWN'}")
    return 0 if healthy else 1


def migrate_cmd(args: argparse.Namespace) -> int:
    """Apply pending migrations (or roll one back) and say what was done."""
    from core.clients import clickhouse_client
    from infra.migrate import MigrationError, migrate, rollback

    s = settings()
    client = clickhouse_client(s)
    try:
        if args.rollback is not None:
            rollback(client, s.clickhouse_database, args.rollback)
            print(f"rolled back {args.rollback:04d}")
            return 0
        count = 0
        for migration in migrate(client, s.clickhouse_database):
            count += 1
            print(f"applied {migration.number:04d}_{migration.name}")
        print(f"{count} migration(s) applied" if count else "nothing to apply")
        return 0
    except MigrationError as exc:
        print(f"gridwall migrate: {exc}", file=sys.stderr)
        return 1
    finally:
        client.disconnect()


def topics_ensure(_: argparse.Namespace | None = None) -> int:
    """Create the catalog's missing topics."""
    from infra.topics import ensure_topics

    created = ensure_topics(settings())
    print("created: " + ", ".join(created) if created else "all topics exist")
    return 0


def cluster_ddl_cmd(args: argparse.Namespace) -> int:
    """Print the migrations' ON CLUSTER DDL, one statement per paragraph, each ending in ;."""
    from infra.cluster_ddl import ClusterDDLError, cluster_ddl

    try:
        statements = cluster_ddl(args.cluster, args.database or settings().clickhouse_database)
    except ClusterDDLError as exc:
        print(f"gridwall infra cluster-ddl: {exc}", file=sys.stderr)
        return 2
    print("\n\n".join(f"{statement};" for statement in statements))
    return 0
