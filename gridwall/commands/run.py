"""``gridwall up``: the whole system on this machine, stopped together on Ctrl-C.

``up`` starts the real parts (``infra up``), applies migrations, ensures the topics, then
runs each process of :data:`SERVICES` as a child and prints where to look. It supervises
them and the Kafka broker and ClickHouse server like compose's ``restart: unless-stopped``
(``infra.supervisor``): a process that exits is restarted with backoff, each restart is
logged and written to ``<data dir>/supervisor.json`` (shown on ``/ops``); after
``GRIDWALL_RESTART_MAX_FAILURES`` exits of one process within ``GRIDWALL_RESTART_WINDOW_S``
``up`` stops the rest and exits 1. Ctrl-C or SIGTERM stops the processes and exits 0;
Kafka and ClickHouse keep running (``gridwall infra down`` stops them).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Service:
    """One long-running GridWall process started by ``up``: its name and subcommand."""

    name: str
    argv: tuple[str, ...]
    # the URL that answers 200 once the process serves (the next service waits for it)
    ready_url: Callable[[], str] | None = None

    def command(self) -> list[str]:
        """The full command line, run with this interpreter."""
        return [sys.executable, "-m", "gridwall.cli", *self.argv]


def _health(part: str) -> Callable[[], str]:
    """The ``/healthz`` URL of ``part`` (gateway, hub, wall) from its host/port settings."""

    def url() -> str:
        from core.settings import settings

        cfg = settings()
        return f"http://{getattr(cfg, part + '_host')}:{getattr(cfg, part + '_port')}/healthz"

    return url


# Processes that `gridwall up` runs, in start order; issues add theirs here.
SERVICES: tuple[Service, ...] = (
    # INFO: Faust's start, rebalances and "Worker]: Ready" in up's log (core.logs format)
    Service("worker", ("worker", "--loglevel", "info")),
    Service("gateway", ("gateway",), _health("gateway")),
    # Real-time speed: the waits it draws and the worker's SLA timers agree, so the breaches
    # it plans are the ones the wall shows.
    Service("simulator", ("simulate", "--rate", "20")),
    Service("hub", ("hub",), _health("hub")),
    Service("wall", ("wall",), _health("wall")),
)


def register(sub: Any) -> None:
    """Add ``up`` to ``sub``."""
    up = sub.add_parser("up", help="run everything locally: infra, migrations, topics, "
                                   "processes, restarted when they exit; Ctrl-C stops it all")
    up.add_argument("--no-simulator", action="store_true", help="do not start the simulator")
    up.add_argument("--infra-only", action="store_true",
                    help="prepare infra, migrations and topics, then exit")
    up.add_argument("--external-infra", action="store_true",
                    help="Kafka and ClickHouse run elsewhere (e.g. docker compose): "
                         "do not start them, only migrate and create topics")
    up.set_defaults(handler=up_cmd)


def prepare(start_infra: bool = True) -> int:
    """Infra up (unless external), migrations, topics. Returns an exit code."""
    from gridwall.commands.infra import infra_up, migrate_cmd, topics_ensure

    steps = [lambda: migrate_cmd(argparse.Namespace(rollback=None)), topics_ensure]
    if start_infra:
        steps.insert(0, infra_up)
    for step in steps:
        code = step()
        if code:
            return code
    return 0


def up_cmd(args: argparse.Namespace) -> int:
    """Run the whole system until Ctrl-C or SIGTERM (0), or until it gives up (1)."""
    from core.logs import configure_logging

    configure_logging("up", logging.INFO, quiet=("kafka",))  # a line per connection
    code = prepare(start_infra=not args.external_infra)
    if code or args.infra_only:
        return code
    services = [sv for sv in SERVICES if not (args.no_simulator and sv.name == "simulator")]
    if not services:
        print("infra, migrations and topics ready; no GridWall processes to run yet")
        return 0
    print("\n".join(access_lines()), flush=True)
    return supervise(services, with_servers=not args.external_infra)


def access_lines() -> list[str]:
    """Where to look and how to sign in: the wall's URLs and the dev tokens, each token of a
    person with whom it acts as (id, name, role and unit of ``config/organisation.yaml``).

    Creates the dev tokens file first if there is none (the gateway and the hub need it).
    """
    from core.auth import ensure_dev_tokens
    from core.settings import settings

    cfg = settings()
    tokens = ensure_dev_tokens(cfg.resolved_tokens_file)
    base = f"http://{cfg.wall_host}:{cfg.wall_port}"
    lines = [f"big screen   {base}/wall   (English: {base}/wall?lang=en)",
             f"duty console {base}/duty   (officer token)",
             f"ops console  {base}/ops    (ops token)",
             f"case console {base}/cases  (a person's token below)",
             f"leaders      {base}/leader (the leader's or the centre's token)",
             f"gateway      http://{cfg.gateway_host}:{cfg.gateway_port}  "
             f"hub ws://{cfg.hub_host}:{cfg.hub_port}/",
             *([f"worker       http://{cfg.worker_metrics_host}:{cfg.worker_metrics_port}"
                "/metrics and /healthz"] if cfg.worker_metrics_port else []),
             f"dev tokens ({cfg.resolved_tokens_file}):"]
    acting = _acting_as(Path(cfg.config_dir), tokens)
    lines += [f"  {label:<9} {token}{acting.get(label, '')}"
              for label, token in sorted(tokens.items())]
    return lines


def _acting_as(config_dir: Path, tokens: dict[str, str]) -> dict[str, str]:
    """label -> "  acts as <id> <name> (<role>, <unit>)" for the dev tokens naming a person."""
    from core.auth import DEV_HOLDERS
    from domain.organisation import ORGANISATION_FILE, OrganisationError, load_directory

    try:
        directory = load_directory(config_dir / ORGANISATION_FILE)
    except (OSError, OrganisationError):
        directory = None
    out = {}
    for label in tokens:
        person_id = DEV_HOLDERS.get(label, {}).get("person")
        if person_id is None:
            continue
        person = directory.person(person_id) if directory is not None else None
        out[label] = (f"  acts as {person_id} {person.name} ({person.role}, {person.unit})"
                      if person is not None else f"  acts as {person_id}")
    return out


CTRL_C_GRACE_S = 5.0
READY_TIMEOUT_S = 60.0
TICK_S = 0.5


def children_for(services: list[Service], with_servers: bool) -> list[Any]:
    """What ``up`` supervises: Kafka and ClickHouse (unless external), then the services."""
    from core.settings import settings
    from infra.children import CommandChild, ServerChild

    out: list[Any] = []
    if with_servers:
        from infra.clickhouse_server import ClickHouseServer
        from infra.kafka_server import KafkaServer

        out += [ServerChild(KafkaServer(settings())), ServerChild(ClickHouseServer(settings()))]
    out += [CommandChild(sv.name, sv.command(), sv.ready_url() if sv.ready_url else None)
            for sv in services]
    return out


def _start_in_order(sup: Any, stop: Callable[[], bool]) -> None:
    """Start each child; wait until one with a readiness check answers before the next."""
    for child in sup.children:
        if stop():
            return
        sup.start(child)
        if child.kind == "process":
            _log(f"started {child.name} pid {child.pid}")
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not stop() and time.monotonic() < deadline:
            if sup.book.entries[child.name].state != "starting" or sup.tick():
                break
            time.sleep(0.2)
        else:
            if not stop():
                logging.getLogger("gridwall.up").warning(
                    "%s not ready after %.0f s; going on", child.name, READY_TIMEOUT_S)


def supervise(services: list[Service], with_servers: bool = False) -> int:
    """Start the services, restart what exits (infra.supervisor), stop all at the end.

    Returns 0 after Ctrl-C or SIGTERM, 1 if a process failed too often (the rest stopped).
    """
    from core.settings import settings
    from infra.children import stop_commands, wait_commands
    from infra.supervisor import RestartPolicy, Supervisor, status_path

    # a server's readiness probe refused while it restarts is expected, not a traceback
    logging.getLogger("clickhouse_driver").setLevel(logging.ERROR)
    cfg = settings()
    sup = Supervisor(children_for(services, with_servers), RestartPolicy.from_settings(cfg),
                     status_path(cfg.data_dir), log=_log)
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    outcome = "failed"  # unless it ends as it should: an exception here is a failure too
    try:
        _start_in_order(sup, lambda: stopping or sup.gave_up is not None)
        failed = sup.gave_up is not None
        sup.state = "running"
        while not stopping and not failed:
            failed = sup.tick()
            time.sleep(TICK_S)
        outcome = "failed" if failed else "stopped"
    except KeyboardInterrupt:
        # A Ctrl-C in the terminal reached every child too; a second SIGINT would make
        # some of them (uvicorn) skip their graceful shutdown, so give them a moment first.
        wait_commands(sup.children, CTRL_C_GRACE_S)
        outcome = "stopped"
    finally:
        stop_commands(sup.children)
        sup.finish(outcome)
    return 1 if outcome == "failed" else 0


def _log(message: str) -> None:
    """A supervision line on stderr, in the one log format (``core.logs``, process ``up``)."""
    logging.getLogger("gridwall.up").info("%s", message)
