"""The daily rollup: one Metrics row per group and day, in the group's time zone. Pure.

What each column means is in sheets_schema/metrics.yaml (and docs/SCHEMA.md); in short:
- members: memberships in the group at the end of the day (Members tab: joined_at, left_at); joined,
  left, net. shop_people: distinct people in any group at the end of the day (each person once).
- activated: members whose first message or check-in after joining falls that day, within 72 h of
  the join (each member is counted once, on the day they activated).
- active_7d: members in the group who spoke or checked in during the 7 days ending that day.
- lurkers: members in the group whose last message or check-in (or their join, if they never spoke)
  is Settings `lurker_days` or more calendar days before that day.
- messages_sent: messages qunflow delivered: SendLog rows `sent`, one per (rule, group, sent_at), so a
  welcome @-mentioning three newcomers counts once. messages_by_members: message and check-in events.
- coupons_issued / coupons_redeemed: coupons held by the group's members, by issued_at / redeemed_at;
  redemption_rate: to date, redeemed / issued.
- orders, buyers (distinct members who ordered), revenue; conversion_rate = buyers / members.
- referrals: invite events by the group's members; k_factor: members who joined that day (any group)
  whose referred_by is a member of this group, divided by members.

`rollup_changes` writes Metrics, Cohorts and RulesReport rows by key (Changes.upsert), so a re-run for
the same day replaces its rows and every other day's rows stay: history is kept.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from ..sheet.cells import CellError, is_blank, parse_datetime
from ..sheet.changes import Changes, to_cell
from ..sheet.workbook import Workbook
from .attribution import rules_rows
from .cohorts import COHORT_DAYS, cohort_rows
from .facts import ACTIVE_TYPES, Facts, attribution_hours, build_facts, day_start, lurker_days, ratio

COUNT_METRICS = ("members", "joined", "left", "net", "activated", "active_7d", "lurkers", "messages_sent",
                 "messages_by_members", "coupons_issued", "coupons_redeemed", "orders", "buyers", "revenue",
                 "referrals", "shop_people")
RATE_METRICS = ("redemption_rate", "conversion_rate", "k_factor")


def metric_row(facts: Facts, group_id: str, day: date) -> dict:
    start = day_start(day)
    end = start + timedelta(days=1)
    week = end - timedelta(days=7)
    quiet_days = lurker_days(facts.wb)
    row = {"date": day, "group_id": group_id}
    members = joined = left = activated = active_7d = lurkers = 0
    for p in facts.people.get(group_id, ()):
        here = p.present(end)
        members += here
        joined += p.joined is not None and start <= p.joined < end
        left += p.left is not None and not p.gone and start <= p.left < end
        first = p.activation()
        activated += first is not None and start <= first < end
        if here:
            active_7d += p.active_between(week, end)
            last = p.last_seen_before(end)
            lurkers += last is not None and (day - last.date()).days >= quiet_days
    events = facts.in_day(facts.events.get(group_id, []), day)
    orders = [h.event for h in events if h.event.type == "order"]
    buyers = len({e.member_id for e in orders})
    issued = redeemed = issued_to_date = redeemed_to_date = 0
    for when_issued, when_redeemed in facts.coupons.get(group_id, ()):
        issued += when_issued is not None and start <= when_issued < end
        redeemed += when_redeemed is not None and start <= when_redeemed < end
        if when_issued is not None and when_issued < end:
            issued_to_date += 1
            redeemed_to_date += when_redeemed is not None and when_redeemed < end
    referred = sum(1 for t in facts.referred_joins.get(group_id, ()) if start <= t < end)
    row.update(
        members=members, joined=joined, left=left, net=joined - left,
        messages_sent=len(facts.in_day(facts.sends.get(group_id, []), day)),
        activated=activated, active_7d=active_7d, lurkers=lurkers,
        messages_by_members=sum(1 for h in events if h.event.type in ACTIVE_TYPES),
        coupons_issued=issued, coupons_redeemed=redeemed, redemption_rate=ratio(redeemed_to_date, issued_to_date),
        orders=len(orders), buyers=buyers, revenue=sum((e.amount or Decimal(0) for e in orders), Decimal(0)),
        conversion_rate=ratio(buyers, members),
        referrals=sum(1 for h in events if h.event.type == "invite"),
        k_factor=ratio(referred, members),
        shop_people=facts.shop_people_at({gid: end for gid in facts.people}),
    )
    return row


def metric_rows(facts: Facts, days: list[date]) -> list[dict]:
    return [metric_row(facts, gid, day) for day in sorted(set(days)) for gid in facts.wb.groups]


@dataclass
class Rollup:
    metrics: list[dict] = field(default_factory=list)
    cohorts: list[dict] = field(default_factory=list)
    rules: list[dict] = field(default_factory=list)

    def changes(self, tables: dict | None = None) -> Changes:
        """Upserts by key; given the tables as read, rows the sheet already holds as they are are left out."""
        changes = Changes()
        for tab, rows in (("metrics", self.metrics), ("cohorts", self.cohorts), ("rules_report", self.rules)):
            if tables is not None and tab in tables:
                rows = changed_rows(tables[tab], rows)
            if rows:
                changes.upsert(tab, rows)
        return changes


def _norm(value, kind: str = "") -> str:
    if kind in ("date", "datetime") and not isinstance(value, (date, bool)) and not is_blank(value):
        try:      # a date cell read back: a datetime (xlsx), a serial number (Google), or ISO text (an old row)
            value = parse_datetime(value)
        except CellError:
            pass
    value = to_cell(value.date() if isinstance(value, datetime) and value.time() == time() else value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{float(value):.10g}"
    return str(value).strip()


def changed_rows(table, rows: list[dict]) -> list[dict]:
    """The rows that differ from what the tab holds under the same key (the same day and group...)."""
    if table.missing:
        return rows
    keys = table.schema.key_columns
    kinds = {c.key: c.type for c in table.schema.columns}
    held = {}
    for line in table.rows:
        held[tuple(_norm(table.cell(line, k), kinds.get(k, "")) for k in keys)] = line
    out = []
    for row in rows:
        line = held.get(tuple(_norm(row[k], kinds.get(k, "")) for k in keys))
        if line is None or any(column not in table.columns
                               or _norm(table.cell(line, column), kinds.get(column, "")) != _norm(value, kinds.get(column, ""))
                               for column, value in row.items()):
            out.append(row)
    return out


def refresh_window(days: list[date], hours: int) -> tuple[list[date], list[date]]:
    """Which RulesReport days and cohort days a rollup of `days` rewrites: sends up to the attribution
    window before, whose orders may have come in since; cohorts up to 30 days before (their d30)."""
    back = math.ceil(hours / 24)
    rule_days = sorted({d - timedelta(days=k) for d in days for k in range(back + 1)})
    cohort_days = sorted({d - timedelta(days=k) for d in days for k in range(max(COHORT_DAYS) + 1)})
    return rule_days, cohort_days


def rollup(wb: Workbook, days: list[date], facts: Facts | None = None) -> Rollup:
    """Metrics for `days`, RulesReport and Cohorts for the days they may have changed, as of the last day."""
    if not days:
        return Rollup()
    facts = facts or build_facts(wb)
    rule_days, cohort_days = refresh_window(days, attribution_hours(wb))
    return Rollup(metrics=metric_rows(facts, days),
                  cohorts=cohort_rows(facts, cohort_days, as_of=max(days)),
                  rules=rules_rows(facts, rule_days))


def rollup_changes(wb: Workbook, days: list[date]) -> Changes:
    return rollup(wb, days).changes()


def today_so_far_changes(wb: Workbook, now: datetime) -> Changes:
    """For the tick: today's Metrics rows so far (today in the Settings time zone), upserted by key. Cohorts
    and RulesReport are left to the daily `qunflow metrics` run (100k members: about 0.8 s instead of 1.4 s)."""
    return Rollup(metrics=metric_rows(build_facts(wb), [now.astimezone(wb.settings.timezone).date()])).changes()
