"""HTML of the mechanism cards (tiers, resolution levels, escalations, emergencies, SLA).

Pure string building over :mod:`wall.app.mechanism`'s rows, in the style of
:mod:`wall.app.render`: every text from data is escaped, every fragment renders (an explicit
"no data" line) for empty input, rows carry stable ``data-testid`` attributes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from wall.app.fields import integer, text
from wall.app.i18n import Lang, tr
from wall.app.mechanism import TIERS, Escalation, Resolution, SlaRow
from wall.app.queue import age_text
from wall.app.render import empty, esc, fixed_table

TIER_CSS: dict[int, str] = {1: "#26c281", 2: "#46c2ff", 3: "#f5a623", 4: "#e84142"}


def tier_badge(tier: int, lang: Lang) -> str:
    """A coloured tier label (网格 / 社区 / 街道 / 区)."""
    colour = TIER_CSS.get(tier, "#888")
    return (f'<span class="gw-tier" data-tier="{tier}" style="color:{colour};font-weight:700">'
            f'{esc(tr(f"tier.{tier}", lang))}</span>')


def tier_legend(lang: Lang) -> str:
    """The map legend of the grid outlines: the colour of each tier."""
    items = "".join(f'<span><i style="background:{TIER_CSS[t]}"></i>{esc(tr(f"tier.{t}", lang))}'
                    f"</span>" for t in TIERS)
    return (f'<div class="gw-legend" data-testid="tier-legend">'
            f'<span>{esc(tr("legend.outline", lang))}</span>{items}</div>')


def clock(remaining_s: float) -> str:
    """``-h:mm:ss`` when overdue, ``h:mm:ss`` otherwise."""
    left = abs(int(remaining_s))
    sign = "-" if remaining_s < 0 else ""
    return f"{sign}{left // 3600:d}:{left % 3600 // 60:02d}:{left % 60:02d}"


TIER_CELL = ("text-align:center;background:#0b2149;border:1px solid #1d3b6e;"
             "border-radius:0.3vw;padding:0.15vw 0")


def tiers(rows: Sequence[tuple[str, int]], lang: Lang) -> str:
    """Open cases per tier, one figure per tier in a row (in the tier's colour)."""
    cells = "".join(
        f'<div style="{TIER_CELL}" data-tier-key="{esc(key)}"><div style="font-size:1.4vw;'
        f'font-weight:700;color:{TIER_CSS.get(int(key.rsplit(".", 1)[-1]), "#888")}">{n}'
        f'</div><div style="font-size:0.75vw;color:#9fb8dd">{esc(tr(key, lang))}</div></div>'
        for key, n in rows)
    return (f'<div data-testid="tier-bars" style="display:grid;'
            f'grid-template-columns:repeat(4,1fr);gap:0.3vw">{cells}</div>')


def three_columns(body: str) -> str:
    """``body``'s blocks (sparklines) flowed into three columns, names narrowed to fit."""
    return ('<style>.gw-three{display:grid;grid-template-columns:repeat(3,1fr);'
            'column-gap:0.6vw}.gw-three .gw-spark{min-width:0;overflow:hidden}'
            '.gw-three .gw-spark .n{width:3.6vw;flex:none;font-size:0.8vw}'
            '.gw-three .gw-spark svg{min-width:0;width:0}</style>'
            f'<div class="gw-three">{body}</div>')


def stacked(shares: Sequence[float]) -> str:
    """A bar split into the tiers' shares."""
    parts = "".join(f'<i style="display:inline-block;height:100%;width:{s * 100:.1f}%;'
                    f'background:{TIER_CSS[t]}"></i>' for t, s in zip(TIERS, shares, strict=True)
                    if s > 0)
    return (f'<span style="display:inline-block;width:100%;height:0.7vw;background:#0b1a36;'
            f'white-space:nowrap;overflow:hidden;line-height:0">{parts}</span>')


def resolution(today: Sequence[Resolution], week: Sequence[Resolution],
               names: Mapping[str, str], lang: Lang) -> str:
    """Per community: today's and this week's shares closed at each tier, and the totals."""
    if not today:
        return empty(lang)
    weekly = {r.community: r for r in week}
    head = (f"<tr><th></th><th>{esc(tr('period.today', lang))}</th><th></th>"
            f"<th>{esc(tr('period.week', lang))}</th><th></th></tr>")
    rows = []
    for r in today:
        w = weekly.get(r.community, Resolution(r.community, 0, (0.0,) * len(TIERS)))
        rows.append(f'<tr data-testid="resolution-row" data-community="{esc(r.community)}" '
                    f'data-today="{r.total}" data-week="{w.total}">'
                    f"<td>{esc(names.get(r.community, r.community))}</td>"
                    f"<td>{stacked(r.shares)}</td><td>{r.total}</td>"
                    f"<td>{stacked(w.shares)}</td><td>{w.total}</td></tr>")
    return fixed_table((30, 25, 10, 25, 10), head + "".join(rows))


def holder(unit: str, assignee: str) -> str:
    """Who holds a case: the unit, and the person within it when known."""
    return esc(f"{unit} · {assignee}" if assignee else unit or "—")


def escalations(rows: Sequence[Escalation], grid_names: Mapping[str, str], now_ms: int,
                lang: Lang) -> str:
    """Escalations in the last hour: case, grid, tier now, holder, how long ago."""
    if not rows:
        return empty(lang)
    body = "".join(
        f'<tr data-testid="escalation-row" data-case="{esc(r.case_id)}">'
        f"<td>{esc(r.case_id)}</td><td>{esc(grid_names.get(r.grid_id, r.grid_id))}</td>"
        f"<td>{tier_badge(r.tier, lang)}</td><td>{holder(r.unit, r.assignee)}</td>"
        f"<td>{age_text(now_ms - r.at_ms)}</td></tr>" for r in rows)
    return fixed_table((24, 22, 12, 30, 12), body)


def emergencies(rows: Sequence[tuple[str, Mapping[str, Any]]], grid_names: Mapping[str, str],
                now_ms: int, lang: Lang, limit: int = 3) -> str:
    """Emergencies not yet acknowledged (pinned): case, grid, category, holder, age; a count
    of the ones not shown."""
    if not rows:
        return f'<div class="gw-empty" data-testid="no-emergency">{esc(tr("none", lang))}</div>'
    out = []
    for case_id, case in rows[:limit]:
        grid = text(case, "grid_id")
        out.append(f'<tr data-testid="emergency-row" data-case="{esc(case_id)}">'
                   f'<td class="sev-critical">{esc(case_id)}</td>'
                   f"<td>{esc(grid_names.get(grid, grid))}</td>"
                   f"<td>{esc(tr(text(case, 'category'), lang))}</td>"
                   f"<td>{holder(text(case, 'unit'), text(case, 'assignee'))}</td>"
                   f"<td>{age_text(now_ms - integer(case, 'opened_ms'))}</td></tr>")
    more = len(rows) - limit
    tail = f'<div class="gw-empty">+{more}</div>' if more > 0 else ""
    return fixed_table((24, 20, 18, 26, 12), "".join(out)) + tail


def countdowns(rows: Sequence[SlaRow], grid_names: Mapping[str, str], lang: Lang) -> str:
    """SLA countdowns: case, grid, step, priority, tier, time left (red when overdue)."""
    if not rows:
        return empty(lang)
    out = []
    for r in rows:
        cls = "late" if r.remaining_s < 0 else "soon" if r.remaining_s < 600 else ""
        prio = "sev-critical" if r.priority == "emergency" else \
            "sev-warning" if r.priority == "high" else ""
        out.append(f'<tr data-testid="countdown-row" data-case="{esc(r.case_id)}" '
                   f'data-priority="{esc(r.priority)}" data-tier="{r.tier}">'
                   f"<td>{esc(r.case_id)}</td><td>{esc(grid_names.get(r.grid_id, r.grid_id))}"
                   f"</td><td>{esc(tr(r.step, lang))}</td>"
                   f'<td class="{prio}">{esc(tr("priority." + r.priority, lang))}</td>'
                   f"<td>{tier_badge(r.tier, lang)}</td>"
                   f'<td class="{cls}">{clock(r.remaining_s)}</td></tr>')
    return fixed_table((22, 20, 14, 12, 12, 20), "".join(out))
