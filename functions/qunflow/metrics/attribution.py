"""Which SOP rule an order is credited to, and the RulesReport rows. Pure.

Last touch: an order (an `order` event) is credited to the last message qunflow delivered in the same
group at or before the order, if it went out at most Settings `attribution_hours` (default 48) before.
So every order counts once at most, and the rules' conversions add up to at most the orders.
"""
from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from .facts import Facts, Happening, Send, attribution_hours, ratio


@dataclass(frozen=True)
class Credit:
    order: Happening
    send: Send


def credits(facts: Facts) -> list[Credit]:
    window = timedelta(hours=attribution_hours(facts.wb))
    out = []
    for gid, happenings in facts.events.items():
        sends = facts.sends.get(gid, [])
        times = [s.at for s in sends]
        for h in happenings:
            if h.event.type != "order":
                continue
            i = bisect.bisect_right(times, h.at)
            if i and h.at - times[i - 1] <= window:
                out.append(Credit(h, sends[i - 1]))
    return out


def rules_rows(facts: Facts, days: list[date]) -> list[dict]:
    """One row per (day of sending, rule, group) with sends that day."""
    wanted = set(days)
    rules = {r.rule_id: r for r in facts.wb.sop}
    rows: dict[tuple, dict] = {}
    for gid, sends in facts.sends.items():
        for s in sends:
            if s.at.date() not in wanted:
                continue
            key = (s.at.date(), s.rule_id, gid)
            rule = rules.get(s.rule_id)
            row = rows.setdefault(key, {"date": key[0], "rule_id": s.rule_id, "group_id": gid,
                                        "phase": rule.phase if rule else None, "variant": rule.variant if rule else None,
                                        "sends": 0, "reach": 0, "conversions": 0, "revenue": Decimal(0)})
            row["sends"] += 1
            row["reach"] += facts.members_at(gid, s.at)
    for c in credits(facts):
        row = rows.get((c.send.at.date(), c.send.rule_id, c.send.group_id))
        if row is not None:
            row["conversions"] += 1
            row["revenue"] += c.order.event.amount or Decimal(0)
    out = sorted(rows.values(), key=lambda r: (r["date"], r["rule_id"], r["group_id"]))
    for row in out:
        row["conversion_rate"] = ratio(row["conversions"], row["reach"])
    return out


def converted_on(facts: Facts, day: date) -> dict[str, tuple[int, Decimal]]:
    """rule_id -> (orders, revenue) for the orders placed on `day`, whenever their message went out."""
    out: dict[str, list] = defaultdict(lambda: [0, Decimal(0)])
    for c in credits(facts):
        if c.order.at.date() == day:
            out[c.send.rule_id][0] += 1
            out[c.send.rule_id][1] += c.order.event.amount or Decimal(0)
    return {k: (v[0], v[1]) for k, v in out.items()}
