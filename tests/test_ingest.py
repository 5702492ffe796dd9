"""Signed member events: every bad request is refused whole with its reason, good ones are written once,
as text."""
import json
import sys
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import functions_framework
import pytest

from helpers import BASE, make_raw, write_xlsx
from qunflow.jobs.ingest import MAX_BODY, sign, verify_and_parse
from qunflow.stores.xlsx import XlsxStore
from qunflow.sheet.tables import locate
from qunflow.sheet.problems import ProblemSink
from qunflow.sheet.schema import load_schemas

ROOT = Path(__file__).resolve().parents[1]
SECRET = "s3cret-for-tests"
NOW = 1_800_000_000


def signed(payload, secret=SECRET, stamp=None, raw: bytes | None = None, now=None):
    stamp = stamp if stamp is not None else (now if now is not None else NOW)
    body = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode()
    return {"X-Qunflow-Timestamp": str(stamp), "X-Qunflow-Signature": sign(body, secret, stamp),
            "Content-Type": "application/json"}, body


def signed_at(now, payload, **kw):
    return signed(payload, now=now, **kw)


def ev(i, kind="join", **kw):
    return {"event_id": f"W{i:04d}", "type": kind, "member_id": f"M{i:04d}", "at": "2026-12-01T12:00:00Z",
            "group_id": "G01", **kw}


# --- the pure core ---------------------------------------------------------------------------------------

def parse(payload=None, *, headers=None, body=None, now=NOW, seen=()):
    if headers is None:
        headers, body = signed(payload)
    return verify_and_parse(headers, body, SECRET, now, {"G01", "G02"}, set(seen))


def test_one_event_a_list_or_an_events_object():
    for payload in (ev(1), [ev(1)], {"events": [ev(1)]}):
        result = parse(payload)
        assert result.status == 200, result.error
        assert [e["event_id"] for e in result.events] == ["W0001"]
    row = parse(ev(1, "order", amount="199.50", coupon_code="0042", detail="order=A1")).events[0]
    assert row == {"event_id": "W0001", "type": "order", "member_id": "M0001", "group_id": "G01",
                   "at": datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc), "amount": Decimal("199.50"),
                   "coupon_code": "0042", "detail": "order=A1"}


def test_times_with_an_offset_keep_it_and_times_without_one_are_kept_as_given():
    from zoneinfo import ZoneInfo
    headers, body = signed(ev(1, at="2026-12-01T20:00:00+08:00"))
    result = verify_and_parse(headers, body, SECRET, NOW, {"G01"}, set(), tz=ZoneInfo("America/New_York"))
    kept = result.events[0]["at"]
    assert kept.utcoffset() == timedelta(hours=8) and kept == datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
    headers, body = signed(ev(1, at="2026-12-01 20:00"))
    assert verify_and_parse(headers, body, SECRET, NOW, {"G01"}, set()).events[0]["at"] == datetime(2026, 12, 1, 20)


BAD = [
    ("missing signature", lambda now: ({"X-Qunflow-Timestamp": str(now)}, b"{}"), 401),
    ("bad signature", lambda now: signed_at(now, ev(1), secret="wrong"), 401),
    ("bad signature", lambda now: ({**signed_at(now, ev(1))[0]}, json.dumps(ev(2)).encode()), 401),  # body swapped
    ("missing or malformed timestamp", lambda now: ({"X-Qunflow-Signature": "sha256=00"}, b"{}"), 401),
    ("stale timestamp", lambda now: signed_at(now, ev(1), stamp=now - 301), 401),
    ("stale timestamp", lambda now: signed_at(now, ev(1), stamp=now + 301), 401),
    ("malformed JSON", lambda now: signed_at(now, None, raw=b'{"events": ['), 400),
    ("malformed JSON", lambda now: signed_at(now, None, raw=b"\xff\xfe"), 400),
    ("malformed JSON", lambda now: signed_at(now, None, raw=b"[" * 200_000), 400),
    ("unknown type 'kick'", lambda now: signed_at(now, [ev(1), ev(2, "kick")]), 400),
    ("unknown group 'G99'", lambda now: signed_at(now, [ev(1), ev(2, group_id="G99")]), 400),
    ("missing field member_id", lambda now: signed_at(now, [ev(1), {**ev(2), "member_id": ""}]), 400),
    ("missing field at", lambda now: signed_at(now, {k: v for k, v in ev(1).items() if k != "at"}), 400),
    ("is not an ISO 8601 time", lambda now: signed_at(now, ev(1, at="yesterday")), 400),
    ("amount '=1+1' is not a number", lambda now: signed_at(now, ev(1, "order", amount="=1+1")), 400),
    ("must be a JSON object", lambda now: signed_at(now, [ev(1), "join"]), 400),
    ("detail holds characters no workbook can keep (U+0000)", lambda now: signed_at(now, ev(1, detail="a\x00b")), 400),
    ("member_id holds characters no workbook can keep (U+D800)",
     lambda now: signed_at(now, None, raw=json.dumps(ev(1, member_id="M\ud800")).encode()), 400),
    ("is not between the years 1900 and 2999", lambda now: signed_at(now, ev(1, at="0001-01-01T00:00:00+08:00")), 400),
    ("is not between the years 1900 and 2999", lambda now: signed_at(now, ev(1, at="9999-12-31T23:59:59-08:00")), 400),
    ("detail must be text", lambda now: signed_at(now, ev(1, detail={"name": "x"})), 400),
    ("no events", lambda now: signed_at(now, []), 400),
    ("body too large", lambda now: signed_at(now, None, raw=b" " * (MAX_BODY + 1)), 413),
    ("the limit is 1000", lambda now: signed_at(now, [ev(i) for i in range(1001)]), 413),
]


@pytest.mark.parametrize("reason, build, status", BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_bad_requests_are_refused_whole_with_their_reason(reason, build, status):
    headers, body = build(NOW)
    result = parse(headers=headers, body=body)
    assert (result.status, result.events) == (status, [])
    assert reason in result.error, result.error
    assert result.body() == {"error": result.error}


def test_event_ids_seen_before_or_repeated_are_duplicates():
    result = parse([ev(1), ev(2), ev(1), ev(3)], seen={"w0003"})
    assert [e["event_id"] for e in result.events] == ["W0001", "W0002"]
    assert result.duplicates == ["W0001", "W0003"]
    assert result.body() == {"accepted": 2, "duplicates": 2}


def test_an_empty_secret_accepts_nothing():
    headers, body = signed(ev(1), secret="")
    assert verify_and_parse(headers, body, "", NOW, {"G01"}, set()).status == 500


# --- the Cloud Function, against an xlsx workbook --------------------------------------------------------

@pytest.fixture
def app(tmp_path, monkeypatch):
    path = tmp_path / "shop.xlsx"
    write_xlsx(make_raw(BASE), path)
    monkeypatch.setenv("QUNFLOW_SOURCE", str(path))
    monkeypatch.setenv("INGEST_HMAC_SECRET", SECRET)
    client = functions_framework.create_app("ingest", str(ROOT / "functions" / "main.py")).test_client()
    sys.modules["main"]._CLIENTS.clear()
    yield client, path
    sys.modules["main"]._CLIENTS.clear()


def post(client, payload=None, headers=None, body=None):
    if headers is None:
        headers, body = signed(payload, stamp=int(time.time()))
    return client.post("/", data=body, headers=headers)


def events_of(path):
    raw = XlsxStore(path).read().raw
    table = locate(raw, load_schemas(), ProblemSink("en")).tables["events"]
    return [{k: table.cell(r, k) for k in table.columns} for r in table.rows]


@pytest.mark.parametrize("reason, build, status", BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_the_function_refuses_bad_requests_and_writes_nothing(app, reason, build, status):
    client, path = app
    before = path.read_bytes()
    headers, body = build(int(time.time()))
    answer = post(client, headers=headers, body=body)
    assert answer.status_code == status
    assert reason in answer.get_json()["error"]
    assert path.read_bytes() == before


def test_the_function_writes_a_replayed_event_once(app):
    client, path = app
    first = post(client, [ev(1), ev(2)])
    assert (first.status_code, first.get_json()) == (200, {"accepted": 2, "duplicates": 0})
    again = post(client, [ev(2), ev(3)])  # a retry, plus one new event
    assert (again.status_code, again.get_json()) == (200, {"accepted": 1, "duplicates": 1})
    ids = [e["event_id"] for e in events_of(path)]
    assert ids == ["E1", "W0001", "W0002", "W0003"]
    assert post(client, {**ev(9), "event_id": "E1"}).get_json() == {"accepted": 0, "duplicates": 1}


def test_the_function_writes_30_joins_from_one_request(app):
    client, path = app
    answer = post(client, {"events": [ev(i, detail=f"name=Member {i}") for i in range(1, 31)]})
    assert answer.get_json() == {"accepted": 30, "duplicates": 0}
    rows = events_of(path)[1:]
    assert [r["event_id"] for r in rows] == [f"W{i:04d}" for i in range(1, 31)]
    assert {r["type"] for r in rows} == {"join"} and rows[0]["at"] == "2026-12-01 12:00:00+00:00"  # the moment, with its offset


def test_formula_like_values_are_stored_and_read_back_as_the_same_text(app):
    client, path = app
    nasty = ['=HYPERLINK("http://x")', "+cmd", "@SUM(1)", "-1+1", "=1+1", "0042", "'quoted", "=IMPORTXML(A1)"]
    payload = [ev(i, "message", member_id=text, detail=text, coupon_code=text) for i, text in enumerate(nasty, 1)]
    assert post(client, payload).get_json() == {"accepted": len(nasty), "duplicates": 0}
    rows = events_of(path)[1:]
    assert [r["detail"] for r in rows] == nasty
    assert [r["member_id"] for r in rows] == nasty
    assert [r["coupon_code"] for r in rows] == nasty
    from openpyxl import load_workbook
    sheet = load_workbook(path)["Events"]
    assert all(c.data_type == "s" for row in sheet.iter_rows(min_row=3) for c in row if c.value is not None
               and isinstance(c.value, str))


def test_into_a_google_sheet_one_read_one_raw_append_and_no_formula():
    import random

    from qunflow.jobs.ingest import ingest_into
    from qunflow.stores.gsheets import GoogleSheetsStore
    from sheets_fake import FakeSheetsServer, gspread_session
    with FakeSheetsServer() as server:
        server.create_spreadsheet("INGEST", make_raw(BASE))
        store = GoogleSheetsStore("INGEST", session=gspread_session(server.base_url), sleep=lambda s: None,
                                  rng=random.Random(0), attempts=2)
        store.read()  # learn the tab titles once, as a warm instance has
        server.reset_counts()
        headers, body = signed([ev(1, detail='=IMPORTXML("http://x", "//a")'), ev(2, member_id="+8613800138000")])
        result = ingest_into(store, headers, body, SECRET, NOW)
        assert result.body() == {"accepted": 2, "duplicates": 0}
        assert server.count("values.batchGet") == 1 and server.request_count == 2, server.requests
        assert all(r.get("valueInputOption") in (None, "RAW") for r in server.requests)
        assert server.formulas("INGEST") == []
        values = server.sheet_values("INGEST", "Events")
        assert values[-2][values[0].index("detail")] == '=IMPORTXML("http://x", "//a")'
        assert values[-1][values[0].index("member_id")] == "+8613800138000"
        server.reset_counts()
        assert ingest_into(store, headers, body, SECRET, NOW).body() == {"accepted": 0, "duplicates": 2}
        assert server.request_count == 1                                     # a retry: read, nothing to write
        bad_headers, bad_body = signed(ev(3), secret="nope")
        server.reset_counts()
        assert ingest_into(store, bad_headers, bad_body, SECRET, NOW).status == 401
        assert server.request_count == 0                                     # refused before touching the sheet
