"""The /metrics text of the hub and the wall."""

from core.prom import prometheus_text


def test_numbers_booleans_strings_and_nesting() -> None:
    text = prometheus_text("gridwall_hub", {
        "clients": 3, "lag": None, "feed": 'run"ning', "ok": True, "age_s": 0.25,
        "drops": {"slow client": 2}, "channels": ["a"]})
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines == ["gridwall_hub_age_s 0.25", "gridwall_hub_clients 3",
                     "gridwall_hub_drops_slow_client 2",
                     'gridwall_hub_feed_info{value="run\\"ning"} 1', "gridwall_hub_ok 1"]
    assert "# TYPE gridwall_hub_clients gauge" in text
    assert text.endswith("\n")
