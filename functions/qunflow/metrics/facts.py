"""The workbook indexed once for the metrics: who was in which group when, what they did, what qunflow sent. Pure.

Every time is a naive wall time in the group's time zone (the sheet's convention: a datetime without an
offset is local to its group; one with an offset, like SendLog.sent_at, is converted). Membership comes
from the Members tab (joined_at, left_at), so members who were there before qunflow count too; a member
who left and came back counts from their latest join, as the Members tab keeps it.

A Members row is a membership (member_id, group_id): a person in two groups is counted in each group's
memberships (Metrics.members) and once in the shop's people (Metrics.shop_people).
"""
from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from ..sheet.records import Event, Member
from ..sheet.workbook import Workbook

ACTIVE_TYPES = ("message", "checkin")      # "spoke or checked in"
ACTIVATION_WINDOW = timedelta(days=3)


def to_local(value: datetime | None, tz: ZoneInfo) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(tz).replace(tzinfo=None) if value.tzinfo else value


def day_start(day: date) -> datetime:
    return datetime.combine(day, time())


def setting(wb: Workbook, key: str, default):
    value = wb.settings.extra.get(key)
    return default if value in (None, "") else value


def north_star(wb: Workbook) -> str:
    return str(setting(wb, "north_star", "orders"))


def attribution_hours(wb: Workbook) -> int:
    return int(setting(wb, "attribution_hours", 48))


def lurker_days(wb: Workbook) -> int:
    return int(setting(wb, "lurker_days", 14))


@dataclass
class Person:
    member: Member
    group_id: str
    joined: datetime | None          # None: joined before anyone wrote it down (present from the start)
    left: datetime | None
    gone: bool                       # status `left` with no left_at: never counted as present
    active: list[datetime] = field(default_factory=list)   # sorted times of messages and check-ins
    last_active_field: datetime | None = None              # Members.last_active_at

    def present(self, t: datetime) -> bool:
        """In the group just before moment t."""
        if self.gone or (self.joined is not None and self.joined >= t):
            return False
        return self.left is None or self.left >= t

    def activation(self) -> datetime | None:
        """The first message or check-in at or after joining, if within 3 days of it."""
        if self.joined is None:
            return None
        i = bisect.bisect_left(self.active, self.joined)
        if i < len(self.active) and self.active[i] - self.joined <= ACTIVATION_WINDOW:
            return self.active[i]
        return None

    def active_between(self, start: datetime, end: datetime) -> bool:
        i = bisect.bisect_left(self.active, start)
        return i < len(self.active) and self.active[i] < end

    def last_seen_before(self, end: datetime) -> datetime | None:
        """The last message or check-in before `end`, else the join (a member who never spoke)."""
        i = bisect.bisect_left(self.active, end)
        candidates = [self.active[i - 1]] if i else []
        if self.joined is not None and self.joined < end:
            candidates.append(self.joined)
        if self.last_active_field is not None and self.last_active_field < end:
            candidates.append(self.last_active_field)
        return max(candidates, default=None)


@dataclass(frozen=True)
class Send:
    """One message qunflow delivered: SendLog rows with status sent, one per (rule, group, sent_at), so a
    welcome that @-mentions three newcomers (three SendLog rows) is one message."""
    rule_id: str
    group_id: str
    at: datetime


@dataclass(frozen=True)
class Happening:
    at: datetime
    event: Event


@dataclass
class Facts:
    wb: Workbook
    tz: dict[str, ZoneInfo]
    people: dict[str, list[Person]]                    # group_id -> members of that group
    person: dict[tuple[str, str], Person]              # (member_id, group_id) -> the membership
    events: dict[str, list[Happening]]                 # group_id -> events, sorted by local time
    sends: dict[str, list[Send]]                       # group_id -> sends, sorted
    coupons: dict[str, list[tuple[datetime | None, datetime | None]]]   # holder's group -> (issued, redeemed)
    referred_joins: dict[str, list[datetime]]          # inviter's group -> join times of those they invited
    shop_memo: dict = field(default_factory=dict)

    def in_day(self, items: list, day: date) -> list:
        """The items (sorted by .at) in that local day."""
        start = day_start(day)
        times = [x.at for x in items]
        return items[bisect.bisect_left(times, start):bisect.bisect_left(times, start + timedelta(days=1))]

    def members_at(self, group_id: str, t: datetime) -> int:
        return sum(1 for p in self.people.get(group_id, ()) if p.present(t))

    def shop_people_at(self, day_end: dict[str, datetime]) -> int:
        """Distinct people present in any group at its group's moment (the end of the same local day)."""
        key = tuple(sorted(day_end.items()))
        if key not in self.shop_memo:
            self.shop_memo[key] = len({p.member.member_id for gid, ps in self.people.items() if gid in day_end
                                       for p in ps if p.present(day_end[gid])})
        return self.shop_memo[key]

    def first_day(self) -> date | None:
        days = [x.at.date() for xs in self.events.values() for x in xs[:1]]
        days += [x.at.date() for xs in self.sends.values() for x in xs[:1]]
        days += [p.joined.date() for p in self.person.values() if p.joined is not None]
        return min(days, default=None)

    def last_day(self) -> date | None:
        days = [x.at.date() for xs in self.events.values() for x in xs[-1:]]
        days += [x.at.date() for xs in self.sends.values() for x in xs[-1:]]
        return max(days, default=None)


def build_facts(wb: Workbook) -> Facts:
    from ..engine.planned import group_tz
    tz = {gid: group_tz(g, wb) for gid, g in wb.groups.items()}
    people: dict[str, list[Person]] = defaultdict(list)
    person: dict[str, Person] = {}
    for m in wb.members.values():
        if m.group_id not in tz:
            continue
        zone = tz[m.group_id]
        p = Person(m, m.group_id, to_local(m.joined_at, zone), to_local(m.left_at, zone),
                   gone=m.status == "left" and m.left_at is None, last_active_field=to_local(m.last_active_at, zone))
        people[m.group_id].append(p)
        person[(m.member_id, m.group_id)] = p
    first: dict[str, Person] = {}
    rows_of: dict[str, list[Person]] = defaultdict(list)
    for key in sorted(person, key=lambda k: person[k].member.row or 1 << 30):
        first.setdefault(key[0], person[key])
        rows_of[key[0]].append(person[key])
    events: dict[str, list[Happening]] = defaultdict(list)
    for e in wb.events:
        owner = person.get((e.member_id, e.group_id)) or first.get(e.member_id)
        gid = e.group_id if e.group_id in tz else (owner.group_id if owner else None)
        if gid is None:
            continue
        at = to_local(e.at, tz[gid])
        events[gid].append(Happening(at, e))
        if e.type in ACTIVE_TYPES and owner is not None:
            owner.active.append(to_local(e.at, tz[owner.group_id]))
    for xs in events.values():
        xs.sort(key=lambda h: (h.at, h.event.row))
    for p in person.values():
        p.active.sort()
    seen, sends = set(), defaultdict(list)
    for r in wb.sendlog:
        if r.status != "sent" or r.sent_at is None or r.group_id not in tz:
            continue
        s = Send(r.rule_id or "", r.group_id, to_local(r.sent_at, tz[r.group_id]))
        if s not in seen:
            seen.add(s)
            sends[r.group_id].append(s)
    for xs in sends.values():
        xs.sort(key=lambda s: (s.at, s.rule_id))
    coupons = defaultdict(list)
    bound = {(p.member.coupon_code, p.member.member_id): p for p in person.values() if p.member.coupon_code}
    for c in wb.coupons.values():   # in the group of the membership it was given in, else the person's first
        holder = bound.get((c.code, c.member_id)) or first.get(c.member_id or "")
        if holder is not None:
            zone = tz[holder.group_id]
            coupons[holder.group_id].append((to_local(c.issued_at, zone), to_local(c.redeemed_at, zone)))
    referred = defaultdict(list)
    for member_id, p in first.items():   # each invitee once: their first join to the shop
        joins = [q for q in rows_of[member_id] if q.joined is not None]
        if not p.member.referred_by or not joins:
            continue
        joined = min(joins, key=lambda q: q.joined)
        inviter = person.get((p.member.referred_by, joined.group_id)) or first.get(p.member.referred_by)
        if inviter is not None:
            referred[inviter.group_id].append(joined.joined)
    return Facts(wb, tz, dict(people), person, dict(events), dict(sends), dict(coupons),
                 {k: sorted(v) for k, v in referred.items()})


def ratio(numerator: int | Decimal, denominator: int | Decimal) -> Decimal | None:
    """A rate with 4 decimals; None (an empty cell) when there is nothing to divide by."""
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0001"))
