"""What public Open311 reads may show: the publication policy (``config/publication.yaml``).

Guarantees: :meth:`Publication.publish` never returns a case of a hidden category to a
public reader, rounds a public reader's coordinates to ``coordinate_decimals``, and masks
phones, ID numbers and e-mails (:func:`domain.privacy.mask_text`) in the description and the
status notes for every reader. A missing file means the defaults (3 decimals; elderly care
and disputes hidden); a malformed one fails at start naming the problem.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from domain.organisation import OrganisationError, load_directory
from domain.privacy import mask_text
from domain.vocab import CATEGORIES
from ingest.gateway.case_view import CaseRecord
from ingest.gateway.open311.format import service_request

FILE = "publication.yaml"
ORGANISATION = "organisation.yaml"
DEFAULT_HIDDEN = frozenset({"elderly_care", "dispute"})


class PublicationError(ValueError):
    """The publication file is malformed; the message says where."""


@dataclass(frozen=True)
class Publication:
    """Coordinate precision and hidden categories of public reads."""

    coordinate_decimals: int = 3
    hidden: frozenset[str] = field(default=DEFAULT_HIDDEN)
    agencies: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, config_dir: str | Path) -> Publication:
        """The policy of ``<config_dir>/publication.yaml`` (defaults if there is none), with
        the units' names of ``<config_dir>/organisation.yaml`` as agencies (none if it is
        missing; a malformed one fails at start naming the problem)."""
        policy = cls._load_policy(Path(config_dir) / FILE)
        return replace(policy, agencies=agencies(Path(config_dir) / ORGANISATION))

    @classmethod
    def _load_policy(cls, path: Path) -> Publication:
        if not path.exists():
            return cls()
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise PublicationError(f"{path}: not valid YAML: {exc}") from None
        return cls.from_mapping(data, str(path))

    @classmethod
    def from_mapping(cls, data: Any, where: str = FILE) -> Publication:
        """Validate plain data into a policy."""
        if not isinstance(data, Mapping):
            raise PublicationError(f"{where}: expected a mapping")
        decimals = data.get("coordinate_decimals", 3)
        if not isinstance(decimals, int) or isinstance(decimals, bool) or not 0 <= decimals <= 6:
            raise PublicationError(f"{where}: coordinate_decimals must be an integer 0-6")
        marks = data.get("categories") or {}
        if not isinstance(marks, Mapping):
            raise PublicationError(f"{where}: categories must map a category to public|hidden")
        for category, mark in marks.items():
            if category not in CATEGORIES or mark not in ("public", "hidden"):
                raise PublicationError(f"{where}: categories.{category}: expected a known "
                                       "category marked public or hidden")
        hidden = frozenset(c for c, mark in marks.items() if mark == "hidden")
        return cls(decimals, hidden)

    def publish(self, cases: Iterable[CaseRecord], trusted: bool) -> list[dict[str, object]]:
        """The service request objects a reader may see (``trusted``: a token that may view)."""
        return [self._request(case, trusted) for case in cases
                if trusted or case.category not in self.hidden]

    def _request(self, case: CaseRecord, trusted: bool) -> dict[str, object]:
        data = service_request(case, self.agencies)
        data["description"] = mask_text(case.description) or ""
        data["status_notes"] = mask_text(case.status_notes) or ""
        if not trusted:
            for name in ("lat", "long"):
                value = data[name]
                if isinstance(value, float):
                    data[name] = round(value, self.coordinate_decimals)
        return data


def agencies(path: Path) -> dict[str, str]:
    """Unit id -> name as Open311 shows it (``name name_en``), from the organisation file;
    empty if there is none; :class:`PublicationError` if it is malformed."""
    if not path.exists():
        return {}
    try:
        directory = load_directory(path)
    except OrganisationError as exc:
        raise PublicationError(str(exc)) from None
    return {u.id: f"{u.name} {u.name_en}".strip() for u in directory.units.values()}
