"""`qunflow preview`: every concrete send in a window, rendered, with what the policies will do. Pure."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..engine.compose import compose
from ..engine.plan import plan_sends
from ..engine.planned import group_tz
from ..engine.ledger import Ledger
from ..sop.render import TemplateProblem
from ..sheet.workbook import Workbook

POLICY_WORDS = {
    "en": {"due": "will send", "quiet_skip": "skipped: quiet hours", "dead_webhook": "skipped: dead webhook",
           "deferred": "deferred: daily cap", "missed": "missed", "template": "template error"},
    "zh-CN": {"due": "将发送", "quiet_skip": "跳过：免打扰", "dead_webhook": "跳过：机器人失效",
              "deferred": "顺延：超过每日上限", "missed": "已错过", "template": "模板错误"},
}


def preview_store(store: Any, now: datetime, days: int, group: str | None = None) -> tuple[Workbook, list[dict]]:
    """(workbook, sends): one read of the store, then `preview` (nothing is written)."""
    from .reading import read_workbook
    _, wb = read_workbook(store, now.date(), grid_rows=False)
    return wb, preview(wb, now, days, group)


def preview(wb: Workbook, now: datetime, days: int = 7, group: str | None = None) -> list[dict]:
    planned = plan_sends(wb, Ledger(), now, now + timedelta(days=days), now, preview=True)
    items = []
    for p in planned:
        if group and p.group.group_id != group:
            continue
        try:
            message = compose(p, wb)
            text, policy = message.text or (message.card.title if message.card else message.image_url or ""), p.policy
        except TemplateProblem as problem:
            text, policy = f"[{problem.detail}]", "template"
        mentions = ["all"] if p.audience.everyone else [m.member_id for m in p.audience.members]
        tz = group_tz(p.group, wb)
        quiet_moved = p.at != p.occurrence and p.policy == "due"
        items.append({"group_id": p.group.group_id, "rule_id": p.rule.rule_id,
                      "at": p.at.astimezone(tz).isoformat(), "phase": p.rule.phase or "", "text": text,
                      "mentions": mentions, "policy": policy + (" (after quiet hours)" if quiet_moved else "")})
    return items


def calendar_html(wb: Workbook, items: list[dict], now: datetime, days: int) -> str:
    """The calendar page (jobs/preview_page.py): each send on its group's local day."""
    from .preview_page import calendar_page
    return calendar_page(wb, items, now, days, POLICY_WORDS)
