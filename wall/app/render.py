"""HTML fragments of the pages, from the view model (pure string building).

Guarantees: every text that comes from data is HTML-escaped; every fragment renders
(with an explicit "no data" line) for empty input; elements the browser tests look for carry
stable ``data-testid`` attributes.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from wall.app.boards import AlertRow, Countdown, RankRow
from wall.app.freshness import Freshness, age_text, banner_text
from wall.app.history import StepMark
from wall.app.i18n import Lang, tr
from wall.app.kpis import Tile
from wall.app.queue import age_text as short_age
from wall.app.queue import display_status

esc = html.escape


def figure(value: float | None, spec: str) -> str:
    """``value`` formatted with ``spec``, or "—" when it is unknown (None), never 0."""
    return "—" if value is None else format(value, spec)


def percent(share: float | None) -> str:
    """A share in [0, 1] as a whole percentage (``87%``), or "—" when unknown."""
    return "—" if share is None else f"{share * 100:.0f}%"


def card(title_key: str, body: str, lang: Lang, testid: str = "") -> str:
    """A titled card."""
    attr = f' data-testid="{testid}"' if testid else ""
    return f'<div class="gw-card"{attr}><h3>{esc(tr(title_key, lang))}</h3>{body}</div>'


def empty(lang: Lang) -> str:
    """The "no data yet" line."""
    return f'<div class="gw-empty">{esc(tr("empty", lang))}</div>'


def tiles(items: Sequence[Tile], lang: Lang) -> str:
    """The KPI tiles grid."""
    cells = "".join(
        f'<div class="gw-tile {t.tone}" data-testid="{t.key}"><div class="v">{esc(t.value)}'
        f'</div><div class="k">{esc(tr(t.key, lang))}</div></div>' for t in items)
    return f'<div class="gw-tiles">{cells}</div>'


def bars(rows: Sequence[tuple[str, int]], lang: Lang) -> str:
    """Horizontal bars, labelled with translated names, scaled to the largest value."""
    if not rows or not any(n for _, n in rows):
        return empty(lang)
    top = max(n for _, n in rows) or 1
    return "".join(
        f'<div class="gw-bar"><span class="n">{esc(tr(name, lang))}</span><span class="t">'
        f'<div class="f" style="width:{100 * n / top:.1f}%"></div></span>'
        f'<span class="c">{n}</span></div>' for name, n in rows)


def trend(delta: int) -> str:
    """▲n / ▼n / – with a colour class."""
    if delta > 0:
        return f'<span class="up">▲{delta}</span>'
    if delta < 0:
        return f'<span class="down">▼{-delta}</span>'
    return '<span class="flat">–</span>'


def fixed_table(widths: Sequence[int], body: str) -> str:
    """A table whose columns get these percentage widths; long cells end in an ellipsis."""
    cols = "".join(f'<col style="width:{w}%">' for w in widths)
    return f'<table class="gw-table gw-fixed"><colgroup>{cols}</colgroup>{body}</table>'


def ranking(rows: Sequence[RankRow], grid_names: Mapping[str, str], lang: Lang) -> str:
    """The ranking board."""
    if not rows:
        return empty(lang)
    body = "".join(
        f"<tr><td>{r.rank or '—'}</td><td>{esc(grid_names.get(r.grid_id, r.grid_id))}</td>"
        f"<td>{r.score:.1f}</td><td>{trend(r.trend)}</td></tr>" for r in rows)
    return f'<table class="gw-table">{body}</table>'


def ticker(rows: Sequence[AlertRow], grid_names: Mapping[str, str], now_ms: int,
           lang: Lang) -> str:
    """The live alert list: severity, grid, title, status (with who acknowledged), age."""
    if not rows:
        return empty(lang)
    out = []
    for r in rows:
        status = display_status(r, now_ms)
        who = f" · {esc(r.acked_by)}" if status == "acknowledged" and r.acked_by else ""
        out.append(
            f'<tr data-testid="ticker-row" data-alert="{esc(r.alert_id)}" '
            f'data-status="{esc(status)}"><td class="sev-{esc(r.severity)}">'
            f'{esc(tr(r.severity, lang))}</td><td>{esc(grid_names.get(r.grid_id, r.grid_id))}'
            f'</td><td>{esc(r.title)}</td><td class="st-{esc(status)}">'
            f'{esc(tr(status, lang))}{who}</td><td>{short_age(now_ms - r.opened_ms)}</td></tr>')
    return fixed_table((11, 24, 33, 22, 10), "".join(out))


def countdowns(rows: Sequence[Countdown], grid_names: Mapping[str, str], lang: Lang) -> str:
    """SLA countdowns: case, grid, step, time left (red when overdue)."""
    if not rows:
        return empty(lang)
    out = []
    for r in rows:
        left = abs(int(r.remaining_s))
        clock = f"{'-' if r.remaining_s < 0 else ''}{left // 3600:d}:{left % 3600 // 60:02d}:" \
                f"{left % 60:02d}"
        cls = "late" if r.remaining_s < 0 else "soon" if r.remaining_s < 600 else ""
        out.append(f"<tr><td>{esc(r.case_id)}</td><td>{esc(grid_names.get(r.grid_id, r.grid_id))}"
                   f"</td><td>{esc(tr(r.step, lang))}</td><td class=\"{cls}\">{clock}</td></tr>")
    return f'<table class="gw-table">{"".join(out)}</table>'


def sparkline(values: Sequence[int], width: int = 120, height: int = 24) -> str:
    """An inline SVG polyline of ``values`` (flat line for all zeros)."""
    top = max(values, default=0) or 1
    step = width / max(1, len(values) - 1)
    points = " ".join(f"{i * step:.1f},{height - 2 - (height - 4) * v / top:.1f}"
                      for i, v in enumerate(values))
    return (f'<svg viewBox="0 0 {width} {height}" preserveAspectRatio="none">'
            f'<polyline points="{points}" fill="none" stroke="#46c2ff" stroke-width="2"/></svg>')


def sparklines(series: Mapping[str, Sequence[int]], names: Mapping[str, str], lang: Lang) -> str:
    """One sparkline per community with its last-minute count."""
    if not series:
        return empty(lang)
    return "".join(
        f'<div class="gw-spark"><span class="n">{esc(names.get(c, c))}</span>'
        f'{sparkline(values)}<span class="c">{values[-1] if values else 0}</span></div>'
        for c, values in series.items())


def live_feed(items: Iterable[tuple[str, str, Mapping[str, Any]]],
              grid_names: Mapping[str, str], lang: Lang) -> str:
    """Latest activity: what (step or alert title) and where, newest first."""
    rows = []
    for channel, key, data in items:
        what = data.get("title") if channel == "alerts" else tr(str(data.get("step", "")), lang)
        grid = str(data.get("grid_id", ""))
        category = tr(str(data.get("category", "")), lang)
        rows.append(f'<tr data-testid="feed-row" data-key="{esc(key)}"><td>{esc(key)}</td>'
                    f'<td>{esc(grid_names.get(grid, grid))}</td><td>{esc(category)}</td>'
                    f'<td>{esc(str(what or ""))}</td></tr>')
    return fixed_table((26, 30, 20, 24), "".join(rows)) if rows else empty(lang)


def banner(fresh: Freshness, lang: Lang) -> str:
    """The stale/disconnected banner; an empty string while live."""
    if not fresh.banner:
        return ""
    return (f'<div class="gw-banner {fresh.level}" data-testid="banner" '
            f'data-level="{fresh.level}">⚠ {esc(banner_text(fresh, lang))}</div>')


def strip(fresh: Freshness, workers_up: int, workers_total: int, clock: str, lang: Lang) -> str:
    """The freshness strip: link state, last update age, job health, clock."""
    return (f'<div class="gw-strip" data-testid="freshness" data-level="{fresh.level}">'
            f'<span><span class="gw-dot gw-{fresh.level}"></span>'
            f'{esc(tr("fresh." + fresh.level, lang))}</span>'
            f'<span>{esc(tr("fresh.age", lang))} {esc(age_text(fresh.age_s, lang))}</span>'
            f'<span>{esc(tr("panel.jobs", lang))} {workers_up}/{workers_total}</span>'
            f'<span class="gw-clock">{esc(clock)}</span></div>')


def legend(lang: Lang) -> str:
    """The map legend: grid colours by SLA health."""
    items = [("#e84142", "health.late"), ("#f5a623", "health.warn"), ("#26c281", "health.ok"),
             ("#3462a0", "empty")]
    return '<div class="gw-legend">' + "".join(
        f'<span><i style="background:{c}"></i>{esc(tr(k, lang))}</span>' for c, k in items
    ) + "</div>"


def timeline(marks: Sequence[StepMark], clock: Any, lang: Lang) -> str:
    """The six steps of a case; ``clock(ms)`` formats a time."""
    cells = []
    for m in marks:
        state = "current" if m.current else "done" if m.reached_ms is not None else ""
        when = clock(m.reached_ms) if m.reached_ms else ("?" if m.reached_ms == 0 else "")
        cells.append(f'<div class="gw-step {state}"><div class="s">{esc(tr(m.step, lang))}</div>'
                     f'<div class="w">{esc(when)}</div><div class="w">{esc(m.actor)}</div></div>')
    return f'<div class="gw-steps" data-testid="timeline">{"".join(cells)}</div>'


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], lang: Lang,
          testid: str = "") -> str:
    """A plain table with translated headers; cells are escaped."""
    body = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    if not body:
        return empty(lang)
    attr = f' data-testid="{testid}"' if testid else ""
    head = "".join(f"<th>{esc(tr(h, lang))}</th>" for h in headers)
    return f'<table class="gw-table"{attr}><tr>{head}</tr>{body}</table>'
