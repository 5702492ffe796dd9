"""`qunflow preview`: every concrete send of the ticks ahead, rendered, with what the policies will do. Pure."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..engine.compose import compose
from ..delivery.message import readable
from ..engine.planned import group_tz, quiet_shift
from ..engine.ledger import Ledger
from ..engine.simulate import simulate
from .splits import post_count
from ..sop.render import TemplateProblem
from ..sheet.workbook import Workbook

POLICY_WORDS = {
    "en": {"due": "will send", "quiet_skip": "skipped: quiet hours", "dead_webhook": "skipped: dead webhook",
           "deferred": "deferred: daily cap", "missed": "missed", "template": "template error",
           "empty_audience": "skipped: nobody to mention",
           "past_until": "skipped: past its end date"},
    "zh-CN": {"due": "将发送", "quiet_skip": "跳过：免打扰", "dead_webhook": "跳过：机器人失效",
              "deferred": "顺延：超过每日上限", "missed": "已错过", "template": "模板错误",
              "empty_audience": "跳过：没有可@的成员", "past_until": "跳过：已过结束日期"},
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
        tick_state.drain_inbox(state, wb, sink, now.astimezone(wb.settings.timezone).date(), changes, now=now)
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
        posts, image = 1, ""
        try:
            message = compose(p, wb)
            image = (message.image_url or "") if message.kind == "image" else ""
            text, policy = readable(message.text, message.mentions) or (message.card.title if message.card else message.image_url or ""), p.policy
            posts = post_count(message, p.group.platform)
        except TemplateProblem as problem:
            text, policy = f"[{problem.detail}]", "template"
        mentions = ["all"] if p.audience.everyone else [m.member_id for m in p.audience.members]
        tz = group_tz(p.group, wb)
        quiet_moved = p.at != p.occurrence and p.policy == "due" and quiet_shift(p.occurrence, p.group, wb)[1]
        items.append({"group_id": p.group.group_id, "rule_id": p.rule.rule_id,
                      "at": p.at.astimezone(tz).isoformat(), "posts_at": tick.astimezone(tz).isoformat(),
                      "phase": p.rule.phase or "", "text": text, "mentions": mentions, "posts": posts,
                      **({"image": image} if image else {}),
                      "policy": policy + (" (after quiet hours)" if quiet_moved else "")})
    return items


def calendar_html(wb: Workbook, items: list[dict], now: datetime, days: int) -> str:
    """The calendar page (jobs/preview_page.py): each send on its group's local day."""
    from .preview_page import calendar_page
    return calendar_page(wb, items, now, days, POLICY_WORDS)
