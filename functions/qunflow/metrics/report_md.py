"""The daily report to the team's own group, as short markdown. Pure.

It leads with the north-star (Settings `north_star`) for the day and the day before, then the best and
worst groups, the groups whose north-star fell by more than 20%, the rules that converted that day's
orders (last touch, see attribution.py), and the problems waiting in the Problems tab.
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from ..sheet.workbook import Workbook
from .attribution import converted_on
from .facts import Facts, build_facts, north_star, ratio, setting
from .rollup import RATE_METRICS, metric_row

DROP = Decimal("0.8")   # a day below 80% of the day before is a drop (> 20% down)

TEXT = {
    "en": {"title": "**Daily report · {day}**", "ns": "North star · {metric}: **{value}** (day before {prev}{change})",
           "best": "Best: {best} · worst: {worst}", "drops": "Down more than 20%: {items}",
           "rules": "Rules that converted: {items}", "no_rules": "Rules that converted: none yesterday",
           "orders": "{n} orders", "problems": "Problems waiting: {n} ({errors} errors)", "no_problems": "Problems waiting: none",
           "row": "{tab} row {row}", "sep": ", ", "flat": "flat", "colon": ": "},
    "zh-CN": {"title": "**运营日报 · {day}**", "ns": "北极星 · {metric}：**{value}**（前一天 {prev}{change}）",
              "best": "最好：{best} · 最差：{worst}", "drops": "下滑超过 20%：{items}",
              "rules": "带来转化的规则：{items}", "no_rules": "带来转化的规则：当天没有",
              "orders": "{n} 单", "problems": "待处理问题：{n} 个（错误 {errors} 个）", "no_problems": "待处理问题：没有",
              "row": "{tab} 第{row}行", "sep": "，", "flat": "持平", "colon": "："},
}


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
        return f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) < 1 else f"{value:.2f}"
    return str(int(value)) if isinstance(value, (int, Decimal)) else str(value)


def total(metric: str, rows: list[dict]):
    """The north-star over several groups: a sum, or for rates the rate over the sum."""
    if metric == "conversion_rate":
        return ratio(sum(r["buyers"] for r in rows), sum(r["members"] for r in rows))
    if metric in RATE_METRICS:
        values = [r[metric] for r in rows if r[metric] is not None]
        return ratio(sum(values), len(values)) if values else None
    return sum((r[metric] for r in rows), Decimal(0) if metric == "revenue" else 0)


def is_drop(value, previous) -> bool:
    return value is not None and previous is not None and previous > 0 and Decimal(value) < DROP * Decimal(previous)


def ops_group(wb: Workbook) -> str | None:
    value = str(setting(wb, "ops_group", "") or "").strip()
    return value or None


def daily_report(wb: Workbook, day: date, facts: Facts | None = None) -> str:
    facts = facts or build_facts(wb)
    lang = "zh-CN" if wb.lang == "zh-CN" else "en"
    t = TEXT[lang]
    metric = north_star(wb)
    ops = ops_group(wb)
    groups = [g for gid, g in wb.groups.items() if gid != ops]
    now = {g.group_id: metric_row(facts, g.group_id, day) for g in groups}
    before = {g.group_id: metric_row(facts, g.group_id, day - timedelta(days=1)) for g in groups}
    value, prev = total(metric, list(now.values())), total(metric, list(before.values()))
    change = ""
    if value is not None and prev:
        step = Decimal(value) / Decimal(prev) - 1
        change = t["sep"] + (t["flat"] if step == 0 else f"{step:+.0%}".replace("+", "↑").replace("-", "↓"))
    lines = [t["title"].format(day=day.isoformat()),
             "- " + t["ns"].format(metric=metric_label(metric, lang), value=fmt(value), prev=fmt(prev), change=change)]
    ranked = sorted((g for g in groups if now[g.group_id][metric] is not None),
                    key=lambda g: (-Decimal(now[g.group_id][metric]), g.row))
    if ranked:
        def name(g):
            return f"{g.group_id} {g.name} {fmt(now[g.group_id][metric])}"
        lines.append("- " + t["best"].format(best=name(ranked[0]), worst=name(ranked[-1])))
    drops = [g for g in groups if is_drop(now[g.group_id][metric], before[g.group_id][metric])]
    if drops:
        lines.append("- " + t["drops"].format(items=", ".join(
            f"{g.group_id} {fmt(before[g.group_id][metric])}→{fmt(now[g.group_id][metric])}" for g in drops)))
    converted = sorted(converted_on(facts, day).items(), key=lambda kv: (-kv[1][0], kv[0]))
    if converted:
        lines.append("- " + t["rules"].format(items=" · ".join(
            f"{rule} {t['orders'].format(n=n)} ¥{fmt(amount)}" for rule, (n, amount) in converted[:5])))
    else:
        lines.append("- " + t["no_rules"])
    problems = sorted(wb.previous_problems, key=lambda p: (p.severity != "error", p.tab or "", p.row or 0))
    if problems:
        errors = sum(1 for p in problems if p.severity == "error")
        lines.append("- " + t["problems"].format(n=len(problems), errors=errors))
        for p in problems[:3]:
            where = t["row"].format(tab=p.tab, row=p.row) if p.row else (p.tab or "")
            message = (p.message or "").strip()
            lines.append(f"  - {where}{t['colon']}{message[:60]}{'…' if len(message) > 60 else ''}")
    else:
        lines.append("- " + t["no_problems"])
    return "\n".join(lines)
