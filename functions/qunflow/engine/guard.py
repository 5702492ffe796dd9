"""What keeps a group's feed readable: the collision guard and the daily cap. Pure; plan_sends runs both.

- **Sequences.** Sends due at the same moment in one group (a poster, then its text) are one slot: they go
  out back to back in one tick, in SOP row order (the planner's order: time, group row, rule row).
- **min_gap.** Different slots in one group go out at least `min_gap` apart (Settings, default 2 minutes):
  a tick posts at most one slot per group, and only when the group's last post is `min_gap` old; every other
  slot due in that tick is `deferred` to `min_gap` after the one before it. So a catch-up after an outage
  spreads over the following ticks instead of bursting. A spread send is exempt from catch-up (spreading
  never turns a send into `missed`); when it comes back it meets the rule's `until`, quiet hours and enabled
  flag again (engine/carried.py). A deferred send that comes back more than two ticks (10 minutes) after its
  new time (ticks run by hand, far apart) goes out with the tick instead of being spread again, so a group's
  backlog cannot grow without end when ticks are sparse. `min_gap` 0 turns the guard off.
- **The daily cap.** A send over its group's cap for the local day is `deferred` to the next day at the same
  time of day (after quiet hours), never to midnight; if that day is past the rule's `until`, it is `skipped`
  ("past its end date"). Each deferral by the cap raises `cap_reached` (the tick puts it in Problems).
"""
from __future__ import annotations

import bisect
from datetime import date, datetime, timedelta, timezone

from ..sheet.workbook import Workbook
from .carried import DEFERRED_REASON, PAST_UNTIL, SPREAD_PREFIX
from .ledger import Ledger
from .planned import PlannedSend, group_tz, quiet_shift



OVERDUE = timedelta(minutes=10)   # two ticks of the scheduler: a carried send this late is not spread again


def spread_slots(planned: list[PlannedSend], wb: Workbook, ledger: Ledger, now: datetime) -> None:
    """One slot per group per tick, `min_gap` after the group's last post; the rest deferred, in order."""
    gap = wb.settings.min_gap
    if gap <= timedelta(0):
        return
    slots: dict[str, dict[datetime, list[PlannedSend]]] = {}
    for p in planned:
        if p.policy == "due" and not (p.reason == DEFERRED_REASON and now - p.at > OVERDUE):
            slots.setdefault(p.group.group_id, {}).setdefault(p.at, []).append(p)
    if not slots:
        return
    last_posts = ledger.last_sent_by_group()
    for group_id, by_time in slots.items():
        last = last_posts.get(group_id)
        free = last + gap if last is not None else None     # the first moment the group may get its next slot
        for at in sorted(by_time):
            if free is None or free <= now:
                free = now + gap                             # this slot goes now
                continue
            for p in by_time[at]:
                tz = group_tz(p.group, wb)
                p.policy, p.reason = "deferred", f"{SPREAD_PREFIX} {_minutes(gap)}; moved to {free.astimezone(tz):%Y-%m-%d %H:%M}"
                p.at = free
            free = free + gap


def sent_times(ledger: Ledger) -> dict[str, list[datetime]]:
    """group id -> the times of its sends, sorted (UTC): one pass over the ledger, then each (group, local day)
    count is two bisects (`Ledger.sent_count` is the same count by a scan)."""
    out: dict[str, list[datetime]] = {}
    for e in ledger.latest.values():
        if e.status == "sent" and e.group_id and e.sent_at is not None:
            at = e.sent_at if e.sent_at.tzinfo else e.sent_at.replace(tzinfo=timezone.utc)
            out.setdefault(e.group_id, []).append(at.astimezone(timezone.utc))
    for times in out.values():
        times.sort()
    return out


def count_between(times: list[datetime], start: datetime, end: datetime) -> int:
    """How many of the sorted `times` lie in [start, end)."""
    return bisect.bisect_left(times, end) - bisect.bisect_left(times, start)


def apply_caps(planned: list[PlannedSend], wb: Workbook, ledger: Ledger) -> None:
    counts: dict[tuple[str, date], int] = {}
    index: dict[str, list[datetime]] | None = None     # built on the first (group, day) that needs a count
    for p in planned:
        if p.policy != "due":
            continue
        tz = group_tz(p.group, wb)
        day = p.at.astimezone(tz).date()
        key = (p.group.group_id, day)
        if key not in counts:
            day_start = datetime.combine(day, datetime.min.time(), tzinfo=tz)
            if index is None:
                index = sent_times(ledger)
            counts[key] = count_between(index.get(p.group.group_id, []), day_start, day_start + timedelta(days=1))
        cap = p.group.daily_cap if p.group.daily_cap is not None else wb.settings.daily_cap
        if counts[key] >= cap:
            local = p.at.astimezone(tz)
            next_day = datetime.combine(day + timedelta(days=1), local.time().replace(tzinfo=None), tzinfo=tz)
            later, _ = quiet_shift(next_day.astimezone(timezone.utc), p.group, wb)
            p.cap = cap
            if p.rule.until is not None and later.astimezone(tz).date() > p.rule.until:
                p.policy, p.reason = "past_until", f"daily cap {cap} reached, and the next day is {PAST_UNTIL} ({p.rule.until})"
                continue
            p.policy, p.reason = "deferred", f"daily cap {cap} reached; moved to {later.astimezone(tz):%Y-%m-%d %H:%M}"
            p.at = later
            continue
        counts[key] += 1


def _minutes(gap: timedelta) -> str:
    minutes = gap.total_seconds() / 60
    return f"{int(minutes)}m" if minutes == int(minutes) else f"{int(gap.total_seconds())}s"
