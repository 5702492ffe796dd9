"""Posts that name members. Pure; plan_sends runs these over what it planned.

- An audience that finds nobody sends nothing: a rule whose `mention` is a segment (tag:, layer:, streak:,
  expiring:, not_checked_in, new, member ids) and that matches no one is `skipped`, "nobody to mention".
- Values that belong to one member ({{ coupon }} shown full or masked, {{ streak }}, {{ expiring_code }}): a post
  mentioning several members whose values differ goes out once per member, so each reads their own. The copies are
  sends of their own, `<send id>:<member id>`, and come back for that member alone when deferred or retried.
  Never in a WeCom customer group (engine/customer.py): each copy would be one more task to the whole group.
"""
from __future__ import annotations

from dataclasses import replace

from ..sheet import i18n
from ..sheet.cards import rule_text
from ..sheet.cells import fold
from ..sheet.workbook import Workbook
from ..sop import render
from .audience import Audience, is_segment, mentioned
from .customer import is_customer
from .ledger import Ledger
from .planned import PlannedSend

DISPLAYS = ("full", "masked", "none")
DEFAULT_DISPLAY = "none"


def coupon_display(p: PlannedSend, wb: Workbook) -> str:
    """full | masked | none: the rule's own, else the Settings value, else none (no code readable by the group)."""
    value = fold(p.rule.coupon_display or wb.settings.extra.get("coupon_display") or DEFAULT_DISPLAY)
    return value if value in DISPLAYS else DEFAULT_DISPLAY


def template_of(p: PlannedSend, wb: Workbook) -> str:
    return rule_text(p.rule, wb)


def judge_audiences(planned: list[PlannedSend], wb: Workbook) -> None:
    """A due send whose segment found nobody becomes `empty_audience` (recorded skipped, never posted)."""
    for p in planned:
        if p.policy == "due" and is_segment(p.rule.mention) and not p.audience.everyone and not p.audience.members:
            p.policy = "empty_audience"
            p.reason = i18n.message("nobody_to_mention", wb.lang, mention=p.rule.mention)


def per_member(planned: list[PlannedSend], wb: Workbook, ledger: Ledger, preview: bool, ctx) -> list[PlannedSend]:
    """Each send as it goes out: one per member where members' own values differ; a carried-over copy for one
    member is that member's again (if they still match the rule's segment)."""
    members_by_id = wb.members
    out: list[PlannedSend] = []
    for p in planned:
        own = _own_member(p, members_by_id)
        if own is not None:
            p.audience = mentioned(p.rule, p.group, [own], [own], ctx(p.at, p.group))
            if p.rule.schedule.member_relative and not p.member_send_ids:
                p.members, p.member_send_ids = [own], {own.member_id: p.send_id}
            out.append(p)
            continue
        if not _differs(p, wb):
            out.append(p)
            continue
        for m in p.audience.members:
            child = _child(p, m)
            if child is not None and (preview or not any(ledger.is_done(s) for s in child.sends)):
                out.append(child)
    return out


def _own_member(p: PlannedSend, members_by_id: dict):
    """The member a send id `rule:group:stamp:member` belongs to (a per-member copy, or a member-relative send
    carried over by itself), else None."""
    prefix = f"{p.rule.rule_id}:{p.group.group_id}:"
    if not p.send_id.startswith(prefix):
        return None
    parts = p.send_id[len(prefix):].split(":", 1)
    return members_by_id.get(parts[1]) if len(parts) == 2 else None


def _differs(p: PlannedSend, wb: Workbook) -> bool:
    audience = p.audience
    if audience.everyone or len(audience.members) < 2 or is_customer(p.group):
        return False
    if p.rule.schedule.member_relative and any(m.member_id not in p.member_send_ids for m in audience.members):
        return False  # a member-relative rule mentioning people other than those due: one post, as planned
    used = render.used_variables(template_of(p, wb))
    codes_shown = coupon_display(p, wb) != "none"
    if "coupon" in used and p.rule.coupon and codes_shown:
        return True
    ids = [m.member_id for m in audience.members]
    if "streak" in used and len({audience.streaks.get(i, 0) for i in ids}) > 1:
        return True
    return "expiring_code" in used and codes_shown and len({audience.expiring.get(i) for i in ids}) > 1


def _child(p: PlannedSend, m) -> PlannedSend | None:
    mid = m.member_id
    sid = f"{p.send_id}:{mid}"
    if p.member_send_ids:
        if mid not in p.member_send_ids:
            return None
        member_ids, members = {mid: p.member_send_ids[mid]}, [m]
    else:
        member_ids, members = {mid: sid}, []
    audience = Audience(members=[m], streaks={k: v for k, v in p.audience.streaks.items() if k == mid},
                        expiring={k: v for k, v in p.audience.expiring.items() if k == mid})
    return replace(p, send_id=sid, members=members, member_send_ids=member_ids, audience=audience, coupons={})
