"""Helpers for tests that run GridWall processes as children."""

from __future__ import annotations

import signal
import subprocess
from typing import Any


def terminate(proc: subprocess.Popen[Any], grace_s: float = 20.0) -> None:
    """Stop ``proc`` gracefully (SIGTERM), SIGKILL after ``grace_s``; no-op if it exited."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
