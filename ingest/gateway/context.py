"""Everything a request handler needs, built once per gateway process."""

from __future__ import annotations

from dataclasses import dataclass

from core.auth import TokenBook
from core.settings import Settings
from ingest.gateway.case_view import CaseView
from ingest.gateway.deadletter import DeadLetters
from ingest.gateway.dedup import Deduper
from ingest.gateway.metrics import GatewayMetrics
from ingest.gateway.placement import Placer
from ingest.gateway.producer import Producer


@dataclass
class GatewayContext:
    """The shared parts of one gateway process (all used from its event loop only)."""

    settings: Settings
    tokens: TokenBook
    placer: Placer
    producer: Producer
    deduper: Deduper
    deadletters: DeadLetters
    metrics: GatewayMetrics
    cases: CaseView
