"""How fresh the wall's data is, judged by the wall's own clock: live, stale, disconnected.

:func:`assess` is pure. Guarantees: the level is ``disconnected`` whenever the hub
connection is not up (whatever the age of the data), ``stale`` when it is up but nothing
arrived for ``stale_after_s`` seconds (or nothing ever arrived), ``live`` otherwise. A wall
therefore never shows old figures without saying so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wall.app.i18n import Lang, tr

Link = Literal["connecting", "up", "down"]
Level = Literal["live", "stale", "disconnected"]
STALE_AFTER_S = 15.0


@dataclass(frozen=True)
class Freshness:
    """The assessed level, the age of the last message (None if never) and the link state."""

    level: Level
    age_s: float | None
    link: Link

    @property
    def banner(self) -> bool:
        """True when the page must show the stale/disconnected banner."""
        return self.level != "live"


def assess(link: Link, last_received_ms: int, now_ms: int,
           stale_after_s: float = STALE_AFTER_S) -> Freshness:
    """Assess freshness; see the module docstring."""
    age = None if last_received_ms <= 0 else max(0.0, (now_ms - last_received_ms) / 1000)
    if link != "up":
        return Freshness("disconnected", age, link)
    if age is None or age > stale_after_s:
        return Freshness("stale", age, link)
    return Freshness("live", age, link)


def age_text(age_s: float | None, lang: Lang) -> str:
    """``12 秒前`` / ``12 s ago``, or the 'never' text."""
    if age_s is None:
        return tr("fresh.never", lang)
    return f"{age_s:.0f} {tr('fresh.seconds', lang)}"


def banner_text(fresh: Freshness, lang: Lang) -> str:
    """The banner's sentence, e.g. ``连接中断 · 距上次更新 40 秒前 · 正在自动重连``."""
    head = tr(f"fresh.{fresh.level}", lang)
    if fresh.level == "disconnected" and fresh.link == "connecting":
        head = tr("fresh.connecting", lang)
    parts = [head, f"{tr('fresh.age', lang)} {age_text(fresh.age_s, lang)}"]
    if fresh.level == "disconnected":
        parts.append(tr("fresh.reconnect", lang))
    return " · ".join(parts)
