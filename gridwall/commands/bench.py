"""``gridwall bench NAME [ARGS...]``: run the benchmark module ``bench.NAME``.

Every benchmark prints a human-readable table and, as its very last line, one JSON object
with every figure; ``--quick`` runs a short version that still prints every figure.
"""

from __future__ import annotations

import argparse
import pkgutil
import runpy
import sys
from typing import Any


def available() -> list[str]:
    """Names of the benchmark modules under ``bench/``."""
    import bench

    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__)
                  if not m.name.startswith("_") and m.name != "common")


def register(sub: Any) -> None:
    """Add ``bench`` to ``sub``."""
    parser = sub.add_parser("bench", help="run a benchmark (gridwall bench NAME --quick)")
    parser.add_argument("name", help="benchmark name, e.g. gateway, hub, pipeline")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="passed to the benchmark")
    parser.set_defaults(handler=bench_cmd)


def bench_cmd(args: argparse.Namespace) -> int:
    """Run one benchmark as ``python -m bench.NAME ARGS``."""
    names = available()
    if args.name not in names:
        print(f"gridwall bench: unknown benchmark {args.name!r}; "
              f"available: {', '.join(names) or 'none'}", file=sys.stderr)
        return 2
    sys.argv = [f"bench.{args.name}", *args.args]
    try:
        runpy.run_module(f"bench.{args.name}", run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else 1
    return 0
