"""Department batch import: a CSV or JSON Lines export into ``gridwall.departments.records``.

:class:`Importer` streams the file (:mod:`ingest.import_rows`), checks and geocodes each
row, and settles it in batches: accepted rows go to the records topic keyed by ``grid_id``,
rejected rows to the reject file (JSON Lines: row, line, code, field, reason, raw) and to
the dead-letter topic (stage ``import``). Guarantees:

* every row is settled exactly once: accepted (in Kafka once) or rejected (once in the reject
  file and once in the dead-letter topic), including across interruptions — the checkpoint
  (:mod:`ingest.import_checkpoint`) records the last settled row, and a batch that was in
  flight when the process died is reconciled against the topics (:mod:`ingest.import_scan`)
  before anything of it is sent again;
* a checkpoint is only moved after Kafka acknowledged (acks=all) the batch's messages and the
  reject file was fsynced;
* without ``resume`` an existing checkpoint stops the import (nothing is produced twice by
  accident); ``restart`` discards it and starts from the first row;
* memory use does not depend on the file size.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

import msgspec

from core.kafka_records import KafkaUnavailable, OutRecord, Writer
from core.settings import Settings
from domain.contracts.topics import DEAD_LETTER, DEPARTMENT_RECORDS, TopicSpec
from domain.geo import Street
from domain.schemas import DeadLetter
from domain.wire import WireError, decode, encode
from ingest import import_checkpoint as checkpoints
from ingest.import_checkpoint import Checkpoint, Pending
from ingest.import_progress import ImportProgress
from ingest.import_rows import (
    Format,
    RawRow,
    RowChecker,
    RowReject,
    prefix_digest,
    read_header,
    read_rows,
)
from ingest.import_scan import Message, Offsets

STAGE = "import"
RAW_LIMIT = 65536  # the gateway's dead-letter cap too
TOPICS = (DEPARTMENT_RECORDS, DEAD_LETTER)


class ImportFailed(RuntimeError):
    """The import cannot go on; the message says why and what to do."""



class Log(Protocol):
    """What the importer needs of :class:`~ingest.import_scan.TopicLog`."""

    def end_offsets(self, specs: Iterable[TopicSpec]) -> Offsets:
        """The next offset to be written in every partition of ``specs``."""

    def read(self, start: Offsets) -> Iterable[Message]:
        """Every message from ``start`` up to the current end."""


@dataclass(frozen=True)
class ImportPaths:
    """The input and the two files an import writes beside it by default."""

    input: Path
    reject_file: Path
    checkpoint: Path

    @classmethod
    def beside(cls, input_path: Path, department: str, reject_file: Path | None = None,
               checkpoint: Path | None = None) -> ImportPaths:
        """Defaults: ``FILE.rejects.jsonl`` and ``FILE.<department>.checkpoint.json``."""
        return cls(input_path, reject_file or input_path.with_name(input_path.name
                                                                   + ".rejects.jsonl"),
                   checkpoint or input_path.with_name(f"{input_path.name}.{department}"
                                                      ".checkpoint.json"))


@dataclass
class RunTotals:
    """What one run (one invocation) did."""

    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    reconciled: int = 0  # messages of an interrupted batch found already in Kafka


def import_id(path: Path, department: str, topic_prefix: str) -> str:
    """A stable id of (file, department, topic prefix)."""
    key = f"{path.resolve()}|{department}|{topic_prefix}".encode()
    return hashlib.sha256(key).hexdigest()[:16]


class Importer:
    """One import of one file for one department (see the module docstring)."""

    def __init__(self, settings: Settings, paths: ImportPaths, department: str, fmt: Format,
                 *, writer: Writer, log: Log, street: Street, batch_size: int = 500,
                 encoding: str = "utf-8-sig", progress: ImportProgress | None = None,
                 after_send: Callable[[int], None] | None = None,
                 now_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
        self.settings = settings
        self.paths = paths
        self.department = department
        self.fmt = fmt
        self._writer = writer
        self._log = log
        self._checker = RowChecker(street, department)
        self._batch_size = batch_size
        self._encoding = encoding
        self._progress = progress
        self._after_send = after_send  # test hook: runs after the ack, before settling
        self._now_ms = now_ms
        self.totals = RunTotals()

    def run(self, *, resume: bool = False, restart: bool = False,
            limit: int | None = None) -> Checkpoint:
        """Import (or continue importing) the file; stop after ``limit`` rows if given.

        Returns the checkpoint as left by this run (``complete`` once the file is done).
        Raises :class:`ImportFailed` when it cannot start or Kafka stops acknowledging.
        """
        checkpoint = self._start(resume, restart)
        if checkpoint.complete:
            return checkpoint
        skip = self._reconcile(checkpoint.pending) if checkpoint.pending else Counter()
        with open(self.paths.input, "rb") as stream, \
                open(self.paths.reject_file, "ab") as rejects:
            digest = self._verified_digest(stream, checkpoint)
            header = read_header(stream, self._encoding)[0] if self.fmt == "csv" else None
            rows = read_rows(stream, self.fmt, offset=checkpoint.done_offset,
                             first_row=checkpoint.done_row + 1,
                             first_line=checkpoint.done_line + 1, encoding=self._encoding,
                             header=header, digest=digest)
            while limit is None or self.totals.rows < limit:
                size = self._batch_size if limit is None else min(self._batch_size,
                                                                   limit - self.totals.rows)
                batch = list(itertools.islice(rows, size))
                if not batch:
                    checkpoint.complete = True
                    break
                self._settle(checkpoint, batch, skip, rejects, digest)
        checkpoints.save(self.paths.checkpoint, checkpoint)
        if self._progress:
            self._progress.update(checkpoint.done_offset, self.totals.rows,
                                  checkpoint.accepted, checkpoint.rejected_total, force=True)
            self._progress.finish()
        return checkpoint

    def _start(self, resume: bool, restart: bool) -> Checkpoint:
        """The checkpoint to continue from, after the safety checks of the module docstring."""
        if not self.paths.input.is_file():
            raise ImportFailed(f"{self.paths.input}: no such file")
        existing = checkpoints.load(self.paths.checkpoint)
        if existing is not None and restart:
            self.paths.checkpoint.unlink()
            existing = None
        if existing is not None and not resume:
            state = "finished" if existing.complete else f"rows 1..{existing.done_row} settled"
            raise ImportFailed(
                f"{self.paths.checkpoint} records an earlier import of this file ({state}): "
                "pass --resume to continue it, or --restart to import again from the first row")
        if existing is not None:
            self._check_same_import(existing)
            self._trim_rejects(existing.reject_bytes)
            return existing
        self.paths.reject_file.write_bytes(b"")
        checkpoint = Checkpoint(
            import_id=import_id(self.paths.input, self.department, self.settings.topic_prefix),
            input=str(self.paths.input.resolve()), department=self.department,
            format=self.fmt, topic_prefix=self.settings.topic_prefix)
        if self.fmt == "csv":
            with open(self.paths.input, "rb") as stream:
                try:
                    checkpoint.done_offset = read_header(stream, self._encoding)[1]
                except ValueError as exc:
                    raise ImportFailed(f"{self.paths.input}: {exc}") from None
            checkpoint.done_line = 1
        return checkpoint

    def _check_same_import(self, checkpoint: Checkpoint) -> None:
        expected = import_id(self.paths.input, self.department, self.settings.topic_prefix)
        if checkpoint.import_id != expected or checkpoint.format != self.fmt:
            raise ImportFailed(f"{self.paths.checkpoint} belongs to another import "
                               f"({checkpoint.input}, {checkpoint.department}, "
                               f"{checkpoint.format}, topic prefix "
                               f"'{checkpoint.topic_prefix}')")

    def _trim_rejects(self, size: int) -> None:
        """Cut the reject file back to what the checkpoint settled (drop a torn batch)."""
        current = self.paths.reject_file.stat().st_size if self.paths.reject_file.exists() \
            else 0
        if current < size:
            raise ImportFailed(f"{self.paths.reject_file} is shorter than the checkpoint says "
                               f"({current} < {size} bytes): it was changed; use --restart")
        with open(self.paths.reject_file, "r+b") as out:
            out.truncate(size)

    def _verified_digest(self, stream: BinaryIO, checkpoint: Checkpoint) -> hashlib._Hash:
        """The digest of the settled part of the input, checked against the checkpoint."""
        digest = prefix_digest(stream, checkpoint.done_offset)
        if checkpoint.digest and digest.hexdigest() != checkpoint.digest:
            raise ImportFailed(f"{self.paths.input} changed since the checkpoint was written "
                               "(its first rows differ): use --restart")
        return digest

    def _reconcile(self, pending: Pending) -> Counter[bytes]:
        """What of the interrupted batch Kafka already holds: identities with counts."""
        found: Counter[bytes] = Counter()
        names = {spec.name(self.settings.topic_prefix): spec for spec in TOPICS}
        start = {topic: dict(parts) for topic, parts in pending.offsets.items()}
        for message in self._log.read(start):
            spec = names.get(message.topic)
            if spec is DEPARTMENT_RECORDS:
                found[message.value] += 1
            elif spec is DEAD_LETTER:
                try:
                    letter = decode(message.value, DeadLetter)
                except WireError:
                    continue  # not ours, whatever it is
                if letter.stage == STAGE:
                    found[letter.raw.encode()] += 1
        return found

    def _settle(self, checkpoint: Checkpoint, batch: list[RawRow], skip: Counter[bytes],
                rejects: BinaryIO, digest: hashlib._Hash) -> None:
        """Send a batch, then record it as settled (see the module docstring)."""
        out: list[OutRecord] = []
        refused: list[RowReject] = []
        for row in batch:
            result = self._checker.check(row)
            if isinstance(result, RowReject):
                refused.append(result)
                record, identity = self._dead_letter(checkpoint, result)
            else:
                record = OutRecord(DEPARTMENT_RECORDS, result.grid_id or "", encode(result))
                identity = record.value
            if skip[identity] > 0:  # Kafka took it before the interruption
                skip[identity] -= 1
                self.totals.reconciled += 1
                continue
            out.append(record)
        first, last = batch[0], batch[-1]
        checkpoint.pending = Pending(first_row=first.number, last_row=last.number,
                                     offsets=self._log.end_offsets(TOPICS))
        checkpoints.save(self.paths.checkpoint, checkpoint)
        try:
            self._writer.send_all(out)
        except KafkaUnavailable as exc:
            raise ImportFailed(f"Kafka did not acknowledge rows {first.number}..{last.number}"
                               f" ({exc}); run again with --resume once Kafka is back") from exc
        if self._after_send:
            self._after_send(last.number)
        for reject in refused:
            rejects.write(reject_line(reject))
        rejects.flush()
        os.fsync(rejects.fileno())
        labels = Counter(reject.label for reject in refused)
        checkpoint.rejected = dict(Counter(checkpoint.rejected) + labels)
        checkpoint.accepted += len(batch) - len(refused)
        checkpoint.done_row, checkpoint.done_line = last.number, last.line
        checkpoint.done_offset = last.end_offset
        checkpoint.digest = digest.copy().hexdigest()
        checkpoint.reject_bytes = rejects.tell()
        checkpoint.pending = None
        checkpoints.save(self.paths.checkpoint, checkpoint)
        self.totals.rows += len(batch)
        self.totals.accepted += len(batch) - len(refused)
        self.totals.rejected += len(refused)
        if self._progress:
            self._progress.update(last.end_offset, self.totals.rows, checkpoint.accepted,
                                  checkpoint.rejected_total)

    def _dead_letter(self, checkpoint: Checkpoint, reject: RowReject) -> tuple[OutRecord, bytes]:
        """The dead-letter record of a refused row and its identity (stable across runs)."""
        raw = json.dumps({"import_id": checkpoint.import_id, "file": self.paths.input.name,
                          "row": reject.row.number, "line": reject.row.line,
                          "data": reject.row.text[:RAW_LIMIT]}, ensure_ascii=False)
        letter = DeadLetter(source=f"import.{self.department}",
                            reason=f"{reject.code}: {reject.reason}", ts=self._now_ms(),
                            stage=STAGE, field=reject.field, raw=raw,
                            raw_truncated=len(reject.row.text) > RAW_LIMIT)
        return OutRecord(DEAD_LETTER, letter.source, encode(letter)), raw.encode()


def reject_line(reject: RowReject) -> bytes:
    """One line of the reject file (JSON, newline-terminated)."""
    return msgspec.json.encode({"row": reject.row.number, "line": reject.row.line,
                                "code": reject.code, "field": reject.field,
                                "reason": reject.reason, "raw": reject.row.text}) + b"\n"


def summary(checkpoint: Checkpoint, totals: RunTotals, paths: ImportPaths) -> list[str]:
    """Human-readable summary lines: totals of the whole import and of this run."""
    state = "complete" if checkpoint.complete else f"stopped after row {checkpoint.done_row}"
    lines = [f"import {state}: {checkpoint.done_row:,} rows, accepted {checkpoint.accepted:,}, "
             f"rejected {checkpoint.rejected_total:,}",
             f"  this run: {totals.rows:,} rows, accepted {totals.accepted:,}, rejected "
             f"{totals.rejected:,}" + (f", {totals.reconciled} found already in Kafka after "
                                       "an interruption" if totals.reconciled else "")]
    for label, count in sorted(checkpoint.rejected.items(), key=lambda kv: -kv[1]):
        lines.append(f"  rejected {count:,}: {label}")
    if checkpoint.rejected_total:
        lines.append(f"  reject file: {paths.reject_file}")
    if not checkpoint.complete:
        lines.append(f"  checkpoint: {paths.checkpoint} (continue with --resume)")
    return lines

