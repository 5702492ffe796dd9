"""`qunflow report --html`: one self-contained HTML file (plotly.js inline, works offline).

Sections: the north-star per group (drops of more than 20% marked), the funnel per group, retention by
join cohort (a heatmap), conversions per rule (last touch), the campaign timeline by phase, and the
experiments with their lift. Everything is computed from the workbook itself, so the report does not
depend on the Metrics tab having been written.
"""
from __future__ import annotations

import html
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

from ..sheet.workbook import Workbook
from .attribution import rules_rows
from .cohorts import retention_matrix
from .experiments import describe, experiments
from .facts import Facts, build_facts, day_start, north_star, to_local
from .report_md import is_drop, metric_label, ops_group
from .rollup import metric_rows

WORDS = {
    "en": {"title": "qunflow report", "as_of": "From {first} to {last}", "ns": "North star per group: {metric}",
           "drop": "drop > 20%", "funnel": "Funnel per group", "stages": ["members", "spoke", "got a coupon",
                                                                          "redeemed", "bought"],
           "cohorts": "Retention by join cohort (share who spoke or checked in on day n)", "day": "day n after joining",
           "cohort": "joined on", "rules": "Orders per rule (last touch within {hours} h)", "rule": "rule",
           "orders": "orders", "timeline": "Campaign timeline by phase", "experiments": "Experiments",
           "no_experiments": "No SOP rule has a variant (A/B) yet.", "arms": "arms", "window": "window",
           "not_started": "no send yet", "nothing": "No data in this period.", "group": "group", "no_phase": "(no phase)"},
    "zh-CN": {"title": "qunflow 运营报告", "as_of": "{first} 至 {last}", "ns": "每个群的北极星指标：{metric}",
              "drop": "下滑超过 20%", "funnel": "每个群的转化漏斗", "stages": ["成员", "发过言", "领到券", "核销", "下单"],
              "cohorts": "按入群日期的留存（第 n 天发言或打卡的比例）", "day": "入群后第 n 天", "cohort": "入群日期",
              "rules": "各规则带来的订单（{hours} 小时内末次触达）", "rule": "规则", "orders": "订单",
              "timeline": "按阶段的活动时间线", "experiments": "实验", "no_experiments": "还没有带“实验组”（A/B）的 SOP 规则。",
              "arms": "分组", "window": "统计区间", "not_started": "尚未发送", "nothing": "这段时间没有数据。",
              "group": "群", "no_phase": "（无阶段）"},
}

CSS = """body{font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;margin:24px auto;max-width:1100px;
color:#222;padding:0 16px}h1{font-size:24px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
.muted{color:#777}.figure{min-height:380px}li{margin:4px 0}"""


def _figures(wb: Workbook, facts: Facts, first: date, last: date, w: dict) -> list[tuple[str, object]]:
    import plotly.graph_objects as go
    metric = north_star(wb)
    label = metric_label(metric, wb.lang)
    ops = ops_group(wb)
    groups = [g for gid, g in wb.groups.items() if gid != ops]
    days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    rows = metric_rows(facts, days)
    by_group = defaultdict(list)
    for r in rows:
        by_group[r["group_id"]].append(r)
    out = []

    ns = go.Figure()
    legend_drop = True
    for g in groups:
        series = by_group[g.group_id]
        ys = [None if r[metric] is None else float(r[metric]) for r in series]
        ns.add_trace(go.Scatter(x=[r["date"].isoformat() for r in series], y=ys, mode="lines+markers",
                                name=f"{g.group_id} {g.name}"))
        drops = [(a, b) for a, b in zip(series, series[1:]) if is_drop(b[metric], a[metric])]
        if drops:
            ns.add_trace(go.Scatter(x=[b["date"].isoformat() for _, b in drops], y=[float(b[metric]) for _, b in drops],
                                    mode="markers", marker={"symbol": "x", "size": 12, "color": "#d62728"},
                                    name=w["drop"], legendgroup="drop", showlegend=legend_drop,
                                    text=[g.group_id] * len(drops), hovertemplate="%{text} %{x}: %{y}"))
            legend_drop = False
    ns.update_layout(title=w["ns"].format(metric=label), yaxis_title=label)
    out.append(("northstar", ns))

    funnel = go.Figure()
    start, end = day_start(first), day_start(last) + timedelta(days=1)
    for g in groups:
        people = [p for p in facts.people.get(g.group_id, []) if not p.gone
                  and (p.joined is None or p.joined < end) and (p.left is None or p.left >= start)]
        ids = {p.member.member_id for p in people}
        tz = facts.tz[g.group_id]

        def within(value) -> bool:
            local = to_local(value, tz)
            return local is not None and start <= local < end
        coupons = [c for c in wb.coupons.values() if c.member_id in ids]
        bought = {h.event.member_id for h in facts.events.get(g.group_id, [])
                  if h.event.type == "order" and start <= h.at < end}
        counts = [len(people), sum(p.active_between(start, end) for p in people),
                  len({c.member_id for c in coupons if within(c.issued_at)}),
                  len({c.member_id for c in coupons if within(c.redeemed_at)}), len(bought)]
        funnel.add_trace(go.Funnel(y=w["stages"], x=counts, name=f"{g.group_id} {g.name}", textinfo="value"))
    funnel.update_layout(title=w["funnel"])
    out.append(("funnel", funnel))

    cohort_days, matrix = retention_matrix(facts, first, last)
    heat = go.Figure(go.Heatmap(z=matrix, x=list(range(31)), y=[d.isoformat() for d in cohort_days],
                                colorscale="Blues", zmin=0, zmax=1, hoverongaps=False,
                                colorbar={"tickformat": ".0%"}))
    heat.update_layout(title=w["cohorts"], xaxis_title=w["day"], yaxis_title=w["cohort"],
                       yaxis={"type": "category", "autorange": "reversed"})
    out.append(("cohorts", heat))

    from .facts import attribution_hours
    rules = rules_rows(facts, days)
    bars = go.Figure()
    rule_ids = sorted({r["rule_id"] for r in rules})
    for g in groups:
        per = defaultdict(int)
        for r in rules:
            if r["group_id"] == g.group_id:
                per[r["rule_id"]] += r["conversions"]
        bars.add_trace(go.Bar(x=rule_ids, y=[per[k] for k in rule_ids], name=f"{g.group_id} {g.name}"))
    bars.update_layout(barmode="stack", title=w["rules"].format(hours=attribution_hours(wb)),
                       xaxis_title=w["rule"], yaxis_title=w["orders"])
    out.append(("rules", bars))

    phases = {r.rule_id: (r.phase or w["no_phase"]) for r in wb.sop}
    names = {g.group_id: f"{g.group_id} {g.name}" for g in groups}
    points = defaultdict(list)
    for gid, sends in facts.sends.items():
        for s in sends:
            if gid in names and start <= s.at < end:
                points[phases.get(s.rule_id, s.rule_id)].append(s)
    timeline = go.Figure()
    for phase, sends in sorted(points.items()):
        timeline.add_trace(go.Scatter(x=[s.at.isoformat(sep=" ") for s in sends], y=[names[s.group_id] for s in sends],
                                      mode="markers", name=phase, text=[s.rule_id for s in sends],
                                      marker={"size": 9, "symbol": "line-ns-open", "line": {"width": 2}},
                                      hovertemplate="%{text} · %{x}<extra>" + html.escape(phase) + "</extra>"))
    timeline.update_layout(title=w["timeline"], yaxis={"type": "category"})
    out.append(("timeline", timeline))
    for _, fig in out:
        fig.update_layout(template="plotly_white", height=420, margin={"l": 60, "r": 20, "t": 60, "b": 50},
                          legend={"orientation": "h", "y": -0.2})
    return out


def _experiments_html(wb: Workbook, facts: Facts, w: dict) -> str:
    found = experiments(facts)
    if not found:
        return f"<p class='muted'>{html.escape(w['no_experiments'])}</p>"
    label = metric_label(north_star(wb), wb.lang)
    items = []
    for exp in found:
        arms = "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(exp.arms.items()))
        head = f"<b>{html.escape(exp.name)}</b> ({html.escape(', '.join(exp.rules))}) · {w['arms']}: {html.escape(arms)}"
        if exp.first is None:
            items.append(f"<li>{head} · {html.escape(w['not_started'])}</li>")
            continue
        lines = "".join(f"<li>{html.escape(describe(c, wb.lang, label))}</li>" for c in exp.comparisons)
        items.append(f"<li>{head} · {w['window']}: {exp.first} – {exp.last}<ul>{lines}</ul></li>")
    return "<ul>" + "".join(items) + "</ul>"


def report_html(wb: Workbook, *, as_of: date | None = None, days: int = 30, facts: Facts | None = None) -> str:
    facts = facts or build_facts(wb)
    w = WORDS["zh-CN" if wb.lang == "zh-CN" else "en"]
    last = as_of or facts.last_day() or date.today()
    first = max(facts.first_day() or last, last - timedelta(days=days - 1))
    parts = [f"<!doctype html><html lang='{html.escape(wb.lang)}'><head><meta charset='utf-8'>",
             f"<title>{html.escape(w['title'])}</title><style>{CSS}</style></head><body>",
             f"<h1>{html.escape(w['title'])}</h1><p class='muted'>{html.escape(w['as_of'].format(first=first, last=last))}</p>"]
    config = {"displaylogo": False, "responsive": True}
    for i, (name, fig) in enumerate(_figures(wb, facts, first, last, w)):
        parts.append(f"<div class='figure' data-section='{name}'>")
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0), div_id=f"fig-{name}", config=config))
        parts.append("</div>")
    parts.append(f"<h2>{html.escape(w['experiments'])}</h2>")
    parts.append(_experiments_html(wb, facts, w))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(wb: Workbook, path: Path | str, *, as_of: date | None = None, days: int = 30) -> Path:
    """The HTML report for the `days` days ending `as_of` (default: the last day with data)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report_html(wb, as_of=as_of, days=days), encoding="utf-8")
    return path
