"""Rows survive their typos (#14, item 3): one test per finding, on a real .xlsx file and the Sheets fake.

- A row with one bad cell stays (the cell is left empty, a warning at it): a blacklisted member is still
  blacklisted when a join event comes; a title row above the header, or a renamed tab, change nothing.
- A tab whose header is not found, or whose key column is gone, is never written, and is reported once.
- A deleted required column is an error, and `tick` and `validate` exit non-zero.
- A merged header cell is reported.
"""
from __future__ import annotations

import copy
import random
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook as open_xlsx

from engine_harness import SHOP, Shop
from helpers import make_raw, write_xlsx
from qunflow.cli import cli
from qunflow.jobs.validate import validate_store
from qunflow.sheet.load import load_workbook
from qunflow.stores.gsheets import GoogleSheetsStore, SheetAccessError
from qunflow.stores.xlsx import XlsxStore, read_xlsx
from sheets_fake import FakeSheetsServer, gspread_session

START = "2026-12-01 09:55"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text + "+08:00").astimezone(timezone.utc)


def shop_rows() -> dict:
    """The harness shop in zh-CN, with a blacklisted member whose 最近活跃 is a typo, who joins G01 again, and
    a new member joining G01 (who is welcomed)."""
    rows = copy.deepcopy(SHOP)
    for setting in rows["settings"]:
        if setting["key"] == "language":
            setting["value"] = "zh-CN"
    rows["members"].append({"member_id": "B0001", "name": "捣乱者", "group_id": "G01", "platform_user_id": "spam1",
                            "status": "blacklisted", "joined_at": "2026-10-01 10:00", "last_active_at": "昨天晚上"})
    rows["events"] = [
        {"event_id": "J1", "type": "join", "member_id": "B0001", "group_id": "G01", "at": "2026-12-01 09:50",
         "detail": "name=捣乱者; user=spam1"},
        {"event_id": "J2", "type": "join", "member_id": "N0001", "group_id": "G01", "at": "2026-12-01 09:51",
         "detail": "name=新朋友; user=fresh"},
    ]
    return rows


def trimmed(rows: list[list]) -> list[list]:
    out = [[None if v in ("", None) else v for v in row] for row in rows]
    out = [row[:max([i + 1 for i, v in enumerate(row) if v is not None], default=0)] for row in out]
    while out and not out[-1]:
        out.pop()
    return out


class XlsxBook:
    kind = "xlsx"

    def __init__(self, tmp_path):
        self.path = tmp_path / "shop.xlsx"

    def open(self, raw: dict) -> XlsxStore:
        write_xlsx(raw, self.path)
        return XlsxStore(self.path)

    def tabs(self) -> dict[str, list[list]]:
        return {title: trimmed(rows) for title, rows in read_xlsx(self.path, every_tab=True).items()}


class GoogleBook:
    kind = "google"

    def __init__(self, server: FakeSheetsServer):
        self.server = server

    def open(self, raw: dict) -> GoogleSheetsStore:
        self.server.create_spreadsheet("SHOP", raw)
        return GoogleSheetsStore("SHOP", session=gspread_session(self.server.base_url), sleep=lambda s: None,
                                 rng=random.Random(0), attempts=3)

    def tabs(self) -> dict[str, list[list]]:
        titles = [p["title"] for p in self.server.sheet_properties("SHOP")]
        return {t: trimmed(self.server.sheet_values("SHOP", t)) for t in titles}


@pytest.fixture(params=["xlsx", "google"])
def book(request, tmp_path):
    if request.param == "xlsx":
        yield XlsxBook(tmp_path)
        return
    with FakeSheetsServer() as server:
        yield GoogleBook(server)


@pytest.fixture
def run():
    shops = []

    def start(store) -> Shop:
        shops.append(Shop(at(START), store=store))
        return shops[-1]
    yield start
    for shop in shops:
        shop.close()


def member_rows(tab: list[list], header_row: int = 1) -> dict[str, dict]:
    header = tab[header_row - 1]
    out = {}
    for row in tab[header_row:]:
        line = dict(zip(header, row + [None] * (len(header) - len(row))))
        out.setdefault(line["成员ID"], []).append(line)
    return out


def assert_not_welcomed_again(shop: Shop, tab: list[list], header_row: int = 1) -> None:
    """B0001 stays one blacklisted row; no message names them; no coupon is theirs."""
    for message in shop.emulator.messages:
        assert "捣乱者" not in message["text"] and "B0001" not in message["text"] and "spam1" not in str(message)
    rows = member_rows(tab, header_row)["B0001"]
    assert len(rows) == 1 and rows[0]["成员状态"] == "blacklisted" and rows[0]["专属券码"] is None
    assert rows[0]["最近活跃"] == "昨天晚上"          # the operator's cell is left as typed


# --- 1. a blacklisted member whose row has one unrelated bad cell --------------------------------------

def test_a_blacklisted_member_with_a_bad_last_active_cell_stays_blacklisted_when_they_join(book, run):
    shop = run(book.open(make_raw(shop_rows(), "zh-CN")))
    shop.tick(at(START))
    tabs = book.tabs()
    assert_not_welcomed_again(shop, tabs["成员"])
    welcomes = [m for m in shop.emulator.messages if "Welcome" in m["text"]]
    # the new member is welcomed, @-mentioned once by WeCom's own mention list (user id fresh), not twice in the text
    assert len(welcomes) == 1 and welcomes[0]["mentions"] == ["fresh"] and "新朋友" not in welcomes[0]["text"]
    wb = load_workbook(shop.store.read().raw)
    problem = next(p for p in wb.previous_problems if p.column == "最近活跃")
    assert (problem.tab, problem.row, problem.value, problem.severity) == ("成员", 4, "昨天晚上", "warning")
    assert "2026-12-03 21:15" in problem.message and "当作空白" in problem.message   # what to write, in zh-CN
    assert wb.members["B0001"].status == "blacklisted" and wb.members["B0001"].coupon_code is None


def test_a_title_row_above_the_members_header_changes_nothing(book, run):
    raw = make_raw(shop_rows(), "zh-CN")
    raw["成员"] = [["春季会员名单（请勿删除）"], []] + raw["成员"]          # the header is row 3 now
    shop = run(book.open(raw))
    report = shop.tick(at(START))
    tabs = book.tabs()
    members = tabs["成员"]
    assert members[0] == ["春季会员名单（请勿删除）"] and members[1] == []      # nothing written beside the title
    assert_not_welcomed_again(shop, members, header_row=3)
    rows = member_rows(members, header_row=3)
    assert set(rows) == {"M0001", "M0002", "B0001", "N0001"} and all(len(r) == 1 for r in rows.values())
    assert rows["N0001"][0]["欢迎时间"] is not None and rows["N0001"][0]["昵称"] == "新朋友"
    assert members[2] == trimmed(raw["成员"])[2] and rows["M0001"][0]["分层"]     # the header as it was
    assert list(tabs) == list(raw)                                             # no tab added
    assert report.blocked == []


def test_a_renamed_members_tab_is_found_by_its_headers_and_never_copied(book, run):
    raw = make_raw(shop_rows(), "zh-CN")
    raw = {("会员名单" if title == "成员" else title): rows for title, rows in raw.items()}
    shop = run(book.open(raw))
    shop.tick(at(START))
    shop.tick(at("2026-12-01 10:01"))
    tabs = book.tabs()
    assert "成员" not in tabs and list(tabs) == list(raw)
    assert_not_welcomed_again(shop, tabs["会员名单"])
    assert set(member_rows(tabs["会员名单"])) == {"M0001", "M0002", "B0001", "N0001"}
    problems = [r for r in tabs["待处理问题"][1:] if r[0] == "会员名单" and r[1] is None]
    assert len(problems) == 1 and "「成员」" in problems[0][4] and problems[0][5] == "警告"


def test_a_tab_renamed_beyond_recognition_is_reported_by_name_and_never_copied(book, run):
    raw = make_raw(shop_rows(), "zh-CN")
    members = raw.pop("成员")
    ids, names = members[0].index("成员ID"), members[0].index("昵称")
    raw["成员(旧)"] = [["成员ID", "昵称", "微信号", "备注"]] + [[r[ids], r[names], "wx", "老客"] for r in members[1:]]
    before = copy.deepcopy(raw["成员(旧)"])
    shop = run(book.open(raw))
    report = shop.tick(at(START))
    tabs = book.tabs()
    assert "成员" not in tabs and tabs["成员(旧)"] == trimmed(before)
    assert not [m for m in shop.emulator.messages if "Welcome" in m["text"]]   # nobody re-created, welcomed
    assert any("成员(旧)" in line for line in report.blocked)        # the CLI exits 2
    problem = [r for r in tabs["待处理问题"][1:] if r[0] == "成员(旧)" and r[1] is None]
    assert len(problem) == 1 and "「成员」" in problem[0][4] and "成员ID, 昵称" in problem[0][4]


# --- 2. a tab whose header cannot be found is never written ---------------------------------------------

def test_a_tab_whose_header_is_not_found_is_never_written_and_reported_once(book, run):
    raw = make_raw(shop_rows(), "zh-CN")
    raw["成员"] = [["会员名单"], ["说明：每周一更新"], [], ["负责人：小王"], [], []] + raw["成员"]   # header in row 7
    before = trimmed(raw["成员"])
    shop = run(book.open(raw))
    first = shop.tick(at(START))
    shop.tick(at("2026-12-01 10:01"))
    tabs = book.tabs()
    assert tabs["成员"] == before and list(tabs) == list(raw)        # no append, no cell, no header, no copy
    assert first.blocked and "成员" in first.blocked[0]
    assert not [m for m in shop.emulator.messages if "Welcome" in m["text"]]   # the joiners wait for the tab
    problems = [r for r in tabs["待处理问题"][1:] if r[0] == "成员"]
    assert len(problems) == 1 and "前 5 行" in problems[0][4] and problems[0][5] == "错误"


def test_a_members_tab_without_its_key_column_gets_no_keyless_rows(book, run):
    raw = make_raw(shop_rows(), "zh-CN")
    index = raw["成员"][0].index("成员ID")
    for row in raw["成员"]:
        del row[index]
    before = trimmed(raw["成员"])
    shop = run(book.open(raw))
    reports = [shop.tick(at(f"2026-12-01 {minute}")) for minute in ("09:55", "10:01", "10:07")]
    assert book.tabs()["成员"] == before
    assert all(r.blocked and "成员ID" in r.blocked[0] for r in reports)       # the CLI exits 2


def test_a_google_sendlog_whose_header_is_not_found_gets_no_write_ahead_and_nothing_is_posted(run):
    raw = make_raw(shop_rows(), "zh-CN")
    raw["发送记录"] = [["发送日志"]] + [[] for _ in range(5)] + raw["发送记录"]      # header in row 7
    with FakeSheetsServer() as server:
        book = GoogleBook(server)
        shop = run(book.open(raw))
        with pytest.raises(SheetAccessError, match="发送记录"):
            shop.tick(at("2026-12-01 10:00"))                     # the day-1 tip is due
        assert shop.emulator.messages == [] and book.tabs()["发送记录"] == trimmed(raw["发送记录"])


# --- 3. deleting a required column: an error, and the tick exits non-zero -----------------------------

def test_a_deleted_required_column_makes_tick_and_validate_exit_non_zero_on_a_local_workbook(tmp_path):
    raw = make_raw(shop_rows(), "zh-CN")
    index = raw["社群"][0].index("群类型")
    for row in raw["社群"]:
        del row[index]
    path = tmp_path / "shop.xlsx"
    write_xlsx(raw, path)
    done = CliRunner().invoke(cli, ["tick", str(path), "--now", at("2026-12-01 12:00").isoformat()])
    assert done.exit_code == 2, done.output
    assert "群类型" in done.output and "Traceback" not in done.output
    done = CliRunner().invoke(cli, ["validate", str(path), "--json"])
    assert done.exit_code == 1
    wb = load_workbook(XlsxStore(path).read().raw)
    assert [(p.tab, p.row, p.column, p.severity) for p in wb.previous_problems if p.tab == "社群"] == \
        [("社群", 1, "群类型", "error")]


def test_a_deleted_required_column_makes_tick_exit_non_zero_on_a_google_sheet(monkeypatch):
    raw = make_raw(shop_rows(), "zh-CN")
    index = raw["社群"][0].index("群类型")
    for row in raw["社群"]:
        del row[index]
    with FakeSheetsServer() as server:
        GoogleBook(server).open(raw)
        monkeypatch.setenv("QUNFLOW_SHEETS_API", server.base_url)
        monkeypatch.delenv("QUNFLOW_STATE", raising=False)
        done = CliRunner().invoke(cli, ["tick", "gsheets:SHOP", "--now", at("2026-12-01 12:00").isoformat(), "--json"])
        assert done.exit_code == 2, done.output
        assert '"due": 0' in done.output and "缺少「群类型」列。请在第1行添加名为「群类型」的列标题。" in done.output


# --- 4. a merged header cell ------------------------------------------------------------------------------

def test_a_merged_header_cell_is_reported_on_a_local_workbook(tmp_path):
    path = tmp_path / "shop.xlsx"
    write_xlsx(make_raw(shop_rows(), "zh-CN"), path)
    sheet_book = open_xlsx(path)
    sheet = sheet_book["成员"]
    header = [c.value for c in sheet[1]]
    lost = header.index("邀请人") + 1                   # merged into the cell on its left, as a click in Excel does
    sheet.merge_cells(start_row=1, start_column=lost - 1, end_row=1, end_column=lost)
    sheet.cell(row=2, column=lost).value = "M0002"
    sheet_book.save(path)
    wb = validate_store(XlsxStore(path), at(START), write=False)
    merged = [p for p in wb.problems if p.code == "merged_header"]
    assert [(p.tab, p.row, p.column, p.value) for p in merged] == [("成员", 1, header[lost - 2], "H1:I1")]
    assert "邀请人" in merged[0].message and "取消合并" in merged[0].message


def test_a_header_cell_lost_to_a_merge_is_reported_on_a_google_sheet(run):
    raw = make_raw(shop_rows(), "zh-CN")
    header = raw["成员"][0]
    index = header.index("邀请人")
    header[index] = ""                                  # what the values API shows under a merged cell
    raw["成员"][1][index] = "M0002"
    with FakeSheetsServer() as server:
        shop = run(GoogleBook(server).open(raw))
        shop.tick(at(START))
        wb = load_workbook(shop.store.read().raw)
    lost = [p for p in wb.previous_problems if p.tab == "成员" and p.row == 1]
    assert [(p.column, p.severity) for p in lost] == [("I", "warning")]
    assert "邀请人" in lost[0].message and "取消合并" in lost[0].message
