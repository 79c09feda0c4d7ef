"""``GET /open311/v2/services.json`` and ``/services/{service_code}.json``.

One service per case category of the catalog (:mod:`domain.contracts.vocabulary`); none has
extra attributes (``metadata: false``), so a service definition lists no attributes.
"""

from __future__ import annotations

from domain.contracts.vocabulary import CATEGORY_CATALOG
from domain.vocab import CATEGORIES

# From the catalog (domain.contracts.vocabulary): service name and group of each category.
SERVICE_NAMES: dict[str, str] = {c.name: f"{c.service.zh} {c.service.en}"
                                 for c in CATEGORY_CATALOG}
GROUPS: dict[str, str] = {c.name: c.group for c in CATEGORY_CATALOG}


def service_list() -> list[dict[str, object]]:
    """Every service, in vocabulary order."""
    return [{"service_code": code, "service_name": SERVICE_NAMES.get(code, code),
             "description": SERVICE_NAMES.get(code, code), "metadata": False,
             "type": "realtime", "keywords": code.replace("_", " "),
             "group": GROUPS.get(code, "city")} for code in CATEGORIES]


def service_definition(code: str) -> dict[str, object] | None:
    """The definition of ``code`` (no attributes), or None for an unknown code."""
    if code not in CATEGORIES:
        return None
    return {"service_code": code, "attributes": []}
