"""Reading the policy and directory YAML files under ``config/``.

One place turns a missing or malformed file into the caller's own error type, with a
message that names the file, and refuses keys a section does not know (naming the first).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml


def read_yaml(path: Path, error: type[Exception], what: str = "policy") -> Any:
    """The parsed content of ``path``; raises ``error`` naming the path when the file is
    missing ("<what> file not found") or not valid YAML."""
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise error(f"{path}: {what} file not found") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from None


def only_keys(data: Mapping[str, Any], allowed: tuple[str, ...], where: str,
              error: type[Exception]) -> None:
    """Raise ``error`` naming ``where.<key>`` for the first key of ``data`` (sorted) that is
    not in ``allowed``."""
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise error(f"{where}.{unknown[0]}: unknown key (allowed: {', '.join(allowed)})")
