"""Post the daily report to the ops group through the Dispatcher, once per day.

The report is remembered in the SendLog like any send (rule `daily_report`, send id
`daily_report:<ops group>:<day>`): a re-run for the same day finds it sent and posts nothing.

A WeCom customer group (`wecom-customer`) as ops_group is refused in plain words: a post there is a group-send task
its owner confirms, not a robot message, and the report goes to the operators' own group (one with a robot).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Callable

from ..sheet.workbook import Workbook

REPORT_RULE = "daily_report"
CUSTOMER = "wecom-customer"      # a WeCom customer group: no robot, refused


def report_send_id(ops: str, day: date) -> str:
    return f"{REPORT_RULE}:{ops}:{day:%Y%m%d}"


def already_posted(wb: Workbook, send_id: str) -> bool:
    return any(r.send_id == send_id and r.status in ("sent", "unknown", "pending") for r in wb.sendlog)


@dataclass
class Posted:
    status: str          # sent | failed | unknown | skipped
    reason: str = ""
    row: dict | None = None


def post_once(state: Any, wb: Workbook, day: date, now: datetime, post: Callable[[], Posted]) -> Posted:
    """`post()` at most once per day: with a state store, the report's send is claimed in the store before
    the POST and settled after, as the tick's sends are (the SendLog tab is only a window of the store)."""
    from ..metrics.report_md import ops_group
    from ..state.base import Conflict
    ops = ops_group(wb)
    if state is None or ops is None:
        return post()
    send_id = report_send_id(ops, day)
    known = state.get_sends([send_id]).get(send_id)
    if known is not None and known.status in ("sent", "unknown", "claimed"):
        return Posted("skipped", f"the report for {day} was already posted")
    try:
        state.claim([send_id], rule_id=REPORT_RULE, group_id=ops, scheduled_for=None, holder=f"metrics:{day}",
                    at=now, bindings=[])
    except Conflict:
        return Posted("skipped", f"the report for {day} was already posted")
    posted = post()
    status = posted.status if posted.status in ("sent", "unknown") else "retry"   # not taken: a re-run may try
    row = posted.row or {}
    state.settle([send_id], status, at=now, attempts=int(row.get("attempts") or 0), sent_at=_utc(row.get("sent_at")),
                 reason=posted.reason, preview=str(row.get("preview") or ""))
    return posted


def _utc(value: Any) -> datetime | None:
    return value.astimezone(timezone.utc) if isinstance(value, datetime) and value.tzinfo else None


def post_daily_report(wb: Workbook, day: date, text: str, *, session: Any, clock: Callable[[], float],
                      sleep: Callable[[float], None], resolver: Any, rng: random.Random | None = None,
                      masker: Any = None) -> Posted:
    """Deliver `text` (markdown) to Settings `ops_group`; return the outcome and the SendLog row to append."""
    from ..delivery.dispatcher import Delivery, Dispatcher
    from ..delivery.masking import Masker
    from ..delivery.message import Message, Target
    from ..engine.planned import group_tz
    from ..delivery.secrets import UnresolvedSecret
    from ..metrics.report_md import ops_group
    ops = ops_group(wb)
    if ops is None:
        return Posted("skipped", "Settings ops_group is empty")
    group = wb.groups.get(ops)
    if group is None:
        return Posted("skipped", f"ops_group {ops} is not in the Groups tab")
    if group.platform == CUSTOMER:
        return Posted("skipped", f"ops_group {ops} is a WeCom customer group (wecom-customer): the daily report is "
                                 f"posted through a group robot; choose an ops_group with a robot webhook")
    send_id = report_send_id(ops, day)
    if already_posted(wb, send_id):
        return Posted("skipped", f"the report for {day} was already posted")
    masker = masker if masker is not None else Masker()   # shared with the log handlers, when given
    try:
        webhook, secret = resolver.resolve(group.webhook), resolver.resolve(group.secret)
    except UnresolvedSecret as exc:
        return Posted("failed", f"{exc.reference} is not set")
    masker.add(webhook)
    if secret:
        masker.add(secret)
    title = text.splitlines()[0].strip("*# ") if text else "report"
    message = Message("markdown", text, title=title)
    dispatcher = Dispatcher(session, clock, sleep, rng or random.Random(0), masker=masker)
    result = dispatcher.dispatch([Delivery(send_id, Target(group.platform, ops, webhook, secret), message)]).results[0]
    tz = group_tz(group, wb)
    sent_at = datetime.fromtimestamp(result.sent_at, timezone.utc).astimezone(tz).replace(microsecond=0) \
        if result.sent_at else None
    row = {"send_id": send_id, "rule_id": REPORT_RULE, "group_id": ops, "status": result.status,
           "attempts": result.attempts, "sent_at": sent_at, "outcome": masker.mask(result.reason or "ok"),
           "preview": title[:60]}
    return Posted(result.status, masker.mask(result.reason or ""), row)
