"""``GET /open311/v2/services.json`` and ``/services/{service_code}.json``.

One service per case category of :mod:`domain.vocab`; none has extra attributes
(``metadata: false``), so a service definition lists no attributes.
"""

from __future__ import annotations

from domain.vocab import CATEGORIES

SERVICE_NAMES: dict[str, str] = {
    "environment": "环境卫生 Environment and sanitation",
    "public_safety": "治安隐患 Public safety",
    "fire_hazard": "消防隐患 Fire hazard",
    "road_facility": "道路设施 Roads and street furniture",
    "dispute": "矛盾纠纷 Neighbourhood dispute",
    "illegal_construction": "违章建筑 Illegal construction",
    "greening": "园林绿化 Greening",
    "water_supply": "供水排水 Water supply and drainage",
    "noise": "噪声扰民 Noise",
    "elderly_care": "养老服务 Elderly care",
    "other": "其他 Other",
}
GROUPS: dict[str, str] = {
    "public_safety": "safety", "fire_hazard": "safety", "dispute": "safety",
    "elderly_care": "people",
}


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
