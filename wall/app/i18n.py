"""Labels of the wall in Chinese (default) and English.

:func:`tr` never raises: an unknown key comes back as the key itself, so a missing label
shows up as a readable identifier instead of breaking the page. Vocabulary values (steps,
categories, severities, statuses, POI kinds) are looked up under their own names; sensor
kinds under ``sensor.<kind>``, departments under ``department.<name>``. The labels of
categories, sensor kinds and departments come from :mod:`domain.contracts.vocabulary`.
"""

from __future__ import annotations

from typing import Literal

from domain.contracts.vocabulary import vocabulary_labels

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

_PAGE_LABELS: dict[str, tuple[str, str]] = {
    # page furniture
    "title.wall": ("网格化社会治理 · 指挥大屏", "Grid Governance · Command Wall"),
    "title.duty": ("值班台 · 告警处置", "Duty console · Alerts"),
    "title.ops": ("运维台 · 流处理作业", "Ops console · Stream jobs"),
    "lang.switch": ("English", "中文"),
    "login.prompt": ("请输入令牌登录", "Sign in with your token"),
    "login.button": ("登录", "Sign in"),
    "login.bad": ("令牌无效或权限不足", "Unknown token or role not allowed"),
    "login.as": ("当前用户", "Signed in as"),
    # KPI tiles
    "kpi.reported": ("今日上报", "Reported today"),
    "kpi.closed": ("今日结案", "Closed today"),
    "kpi.on_time": ("按时办结率", "On-time rate"),
    "kpi.open": ("在办案件", "Open cases"),
    "kpi.overdue": ("超期案件", "Overdue"),
    "kpi.sensors": ("感知设备在线", "Sensors online"),
    "kpi.alerts": ("未关闭告警", "Open alerts"),
    "kpi.unacked": ("未确认告警", "Unacknowledged"),
    # panels
    "panel.funnel": ("六步闭环", "Six-step loop"),
    "panel.ranking": ("网格排名", "Grid ranking"),
    "panel.ticker": ("实时告警", "Live alerts"),
    "panel.countdown": ("时限倒计时", "SLA countdown"),
    "panel.categories": ("案件类别", "Case categories"),
    "panel.sparklines": ("各社区每分钟上报", "Reports per minute by community"),
    "panel.map": ("街道态势", "Street map"),
    "panel.timeline": ("案件轨迹", "Case timeline"),
    "panel.queue": ("告警队列", "Alert queue"),
    "panel.actions": ("处置记录", "Actions"),
    "panel.jobs": ("作业健康", "Job health"),
    "panel.lag": ("分区积压", "Lag per partition"),
    "panel.recovery": ("状态恢复", "Table recovery"),
    "panel.config": ("在线调参", "Live tuning"),
    "panel.audit": ("变更审计", "Change audit"),
    "panel.processes": ("进程守护 (gridwall up)", "Processes (gridwall up)"),
    "col.process": ("进程", "Process"),
    "col.state": ("状态", "State"),
    "col.pid": ("进程号", "PID"),
    "col.restarts": ("重启次数", "Restarts"),
    "col.exit_code": ("上次退出码", "Last exit code"),
    "col.restarted": ("上次重启", "Last restart"),
    "panel.live": ("最新动态", "Latest activity"),
    "panel.tiers": ("在办案件 · 按层级", "Open cases by tier"),
    "panel.resolution": ("各社区办结层级", "Closed at which tier, per community"),
    "panel.escalations": ("近一小时升级", "Escalations in the last hour"),
    "panel.emergencies": ("紧急案件 · 待签收", "Emergencies awaiting acceptance"),
    "panel.overdue": ("超期案件", "Overdue cases"),
    "panel.escalated": ("已升级案件", "Escalated cases"),
    "panel.workers": ("网格员排名", "Grid worker ranking"),
    "panel.supervision": ("督办", "Supervision orders"),
    "title.leader": ("督查通 · 领导视图", "Leaders' view"),
    "tier.1": ("网格", "Grid"),
    "tier.2": ("社区", "Community"),
    "tier.3": ("街道", "Street"),
    "tier.4": ("区级", "District"),
    "priority.low": ("低", "Low"),
    "priority.normal": ("一般", "Normal"),
    "priority.high": ("紧急", "High"),
    "priority.emergency": ("特急", "Emergency"),
    "period.today": ("今日", "Today"),
    "period.week": ("本周", "This week"),
    "none": ("暂无", "None"),
    "supervision.pending": ("督办下达需网关写入接口 (POST /v1/supervision)，尚未提供",
                            "Issuing an order needs a gateway write (POST /v1/supervision), "
                            "not available yet"),
    "col.holder": ("承办", "Held by"),
    "col.tier": ("层级", "Tier"),
    "col.case": ("案件", "Case"),
    "col.overdue_by": ("超期", "Overdue by"),
    "col.score": ("得分", "Score"),
    "col.rank": ("名次", "Rank"),
    "empty": ("暂无数据", "No data yet"),
    "nodata": ("无数据", "no data"),
    # freshness
    "fresh.live": ("实时", "Live"),
    "fresh.stale": ("数据延迟", "Feed stale"),
    "fresh.disconnected": ("连接中断", "Disconnected"),
    "fresh.connecting": ("正在连接", "Connecting"),
    "fresh.age": ("距上次更新", "Last update"),
    "fresh.reconnect": ("正在自动重连", "reconnecting automatically"),
    "fresh.never": ("尚未收到更新", "no update received yet"),
    "fresh.seconds": ("秒前", "s ago"),
    # map toggles and legend
    "layer.compound": ("小区", "Compounds"),
    "layer.enterprise": ("企业", "Enterprises"),
    "layer.party_org": ("党组织", "Party orgs"),
    "layer.sensor": ("感知设备", "Sensors"),
    "health.ok": ("正常", "On time"),
    "health.warn": ("临期", "Due soon"),
    "health.late": ("超期", "Overdue"),
    "tip.open": ("在办", "Open"),
    "tip.overdue": ("超期", "Overdue"),
    "tip.households": ("户数", "Households"),
    "tip.population": ("人口", "Population"),
    "tip.alerts": ("告警", "Alerts"),
    "tip.register": ("台账", "Register"),
    # duty
    "duty.filter": ("筛选", "Filter"),
    "duty.severity": ("级别", "Severity"),
    "duty.status": ("状态", "Status"),
    "duty.sort": ("排序", "Sort"),
    "duty.sort.severity": ("按级别", "By severity"),
    "duty.sort.age": ("按时长", "By age"),
    "duty.ack": ("确认", "Ack"),
    "duty.unack": ("取消确认", "Unack"),
    "duty.assign": ("指派", "Assign"),
    "duty.comment": ("备注", "Comment"),
    "duty.silence": ("静默", "Silence"),
    "duty.escalate": ("升级", "Escalate"),
    "duty.minutes": ("静默分钟", "Silence minutes"),
    "duty.text": ("内容 / 指派对象", "Text / assignee"),
    "duty.selected": ("选中告警", "Selected alert"),
    "duty.case_id": ("输入案件编号查看轨迹", "Case id to show its timeline"),
    "duty.sent": ("已提交", "Sent"),
    "duty.failed": ("失败", "Failed"),
    "col.alert": ("告警", "Alert"),
    "col.grid": ("网格", "Grid"),
    "col.age": ("时长", "Age"),
    "col.who": ("操作人", "Who"),
    "col.when": ("时间", "When"),
    "col.what": ("动作", "What"),
    "col.field": ("项目", "Field"),
    "col.value": ("内容", "Value"),
    "col.before": ("变更前", "Before"),
    "col.after": ("变更后", "After"),
    "col.worker": ("作业实例", "Worker"),
    "col.agent": ("处理单元", "Agent"),
    "col.partition": ("主题/分区", "Topic/partition"),
    "col.table": ("状态表", "Table"),
    "col.part": ("分区", "Partition"),
    "col.consumer": ("消费者", "Consumer"),
    "col.outcome": ("结果", "Outcome"),
    "col.acked_by": ("确认人", "Acknowledged by"),
    "col.assignee": ("指派给", "Assignee"),
    "col.silenced_until": ("静默至", "Silenced until"),
    # ops
    "ops.events_per_s": ("每秒事件", "Events/s"),
    "ops.latency": ("处理延迟", "Processing latency"),
    "ops.sink": ("入库批量", "Sink batch"),
    "ops.insert_rate": ("入库速率", "Insert rate"),
    "ops.recovery": ("恢复进度", "Recovery"),
    "ops.remaining": ("待恢复记录", "Records to recover"),
    "ops.key": ("配置项", "Config key"),
    "ops.check": ("校验并对比", "Validate & diff"),
    "ops.apply": ("应用", "Apply"),
    "ops.valid": ("校验通过", "Valid"),
    "ops.invalid": ("校验失败", "Invalid"),
    "ops.nochange": ("无变化", "No change"),
    "ops.accepted": ("已生效", "Accepted"),
    "ops.rejected": ("被拒绝", "Rejected"),
    # vocabulary: steps
    "reported": ("上报", "Reported"),
    "verified": ("立案", "Verified"),
    "dispatched": ("派遣", "Dispatched"),
    "handled": ("处置", "Handled"),
    "closed": ("结案", "Closed"),
    "evaluated": ("评价", "Evaluated"),
    "rejected": ("不予立案", "Rejected"),
    # severities and statuses
    "info": ("提示", "Info"),
    "warning": ("警告", "Warning"),
    "critical": ("严重", "Critical"),
    "open": ("待确认", "Open"),
    "acknowledged": ("已确认", "Acknowledged"),
    "resolved": ("已解除", "Resolved"),
    "silenced": ("静默中", "Silenced"),
}

# Categories, sensor kinds (sensor.<kind>) and departments (department.<name>) come from the
# vocabulary catalog, one record each (domain.contracts.vocabulary).
_VOCABULARY_LABELS = vocabulary_labels()
assert not set(_PAGE_LABELS) & set(_VOCABULARY_LABELS), "a page label shadows a vocabulary one"
LABELS: dict[str, tuple[str, str]] = {**_PAGE_LABELS, **_VOCABULARY_LABELS}


def tr(key: str, lang: Lang = "zh") -> str:
    """The label of ``key`` in ``lang``; the key itself when there is no label."""
    pair = LABELS.get(key)
    if pair is None:
        return key
    return pair[0] if lang == "zh" else pair[1]
