"""What is due in (start, end]: every concrete send, and what the policies do to it. Pure.

Policies, in order:
- disabled group or rule, `until` passed → not planned at all;
- quiet hours: a send due inside them waits until they end (`quiet: wait`) or is skipped (`skip`);
- the ledger: a send already final (sent, failed, skipped, missed, unknown) is never planned again; one the
  platform never took (`retry`) is planned again at its own time by every later tick (engine/carried.py);
- late events: a member-relative send is planned by the first tick that sees its member's join, however late
  the join arrived (a welcome up to `welcome_window` after the join, a follow-up up to `catch_up` after its
  time); older ones are recorded `missed` with the reason, once;
- catch-up: a send older than `catch_up` when the tick sees it is `missed`, never posted late;
- a dead webhook (Groups.status starts with "dead") → skipped until the operator clears the status;
- the collision guard (engine/guard.py): one slot per group per tick, `min_gap` apart, sequences back to back;
- the daily cap: sends over it are `deferred` to the next day at the same time of day, or `skipped` when that
  day is past the rule's `until` (deferred sends are exempt from catch-up: deferring is the operator's own
  policy, not an outage);
- WeCom customer groups (engine/customer.py): a send whose template carries a member's code is skipped without
  Settings `coupon_link_base` (`no_coupon_link`); then the group's mass-message quota (engine/quota.py).
"""
from __future__ import annotations

import bisect
from datetime import datetime, timedelta

from .ledger import Ledger, send_id
from ..sheet.campaigns import campaign_start
from ..sheet.records import Group, Member, SopRule
from ..sheet.workbook import Workbook
from .experiments import excluded_by_experiment
from ..members.activity import activity_of_workbook
from .planned import PlannedSend, group_tz, local_naive, quiet_shift
from .carried import DEFERRED_REASON, RETRY_REASON, deferred_sends, retried_sends
from .guard import apply_caps, spread_slots
from .quota import apply_quota
from .ledger import DONE
from ..members.blacklist import reachable
from ..members.coupons import CouponPool
from .audience import Context, mentioned, target_groups
from .permember import judge_audiences, per_member
from .customer import judge_links

QUIET_LOOKBACK = timedelta(days=1)  # a send can wait at most this long for quiet hours to end
LATE_HORIZON = timedelta(days=30)   # joins older than this are a member list pasted in, not a late event


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


def _earliest_join(rule: SopRule, start: datetime, now: datetime | None = None) -> datetime:
    """Members who joined before this cannot be due now, however late their join arrived (a cheap pre-filter).
    Without `now`: members who joined before this cannot be due in the window itself (only seen late)."""
    schedule = rule.schedule
    offset = timedelta(0)
    if schedule.kind == "join_offset":
        unit = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}[schedule.unit]
        offset = unit * schedule.amount + timedelta(days=2)
    return min(start, now - LATE_HORIZON if now else start) - QUIET_LOOKBACK - offset - timedelta(days=1)


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
    judge_links(planned, wb)
    planned.sort(key=lambda p: (p.at, p.group.row, p.rule.row))
    for p in planned:
        _apply_policies(p, wb, now, preview)
    if not preview:
        spread_slots(planned, wb, ledger, now)
    apply_caps(planned, wb, ledger)
    apply_quota(planned, wb, ledger)
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
    minute get one welcome. A join is planned by the first tick that sees it, however late it arrived: its
    welcome goes out if it is at most `welcome_window` old (the rule's `catch_up` when it sets one), else the
    join's own batch is recorded missed. `join+2d 10:00` slots are their times; one whose time passed before
    its join was seen goes out late within `catch_up`, or is recorded missed."""
    tz = group_tz(group, wb)
    on_join = rule.schedule.kind == "on_join"
    limit = rule.catch_up or (wb.settings.welcome_window if on_join else wb.settings.catch_up)
    slots: dict[tuple[datetime, bool], PlannedSend] = {}
    earliest = _earliest_join(rule, start, now).replace(tzinfo=None)  # naive wall time vs UTC: a day of slack covers any zone
    in_window = _earliest_join(rule, start).replace(tzinfo=None)   # before this, only joins seen late
    horizon = now - LATE_HORIZON
    done = ledger.members_done()
    for naive_join, _, member in joined[bisect.bisect_left(joined, (earliest,)):]:
        if on_join and member.welcomed_at is not None:
            continue  # welcomed before (by qunflow or by hand)
        if naive_join < in_window and (rule.rule_id, group.group_id, member.member_id) in done:
            continue  # an old join whose send is final: seen before (a cheap skip, before any time arithmetic)
        joined_utc = local_naive(member.joined_at, tz)
        if joined_utc > end or joined_utc < horizon:
            continue  # not joined yet, or history
        occurrence = rule.schedule.member_occurrence(joined_utc, tz)
        at, quiet = quiet_shift(occurrence, group, wb)
        if at > end or not _rule_active(rule, group, at, wb):
            continue
        sid = send_id(rule.rule_id, group.group_id, occurrence, member.member_id)
        status = ledger.status(sid)
        if status in DONE or (status is not None and at <= start):
            continue  # done, or carried over (retry, deferred): engine/carried.py plans it
        late = at <= start
        stale = now - at > limit
        key = (end, stale) if on_join else (at, stale)
        slot = slots.get(key)
        if slot is None:
            slot = slots[key] = PlannedSend(send_id(rule.rule_id, group.group_id, key[0]) + (":late" if key[1] else "")
                                            + ":batch", rule, group, at, at)
            if quiet and rule.quiet == "skip":
                slot.policy, slot.reason = "quiet_skip", "inside quiet hours"
        if stale:
            slot.at = slot.occurrence = min(slot.at, at)   # the stale batch is judged by its oldest join
            seen = f"; the join was seen {now:%Y-%m-%d %H:%M} UTC" if late else ""
            slot.policy = "missed"
            slot.reason = (f"joined {joined_utc:%Y-%m-%d %H:%M} UTC, more than welcome_window {limit} ago{seen}"
                           if on_join else f"due {slot.at:%Y-%m-%d %H:%M} UTC, more than {limit} ago{seen}")
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
    on_join = p.rule.schedule.kind == "on_join"
    catch_up = p.rule.catch_up or (wb.settings.welcome_window if on_join else wb.settings.catch_up)
    if on_join and p.reason != RETRY_REASON:
        return      # a welcome's age was judged against welcome_window when it was planned
    if not preview and p.reason != DEFERRED_REASON and now - p.at > catch_up:
        late = "still not delivered (the platform failed earlier runs) " if p.reason == RETRY_REASON else ""
        p.policy, p.reason = "missed", f"{late}due {p.at:%Y-%m-%d %H:%M} UTC, more than {catch_up} ago"
