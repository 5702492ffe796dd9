"""The report's charts below the answer: trend, nested funnel, retention by join week, rules, timeline. Pure.

Each returns an HTML fragment: server-rendered SVG (svg.py) or plain HTML bars, no script.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from html import escape

from ..sheet.workbook import Workbook
from .cohorts import COHORT_DAYS, active_on, cohorts
from .dates import day_words
from .facts import Facts, day_start, to_local
from .headline import Days, RuleResult, fmt, is_drop, metric_label, show
from .rollup import RATE_METRICS
from .svg import COLORS, line_chart, timeline


def legend(names: list[str], colors=COLORS) -> str:
    return "<p class='legend'>" + "".join(
        f"<span><i style='background:{colors[k % len(colors)]}'></i>{escape(n)}</span>" for k, n in enumerate(names)) + "</p>"


def trend(wb: Workbook, days: Days, groups: list, metric: str, span: list[date], lang: str, w: dict) -> str:
    """The north star per group per day, drop alerts marked ×."""
    series, marks = [], []
    for k, g in enumerate(groups):
        values = [days.value(metric, g.group_id, d) for d in span]
        series.append((f"{g.group_id} {g.name}", values))
        marks += [(k, i) for i, d in enumerate(span) if is_drop(days.line(metric, g.group_id, "", d))]
    label = metric_label(metric, lang)
    svg = line_chart(span, series, lang, integer=metric not in RATE_METRICS and metric != "revenue",
                     percent=metric in RATE_METRICS, money=metric == "revenue", marks=marks, label=label)
    note = w["drops_marked"].format(n=len(marks)) if marks else w["no_drops_marked"]
    return svg + legend([name for name, _ in series]) + f"<p class='muted small'>{escape(note)}</p>"


def funnel_counts(wb: Workbook, facts: Facts, group_id: str, first: date, last: date) -> list[int]:
    """Nested: members in the period ⊇ of them who spoke ⊇ of those who got a coupon ⊇ ... who bought ⊇ ...
    who redeemed a coupon. Each stage counts only people of the stage above, so it never widens."""
    start, end = day_start(first), day_start(last) + timedelta(days=1)
    people = [p for p in facts.people.get(group_id, []) if not p.gone
              and (p.joined is None or p.joined < end) and (p.left is None or p.left >= start)]
    tz = facts.tz[group_id]

    def within(value) -> bool:
        local = to_local(value, tz)
        return local is not None and start <= local < end
    members = {p.member.member_id for p in people}
    spoke = {p.member.member_id for p in people if p.active_between(start, end)}
    coupons = [c for c in wb.coupons.values() if c.member_id in members]
    got = {c.member_id for c in coupons if within(c.issued_at)} & spoke
    bought = {h.event.member_id for h in facts.events.get(group_id, [])
              if h.event.type == "order" and start <= h.at < end} & got
    redeemed = {c.member_id for c in coupons if within(c.redeemed_at)} & bought
    return [len(members), len(spoke), len(got), len(bought), len(redeemed)]


def funnel(wb: Workbook, facts: Facts, groups: list, first: date, last: date, w: dict) -> str:
    out = []
    for g in groups:
        counts = funnel_counts(wb, facts, g.group_id, first, last)
        top = counts[0] or 1
        rows = []
        for stage, n in zip(w["stages"], counts):
            share = n / top
            rows.append(f"<div class='bar' data-count='{n}'><span class='fill' style='width:{share * 100:.1f}%'></span>"
                        f"<span class='bl'>{escape(stage)}</span><b>{n}</b> <span class='muted'>{share:.0%}</span></div>")
        out.append(f"<div class='funnel' data-group='{escape(g.group_id)}'><h3>{escape(g.group_id)} {escape(g.name)}</h3>"
                   + "".join(rows) + "</div>")
    return "<div class='cols'>" + "".join(out) + "</div>" + f"<p class='muted small'>{escape(w['funnel_note'])}</p>"


def retention(facts: Facts, first: date, last: date, lang: str, w: dict) -> str:
    """Share of each join week who spoke or checked in on day 1, 7, 30 after joining (– : not reached yet)."""
    weeks: dict[int, list] = defaultdict(list)
    for (day, _), people in cohorts(facts).items():
        if first <= day <= last:
            weeks[(day - first).days // 7] += [(day, p) for p in people]
    if not weeks:
        return f"<p class='muted'>{escape(w['nothing'])}</p>"
    head = "".join(f"<th>{escape(w['day_n'].format(n=n))}</th>" for n in COHORT_DAYS)
    rows = []
    for k in sorted(weeks):
        a = first + timedelta(days=7 * k)
        b = min(a + timedelta(days=6), last)
        cells = []
        for n in COHORT_DAYS:
            reached = [(d, p) for d, p in weeks[k] if d + timedelta(days=n) <= last]
            if not reached:
                cells.append("<td class='muted'>–</td>")
                continue
            share = sum(active_on(p, d + timedelta(days=n)) for d, p in reached) / len(reached)
            cells.append(f"<td style='background:rgba(43,125,233,{0.08 + share * 0.8:.2f})'>{share:.0%}</td>")
        when = f"{day_words(a, lang)}–{day_words(b, lang)}" if a != b else day_words(a, lang)
        rows.append(f"<tr><th>{escape(when)}</th><td>{len(weeks[k])}</td>{''.join(cells)}</tr>")
    return (f"<table class='ret'><tr><th>{escape(w['cohort'])}</th><th>{escape(w['people'])}</th>{head}</tr>"
            + "".join(rows) + "</table>")


def rule_bars(rules: list[RuleResult], w: dict, lang: str) -> str:
    if not rules:
        return f"<p class='muted'>{escape(w['no_rule_orders'])}</p>"
    top = max(r.orders for r in rules) or 1
    rows = []
    for r in rules:
        rate = "" if r.rate is None else " · " + w["rate"].format(rate=show("conversion_rate", r.rate))
        rows.append(f"<li data-rule='{escape(r.rule_id)}'><div class='rl'>{escape(r.label)}</div>"
                    f"<div class='bar'><span class='fill' style='width:{r.orders / top * 100:.1f}%'></span>"
                    f"<b>{escape(w['orders_n'].format(n=r.orders))}</b> <span class='muted'>¥{escape(fmt(r.revenue))}"
                    f"{escape(rate)}</span></div></li>")
    return "<ol class='rules'>" + "".join(rows) + "</ol>"


def campaign_timeline(wb: Workbook, facts: Facts, groups: list, span: list[date], lang: str, w: dict) -> str:
    phases = {r.rule_id: (r.phase or w["no_phase"]) for r in wb.sop}
    order: list[str] = []
    points = []
    start, end = day_start(span[0]), day_start(span[-1]) + timedelta(days=1)
    for row, g in enumerate(groups):
        for s in facts.sends.get(g.group_id, []):
            if start <= s.at < end:
                phase = phases.get(s.rule_id, w["no_phase"])
                if phase not in order:
                    order.append(phase)
                pos = (s.at - start).total_seconds() / 86400 - 0.5
                pos = min(max(pos, 0.0), len(span) - 1.0)
                points.append((row, pos, order.index(phase),
                               f"{phase} · {s.at:%H:%M} {day_words(s.at.date(), lang)}"))
    if not points:
        return f"<p class='muted'>{escape(w['nothing'])}</p>"
    svg = timeline(span, [f"{g.group_id} {g.name}" for g in groups], points, lang, label=w["timeline"])
    return svg + legend(order)
