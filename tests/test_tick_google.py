"""The tick on a Google sheet (the project's Sheets fake, gspread's real code): O(1) requests and a write-ahead."""
import copy
import random
from datetime import timedelta

import pytest

from engine_harness import SHOP, Shop
from helpers import at, make_raw
from qunflow.stores.gsheets import GoogleSheetsStore
from qunflow.sheet.load import load_workbook
from sheets_fake import FakeSheetsServer, gspread_session



@pytest.fixture
def sheet():
    with FakeSheetsServer() as server:
        rows = copy.deepcopy(SHOP)
        rows["members"] += [{"member_id": f"X{i:05d}", "name": f"m{i}", "group_id": "G01", "joined_at": "2026-11-01 10:00",
                             "welcomed_at": "2026-11-01 10:01"} for i in range(5000)]
        server.create_spreadsheet("SHOP", make_raw(rows))
        store = GoogleSheetsStore("SHOP", session=gspread_session(server.base_url), sleep=lambda s: None,
                                  rng=random.Random(0), attempts=3)
        shop = Shop(at("2026-12-01 09:55"), store=store)
        yield server, store, shop
        shop.close()


def test_each_tick_costs_one_read_and_at_most_two_writes(sheet):
    server, store, shop = sheet
    store.read()  # learn the tab titles once
    for minute in range(0, 24 * 60, 20):
        server.reset_counts()
        report = shop.tick(at("2026-12-01 09:55") + timedelta(minutes=minute))
        assert server.count("values.batchGet") == 1 and server.request_count - 1 <= 2, server.requests
        assert report.sheets_requests["read"] == 1 and report.sheets_requests["write"] <= 2
    wb = load_workbook(store.read().raw)
    sent = [r for r in wb.sendlog if r.status == "sent"]
    assert len(sent) == len({r.send_id for r in sent}) >= 4
    assert not [r for r in wb.sendlog if r.status == "pending"]


def test_a_write_back_that_fails_after_the_sends_never_posts_twice(sheet):
    server, store, shop = sheet
    shop.tick(at("2026-12-01 09:55"))
    server.inject(500, count=10, kind="values.batchUpdate")
    with pytest.raises(Exception):
        shop.tick(at("2026-12-01 10:01"))  # the 10:00 tip goes out, then the write-back fails
    server.inject(500, count=0, kind="values.batchUpdate")
    posted = len(shop.emulator.messages)
    assert posted == 1
    report = shop.tick(at("2026-12-01 10:06"))
    assert report.sent == 0 and len(shop.emulator.messages) == 1  # not posted again
    wb = load_workbook(store.read().raw)
    latest = {}
    for r in wb.sendlog:
        latest[r.send_id] = r.status
    assert latest["C01:G01:20261201T0200Z"] == "unknown"  # written ahead as pending; the sheet says what happened
