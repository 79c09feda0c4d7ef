"""What the gateway accepted is in Kafka keyed by grid on the right partition; what it refused
is in the dead-letter topic with the reason."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from core.settings import Settings
from domain.contracts.topics import CASE_EVENTS, DEAD_LETTER, DEPARTMENT_RECORDS, SENSOR_READINGS
from domain.schemas import (
    CaseEvent,
    DeadLetter,
    DepartmentRecord,
    SensorBatch,
    decode_sensor_batches,
)
from domain.wire import decode_one_or_many
from tests.integration.test_gateway_support import (
    ServedApp,
    expected_partition,
    feed_post,
    read_topic,
    serve_gateway,
)
from tests.unit.test_gateway_support import (
    department_record,
    inside,
    reading,
    report,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def gateway(infra: Settings) -> Iterator[ServedApp]:
    with serve_gateway(infra) as served:
        yield served


post = feed_post


def test_case_events_land_keyed_by_grid_on_the_right_partition(infra: Settings,
                                                               gateway: ServedApp) -> None:
    run = uuid.uuid4().hex[:8]
    events = [report(f"{run}-{i}", index=i * 7) for i in range(6)]
    assert post(gateway, "/v1/cases/events", events[0]).status_code == 202
    assert post(gateway, "/v1/cases/events", events[1:]).status_code == 202
    assert post(gateway, "/v1/cases/events", events[0]).json()["duplicate"] is True

    wanted = {e["event_id"] for e in events}
    found = read_topic(infra, CASE_EVENTS,
                       lambda rs: wanted <= {e.event_id for r in rs for e in _events(r)})
    mine = [(r, e) for r in found for e in _events(r) if e.event_id in wanted]
    assert len(mine) == len(events)  # each once: the duplicate was not produced again
    for record, event in mine:
        grid = inside(int(event.event_id.rsplit("-", 1)[1]) * 7)[2]
        assert event.grid_id == grid and record.key == grid.encode()
        assert record.partition == expected_partition(grid, infra.topic_partitions)


def test_readings_land_as_one_batch_per_grid(infra: Settings, gateway: ServedApp) -> None:
    request_id = f"rq-{uuid.uuid4().hex[:8]}"
    readings = [reading(i) for i in range(60)]
    response = post(gateway, "/v1/sensors/readings",
                    {"request_id": request_id, "readings": readings})
    assert response.status_code == 202
    count = response.json()["batches"]
    found = read_topic(infra, SENSOR_READINGS, lambda rs: len(_batches(rs, request_id)) >= count)
    batches = _batches(found, request_id)
    assert len(batches) == count
    assert sum(len(b.readings) for _, b in batches) == 60
    for record, batch in batches:  # packed per partition: each batch in its grid's
        assert record.partition == expected_partition(batch.grid_id, infra.topic_partitions)
        assert record.partition == expected_partition(record.key.decode(),
                                                      infra.topic_partitions)


def test_department_records_land_with_department_and_grid(infra: Settings,
                                                          gateway: ServedApp) -> None:
    record_id = f"fire-{uuid.uuid4().hex[:8]}"
    response = post(gateway, "/v1/departments/fire/records", department_record(record_id, 11))
    assert response.status_code == 202
    found = read_topic(infra, DEPARTMENT_RECORDS,
                       lambda rs: any(record_id.encode() in r.value for r in rs))
    [record] = [r for r in found if record_id.encode() in r.value]
    value = msgspec.json.decode(record.value, type=DepartmentRecord)
    assert value.department == "fire" and value.grid_id == inside(11)[2]
    assert record.key == value.grid_id.encode()


def test_refused_inputs_are_in_the_dead_letter_topic_with_the_reason(
        infra: Settings, gateway: ServedApp) -> None:
    marker = uuid.uuid4().hex
    bad = [("/v1/cases/events", report(f"{marker}-a", category="potholes"), "invalid"),
           ("/v1/cases/events", report(f"{marker}-b", lon=1.0, lat=1.0), "outside_street"),
           ("/v1/sensors/readings", [reading(0, sensor_id=f"{marker}x")], "invalid"),
           ("/v1/departments/police/records",
            department_record(f"{marker}-d", grid_id="NOPE"), "unknown_grid")]
    for path, body, _ in bad:
        assert post(gateway, path, body).status_code == 422
    found = read_topic(infra, DEAD_LETTER,
                       lambda rs: len([r for r in rs if marker.encode() in r.value]) >= 4)
    letters = [msgspec.json.decode(r.value, type=DeadLetter) for r in found
               if marker.encode() in r.value]
    assert sorted(letter.reason.split(":")[0] for letter in letters) == sorted(
        code for _, _, code in bad)
    assert {letter.source for letter in letters} == {"cases", "sensors", "departments.police"}
    assert all(letter.stage == "gateway" and marker in letter.raw for letter in letters)


def _events(record: Any) -> list[CaseEvent]:
    """The case events of one message (the topic is packed: one event or an array)."""
    return decode_one_or_many(record.value, CaseEvent)


def _batches(records: list[Any], request_id: str) -> list[tuple[Any, SensorBatch]]:
    decoded = [(r, b) for r in records for b in decode_sensor_batches(r.value)]
    return [(r, b) for r, b in decoded if b.batch_id.startswith(f"{request_id}:")]
