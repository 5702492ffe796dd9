"""Times are local everywhere an operator looks (#17 item 4): the transcript and the preview calendar show each
group's own date and time, and the pages speak the workbook's language."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from helpers import make_raw
from qunflow.emulator import render_html
from qunflow.jobs.preview import calendar_html, preview
from qunflow.sheet.load import load_workbook

MORNING = {"seq": 1, "at": "2026-11-30T23:00:00.000+00:00", "platform": "wecom", "group_id": "G04",
           "name": "21天早起穿搭打卡", "msgtype": "text", "text": "早安！回复“打卡”", "mentions": []}


def test_the_transcript_shows_the_groups_local_date_and_time_in_the_workbooks_language():
    page = render_html([MORNING], "demo", zones={"G04": ZoneInfo("Asia/Shanghai")}, lang="zh-CN")
    assert '<html lang="zh-CN">' in page
    assert ">07:00</time>" in page and 'datetime="2026-12-01T07:00:00+08:00"' in page   # 早安 at 07:00, not 23:00
    assert "2026年12月1日 周二" in page and "Asia/Shanghai (UTC+08:00)" in page
    assert "共 1 条消息" in page and "23:00" not in page
    by_name = render_html([MORNING], "demo", zones={"G04": "America/New_York"}, lang="en")
    assert '<html lang="en">' in by_name and ">18:00</time>" in by_name and "Mon Nov 30, 2026" in by_name


def test_a_transcript_without_zones_says_its_times_are_utc_and_dates_them():
    page = render_html([MORNING], "emulator")
    assert ">23:00</time>" in page and "times in UTC" in page and "Mon Nov 30, 2026" in page


def _new_york_shop(lang: str = "en"):
    return load_workbook(make_raw({
        "settings": [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": lang}],
        "groups": [{"group_id": "G01", "name": "Shanghai", "platform": "wecom", "webhook": "env:QUNFLOW_HOOK_G01",
                    "kind": "content"},
                   {"group_id": "NY1", "name": "New York", "platform": "slack", "webhook": "env:QUNFLOW_HOOK_NY1",
                    "kind": "content", "timezone": "America/New_York"}],
        "sop": [{"rule_id": "R01", "groups": "*", "schedule": "daily 23:00", "content": "Late reading", "phase": "reading"}],
    }, lang=lang))


def test_the_preview_calendar_puts_a_23_00_new_york_post_on_its_new_york_day():
    wb = _new_york_shop()
    now = datetime(2026, 12, 1, 0, 0, tzinfo=timezone.utc)
    items = preview(wb, now, 1)
    late = [i for i in items if i["group_id"] == "NY1"]
    assert [i["at"] for i in late] == ["2026-11-30T23:00:00-05:00"]    # the terminal lists it
    page = calendar_html(wb, items, now, 1)
    ny = page.split("data-group='NY1'")[1]
    assert "<div class='day' data-day='2026-11-30'>" in ny and ">23:00<" in ny     # and so does the page
    assert "America/New_York (UTC-05:00)" in ny and "<html lang='en'>" in page
    assert page.count("class='send ") == len(items)                           # every listed send is on the page


def test_the_preview_page_speaks_chinese_in_a_chinese_workbook():
    wb = _new_york_shop("zh-CN")
    now = datetime(2026, 12, 1, 0, 0, tzinfo=timezone.utc)
    page = calendar_html(wb, preview(wb, now, 2), now, 2)
    assert "<html lang='zh-CN'>" in page and "发送预览" in page and "11月30日 周一" in page
    assert "name='viewport'" in page
