"""What each member did, from the Events tab: counts, last activity, check-in streaks. Pure."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo


@dataclass
class Activity:
    messages: list[datetime] = field(default_factory=list)   # naive wall times
    checkin_days: set[date] = field(default_factory=set)
    orders: int = 0
    revenue: Decimal = Decimal(0)
    invites: int = 0
    redeemed: int = 0

    def messages_since(self, since: datetime) -> int:
        return sum(1 for t in self.messages if t >= since)

    def streak(self, today: date) -> int:
        """Consecutive days with a check-in, ending today (or yesterday, if today has none yet)."""
        day = today if today in self.checkin_days else today - timedelta(days=1)
        n = 0
        while day in self.checkin_days:
            n += 1
            day -= timedelta(days=1)
        return n


DEFAULT_CHECKIN_KEYWORD = "打卡"  # in `kind: checkin` groups that do not set their own checkin_keyword


def activity_by_member(events, keyword_for=None, zone_for=None) -> dict[str, Activity]:
    """`keyword_for(event)`: the check-in keyword of the event's group (a message containing it is a check-in);
    `zone_for(event)`: the group's zone, in which a check-in's day is counted. Without them: checkin events only,
    at the wall time the sheet holds."""
    out: dict[str, Activity] = defaultdict(Activity)
    for e in events:
        zone = zone_for(e) if zone_for else None
        at = (e.at.astimezone(zone) if zone else e.at).replace(tzinfo=None) if e.at.tzinfo else e.at
        a = out[e.member_id]
        if e.type == "message":
            a.messages.append(at)
            keyword = keyword_for(e) if keyword_for else None
            if keyword and keyword in (e.detail or ""):
                a.checkin_days.add(at.date())
        elif e.type == "checkin":
            a.checkin_days.add(at.date())
            a.messages.append(at)
        elif e.type == "order":
            a.orders += 1
            a.revenue += e.amount or 0
        elif e.type == "invite":
            a.invites += 1
        elif e.type == "redeem":
            a.redeemed += 1
    return out


def checkin_keyword(group) -> str | None:
    """The word that makes a message a check-in in this group (None: only checkin events count)."""
    keyword = (group.checkin_keyword or "").strip()
    if keyword:
        return keyword
    return DEFAULT_CHECKIN_KEYWORD if group.kind == "checkin" else None


def activity_of_workbook(wb) -> dict[str, Activity]:
    """Every member's activity, check-ins by keyword included, each event's day in its group's time zone."""
    def group_of(e):
        gid = e.group_id or (wb.members[e.member_id].group_id if e.member_id in wb.members else None)
        return wb.groups.get(gid) if gid else None

    def keyword_for(e):
        group = group_of(e)
        return checkin_keyword(group) if group else None

    def zone_for(e):
        group = group_of(e)
        return (group.timezone if group and group.timezone else None) or wb.settings.timezone

    return activity_by_member(wb.events, keyword_for, zone_for)


def layer_of(a: Activity | None, now_local: datetime, thresholds: dict) -> str:
    """core: buys or brings friends, or talks a lot; influence: talks; periphery: watches."""
    if a is None:
        return "periphery"
    talk_30d = a.messages_since(now_local - timedelta(days=30))
    if a.orders >= thresholds["core_orders"] or a.invites >= thresholds["core_invites"] or talk_30d >= thresholds["core_messages_30d"]:
        return "core"
    if talk_30d >= thresholds["influence_messages_30d"] or a.orders:
        return "influence"
    return "periphery"


def local_now(now: datetime, tz: ZoneInfo) -> datetime:
    return now.astimezone(tz).replace(tzinfo=None)
