"""Shared harness of the gateway integration tests (no tests here).

:class:`ServedApp` runs a gateway app under a real uvicorn server in a thread on a free
loopback port; :func:`read_topic` reads one of this session's topics from the beginning until
a condition holds; :func:`feed_post` posts as the feed; :func:`expected_partition` is
Kafka's default partitioner for a key.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from kafka import KafkaConsumer, TopicPartition
from kafka.partitioner.default import murmur2

from bench.common import free_port
from core.settings import Settings
from domain.contracts.topics import TopicSpec
from ingest.gateway.app import create_app
from tests.unit.test_gateway_support import FEED, bearer, token_book


class ServedApp:
    """A FastAPI app served by uvicorn (with lifespan) in a daemon thread."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on", loop="asyncio", http="h11")
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        """The base URL."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServedApp:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=30)


def serve_gateway(s: Settings, **parts: Any) -> ServedApp:
    """The gateway of settings ``s`` with the test token book, ready to enter."""
    return ServedApp(create_app(s, tokens=token_book(), **parts))


def feed_post(gateway: ServedApp, path: str, body: Any) -> httpx.Response:
    """POST ``body`` as JSON to ``path`` of the served gateway with the feed token."""
    return httpx.post(f"{gateway.url}{path}", json=body, headers=bearer(FEED), timeout=30)


def read_topic(s: Settings, spec: TopicSpec, until: Callable[[list[Any]], bool],
               timeout_s: float = 30.0) -> list[Any]:
    """Every record of the topic from the beginning, read until ``until(records)`` holds
    (or the timeout passes: the caller's assertion then says what is missing)."""
    consumer = KafkaConsumer(bootstrap_servers=s.kafka_bootstrap, enable_auto_commit=False,
                             group_id=None)
    try:
        name = spec.name(s.topic_prefix)
        partitions = [TopicPartition(name, p) for p in consumer.partitions_for_topic(name)]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        records: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=300).values():
                records.extend(batch)
            if until(records):
                break
        return records
    finally:
        consumer.close()


def expected_partition(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for ``key``."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions
