"""Warnings the planner's decisions raise, for the Problems tab. Pure.

- `no_campaign_start`: a `第N天` (day N) rule targets a group without a campaign start: it never fires there.
- `cap_reached`: the daily cap moved a send to the next day (`cap_past_until`: and that day is past the rule's
  `until`, so it was skipped). One warning per group and rule in a run, at the group's daily_cap cell.
- `wecom_quota`: a WeCom customer group has used its mass-message quota (engine/quota.py): the send was moved
  to the next period, or skipped; at the group's platform cell, before any task was created.
"""
from __future__ import annotations

from ..sheet.problems import WARNING, ProblemSink
from ..sheet.workbook import Workbook
from .audience import target_groups
from .planned import PlannedSend, group_tz


def no_campaign_start(wb: Workbook, sink: ProblemSink) -> int:
    table, added = wb.tables["sop"], 0
    for rule in wb.sop:
        if not rule.enabled or rule.schedule is None or rule.schedule.kind != "campaign_day":
            continue
        for group in target_groups(rule, wb.groups):
            if group.enabled and group.campaign_start is None:
                sink.add("no_campaign_start", tab=table.title, row=rule.row, column=table.header_of("schedule", wb.lang),
                         value=rule.schedule.text, severity=WARNING, rule=rule.rule_id, group=group.group_id,
                         example="2026-12-01")
                added += 1
    return added


def cap_warnings(planned: list[PlannedSend], wb: Workbook, sink: ProblemSink) -> int:
    table, seen = wb.tables["groups"], set()
    for p in planned:
        if p.cap is None or p.policy not in ("deferred", "past_until") or (p.group.group_id, p.rule.rule_id) in seen:
            continue
        seen.add((p.group.group_id, p.rule.rule_id))
        where = dict(tab=table.title, row=p.group.row, column=table.header_of("daily_cap", wb.lang), value=p.cap,
                     severity=WARNING, group=p.group.group_id, cap=p.cap, rule=p.rule.rule_id)
        if p.policy == "past_until":
            sink.add("cap_past_until", **where, until=p.rule.until.isoformat() if p.rule.until else "")
        else:
            sink.add("cap_reached", **where, later=f"{p.at.astimezone(group_tz(p.group, wb)):%Y-%m-%d %H:%M}")
    return len(seen)


def quota_warnings(planned: list[PlannedSend], wb: Workbook, sink: ProblemSink) -> int:
    table, seen = wb.tables["groups"], set()
    for p in planned:
        if p.quota is None or p.policy not in ("deferred", "past_until") or (p.group.group_id, p.rule.rule_id) in seen:
            continue
        seen.add((p.group.group_id, p.rule.rule_id))
        later = f"{p.at.astimezone(group_tz(p.group, wb)):%Y-%m-%d %H:%M}" if p.policy == "deferred" else "-"
        sink.add("wecom_quota_" + p.quota, tab=table.title, row=p.group.row, column=table.header_of("platform", wb.lang),
                 value=p.group.platform, severity=WARNING, group=p.group.group_id, rule=p.rule.rule_id, later=later)
    return len(seen)
