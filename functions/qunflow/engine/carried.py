"""Sends that come back after their own tick: deferred by the daily cap, or left to `retry` by a platform that was
down. Pure; plan_sends adds them to what is due.

- `deferred`: the daily cap moved it to a later day; it comes back when that time arrives (exempt from catch-up).
- `retry`: the platform never took it (5xx, throttling, no connection, attempts used up); every later tick tries
  again at its original time, so catch-up decides: within `catch_up` it goes out late, after that it is `missed`.
"""
from __future__ import annotations

from datetime import datetime, timezone

from .ledger import Entry, Ledger
from ..sheet.workbook import Workbook
from .audience import mentioned
from .planned import PlannedSend, group_tz, quiet_shift

DEFERRED_REASON = "deferred by the daily cap"
RETRY_REASON = "sent again after a failed run"
PAST_UNTIL = "past its end date"
SPREAD_PREFIX = "spread by min_gap"


def deferred_sends(wb: Workbook, ledger: Ledger, start: datetime, end: datetime, seen: set[str], ctx) -> list:
    """Sends the daily cap or the collision guard pushed later come back when their new time arrives, with
    their rule's policies: still enabled (else they stay deferred, unposted), quiet hours (the new time waits
    for them to end, or is skipped with `quiet: skip`), `until` (past it: skipped, "past its end date"). A
    member-relative rule's members come back in the batch they were in."""
    rules = {r.rule_id: r for r in wb.sop if r.enabled}
    members = _MembersByGroup(wb)
    batches: dict[tuple[str, str, datetime], PlannedSend] = {}
    out = []
    for entry in ledger.deferred():
        if entry.send_id in seen or entry.scheduled_for is None or entry.rule_id not in rules:
            continue
        group = wb.groups.get(entry.group_id or "")
        if group is None or not group.enabled:
            continue
        rule = rules[entry.rule_id]
        at, quiet = quiet_shift(entry.scheduled_for, group, wb)
        if not start < at <= end:
            continue
        member_id = _member_of(entry) if rule.schedule.member_relative else None
        # spread by the guard: still the send of its original time (a later failure is judged from it); moved by
        # the daily cap: a send of its new day
        spread = entry.reason.startswith(SPREAD_PREFIX)
        occurrence = (_occurrence_of(entry) or entry.scheduled_for) if spread else entry.scheduled_for
        if member_id is None:
            p = PlannedSend(entry.send_id, rule, group, occurrence, at, reason=DEFERRED_REASON)
            p.audience = mentioned(rule, group, members[group.group_id], [], ctx(p.at, group))
            out.append(p)
        else:
            p = batches.get((rule.rule_id, group.group_id, at))
            if p is None:
                p = batches[(rule.rule_id, group.group_id, at)] = PlannedSend(
                    f"{entry.send_id}:deferred:batch", rule, group, occurrence, at, reason=DEFERRED_REASON)
                out.append(p)
            p.member_send_ids[member_id] = entry.send_id
            if member_id in wb.members:
                p.members.append(wb.members[member_id])
        if rule.until is not None and at.astimezone(group_tz(group, wb)).date() > rule.until:
            p.policy, p.reason = "past_until", f"{PAST_UNTIL} ({rule.until}): it was deferred and its new time is later"
        elif quiet and rule.quiet == "skip":
            p.policy, p.reason = "quiet_skip", "inside quiet hours"
    for batch in batches.values():
        batch.audience = mentioned(batch.rule, batch.group, members[batch.group.group_id], batch.members,
                                   ctx(batch.at, batch.group))
    return out


def retried_sends(wb: Workbook, ledger: Ledger, seen: set[str], ctx) -> list:
    """Sends a platform outage left at `retry`, planned again at their original time (a member-relative rule's
    members in the batch they were in: same rule, group and time). Catch-up then decides whether they go out."""
    rules = {r.rule_id: r for r in wb.sop if r.enabled}
    members = _MembersByGroup(wb)
    batches: dict[tuple[str, str, datetime], PlannedSend] = {}
    out = []
    for entry in ledger.retrying():
        rule, group = rules.get(entry.rule_id or ""), wb.groups.get(entry.group_id or "")
        if entry.send_id in seen or rule is None or group is None or not group.enabled:
            continue  # a rule or group switched off since: it stays `retry` and is not posted
        occurrence = entry.scheduled_for or _occurrence_of(entry)
        if occurrence is None:
            continue
        at, _ = quiet_shift(occurrence, group, wb)  # when it was meant to go out
        member_id = _member_of(entry) if rule.schedule.member_relative else None
        if member_id is None:
            p = PlannedSend(entry.send_id, rule, group, occurrence, at, reason=RETRY_REASON)
            p.audience = mentioned(rule, group, members[group.group_id], [], ctx(at, group))
            out.append(p)
            continue
        batch = batches.get((rule.rule_id, group.group_id, at))
        if batch is None:
            batch = batches[(rule.rule_id, group.group_id, at)] = PlannedSend(
                f"{entry.send_id}:retry:batch", rule, group, at, at, reason=RETRY_REASON)
            out.append(batch)
        batch.member_send_ids[member_id] = entry.send_id
        member = wb.members.get((member_id, group.group_id))
        if member is not None:
            batch.members.append(member)
    for batch in batches.values():
        batch.audience = mentioned(batch.rule, batch.group, members[batch.group.group_id], batch.members,
                                   ctx(batch.at, batch.group))
    return out


class _MembersByGroup(dict):
    """group id -> its members, built on first use (most ticks carry nothing over and never need it)."""

    def __init__(self, wb: Workbook):
        super().__init__()
        self.wb = wb

    def __missing__(self, group_id: str) -> list:
        if not self:
            for m in self.wb.members.values():
                self.setdefault(m.group_id, []).append(m)
        return self.setdefault(group_id, [])


def _parts(entry: Entry) -> list[str] | None:
    """`rule:group:stamp[:member]`, read after the entry's own rule and group ids (which may hold anything)."""
    prefix = f"{entry.rule_id}:{entry.group_id}:"
    if not entry.send_id.startswith(prefix):
        return None
    return entry.send_id[len(prefix):].split(":", 1)


def _occurrence_of(entry: Entry) -> datetime | None:
    parts = _parts(entry)
    try:
        return datetime.strptime(parts[0], "%Y%m%dT%H%MZ").replace(tzinfo=timezone.utc) if parts else None
    except ValueError:
        return None


def _member_of(entry: Entry) -> str | None:
    parts = _parts(entry)
    return parts[1] if parts and len(parts) == 2 else None
