"""The import checkpoint: how far an import got, written atomically after every batch.

Rows ``1..done_row`` are settled: each accepted one acknowledged by Kafka, each rejected one
in the reject file (its first ``reject_bytes`` bytes) and acknowledged in the dead-letter
topic. ``pending`` is written *before* a batch is sent, with the end offsets of the target
topics at that moment: if the process dies before the batch settles, a resumed import scans
from those offsets to learn which of the batch's messages Kafka did take, and sends only the
others. ``digest`` is the SHA-256 of the input's first ``done_offset`` bytes, so a resume
refuses an input that changed under it.

:func:`save` replaces the file atomically (write, fsync, rename): a reader sees the old or
the new checkpoint, never a torn one.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec


class Pending(msgspec.Struct, kw_only=True):
    """A batch sent but not yet settled: its rows and the topics' end offsets before it."""

    first_row: int
    last_row: int
    offsets: dict[str, dict[int, int]]


class Checkpoint(msgspec.Struct, kw_only=True):
    """The state of one import of one file for one department (see the module docstring)."""

    import_id: str
    input: str
    department: str
    format: str
    topic_prefix: str
    done_row: int = 0
    done_line: int = 0
    done_offset: int = 0
    digest: str = ""
    reject_bytes: int = 0
    accepted: int = 0
    rejected: dict[str, int] = {}
    pending: Pending | None = None
    complete: bool = False

    @property
    def rejected_total(self) -> int:
        """Rows rejected so far."""
        return sum(self.rejected.values())


class CheckpointError(ValueError):
    """A checkpoint that cannot be used (unreadable, or for another import)."""


def load(path: Path) -> Checkpoint | None:
    """The checkpoint at ``path``, or None if there is none."""
    try:
        return msgspec.json.decode(path.read_bytes(), type=Checkpoint)
    except FileNotFoundError:
        return None
    except (msgspec.DecodeError, OSError) as exc:
        raise CheckpointError(f"{path}: unreadable checkpoint: {exc}") from None


def save(path: Path, checkpoint: Checkpoint) -> None:
    """Write ``checkpoint`` to ``path`` atomically and durably."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as out:
        out.write(msgspec.json.encode(checkpoint))
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
