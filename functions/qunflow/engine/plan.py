"""What is due in (start, end]: every concrete send, and what the policies do to it. Pure.

Policies, in order:
- disabled group or rule, `until` passed → not planned at all;
- quiet hours: a send due inside them waits until they end (`quiet: wait`) or is skipped (`skip`);
- the ledger: a send already final (sent, failed, skipped, missed, unknown) is never planned again; one the
  platform never took (`retry`) is planned again at its own time by every later tick (engine/carried.py);
- catch-up: a send older than `catch_up` when the tick sees it is `missed`, never posted late;
- a dead webhook (Groups.status starts with "dead") → skipped until the operator clears the status;
- the daily cap: sends over it are `deferred` to the next day's first allowed minute (deferred sends
  are exempt from catch-up: deferring is the operator's own policy, not an outage).
"""
from __future__ import annotations

import bisect
from datetime import date, datetime, time, timedelta, timezone

from .ledger import Ledger, send_id
from ..sheet.campaigns import campaign_start
from ..sheet.records import Group, Member, SopRule
from ..sheet.workbook import Workbook
from .experiments import excluded_by_experiment
from ..members.activity import activity_of_workbook
from .planned import PlannedSend, group_tz, local_naive, quiet_shift
from .carried import DEFERRED_REASON, RETRY_REASON, deferred_sends, retried_sends
from ..members.blacklist import reachable
from ..members.coupons import CouponPool
from .audience import Context, mentioned, target_groups
from .permember import judge_audiences, per_member

QUIET_LOOKBACK = timedelta(days=1)  # a send can wait at most this long for quiet hours to end


def _rule_active(rule: SopRule, group: Group, at: datetime, wb: Workbook) -> bool:
    return rule.until is None or at.astimezone(group_tz(group, wb)).date() <= rule.until


def _group_occurrences(rule: SopRule, group: Group, wb: Workbook, start: datetime, end: datetime,
                       memo: dict) -> list[datetime]:
    """Fire times, computed once per (schedule, zone, campaign start): groups that share them share the work."""
    tz = group_tz(group, wb)
    day_one = campaign_start(rule, group, wb)   # the rule's campaign instance, else the group's
    key = (rule.schedule, tz.key, day_one)
    if key not in memo:
        memo[key] = rule.schedule.occurrences(start - QUIET_LOOKBACK, end, tz, day_one)
    return memo[key]


def _earliest_join(rule: SopRule, start: datetime) -> datetime:
    """Members who joined before this cannot be due in a window starting at `start` (a cheap pre-filter)."""
    schedule = rule.schedule
    offset = timedelta(0)
    if schedule.kind == "join_offset":
        unit = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}[schedule.unit]
        offset = unit * schedule.amount + timedelta(days=2)
    return start - QUIET_LOOKBACK - offset - timedelta(days=1)


def rewarded_between(wb: Workbook, start: datetime, end: datetime) -> frozenset[str]:
    """Members whose referral reward coupon was issued in (start, end]: the `rewarded` mention."""
    from ..sheet.cells import fold
    campaign = fold(wb.settings.extra.get("referral_campaign") or "")
    if not campaign:
        return frozenset()
    tz = wb.settings.timezone
    out = set()
    for c in wb.coupons.values():
        if c.member_id and c.issued_at is not None and fold(c.campaign) == campaign:
            at = c.issued_at if c.issued_at.tzinfo else c.issued_at.replace(tzinfo=tz)
            if start < at <= end:
                out.add(c.member_id)
    return frozenset(out)


def plan_sends(wb: Workbook, ledger: Ledger, start: datetime, end: datetime, now: datetime,
               *, preview: bool = False) -> list[PlannedSend]:
    """Every send whose time falls in (start, end], with its policy. `now` decides catch-up."""
    members_by_group: dict[str, list[Member]] = {}
    for m in wb.members.values():
        members_by_group.setdefault(m.group_id, []).append(m)
    joined_by_group = {g: sorted(((m.joined_at.replace(tzinfo=None), m.member_id, m) for m in ms
                                  if m.joined_at is not None and reachable(m)), key=lambda x: x[:2])
                       for g, ms in members_by_group.items()}
    pool = CouponPool(wb.coupons)
    planned: list[PlannedSend] = []
    memo: dict = {}
    activity = activity_of_workbook(wb, now)  # per person, keyword check-ins too; only events whose time has come
    held: dict[str, list] = {}
    for c in wb.coupons.values():
        if c.member_id:
            held.setdefault(c.member_id, []).append(c)

    rewarded = rewarded_between(wb, start, end)

    def ctx(at: datetime, group: Group) -> Context:
        return Context(activity, held, at.astimezone(group_tz(group, wb)).date(), rewarded)
    for rule in wb.sop:
        if not rule.enabled:
            continue
        for group in target_groups(rule, wb.groups):
            if not group.enabled or excluded_by_experiment(rule, group):
                continue
            in_group = members_by_group.get(group.group_id, [])
            if rule.schedule.member_relative:
                planned += _member_sends(rule, group, in_group, joined_by_group.get(group.group_id, []), wb, ledger,
                                         start, end, now, ctx)
            else:
                for occurrence in _group_occurrences(rule, group, wb, start, end, memo):
                    at, quiet = quiet_shift(occurrence, group, wb)
                    if not start < at <= end or not _rule_active(rule, group, at, wb):
                        continue
                    sid = send_id(rule.rule_id, group.group_id, occurrence)
                    if not preview and ledger.is_done(sid):
                        continue
                    p = PlannedSend(sid, rule, group, occurrence, at)
                    if quiet and rule.quiet == "skip":
                        p.policy, p.reason = "quiet_skip", "inside quiet hours"
                    p.audience = mentioned(rule, group, in_group, [], ctx(at, group))
                    planned.append(p)
    planned = per_member(planned, wb, ledger, preview, ctx)
    seen = {s for p in planned for s in p.sends}
    carried = deferred_sends(wb, ledger, start, end, seen, ctx)
    if not preview:
        carried += retried_sends(wb, ledger, seen, ctx)
    planned += per_member(carried, wb, ledger, preview, ctx)
    judge_audiences(planned, wb)
    planned.sort(key=lambda p: (p.at, p.group.row, p.rule.row))
    for p in planned:
        _apply_policies(p, wb, now, preview)
    _apply_caps(planned, wb, ledger)
    for p in planned:
        if p.policy == "due" and p.rule.coupon:
            for member in p.audience.members:
                code = pool.code_for(p.rule.coupon, member)
                if code:
                    p.coupons[member.member_id] = code
                else:
                    p.pool_empty = True
    return planned


def _member_sends(rule: SopRule, group: Group, in_group: list[Member], joined: list[tuple], wb: Workbook,
                  ledger: Ledger, start: datetime, end: datetime, now: datetime, ctx) -> list[PlannedSend]:
    """Member-relative rules: one send per group per slot, @-mentioning everyone due at it.

    `on join` fires at the next tick after a member joins, so its slot is the tick: 30 people joining in a
    minute get one welcome. Those who joined more than `catch_up` ago (an outage) form their own batch,
    recorded as missed. `join+2d 10:00` slots are their times."""
    tz = group_tz(group, wb)
    catch_up = rule.catch_up or wb.settings.catch_up
    slots: dict[tuple[datetime, bool], PlannedSend] = {}
    earliest = _earliest_join(rule, start).replace(tzinfo=None)  # naive wall time vs UTC: a day of slack covers any zone
    for _, _, member in joined[bisect.bisect_left(joined, (earliest,)):]:
        if rule.schedule.kind == "on_join" and member.welcomed_at is not None:
            continue  # welcomed before (by qunflow or by hand)
        joined = local_naive(member.joined_at, tz)
        occurrence = rule.schedule.member_occurrence(joined, tz)
        at, quiet = quiet_shift(occurrence, group, wb)
        if not start < at <= end or not _rule_active(rule, group, at, wb):
            continue
        sid = send_id(rule.rule_id, group.group_id, occurrence, member.member_id)
        if ledger.is_done(sid):
            continue
        key = (end, now - at > catch_up) if rule.schedule.kind == "on_join" else (at, False)
        slot = slots.get(key)
        if slot is None:
            slot = slots[key] = PlannedSend(send_id(rule.rule_id, group.group_id, key[0]) + (":late" if key[1] else "")
                                            + ":batch", rule, group, at, at)
            if quiet and rule.quiet == "skip":
                slot.policy, slot.reason = "quiet_skip", "inside quiet hours"
        if key[1]:
            slot.at = slot.occurrence = min(slot.at, at)   # the stale batch is judged by its oldest join
        else:
            slot.at = slot.occurrence = max(slot.at, at)
        slot.members.append(member)
        slot.member_send_ids[member.member_id] = sid
    for slot in slots.values():
        slot.audience = mentioned(rule, group, in_group, slot.members, ctx(slot.at, group))
    return list(slots.values())


def _apply_policies(p: PlannedSend, wb: Workbook, now: datetime, preview: bool) -> None:
    if p.policy != "due":
        return
    if (p.group.status or "").lower().startswith("dead"):
        p.policy, p.reason = "dead_webhook", f"webhook marked dead: {p.group.status}"
        return
    catch_up = p.rule.catch_up or wb.settings.catch_up
    if not preview and p.reason != DEFERRED_REASON and now - p.at > catch_up:
        late = "still not delivered (the platform failed earlier runs) " if p.reason == RETRY_REASON else ""
        p.policy, p.reason = "missed", f"{late}due {p.at:%Y-%m-%d %H:%M} UTC, more than {catch_up} ago"


def _apply_caps(planned: list[PlannedSend], wb: Workbook, ledger: Ledger) -> None:
    counts: dict[tuple[str, date], int] = {}
    for p in planned:
        if p.policy != "due":
            continue
        tz = group_tz(p.group, wb)
        day = p.at.astimezone(tz).date()
        key = (p.group.group_id, day)
        if key not in counts:
            day_start = datetime.combine(day, time(), tzinfo=tz)
            counts[key] = ledger.sent_count(p.group.group_id, day_start, day_start + timedelta(days=1))
        cap = p.group.daily_cap if p.group.daily_cap is not None else wb.settings.daily_cap
        if counts[key] >= cap:
            next_day = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz)
            later, _ = quiet_shift(next_day.astimezone(timezone.utc), p.group, wb)
            p.policy, p.reason = "deferred", f"daily cap {cap} reached; moved to {later.astimezone(tz):%Y-%m-%d %H:%M}"
            p.at = later
            continue
        counts[key] += 1
