"""Worker job health (pure): rates, lag, latency, sink figures; wall and Prometheus views."""
