"""``gridwall import FILE --department NAME``: a department's CSV or JSON Lines export into
Kafka, with a progress bar, a reject file, a summary, and ``--resume`` after interruptions.

Exit code 0 when the run ended normally (rejected rows are reported, not failures), 1 when
the import could not start or Kafka stopped acknowledging (the checkpoint then allows
``--resume``), 2 for bad usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.settings import settings
from domain.vocab import DEPARTMENTS

if TYPE_CHECKING:
    from ingest.import_rows import Format

FORMATS_BY_SUFFIX: dict[str, Format] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl",
                                        ".json": "jsonl"}


def register(sub: Any) -> None:
    """Add ``import`` to ``sub``."""
    p = sub.add_parser("import", help="import a department's CSV / JSON Lines export")
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--department", required=True, choices=DEPARTMENTS)
    p.add_argument("--format", choices=("csv", "jsonl"),
                   help="default: from the file name (.csv, .jsonl / .ndjson / .json)")
    p.add_argument("--reject-file", type=Path, metavar="PATH",
                   help="where rejected rows go (default: FILE.rejects.jsonl)")
    p.add_argument("--checkpoint", type=Path, metavar="PATH",
                   help="checkpoint file (default: FILE.<department>.checkpoint.json)")
    p.add_argument("--resume", action="store_true",
                   help="continue after the last row the checkpoint settled")
    p.add_argument("--restart", action="store_true",
                   help="discard the checkpoint and import again from the first row")
    p.add_argument("--batch-size", type=int, default=500, metavar="N",
                   help="rows per Kafka round trip and checkpoint (default 500)")
    p.add_argument("--limit", type=int, metavar="N", help="stop after N rows in this run")
    p.add_argument("--encoding", default="utf-8-sig",
                   help="the file's text encoding (default utf-8, with or without BOM; "
                        "e.g. gb18030)")
    p.set_defaults(handler=import_cmd)


def import_cmd(args: argparse.Namespace) -> int:
    """Run one import and print its summary."""
    from domain.geo import street
    from ingest.import_progress import ImportProgress
    from ingest.importer import Importer, ImportFailed, ImportPaths, summary

    fmt: Format | None = args.format or FORMATS_BY_SUFFIX.get(args.file.suffix.lower())
    if fmt is None:
        print(f"gridwall import: cannot tell the format of {args.file}: pass --format",
              file=sys.stderr)
        return 2
    if args.resume and args.restart:
        print("gridwall import: --resume and --restart exclude each other", file=sys.stderr)
        return 2
    if args.batch_size <= 0 or (args.limit is not None and args.limit <= 0):
        print("gridwall import: --batch-size and --limit must be positive", file=sys.stderr)
        return 2
    s = settings()
    paths = ImportPaths.beside(args.file, args.department, args.reject_file, args.checkpoint)
    size = args.file.stat().st_size if args.file.is_file() else 0
    writer, log = _kafka(s)
    importer = Importer(s, paths, args.department, fmt, writer=writer, log=log,
                        street=street(), batch_size=args.batch_size, encoding=args.encoding,
                        progress=ImportProgress(size))
    try:
        checkpoint = importer.run(resume=args.resume, restart=args.restart, limit=args.limit)
    except ImportFailed as exc:
        print(f"\ngridwall import: {exc}", file=sys.stderr)
        return 1
    finally:
        writer.close()
        log.close()
    for line in summary(checkpoint, importer.totals, paths):
        print(line)
    return 0


def _kafka(s: Any) -> tuple[Any, Any]:
    from core.kafka_writer import KafkaWriter
    from ingest.import_scan import TopicLog

    return KafkaWriter(s, client_id="gridwall-import"), TopicLog(s)
