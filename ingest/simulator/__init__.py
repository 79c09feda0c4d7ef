"""The street simulator: a realistic, seeded day of the street as wire events.

Pure parts (no I/O): :mod:`.daymodel` (time of day), :mod:`.cases` (case lifecycles),
:mod:`.sensors`, :mod:`.records`, :mod:`.places`, :mod:`.fakes`, and :mod:`.engine`, which
merges them into one stream at a fixed rate. I/O parts: :mod:`.http_sink` (through the
gateway), :mod:`.kafka_sink` (straight to Kafka) and :mod:`.runner` (pacing, progress).

Benchmarks pre-generate a realistic mix with :func:`generate`.
"""

from ingest.simulator.engine import Event, Mix, SimConfig, Simulation, generate

__all__ = ["Event", "Mix", "SimConfig", "Simulation", "generate"]
