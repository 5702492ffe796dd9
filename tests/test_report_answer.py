"""The owner's report answers first (#17 item 3), read as its HTML and its daily message, without a browser.

On the 30-day demo (metrics_demo) and on two hand-made shops: a tiny one whose orders go 2 → 0 (no alert)
and a busy one whose orders go from 40 a day to 20 (an alert).
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from html.parser import HTMLParser

import pytest

from helpers import make_raw
from metrics_demo import demo_result
from qunflow.metrics.headline import MIN_BASE
from qunflow.metrics.report_html import report_html
from qunflow.metrics.report_md import daily_report
from qunflow.sheet.load import load_workbook
from qunflow.stores.xlsx import read_xlsx

LAST = date(2026, 12, 30)     # the demo's last day
ENGLISH_DATE = re.compile(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{1,2}\b")
RULE_CODE = re.compile(r"\b[A-Z]\d{2}\b")


class Sections(HTMLParser):
    """Visible text per data-section, the order sections come in, and attributes of marked elements."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.order: list[str] = []
        self.text: dict[str, list[str]] = {}
        self.ticks: dict[str, list[str]] = {}
        self.counts: dict[str, list[int]] = {}
        self._stack: list[tuple[str, str | None, bool]] = []   # (tag, section, an axis label)
        self._funnel: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        section = attrs.get("data-section") or (self._stack[-1][1] if self._stack else None)
        if attrs.get("data-section"):
            self.order.append(section)
        if tag == "div" and "funnel" in (attrs.get("class") or "").split():
            self._funnel = attrs.get("data-group")
            self.counts[self._funnel] = []
        if "data-count" in attrs and self._funnel:
            self.counts[self._funnel].append(int(attrs["data-count"]))
        axis = tag == "text" and "ax" in (attrs.get("class") or "").split()
        if tag not in ("br", "meta", "line", "rect", "circle", "path", "polyline", "i"):
            self._stack.append((tag, section, axis))

    def handle_endtag(self, tag):
        for k in range(len(self._stack) - 1, -1, -1):
            if self._stack[k][0] == tag:
                del self._stack[k:]
                break

    def handle_data(self, data):
        if self._stack and self._stack[-1][1]:
            _, section, axis = self._stack[-1]
            if self._stack[-1][0] in ("title", "style"):
                return
            self.text.setdefault(section, []).append(data)
            if axis:
                self.ticks.setdefault(section, []).append(data)

    def words(self, section: str) -> str:
        return " ".join(self.text.get(section, []))


@pytest.fixture(scope="module")
def demo():
    wb = load_workbook(read_xlsx(demo_result().workbook))
    page = report_html(wb, as_of=LAST, days=30)
    parsed = Sections()
    parsed.feed(page)
    return wb, page, parsed


def test_the_report_opens_with_the_north_star_today_yesterday_and_its_7_day_average(demo):
    wb, page, parsed = demo
    assert parsed.order[0] == "headline" and parsed.order.index("headline") < parsed.order.index("northstar")
    head = parsed.words("headline")
    assert "12月30日" in head and "全店" in head and "订单" in head and "前一天" in head and "前7天平均" in head
    assert re.search(r"订单 比前7天平均 (高 \d+%|低 \d+%|多 [\d.]+|少 [\d.]+|持平)", head), head
    ops = wb.settings.extra.get("ops_group")
    for gid, group in wb.groups.items():
        if gid != ops:
            assert f"{gid} {group.name}" in head            # one line per group
    changes = parsed.words("changes")
    assert changes.count("比前7天平均") == 3                # the three things that changed most
    message = daily_report(wb, LAST)
    assert message.splitlines()[1].startswith("- 订单：**") and "前7天平均" in message.splitlines()[1]


def test_rules_are_named_by_phase_and_first_words_and_dates_are_chinese(demo):
    wb, page, parsed = demo
    rules = parsed.words("rules")
    assert "收尾期·晒单有礼" in rules and "单" in rules
    visible = " ".join(" ".join(v) for v in parsed.text.values())
    codes = {r.rule_id for r in wb.sop}
    assert {"C01", "W01"} <= codes and not set(RULE_CODE.findall(visible)) & codes   # not where the owner reads
    assert not ENGLISH_DATE.findall(page) and "12月1日" in page and "2026-12" not in visible
    assert "C01" not in daily_report(wb, LAST) and "W01" not in daily_report(wb, LAST)


def test_count_axes_are_whole_numbers(demo):
    _, _, parsed = demo
    ticks = [t for t in parsed.ticks["northstar"] if not t.endswith("日")]
    assert len(ticks) >= 3 and all(re.fullmatch(r"\d+", t) for t in ticks), ticks   # orders: 0, 1, 2, 3 — no 0.5


def test_the_funnel_never_widens(demo):
    wb, _, parsed = demo
    assert len(parsed.counts) == len(wb.groups) - (1 if wb.settings.extra.get("ops_group") else 0)
    for group, counts in parsed.counts.items():
        assert len(counts) == 5 and counts[0] > 0, (group, counts)
        assert all(a >= b for a, b in zip(counts, counts[1:])), (group, counts)   # 下单 ≤ 领到券 ≤ ...


def test_the_demo_report_is_one_small_offline_file():
    path = demo_result().workbook.parent / "report.html"
    text = path.read_text(encoding="utf-8")
    assert path.stat().st_size < 1_000_000, path.stat().st_size      # plotly's bundle alone was 4.8 MB
    assert "<script" not in text and "plotly" not in text.lower()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)  # nothing fetched
    assert text.count("<svg") >= 2 and "<html lang='zh-CN'>" in text


def _shop(per_day: list[int], lang: str = "en") -> dict:
    start = datetime(2026, 12, 1, 12, 0)
    members = [{"member_id": f"M{k}", "name": f"M{k}", "group_id": "G01", "joined_at": "2026-11-01 10:00"}
               for k in range(60)]
    events, n = [], 0
    for day, count in enumerate(per_day):
        for k in range(count):
            n += 1
            events.append({"event_id": f"E{n}", "type": "order", "member_id": f"M{k % 60}", "group_id": "G01",
                           "at": (start + timedelta(days=day, minutes=k)).strftime("%Y-%m-%d %H:%M"), "amount": 100})
    return {"settings": [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": lang}],
            "groups": [{"group_id": "G01", "name": "Deals", "platform": "wecom", "webhook": "env:QUNFLOW_HOOK_G01",
                        "kind": "traffic"}],
            "members": members, "events": events, "sop": [], "sendlog": []}


def test_a_drop_on_tiny_counts_is_no_alert_and_a_drop_on_a_real_base_is():
    tiny = load_workbook(make_raw(_shop([1, 2, 1, 2, 2, 1, 2, 0])))
    day = date(2026, 12, 8)
    text = daily_report(tiny, day)
    assert "Down more" not in text, text
    alerts = report_html(tiny, as_of=day).split("data-section='alerts'")[1].split("</section>")[0]
    assert "<li" not in alerts and "No drop worth an alert" in alerts
    busy = load_workbook(make_raw(_shop([40, 42, 38, 41, 39, 40, 40, 20])))
    text = daily_report(busy, day)
    assert "Down more than usual: Whole shop orders 20 (7-day average 40)" in text, text
    assert "G01 Deals orders 20" in text
    page = report_html(busy, as_of=day)
    alerts = page.split("data-section='alerts'")[1].split("</section>")[0]
    assert "Whole shop: 20, 7-day average 40" in alerts and f"at least {MIN_BASE}" in alerts
    steady = load_workbook(make_raw(_shop([40, 42, 38, 41, 39, 40, 40, 36])))   # -10%: ordinary
    assert "Down more" not in daily_report(steady, day)
