"""One logging set-up for every GridWall process.

:func:`configure_logging` sends log lines to stderr as
``<time> <LEVEL> <process> <logger>: <message>``, so the lines of several processes in one
log (``gridwall up``) tell which process wrote them. Chatty libraries (per-connection or
per-request lines) can be held at WARNING.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

FORMAT = "%(asctime)s %(levelname)s {process} %(name)s: %(message)s"


def configure_logging(process: str, level: int | str = logging.INFO,
                      quiet: Iterable[str] = ()) -> None:
    """Configure the root logger once for ``process`` at ``level`` (a number or a name such as
    ``"info"``); each logger in ``quiet`` logs WARNING and above only (or the process's level
    if that is higher). A second call changes nothing (``logging.basicConfig``)."""
    if isinstance(level, str):
        level = level.upper()
    logging.basicConfig(level=level, format=FORMAT.format(process=process), stream=sys.stderr)
    for name in quiet:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.root.level))
