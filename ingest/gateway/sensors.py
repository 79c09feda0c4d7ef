"""``POST /v1/sensors/readings``: the high-volume path.

Readings are geocoded one by one (explicit grid, coordinates, or the registered sensor's grid)
and grouped into :class:`~domain.schemas.SensorBatch` es, one grid per batch, by
:func:`ingest.batching.group_readings`; the writer packs the batches of grids of one
partition into one Kafka message (the readings topic is packed per partition). The whole
request is one dedup item: a client ``request_id`` makes its retry a duplicate (batch ids
derive from it, so they repeat too); the same ``request_id`` with other readings is a 409
conflict. Every reading's value must lie in its kind's plausible range
(:data:`domain.vocab.SENSORS`) and its time in the receipt's window, else the request is a
422 naming ``readings[i].value`` or ``readings[i].ts``.
"""

from __future__ import annotations

import time
import uuid

from starlette.requests import Request

from core.auth import Principal
from core.kafka_records import OutRecord
from domain.contracts.topics import SENSOR_READINGS
from domain.schemas import SensorReading
from domain.wire import encode
from ingest.batching import group_readings
from ingest.gateway.auth import check_source
from ingest.gateway.payloads import check_readings, decode_readings
from ingest.gateway.pipeline import Feed, Item, Submission, payload_digest, receipt
from ingest.gateway.placement import Placer
from ingest.gateway.rejects import Rejected


class SensorReadingsFeed(Feed):
    """Batches of sensor readings."""

    name = "sensors"

    def __init__(self, placer: Placer) -> None:
        self._placer = placer

    def parse(self, request: Request, raw: bytes, principal: Principal) -> Submission:
        """Decode, check the source, geocode every reading, check values and times, group
        per grid."""
        body = decode_readings(raw)
        check_source(principal, body.source, "source")
        placed = self._placed(body.readings)
        stamp = receipt(request)
        check_readings(body.readings, stamp.received_ms, stamp.window)
        request_id = body.request_id or uuid.uuid4().hex
        batches = group_readings(placed, request_id, int(time.time() * 1000), body.source)
        records = [OutRecord(SENSOR_READINGS, b.grid_id, encode(b)) for b in batches]
        key, digest = None, None
        if body.request_id:
            key = f"sensors|{body.source}|{body.request_id}"
            digest = payload_digest(encode(body.readings))
        return Submission([Item(key, request_id, records, digest, "request_id")],
                          extra={"readings": len(placed), "batches": len(records)})

    def _placed(self, readings: list[SensorReading]) -> list[tuple[str, SensorReading]]:
        grid_of = self._placer.grid_of_reading
        try:
            return [(grid_of(r), r) for r in readings]
        except Rejected:
            pass  # find the first bad reading again, now naming it (paid only on errors)
        for i, reading in enumerate(readings):
            grid_of(reading, f"readings[{i}]")
        raise AssertionError("unreachable: a reading failed once and then passed")
