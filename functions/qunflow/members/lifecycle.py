"""Members kept up to date from the Events tab. Pure.

Every tick folds *all* events into the member rows and writes only what differs, so a re-run is a
no-op and nothing depends on remembering which events were seen:
- join    → creates the member (or brings them back after they left); `detail` may carry
            `name=…; channel=…` (or just the channel), and the channel becomes the source;
- leave   → left_at, status left;
- message, checkin → last_active_at;
- order, redeem with a coupon_code → the coupon is redeemed, with the order; a redemption by
            someone other than the holder, or a second redemption, is flagged;
- invite  → `detail` names the invited member: their referred_by is the inviter; at the referral
            threshold (Settings) the inviter gets one reward coupon from the referral campaign.
A blacklisted person (same member id, platform user id or mobile) seen joining any group is flagged
and stays blacklisted there too.
"""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from ..sheet.changes import Changes
from ..sheet.problems import WARNING, ProblemSink
from ..sheet.records import Member
from ..sheet.workbook import Workbook
from .blacklist import blacklist
from .coupons import CouponPool


def _detail(detail: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in re.split(r"[;；|]", detail or ""):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip().lower()] = v.strip()
        elif part.strip():
            out.setdefault("channel", part.strip().removeprefix("channel ").strip())
    return out


def _naive(value: datetime) -> datetime:
    return value.replace(tzinfo=None) if value.tzinfo else value


def apply_events(wb: Workbook, now: datetime, sink: ProblemSink, changes: Changes) -> None:
    """Update wb.members in place from wb.events; put what changed into `changes`."""
    events_table, members_table = wb.tables["events"], wb.tables["members"]
    black_ids, black_users, black_mobiles = blacklist(wb.members.values())
    before = {k: replace(v) for k, v in wb.members.items()}
    new_ids: list[str] = []
    redeemed_by: dict[str, str] = {c.code: c.order_id or "" for c in wb.coupons.values() if c.status == "redeemed"}
    invites: dict[str, set[str]] = {}
    flagged: list = []
    for event in sorted(wb.events, key=lambda e: (_naive(e.at), e.row)):
        member = wb.members.get(event.member_id)
        if event.type == "join":
            info = _detail(event.detail)
            if member is None:
                if not event.group_id:
                    continue
                member = Member(member_id=event.member_id, name=info.get("name") or event.member_id,
                                group_id=event.group_id, joined_at=_naive(event.at), source=info.get("channel"),
                                platform_user_id=info.get("user") or info.get("userid"), mobile=info.get("mobile"))
                wb.members[member.member_id] = member
                new_ids.append(member.member_id)
            elif member.left_at is not None and _naive(event.at) > member.left_at and member.status == "left":
                member.left_at, member.status, member.joined_at = None, "active", _naive(event.at)
            if (member.member_id in black_ids or (member.platform_user_id and member.platform_user_id in black_users)
                    or (member.mobile and member.mobile in black_mobiles)):
                member.status = "blacklisted"
                flagged.append((event, member))
        elif member is None:
            continue
        elif event.type == "leave":
            if member.left_at is None or _naive(event.at) > member.left_at:
                member.left_at = _naive(event.at)
                if member.status != "blacklisted":
                    member.status = "left"
        elif event.type in ("message", "checkin"):
            if member.last_active_at is None or _naive(event.at) > member.last_active_at:
                member.last_active_at = _naive(event.at)
        elif event.type in ("order", "redeem") and event.coupon_code:
            _redeem(wb, event, sink, changes, redeemed_by)
        elif event.type == "invite":
            invited = _detail(event.detail).get("channel") or _detail(event.detail).get("member")
            if invited and invited in wb.members and wb.members[invited].referred_by in (None, event.member_id):
                wb.members[invited].referred_by = event.member_id
            invites.setdefault(event.member_id, set()).add(invited or event.event_id)
    for event, member in flagged:  # repeated every tick while they are still in the group
        if member.left_at is None:
            sink.add("blacklisted_joined", tab=events_table.title, row=event.row,
                     column=events_table.header_of("member_id", wb.lang), value=event.member_id,
                     severity=WARNING, group=event.group_id or member.group_id)
    _rewards(wb, invites, now, changes)
    _layers_and_expiry(wb, now, changes)
    _rule_tags(wb, now)
    _member_changes(wb, before, new_ids, changes)


def _redeem(wb: Workbook, event, sink: ProblemSink, changes: Changes, redeemed_by: dict[str, str]) -> None:
    coupon = wb.coupons.get(event.coupon_code)
    table = wb.tables["events"]
    where = dict(tab=table.title, row=event.row, column=table.header_of("coupon_code", wb.lang), value=event.coupon_code,
                 severity=WARNING)
    if coupon is None:
        sink.add("unknown_coupon", **where)
        return
    order = _detail(event.detail).get("order") or event.event_id
    if coupon.code in redeemed_by:
        if redeemed_by[coupon.code] != order:
            sink.add("coupon_redeemed_twice", **where, order=redeemed_by[coupon.code])
        return
    if coupon.member_id and coupon.member_id != event.member_id:
        sink.add("coupon_transferred", **where, holder=coupon.member_id, user=event.member_id)
    redeemed_by[coupon.code] = order
    coupon.status, coupon.redeemed_at, coupon.order_id = "redeemed", _naive(event.at), order
    for column, value in (("status", "redeemed"), ("redeemed_at", coupon.redeemed_at), ("order_id", order)):
        changes.set("coupons", coupon.code, column, value)


def _rewards(wb: Workbook, invites: dict[str, set[str]], now: datetime, changes: Changes) -> None:
    threshold = int(wb.settings.extra.get("referral_threshold") or 3)
    campaign = wb.settings.extra.get("referral_campaign")
    if not campaign:
        return
    pool = CouponPool(wb.coupons)
    local = now.astimezone(wb.settings.timezone).replace(tzinfo=None, microsecond=0)
    for inviter, invited in invites.items():
        member = wb.members.get(inviter)
        if member is None or member.status != "active" or len(invited) < threshold:
            continue
        if (campaign.casefold(), inviter) in pool.held:
            continue  # rewarded already
        code = pool.code_for(campaign, member)
        if code:
            c = wb.coupons[code]
            c.status, c.member_id, c.issued_at = "issued", inviter, local
            c.expires_at = local + timedelta(days=wb.settings.coupon_expiry_days)
            for column, value in (("status", "issued"), ("member_id", inviter), ("issued_at", local),
                                  ("expires_at", c.expires_at)):
                changes.set("coupons", code, column, value)


def _layers_and_expiry(wb: Workbook, now: datetime, changes: Changes) -> None:
    """layer = core / influence / periphery from activity; issued coupons past their expiry become expired."""
    from .activity import activity_by_member, layer_of
    extra = wb.settings.extra
    thresholds = {"core_orders": int(extra.get("layer_core_orders") or 2),
                  "core_invites": int(extra.get("layer_core_invites") or 3),
                  "core_messages_30d": int(extra.get("layer_core_messages_30d") or 20),
                  "influence_messages_30d": int(extra.get("layer_influence_messages_30d") or 3)}
    activity = activity_by_member(wb.events)
    lurker_days = int(extra.get("lurker_days") or 14)
    for m in wb.members.values():
        tz = wb.groups[m.group_id].timezone if m.group_id in wb.groups and wb.groups[m.group_id].timezone else wb.settings.timezone
        local = now.astimezone(tz).replace(tzinfo=None)
        a = activity.get(m.member_id)
        m.layer = layer_of(a, local, thresholds)
        last = max([t for t in ([m.last_active_at, m.joined_at] + (a.messages if a else [])) if t is not None],
                   default=None)
        silent = (local - last.replace(tzinfo=None)).days if last else None
        lurking = m.status == "active" and m.left_at is None and silent is not None and silent >= lurker_days
        review = (f"潜水 {silent} 天，请复核" if wb.lang == "zh-CN" else f"lurker: silent {silent} days, please review") if lurking else None
        if (m.review or None) != review:
            m.review = review
    local = now.astimezone(wb.settings.timezone).replace(tzinfo=None)
    for c in wb.coupons.values():
        if c.status == "issued" and c.expires_at is not None and c.expires_at.replace(tzinfo=None) < local:
            c.status = "expired"
            changes.set("coupons", c.code, "status", "expired")


def _rule_tags(wb: Workbook, now: datetime) -> None:
    """Tags from the Tags tab's rules go to rule_tags, apart from the tags operators type (never overwritten)."""
    from .tags import rule_tags
    tags, _bad = rule_tags(wb, now)  # bad rules are Problems from validate already
    for member_id, all_tags in tags.items():
        m = wb.members[member_id]
        m.rule_tags = tuple(t for t in all_tags if t not in m.tags)


FIELDS = ("name", "group_id", "platform_user_id", "mobile", "joined_at", "left_at", "source", "referred_by",
          "status", "last_active_at", "layer", "review", "rule_tags")


def _member_changes(wb: Workbook, before: dict[str, Member], new_ids: list[str], changes: Changes) -> None:
    rows = []
    for member_id in new_ids:
        m = wb.members[member_id]
        rows.append({k: getattr(m, k) for k in ("member_id",) + FIELDS})
    if rows:
        changes.append("members", rows)
    for member_id, old in before.items():
        m = wb.members[member_id]
        for key in FIELDS:
            if getattr(m, key) != getattr(old, key):
                changes.set("members", member_id, key, getattr(m, key))
