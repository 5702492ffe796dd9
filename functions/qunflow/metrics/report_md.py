"""The daily report to the team's own group, as short markdown. Pure.

It answers first: the north-star (Settings `north_star`) for the day, the day before and the 7-day
average, with the change in words, for the shop and per group (headline.py). Then the three things that
changed most, drop alerts (only on a base large enough to mean something: headline.MIN_BASE), the rules
that converted that day's orders (last touch, see attribution.py) by their phase and first words, and the
problems waiting in the Problems tab.
"""
from __future__ import annotations

from datetime import date

from ..sheet.workbook import Workbook
from .attribution import converted_on
from .dates import day_words
from .facts import Facts, build_facts, setting
from .headline import change_words, fmt, first_words, headline, lang_of, metric_label, show, total  # noqa: F401

MAX_GROUPS = 8
TEXT = {
    "en": {"title": "**Daily report · {day}**", "ns": "{metric}: **{value}** · day before {prev} · 7-day average {avg}",
           "group": "{name}: {value} ({words})", "changes": "Changed most: {items}",
           "drops": "Down more than usual: {items}", "more_groups": "and {n} more groups",
           "rules": "Rules that converted: {items}", "no_rules": "Rules that converted: none that day",
           "orders": "{n} orders", "problems": "Problems waiting: {n} ({errors} errors)", "no_problems": "Problems waiting: none",
           "row": "{tab} row {row}", "sep": ", ", "colon": ": ", "drop": "{name} {metric} {value} (7-day average {avg})"},
    "zh-CN": {"title": "**运营日报 · {day}**", "ns": "{metric}：**{value}** · 前一天 {prev} · 前7天平均 {avg}",
              "group": "{name}：{value}（{words}）", "changes": "变化最大：{items}",
              "drops": "明显下滑：{items}", "more_groups": "还有 {n} 个群",
              "rules": "带来转化的规则：{items}", "no_rules": "带来转化的规则：当天没有",
              "orders": "{n} 单", "problems": "待处理问题：{n} 个（错误 {errors} 个）", "no_problems": "待处理问题：没有",
              "row": "{tab} 第{row}行", "sep": "，", "colon": "：", "drop": "{name} {metric} {value}（前7天平均 {avg}）"},
}


def change_item(line, lang: str) -> str:
    """One of the things that changed most, in words: "G03 穿搭研究所 · 成员发言 12，比前7天平均 高 126%"."""
    sep = "，" if lang == "zh-CN" else ", "
    return f"{line.name} · {metric_label(line.metric, lang)} {show(line.metric, line.day)}{sep}" \
        f"{change_words(line, lang, with_label=False)}"


def ops_group(wb: Workbook) -> str | None:
    value = str(setting(wb, "ops_group", "") or "").strip()
    return value or None


def daily_report(wb: Workbook, day: date, facts: Facts | None = None) -> str:
    facts = facts or build_facts(wb)
    lang = lang_of(wb)
    t = TEXT[lang]
    ops = ops_group(wb)
    groups = [g for gid, g in wb.groups.items() if gid != ops]
    head = headline(wb, facts, groups, day)
    metric, shop = head.metric, head.shop
    label = metric_label(metric, lang)
    lines = [t["title"].format(day=day_words(day, lang, weekday=True)),
             "- " + t["ns"].format(metric=label, value=show(metric, shop.day), prev=show(metric, shop.prev),
                                   avg=show(metric, shop.avg)),
             "- " + change_words(shop, lang)]
    for line in head.groups[:MAX_GROUPS]:   # the message stays short; the HTML report lists every group
        lines.append("  - " + t["group"].format(name=line.name, value=show(metric, line.day),
                                                words=change_words(line, lang, with_label=False)))
    if len(head.groups) > MAX_GROUPS:
        lines.append("  - " + t["more_groups"].format(n=len(head.groups) - MAX_GROUPS))
    if head.changes:
        lines.append("- " + t["changes"].format(items="; ".join(change_item(c, lang) for c in head.changes)
                                                 if lang == "en" else "；".join(change_item(c, lang) for c in head.changes)))
    if head.drops:
        lines.append("- " + t["drops"].format(items=t["sep"].join(
            t["drop"].format(name=d.name, metric=label, value=show(metric, d.day), avg=show(metric, d.avg))
            for d in head.drops)))
    converted = sorted(converted_on(facts, day).items(), key=lambda kv: (-kv[1][0], kv[0]))
    if converted:
        lines.append("- " + t["rules"].format(items=" · ".join(
            f"{first_words(wb, rule, lang)} {t['orders'].format(n=n)} ¥{fmt(amount)}" for rule, (n, amount) in converted[:3])))
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
