"""What reports and notes say, per category (static text, no logic beyond a seeded pick)."""

from __future__ import annotations

import random

from domain.contracts.vocabulary import CATEGORY_CATALOG

# What reports say, per category: the catalog's phrases.
DESCRIPTIONS: dict[str, tuple[str, ...]] = {c.name: c.phrases for c in CATEGORY_CATALOG
                                            if c.phrases}

NOTES: dict[str, tuple[str, ...]] = {
    "verify": ("经核实情况属实，予以立案", "现场核实，立案处理"),
    "reject": ("经核实不属于受理范围", "重复上报，不予立案", "现场核实问题不存在"),
    "dispatch": ("派遣至责任单位处理", "转社区协调处理", "派遣至街道综合执法队"),
    "handle": ("已处理完毕，附现场照片", "已协调相关方解决", "已维修完成"),
    "close": ("核查处理到位，予以结案", "回访居民满意，结案"),
    "reopen": ("核查发现问题未解决，退回重办", "居民反映仍存在问题，重新派遣"),
    "escalate": ("超出网格处置能力，提请上级协调", "涉及多部门，升级处理"),
    "resolve_on_spot": ("网格员现场处置完毕", "当场劝导整改到位"),
    "evaluate": ("满意", "基本满意", "处理及时", "希望加强巡查"),
}


def description(rng: random.Random, category: str) -> str:
    """A plausible report text for ``category``."""
    return rng.choice(DESCRIPTIONS[category])


def note(rng: random.Random, action: str) -> str:
    """A plausible workflow note for ``action`` (empty for actions without notes)."""
    options = NOTES.get(action)
    return rng.choice(options) if options else ""
