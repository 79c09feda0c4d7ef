"""What reports and notes say, per category (static text, no logic beyond a seeded pick)."""

from __future__ import annotations

import random

DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "environment": ("小区门口垃圾堆积未及时清运", "路边有人乱倒建筑垃圾", "垃圾分类桶满溢",
                    "楼道内堆放杂物", "沿街商户油烟直排"),
    "public_safety": ("小区路灯损坏夜间照明不足", "有陌生人多次在楼道徘徊",
                      "电动车在楼道内充电", "围墙破损存在安全隐患"),
    "fire_hazard": ("消防通道被车辆堵塞", "楼道灭火器过期", "沿街商铺私拉电线",
                    "地下室堆放易燃物品"),
    "road_facility": ("人行道地砖松动", "路面出现坑洼", "井盖缺失", "交通护栏倾倒"),
    "dispute": ("邻里因噪音发生纠纷", "业主与物业因停车位发生争执", "租户与房东押金纠纷"),
    "illegal_construction": ("楼顶私自搭建彩钢房", "一楼住户私自扩建院墙", "占用绿地搭建棚屋"),
    "greening": ("绿化带树木倒伏", "草坪被占用种菜", "行道树枝叶遮挡信号灯"),
    "water_supply": ("小区停水未提前通知", "自来水管道破裂漏水", "水压不足高层无水"),
    "noise": ("夜间广场舞音响声音过大", "工地夜间施工噪音扰民", "商铺高音喇叭揽客"),
    "elderly_care": ("独居老人多日未出门", "高龄老人需要上门服务", "老人走失求助"),
    "other": ("宠物狗未拴绳", "小广告乱张贴", "共享单车乱停放"),
}

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
