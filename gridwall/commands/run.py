"""``gridwall up``: the whole system on this machine, stopped together on Ctrl-C.

``up`` starts the real parts (``infra up``), applies migrations, ensures the topics, then
runs each process of :data:`SERVICES` as a child and prints where to look. If a child
exits, ``up`` says so and stops the others: a half-running wall never looks healthy.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
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


def _gateway_health() -> str:
    from gridwall.settings import settings

    cfg = settings()
    return f"http://{cfg.gateway_host}:{cfg.gateway_port}/healthz"


def _hub_health() -> str:
    from gridwall.settings import settings

    cfg = settings()
    return f"http://{cfg.hub_host}:{cfg.hub_port}/healthz"


# Processes that `gridwall up` runs, in start order; issues add theirs here.
SERVICES: tuple[Service, ...] = (
    Service("worker", ("worker",)),
    Service("gateway", ("gateway",), _gateway_health),
    # Real-time speed: the waits it draws and the worker's SLA timers agree, so the breaches
    # it plans are the ones the wall shows.
    Service("simulator", ("simulate", "--rate", "20")),
    Service("hub", ("hub",), _hub_health),
    Service("wall", ("wall",)),
)


def register(sub: Any) -> None:
    """Add ``up`` to ``sub``."""
    up = sub.add_parser("up", help="run everything locally: infra, migrations, topics, "
                                   "processes; Ctrl-C stops it all")
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
    """Run the whole system until Ctrl-C or until one process exits."""
    code = prepare(start_infra=not args.external_infra)
    if code or args.infra_only:
        return code
    services = [sv for sv in SERVICES if not (args.no_simulator and sv.name == "simulator")]
    if not services:
        print("infra, migrations and topics ready; no GridWall processes to run yet")
        return 0
    print("\n".join(access_lines()), flush=True)
    return supervise(services)


def access_lines() -> list[str]:
    """Where to look and how to sign in: the wall's URLs and the dev tokens.

    Creates the dev tokens file first if there is none (the gateway and the hub need it).
    """
    from gridwall.auth import ensure_dev_tokens
    from gridwall.settings import settings

    cfg = settings()
    tokens = ensure_dev_tokens(cfg.resolved_tokens_file)
    base = f"http://{cfg.wall_host}:{cfg.wall_port}"
    lines = [f"big screen   {base}/wall   (English: {base}/wall?lang=en)",
             f"duty console {base}/duty   (officer token)",
             f"ops console  {base}/ops    (ops token)",
             f"gateway      http://{cfg.gateway_host}:{cfg.gateway_port}  "
             f"hub ws://{cfg.hub_host}:{cfg.hub_port}/",
             f"dev tokens ({cfg.resolved_tokens_file}):"]
    lines += [f"  {role:<8} {token}" for role, token in sorted(tokens.items())]
    return lines


CTRL_C_GRACE_S = 5.0
READY_TIMEOUT_S = 60.0


def _wait_ready(name: str, url: str, child: subprocess.Popen[bytes]) -> None:
    """Wait until ``url`` answers 200 (or the child exits, or the timeout: then go on)."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline and child.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.2)
    print(f"{name} not ready at {url} after {READY_TIMEOUT_S:.0f} s; going on",
          file=sys.stderr)


def _wait_all(children: Iterable[subprocess.Popen[bytes]], timeout_s: float) -> None:
    """Wait until every child exited or ``timeout_s`` passed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(c.poll() is None for c in children):
        time.sleep(0.1)


def supervise(services: list[Service]) -> int:
    """Start the services, wait until one exits or Ctrl-C, then stop them all."""
    children: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        for service in services:
            children[service.name] = subprocess.Popen(service.command())
            print(f"started {service.name:<10} pid {children[service.name].pid}")
            if service.ready_url is not None:
                _wait_ready(service.name, service.ready_url(), children[service.name])
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    print(f"{name} exited with code {child.returncode}; stopping the rest",
                          file=sys.stderr)
                    stopping = True
            time.sleep(0.5)
    except KeyboardInterrupt:
        # A Ctrl-C in the terminal reached every child too; a second SIGINT would make
        # some of them (uvicorn) skip their graceful shutdown, so give them a moment first.
        _wait_all(children.values(), CTRL_C_GRACE_S)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in children.values():
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
    return 0
