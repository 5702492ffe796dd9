"""Post the daily report to the ops group through the Dispatcher, once per day.

The report is remembered in the SendLog like any send (rule `daily_report`, send id
`daily_report:<ops group>:<day>`): a re-run for the same day finds it sent and posts nothing.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Callable

from ..sheet.workbook import Workbook

REPORT_RULE = "daily_report"


def report_send_id(ops: str, day: date) -> str:
    return f"{REPORT_RULE}:{ops}:{day:%Y%m%d}"


def already_posted(wb: Workbook, send_id: str) -> bool:
    return any(r.send_id == send_id and r.status in ("sent", "unknown", "pending") for r in wb.sendlog)


@dataclass
class Posted:
    status: str          # sent | failed | unknown | skipped
    reason: str = ""
    row: dict | None = None


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
