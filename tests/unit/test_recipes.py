"""The recipes of docs/extending.md, followed literally in a copy of ``domain/`` and ``config/``.

Each test edits only the files its recipe names (counted), then runs the real pure code of
the copy in a fresh interpreter (the copy's ``domain`` shadows the repository's; ``ingest``,
``streams`` and ``wall`` are the repository's): for a new sensor kind a simulated reading of
it raises an alert with the right category, labelled in both languages; for a new category
a report of it decodes, gets its deadlines and its Open311 service; for a new department its
record decodes and is labelled. Leaving out one of the recipe's files is named by
:func:`domain.contracts.checks.vocabulary_problems` or refused by the catalog at import.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VOCABULARY = Path("domain/contracts/vocabulary.py")
THRESHOLDS = Path("config/thresholds.yaml")
SLA = Path("config/sla.yaml")

NEW_KIND = '''    SensorKindSpec("ponding", "cm", 0.0, 300.0, "road_facility",
                   Labels("积水监测仪", "Ponding sensor"), 10,
                   Simulation(0.5, 0.5, 4.0, 12.0, 60.0, decimals=1)),
'''
NEW_KIND_BANDS = ('  ponding:        {unit: "cm", warning_above: 5.0, critical_above: 20.0, '
                  'heartbeat_s: 600}\n')
NEW_CATEGORY = '''    CategorySpec("flooding", Labels("内涝积水", "Flooding"),
                 Labels("内涝积水", "Street flooding"), "safety",
                 mix(resident=6, patrol=3), ("小区路面积水严重", "地下车库进水")),
'''
NEW_CATEGORY_SLA = "  flooding: {reported: 300, dispatched: 3600}\n"
NEW_RECORD_TYPE = '''    RecordTypeSpec("water_meter", Labels("智能水表", "Water meters"),
                   {"meter_id": _text(32), "reading_m3": AttributeSpec("float", 0, 1e7),
                    "leak_suspected": AttributeSpec("bool")}),
'''
NEW_DEPARTMENT = '''    DepartmentSpec("water_authority", Labels("水务", "Water authority"),
                   ("water_meter", "incident")),
'''


def _copy(tmp: Path) -> Path:
    root = tmp / "copy"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "domain", root / "domain", ignore=ignore)
    shutil.copytree(REPO / "config", root / "config", ignore=ignore)
    return root


def _insert(root: Path, path: Path, before: str, text: str) -> Path:
    """Insert ``text`` before the first ``before`` of the file; return the file."""
    target = root / path
    source = target.read_text()
    assert before in source, f"{path}: {before!r} not found (the recipe is out of date)"
    target.write_text(source.replace(before, text + before, 1))
    return path


def _run(root: Path, script: str) -> dict:
    """Run ``script`` in the copy (its domain/ and config/ first on the path)."""
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{REPO}",
           "GRIDWALL_GEO_DIR": str(root / "config" / "geo")}
    done = subprocess.run([sys.executable, "-c", script], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict = json.loads(done.stdout.strip().splitlines()[-1])
    assert result.pop("domain_from") == str(root / "domain" / "__init__.py")
    return result


PREAMBLE = """
import json, random
from pathlib import Path
import domain
from domain.contracts.checks import vocabulary_problems
out = {"domain_from": domain.__file__, "problems": vocabulary_problems(Path("config"))}
"""

SENSOR_SCRIPT = PREAMBLE + """
from domain.geo import street
from domain.schemas import SensorBatch
from domain.sensor_policy import load_sensor_policy
from domain.wire import decode
from ingest.simulator.sensors import PROFILES
from streams.sensors.detector import SensorDetector
from wall.app.i18n import tr
from wall.app.mapdata import sensor_rows

policy = load_sensor_policy(Path("config/thresholds.yaml"))
value = PROFILES["ponding"].anomalous(random.Random(1))
sensors = [s for s in street().sensors.values() if s.sensor_kind == "ponding"]
raw = json.dumps({"batch_id": "b1", "grid_id": sensors[0].grid_id, "received_ms": 1000,
                  "source": "simulator", "readings": [
                      {"sensor_id": sensors[0].sensor_id, "kind": "ponding", "value": value,
                       "ts": 1000, "grid_id": sensors[0].grid_id}]})
signals = SensorDetector(policy).update(decode(raw, SensorBatch))
category = signals[0].category
out.update(value=value, street_sensors=len(sensors),
           signals=[[s.kind, s.category, s.severity] for s in signals],
           labels=[tr(category, "zh"), tr(category, "en"), tr("sensor.ponding", "zh"),
                   tr("sensor.ponding", "en")],
           tips=[row["tip"] for row in sensor_rows(street(), set(), "en")
                 if sensors[0].sensor_id + "<" in row["tip"]])
print(json.dumps(out, ensure_ascii=False))
"""


def test_recipe_new_sensor_kind_takes_two_files(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    touched = {_insert(root, VOCABULARY, ")\n\nDEPARTMENT_CATALOG", NEW_KIND),
               _insert(root, THRESHOLDS, "anomaly:\n", NEW_KIND_BANDS)}
    # the street's data is generated, not edited: python -m domain.geo_build
    subprocess.run([sys.executable, "-m", "domain.geo_build", "--out", "config/geo"],
                   cwd=root, env={**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{REPO}"},
                   check=True, capture_output=True, timeout=120)
    result = _run(root, SENSOR_SCRIPT)
    assert len(touched) == 2
    assert result["problems"] == []
    assert result["street_sensors"] > 0
    assert result["value"] >= 12.0
    assert result["signals"] == [["sensor_threshold", "road_facility", "warning"]]
    assert result["labels"] == ["道路设施", "Road facility", "积水监测仪", "Ponding sensor"]
    assert len(result["tips"]) == 1 and "积水监测仪" in result["tips"][0]  # its device name
    assert "Ponding sensor" in result["tips"][0]  # the map's tooltip names its kind


def test_a_sensor_kind_without_its_threshold_is_named(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    _insert(root, VOCABULARY, ")\n\nDEPARTMENT_CATALOG", NEW_KIND)
    script = PREAMBLE + """
from domain.sensor_policy import load_sensor_policy
from domain.sla import PolicyError
try:
    load_sensor_policy(Path("config/thresholds.yaml"))
except PolicyError as exc:
    out.update(refused=str(exc))
print(json.dumps(out))
"""
    result = _run(root, script)
    assert result["problems"] == [
        "thresholds.yaml: kinds.ponding: missing (sensor kind ponding has no alert bands)"]
    assert result["refused"] == "kinds.ponding: required"


CATEGORY_SCRIPT = PREAMBLE + """
from domain.schemas import CaseEvent
from domain.sla import load_policy
from domain.wire import decode
from ingest.gateway.open311.services import service_list
from ingest.simulator.cases import CATEGORY_WEIGHTS
from ingest.simulator.phrases import description
from wall.app.i18n import tr

event = decode(json.dumps({"event_id": "e1", "case_id": "c1", "action": "report", "ts": 1,
                           "source": "resident_app", "category": "flooding",
                           "grid_id": "G001"}), CaseEvent)
sla = load_policy(Path("config/sla.yaml"))
out.update(category=event.category,
           deadlines=[sla.deadline_s("flooding", "normal", s) for s in ("reported", "handled")],
           service=[s for s in service_list() if s["service_code"] == "flooding"],
           labels=[tr("flooding", "zh"), tr("flooding", "en")],
           simulated=[CATEGORY_WEIGHTS[o].get("flooding") for o in CATEGORY_WEIGHTS],
           phrase=description(random.Random(1), "flooding"))
print(json.dumps(out, ensure_ascii=False))
"""


def test_recipe_new_case_category_takes_two_files(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    touched = {_insert(root, VOCABULARY, '    CategorySpec("other"', NEW_CATEGORY),
               _insert(root, SLA, "  fire_hazard:", NEW_CATEGORY_SLA)}
    result = _run(root, CATEGORY_SCRIPT)
    assert len(touched) == 2
    assert result["problems"] == []
    assert result["category"] == "flooding"
    assert result["deadlines"] == [300, 3600]  # its own override, else the default
    assert result["service"] == [{"service_code": "flooding",
                                  "service_name": "内涝积水 Street flooding",
                                  "description": "内涝积水 Street flooding", "metadata": False,
                                  "type": "realtime", "keywords": "flooding",
                                  "group": "safety"}]
    assert result["labels"] == ["内涝积水", "Flooding"]
    assert result["simulated"] == [6, 3, None]  # resident, patrol, property
    assert result["phrase"] in ("小区路面积水严重", "地下车库进水")


def test_a_category_may_skip_sla_yaml_and_takes_the_defaults(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    _insert(root, VOCABULARY, '    CategorySpec("other"', NEW_CATEGORY)
    result = _run(root, CATEGORY_SCRIPT)
    assert result["problems"] == [] and result["deadlines"] == [1800, 3600]


DEPARTMENT_SCRIPT = PREAMBLE + """
from domain.plausible import attributes_problem
from domain.schemas import DepartmentRecord
from domain.wire import decode
from domain.geo import street
from streams.registers.book import RegisterBook
from wall.app.i18n import tr
from wall.app.mapdata import GridFigures, grid_tip

def record(record_id, **attributes):
    return decode(json.dumps({"record_id": record_id, "record_type": "water_meter", "ts": 1,
                              "department": "water_authority", "grid_id": "G001",
                              "attributes": attributes}), DepartmentRecord)

good = record("w1", meter_id="M-1", reading_m3=12.5, leak_suspected=True)
bad = record("w2", meter_id="M-2", reading_m3=-3.0)
book = RegisterBook()
book.update([good, record("w3", meter_id="M-3")])
out.update(department=good.department,
           plausible=[attributes_problem("water_meter", dict(r.attributes)) is None
                     for r in (good, bad)],
           figures=book.snapshot("G001"),
           labels=[tr(k, lang) for k in ("department.water_authority", "record.water_meter")
                   for lang in ("zh", "en")],
           tip=grid_tip(street().grids["PL01-01"], GridFigures(), book.snapshot("G001"), "en"))
print(json.dumps(out, ensure_ascii=False))
"""


def test_recipe_new_department_feed_with_its_own_payload_takes_one_file(tmp_path: Path
                                                                        ) -> None:
    root = _copy(tmp_path)
    touched = {_insert(root, VOCABULARY, ")\nRECORD_TYPES: tuple", NEW_RECORD_TYPE),
               _insert(root, VOCABULARY, ")\n\nSENSOR_BY_NAME", NEW_DEPARTMENT)}
    result = _run(root, DEPARTMENT_SCRIPT)
    assert len(touched) == 1
    assert result["problems"] == [] and result["department"] == "water_authority"
    assert result["plausible"] == [True, False]  # a negative reading is refused
    assert result["figures"] == {"record.water_meter": 2, "households": 0}
    assert result["labels"] == ["水务", "Water authority", "智能水表", "Water meters"]
    assert "Water meters" in result["tip"]  # the grid tooltip's register line


NEW_PANEL_BODY = '''def _alert_categories(p: PanelInput) -> str:
    counts: dict[str, int] = {}
    for data in p.store.data("alerts"):
        if data.get("status") != "resolved":
            category = str(data.get("category", "other"))
            counts[category] = counts.get(category, 0) + 1
    return render.bars(sorted(counts.items(), key=lambda kv: -kv[1])[:6], p.lang)


'''
NEW_PANEL_SPEC = '    PanelSpec("alert_categories", "right", ("alerts",), _alert_categories),\n'
NEW_PANEL_LABEL = '    "panel.alert_categories": ("告警类别", "Alerts by category"),\n'

PANEL_SCRIPT = PREAMBLE + """
from tests.unit.wall_support import NOW, alert, store_of
from wall.app.panels import PanelInput, column_html

store = store_of(alert("a1"), alert("a2", "critical"), alert("a3", status="resolved"))
out.update(html={lang: column_html(PanelInput(store, NOW, lang), "right")
                 for lang in ("zh", "en")})
print(json.dumps(out, ensure_ascii=False))
"""


def test_recipe_new_wall_panel_takes_two_files(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    shutil.copytree(REPO / "wall", root / "wall", ignore=shutil.ignore_patterns("__pycache__"))
    panels = Path("wall/app/panels.py")
    touched = {_insert(root, panels, "PANELS: tuple[PanelSpec, ...]", NEW_PANEL_BODY),
               _insert(root, panels, ")\n\n\ndef column_html", NEW_PANEL_SPEC),
               _insert(root, Path("wall/app/i18n.py"), '    "panel.live":', NEW_PANEL_LABEL)}
    result = _run(root, PANEL_SCRIPT)
    assert len(touched) == 2
    for lang, title in (("zh", "告警类别"), ("en", "Alerts by category")):
        card = result["html"][lang].split('data-testid="alert_categories"', 1)[1]
        assert card.startswith(f"><h3>{title}</h3>")
        assert '<span class="c">2</span>' in card  # two open alerts of one category


def test_a_panel_without_its_title_is_named(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    shutil.copytree(REPO / "wall", root / "wall", ignore=shutil.ignore_patterns("__pycache__"))
    panels = Path("wall/app/panels.py")
    _insert(root, panels, "PANELS: tuple[PanelSpec, ...]", NEW_PANEL_BODY)
    _insert(root, panels, ")\n\n\ndef column_html", NEW_PANEL_SPEC)
    script = PREAMBLE + """
from wall.app.panels import untitled_panels
out.update(untitled=untitled_panels())
print(json.dumps(out))
"""
    assert _run(root, script)["untitled"] == ["alert_categories"]


def test_the_snippets_of_docs_extending_are_the_ones_followed_here() -> None:
    doc = (REPO / "docs" / "extending.md").read_text()
    for snippet in (NEW_KIND, NEW_KIND_BANDS, NEW_CATEGORY, NEW_CATEGORY_SLA, NEW_RECORD_TYPE,
                    NEW_DEPARTMENT, NEW_PANEL_BODY.rstrip() + "\n", NEW_PANEL_SPEC,
                    NEW_PANEL_LABEL):
        assert snippet in doc, snippet
    for path in (VOCABULARY, THRESHOLDS, SLA, Path("wall/app/panels.py"),
                 Path("wall/app/i18n.py")):
        assert f"`{path}`" in doc and (REPO / path).exists()
