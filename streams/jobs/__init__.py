"""Stream jobs, one module each (see docs/streams.md for which runs how)."""
