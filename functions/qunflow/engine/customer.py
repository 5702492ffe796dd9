"""WeCom customer groups (客户群, platform `wecom-customer`) in the planner. Pure.

A post to a customer group is a group-send task its owner confirms (delivery/wecom_customer.py): it reaches the whole
group, it cannot @ anyone, and each one counts against the group's monthly quota (engine/quota.py). So:

- **Names nobody.** `{{ mentions }}` and `{{ member_names }}` render empty and no plain `@name` is added: the text
  is the same for everyone who reads it (engine/compose.py asks `is_customer`), and the gaps the names left are
  closed (`tidy`). `{{ streak }}` shows only when every covered member has the same one.
- **Never per member.** engine/permember.py would split a post whose members' own values differ ({{ coupon }} shown,
  {{ streak }}, {{ expiring_code }}) into one copy per member; for a customer group each copy would be one more task
  to the whole group, so it never splits (`_differs` asks `is_customer`).
- **`入群时` (on join) is a follow-up, batched by slot.** qunflow cannot post the moment someone joins: the native
  welcome is the owner-applied group welcome template (`qunflow wecom welcome`, %NICKNAME%). The `入群时` rule
  becomes ONE task per group per slot, the slot being the tick that first sees the joins (engine/plan.py
  `_member_sends`): every member who joined since the last tick is covered by that one task (their own ledger ids,
  `rule:group:stamp:member`, all settled by it), with a text that names none of them. Joins too old for
  `welcome_window` form their own batch, recorded missed, as on every platform. A shop that wants fewer tasks (the
  quota) writes `join+1d 10:00` instead: all of a day's joiners share the next morning's slot.
- **Coupons as a link.** A member's personal code never goes into the group: `{{ coupon }}` and `{{ expiring_code }}`
  render as ONE link to the shop's coupon page, Settings `coupon_link_base`, with a `member=<member id>` query
  parameter for each covered member who has a code (`?member=M101&member=M102`, the base's own query kept). The
  page knows who opens it (WeCom's OAuth) and shows that member their own code. The codes are bound to the members
  (Coupons tab) when the task is created, since the owner may confirm between ticks (engine/outcomes.py). With
  `coupon_link_base` empty, a due send whose template uses them is skipped (`no_coupon_link`) before any task is
  created or any code bound, with a Problem at the rule's content cell saying what to set (`link_warnings`).
  A link naming many members can pass WeCom's 4,000 bytes: that task is refused before any call, as any text.
"""
from __future__ import annotations

import re
from urllib.parse import urlencode, urlsplit, urlunsplit

from ..sheet.cards import rule_text
from ..sheet.problems import WARNING, ProblemSink
from ..sheet.workbook import Workbook
from ..sop import render
from .planned import PlannedSend

PLATFORM = "wecom-customer"
LINKED = ("coupon", "expiring_code")        # the variables that carry a member's own code
NO_LINK_REASON = ("a customer group gets personal coupons as a link to the coupon page: Settings coupon_link_base is "
                  "empty, so the rule was skipped")


def is_customer(group) -> bool:
    return getattr(group, "platform", "") == PLATFORM


_BEFORE_PUNCT = re.compile(r"[ \t]+(?=[！，。、：；？）])")
_GAP = re.compile(r"(?<=\S)[ \t]{2,}")


def tidy(text: str) -> str:
    """The text with the gaps the empty names left closed: two spaces become one, none before CJK punctuation."""
    return "\n".join(_GAP.sub(" ", _BEFORE_PUNCT.sub("", line)).rstrip() for line in text.split("\n"))


def link_base(wb: Workbook) -> str:
    return str(wb.settings.extra.get("coupon_link_base") or "").strip()


def coupon_link(base: str, member_ids: list[str]) -> str:
    """The coupon page's address for these members: the base with one `member=<id>` parameter each ("" for none)."""
    ids = list(dict.fromkeys(i for i in member_ids if i))
    if not ids or not base:
        return ""
    parts = urlsplit(base)
    extra = urlencode([("member", i) for i in ids])
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _template(p: PlannedSend, wb: Workbook) -> str:
    return rule_text(p.rule, wb)


def uses_codes(p: PlannedSend, wb: Workbook) -> bool:
    return any(v in render.used_variables(_template(p, wb)) for v in LINKED)


def judge_links(planned: list[PlannedSend], wb: Workbook) -> None:
    """A due customer-group send whose template carries a member's code, without `coupon_link_base`: skipped."""
    if link_base(wb):
        return
    for p in planned:
        if p.policy == "due" and is_customer(p.group) and uses_codes(p, wb):
            p.policy, p.reason = "no_coupon_link", NO_LINK_REASON


def link_warnings(planned: list[PlannedSend], wb: Workbook, sink: ProblemSink) -> int:
    """One Problem per rule skipped for want of `coupon_link_base`, at its content cell (en and zh-CN)."""
    table, seen = wb.tables["sop"], set()
    for p in planned:
        if p.policy != "no_coupon_link" or p.rule.rule_id in seen:
            continue
        seen.add(p.rule.rule_id)
        sink.add("wecom_coupon_link_missing", tab=table.title, row=p.rule.row, column=table.header_of("content", wb.lang),
                 value=p.rule.content[:60], severity=WARNING, rule=p.rule.rule_id, group=p.group.group_id)
    return len(seen)
