"""`qunflow import events`: real CSV and .xlsx files into an xlsx workbook; idempotent, bad rows reported
with their row number and skipped."""
import csv
import json
from datetime import datetime
from decimal import Decimal

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from helpers import BASE, make_raw, write_xlsx
from qunflow.cli import cli
from qunflow.jobs.importer import ImportRefused, plan_import, read_rows
from qunflow.sheet.problems import ProblemSink
from qunflow.sheet.schema import load_schemas
from qunflow.stores.xlsx import XlsxStore
from qunflow.sheet.tables import locate
from qunflow.sheet.load import load_workbook


@pytest.fixture
def book(tmp_path):
    path = tmp_path / "shop.xlsx"
    write_xlsx(make_raw(BASE), path)
    return path


def write_csv(path, rows, encoding="utf-8-sig"):
    with open(path, "w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def write_sheet(path, rows):
    book = Workbook()
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            cell = book.active.cell(row=r, column=c, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # text as exported, even when it starts with =
    book.save(path)
    return path


def run(*args):
    return CliRunner().invoke(cli, ["import", "events", *[str(a) for a in args]])


def events(path):
    table = locate(XlsxStore(path).read().raw, load_schemas(), ProblemSink("en")).tables["events"]
    return [{k: table.cell(r, k) for k in table.columns} for r in table.rows]


def test_events_csv_with_chinese_headers_twice_adds_nothing_the_second_time(book, tmp_path):
    file = write_csv(tmp_path / "events.csv", [
        ["事件ID", "类型", "成员ID", "群ID", "时间", "金额", "券码", "详情", "备注"],
        ["E100", "入群", "M0100", "G01", "2026-12-01 20:00", "", "", "name=小周; channel=store", "x"],
        ["E101", "order", "M0001", "g01", "2026/12/02 10:30", "¥199", "0042", "=HYPERLINK(\"http://x\")", ""],
        ["E1", "join", "M0002", "G02", "2026-11-21 09:30", "", "", "", ""],           # already in the tab
        ["E102", "dance", "M0001", "G01", "2026-12-02", "", "", "", ""],               # bad type
        ["", "", "", "", "", "", "", "", ""],
        ["E103", "message", "M0001", "G09", "2026-12-02", "", "", "", ""],             # unknown group
        ["E104", "message", "M0001", "G01", "2026-02-30 10:00", "", "", "", ""],       # impossible date
        ["E100", "message", "M0001", "G01", "2026-12-03", "", "", "", ""],             # repeated in the file
        ["E105", "checkin", "M0001", "", "2026-12-03T08:00:00+00:00", "", "", "+cmd", ""],
    ])
    out = run(file, book, "--json")
    assert out.exit_code == 1, out.output
    summary = json.loads(out.stdout)
    assert {k: summary[k] for k in ("read", "new", "duplicates")} == {"read": 8, "new": 3, "duplicates": 2}
    assert [b["row"] for b in summary["bad"]] == [5, 7, 8]
    assert "dance" in summary["bad"][0]["reason"] and "join" in summary["bad"][0]["reason"]
    assert "G09" in summary["bad"][1]["reason"] and "Groups" in summary["bad"][1]["reason"]
    assert "does not exist" in summary["bad"][2]["reason"]
    rows = events(book)
    assert [r["event_id"] for r in rows] == ["E1", "E100", "E101", "E105"]
    assert rows[1]["type"] == "join" and rows[1]["detail"] == "name=小周; channel=store"
    assert rows[2]["group_id"] == "G01" and rows[2]["amount"] == 199 and rows[2]["coupon_code"] == "0042"
    assert rows[2]["detail"] == '=HYPERLINK("http://x")' and rows[3]["detail"] == "+cmd"
    assert rows[3]["at"] == "2026-12-03 08:00:00+00:00"                          # kept with its offset: one moment
    again = run(file, book, "--json")
    assert json.loads(again.stdout)["new"] == 0 and json.loads(again.stdout)["duplicates"] == 5
    assert len(events(book)) == 4


def test_wecom_member_export_in_xlsx_becomes_join_events(book, tmp_path):
    file = write_sheet(tmp_path / "wecom.xlsx", [
        ["群成员", "成员ID", "入群时间", "入群方式", "所在群"],
        ["小林", "wm-001", datetime(2026, 12, 1, 20, 5), "扫描群二维码入群", "Spring deals"],   # a group's name
        ["小陈; 别名", 1234567, "2026-12-02 09:00", "由小林邀请入群", "G02"],                    # a number id
        ["=cmd|' /C calc'!A0", "wm-003", "2026-12-02 10:00", "", "G01"],
        ["", "wm-004", "2026-12-02 10:00", "", "G01"],                                         # no name: fine
        ["小王", "", "2026-12-02 10:00", "", "G01"],                                           # no member id
        ["小赵", "wm-006", "yesterday", "", "G01"],                                           # bad time
        ["小钱", "wm-007", "2026-12-02 10:00", "", "Unknown group"],
    ])
    out = run(file, book, "--mapping", "wecom-members")
    assert out.exit_code == 1, out.output
    assert "read 7 · new 4 (added to Events) · duplicates 0 · bad rows 3" in out.stdout
    assert "row 6: 成员ID" in out.stdout and "row 7: 入群时间" in out.stdout and "row 8: 所在群" in out.stdout
    rows = events(book)[1:]
    assert [r["event_id"] for r in rows] == ["wecom-join:G01:wm-001:2026-12-01T20:05", "wecom-join:G02:1234567:2026-12-02T09:00",
                                             "wecom-join:G01:wm-003:2026-12-02T10:00", "wecom-join:G01:wm-004:2026-12-02T10:00"]
    assert {r["type"] for r in rows} == {"join"}
    assert rows[0]["detail"] == "name=小林; channel=扫描群二维码入群"
    assert rows[1]["detail"] == "name=小陈  别名; channel=由小林邀请入群"       # no ';' inside a value
    assert rows[2]["detail"] == "name==cmd|' /C calc'!A0".replace("|", " ")
    assert rows[3]["detail"] in (None, "")
    wb = load_workbook(XlsxStore(book).read().raw)                             # the tab still reads cleanly
    assert not [p for p in wb.errors if p.tab == "Events"]
    assert run(file, book, "--mapping", "wecom-members", "--json").exit_code == 1
    assert len(events(book)) == 5


def test_order_export_gbk_csv_becomes_order_events(book, tmp_path):
    file = write_csv(tmp_path / "orders.csv", [
        ["订单号", "会员ID", "下单时间", "实付金额", "优惠券码", "收货人"],
        ["20261203001", "M0001", "2026-12-03 14:00:00", "199.00", "0042", "林"],
        ["20261203002", "M0002", "2026-12-03 15:00:00", "", "", "陈"],
        ["20261203003", "M0002", "2026-12-03 15:00:00", "两百", "", "陈"],
    ], encoding="gbk")
    out = run(file, book, "--mapping", "orders", "--json")
    summary = json.loads(out.stdout)
    assert (summary["new"], [b["row"] for b in summary["bad"]]) == (2, [4])
    assert "两百" in summary["bad"][0]["reason"]
    rows = events(book)[1:]
    assert [(r["event_id"], r["type"], r["member_id"], r["amount"], r["coupon_code"], r["detail"]) for r in rows] == [
        ("order:20261203001", "order", "M0001", 199, "0042", "order=20261203001"),
        ("order:20261203002", "order", "M0002", None, None, "order=20261203002")]


def test_a_file_without_a_required_column_is_refused_whole(book, tmp_path):
    before = book.read_bytes()
    file = write_csv(tmp_path / "orders.csv", [["订单号", "下单时间"], ["1", "2026-12-03"]])
    out = run(file, book, "--mapping", "orders")
    assert out.exit_code == 2 and "会员ID" in out.stderr and "Traceback" not in out.output
    out = run(write_csv(tmp_path / "x.txt", []), book)
    assert out.exit_code == 2 and "empty" in out.stderr
    out = run(write_csv(tmp_path / "x.json", [["a"]]), book)
    assert out.exit_code == 2 and ".csv or .xlsx" in out.stderr
    assert book.read_bytes() == before


def test_dry_run_writes_nothing_and_many_rows_show_progress(book, tmp_path):
    rows = [["event_id", "type", "member_id", "at"]] + [[f"B{i}", "message", "M0001", "2026-12-01 10:00"]
                                                        for i in range(2000)]
    file = write_csv(tmp_path / "bulk.csv", rows)
    before = book.read_bytes()
    out = run(file, book, "--dry-run")
    assert out.exit_code == 0 and "new 2000 (would be added)" in out.stdout
    assert book.read_bytes() == before
    assert run(file, book).exit_code == 0 and len(events(book)) == 2001


def test_plan_import_is_pure_and_counts_progress():
    header, seen = ["event_id", "type", "member_id", "at", "amount"], []
    result = plan_import(header, [["A", "join", "M1", "2026-12-01", "1.5"], [], ["B", "leave", "M1", "2026-12-02", ""]],
                         "events", groups={}, seen={"b"}, progress=seen.append)
    assert (result.read, result.duplicates, len(seen)) == (2, 1, 3)
    assert result.new == [{"event_id": "A", "type": "join", "member_id": "M1", "group_id": None,
                           "at": datetime(2026, 12, 1), "amount": Decimal("1.5"), "coupon_code": None, "detail": None}]
    with pytest.raises(ImportRefused, match="event_id"):
        plan_import(["type"], [], "events", groups={}, seen=set())
    with pytest.raises(ImportRefused, match="unknown mapping"):
        plan_import(["a"], [], "nope", groups={}, seen=set())


def test_text_no_workbook_can_hold_is_imported_as_ufffd_with_a_warning_and_impossible_years_are_bad_rows():
    header = ["事件ID", "类型", "成员ID", "时间", "详情"]
    result = plan_import(header, [["A", "join", "M1", "2026-12-01", "小\x0b林"], ["B", "join", "M\x002", "2026-12-02", ""],
                                  ["C", "join", "M3", "0001-01-01T00:00:00+08:00", ""], ["D", "join", "M4", 2958465.5, ""]],
                         "events", groups={}, seen=set(), lang="zh-CN")
    assert [(e["event_id"], e["member_id"], e["detail"]) for e in result.new] == [("A", "M1", "小\ufffd林"),
                                                                                ("B", "M\ufffd2", None)]
    assert [(w.row, w.reason.split("：")[0]) for w in result.warnings] == [(2, "详情"), (3, "成员ID")]
    assert "U+000B" in result.warnings[0].reason and "U+0000" in result.warnings[1].reason
    assert [b.row for b in result.bad] == [4, 5] and all("1900" in b.reason for b in result.bad)
    assert result.summary()["warnings"][0]["row"] == 2


def test_read_rows_keeps_ids_and_blank_rows(tmp_path):
    header, rows = read_rows(write_csv(tmp_path / "a.csv", [["id"], ["0042"], [], ["x"]]))
    assert (header, rows) == (["id"], [["0042"], [], ["x"]])
