"""The one path every write takes: read, authenticate, parse, deduplicate, produce, answer.

:func:`intake` guarantees, for every feed:

* a refused input (:class:`~ingest.gateway.rejects.Rejected`: 413, 415, 401, 403, 422) is answered
  with its status and a body naming the field and the reason, and its raw body goes to the
  dead-letter topic (the answer does not depend on that copy being acknowledged);
* a success (202, or 200 when everything was a duplicate) is answered only after Kafka
  acknowledged every record of the fresh items; a batch is all-or-nothing;
* when Kafka does not acknowledge, the answer is 503 with ``Retry-After``, the items stay
  unseen by the deduper, and a retry with the same ids is produced;
* an item whose id was already accepted (or appears earlier in the same request) with a
  *different* payload is a conflict: the whole request is answered 409 naming the item's id
  field, nothing of it is produced, and its body goes to the dead-letter topic; the same id
  with the same payload stays an idempotent duplicate (200).

Before parsing, :func:`intake` stamps the request with its :class:`Receipt` (receive time and
the plausible event-time window of the settings); feeds check event times against it.

A feed supplies the parts that differ (:class:`Feed`): where the token is, how the body
becomes items of records, and how answers look.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

from core.auth import Principal
from core.kafka_records import KafkaUnavailable, OutRecord
from domain.plausible import TimeWindow
from ingest.gateway.auth import authorize, bearer_token
from ingest.gateway.body import TooLarge, read_bounded
from ingest.gateway.context import GatewayContext
from ingest.gateway.deadletter import RAW_LIMIT
from ingest.gateway.rejects import Rejected
from ingest.gateway.responses import challenge, json_response, retry_later


@dataclass(frozen=True)
class Item:
    """One deduplicated unit: its dedup key (None: never a duplicate), answered id, records.

    ``digest`` (:func:`payload_digest` of what the client sent; None: not compared) tells a
    repeat from a reuse of the id for another payload; ``id_field`` names the id in the body
    (``events[2].event_id``) for the 409 answer.
    """

    key: str | None
    ident: str
    records: Sequence[OutRecord]
    digest: int | None = None
    id_field: str | None = None


def payload_digest(*parts: bytes) -> int:
    """A 64-bit digest of a payload (its canonical encoding), for conflict detection."""
    h = hashlib.blake2b(digest_size=8)
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return int.from_bytes(h.digest(), "little")


@dataclass(frozen=True)
class Receipt:
    """When the gateway received a request, and which event times it finds plausible."""

    received_ms: int
    window: TimeWindow


def receipt(request: Request) -> Receipt:
    """The receipt :func:`intake` stamped on ``request`` (now and the default window if the
    request did not come through it)."""
    stamped = getattr(request.state, "receipt", None)
    return stamped if isinstance(stamped, Receipt) else Receipt(int(time.time() * 1000),
                                                                 TimeWindow())


@dataclass
class Submission:
    """What a parsed body asks to produce; ``on_accepted`` gets the fresh items once acked."""

    items: list[Item]
    on_accepted: Callable[[list[int]], None] | None = None
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """Which items of a submission were produced (fresh) and which were duplicates."""

    submission: Submission
    fresh: list[bool]

    def ids(self, fresh: bool) -> list[str]:
        """The ids of the fresh (or duplicate) items, in request order."""
        return [item.ident for item, new in zip(self.submission.items, self.fresh, strict=True)
                if new is fresh]

    @property
    def all_duplicates(self) -> bool:
        """True if nothing was produced because every item was a duplicate."""
        return not any(self.fresh)


class Feed:
    """A JSON feed: bearer token, JSON answers. Subclasses implement :meth:`parse`."""

    name = "feed"

    def token(self, request: Request, raw: bytes) -> str | None:
        """The credential presented with the request."""
        return bearer_token(request.headers.get("authorization"))

    def check_media(self, request: Request) -> None:
        """Raise a 415 :class:`Rejected` naming ``content-type`` unless the request declares
        JSON (``application/json``, ``*+json``) or no media type at all."""
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media and media != "application/json" and not media.endswith("+json"):
            raise Rejected(415, "unsupported_media_type",
                           f"send application/json, not {media[:64]}", "content-type")

    def dead_letter_source(self, request: Request) -> str:
        """The ``source`` of this request's dead-letter copies."""
        return self.name

    def parse(self, request: Request, raw: bytes, principal: Principal) -> Submission:
        """Validate and geocode ``raw`` into items; raise Rejected naming the field."""
        raise NotImplementedError

    def accepted(self, outcome: Outcome) -> Response:
        """202 with the ids produced, or 200 with ``duplicate: true`` if nothing new."""
        produced, repeated = outcome.ids(True), outcome.ids(False)
        body = {"accepted": len(produced), "duplicates": len(repeated),
                "duplicate": outcome.all_duplicates, "ids": produced,
                "duplicate_ids": repeated, **outcome.submission.extra}
        return json_response(body, 200 if outcome.all_duplicates else 202)

    def refused(self, rejected: Rejected) -> Response:
        """The refusal's status with ``{"error", "field", "reason"}``."""
        return json_response(rejected.body(), rejected.status, challenge(rejected.status))

    def unavailable(self, reason: str) -> Response:
        """503 with Retry-After: nothing of this request was accepted."""
        return retry_later({"error": "kafka_unavailable", "field": None, "reason": reason})


async def refuse(ctx: GatewayContext, feed: Feed, request: Request, rejected: Rejected,
                 raw: bytes) -> Response:
    """Count the refusal, write its dead-letter copy, answer it."""
    ctx.metrics.rejects.inc(feed.name, rejected.code)
    await ctx.deadletters.record(feed.dead_letter_source(request), rejected, raw)
    return feed.refused(rejected)


async def intake(ctx: GatewayContext, feed: Feed, request: Request) -> Response:
    """Handle one write request end to end (see the module docstring for the guarantees)."""
    raw = b""
    try:
        raw = await read_bounded(request, ctx.settings.max_body_bytes, RAW_LIMIT + 1)
        feed.check_media(request)
        principal = authorize(ctx.tokens, feed.token(request, raw))
        request.state.receipt = Receipt(int(time.time() * 1000), TimeWindow.of(
            ctx.settings.event_max_age_s, ctx.settings.event_max_ahead_s))
        submission = feed.parse(request, raw, principal)
    except TooLarge as exc:
        return await refuse(ctx, feed, request, exc, exc.partial)
    except Rejected as exc:
        return await refuse(ctx, feed, request, exc, raw)
    try:
        return await commit(ctx, feed, submission)
    except Rejected as exc:  # a conflict
        return await refuse(ctx, feed, request, exc, raw)


def conflict(item: Item) -> Rejected:
    """The 409 refusal of an item whose id was accepted before with another payload."""
    return Rejected(409, "conflict", f"'{item.ident}' was already accepted with a different "
                    "payload; send a new id for a new input", item.id_field)


async def commit(ctx: GatewayContext, feed: Feed, submission: Submission) -> Response:
    """Deduplicate, produce the fresh items, answer; raise 409 :class:`Rejected` (nothing
    produced) if an id was reused for another payload."""
    items = submission.items
    claim = await ctx.deduper.claim([item.key for item in items],
                                    [item.digest for item in items])
    if claim.conflicts:
        claim.release()
        raise conflict(items[claim.conflicts[0]])
    try:
        records = [r for item, new in zip(submission.items, claim.fresh, strict=True) if new
                   for r in item.records]
        began = time.perf_counter()
        try:
            await ctx.producer.produce(records)
        except KafkaUnavailable as exc:
            ctx.metrics.unavailable.inc()
            return feed.unavailable(str(exc))
        if records:
            ctx.metrics.produce_seconds.observe(time.perf_counter() - began)
        claim.commit()
    finally:
        claim.release()
    outcome = Outcome(submission, claim.fresh)
    account(ctx, feed, outcome, records)
    if submission.on_accepted is not None and not outcome.all_duplicates:
        submission.on_accepted([i for i, new in enumerate(claim.fresh) if new])
    return feed.accepted(outcome)


def account(ctx: GatewayContext, feed: Feed, outcome: Outcome, records: list[OutRecord]) -> None:
    """Count produced records per topic and duplicates per feed."""
    for record in records:
        ctx.metrics.records.inc(record.topic.base)
    duplicates = outcome.fresh.count(False)
    if duplicates:
        ctx.metrics.duplicates.inc(feed.name, amount=duplicates)
