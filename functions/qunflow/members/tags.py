"""The member facts tag rules are evaluated on, and the tags each member gets. Pure.

(The language itself is qunflow.sheet.tagrules: a Tags.rule cell is checked with the rest of the sheet.)
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, Iterable

from ..sheet.tagrules import FACTS, RuleError, parse_rule
from .activity import checkin_keyword

# --- facts ---------------------------------------------------------------------------------------------

def _wall(value: datetime | None, tz: tzinfo | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(tz).replace(tzinfo=None) if tz else value.replace(tzinfo=None)


def _streak(days: set[date], today: date) -> int:
    day = today if today in days else today - timedelta(days=1)
    n = 0
    while day in days:
        n += 1
        day -= timedelta(days=1)
    return n


def member_facts(member: Any, events: Iterable[Any], now: datetime, group: Any = None, *,
                 tz: tzinfo | None = None) -> dict[str, Any]:
    """The facts a rule can look at, for one member (a records.Member) and their events (records.Event).

    `now` is the group's wall-clock time (naive), or aware (then read in the group's time zone, else `tz`).
    Days are calendar days. messages_* count `message` events in the last 7 / 30 days up to now;
    days_since_active counts from the latest of last_active_at, a message and a check-in (or the join
    if there is none); streak is consecutive check-in days ending today (or yesterday). Events of other
    members and events after `now` are ignored.
    """
    zone = getattr(group, "timezone", None) or tz
    now = _wall(now, zone)
    today = now.date()
    mine = [e for e in events if e.member_id == member.member_id]
    dated = [(e, _wall(e.at, zone)) for e in mine]
    dated = [(e, at) for e, at in dated if at is not None and at <= now]
    joined = _wall(member.joined_at, zone) or min((at for e, at in dated if e.type == "join"), default=None)
    messages = [at for e, at in dated if e.type == "message"]
    keyword = checkin_keyword(group) if group is not None else None   # a 打卡 message is a check-in too
    checkins = {at.date() for e, at in dated if e.type == "checkin"
                or (keyword and e.type == "message" and keyword in (e.detail or ""))}
    orders = [e for e, _ in dated if e.type == "order"]
    active = [t for t in [_wall(member.last_active_at, zone), *messages,
                          *(at for e, at in dated if e.type == "checkin")] if t is not None and t <= now]
    last_active = max(active, default=None) or joined
    return {
        "source": member.source or "", "status": member.status or "", "layer": member.layer or "",
        "tags": tuple(member.tags or ()),
        "days_since_join": (today - joined.date()).days if joined else None,
        "days_since_active": (today - last_active.date()).days if last_active else None,
        "messages_7d": sum(1 for t in messages if t > now - timedelta(days=7)),
        "messages_30d": sum(1 for t in messages if t > now - timedelta(days=30)),
        "messages": len(messages),
        "orders": len(orders),
        "revenue": sum((e.amount or Decimal(0) for e in orders), Decimal(0)),
        "invites": sum(1 for e, _ in dated if e.type == "invite"),
        "checkins": len(checkins),
        "streak": _streak(checkins, today),
        "coupons_redeemed": len({e.coupon_code for e, _ in dated if e.type in ("redeem", "order") and e.coupon_code}),
        "group_id": member.group_id or "",
        "group_kind": getattr(group, "kind", "") or "",
    }


def rule_tags(wb: Any, now: datetime) -> tuple[dict[str, tuple[str, ...]], list[tuple[Any, RuleError]]]:
    """Each member's tags: the Members tab's own, plus every Tags-tab tag whose rule matches.

    Returns ({member_id: tags}, [(tag, RuleError)] for rules that cannot be used). Pure."""
    rules, bad = [], []
    for tag in wb.tags:
        if tag.rule and str(tag.rule).strip():
            try:
                rules.append((tag.tag, parse_rule(str(tag.rule))))
            except RuleError as error:
                bad.append((tag, error))
    by_member: dict[str, list[Any]] = {}
    for e in wb.events:
        by_member.setdefault(e.member_id, []).append(e)
    out = {}
    for member in wb.members.values():
        tags = list(member.tags)
        if rules:
            facts = member_facts(member, by_member.get(member.member_id, ()), now, wb.groups.get(member.group_id),
                                 tz=wb.settings.timezone)
            tags += [name for name, rule in rules if name not in tags and rule.evaluate(facts)]
        out[member.member_id] = tuple(tags)
    return out, bad
