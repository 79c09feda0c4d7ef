"""Prometheus text: counters per label set, cumulative histogram buckets, escaping."""

from __future__ import annotations

from ingest.gateway.metrics import Counter, GatewayMetrics, Histogram


def test_counters_render_one_sample_per_label_set_with_escaping() -> None:
    counter = Counter("x_total", "things", ("route",))
    counter.inc('/a"b')
    counter.inc('/a"b', amount=2)
    lines = counter.render()
    assert lines[:2] == ["# HELP x_total things", "# TYPE x_total counter"]
    assert lines[2] == 'x_total{route="/a\\"b"} 3'


def test_an_unlabelled_counter_starts_at_zero() -> None:
    assert Counter("y_total", "y").render()[-1] == "y_total 0"


def test_histogram_buckets_are_cumulative_with_sum_and_count() -> None:
    histogram = Histogram("h_seconds", "h", (0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 3.0):
        histogram.observe(value)
    lines = histogram.render()
    assert 'h_seconds_bucket{le="0.1"} 2' in lines
    assert 'h_seconds_bucket{le="1"} 3' in lines
    assert 'h_seconds_bucket{le="+Inf"} 4' in lines
    assert "h_seconds_count 4" in lines and "h_seconds_sum 3.650000" in lines


def test_the_full_text_ends_with_a_newline_and_has_every_family() -> None:
    text = GatewayMetrics().render()
    assert text.endswith("\n")
    for family in ("requests_total", "rejects_total", "produce_seconds", "duplicates_total"):
        assert f"# TYPE gridwall_gateway_{family}" in text
