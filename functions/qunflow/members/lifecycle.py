"""Members kept up to date from the Events tab. Pure.

Every tick folds *all* events whose time has come into the member rows and writes only what differs, so
a re-run is a no-op and nothing depends on remembering which events were seen. An event dated after
`now` waits for its time. A row of the Members tab is one membership, keyed by (member_id, group_id): a
person in two groups has two rows.
- join    → creates the membership (or brings it back after a leave); `detail` may carry
            `name=…; channel=…; user=…; mobile=…` (or just the channel), and the channel becomes the
            source. A second group's join adds a row for the same person: their name, ids and
            blacklist status come with them; their tags and coupons are shared;
- leave   → left_at, status left, of that group's membership (of all of them when no group is given);
- message, checkin → last_active_at of that membership;
- order, redeem with a coupon_code → the coupon is redeemed, with the order; a redemption by
            someone other than the holder, a second redemption, or one of an expired or void coupon
            is flagged, every tick while the facts stay so;
- invite  → a referral once the invitee joins (qunflow.members.referral): their referred_by is the
            inviter; at the referral threshold (Settings) of joined referrals the inviter gets one
            reward coupon from the referral campaign.
A blacklisted person (same member id, platform user id or mobile) seen joining any group is flagged
and stays blacklisted there too.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from ..sheet.changes import Changes
from ..sheet.problems import WARNING, ProblemSink
from ..sheet.records import Member
from ..sheet.workbook import Workbook
from .activity import due_events
from .blacklist import blacklist
from .coupons import CouponPool
from .referral import _detail, referrals


def _naive(value: datetime) -> datetime:
    return value.replace(tzinfo=None) if value.tzinfo else value


def _listed(m: Member, black: tuple[set[str], set[str], set[str]]) -> bool:
    ids, users, mobiles = black
    return (m.member_id in ids or bool(m.platform_user_id and m.platform_user_id in users)
            or bool(m.mobile and m.mobile in mobiles))


def apply_events(wb: Workbook, now: datetime, sink: ProblemSink, changes: Changes) -> None:
    """Update wb.members in place from the events due by `now`; put what changed into `changes`."""
    events_table = wb.tables["events"]
    black = blacklist(wb.members.values())
    before = {k: replace(v) for k, v in wb.members.items()}
    new_keys: list[tuple[str, str]] = []
    redeemed_by: dict[str, str] = {c.code: c.order_id or "" for c in wb.coupons.values() if c.status == "redeemed"}
    flagged: list = []
    events = due_events(wb, now)
    for event in sorted(events, key=lambda e: (_naive(e.at), e.row)):
        if event.type == "join":
            member = _join(wb, event, new_keys)
            if member is None:
                continue
            if _listed(member, black):
                member.status = "blacklisted"
                flagged.append((event, member))
            continue
        rows = ([wb.members.get((event.member_id, event.group_id))] if event.group_id
                else wb.members.of(event.member_id))
        rows = [m for m in rows if m is not None]
        if event.type == "leave":
            for member in rows:
                if member.left_at is None or _naive(event.at) > member.left_at:
                    member.left_at = _naive(event.at)
                    if member.status != "blacklisted":
                        member.status = "left"
        elif event.type in ("message", "checkin"):
            for member in rows:
                if member.last_active_at is None or _naive(event.at) > member.last_active_at:
                    member.last_active_at = _naive(event.at)
        elif event.type in ("order", "redeem") and event.coupon_code and wb.members.get(event.member_id):
            _redeem(wb, event, sink, changes, redeemed_by)
    for m in wb.members.values():   # the blacklist spans every membership of the person
        if m.status != "blacklisted" and _listed(m, black):
            m.status = "blacklisted"
    for event, member in flagged:  # repeated every tick while they are still in the group
        if member.left_at is None:
            sink.add("blacklisted_joined", tab=events_table.title, row=event.row,
                     column=events_table.header_of("member_id", wb.lang), value=event.member_id,
                     severity=WARNING, group=event.group_id or member.group_id)
    credited = _referrals(wb, events, sink)
    _rewards(wb, credited, now, changes)
    _layers_and_expiry(wb, now, changes, events)
    _rule_tags(wb, now)
    _member_changes(wb, before, new_keys, changes)


def _join(wb: Workbook, event, new_keys: list) -> Member | None:
    """The membership a join event makes or brings back."""
    info = _detail(event.detail)
    if not event.group_id:
        return wb.members.get(event.member_id)
    member = wb.members.get((event.member_id, event.group_id))
    if member is None:
        person = wb.members.get(event.member_id)   # the same person in another group
        member = Member(member_id=event.member_id,
                        name=info.get("name") or (person.name if person else event.member_id),
                        group_id=event.group_id, joined_at=_naive(event.at), source=info.get("channel"),
                        platform_user_id=info.get("user") or info.get("userid") or (person and person.platform_user_id),
                        mobile=info.get("mobile") or (person and person.mobile),
                        status="blacklisted" if person and person.status == "blacklisted" else "active")
        wb.members.add(member)
        new_keys.append((member.member_id, member.group_id))
    elif member.left_at is not None and _naive(event.at) > member.left_at and member.status == "left":
        member.left_at, member.status, member.joined_at = None, "active", _naive(event.at)
    return member


def _referrals(wb: Workbook, events: list, sink: ProblemSink) -> dict[str, set[str]]:
    """referred_by from the credited referrals; warnings for invites that earn nothing. Inviter → invitees."""
    table = wb.tables["events"]
    found, refused = referrals(wb.members.values(), events, wb.settings)
    credited: dict[str, set[str]] = {}
    for r in found:
        for m in wb.members.of(r.invitee):
            if m.referred_by is None:
                m.referred_by = r.inviter
        credited.setdefault(r.inviter, set()).add(r.invitee)
    for refusal in refused:
        e = refusal.event
        sink.add(refusal.code, tab=table.title, row=e.row, column=table.header_of("detail", wb.lang),
                 value=e.detail or "", severity=WARNING, inviter=e.member_id, invitee=refusal.invitee,
                 group=e.group_id)
    return credited


def _redeem(wb: Workbook, event, sink: ProblemSink, changes: Changes, redeemed_by: dict[str, str]) -> None:
    """Redeem the event's coupon. What is wrong with it is flagged on every tick while it stays so: the
    facts (holder, order, status, expiry) are in the sheet, so the flag does not depend on being first."""
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
        elif coupon.member_id and coupon.member_id != event.member_id:
            sink.add("coupon_transferred", **where, holder=coupon.member_id, user=event.member_id)
        return
    if coupon.status in ("void", "expired"):
        sink.add(f"coupon_redeemed_{coupon.status}", **where, user=event.member_id)
        return  # the order stands; the coupon stays as it is, for the shop to decide
    if coupon.status == "issued" and coupon.expires_at is not None and \
            _naive(event.at) > _naive(coupon.expires_at):
        sink.add("coupon_redeemed_expired", **where, user=event.member_id)
        return
    if coupon.member_id and coupon.member_id != event.member_id:
        sink.add("coupon_transferred", **where, holder=coupon.member_id, user=event.member_id)
    redeemed_by[coupon.code] = order
    coupon.status, coupon.redeemed_at, coupon.order_id = "redeemed", _naive(event.at), order
    for column, value in (("status", "redeemed"), ("redeemed_at", coupon.redeemed_at), ("order_id", order)):
        changes.set("coupons", coupon.code, column, value)


def _rewards(wb: Workbook, credited: dict[str, set[str]], now: datetime, changes: Changes) -> None:
    """At the threshold of joined referrals, the inviter gets one reward coupon (once)."""
    threshold = int(wb.settings.extra.get("referral_threshold") or 3)
    campaign = wb.settings.extra.get("referral_campaign")
    if not campaign:
        return
    pool = CouponPool(wb.coupons)
    local = now.astimezone(wb.settings.timezone).replace(tzinfo=None, microsecond=0)
    for inviter, invitees in sorted(credited.items()):
        member = wb.members.get(inviter)
        if member is None or member.status != "active" or len(invitees) < threshold:
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


def _layers_and_expiry(wb: Workbook, now: datetime, changes: Changes, events: list) -> None:
    """Per membership: layer = core / influence / periphery from its activity, and the lurker review;
    issued coupons past their expiry become expired."""
    from .activity import activity_by_membership, for_membership, layer_of
    extra = wb.settings.extra
    thresholds = {"core_orders": int(extra.get("layer_core_orders") or 2),
                  "core_invites": int(extra.get("layer_core_invites") or 3),
                  "core_messages_30d": int(extra.get("layer_core_messages_30d") or 20),
                  "influence_messages_30d": int(extra.get("layer_influence_messages_30d") or 3)}
    activity = activity_by_membership(events)
    lurker_days = int(extra.get("lurker_days") or 14)
    for m in wb.members.values():
        tz = wb.groups[m.group_id].timezone if m.group_id in wb.groups and wb.groups[m.group_id].timezone else wb.settings.timezone
        local = now.astimezone(tz).replace(tzinfo=None)
        a = for_membership(activity, m.member_id, m.group_id)
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
    """Tags from the Tags tab's rules go to rule_tags, apart from the tags operators type (never overwritten).
    A person's typed tags are shared by all their memberships: another row's typed tags show in rule_tags."""
    from .tags import rule_tags
    tags, _bad = rule_tags(wb, now)  # bad rules are Problems from validate already
    for key, m in wb.members.items():
        shared = [t for other in wb.members.of(m.member_id) for t in other.tags]
        all_tags = list(tags.get(key, m.tags)) + [t for t in shared if t not in tags.get(key, ())]
        m.rule_tags = tuple(dict.fromkeys(t for t in all_tags if t not in m.tags))


FIELDS = ("name", "group_id", "platform_user_id", "mobile", "joined_at", "left_at", "source", "referred_by",
          "status", "last_active_at", "layer", "review", "rule_tags")


def _member_changes(wb: Workbook, before: dict, new_keys: list, changes: Changes) -> None:
    rows = []
    for key in new_keys:
        m = wb.members[key]
        rows.append({k: getattr(m, k) for k in ("member_id",) + FIELDS})
    if rows:
        changes.append("members", rows)
    for key, old in before.items():
        m = wb.members[key]
        for column in FIELDS:
            if getattr(m, column) != getattr(old, column):
                changes.set("members", key, column, getattr(m, column))
