"""The numbers the owner reads first, shared by the daily message and the HTML report. Pure.

- The north star (Settings `north_star`) on the day, the day before and the average of the 7 days before,
  for the shop and per group, with the change in words ("成交额 比前7天平均 高 23%").
- The three things that changed most: for the shop and each group, a few owner-facing counts compared
  with their 7-day average, ranked by how far outside chance the change is (|day - average| / √average,
  the spread of a count; revenue is weighed by its orders).
- Drop alerts, only where the base is large enough to mean something: the 7-day average of the count
  behind the number (orders for orders, buyers and revenue; buyers for the conversion rate; joins for the
  k-factor; the number itself for other counts) must be at least MIN_BASE (10), and the day must be more
  than 20% below the average and more than chance would explain (2·√base, two standard deviations of a
  count). So a group going from 2 orders to 0 is no alert; a shop going from 40 a day to 20 is.
- The rules that converted best, named by their phase and the first words of their content.
"""
from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from ..sheet.cards import rule_text
from ..sheet.workbook import Workbook
from .attribution import rules_rows
from .facts import Facts, north_star, ratio
from .rollup import RATE_METRICS, metric_row

MIN_BASE = 10            # a drop alert needs a 7-day average of at least this many orders, members, messages...
DROP_SHARE = Decimal("0.2")
BASE_OF = {"orders": "orders", "buyers": "orders", "revenue": "orders", "conversion_rate": "buyers",
           "redemption_rate": "coupons_redeemed", "k_factor": "joined"}
CHANGE_METRICS = ("orders", "revenue", "joined", "messages_by_members", "coupons_redeemed", "referrals", "active_7d")
WEEK = 7

WORDS = {
    "en": {"above": "{label}{pct} above the 7-day average", "below": "{label}{pct} below the 7-day average",
           "flat": "{label}level with the 7-day average", "from_zero": "{label}up from 0 in the 7 days before",
           "none": "{label}nothing earlier to compare with", "points_above": "{label}{pts} points above the 7-day average",
           "points_below": "{label}{pts} points below the 7-day average", "shop": "Whole shop",
           "more": "{label}{diff} more than the 7-day average", "less": "{label}{diff} less than the 7-day average"},
    "zh-CN": {"above": "{label}比前7天平均 高 {pct}", "below": "{label}比前7天平均 低 {pct}",
              "flat": "{label}与前7天平均 持平", "from_zero": "{label}前7天都是 0",
              "none": "{label}还没有可比较的前几天", "points_above": "{label}比前7天平均 高 {pts} 个百分点",
              "points_below": "{label}比前7天平均 低 {pts} 个百分点", "shop": "全店",
              "more": "{label}比前7天平均 多 {diff}", "less": "{label}比前7天平均 少 {diff}"},
}


def lang_of(wb: Workbook) -> str:
    return "zh-CN" if wb.lang == "zh-CN" else "en"


def metric_label(metric: str, lang: str) -> str:
    if lang == "zh-CN":
        from ..sheet.schema import load_schemas
        for column in load_schemas()["settings"].settings:
            if column.key == "north_star":
                for v in column.values:
                    if v.value == metric:
                        return v.labels.get("zh-CN", metric)
    return metric.replace("_", " ")


def fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, Decimal) and value != value.to_integral_value():
        return f"{value:.2f}" if abs(value) < Decimal("0.1") else f"{value:.1f}"
    if isinstance(value, float):
        return f"{value:.1f}"
    return f"{int(value):,}" if isinstance(value, (int, Decimal)) else str(value)


def show(metric: str, value) -> str:
    """A value as the owner reads it: rates in %, money with ¥, averages with one decimal."""
    if value is None:
        return "–"
    if metric in RATE_METRICS:
        return f"{Decimal(value) * 100:.1f}%".replace(".0%", "%")
    text = fmt(value)
    return "¥" + text if metric == "revenue" else text


def total(metric: str, rows: list[dict]):
    """The north-star over several groups: a sum, or for rates the rate over the sum."""
    if metric == "conversion_rate":
        return ratio(sum(r["buyers"] for r in rows), sum(r["members"] for r in rows))
    if metric in RATE_METRICS:
        values = [r[metric] for r in rows if r[metric] is not None]
        return ratio(sum(values), len(values)) if values else None
    return sum((r[metric] for r in rows), Decimal(0) if metric == "revenue" else 0)


def mean(values: list):
    values = [Decimal(v) for v in values if v is not None]
    return (sum(values) / len(values)).quantize(Decimal("0.01")) if values else None


@dataclass
class Line:
    """One metric for one scope (a group, or the shop when group_id is None) on a day."""
    group_id: str | None
    name: str
    metric: str
    day: object
    prev: object
    avg: Decimal | None
    base: Decimal          # the 7-day average of the count behind the number

    def change(self) -> Decimal | None:
        if self.day is None or self.avg is None or self.avg == 0:
            return None
        return Decimal(self.day) / self.avg - 1


class Days:
    """Metric rows per group for a run of days, computed once; the shop's row is the total over groups."""

    def __init__(self, facts: Facts, groups: list, first: date, last: date, since: date | None = None):
        self.facts, self.groups = facts, groups
        self.since = since or first          # days before the first with data are not averaged in
        self.rows: dict[tuple[str, date], dict] = {}
        day = first
        while day <= last:
            for g in groups:
                self.rows[(g.group_id, day)] = metric_row(facts, g.group_id, day)
            day += timedelta(days=1)

    def value(self, metric: str, group_id: str | None, day: date):
        if group_id is not None:
            row = self.rows.get((group_id, day))
            return None if row is None else row[metric]
        rows = [self.rows[(g.group_id, day)] for g in self.groups if (g.group_id, day) in self.rows]
        return total(metric, rows) if rows else None

    def line(self, metric: str, group_id: str | None, name: str, day: date) -> Line:
        week = [day - timedelta(days=k) for k in range(1, WEEK + 1) if day - timedelta(days=k) >= self.since]
        base_metric = BASE_OF.get(metric, metric)
        base = mean([self.value(base_metric, group_id, d) for d in week]) or Decimal(0)
        return Line(group_id, name, metric, self.value(metric, group_id, day),
                    self.value(metric, group_id, day - timedelta(days=1)),
                    mean([self.value(metric, group_id, d) for d in week]), base)


def days_for_headline(facts: Facts, groups: list, day: date, first: date | None = None) -> Days:
    return Days(facts, groups, min(first or day, day) - timedelta(days=WEEK), day, since=facts.first_day())


def change_words(line: Line, lang: str, with_label: bool = True) -> str:
    """ "成交额 比前7天平均 高 23%"; without the label: "比前7天平均 高 23%"."""
    w = WORDS[lang]
    label = metric_label(line.metric, lang) + " " if with_label else ""
    if line.day is None or line.avg is None:
        return w["none"].format(label=label)
    if line.metric in RATE_METRICS:
        pts = (Decimal(line.day) - line.avg) * 100
        if abs(pts) < Decimal("0.05"):
            return w["flat"].format(label=label)
        return w["points_above" if pts > 0 else "points_below"].format(label=label, pts=f"{abs(pts):.1f}")
    if line.avg == 0:
        return w["flat"].format(label=label) if not line.day else \
            w["from_zero"].format(label=label)
    if line.base < MIN_BASE:   # a few orders: "3 instead of 1.1" says it; "+163%" would make noise look big
        diff = Decimal(line.day) - line.avg
        if abs(diff) < Decimal("0.05"):
            return w["flat"].format(label=label)
        return w["more" if diff > 0 else "less"].format(label=label, diff=show(line.metric, abs(diff)))
    step = line.change()
    pct = f"{abs(step) * 100:.0f}%"
    if pct == "0%":
        return w["flat"].format(label=label)
    return w["above" if step > 0 else "below"].format(label=label, pct=pct)


def is_drop(line: Line) -> bool:
    """Down by more than 20% and by more than chance, on a base of at least MIN_BASE (see the docstring)."""
    if line.day is None or line.avg is None or line.avg <= 0 or line.base < MIN_BASE:
        return False
    share = max(DROP_SHARE, Decimal(2) / Decimal(math.sqrt(line.base)))
    return Decimal(line.day) < (1 - share) * line.avg


def score(line: Line) -> float:
    """How far outside chance the day is: the change in standard deviations of its base count
    (|day - average| / √average for a count, at least 1; revenue in units of its average order)."""
    if line.day is None or line.avg is None or line.metric in RATE_METRICS:
        return 0.0
    diff = abs(float(Decimal(line.day) - line.avg))
    unit = 1.0
    if line.metric != BASE_OF.get(line.metric, line.metric):     # revenue: one average order is one unit
        unit = float(line.avg / line.base) if line.base > 0 else float(Decimal(line.day) or 1)
    return diff / (max(unit, 1e-9) * math.sqrt(max(float(line.base), 1.0)))


@dataclass
class Headline:
    day: date
    metric: str
    shop: Line
    groups: list[Line]
    changes: list[Line]
    drops: list[Line]


def headline(wb: Workbook, facts: Facts, groups: list, day: date, days: Days | None = None) -> Headline:
    lang = lang_of(wb)
    days = days or days_for_headline(facts, groups, day)
    metric = north_star(wb)
    shop = days.line(metric, None, WORDS[lang]["shop"], day)
    per = [days.line(metric, g.group_id, f"{g.group_id} {g.name}", day) for g in groups]
    candidates = []
    for m in CHANGE_METRICS:
        if m != metric:
            candidates.append(days.line(m, None, WORDS[lang]["shop"], day))
        candidates += [days.line(m, g.group_id, f"{g.group_id} {g.name}", day) for g in groups]
    candidates = [c for c in candidates if score(c) > 0 and c.day != c.avg]
    candidates.sort(key=lambda c: (-score(c), c.group_id or "", CHANGE_METRICS.index(c.metric)))
    drops = [line for line in [shop, *per] if is_drop(line)]
    return Headline(day, metric, shop, per, candidates[:3], drops)


def first_words(wb: Workbook, rule_id: str, lang: str, size: int = 18) -> str:
    """The phase and the first words of a rule's content (its template's, for `template:name`)."""
    rule = next((r for r in wb.sop if r.rule_id == rule_id), None)
    if rule is None:
        return rule_id
    content = rule_text(rule, wb) or rule.content or ""     # a template's or a card's words
    text = re.sub(r"\{%.*?%\}", "", content)
    text = re.sub(r"\{\{.*?\}\}", "…", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("So", "Cn", "Co"))   # emoji: not words
    text = " ".join(text.split())
    if len(text) > size:
        cut = text[:size]
        if lang != "zh-CN" and " " in cut:
            cut = cut.rsplit(" ", 1)[0]
        text = cut.rstrip("，,。.;；:： ") + "…"
    sep = "·" if lang == "zh-CN" else " · "
    return f"{rule.phase}{sep}{text}" if rule.phase else text


@dataclass
class RuleResult:
    rule_id: str
    label: str
    orders: int
    revenue: Decimal
    reach: int

    @property
    def rate(self) -> Decimal | None:
        return ratio(self.orders, self.reach)


def best_rules(wb: Workbook, facts: Facts, days: list[date], limit: int = 5) -> list[RuleResult]:
    """Rules by the orders credited to their messages sent in `days` (last touch), then by revenue."""
    lang = lang_of(wb)
    per: dict[str, list] = defaultdict(lambda: [0, Decimal(0), 0])
    for r in rules_rows(facts, days):
        per[r["rule_id"]][0] += r["conversions"]
        per[r["rule_id"]][1] += r["revenue"]
        per[r["rule_id"]][2] += r["reach"]
    out = [RuleResult(k, first_words(wb, k, lang), v[0], v[1], v[2]) for k, v in per.items() if v[0]]
    out.sort(key=lambda r: (-r.orders, -r.revenue, r.rule_id))
    return out[:limit]
