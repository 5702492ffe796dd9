"""`qunflow report --html`: one self-contained HTML page that answers first. No script, nothing fetched.

At the top, the north star on the last day, the day before and the 7-day average, for the shop and each
group, with the change in words; then the three things that changed most, the rules that converted best
(by phase and first words), and the drop alerts (only on a base of at least headline.MIN_BASE). Below:
the trend per group, the funnel per group (nested: each stage counts people of the stage above), retention
by join week, the campaign timeline by phase and the experiments. Charts are inline SVG drawn here (svg.py),
so the page is a few hundred KB at most and works offline and at a phone's 375 px. Everything is computed
from the workbook itself, so the report does not depend on the Metrics tab having been written.
"""
from __future__ import annotations

from datetime import date, timedelta
from html import escape
from pathlib import Path

from ..sheet.workbook import Workbook
from .dates import day_words, span_words
from .experiments import describe, experiments
from .facts import Facts, attribution_hours, build_facts, north_star
from .headline import MIN_BASE, Line, best_rules, change_words, days_for_headline, headline, lang_of, metric_label, show
from .report_md import change_item, ops_group
from .report_sections import campaign_timeline, funnel, retention, rule_bars, trend

WORDS = {
    "en": {"title": "qunflow report", "as_of": "{span} · north star: {metric}", "headline": "The answer",
           "day_before": "day before", "avg7": "7-day average", "changes": "What changed most",
           "no_changes": "Nothing moved away from its 7-day average.",
           "rules": "Rules that converted best ({span}, last touch within {hours} h)",
           "no_rule_orders": "No order came within the attribution window of a message.", "orders_n": "{n} orders",
           "rate": "{rate} of reach", "alerts": "Drop alerts",
           "no_alerts": "No drop worth an alert. An alert needs a 7-day average of at least {n} (orders, members, "
                        "messages…) and a fall of more than 20% and more than chance.",
           "alerts_note": "Alerts need a 7-day average of at least {n} behind the number.",
           "alert": "{name}: {value}, 7-day average {avg}",
           "trend": "{metric} per group per day", "drops_marked": "× marks {n} drop alerts.",
           "no_drops_marked": "No day was a drop worth an alert.", "funnel": "Funnel per group ({span})",
           "stages": ["members", "of them spoke", "of those got a coupon", "of those bought", "of those redeemed"],
           "funnel_note": "Each stage counts only people of the stage above.",
           "cohorts": "Retention by join week (share who spoke or checked in on day n)", "day_n": "day {n}",
           "cohort": "joined", "people": "people", "timeline": "Messages sent, by phase", "experiments": "Experiments",
           "no_experiments": "No SOP rule has a variant (A/B) yet.", "arms": "arms", "window": "window",
           "not_started": "no send yet", "nothing": "No data in this period.", "no_phase": "(no phase)"},
    "zh-CN": {"title": "qunflow 运营报告", "as_of": "{span} · 北极星指标：{metric}", "headline": "一眼看结论",
              "day_before": "前一天", "avg7": "前7天平均", "changes": "变化最大的三件事",
              "no_changes": "各项数据都和前7天平均差不多。",
              "rules": "转化最好的规则（{span}，{hours} 小时内末次触达）",
              "no_rule_orders": "没有订单落在消息的归因时间内。", "orders_n": "{n} 单", "rate": "触达转化 {rate}",
              "alerts": "下滑提醒",
              "no_alerts": "没有值得提醒的下滑。只有前7天平均至少 {n}（单、人、条…），且下滑超过 20%、超出正常波动时才提醒。",
              "alerts_note": "只在前7天平均至少 {n} 时提醒。", "alert": "{name}：{value}，前7天平均 {avg}",
              "trend": "每个群每天的{metric}", "drops_marked": "× 标出 {n} 次下滑提醒。",
              "no_drops_marked": "没有哪一天的下滑值得提醒。", "funnel": "每个群的转化漏斗（{span}）",
              "stages": ["成员", "其中发过言", "再其中领到券", "再其中下单", "再其中用券核销"],
              "funnel_note": "每一层只数上一层里的人，所以不会越往下越多。",
              "cohorts": "按入群周的留存（第 n 天发言或打卡的比例）", "day_n": "第{n}天", "cohort": "入群",
              "people": "人数", "timeline": "按阶段的发送时间线", "experiments": "实验",
              "no_experiments": "还没有带“实验组”（A/B）的 SOP 规则。", "arms": "分组", "window": "统计区间",
              "not_started": "尚未发送", "nothing": "这段时间没有数据。", "no_phase": "（无阶段）"},
}

CSS = """*{box-sizing:border-box}html{-webkit-text-size-adjust:100%}
body{font:15px/1.55 -apple-system,"PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC","Noto Sans SC",
"Source Han Sans SC",sans-serif;margin:0 auto;max-width:1100px;color:#1f2329;padding:12px;background:#f5f6f8;
overflow-wrap:anywhere}
h1{font-size:20px;margin:4px 0}h2{font-size:16px;margin:0 0 8px}h3{font-size:14px;margin:0 0 6px}
section{background:#fff;border-radius:10px;padding:12px 14px;margin:12px 0;box-shadow:0 1px 2px #0001}
.muted{color:#737a87}.small{font-size:12px}.cols{display:grid;gap:12px}
@media(min-width:760px){.cols{grid-template-columns:1fr 1fr}.pair{display:grid;grid-template-columns:1fr 1fr;gap:12px;margin:12px 0;align-items:start}
.pair>section{margin:0}}
.big{display:flex;flex-wrap:wrap;align-items:baseline;gap:4px 14px}
.big .num{font-size:40px;font-weight:700;line-height:1.1}.big .sub{color:#4e5969}
.words{font-size:17px;font-weight:600;margin:4px 0 10px}.up{color:#00864e}.down{color:#c9353f}
.groups{list-style:none;margin:0;padding:0;border-top:1px solid #eee}
.groups li{padding:8px 0;border-bottom:1px solid #eee;display:grid;grid-template-columns:1fr auto;gap:0 8px}
.groups .gv{font-weight:700;font-size:18px;text-align:right}.groups .gw{grid-column:1/3;font-size:13px;color:#4e5969}
ol{margin:0;padding-left:22px}li{margin:4px 0}
.chart{width:100%;height:auto;display:block;max-width:640px}.chart .ax{font-size:12.5px;fill:#5c6370}
.chart .grid{stroke:#e8e9eb;stroke-width:1}.chart .drop{stroke:#c9353f;stroke-width:2.2;fill:none}
.chart .band{fill:#f5f6f8}.chart .rowname{font-size:12px;fill:#4e5969}
.legend{margin:6px 0 0;font-size:12px;display:flex;flex-wrap:wrap;gap:2px 12px}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:-1px}
.bar{position:relative;padding:3px 6px;margin:3px 0;font-size:13px;border-radius:4px;background:#f5f6f8;z-index:0}
.bar .fill{position:absolute;left:0;top:0;bottom:0;background:#cfe0fb;border-radius:4px;z-index:-1}
.bar .bl{display:inline-block;min-width:7em;margin-right:4px}
.rules{padding-left:20px}.rules .rl{font-size:13px}
table.ret{border-collapse:collapse;width:100%;font-size:13px}table.ret td,table.ret th{padding:4px;text-align:center;
border-bottom:1px solid #eee}table.ret th:first-child{text-align:left;font-weight:500}"""


def _tone(line: Line) -> str:
    step = line.change()
    return "" if step is None or step == 0 else ("up" if step > 0 else "down")


def _headline_html(head, lang: str, w: dict) -> str:
    metric, shop = head.metric, head.shop
    label = metric_label(metric, lang)
    parts = [f"<section id='headline' data-section='headline'><h2>{escape(w['headline'])} · "
             f"{escape(day_words(head.day, lang, weekday=True))}</h2>",
             f"<div class='big'><span class='muted'>{escape(shop.name)} · {escape(label)}</span>"
             f"<span class='num' data-value='{escape(show(metric, shop.day))}'>{escape(show(metric, shop.day))}</span>"
             f"<span class='sub'>{escape(w['day_before'])} {escape(show(metric, shop.prev))} · "
             f"{escape(w['avg7'])} {escape(show(metric, shop.avg))}</span></div>",
             f"<p class='words {_tone(shop)}' data-words>{escape(change_words(shop, lang))}</p><ul class='groups'>"]
    for line in head.groups:
        parts.append(f"<li data-group='{escape(line.group_id)}'><span>{escape(line.name)}</span>"
                     f"<span class='gv'>{escape(show(metric, line.day))}</span>"
                     f"<span class='gw'>{escape(w['day_before'])} {escape(show(metric, line.prev))} · {escape(w['avg7'])} "
                     f"{escape(show(metric, line.avg))} · <span class='{_tone(line)}'>"
                     f"{escape(change_words(line, lang, with_label=False))}</span></span></li>")
    parts.append("</ul></section>")
    return "".join(parts)


def _changes_html(head, lang: str, w: dict) -> str:
    items = "".join(f"<li class='{_tone(c)}'>{escape(change_item(c, lang))}</li>" for c in head.changes)
    body = f"<ol>{items}</ol>" if items else f"<p class='muted'>{escape(w['no_changes'])}</p>"
    return f"<section data-section='changes'><h2>{escape(w['changes'])}</h2>{body}</section>"


def _alerts_html(head, lang: str, w: dict) -> str:
    label = metric_label(head.metric, lang)
    if not head.drops:
        body = f"<p class='muted'>{escape(w['no_alerts'].format(n=MIN_BASE))}</p>"
    else:
        body = "<ul>" + "".join(f"<li class='down'>{escape(w['alert'].format(name=d.name, value=show(head.metric, d.day), avg=show(head.metric, d.avg)))}</li>"
                                for d in head.drops) + "</ul>" + \
            f"<p class='muted small'>{escape(w['alerts_note'].format(n=MIN_BASE))}</p>"
    return f"<section data-section='alerts'><h2>{escape(w['alerts'])} · {escape(label)}</h2>{body}</section>"


def _experiments_html(wb: Workbook, facts: Facts, w: dict) -> str:
    found = experiments(facts)
    if not found:
        return f"<p class='muted'>{escape(w['no_experiments'])}</p>"
    label = metric_label(north_star(wb), wb.lang)
    items = []
    for exp in found:
        arms = "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(exp.arms.items()))
        head = f"<b>{escape(exp.name)}</b> ({escape(', '.join(exp.rules))}) · {w['arms']}: {escape(arms)}"
        if exp.first is None:
            items.append(f"<li>{head} · {escape(w['not_started'])}</li>")
            continue
        lines = "".join(f"<li>{escape(describe(c, wb.lang, label))}</li>" for c in exp.comparisons)
        items.append(f"<li>{head} · {w['window']}: {exp.first} – {exp.last}<ul>{lines}</ul></li>")
    return "<ul>" + "".join(items) + "</ul>"


def report_html(wb: Workbook, *, as_of: date | None = None, days: int = 30, facts: Facts | None = None) -> str:
    facts = facts or build_facts(wb)
    lang = lang_of(wb)
    w = WORDS[lang]
    last = as_of or facts.last_day() or date.today()
    first = max(facts.first_day() or last, last - timedelta(days=days - 1))
    span = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    ops = ops_group(wb)
    groups = [g for gid, g in wb.groups.items() if gid != ops]
    metric = north_star(wb)
    table = days_for_headline(facts, groups, last, first)
    head = headline(wb, facts, groups, last, table)
    period = span_words(first, last, lang)
    section = "<section data-section='{name}'><h2>{title}</h2>{body}</section>"
    parts = [f"<!doctype html><html lang='{escape(wb.lang)}'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             f"<title>{escape(w['title'])}</title><style>{CSS}</style></head><body>",
             f"<header><h1>{escape(w['title'])}</h1><p class='muted'>"
             f"{escape(w['as_of'].format(span=period, metric=metric_label(metric, lang)))}</p></header>",
             _headline_html(head, lang, w),
             "<div class='pair'>", _changes_html(head, lang, w), _alerts_html(head, lang, w), "</div>",
             section.format(name="rules", title=escape(w["rules"].format(span=period, hours=attribution_hours(wb))),
                            body=rule_bars(best_rules(wb, facts, span, limit=8), w, lang)),
             "<div class='pair'>",
             section.format(name="northstar", title=escape(w["trend"].format(metric=metric_label(metric, lang))),
                            body=trend(wb, table, groups, metric, span, lang, w)),
             section.format(name="timeline", title=escape(w["timeline"]),
                            body=campaign_timeline(wb, facts, groups, span, lang, w)),
             "</div>",
             section.format(name="funnel", title=escape(w["funnel"].format(span=period)),
                            body=funnel(wb, facts, groups, first, last, w)),
             section.format(name="cohorts", title=escape(w["cohorts"]), body=retention(facts, first, last, lang, w)),
             section.format(name="experiments", title=escape(w["experiments"]), body=_experiments_html(wb, facts, w)),
             "</body></html>"]
    return "\n".join(parts)


def write_report(wb: Workbook, path: Path | str, *, as_of: date | None = None, days: int = 30) -> Path:
    """The HTML report for the `days` days ending `as_of` (default: the last day with data)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report_html(wb, as_of=as_of, days=days), encoding="utf-8")
    return path
