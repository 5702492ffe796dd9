"""`qunflow preview`: every concrete send in a window, rendered, with what the policies will do. Pure."""
from __future__ import annotations

import html
from datetime import datetime, timedelta
from typing import Any

from ..engine.compose import compose
from ..delivery.message import readable
from ..engine.plan import plan_sends
from ..engine.planned import group_tz
from ..engine.ledger import Ledger
from ..sop.render import TemplateProblem
from ..sheet.workbook import Workbook

POLICY_WORDS = {
    "en": {"due": "will send", "quiet_skip": "skipped: quiet hours", "dead_webhook": "skipped: dead webhook",
           "deferred": "deferred: daily cap", "missed": "missed", "template": "template error",
           "empty_audience": "skipped: nobody to mention"},
    "zh-CN": {"due": "将发送", "quiet_skip": "跳过：免打扰", "dead_webhook": "跳过：机器人失效",
              "deferred": "顺延：超过每日上限", "missed": "已错过", "template": "模板错误",
              "empty_audience": "跳过：没有可@的成员"},
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
            text, policy = readable(message.text, message.mentions) or (message.card.title if message.card else message.image_url or ""), p.policy
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
    words = POLICY_WORDS.get(wb.lang, POLICY_WORDS["en"])
    esc = html.escape
    day_list = [(now + timedelta(days=i)).date() for i in range(days + 1)]
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>qunflow preview</title><style>",
             "body{font-family:system-ui,'PingFang SC','Noto Sans CJK SC',sans-serif;margin:24px;color:#222}",
             "table{border-collapse:collapse;margin-bottom:32px;table-layout:fixed;width:100%}",
             "td,th{border:1px solid #ddd;vertical-align:top;padding:4px;font-size:12px}",
             ".send{background:#eef6ee;border-radius:4px;margin:2px 0;padding:3px}",
             ".send.skip,.send.template{background:#fbeaea}.send.deferred{background:#fff6dd}",
             ".t{color:#666}.r{font-weight:600}</style></head><body>",
             f"<h1>qunflow preview · {esc(now.strftime('%Y-%m-%d %H:%M'))} + {days}d</h1>"]
    for group in wb.groups.values():
        mine = [i for i in items if i["group_id"] == group.group_id]
        parts.append(f"<section class='group' data-group='{esc(group.group_id)}'><h2>{esc(group.name)} "
                     f"<small>{esc(group.group_id)} · {esc(group.platform)}</small></h2><table><tr>")
        parts += [f"<th>{d:%m-%d %a}</th>" for d in day_list]
        parts.append("</tr><tr>")
        for d in day_list:
            cell = [i for i in mine if i["at"][:10] == d.isoformat()]
            parts.append("<td>")
            for i in cell:
                kind = "skip" if "skip" in i["policy"] else i["policy"].split()[0]
                label = words.get(i["policy"].split()[0], i["policy"])
                parts.append(f"<div class='send {esc(kind)}'><span class='t'>{esc(i['at'][11:16])}</span> "
                             f"<span class='r'>{esc(i['rule_id'])}</span> {esc(i['phase'])}<br>{esc(i['text'][:140])}"
                             f"<br><i>{esc(label)}</i></div>")
            parts.append("</td>")
        parts.append("</tr></table></section>")
    parts.append("</body></html>")
    return "".join(parts)
