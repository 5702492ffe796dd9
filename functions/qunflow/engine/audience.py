"""Who a rule reaches: its groups and the members it @-mentions. Pure.

(The coupons they get come from `qunflow.members.coupons.CouponPool`; who is never reached, from
`qunflow.members.blacklist`.)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..sheet.cells import fold
from ..members.blacklist import reachable
from ..sheet.records import Group, Member, SopRule


def target_groups(rule: SopRule, groups: dict[str, Group]) -> list[Group]:
    """Groups named by SOP.groups: ids, kind:X (value or zh label), or *; in the Groups tab's order."""
    wanted_ids, wanted_kinds, everything = set(), set(), False
    for item in rule.groups:
        f = fold(item)
        if f == "*":
            everything = True
        elif f.startswith("kind:"):
            wanted_kinds.add(f[5:].strip())
        else:
            wanted_ids.add(f)
    from ..sheet.schema import load_schemas
    labels = {fold(label): v.value for v in load_schemas()["groups"].column("kind").values for label in v.labels.values()}
    kinds = {labels.get(k, k) for k in wanted_kinds}
    out = [g for g in groups.values() if everything or fold(g.group_id) in wanted_ids or g.kind in kinds]
    return sorted(out, key=lambda g: g.row)


@dataclass
class Audience:
    everyone: bool = False
    members: list[Member] = field(default_factory=list)
    streaks: dict[str, int] = field(default_factory=dict)      # member_id -> check-in streak on the send's day
    expiring: dict[str, str] = field(default_factory=dict)     # member_id -> their code that expires first


def is_segment(spec: str | None) -> bool:
    """A mention that names people (tag:, layer:, streak:, expiring:, not_checked_in, new, member ids): if it finds
    nobody, the post is not sent. `none` and `all` post without one."""
    return fold(spec or "none") not in ("", "none", "all")


@dataclass
class Context:
    """What mentions may depend on besides the members: activity from events, coupons, the local day."""
    activity: dict = field(default_factory=dict)          # member_id -> members.activity.Activity
    coupons_by_member: dict = field(default_factory=dict)  # member_id -> [Coupon]
    today: object = None                                    # the group's local date at send time


def mentioned(rule: SopRule, group: Group, members_in_group: list[Member], due: list[Member],
              ctx: Context | None = None) -> Audience:
    ctx = ctx or Context()
    audience = _segment(rule, members_in_group, due, ctx)
    days = _expiring_days(rule)
    for m in audience.members:
        a = ctx.activity.get(m.member_id)
        audience.streaks[m.member_id] = a.streak(ctx.today) if a and ctx.today else 0
        code = _expiring_code(ctx, m, days)
        if code:
            audience.expiring[m.member_id] = code
    return audience


def _expiring_days(rule: SopRule) -> int | None:
    spec = fold(rule.mention or "")
    return int((re.findall(r"\d+", spec) or ["3"])[0]) if spec.startswith("expiring:") else None


def _expiring_code(ctx: Context, member: Member, days: int | None) -> str | None:
    """The member's issued code expiring in `days` days (expiring:N), else the one expiring first from today on."""
    if ctx.today is None:
        return None
    live = sorted((c.expires_at, c.code) for c in ctx.coupons_by_member.get(member.member_id, [])
                  if c.status == "issued" and c.expires_at and (c.expires_at.date() - ctx.today).days >= 0
                  and (days is None or (c.expires_at.date() - ctx.today).days == days))
    return live[0][1] if live else None


def _segment(rule: SopRule, members_in_group: list[Member], due: list[Member], ctx: Context) -> Audience:
    spec = fold(rule.mention or "none")
    if spec in ("", "none"):
        return Audience()
    if spec == "all":
        return Audience(everyone=True)
    if spec == "new":
        return Audience(members=[m for m in due if reachable(m)])
    pool = [m for m in members_in_group if reachable(m)]
    if spec.startswith("tag:"):
        tag = spec[4:].strip()
        return Audience(members=[m for m in pool if tag in {fold(t) for t in (*m.tags, *m.rule_tags)}])
    if spec.startswith("layer:"):
        layer = spec[6:].strip()
        return Audience(members=[m for m in pool if fold(m.layer or "") == layer])
    if spec == "not_checked_in":
        return Audience(members=[m for m in pool if not _checked_in(ctx, m, ctx.today)])
    if spec.startswith("streak:"):
        marks = {int(x) for x in re.findall(r"\d+", spec)}
        return Audience(members=[m for m in pool if _checked_in(ctx, m, ctx.today)
                                 and ctx.activity[m.member_id].streak(ctx.today) in marks])
    if spec.startswith("expiring:"):
        days = _expiring_days(rule)
        return Audience(members=[m for m in pool if _expiring_code(ctx, m, days)])
    ids = {fold(x) for x in re.split(r"[,，、\s]+", spec) if x}
    return Audience(members=[m for m in pool if fold(m.member_id) in ids])


def _checked_in(ctx: Context, member: Member, today) -> bool:
    a = ctx.activity.get(member.member_id)
    return bool(a and today in a.checkin_days)
