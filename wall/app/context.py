"""What every page of one wall server shares: settings, street, store, feed, view caches.

One :class:`WallContext` per server process. Pages never talk to the hub or ClickHouse for
the live picture; they read the shared store (fed by the one :class:`~wall.app.feed.HubFeed`)
and the views cached here, so N open screens cost one hub subscription and one computation
of each view per store version and second. Once a minute it forgets what no view needs
(:func:`~wall.app.retention.prune`) and logs what it holds, one line ``holding {json}``:
keys per channel, case timelines, and what that round forgot (the RSS benchmark reads it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from core.auth import Principal, TokenBook, TokensFileError
from core.settings import Settings
from domain.geo import Street, street
from wall.app.feed import HubFeed
from wall.app.freshness import Freshness, assess
from wall.app.history import CaseHistory
from wall.app.hydrate import hydrate
from wall.app.i18n import Lang
from wall.app.retention import prune
from wall.app.store import WallStore

log = logging.getLogger("gridwall.wall")
LOCAL_TZ = timezone(timedelta(hours=8))


def local_time(ms: int, with_date: bool = False) -> str:
    """``HH:MM:SS`` (or ``MM-DD HH:MM:SS``) of epoch ``ms`` in the street's time zone."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(LOCAL_TZ)
    return moment.strftime("%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


@dataclass
class WallContext:
    """The server-wide state; see the module docstring."""

    settings: Settings
    hub_url: str
    hub_token: str | None
    street: Street = field(default_factory=street)
    store: WallStore = field(default_factory=WallStore)
    history: CaseHistory = field(default_factory=CaseHistory)
    clock: Callable[[], int] = field(default=lambda: int(time.time() * 1000))
    feed: HubFeed | None = None
    hydrated: int = 0
    _cache: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.feed = HubFeed(self.hub_url, self.hub_token, self.store, self.history,
                            clock=self.clock)
        self.grid_names = {g: x.name for g, x in self.street.grids.items()}
        self.grid_names_en = {g: x.name_en for g, x in self.street.grids.items()}
        self.community_of = {g: x.community_id for g, x in self.street.grids.items()}

    def names(self, lang: Lang) -> dict[str, str]:
        """Grid id -> display name in ``lang``."""
        return self.grid_names if lang == "zh" else self.grid_names_en

    def community_names(self, lang: Lang) -> dict[str, str]:
        """Community id -> display name in ``lang``."""
        return {c: (x.name if lang == "zh" else x.name_en)
                for c, x in self.street.communities.items()}

    async def start(self) -> None:
        """Hydrate from ClickHouse (in a thread), then start the hub feed task."""
        now = self.clock()
        updates = await asyncio.to_thread(hydrate, self.settings, now)
        self.hydrated = self.store.apply_all(updates, 0)
        for update in updates:
            if update.channel == "cases":
                self.history.observe(update.key, update.data)
        log.info("hydrated %d items from ClickHouse", self.hydrated)
        assert self.feed is not None
        self._tasks.append(asyncio.create_task(self.feed.run(), name="wall-hub-feed"))
        self._tasks.append(asyncio.create_task(self._prune_forever(), name="wall-prune"))

    async def _prune_forever(self, every_s: float = 60.0) -> None:
        while True:
            await asyncio.sleep(every_s)
            dropped = prune(self.store, self.clock())
            log.info("holding %s", json.dumps({**self.store.counts(),
                                               "timelines": len(self.history),
                                               "forgot": dropped}))

    async def stop(self) -> None:
        """Cancel the feed task."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def freshness(self) -> Freshness:
        """The feed's freshness now."""
        link = self.feed.link if self.feed else "down"
        return assess(link, self.store.last_received_ms, self.clock())

    def cached(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """``compute()`` once per ``key`` (the cache holds the latest 8 keys)."""
        if key not in self._cache:
            if len(self._cache) >= 8:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = compute()
        return self._cache[key]

    def login(self, token: str, permission: str) -> Principal | None:
        """Who holds ``token`` if that principal may ``permission`` (re-reads the file)."""
        try:
            book = TokenBook.load(self.settings.resolved_tokens_file)
        except TokensFileError as exc:
            log.warning("cannot check a login: %s", exc)
            return None
        who = book.check(token.strip())
        return who if who is not None and who.may(permission) else None
