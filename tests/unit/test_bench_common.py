"""The benches' shared helpers: the JSON line's rounding, the city benches' options."""

from __future__ import annotations

import argparse
import json

from bench.city import add_load_arguments
from bench.common import rounded


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
