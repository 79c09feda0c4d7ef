"""The benches' shared helpers: the JSON line's rounding, the city benches' options, a
worker's processes' CPU and RSS together, drained = every reporting process drained."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from bench.city import TopicSizes, add_load_arguments
from bench.common import cpu_seconds, process_tree, rounded, tree_cpu_seconds, tree_rss_mb
from wall.hub.stats import rss_mb


def test_rounded_keeps_six_significant_digits_and_turns_nan_into_null() -> None:
    figures = rounded({"a": 1234.56789, "b": float("nan"), "c": 3, "d": "ranking"})
    assert figures == {"a": 1234.57, "b": None, "c": 3, "d": "ranking"}
    assert json.loads(json.dumps(figures)) == figures  # valid JSON (no NaN)


def test_both_city_benches_take_the_same_load_options() -> None:
    parser = argparse.ArgumentParser()
    add_load_arguments(parser)
    args = parser.parse_args(["--readings-per-s", "1000", "--push-s", "2"])
    assert (args.readings_per_s, args.push_s, args.anomaly_share) == (1000.0, 2.0, 0.00002)
    assert (args.communities * args.grids_per_community, args.city_dir) == (10_000, None)


def test_a_process_tree_counts_the_cpu_and_rss_of_its_children() -> None:
    spin = "import time\nend = time.time() + 60\nwhile time.time() < end: pass"
    parent = subprocess.Popen([sys.executable, "-c",
                               "import subprocess, sys, time\n"
                               f"subprocess.Popen([sys.executable, '-c', {spin!r}])\n"
                               "time.sleep(60)"])
    try:
        deadline = time.monotonic() + 30
        while len(process_tree(parent.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        tree = process_tree(parent.pid)
        assert tree[0] == parent.pid and len(tree) == 2
        while cpu_seconds(tree[1]) < 0.3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tree_cpu_seconds(parent.pid) >= cpu_seconds(parent.pid) + cpu_seconds(tree[1]) - 0.05
        assert tree_cpu_seconds(parent.pid) > cpu_seconds(parent.pid)
        assert tree_rss_mb(parent.pid) > rss_mb(parent.pid)
    finally:
        for pid in reversed(process_tree(parent.pid)):
            subprocess.run(["kill", "-9", str(pid)], check=False)
        parent.wait(10)


def test_drained_means_every_reporting_process_reported_no_lag() -> None:
    sizes = TopicSizes(world=None)  # type: ignore[arg-type]  # not started: no Kafka here
    sizes.lags += [(100, "w", 5, {}), (100, "w-sensors", 9, {}),
                   (200, "w", 0, {}), (300, "w-sensors", 4, {})]
    assert sizes.lag_zero_after(150) is None  # the sensors process still has lag
    sizes.lags.append((400, "w-sensors", 0, {}))
    assert sizes.lag_zero_after(150) == 400
    assert sizes.lag_zero_after(250) is None  # the workflow has not reported since
    assert sizes.max_lag(0, 500)["max_lag_in_window"] == 9
