"""The case console's HTML: queue, case detail, holders, timeline, attachments (pure).

Every cell is escaped; photos are ``<img>`` of the case's http(s) attachment URLs (the
event schema admits no other scheme). Who acted is shown as the organisation's name with the
person id; units by their name in the page's language.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.organisation import Directory
from domain.routing import Candidate
from readside.cases import CaseState
from wall.app import render
from wall.app.cases_logic import Move, deadline_text, due_ms, holders
from wall.app.context import local_time
from wall.app.i18n import Lang, tr


def who(directory: Directory, person_id: str) -> str:
    """``name (id)`` for a listed person, the id otherwise, ``—`` for nobody."""
    if not person_id:
        return "—"
    person = directory.person(person_id)
    return f"{person.name} ({person_id})" if person else person_id


def unit_name(directory: Directory, unit_id: str, lang: Lang) -> str:
    """The unit's name in ``lang`` (the id for a grid queue or an unknown unit)."""
    unit = directory.unit(unit_id) if unit_id else None
    if unit is None:
        return unit_id or "—"
    return unit.name if lang == "zh" or not unit.name_en else unit.name_en


def queue_html(rows: Sequence[tuple[CaseState, list[str]]], directory: Directory,
               now_ms: int, lang: Lang) -> str:
    """The person's queue as a card with one row per case."""
    body = render.table(
        ("col.case", "col.category", "col.grid", "col.step", "col.unit", "col.deadline",
         "col.actions"),
        ((c.case_id, tr(c.category, lang), c.grid_id, tr(c.step, lang),
          unit_name(directory, c.unit, lang), due_text(c, now_ms, lang),
          " · ".join(tr(f"cases.{a}", lang) for a in actions)) for c, actions in rows),
        lang, "cases-queue-table")
    wrap_cells = "<style>[data-testid=cases-queue-table] td { white-space: normal; }</style>"
    return wrap_cells + render.card("cases.queue", body, lang, "cases-queue")


def due_text(case: CaseState, now_ms: int, lang: Lang) -> str:
    """The queue's deadline cell: a supervised case flagged 督办 with its order's deadline."""
    text = deadline_text(due_ms(case), now_ms)
    if not case.supervision_unit:
        return text
    return f"{tr('supervision.flag', lang)} {case.supervision_unit} · {text}"


def detail_html(case: CaseState | None, moves: Sequence[Move], directory: Directory,
                candidates: Sequence[Candidate], lang: Lang) -> str:
    """The selected case: facts, proposed units, holders, timeline and photos."""
    if case is None:
        return render.card("cases.detail", render.empty(lang), lang, "case-detail")
    facts = [(tr("col.case", lang), case.case_id), (tr("col.category", lang),
                                                    tr(case.category, lang)),
             (tr("col.step", lang), tr(case.step, lang)), (tr("col.grid", lang), case.grid_id),
             (tr("col.unit", lang), unit_name(directory, case.unit, lang)),
             (tr("col.deadline", lang), local_time(case.deadline_ms, True)
              if case.deadline_ms else "—")]
    if case.supervision_unit:
        facts.append((tr("panel.supervision", lang),
                      f"{unit_name(directory, case.supervision_unit, lang)} · "
                      f"{local_time(case.supervision_deadline_ms, True)}"))
    out = render.card("cases.detail", render.table(("col.field", "col.value"), facts, lang,
                                                   "case-facts"), lang, "case-detail")
    if candidates:
        out += render.card("cases.proposed", render.table(
            ("col.unit", "col.reason"),
            ((unit_name(directory, c.unit, lang), "; ".join(c.reasons))
             for c in candidates[:5]), lang, "case-proposed"), lang)
    out += holders_html(moves, directory, lang)
    out += timeline_html(moves, directory, lang)
    out += photos_html(case.attachments, lang)
    return out


def holders_html(moves: Sequence[Move], directory: Directory, lang: Lang) -> str:
    """Who held the case at every moment: (from, until, unit, assignee) spans."""
    rows = ((local_time(start, True), local_time(until, True) if until else "…",
             unit_name(directory, unit, lang), who(directory, person))
            for start, until, unit, person in holders(moves))
    return render.card("cases.holders", render.table(
        ("col.when", "col.until", "col.unit", "col.assignee"), rows, lang, "case-holders"),
        lang)


def timeline_html(moves: Sequence[Move], directory: Directory, lang: Lang) -> str:
    """Every recorded step: when, what, who, the steps and holders before/after, why."""
    rows = ((local_time(m.ts_ms, True), tr(f"cases.{m.action}", lang)
             if m.action not in ("report", "escalate", "resolve_on_spot") else m.action,
             who(directory, m.actor), f"{tr(m.from_step, lang) if m.from_step else '—'} → "
             f"{tr(m.to_step, lang)}", unit_name(directory, m.from_unit, lang),
             unit_name(directory, m.to_unit, lang), who(directory, m.assignee),
             m.reason or "—") for m in moves)
    return render.card("cases.timeline", render.table(
        ("col.when", "col.what", "col.who", "col.step", "col.holder_from", "col.holder_to",
         "col.assignee", "col.reason"), rows, lang, "case-timeline"), lang)


def photos_html(attachments: Sequence[str], lang: Lang) -> str:
    """The case's photos as images (the URLs are http(s) by the event schema)."""
    urls = [u for u in attachments if u.startswith(("http://", "https://"))]
    if not urls:
        return render.card("cases.attachments", render.empty(lang), lang, "case-photos")
    imgs = "".join(f'<a href="{render.esc(u)}" target="_blank"><img src="{render.esc(u)}" '
                   f'alt="{render.esc(u)}" data-testid="case-photo" '
                   'style="max-height:9vw;max-width:14vw;margin:0.3vw"></a>' for u in urls)
    return render.card("cases.attachments", f"<div>{imgs}</div>", lang, "case-photos")
