"""The vocabulary catalog: one record per sensor kind, case category, department, record type.

Everything else derives from these records: the closed ``Literal`` types of the wire schemas
(:mod:`domain.vocab`), the plausible ranges (:mod:`domain.plausible`), the alert category of
a sensor reading (:func:`alert_category`), the wall's labels in Chinese and English
(:func:`vocabulary_labels`, merged into ``wall.app.i18n``), the Open311 service list, the
street's sensor mix (``domain.geo_build``) and the simulator's readings
(``ingest.simulator``), the attributes a department record may carry and the register
figures of a new record type. What stays outside, on purpose: the alert bands of each
sensor kind live in ``config/thresholds.yaml`` and the deadlines of each category in
``config/sla.yaml``, because both are tuned live through the control topic; the tests of
``tests/unit/test_contracts_vocabulary.py`` fail when a record has no entry there.

Guarantees (checked at import): names are unique; every sensor kind's alert category is a
category of this catalog; every plausible range is non-empty; the simulated values of a kind
lie inside its plausible range; a category the simulator reports has phrases; a record type
has at most :data:`MAX_ATTRIBUTES` attributes; every department sends at least one record
type, and only record types of :data:`RECORD_TYPES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Labels:
    """A name shown to people, in Chinese (the default) and English."""

    zh: str
    en: str


@dataclass(frozen=True)
class Simulation:
    """How the simulator draws readings of a sensor kind.

    Normal readings are gaussian around ``mean`` (``night_mean`` at night when given) with
    ``spread``, clamped to ``[0, normal_max]``; readings of an anomaly episode are uniform in
    ``[anomaly_low, anomaly_high]``. ``normal_max`` must lie below the kind's
    ``warning_above`` in ``config/thresholds.yaml`` and ``anomaly_low`` above it (tested), so
    normal readings never alert and anomalies always do.
    """

    mean: float
    spread: float
    normal_max: float
    anomaly_low: float
    anomaly_high: float
    decimals: int = 2
    night_mean: float | None = None


@dataclass(frozen=True)
class SensorKindSpec:
    """A sensor kind: unit, plausible range, alert category, labels, share, simulation.

    ``low``..``high`` is what the physical quantity can be (full scale of common detectors),
    far wider than the alert bands; a value outside is a broken sensor or a forged reading.
    ``label.zh`` is also the device name of the street's sensors of this kind. ``weight`` is
    the kind's relative share of the street's sensors.
    """

    name: str
    unit: str
    low: float
    high: float
    alert_category: str
    label: Labels
    weight: int
    simulation: Simulation


@dataclass(frozen=True)
class CategorySpec:
    """A case category: wall labels, Open311 service name and group.

    The Open311 ``service_code`` is the category's name; ``service`` is the longer name of
    the Open311 service list; ``group`` its Open311 group (``city``, ``safety``, ``people``).
    For the simulator: ``reports`` the category's relative weight among the reports of each
    origin of :data:`REPORT_ORIGINS` (an origin left out never reports it), ``phrases`` what
    such reports say.
    """

    name: str
    label: Labels
    service: Labels
    group: str = "city"
    reports: tuple[tuple[str, float], ...] = ()
    phrases: tuple[str, ...] = ()


@dataclass(frozen=True)
class DepartmentSpec:
    """A department whose system sends records, and the record types it may send."""

    name: str
    label: Labels
    record_types: tuple[str, ...]


# Who reports cases in the simulator: residents, grid workers on patrol, property managers.
REPORT_ORIGINS: tuple[str, ...] = ("resident", "patrol", "property")


def mix(resident: float = 0, patrol: float = 0, property: float = 0
        ) -> tuple[tuple[str, float], ...]:
    """A category's report weights per origin (see :attr:`CategorySpec.reports`)."""
    weights = {"resident": resident, "patrol": patrol, "property": property}
    return tuple((origin, w) for origin, w in weights.items() if w)


@dataclass(frozen=True)
class AttributeSpec:
    """One department attribute: its JSON type and plausible values.

    ``kind`` is ``int`` (a whole number from ``low`` to ``high``), ``float`` (a number in that
    range), ``bool``, or ``str`` (at most ``max_length`` characters, one of ``choices`` when
    they are given).
    """

    kind: Literal["int", "float", "bool", "str"]
    low: float = 0
    high: float = 0
    choices: tuple[str, ...] = ()
    max_length: int = 128


def _count(high: int) -> AttributeSpec:
    return AttributeSpec("int", 0, high)


def _text(max_length: int = 128) -> AttributeSpec:
    return AttributeSpec("str", max_length=max_length)


def _one_of(*choices: str) -> AttributeSpec:
    return AttributeSpec("str", choices=choices)


# Special groups and incident kinds become figure names on the wall (group.<g>,
# incident.<kind>), so their values are closed sets too.
SPECIAL_GROUPS: tuple[str, ...] = (
    "elderly_living_alone", "disabled", "low_income",
    "community_corrections", "drug_rehabilitation", "severe_mental_illness",
    "left_behind_child", "veteran", "other")
INCIDENT_KINDS: tuple[str, ...] = (
    "theft", "traffic_accident", "fire_alarm", "gas_leak", "pollution_complaint",
    "workplace_injury", "public_health_event", "other")

_PERSON: dict[str, AttributeSpec] = {
    "gender": _one_of("male", "female", "other"),
    "birth_year": AttributeSpec("int", 1880, 2100),
    "age": AttributeSpec("int", 0, 130),
    "elderly": AttributeSpec("bool"),
    "household_id": _text(64),
    "address": _text(200),
    "residence": _one_of("registered", "floating"),
}
_PLACE: dict[str, AttributeSpec] = {"name": _text(), "address": _text(200), "code": _text(64)}

MAX_ATTRIBUTES = 32  # per record: more than any record type defines


@dataclass(frozen=True)
class RecordTypeSpec:
    """A record type of department systems: its labels and its closed set of attributes.

    A record of a type without a register rule of its own (``streams/registers/book.py``
    has rules for the types below) counts one in its grid under the figure
    ``record.<type>`` (:func:`record_figure_key`).
    """

    name: str
    label: Labels
    attributes: Mapping[str, AttributeSpec]


RECORD_TYPE_CATALOG: tuple[RecordTypeSpec, ...] = (
    RecordTypeSpec("resident", Labels("居民", "Residents"), _PERSON),
    RecordTypeSpec("special_group", Labels("特殊人群", "Special groups"),
                   {**_PERSON, "group": _one_of(*SPECIAL_GROUPS), "care_level": _text(16),
                    "days_since_visit": _count(36_500)}),
    RecordTypeSpec("building", Labels("楼栋", "Buildings"),
                   {**_PLACE, "number": _count(100_000), "floors": _count(300),
                    "units": _count(1_000), "households": _count(100_000),
                    "year_built": AttributeSpec("int", 1000, 2100), "structure": _text(32),
                    "has_elevator": AttributeSpec("bool")}),
    RecordTypeSpec("compound", Labels("小区", "Compounds"),
                   {**_PLACE, "households": _count(100_000), "buildings": _count(10_000),
                    "property_company": _text()}),
    RecordTypeSpec("enterprise", Labels("企业", "Enterprises"),
                   {**_PLACE, "credit_code": _text(32), "industry": _text(64),
                    "employees": _count(1_000_000),
                    "hazardous_chemicals": AttributeSpec("bool"),
                    "days_since_inspection": _count(36_500)}),
    RecordTypeSpec("party_org", Labels("党组织", "Party organisations"),
                   {**_PLACE, "members": _count(1_000_000)}),
    RecordTypeSpec("incident", Labels("事件", "Incidents"),
                   {"kind": _one_of(*INCIDENT_KINDS),
                    "severity": _one_of("minor", "moderate", "major", "critical"),
                    "casualties": _count(10_000), "address": _text(200),
                    "note": _text(500)}),
)
RECORD_TYPES: tuple[str, ...] = tuple(r.name for r in RECORD_TYPE_CATALOG)

CATEGORY_CATALOG: tuple[CategorySpec, ...] = (
    CategorySpec("environment", Labels("环境卫生", "Environment"),
                 Labels("环境卫生", "Environment and sanitation"), "city",
                 mix(resident=20, patrol=26, property=20),
                 ("小区门口垃圾堆积未及时清运", "路边有人乱倒建筑垃圾", "垃圾分类桶满溢",
                  "楼道内堆放杂物", "沿街商户油烟直排")),
    CategorySpec("public_safety", Labels("治安", "Public safety"),
                 Labels("治安隐患", "Public safety"), "safety",
                 mix(resident=8, patrol=10, property=15),
                 ("小区路灯损坏夜间照明不足", "有陌生人多次在楼道徘徊", "电动车在楼道内充电",
                  "围墙破损存在安全隐患")),
    CategorySpec("fire_hazard", Labels("消防隐患", "Fire hazard"),
                 Labels("消防隐患", "Fire hazard"), "safety",
                 mix(resident=4, patrol=12, property=20),
                 ("消防通道被车辆堵塞", "楼道灭火器过期", "沿街商铺私拉电线",
                  "地下室堆放易燃物品")),
    CategorySpec("road_facility", Labels("道路设施", "Road facility"),
                 Labels("道路设施", "Roads and street furniture"), "city",
                 mix(resident=10, patrol=16, property=10),
                 ("人行道地砖松动", "路面出现坑洼", "井盖缺失", "交通护栏倾倒")),
    CategorySpec("dispute", Labels("矛盾纠纷", "Dispute"),
                 Labels("矛盾纠纷", "Neighbourhood dispute"), "safety",
                 mix(resident=8, patrol=4),
                 ("邻里因噪音发生纠纷", "业主与物业因停车位发生争执", "租户与房东押金纠纷")),
    CategorySpec("illegal_construction", Labels("违章建筑", "Illegal building"),
                 Labels("违章建筑", "Illegal construction"), "city",
                 mix(resident=5, patrol=10),
                 ("楼顶私自搭建彩钢房", "一楼住户私自扩建院墙", "占用绿地搭建棚屋")),
    CategorySpec("greening", Labels("绿化", "Greening"), Labels("园林绿化", "Greening"), "city",
                 mix(resident=5, patrol=10),
                 ("绿化带树木倒伏", "草坪被占用种菜", "行道树枝叶遮挡信号灯")),
    CategorySpec("water_supply", Labels("供水", "Water supply"),
                 Labels("供水排水", "Water supply and drainage"), "city",
                 mix(resident=8, property=25),
                 ("小区停水未提前通知", "自来水管道破裂漏水", "水压不足高层无水")),
    CategorySpec("noise", Labels("噪声", "Noise"), Labels("噪声扰民", "Noise"), "city",
                 mix(resident=14),
                 ("夜间广场舞音响声音过大", "工地夜间施工噪音扰民", "商铺高音喇叭揽客")),
    CategorySpec("elderly_care", Labels("养老服务", "Elderly care"),
                 Labels("养老服务", "Elderly care"), "people",
                 mix(resident=6, patrol=6),
                 ("独居老人多日未出门", "高龄老人需要上门服务", "老人走失求助")),
    CategorySpec("other", Labels("其他", "Other"), Labels("其他", "Other"), "city",
                 mix(resident=12, patrol=6, property=10),
                 ("宠物狗未拴绳", "小广告乱张贴", "共享单车乱停放")),
)

# Order matters to the street generator (domain.geo_build draws kinds in this order): a new
# kind goes at the end, so the street's existing sensors keep their kinds.
SENSOR_CATALOG: tuple[SensorKindSpec, ...] = (
    SensorKindSpec("smoke", "%obs/m", 0.0, 100.0, "fire_hazard",
                   Labels("烟感探测器", "Smoke detector"), 30,
                   Simulation(0.05, 0.03, 2.7, 3.5, 12.0, decimals=3)),
    SensorKindSpec("gas", "%LEL", 0.0, 100.0, "fire_hazard",
                   Labels("燃气探测器", "Gas detector"), 20,
                   Simulation(2.0, 1.0, 9.0, 12.0, 40.0)),
    SensorKindSpec("water_level", "cm", -500.0, 2_000.0, "water_supply",
                   Labels("水位监测仪", "Water level gauge"), 10,
                   Simulation(8.0, 4.0, 27.0, 35.0, 90.0, decimals=1)),
    SensorKindSpec("manhole_cover", "deg tilt", 0.0, 180.0, "road_facility",
                   Labels("井盖监测器", "Manhole cover monitor"), 15,
                   Simulation(0.5, 0.3, 4.5, 8.0, 60.0, decimals=1)),
    SensorKindSpec("noise", "dB(A)", 0.0, 194.0, "noise",
                   Labels("噪声监测仪", "Noise meter"), 10,
                   Simulation(55.0, 4.0, 63.0, 72.0, 95.0, decimals=1, night_mean=42.0)),
    SensorKindSpec("air_quality", "AQI", 0.0, 1_000.0, "environment",
                   Labels("空气质量监测站", "Air quality station"), 15,
                   Simulation(60.0, 20.0, 135.0, 160.0, 380.0, decimals=0)),
)

DEPARTMENT_CATALOG: tuple[DepartmentSpec, ...] = (
    DepartmentSpec("police", Labels("公安", "Police"),
                   ("resident", "special_group", "incident")),
    DepartmentSpec("civil_affairs", Labels("民政", "Civil affairs"),
                   ("resident", "special_group", "compound", "party_org")),
    DepartmentSpec("social_security", Labels("人社", "Social security"), ("special_group",)),
    DepartmentSpec("justice", Labels("司法", "Justice"), ("special_group",)),
    DepartmentSpec("health", Labels("卫健", "Health"), ("special_group", "incident")),
    DepartmentSpec("safety_supervision", Labels("应急管理", "Safety supervision"),
                   ("building", "enterprise", "incident")),
    DepartmentSpec("environment", Labels("生态环境", "Environment"), ("enterprise", "incident")),
    DepartmentSpec("fire", Labels("消防", "Fire"), ("building", "enterprise", "incident")),
)

SENSOR_BY_NAME: dict[str, SensorKindSpec] = {s.name: s for s in SENSOR_CATALOG}
CATEGORY_BY_NAME: dict[str, CategorySpec] = {c.name: c for c in CATEGORY_CATALOG}
DEPARTMENT_BY_NAME: dict[str, DepartmentSpec] = {d.name: d for d in DEPARTMENT_CATALOG}


class CatalogError(ValueError):
    """A catalog that breaks one of the guarantees of the module docstring."""


def check_catalog(sensors: tuple[SensorKindSpec, ...], categories: tuple[CategorySpec, ...],
                  departments: tuple[DepartmentSpec, ...]) -> None:
    """Raise :class:`CatalogError` naming the first record that breaks a guarantee."""
    for kind, names in (("sensor kind", [s.name for s in sensors]),
                        ("category", [c.name for c in categories]),
                        ("department", [d.name for d in departments])):
        if len(set(names)) != len(names):
            raise CatalogError(f"{kind} names must be unique: {names}")
    known = {c.name for c in categories}
    for s in sensors:
        if s.alert_category not in known:
            raise CatalogError(f"sensor kind {s.name}: alert category {s.alert_category!r} "
                               "is not a category of the catalog")
        sim = s.simulation
        if not s.low < s.high:
            raise CatalogError(f"sensor kind {s.name}: empty plausible range")
        if not s.low <= 0.0 <= sim.normal_max < sim.anomaly_low <= sim.anomaly_high <= s.high:
            raise CatalogError(f"sensor kind {s.name}: simulated values must satisfy low <= 0 "
                               "<= normal_max < anomaly_low <= anomaly_high <= high")
        if s.weight <= 0:
            raise CatalogError(f"sensor kind {s.name}: weight must be positive")
    for c in categories:
        origins = [origin for origin, _ in c.reports]
        if not set(origins) <= set(REPORT_ORIGINS) or any(w <= 0 for _, w in c.reports):
            raise CatalogError(f"category {c.name}: report weights must be positive, per "
                               f"origin of {REPORT_ORIGINS}")
        if c.reports and not c.phrases:
            raise CatalogError(f"category {c.name}: a reported category needs phrases")
    for r in RECORD_TYPE_CATALOG:
        if len(r.attributes) > MAX_ATTRIBUTES:
            raise CatalogError(f"record type {r.name}: more than {MAX_ATTRIBUTES} attributes")
    for d in departments:
        unknown = set(d.record_types) - set(RECORD_TYPES)
        if not d.record_types or unknown:
            raise CatalogError(f"department {d.name}: record types must be a non-empty "
                               f"subset of {RECORD_TYPES} (unknown: {sorted(unknown)})")


check_catalog(SENSOR_CATALOG, CATEGORY_CATALOG, DEPARTMENT_CATALOG)


def alert_category(sensor_kind: str) -> str:
    """The case category of the alerts a sensor of ``sensor_kind`` raises.

    Raises ``KeyError`` for a kind the catalog does not know: the wire schema only admits
    catalog kinds, so this never happens to a decoded reading, and a missed kind fails
    loudly instead of falling back to ``other``.
    """
    return SENSOR_BY_NAME[sensor_kind].alert_category


def sensor_label_key(kind: str) -> str:
    """The wall label key of a sensor kind (``sensor.<kind>``; a kind may share its name
    with a category, e.g. ``noise``)."""
    return f"sensor.{kind}"


def department_label_key(name: str) -> str:
    """The wall label key of a department (``department.<name>``)."""
    return f"department.{name}"


def record_figure_key(record_type: str) -> str:
    """The register figure (and wall label key) of a record type without its own rule."""
    return f"record.{record_type}"


def vocabulary_labels(sensors: tuple[SensorKindSpec, ...] = SENSOR_CATALOG,
                      categories: tuple[CategorySpec, ...] = CATEGORY_CATALOG,
                      departments: tuple[DepartmentSpec, ...] = DEPARTMENT_CATALOG
                      ) -> dict[str, tuple[str, str]]:
    """The (zh, en) label of every catalog entry, by wall label key.

    Categories are keyed by their own name, sensor kinds by :func:`sensor_label_key`,
    departments by :func:`department_label_key`, record types by :func:`record_figure_key`.
    """
    out = {c.name: (c.label.zh, c.label.en) for c in categories}
    out.update({sensor_label_key(s.name): (s.label.zh, s.label.en) for s in sensors})
    out.update({department_label_key(d.name): (d.label.zh, d.label.en) for d in departments})
    out.update({record_figure_key(r.name): (r.label.zh, r.label.en) for r in RECORD_TYPE_CATALOG})
    return out
