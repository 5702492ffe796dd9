"""Dates and times qunflow writes are real date cells (a serial number with a date format), on the workbook's wall
clock, and read back as the datetimes they were written from (#17 item 2).

Real .xlsx files (both local writers: the surgical patch and openpyxl), and the project's Sheets fake over HTTP.
The workbooks start as operators' old ones do: every date typed as ISO text.
"""
from __future__ import annotations

import copy
import random
from datetime import date, datetime, timezone

import openpyxl
import pytest

from engine_harness import SHOP, Shop
from helpers import make_raw, write_xlsx
from qunflow.sheet.cells import parse_datetime
from qunflow.sheet.load import load_workbook
from qunflow.sheet.schema import load_schemas
from qunflow.stores import xlsx as xlsx_module
from qunflow.stores.gsheets import GoogleSheetsStore
from qunflow.stores.xlsx import XlsxStore
from qunflow.stores.xlsx_parts import PatchUnsupported
from sheets_fake import FakeSheetsServer, gspread_session

TIP = "C01:G01:20261201T0200Z"           # the 10:00 (Asia/Shanghai) tip of day 1 in G01


def serial(moment: datetime) -> float:
    """A date cell's number as Excel and Google Sheets document it: days since 1899-12-30, time as the fraction."""
    return (moment - datetime(1899, 12, 30)).total_seconds() / 86400


def at(text: str) -> datetime:  # Asia/Shanghai wall time -> UTC
    return datetime.fromisoformat(text + "+08:00").astimezone(timezone.utc)


def shop_rows() -> dict:
    rows = copy.deepcopy(SHOP)
    rows["members"].append({"member_id": "N001", "name": "New", "group_id": "G01", "platform_user_id": "new",
                            "joined_at": "2026-12-01 09:50"})   # welcomed at the 09:55 tick
    return rows


def old_metrics_row(raw: dict) -> None:
    """A Metrics row for today written by an older qunflow: its date as ISO text."""
    header = [c.header("en") for c in load_schemas()["metrics"].columns]
    raw["Metrics"] = [header, [{"date": "2026-12-01", "group_id": "G01"}.get(c.key, "") for c in
                               load_schemas()["metrics"].columns]]


def _rows(sheet) -> tuple[list[str], list[tuple]]:
    lines = list(sheet.iter_rows())
    header = [c.value for c in lines[0]]
    return header, lines[1:]


@pytest.fixture(params=["patch", "openpyxl"])
def xlsx_shop(request, tmp_path, monkeypatch):
    if request.param == "openpyxl":
        def unsupported(*a, **k):
            raise PatchUnsupported("this test writes with openpyxl")
        monkeypatch.setattr(xlsx_module, "patch_xlsx", unsupported)
    raw = make_raw(shop_rows())
    old_metrics_row(raw)
    path = tmp_path / "shop.xlsx"
    write_xlsx(raw, path)
    shop = Shop(at("2026-12-01 09:55"), store=XlsxStore(path))
    yield path, shop
    shop.close()


def test_a_tick_writes_sendlog_and_members_times_as_date_cells_on_the_workbook_clock(xlsx_shop):
    path, shop = xlsx_shop
    shop.tick(at("2026-12-01 09:55"))
    shop.tick(at("2026-12-01 10:01"))
    book = openpyxl.load_workbook(path)
    header, rows = _rows(book["SendLog"])
    [tip] = [r for r in rows if r[header.index("send_id")].value == TIP]
    scheduled, sent = tip[header.index("scheduled_for")], tip[header.index("sent_at")]
    assert scheduled.is_date and scheduled.number_format == "yyyy-mm-dd hh:mm"
    assert scheduled.value == datetime(2026, 12, 1, 10, 0)                 # Shanghai wall time, not 02:00 UTC
    assert sent.is_date and datetime(2026, 12, 1, 10, 0) <= sent.value <= datetime(2026, 12, 1, 10, 2)
    header, rows = _rows(book["Members"])
    [new] = [r for r in rows if r[header.index("member_id")].value == "N001"]
    welcomed = new[header.index("welcomed_at")]
    assert welcomed.is_date and welcomed.number_format == "yyyy-mm-dd hh:mm"
    assert datetime(2026, 12, 1, 9, 50) <= welcomed.value <= datetime(2026, 12, 1, 10, 2)
    # the operators' own text dates are left as they are
    [lin] = [r for r in rows if r[header.index("member_id")].value == "M0001"]
    assert lin[header.index("welcomed_at")].value == "2026-11-01 10:05"


def test_date_cells_read_back_as_written_and_a_second_tick_doubles_nothing(xlsx_shop):
    path, shop = xlsx_shop
    shop.tick(at("2026-12-01 09:55"))
    shop.tick(at("2026-12-01 10:01"))
    wb = load_workbook(shop.store.read().raw)
    [tip] = [r for r in wb.sendlog if r.send_id == TIP]
    assert tip.scheduled_for == datetime(2026, 12, 1, 10, 0) and tip.status == "sent"
    welcomed = wb.members[("N001", "G01")].welcomed_at if ("N001", "G01") in wb.members else \
        next(m for m in wb.members.values() if m.member_id == "N001").welcomed_at
    posted = len(shop.emulator.messages)
    shop.tick(at("2026-12-01 10:06"))
    shop.tick(at("2026-12-01 10:11"))
    assert len(shop.emulator.messages) == posted                         # nothing posted twice
    wb = load_workbook(shop.store.read().raw)
    assert [r.send_id for r in wb.sendlog].count(TIP) == 1
    again = next(m for m in wb.members.values() if m.member_id == "N001")
    assert again.welcomed_at == welcomed                                  # not rewritten, not shifted
    book = openpyxl.load_workbook(path)
    header, rows = _rows(book["Metrics"])
    keys = [(r[header.index("date")].value, r[header.index("group_id")].value) for r in rows
            if r[header.index("group_id")].value]
    days = [d.date() if isinstance(d, datetime) else date.fromisoformat(d) for d, _ in keys]
    pairs = list(zip(days, [g for _, g in keys]))
    assert len(pairs) == len(set(pairs)) and (date(2026, 12, 1), "G01") in pairs   # the old text row was matched
    [g01] = [r for r in rows if r[header.index("group_id")].value == "G01"]
    assert g01[header.index("date")].is_date and g01[header.index("date")].number_format == "yyyy-mm-dd"


def test_on_google_the_sheet_holds_serial_numbers_that_read_back_exactly():
    with FakeSheetsServer() as server:
        raw = make_raw(shop_rows())
        old_metrics_row(raw)
        server.create_spreadsheet("SHOP", raw)
        store = GoogleSheetsStore("SHOP", session=gspread_session(server.base_url), sleep=lambda s: None,
                                  rng=random.Random(0), attempts=3)
        shop = Shop(at("2026-12-01 09:55"), store=store)
        try:
            shop.tick(at("2026-12-01 09:55"))
            shop.tick(at("2026-12-01 10:01"))
            snapshot = store.read()
            header, *lines = snapshot.raw["SendLog"]
            [tip] = [l for l in lines if l[header.index("send_id")] == TIP]
            cell = tip[header.index("scheduled_for")]
            assert isinstance(cell, (int, float)) and cell == pytest.approx(serial(datetime(2026, 12, 1, 10, 0)), abs=1e-9)
            wb = load_workbook(snapshot.raw)
            assert next(r for r in wb.sendlog if r.send_id == TIP).scheduled_for == datetime(2026, 12, 1, 10, 0)
            new = next(m for m in wb.members.values() if m.member_id == "N001")
            assert datetime(2026, 12, 1, 9, 50) <= new.welcomed_at <= datetime(2026, 12, 1, 10, 2)
            posted = len(shop.emulator.messages)
            shop.tick(at("2026-12-01 10:06"))
            snapshot = store.read()
            assert len(shop.emulator.messages) == posted
            wb = load_workbook(snapshot.raw)
            assert [r.send_id for r in wb.sendlog].count(TIP) == 1
            assert next(m for m in wb.members.values() if m.member_id == "N001").welcomed_at == new.welcomed_at
            header, *lines = snapshot.raw["Metrics"]
            pairs = [(parse_datetime(l[header.index("date")]).date(), l[header.index("group_id")]) for l in lines
                     if len(l) > header.index("group_id") and l[header.index("group_id")]]
            assert len(pairs) == len(set(pairs)) and (date(2026, 12, 1), "G01") in pairs
        finally:
            shop.close()


def test_a_time_is_written_on_the_workbook_clock_to_the_second():
    from qunflow.sheet.cells import to_serial
    from qunflow.sheet.vocabulary import date_cell
    shanghai = load_workbook(make_raw(copy.deepcopy(SHOP))).settings.timezone
    aware = datetime(2026, 12, 1, 2, 5, 7, 250000, tzinfo=timezone.utc)
    assert date_cell("datetime", aware, shanghai) == datetime(2026, 12, 1, 10, 5, 7)
    assert date_cell("datetime", datetime(2026, 12, 1, 10, 5), shanghai) == datetime(2026, 12, 1, 10, 5)
    assert date_cell("datetime", "2026-12-01 10:05", shanghai) == datetime(2026, 12, 1, 10, 5)
    assert date_cell("date", "2026-12-01", shanghai) == date(2026, 12, 1)
    assert date_cell("datetime", "soon", shanghai) == "soon"
    for moment in (datetime(2026, 12, 1, 10, 5), datetime(2026, 12, 1, 10, 5, 7), datetime(2026, 12, 31, 23, 59, 59)):
        assert to_serial(moment) == pytest.approx(serial(moment), abs=1e-9)
        assert parse_datetime(to_serial(moment)) == moment                 # no lost second from float rounding
        assert parse_datetime(serial(moment)) == moment


def test_a_group_with_its_own_zone_gets_its_times_on_its_own_clock(tmp_path):
    rows = shop_rows()
    rows["groups"][0]["timezone"] = "Asia/Tokyo"         # G01: the 10:00 tip is 01:00 UTC, 09:00 in Shanghai
    path = tmp_path / "shop.xlsx"
    write_xlsx(make_raw(rows), path)
    shop = Shop(at("2026-12-01 08:55"), store=XlsxStore(path))
    try:
        shop.tick(at("2026-12-01 08:55"))
        shop.tick(at("2026-12-01 09:01"))
        header, lines = _rows(openpyxl.load_workbook(path)["SendLog"])
        [tip] = [r for r in lines if r[header.index("send_id")].value == "C01:G01:20261201T0100Z"]
        assert tip[header.index("scheduled_for")].value == datetime(2026, 12, 1, 10, 0)   # Tokyo wall time
        posted = len(shop.emulator.messages)
        shop.tick(at("2026-12-01 09:06"))
        assert len(shop.emulator.messages) == posted
        wb = load_workbook(shop.store.read().raw)
        assert next(r for r in wb.sendlog if r.send_id == "C01:G01:20261201T0100Z").scheduled_for == \
            datetime(2026, 12, 1, 10, 0)
    finally:
        shop.close()


def test_init_gives_an_older_google_sheet_date_formats_on_its_date_columns(monkeypatch):
    from click.testing import CliRunner
    from qunflow.cli import cli
    with FakeSheetsServer() as server:
        server.create_spreadsheet("OLD", make_raw(shop_rows()))
        monkeypatch.setenv("QUNFLOW_SHEETS_API", server.base_url)
        out = CliRunner().invoke(cli, ["init", "gsheets:OLD"])
        assert out.exit_code == 0, out.output
        ids = {p["title"]: p["sheetId"] for p in server.sheet_properties("OLD")}
        header = make_raw(shop_rows())["Members"][0]
        formats = [r["repeatCell"] for r in server.structural_requests("OLD") if "repeatCell" in r]
        welcomed = [f for f in formats if f["range"]["sheetId"] == ids["Members"]
                    and f["range"]["startColumnIndex"] == header.index("welcomed_at")]
        assert [f["cell"]["userEnteredFormat"]["numberFormat"]["type"] for f in welcomed] == ["DATE_TIME"]
        assert welcomed[0]["range"]["startRowIndex"] == 1                   # the data, not the header
        def trimmed(rows):
            return [r[:max([i + 1 for i, v in enumerate(r) if v not in ("", None)] + [0])] for r in rows]
        assert trimmed(server.sheet_values("OLD", "Members")) == trimmed(make_raw(shop_rows())["Members"])  # formats only
