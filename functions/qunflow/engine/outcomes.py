"""What a tick writes back after sending: SendLog rows, member and coupon updates, statuses. Pure."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ..sheet.campaigns import campaign_start
from ..sheet.changes import Changes
from ..delivery.masking import mask_webhook_cell
from ..sheet.i18n import message
from ..sheet.problems import WARNING, ProblemSink
from ..sheet.vocabulary import label, say_reason
from ..sheet.workbook import Workbook
from ..sop import render
from .planned import PlannedSend, group_tz

POLICY_STATUS = {"missed": "missed", "quiet_skip": "skipped", "dead_webhook": "skipped", "deferred": "deferred",
                 "empty_audience": "skipped", "past_until": "skipped", "no_coupon_link": "skipped"}


@dataclass
class SendOutcome:
    status: str                 # sent | failed | skipped | unknown | retry
    attempts: int = 0
    sent_at: datetime | None = None
    reason: str = ""
    preview: str = ""
    cause: str = ""             # what a refusal means (delivery.platforms.base: "keyword", "clock", "signature")


def _local(value: datetime | None, wb: Workbook, p: PlannedSend) -> datetime | None:
    return value.astimezone(group_tz(p.group, wb)).replace(microsecond=0) if value else None


def sendlog_rows(planned: list[PlannedSend], wb: Workbook, outcomes: dict[str, SendOutcome] | None = None) -> list[dict]:
    """One SendLog row per ledger id. Without outcomes (the write-ahead), due sends are `pending`."""
    rows = []
    for p in planned:
        if p.policy == "due":
            o = (outcomes or {}).get(p.send_id) or SendOutcome("pending" if outcomes is None else "failed",
                                                               reason="" if outcomes is None else "not attempted")
        else:
            o = SendOutcome(POLICY_STATUS[p.policy], reason=p.reason)
        scheduled = p.at if p.policy == "deferred" else p.occurrence
        base = {"rule_id": p.rule.rule_id, "group_id": p.group.group_id, "scheduled_for": _local(scheduled, wb, p),
                "status": o.status, "attempts": o.attempts, "sent_at": _local(o.sent_at, wb, p),
                "outcome": o.reason, "preview": o.preview}
        if p.member_send_ids:
            rows += [dict(base, send_id=sid, member_id=mid) for mid, sid in p.member_send_ids.items()]
        else:
            rows.append(dict(base, send_id=p.send_id))
    return rows


def record(planned: list[PlannedSend], outcomes: dict[str, SendOutcome], disabled: dict[str, str], wb: Workbook,
           now: datetime, sink: ProblemSink, changes: Changes, positions: dict[str, int] | None = None) -> dict[str, int]:
    """Fill `changes` with everything the tick learned; return counts by status.

    `positions`: SendLog rows already written ahead (send id -> sheet row): they are updated in place."""
    counts = {k: 0 for k in ("due", "sent", "failed", "skipped", "missed", "unknown", "deferred", "retry")}
    sop_table, groups_table = wb.tables["sop"], wb.tables["groups"]
    rows = []
    waiting: dict[str, list[str]] = {}  # group -> why its sends wait for the next tick
    skewed: dict[str, str] = {}          # group -> why its sends wait because our clock is off
    for p in planned:
        if p.policy == "due":
            counts["due"] += 1
            o = outcomes.get(p.send_id) or SendOutcome("failed", reason="not attempted")
        else:
            o = SendOutcome(POLICY_STATUS[p.policy], reason=p.reason)
        counts[o.status] = counts.get(o.status, 0) + 1
        if o.status == "retry":
            waiting.setdefault(p.group.group_id, []).append(o.reason)
            if o.cause == "clock":
                skewed.setdefault(p.group.group_id, o.reason)
        if o.status == "failed" and o.cause == "keyword":
            _keyword_refused(p, o, wb, sink)
        if o.status == "sent":
            _after_sent(p, o, wb, changes)
        elif o.status == "awaiting_confirmation" and p.coupons:   # a customer group's link must find the code
            _bind_coupons(p, now.astimezone(group_tz(p.group, wb)).replace(microsecond=0), wb, changes)
        if p.pool_empty and o.status == "sent" and not any(x.code == "pool_empty" and x.row == p.rule.row for x in sink.items):
            sink.add("pool_empty", tab=sop_table.title, row=p.rule.row, column=sop_table.header_of("coupon", wb.lang),
                     value=p.rule.coupon, severity=WARNING)
        if o.status == "failed" and o.reason.startswith("template:"):
            code, params = render.problem_code(o.reason[9:])
            sink.add(code, tab=sop_table.title, row=p.rule.row, column=sop_table.header_of("content", wb.lang),
                     value=p.rule.content[:60], detail=o.reason[9:], example="{{ group_name }}", **params)
    for row in sendlog_rows(planned, wb, outcomes):
        at = (positions or {}).get(row["send_id"])
        if at is None:
            rows.append(row)
        elif row["status"] != "pending":
            changes.rows_at.append(("sendlog", at, row))
    if rows:
        changes.append("sendlog", rows)
    stamp = now.astimezone(wb.settings.timezone).replace(microsecond=0, tzinfo=None)
    for group_id, reason in disabled.items():
        group = wb.groups.get(group_id)
        if group is None:
            continue
        changes.set("groups", group_id, "status",
                    message("group_status_dead", wb.lang, at=f"{stamp:%Y-%m-%d %H:%M}", reason=say_reason(reason, wb.lang)))
        sink.add("dead_webhook", tab=groups_table.title, row=group.row, column=groups_table.header_of("webhook", wb.lang),
                 value=mask_webhook_cell(group.webhook), reason=reason)
    for group_id, reasons in waiting.items():
        group = wb.groups[group_id]
        if group_id in skewed:
            sink.add("clock_skew", tab=groups_table.title, row=group.row, column=groups_table.header_of("secret", wb.lang),
                     value="", severity=WARNING, platform=_platform_label(groups_table, group.platform, wb.lang),
                     reason=_first_cause(skewed[group_id]), count=len(reasons), catch_up=_duration(wb.settings.catch_up))
            continue
        sink.add("platform_unavailable", tab=groups_table.title, row=group.row,
                 column=groups_table.header_of("webhook", wb.lang), value=mask_webhook_cell(group.webhook), severity=WARNING,
                 platform=_platform_label(groups_table, group.platform, wb.lang), reason=_first_cause(reasons[0]),
                 count=len(reasons), catch_up=_duration(wb.settings.catch_up))
    return counts


def _keyword_refused(p: PlannedSend, o: SendOutcome, wb: Workbook, sink: ProblemSink) -> None:
    """The robot refused this message for lacking its security keyword: a Problem at the SOP row, naming the
    keyword when the Groups tab records it. Once per rule and group; the robot stays in use."""
    sop_table = wb.tables["sop"]
    if any(x.code.startswith("keyword_refused") and x.row == p.rule.row and p.group.group_id in x.message
           for x in sink.items):
        return
    keyword = (getattr(p.group, "keyword", None) or "").strip()
    sink.add("keyword_refused" if keyword else "keyword_refused_unknown", tab=sop_table.title, row=p.rule.row,
             column=sop_table.header_of("content", wb.lang), value=p.rule.content[:60], keyword=keyword,
             group=p.group.group_id, reason=o.reason[:160])


def _platform_label(groups_table, platform: str, lang: str) -> str:
    """The platform as the operator's dropdown shows it (企业微信 in a Chinese sheet, WeCom's id in an English one)."""
    for value in groups_table.schema.column("platform").values:
        if value.value == platform:
            return value.labels.get(lang, platform)
    return platform


def _first_cause(reason: str) -> str:
    """'gave up in this run after 4 failed attempt(s) in a row: HTTP 503: busy; the next run tries again' → the
    platform's own words, for the Problems tab."""
    cause = reason.split(": ", 1)[1] if reason.startswith("gave up in this run") and ": " in reason else reason
    return cause.replace("; the next run tries again", "")[:160]


def _duration(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def _after_sent(p: PlannedSend, o: SendOutcome, wb: Workbook, changes: Changes) -> None:
    sent_local = _local(o.sent_at, wb, p)
    if p.rule.schedule.kind == "on_join":
        for member in p.members:
            changes.set("members", (member.member_id, p.group.group_id), "welcomed_at", sent_local.replace(tzinfo=None))
    _bind_coupons(p, sent_local, wb, changes)


def _bind_coupons(p: PlannedSend, at_local: datetime, wb: Workbook, changes: Changes) -> None:
    """The send's codes, issued to their members. A WeCom customer group's task binds them when it is created
    (awaiting the owner): the owner may confirm between ticks, and the link in the text must find the code then."""
    sent_local = at_local
    expiry = timedelta(days=wb.settings.coupon_expiry_days)
    for member_id, code in p.coupons.items():
        changes.set("members", (member_id, p.group.group_id), "coupon_code", code)
        changes.set("coupons", code, "status", "issued")
        changes.set("coupons", code, "member_id", member_id)
        changes.set("coupons", code, "issued_at", sent_local.replace(tzinfo=None))
        changes.set("coupons", code, "expires_at", (sent_local + expiry).replace(tzinfo=None))


def rule_statuses(wb: Workbook, planned: list[PlannedSend], outcomes: dict[str, SendOutcome], now: datetime,
                  changes: Changes) -> None:
    """SOP.status: the next fire time and the last result, per rule."""
    last: dict[str, tuple[str, str]] = {}
    status_column = wb.tables["sendlog"].schema.column("status")
    for p in planned:
        o = outcomes.get(p.send_id)
        status = o.status if (p.policy == "due" and o) else POLICY_STATUS.get(p.policy, p.policy)
        last[p.rule.rule_id] = (str(label(status_column, status, wb.lang)), f"{p.at.astimezone(group_tz(p.group, wb)):%m-%d %H:%M}")
    from .audience import target_groups
    fires: dict[tuple, datetime | None] = {}   # the next fire time per (schedule, zone, day 1): groups share it
    for rule in wb.sop:
        if not rule.enabled:
            text = message("sop_status_disabled", wb.lang)
        else:
            nexts = []
            for group in target_groups(rule, wb.groups) if not rule.schedule.member_relative else ():
                if not group.enabled:
                    continue
                tz = group_tz(group, wb)
                key = (rule.schedule, tz, campaign_start(rule, group, wb))
                if key not in fires:
                    fires[key] = rule.schedule.next_after(now, tz, key[2])
                t = fires[key]
                if t is not None and (rule.until is None or t.astimezone(tz).date() <= rule.until):
                    nexts.append(t.astimezone(tz))
            text = message("sop_status_next", wb.lang, at=f"{min(nexts):%Y-%m-%d %H:%M}") if nexts else \
                message("sop_status_on_events" if rule.schedule.member_relative else "sop_status_no_more", wb.lang)
        if rule.rule_id in last:
            status, at = last[rule.rule_id]
            text = message("sop_status_last", wb.lang, text=text, status=status, at=at)
        if text != (rule.status or ""):
            changes.set("sop", rule.rule_id, "status", text)
