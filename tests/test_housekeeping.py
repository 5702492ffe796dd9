"""housekeeping: old SendLog and Events rows move to archive tabs; nothing is lost, nothing is sent again."""
import copy
import random
from datetime import datetime, timedelta, timezone

import pytest

from engine_harness import SHOP, Shop
from helpers import at, make_raw, write_xlsx
from qunflow.jobs.housekeeping import run_housekeeping
from qunflow.stores.gsheets import GoogleSheetsStore
from qunflow.stores.memory import MemoryStore
from qunflow.stores.xlsx import XlsxStore
from qunflow.sheet.load import load_workbook
from sheets_fake import FakeSheetsServer, gspread_session



def forty_days(store):
    rows = copy.deepcopy(SHOP)
    rows["sop"] = [{"rule_id": "R01", "groups": "G01, G02", "schedule": "daily 10:00", "content": "Morning {{ date }}"}]
    rows["events"] = [{"event_id": f"E{d}", "type": "message", "member_id": "M0001", "group_id": "G01",
                       "at": (datetime(2026, 11, 1, 12) + timedelta(days=d)).strftime("%Y-%m-%d %H:%M")}
                      for d in range(40)]
    shop = Shop(at("2026-11-01 09:55"), rows=rows, store=store(rows))
    for d in range(40):
        shop.tick(at("2026-11-01 09:55") + timedelta(days=d))
        shop.tick(at("2026-11-01 10:01") + timedelta(days=d))
    return shop


def memory(rows):
    return MemoryStore(make_raw(rows))


def xlsx(tmp):
    def build(rows):
        raw = make_raw(rows)
        raw["SendLog"][0].append("my notes")  # an operator's extra column travels with its rows
        path = tmp / "shop.xlsx"
        write_xlsx(raw, path)
        return XlsxStore(path)
    return build


@pytest.mark.parametrize("kind", ["memory", "xlsx"])
def test_old_rows_move_to_the_archive_and_nothing_is_sent_again(kind, tmp_path):
    shop = forty_days(memory if kind == "memory" else xlsx(tmp_path))
    try:
        before = load_workbook(shop.store.read().raw)
        sent_before = len(shop.emulator.messages)
        assert len(before.sendlog) == 80 and len(before.events) == 40
        now = at("2026-12-10 12:00")
        summary = run_housekeeping(shop.store, now, keep_days=31)
        assert summary["moved"]["sendlog"]["archived"] > 0 and summary["moved"]["events"]["archived"] > 0
        raw = shop.store.raw if kind == "memory" else read_xlsx_all(shop.store.path)
        after = load_workbook(shop.store.read().raw)
        archived_log = raw["SendLog archive"][1:]
        assert len(after.sendlog) + len(archived_log) == 80  # nothing lost
        assert len(after.events) + len(raw["Events archive"][1:]) == 40
        cutoff = (now - timedelta(days=31)).astimezone(timezone(timedelta(hours=8))).replace(tzinfo=None)
        assert all(r.sent_at.replace(tzinfo=None) >= cutoff for r in after.sendlog)
        if kind == "xlsx":
            assert raw["SendLog archive"][0][-1] == "my notes"
        shop.tick(at("2026-12-10 12:05"))  # the window starts at the last tick: nothing old comes back
        assert len(shop.emulator.messages) == sent_before
        again = run_housekeeping(shop.store, now, keep_days=31)
        assert again["moved"] == {}
    finally:
        shop.close()


def read_xlsx_all(path):
    from openpyxl import load_workbook as open_xlsx
    book = open_xlsx(path)
    return {ws.title: [[c.value for c in row] for row in ws.iter_rows()] for ws in book.worksheets}


def test_on_a_google_sheet_the_archive_is_written_before_the_live_tab(tmp_path):
    rows = copy.deepcopy(SHOP)
    rows["sendlog"] = [{"send_id": f"R01:G01:{d}", "rule_id": "R01", "group_id": "G01", "status": "sent",
                        "sent_at": (datetime(2026, 10, 1, 10) + timedelta(days=d)).strftime("%Y-%m-%d %H:%M:%S")}
                       for d in range(60)]
    with FakeSheetsServer() as server:
        server.create_spreadsheet("S", make_raw(rows))
        store = GoogleSheetsStore("S", session=gspread_session(server.base_url), sleep=lambda s: None, rng=random.Random(0))
        server.reset_counts()
        summary = run_housekeeping(store, at("2026-12-10 12:00"), keep_days=31)
        kinds = [(r["kind"], r.get("range")) for r in server.requests]
        append_at = next(i for i, k in enumerate(kinds) if k[0] == "values.append")
        rewrite_at = max(i for i, k in enumerate(kinds) if k[0] == "values.batchUpdate")
        assert append_at < rewrite_at
        assert summary["moved"]["sendlog"]["archived"] == len(server.sheet_values("S", "SendLog archive")) - 1 > 0
        live = load_workbook(store.read().raw).sendlog
        assert len(live) + summary["moved"]["sendlog"]["archived"] == 60
        assert "SendLog archive" not in store.read().raw  # archives are never read by a tick


def test_keep_days_too_short_is_refused():
    with pytest.raises(ValueError):
        run_housekeeping(MemoryStore(make_raw(SHOP)), at("2026-12-10 12:00"), keep_days=7)


def test_the_housekeeping_entry_point_takes_keep_days_from_the_scheduler_body(tmp_path, monkeypatch):
    import functions_framework

    rows = copy.deepcopy(SHOP)
    rows["events"] = [{"event_id": f"E{d}", "type": "message", "member_id": "M0001", "group_id": "G01",
                       "at": (datetime(2026, 9, 1, 12) + timedelta(days=d)).strftime("%Y-%m-%d %H:%M")} for d in range(90)]
    path = tmp_path / "shop.xlsx"
    write_xlsx(make_raw(rows), path)
    monkeypatch.setenv("QUNFLOW_SOURCE", str(path))
    app = functions_framework.create_app("housekeeping", "functions/main.py")
    import sys
    sys.modules["main"]._CLIENTS.clear()
    reply = app.test_client().post("/", json={"keep_days": 31}, headers={
        "X-CloudScheduler": "true", "X-CloudScheduler-JobName": "qunflow-housekeeping",
        "X-CloudScheduler-ScheduleTime": "2026-12-10T04:00:00Z"})
    assert reply.status_code == 200, reply.data
    moved = reply.get_json()["moved"]["events"]
    assert moved["archived"] + moved["kept"] == 90 and moved["archived"] > 40
    sys.modules["main"]._CLIENTS.clear()
