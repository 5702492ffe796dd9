"""The ticks ahead, without sending: what `qunflow preview` shows. Pure.

Preview is the tick without the posting: the same planner (plan_sends) runs tick after tick over the window,
each tick seeing what the ones before it did (as sent: the ledger, the daily cap, the collision guard, the
coupons bound, the welcomes given). Ticks run on the scheduler's grid (every 5 minutes, on the minute marks);
the first one is `now` and covers (start, now], what the next real tick will meet. Ticks in which nothing
can be due are skipped: such a tick only moves `last_tick`.
"""
from __future__ import annotations

import heapq
from datetime import datetime, timedelta, timezone

from ..sheet.workbook import Workbook
from .ledger import Entry, Ledger
from .plan import plan_sends
from .planned import PlannedSend, group_tz, local_naive, quiet_shift

TICK = timedelta(minutes=5)     # Cloud Scheduler's `*/5 * * * *`; `qunflow demo` ticks the same way
FINAL_OF = {"due": "sent", "missed": "missed", "quiet_skip": "skipped", "dead_webhook": "skipped",
            "past_until": "skipped", "deferred": "deferred"}


def on_grid(t: datetime, every: timedelta = TICK) -> datetime:
    """The first tick at or after t."""
    step = int(every.total_seconds())
    seconds = int(t.timestamp())
    seconds += -seconds % step if t.microsecond == 0 else step - seconds % step
    return datetime.fromtimestamp(seconds, timezone.utc)


def simulate(wb: Workbook, ledger: Ledger, start: datetime, now: datetime, end: datetime,
             every: timedelta = TICK) -> list[tuple[datetime, PlannedSend]]:
    """(tick, planned send) for every tick from `now` to `end`. `wb` is the preview's own copy: the coupons and
    welcomes the simulated sends decide are written into it, as the tick's write-back would."""
    sim = Ledger(ledger.latest.values())
    ticks = [now] + sorted({on_grid(t, every) for t in _due_times(wb, ledger, now, end) if now < on_grid(t, every) <= end})
    heapq.heapify(ticks)
    out: list[tuple[datetime, PlannedSend]] = []
    last, done = start, set()
    while ticks:
        t = heapq.heappop(ticks)
        if t in done or t > end:
            continue
        done.add(t)
        for p in plan_sends(wb, sim, last, t, t):
            out.append((t, p))
            status = FINAL_OF.get(p.policy, "skipped")
            for sid in p.sends:
                sim.add(Entry(sid, status, group_id=p.group.group_id, rule_id=p.rule.rule_id, reason=p.reason,
                              sent_at=t if status == "sent" else None,
                              scheduled_for=p.at if status == "deferred" else p.occurrence))
            if status == "deferred" and now < on_grid(p.at, every) <= end:
                heapq.heappush(ticks, on_grid(p.at, every))
            if status == "sent":
                _decided(wb, p, t)
        last = t
    return out


def _due_times(wb: Workbook, ledger: Ledger, now: datetime, end: datetime) -> set[datetime]:
    """When something may fall due in (now, end]: each send's time, each join's, each carried send's."""
    times = {p.at for p in plan_sends(wb, Ledger(), now, end, now, preview=True)}
    for m in wb.members.values():
        group = wb.groups.get(m.group_id)
        if group is not None and m.joined_at is not None:
            times.add(quiet_shift(local_naive(m.joined_at, group_tz(group, wb)), group, wb)[0])
    for e in ledger.deferred():
        group = wb.groups.get(e.group_id or "")
        if group is not None and e.scheduled_for is not None:
            times.add(quiet_shift(e.scheduled_for, group, wb)[0])
    return times


def _decided(wb: Workbook, p: PlannedSend, t: datetime) -> None:
    """What a sent send decides, in the preview's workbook: the coupons bound, the welcomes given."""
    local = t.astimezone(group_tz(p.group, wb)).replace(tzinfo=None)
    if p.rule.schedule.kind == "on_join":
        for m in p.members:
            m.welcomed_at = local
    for member_id, code in p.coupons.items():
        coupon = wb.coupons.get(code)
        if coupon is not None:
            coupon.member_id, coupon.status = member_id, "issued"
        if member_id in wb.members:
            wb.members[member_id].coupon_code = code
