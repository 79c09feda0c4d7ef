"""HTML of the leaders' view cards, from :mod:`wall.app.leader`'s rows (pure).

Every text from data is escaped; every fragment renders (an explicit "no data" line) for
empty input; rows carry ``data-testid`` attributes for the browser tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from wall.app.context import local_time
from wall.app.i18n import Lang, tr
from wall.app.leader import CaseLine, OrderLine, Standing
from wall.app.mechanism_html import clock, tier_badge
from wall.app.render import empty, esc, fixed_table, trend


def standings(rows: Sequence[Standing], names: Mapping[str, str], lang: Lang,
              testid: str) -> str:
    """A ranking: rank, name, score, cases, movement."""
    if not rows:
        return empty(lang)
    head = "".join(f"<th>{esc(tr(k, lang))}</th>" for k in
                   ("col.rank", "col.subject", "col.score", "col.cases", "col.trend"))
    body = "".join(
        f'<tr data-testid="{testid}" data-subject="{esc(r.subject)}" data-rank="{r.rank}">'
        f"<td>{r.rank or '—'}</td><td>{esc(names.get(r.subject, r.subject))}</td>"
        f"<td>{r.score:.1f}</td><td>{r.cases}</td><td>{trend(r.rank_change)}</td></tr>"
        for r in rows)
    return fixed_table((12, 44, 16, 14, 14), f"<tr>{head}</tr>{body}")


def cases(rows: Sequence[CaseLine], grid_names: Mapping[str, str], lang: Lang,
          testid: str) -> str:
    """Overdue or escalated cases: case, grid, step, priority, tier, holder, overdue by."""
    if not rows:
        return empty(lang)
    head = "".join(f"<th>{esc(tr(k, lang))}</th>" for k in
                   ("col.case", "col.grid", "col.step", "col.priority", "col.tier",
                    "col.holder", "col.overdue_by"))
    body = "".join(
        f'<tr data-testid="{testid}" data-case="{esc(r.case_id)}">'
        f"<td>{esc(r.case_id)}</td><td>{esc(grid_names.get(r.grid_id, r.grid_id))}</td>"
        f"<td>{esc(tr(r.step, lang))}</td>"
        f"<td>{esc(tr('priority.' + r.priority, lang))}</td>"
        f"<td>{tier_badge(r.tier, lang)}</td><td>{esc(r.unit or '—')}</td>"
        f'<td class="{"late" if r.overdue_s > 0 else ""}">'
        f"{clock(-r.overdue_s) if r.overdue_s > 0 else '—'}</td></tr>" for r in rows)
    return fixed_table((18, 16, 12, 10, 10, 20, 14), f"<tr>{head}</tr>{body}")


def supervision(rows: Sequence[OrderLine], unit_names: Mapping[str, str], lang: Lang) -> str:
    """The open supervision orders: unit, case, deadline, time left (or overdue by)."""
    if not rows:
        return empty(lang)
    head = "".join(f"<th>{esc(tr(k, lang))}</th>" for k in
                   ("col.unit", "col.case", "col.deadline", "col.left"))
    body = "".join(
        f'<tr data-testid="supervision-row" data-case="{esc(r.case_id)}" '
        f'data-unit="{esc(r.unit)}" data-overdue="{r.left_s < 0}">'
        f"<td>{esc(unit_names.get(r.unit, r.unit))}</td><td>{esc(r.case_id)}</td>"
        f"<td>{esc(local_time(r.deadline_ms, True))}</td>"
        f'<td class="{"late" if r.left_s < 0 else ""}">{clock(r.left_s)}</td></tr>'
        for r in rows)
    return fixed_table((30, 26, 26, 18), f"<tr>{head}</tr>{body}")
