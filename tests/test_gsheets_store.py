"""The Google store against the project's own Sheets API fake, through gspread's real code over HTTP."""
import random
from datetime import date

import pytest

from helpers import BASE, make_raw
from qunflow.sheet.changes import Changes
from qunflow.stores.gsheets import GoogleSheetsStore, SheetAccessError
from qunflow.sheet.load import load_workbook
from sheets_fake import FakeSheetsServer, gspread_session

TODAY = date(2026, 11, 24)


@pytest.fixture(scope="module")
def server():
    with FakeSheetsServer() as fake:
        yield fake


def _store(server, sheet_id, **kw):
    return GoogleSheetsStore(sheet_id, session=gspread_session(server.base_url), sleep=lambda s: None,
                             rng=random.Random(0), **kw)


def _big_rows(members: int) -> dict:
    rows = {k: list(v) for k, v in BASE.items()}
    rows["members"] = [{"member_id": f"M{i:06d}", "name": f"member {i}", "group_id": "G01" if i % 2 else "G02",
                        "mobile": f"0{13800000000 + i}", "joined_at": "2026-11-20 20:00", "status": "active"}
                       for i in range(members)]
    return rows


@pytest.fixture(scope="module")
def big(server):
    server.create_spreadsheet("BIG", make_raw(_big_rows(50_000)))
    return "BIG"


def test_reading_every_tab_of_a_50k_member_workbook_costs_exactly_one_request(server, big):
    store = _store(server, big)
    store._titles = None
    server.reset_counts()
    snapshot = store.read()
    assert server.request_count == 1 and store.requests.read == 1
    wb = load_workbook(snapshot.raw, today=TODAY)
    assert len(wb.members) == 50_000
    assert wb.members["M000007"].mobile == "013800000007"  # leading zero kept


def test_writing_statuses_1000_log_rows_and_metrics_costs_at_most_two(server, big):
    store = _store(server, big)
    snapshot = store.read()
    changes = Changes()
    changes.set("groups", "G01", "status", "dead since 2026-11-24 10:00: errcode 93000")
    for i in range(0, 2000, 2):
        changes.set("members", f"M{i:06d}", "welcomed_at", "2026-11-24 10:00:00")
    changes.append("sendlog", [{"send_id": f"R01:G01:{i}", "rule_id": "R01", "group_id": "G01", "status": "sent",
                                "preview": "=IMPORTXML(\"http://x\")" if i == 0 else f"hello {i}"} for i in range(1000)])
    changes.upsert("metrics", [{"date": "2026-11-24", "group_id": g, "members": 25_000, "joined": 3} for g in ("G01", "G02")])
    changes.replace["problems"] = [{"tab": "Groups", "row": 2, "column": "webhook", "message": "dead", "severity": "error"}]
    server.reset_counts()
    report = store.write(changes, snapshot, "en")
    assert server.request_count <= 2 and report.requests == server.request_count
    for request in server.requests:
        body = request.get("body") or {}
        option = (request.get("query") or {}).get("valueInputOption") or body.get("valueInputOption")
        if option:
            assert option in ("RAW", ["RAW"])
    wb = load_workbook(store.read().raw, today=TODAY)
    assert wb.groups["G01"].status.startswith("dead since")
    assert len(wb.sendlog) == 1000 and wb.sendlog[0].preview.startswith("=IMPORTXML")
    assert str(wb.members["M000000"].welcomed_at) == "2026-11-24 10:00:00"
    assert {(str(m.date), m.group_id, m.members) for m in wb.metrics} == {("2026-11-24", "G01", 25_000), ("2026-11-24", "G02", 25_000)}


def test_a_storm_of_five_429s_is_ridden_out(server):
    server.create_spreadsheet("STORM", make_raw(BASE))
    waits = []
    store = GoogleSheetsStore("STORM", session=gspread_session(server.base_url), sleep=waits.append, rng=random.Random(1))
    server.reset_counts()
    server.inject(429, count=5)
    snapshot = store.read()
    assert server.request_count == 6 and len(waits) == 5
    assert all(1 <= w <= 33 for w in waits) and len(set(waits)) == 5  # jittered, bounded
    assert "Groups" in snapshot.raw


def test_retries_are_bounded(server):
    server.create_spreadsheet("DOWN", make_raw(BASE))
    store = GoogleSheetsStore("DOWN", session=gspread_session(server.base_url), sleep=lambda s: None,
                              rng=random.Random(1), attempts=3)
    server.inject(503, count=10)
    with pytest.raises(Exception):
        store.read()
    server.inject(503, count=0)


def test_an_unshared_sheet_says_whom_to_share_it_with(server):
    server.create_spreadsheet("SECRET", make_raw(BASE), shared=False)
    store = _store(server, "SECRET")
    store.account_email = "qunflow-runtime@shop-prod.iam.gserviceaccount.com"
    with pytest.raises(SheetAccessError) as err:
        store.read()
    assert "qunflow-runtime@shop-prod.iam.gserviceaccount.com" in str(err.value) and "Editor" in str(err.value)


def test_zh_titles_are_learned_once_then_read_in_one_request(server):
    server.create_spreadsheet("ZH", make_raw(BASE, "zh-CN"))
    store = _store(server, "ZH")
    store.read()
    server.reset_counts()
    snapshot = store.read()
    assert server.request_count == 1 and "社群" in snapshot.raw


def test_the_gateway_variable_sends_requests_to_the_fake(server, monkeypatch):
    server.create_spreadsheet("ENV", make_raw(BASE))
    monkeypatch.setenv("QUNFLOW_SHEETS_API", server.base_url)
    store = GoogleSheetsStore("ENV", sleep=lambda s: None)
    assert "Groups" in store.read().raw
