"""`qunflow preview`: every concrete send of the ticks ahead, rendered, with what the policies will do. Pure."""
from __future__ import annotations

import html
from datetime import datetime, timedelta
from typing import Any

from ..engine.compose import compose
from ..engine.planned import group_tz, quiet_shift
from ..engine.ledger import Ledger
from ..engine.simulate import simulate
from .splits import post_count
from ..sop.render import TemplateProblem
from ..sheet.workbook import Workbook

POLICY_WORDS = {
    "en": {"due": "will send", "quiet_skip": "skipped: quiet hours", "dead_webhook": "skipped: dead webhook",
           "deferred": "deferred: daily cap", "missed": "missed", "template": "template error",
           "past_until": "skipped: past its end date"},
    "zh-CN": {"due": "将发送", "quiet_skip": "跳过：免打扰", "dead_webhook": "跳过：机器人失效",
              "deferred": "顺延：超过每日上限", "missed": "已错过", "template": "模板错误",
              "past_until": "跳过：已过结束日期"},
}


def preview_store(store: Any, now: datetime, days: int, group: str | None = None,
                  state: Any = None) -> tuple[Workbook, list[dict]]:
    """(workbook, sends): one read of the store (and of the state store, when there is one), then `preview`, as
    the next ticks will meet it. Nothing is written."""
    from .reading import read_workbook
    _, wb = read_workbook(store, now.date(), grid_rows=False)
    ledger, start = tick_view(wb, now, state)
    return wb, preview(wb, now, days, group, ledger=ledger, start=start)


def tick_view(wb: Workbook, now: datetime, state: Any = None) -> tuple[Ledger, datetime]:
    """What the tick reads before it plans, read only: the ledger (SendLog, and the state store's sends), the
    inbox's events added to the Events tab, the events folded into the members, the window's start."""
    from ..engine.ledger import from_sendlog
    from ..members.lifecycle import apply_events
    from ..sheet.changes import Changes
    from ..sheet.problems import ProblemSink
    from . import tick_state
    from .tick import window_start
    sink, changes = ProblemSink(wb.lang, list(wb.problems)), Changes()
    ledger = from_sendlog(wb.sendlog, lambda gid: group_tz(wb.groups[gid], wb) if gid in wb.groups else wb.settings.timezone)
    if state is not None:
        tick_state.ledger_from_state(state.sends(), ledger)
        tick_state.restore_bindings(state, wb, changes)
        tick_state.drain_inbox(state, wb, sink, now.astimezone(wb.settings.timezone).date(), changes)
    if not (wb.tables["members"].unreadable or wb.tables["events"].unreadable):
        apply_events(wb, now, sink, changes)
    return ledger, window_start(wb, now, state)


def preview(wb: Workbook, now: datetime, days: int = 7, group: str | None = None, *, ledger: Ledger | None = None,
            start: datetime | None = None) -> list[dict]:
    """Every send of the ticks from `now` to `now + days`, as the tick plans it (engine/simulate.py): the first
    tick covers (start, now]. Each item: group, rule, `at` (when it is due, in the group's zone; a deferred send's
    new time), `posts_at` (the tick that posts it), the text, the mentions, what the policies do, and how many
    posts the platform will receive it as (`posts`, more than 1 when delivery splits a long text)."""
    planned = simulate(wb, ledger or Ledger(), start or now, now, now + timedelta(days=days))
    items = []
    for tick, p in planned:
        if group and p.group.group_id != group:
            continue
        posts = 1
        try:
            message = compose(p, wb)
            text, policy = message.text or (message.card.title if message.card else message.image_url or ""), p.policy
            posts = post_count(message, p.group.platform)
        except TemplateProblem as problem:
            text, policy = f"[{problem.detail}]", "template"
        mentions = ["all"] if p.audience.everyone else [m.member_id for m in p.audience.members]
        tz = group_tz(p.group, wb)
        quiet_moved = p.at != p.occurrence and p.policy == "due" and quiet_shift(p.occurrence, p.group, wb)[1]
        items.append({"group_id": p.group.group_id, "rule_id": p.rule.rule_id,
                      "at": p.at.astimezone(tz).isoformat(), "posts_at": tick.astimezone(tz).isoformat(),
                      "phase": p.rule.phase or "", "text": text, "mentions": mentions, "posts": posts,
                      "policy": policy + (" (after quiet hours)" if quiet_moved else "")})
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
