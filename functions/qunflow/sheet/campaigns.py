"""Campaigns as instances: one group may run several campaigns at once, each with its own day 1. Pure.

A SOP row's `campaign` names a row of the Campaigns tab; that row's `start` is day 1 of the rule's `day N`
schedules (and of {{ campaign_day }}). A rule without a campaign counts from its group's `campaign_start`,
the group's default instance, as every workbook did before the Campaigns tab: existing workbooks keep working.
A rule naming a campaign the tab does not have has no day 1 (a warning at its cell, from check_references).
"""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from .cells import fold
from .problems import WARNING, ProblemSink

if TYPE_CHECKING:
    from .workbook import Workbook


def find_campaign(wb: Workbook, name: str | None) -> Any:
    """The Campaigns row named `name` (case and width folded), or None."""
    if not name:
        return None
    found = wb.campaigns.get(name)
    return found if found is not None else next((c for k, c in wb.campaigns.items() if fold(k) == fold(name)), None)


def campaign_start(rule: Any, group: Any, wb: Workbook) -> date | None:
    """Day 1 for `rule` in `group`: its campaign's start, else the group's campaign_start (None: no day 1)."""
    name = getattr(rule, "campaign", None)
    if name:
        found = find_campaign(wb, name)
        return found.start if found is not None else None
    return getattr(group, "campaign_start", None)


def check_duplicate_rules(wb: Workbook, sink: ProblemSink) -> None:
    """Two enabled rules that post the same content with the same schedule to the same group (counting from the
    same day 1, for `day N`) would post it twice: a warning at the later rule's content cell, once per pair."""
    from .validate import rule_groups
    table = wb.tables["sop"]
    first: dict[tuple, Any] = {}
    flagged: set[tuple[int, int]] = set()
    for rule in wb.sop:
        if not rule.enabled:
            continue
        for group in rule_groups(rule, wb.groups):
            day_one = campaign_start(rule, group, wb) if getattr(rule.schedule, "kind", "") == "campaign_day" else None
            key = (group.group_id, rule.schedule, day_one, rule.msg_type, " ".join(rule.content.split()),
                   rule.variant or "")
            earlier = first.setdefault(key, rule)
            if earlier is rule or (earlier.row, rule.row) in flagged:
                continue
            flagged.add((earlier.row, rule.row))
            sink.add("duplicate_rule", tab=table.title, row=rule.row, column=table.header_of("content", sink.lang),
                     value=rule.content[:60], severity=WARNING, rule=rule.rule_id, first=earlier.rule_id,
                     first_row=earlier.row, group=group.group_id)
