"""Dedup: seen only after commit, in-flight retries wait, window and size bounds."""

from __future__ import annotations

import asyncio

from ingest.gateway.dedup import Deduper


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_key_is_a_duplicate_only_after_commit() -> None:
    dedup = Deduper(window_s=60)
    first = await dedup.claim(["a"])
    assert first.fresh == [True]
    first.release()  # the produce failed: the retry must be fresh
    retry = await dedup.claim(["a"])
    assert retry.fresh == [True]
    retry.commit()
    assert (await dedup.claim(["a"])).fresh == [False]


async def test_none_keys_are_never_duplicates_and_repeats_in_one_claim_count_once() -> None:
    dedup = Deduper(window_s=60)
    claim = await dedup.claim([None, "x", "x", None])
    assert claim.fresh == [True, True, False, True]
    claim.commit()
    assert (await dedup.claim([None, "x"])).fresh == [True, False]


async def test_keys_expire_after_the_window() -> None:
    clock = Clock()
    dedup = Deduper(window_s=10, clock=clock)
    (await dedup.claim(["a"])).commit()
    clock.now += 9
    assert dedup.seen("a")
    clock.now += 2
    assert not dedup.seen("a")
    (await dedup.claim(["b"])).commit()  # marking purges what expired
    assert len(dedup) == 1


async def test_oldest_keys_go_first_beyond_max_keys() -> None:
    dedup = Deduper(window_s=600, max_keys=3)
    for key in "abcde":
        (await dedup.claim([key])).commit()
    assert len(dedup) == 3
    assert not dedup.seen("a") and not dedup.seen("b") and dedup.seen("e")


async def test_a_concurrent_retry_waits_for_the_attempt_in_flight() -> None:
    dedup = Deduper(window_s=60)
    first = await dedup.claim(["k"])
    waiting = asyncio.ensure_future(dedup.claim(["k"]))
    await asyncio.sleep(0)
    assert not waiting.done()  # the first attempt holds the key
    first.commit()
    assert (await waiting).fresh == [False]


async def test_a_concurrent_retry_after_a_failed_attempt_is_fresh() -> None:
    dedup = Deduper(window_s=60)
    first = await dedup.claim(["k"])
    waiting = asyncio.ensure_future(dedup.claim(["k"]))
    await asyncio.sleep(0)
    first.release()
    second = await waiting
    assert second.fresh == [True]
    second.release()
    assert not dedup.inflight


async def test_a_key_committed_with_another_digest_is_a_conflict() -> None:
    dedup = Deduper(window_s=60)
    (await dedup.claim(["a", "b"], [1, None])).commit()
    same = await dedup.claim(["a"], [1])
    assert same.fresh == [False] and same.conflicts == []  # a retry: a plain duplicate
    other = await dedup.claim(["x", "a"], [7, 2])
    assert other.fresh == [True, False] and other.conflicts == [1]
    other.release()
    assert (await dedup.claim(["x"], [8])).conflicts == []  # x was never committed
    # None on either side is never compared
    assert (await dedup.claim(["a", "b"], [None, 5])).conflicts == []


async def test_a_repeat_inside_one_claim_with_another_digest_is_a_conflict() -> None:
    dedup = Deduper(window_s=60)
    claim = await dedup.claim(["k", "k", "k"], [1, 1, 2])
    assert claim.fresh == [True, False, False] and claim.conflicts == [2]


async def test_a_retry_waiting_for_an_attempt_sees_its_digest() -> None:
    dedup = Deduper(window_s=60)
    first = await dedup.claim(["k"], [1])
    waiting = asyncio.ensure_future(dedup.claim(["k"], [2]))
    await asyncio.sleep(0)
    first.commit()
    assert (await waiting).conflicts == [0]
