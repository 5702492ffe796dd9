"""#17 item 2: a workbook pleasant in Excel, WPS and Google Sheets, all from the schema YAML.

Widths fit the header and typical content, long text wraps, every tab has a filter on its header row, rates show
as percentages and money as ¥, yes/no columns offer 是/否, and the north-star chart is a plain line from zero:
in the .xlsx `qunflow init` writes (openpyxl reads it back) and on Google (the requests the Sheets fake records).
Plus the zh-CN Settings tab: a label and a note per key.
"""
from __future__ import annotations

import zipfile

from click.testing import CliRunner
from openpyxl import load_workbook as open_xlsx

from qunflow.cli import cli
from qunflow.sheet.layout import workbook_layout
from qunflow.sheet.reference import schema_reference
from qunflow.sheet.schema import load_schemas
from sheets_fake import FakeSheetsServer


def _init(tmp_path, lang="zh"):
    path = tmp_path / "shop.xlsx"
    out = CliRunner().invoke(cli, ["init", str(path), "--lang", lang, "--demo"])
    assert out.exit_code == 0, out.output
    return path, open_xlsx(path)


def test_every_tab_has_a_filter_on_its_header_row_and_widths_that_fit(tmp_path):
    from qunflow.sheet.layout import display_width
    _, book = _init(tmp_path)
    for layout in workbook_layout("zh-CN"):
        sheet = book[layout.title]
        ref = sheet.auto_filter.ref
        assert ref and ref.startswith("A1:"), layout.title
        widths = []
        for i, column in enumerate(layout.columns, start=1):
            letter = sheet.cell(row=1, column=i).column_letter
            width = sheet.column_dimensions[letter].width
            assert width >= display_width(column.header) + 2, (layout.title, column.header, width)
            widths.append(width)
        if layout.key in ("sop", "templates", "sendlog", "problems"):
            assert max(widths) >= 40, (layout.title, widths)           # the text columns are wide, the ids not
            assert min(widths) <= 16, (layout.title, widths)


def test_long_text_wraps_rates_are_percent_and_money_is_yuan(tmp_path):
    _, book = _init(tmp_path)
    sop = book["SOP日历"]
    content = [c for c in sop[1] if c.value == "内容"][0]
    assert sop.column_dimensions[content.column_letter].alignment.wrap_text
    assert sop.cell(row=2, column=content.column).alignment.wrap_text          # the demo's own rows too
    for title, header, fmt in (("运营数据", "核销率", "0%"), ("运营数据", "转化率", "0%"), ("运营数据", "成交额", '"¥"#,##0.00'),
                               ("留存", "7日留存", "0%"), ("优惠券", "面额", '"¥"#,##0.00'), ("事件", "金额", '"¥"#,##0.00')):
        sheet = book[title]
        cell = [c for c in sheet[1] if c.value == header][0]
        assert sheet.column_dimensions[cell.column_letter].number_format == fmt, (title, header)
    coupons = book["优惠券"]
    value = [c for c in coupons[1] if c.value == "面额"][0]
    assert coupons.cell(row=2, column=value.column).number_format == '"¥"#,##0.00'


def test_yes_no_columns_offer_shi_fou_and_the_note_of_enabled_says_shi(tmp_path):
    _, book = _init(tmp_path)
    groups = book["社群"]
    enabled = [c for c in groups[1] if c.value == "启用"][0]
    assert "例如：是" in enabled.comment.text and "yes" not in enabled.comment.text
    rules = {str(dv.sqref).split(":")[0]: dv.formula1 for dv in groups.data_validations.dataValidation}
    assert rules[f"{enabled.column_letter}2"] == '"是,否"'
    assert groups.cell(row=2, column=enabled.column).value == "是"
    platform = [c for c in groups[1] if c.value == "平台"][0]
    assert "例如：企业微信" in platform.comment.text
    (tmp_path / "en").mkdir()
    _, english = _init(tmp_path / "en", "en")
    rules = {str(dv.sqref).split(":")[0]: dv.formula1 for dv in english["Groups"].data_validations.dataValidation}
    assert '"yes,no"' in rules.values()


def test_settings_has_a_chinese_label_and_a_note_per_key(tmp_path):
    _, book = _init(tmp_path)
    settings = book["设置"]
    assert [c.value for c in settings[1]] == ["设置项", "值", "说明"]
    rows = {r[0]: (r[1], r[2]) for r in settings.iter_rows(min_row=2, values_only=True)}
    assert rows["语言"][0] == "中文" and rows["时区"][0] == "Asia/Shanghai" and rows["补发时限"][0] == "30分钟"
    assert all(key and not key.isascii() for key in rows), list(rows)          # every key by its Chinese label
    assert all(note for _, note in rows.values()), rows
    known = load_schemas()["settings"].settings
    assert all(s.headers["zh-CN"] != s.key for s in known)                       # the schema has a label per key
    rules = [dv.formula1 for dv in settings.data_validations.dataValidation]
    assert any("时区" in f and "北极星指标" in f for f in rules)                    # the key column offers them
    assert "| timezone | 时区 |" in schema_reference()


def test_the_xlsx_chart_is_a_plain_line_from_zero(tmp_path):
    from metrics_demo import demo_copy
    path = demo_copy(tmp_path)
    out = CliRunner().invoke(cli, ["metrics", str(path), "--date", "2026-12-30", "--days", "30"])
    assert out.exit_code == 0, out.output
    with zipfile.ZipFile(path) as z:
        [chart] = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart")]
    import re
    assert re.findall(r"<(?:c:)?smooth val=\"(\d)\"", chart) == ["0"] * 4          # no series is smoothed
    assert re.search(r"<(?:c:)?scaling>.*?<(?:c:)?min val=\"0\"", chart)             # the value axis starts at 0


def test_google_gets_widths_wrap_formats_filters_and_a_plain_chart(monkeypatch):
    with FakeSheetsServer() as server:
        server.create_spreadsheet("NEW", {"Sheet1": []})
        monkeypatch.setenv("QUNFLOW_SHEETS_API", server.base_url)
        out = CliRunner().invoke(cli, ["init", "gsheets:NEW", "--lang", "zh", "--demo"])
        assert out.exit_code == 0, out.output
        requests = server.structural_requests("NEW")
        ids = {p["title"]: p["sheetId"] for p in server.sheet_properties("NEW")}
        filters = {r["setBasicFilter"]["filter"]["range"]["sheetId"] for r in requests if "setBasicFilter" in r}
        assert filters == {ids[layout.title] for layout in workbook_layout("zh-CN")}
        widths = [r["updateDimensionProperties"] for r in requests if "updateDimensionProperties" in r]
        assert len({w["properties"]["pixelSize"] for w in widths}) > 5
        formats = [r["repeatCell"] for r in requests if "repeatCell" in r]
        metrics = ids["运营数据"]
        percent = [f for f in formats if f["range"]["sheetId"] == metrics
                   and f["cell"]["userEnteredFormat"].get("numberFormat", {}).get("type") == "PERCENT"]
        money = [f for f in formats if f["cell"]["userEnteredFormat"].get("numberFormat", {}).get("type") == "CURRENCY"]
        wrapped = [f for f in formats if f["cell"]["userEnteredFormat"].get("wrapStrategy") == "WRAP"]
        assert len(percent) == 2 and len(money) >= 4 and len(wrapped) >= 8
        yes_no = [r["setDataValidation"]["rule"]["condition"]["values"] for r in requests if "setDataValidation" in r]
        assert [{"userEnteredValue": "是"}, {"userEnteredValue": "否"}] in yes_no


def test_the_google_chart_is_a_plain_line_from_zero():
    from qunflow.sheet.chart import google_requests
    requests = google_requests(metrics_sheet_id=1, metrics_title="运营数据", columns={"date": 0, "group_id": 1, "orders": 2},
                               metric="orders", groups=2, lang="zh-CN", metric_label="订单")
    [chart] = [r["addChart"]["chart"]["spec"]["basicChart"] for r in requests if "addChart" in r]
    assert chart["chartType"] == "LINE" and chart["lineSmoothing"] is False
    [left] = [a for a in chart["axis"] if a["position"] == "LEFT_AXIS"]
    assert left["viewWindowOptions"] == {"viewWindowMode": "EXPLICIT", "viewWindowMin": 0}


def _bad_zh_workbook():
    import copy

    from helpers import BASE, make_raw
    rows = copy.deepcopy(BASE)
    rows["settings"] = [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": "zh-CN"}]
    rows["groups"][0]["daily_cap"] = "lots"              # a Problem at 社群, row 2, 每日上限
    return make_raw(rows, lang="zh-CN")


def _validate(store):
    from datetime import datetime, timezone

    from qunflow.jobs.validate import validate_store
    return validate_store(store, datetime(2026, 12, 1, tzinfo=timezone.utc))


def test_each_problem_links_to_its_cell_in_xlsx_with_either_writer(tmp_path):
    import openpyxl

    from helpers import write_xlsx
    from qunflow.stores.xlsx import XlsxStore, read_xlsx
    for writer in ("patch", "openpyxl"):
        path = tmp_path / f"{writer}.xlsx"
        write_xlsx(_bad_zh_workbook(), path)
        _validate(XlsxStore(path, writer=writer))
        problems = openpyxl.load_workbook(path)["待处理问题"]
        header = [c.value for c in problems[1]]
        at = header.index("位置") + 1
        cell = problems.cell(row=2, column=at)
        column = [c.value for c in openpyxl.load_workbook(path)["社群"][1]].index("每日上限") + 1
        target = f"{openpyxl.utils.get_column_letter(column)}2"
        assert cell.value == f"社群!{target}" and cell.hyperlink.location == f"'社群'!{target}", writer
        assert read_xlsx(path)["社群"][1][column - 1] == "lots"          # calamine reads the file as before
        raw = read_xlsx(path)                                           # fixed: the Problem and its link go
        raw["社群"][1][column - 1] = 8
        write_xlsx(raw, path)
        _validate(XlsxStore(path, writer=writer))
        problems = openpyxl.load_workbook(path)["待处理问题"]
        assert problems.max_row == 1 or all(c.value is None for c in problems[2]), writer
        assert not [c for row in problems.iter_rows() for c in row if c.hyperlink is not None], writer


def test_each_problem_links_to_its_range_on_google():
    import random

    from qunflow.stores.gsheets import GoogleSheetsStore
    from sheets_fake import gspread_session
    with FakeSheetsServer() as server:
        server.create_spreadsheet("SHOP", _bad_zh_workbook())
        store = GoogleSheetsStore("SHOP", session=gspread_session(server.base_url), sleep=lambda s: None,
                                  rng=random.Random(0), attempts=3)
        _validate(store)
        ids = {p["title"]: p["sheetId"] for p in server.sheet_properties("SHOP")}
        rows = server.sheet_values("SHOP", "待处理问题")
        link = rows[1][rows[0].index("位置")]
        column = server.sheet_values("SHOP", "社群")[0].index("每日上限")
        cell = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[column] + "2"
        assert link == f"https://docs.google.com/spreadsheets/d/SHOP/edit#gid={ids['社群']}&range={cell}", link


def test_a_one_day_demo_draws_its_chart(tmp_path):
    """One day of Metrics has no day before it to compare with: the chart is drawn without the drop rule (the
    rule's range B3:…2 used to stop `qunflow demo --days 1` with an internal error)."""
    from qunflow.jobs.demo import run_demo
    result = run_demo(tmp_path, seed=7, days=1)
    chart_tab = open_xlsx(result.workbook)["北极星图表"]
    assert len(chart_tab._charts) == 1 and chart_tab.max_row == 2
