"""WeCom customer groups' mass-message quota, as a planner policy. Pure; plan_sends runs it after the daily cap.

WeCom lets each customer group (platform `wecom-customer`) receive at most as many group-send messages per
calendar month as the month has days; the corp admin can change the rule to 7 per week or 1 per day
(WECOM.md). The rule is the Setting `wecom_quota` (month | week | day; default month), counted on Beijing time
(WeCom's), as sends that went out (`sent`) plus tasks still waiting for the owner (`awaiting_confirmation`).

A send that would exceed its group's quota is `deferred` to the start of the next period at the same time of day
(after quiet hours), or, when that is past the rule's `until`, skipped (`past_until`), BEFORE any task is
created; `p.quota` carries the rule so the tick raises `wecom_quota` in Problems saying why.
"""
from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from ..sheet.workbook import Workbook
from .carried import PAST_UNTIL
from .ledger import Ledger
from .planned import PlannedSend, group_tz, quiet_shift

PLATFORM = "wecom-customer"
BEIJING = ZoneInfo("Asia/Shanghai")
RULES = ("month", "week", "day")


def period(rule: str, day: date) -> tuple[date, date, int]:
    """[first day, first day of the next period) and the sends a group may receive in it."""
    if rule == "day":
        return day, day + timedelta(days=1), 1
    if rule == "week":
        first = day - timedelta(days=day.weekday())
        return first, first + timedelta(days=7), 7
    days = calendar.monthrange(day.year, day.month)[1]
    first = day.replace(day=1)
    return first, first + timedelta(days=days), days


def rule_of(wb: Workbook) -> str:
    rule = str(wb.settings.extra.get("wecom_quota") or "month").strip().lower()
    return rule if rule in RULES else "month"


def _utc(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=BEIJING).astimezone(timezone.utc)


def apply_quota(planned: list[PlannedSend], wb: Workbook, ledger: Ledger) -> None:
    rule = rule_of(wb)
    used: dict[tuple[str, date], int] = {}
    for p in planned:
        if p.policy != "due" or p.group.platform != PLATFORM:
            continue
        first, after, limit = period(rule, p.at.astimezone(BEIJING).date())
        key = (p.group.group_id, first)
        if key not in used:
            used[key] = ledger.quota_used(p.group.group_id, _utc(first), _utc(after))
        if used[key] < limit:
            used[key] += 1
            continue
        tz = group_tz(p.group, wb)
        local = p.at.astimezone(tz)
        start = datetime.combine(after, local.time().replace(tzinfo=None), tzinfo=tz)
        later, _ = quiet_shift(start.astimezone(timezone.utc), p.group, wb)
        p.quota = rule
        if p.rule.until is not None and later.astimezone(tz).date() > p.rule.until:
            p.policy, p.reason = "past_until", f"WeCom quota {limit} per {rule} used, and the next {rule} is {PAST_UNTIL} ({p.rule.until})"
            continue
        p.policy, p.reason = "deferred", f"WeCom quota {limit} per {rule} used; moved to {later.astimezone(tz):%Y-%m-%d %H:%M}"
        p.at = later
