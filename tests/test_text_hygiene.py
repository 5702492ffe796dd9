"""Text hygiene at every boundary (#14 item 1, the ingest part of item 5, ids that lost their digits).

Text no workbook can hold (NUL and the other C0 controls but tab, line feed and carriage return; lone surrogates;
U+FFFE, U+FFFF) is refused at ingest with a 400 naming the field, read as U+FFFD with a warning at its cell from a
workbook or an import, and replaced by U+FFFD by every writer; `_xHHHH_` escapes read back as written; ingest
answers 400 (never 500) for anything it cannot store; numbers in id, phone and code columns that are not exact
integers are Problems. Every workbook is checked with both readers: python-calamine and openpyxl."""
import copy
import json
import os
import random
import re
import sys
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import functions_framework
import openpyxl
import pytest
import python_calamine
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engine_harness import SHOP, Shop
from helpers import BASE, make_raw, write_xlsx
from qunflow.cli import cli
from qunflow.jobs.importer import import_into
from qunflow.jobs.ingest import ingest_into, sign
from qunflow.sheet.changes import Changes
from qunflow.sheet.load import load_workbook
from qunflow.sheet.problems import WARNING
from qunflow.stores.xlsx import XlsxStore, read_xlsx

ROOT = Path(__file__).resolve().parents[1]
SECRET = "s3cret-for-hygiene-tests"
# checkov:skip=CKV_SECRET_6: a made-up test key or secret for the emulator, not a real one
UTC = timezone.utc
NASTY = "a\x00b\x0bc\ud800d\ufffee\uffff"                       # what no workbook can hold ...
NASTY_READ = "a\ufffdb\ufffdc\ufffdd\ufffde\ufffd"              # ... and how it is written and read instead
EXAMPLES = int(os.environ.get("QUNFLOW_HYGIENE_EXAMPLES", "8"))
UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")   # XML 1.0's Char, the C0 and BMP part


# --- workbooks as Excel saves them, read back by both readers -------------------------------------------------

_LITERAL_ESCAPE = re.compile("_(x[0-9A-Fa-f]{4}_)")
_EXCEL_ESCAPES = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]")


def excel_escaped(text: str) -> str:
    """Text as Excel stores it in a cell: a literal `_xHHHH_` as `_x005F_xHHHH_`, a control character (the vertical
    tab of text pasted from Word) as `_x000B_`. A lone surrogate cannot be in a real file: it goes as `_xD800_`."""
    return _EXCEL_ESCAPES.sub(lambda m: f"_x{ord(m.group()):04X}_", _LITERAL_ESCAPE.sub(r"_x005F_\1", text))


def as_excel_saves(raw, path: Path) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in raw.items():
        sheet = book.create_sheet(title)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                if value in ("", None):
                    continue
                cell = sheet.cell(row=r, column=c, value=excel_escaped(value) if isinstance(value, str) else value)
                if isinstance(value, str):
                    cell.data_type = "s"
    book.save(path)
    return path


def calamine_decoded(text: str) -> str:
    """openpyxl leaves an inline string's `_xHHHH_` as it is; python-calamine decodes those below U+0100."""
    return re.sub("_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m[1], 16)) if int(m[1], 16) < 0x100 else m[0], text)


def both_readers(path: Path) -> dict[str, list[list]]:
    """Every tab as python-calamine reads it, once openpyxl has opened the file too and read the same text (but
    for whitespace around it: openpyxl, writing these tests' own workbooks, does not always mark it preserved)."""
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    try:
        tabs = {n: book.get_sheet_by_name(n).to_python(skip_empty_area=False) for n in book.sheet_names}
    finally:
        book.close()
    other = openpyxl.load_workbook(path)
    for title, rows in tabs.items():
        sheet = other[title]
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                if isinstance(value, str) and value:
                    assert calamine_decoded(str(sheet.cell(row=r, column=c).value)).strip() == value.strip(), (
                        title, r, c)
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
    return tabs


def column(rows: list[list], name: str) -> list:
    index = rows[0].index(name)
    return [row[index] if index < len(row) else "" for row in rows[1:]]


# --- signed requests to the Cloud Function ------------------------------------------------------------------

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


def signed(payload, now: int):
    body = json.dumps(payload).encode()          # ASCII JSON: a lone surrogate travels as \ud800, as a relay sends it
    return {"X-Qunflow-Timestamp": str(now), "X-Qunflow-Signature": sign(body, SECRET, now)}, body


def post(client, payload):
    headers, body = signed(payload, int(time.time()))
    return client.post("/", data=body, headers=headers)


def ev(i: int, **fields):
    return {"event_id": f"H{i:04d}", "type": "join", "member_id": f"M{i:04d}", "at": "2026-12-01T12:00:00Z",
            "group_id": "G01", **fields}


def test_text_no_workbook_can_hold_is_refused_at_ingest_with_400_naming_the_field(app):
    client, path = app
    before = path.read_bytes()
    for i, (field, value, char) in enumerate([("detail", "name=小林\ud800", "U+D800"), ("detail", "name=\ufffe", "U+FFFE"),
                                              ("member_id", "M\uffff1", "U+FFFF"), ("coupon_code", "W\x01", "U+0001")]):
        answer = post(client, ev(i, **{field: value}))
        assert answer.status_code == 400, (field, value, answer.get_json())
        error = answer.get_json()["error"]
        assert f"{field} holds characters no workbook can keep ({char})" in error, error
    assert path.read_bytes() == before                                      # nothing was written
    assert post(client, ev(9, detail="name=小林 🎉\tx\ny")).get_json() == {"accepted": 1, "duplicates": 0}
    assert column(both_readers(path)["Events"], "detail")[-1] == "name=小林 🎉\tx\ny"   # and the file still opens


def test_ingest_answers_400_naming_the_field_for_any_input_it_cannot_store_never_500(app):
    client, path = app
    before = path.read_bytes()
    cases = [("member_id", "M\x000"), ("detail", "name=\x1b[31m"), ("event_id", "H\x0b1"), ("group_id", "G\x0001"),
             ("at", "0001-01-01T00:00:00+08:00"), ("at", "9999-12-31T23:59:59-08:00"), ("at", "0001-01-01T00:00:00"),
             ("at", "9999-12-31T23:00:00"), ("detail", ["name", "x"]), ("member_id", 1.5), ("coupon_code", True),
             ("group_id", {"id": "G01"})]
    wrong = []
    for i, (field, value) in enumerate(cases):
        answer = post(client, ev(i, **{field: value}))
        error = (answer.get_json() or {}).get("error", "")
        if answer.status_code != 400 or field not in error:
            wrong.append((field, value, answer.status_code, error))
    assert wrong == []
    assert path.read_bytes() == before
    path.write_bytes(b"PK\x03\x04 not a workbook")                # a store that cannot be read: 503, retried, with why
    answer = post(client, ev(20))
    assert answer.status_code == 503 and answer.get_json()["error"]


# --- a vertical tab pasted from Word, read from the workbook -----------------------------------------------

def _shop(path: Path, start: datetime) -> Shop:
    shop = Shop(start, store=XlsxStore(path))
    shop.resolver.env["QUNFLOW_ENV_ALLOW"] = "HOOK_G01,HOOK_G02,SIGN_G02,HOOK_G03,SIGN_G03"   # the harness's names
    return shop


def test_a_vertical_tab_pasted_from_word_reads_as_ufffd_with_a_warning_and_every_tick_writes_back(tmp_path):
    rows = copy.deepcopy(SHOP)
    rows["sop"][0]["content"] = "Good night\x0bfrom {{ group_name }}"
    path = as_excel_saves(make_raw(rows), tmp_path / "shop.xlsx")
    with zipfile.ZipFile(path) as z:
        assert any(b"Good night_x000B_from" in z.read(n) for n in z.namelist())     # as Excel stores it
    assert "Good night\x0bfrom {{ group_name }}" in column(read_xlsx(path)["SOP"], "content")   # calamine decodes it
    shop = _shop(path, datetime(2026, 12, 1, 14, 55, tzinfo=UTC))
    try:
        for minute in (0, 5):                                      # every run: it sends, writes back, reports
            report = shop.tick(datetime(2026, 12, 1, 15, minute, tzinfo=UTC))
            tabs = both_readers(path)
            problems = [dict(zip(tabs["Problems"][0], row)) for row in tabs["Problems"][1:]]
            warned = [p for p in problems if p["tab"] == "SOP" and p["row"] == 2 and p["column"] == "content"]
            assert len(warned) == 1 and warned[0]["severity"] == WARNING, problems
            assert "U+000B" in warned[0]["message"] and warned[0]["value"] == "Good night\ufffdfrom {{ group_name }}"
            assert report.failed == 0
        texts = [m["text"] for m in shop.emulator.messages]
        assert texts and all("\x0b" not in t for t in texts)
        assert "Good night\ufffdfrom Spring deals" in texts
        assert "sent" in column(tabs["SendLog"], "status")
    finally:
        shop.close()


# --- ids, phones and codes that lost digits ----------------------------------------------------------------

def test_numbers_that_are_not_exact_integers_in_id_phone_and_code_columns_are_problems_at_their_cell(tmp_path):
    rows = copy.deepcopy(SHOP)
    rows["members"][1]["mobile"] = 1.38e10             # what is left of 13812345678 once shown as 1.38E+10
    rows["members"].append({"member_id": "M0003", "name": "Wu", "group_id": "G01", "mobile": 13800000000.5,
                            "joined_at": "2026-11-01 10:00"})
    rows["members"].append({"member_id": 20261203001.0, "name": "Zhao", "group_id": "G01",    # an exact integer
                            "platform_user_id": 13800138000.0, "joined_at": "2026-11-01 10:00"})
    rows["coupons"][0]["code"] = 1.2e11
    path = tmp_path / "shop.xlsx"
    write_xlsx(make_raw(rows), path)
    wb = load_workbook(XlsxStore(path).read().raw)
    lost = {(p.tab, p.row, p.column) for p in wb.problems if p.code == "lost_digits"}
    assert {("Members", 3, "mobile"), ("Members", 4, "mobile"), ("Coupons", 2, "code")} <= lost, wb.problems
    assert {m.mobile for m in wb.members.values()} & {"13800000000", "13800000000.5"} == set()
    assert "120000000000" not in wb.coupons
    assert wb.members["20261203001"].platform_user_id == "13800138000"     # exact integers stay ids


# --- escapes, and the writers' last line of defence --------------------------------------------------------

ESCAPES = ["literal _x0041_ and _x005F_ and _x000B_ stay text", "tab\tnewline\ncarriage\rreturn", "_x0041_",
           "中文 🎉 _xD800_ _x4E2D_"]


@pytest.mark.parametrize("writer", ["patch", "openpyxl"])
def test_escapes_read_back_as_written_through_either_writer_in_both_readers(tmp_path, writer):
    path = tmp_path / "shop.xlsx"
    write_xlsx(make_raw(BASE), path)
    store = XlsxStore(path, writer=writer)
    changes = Changes()
    changes.append("sendlog", [{"send_id": f"S{i}", "status": "sent", "preview": text} for i, text in enumerate(ESCAPES)])
    assert not store.write(changes, store.read(), "en").deferred
    assert column(both_readers(path)["SendLog"], "preview") == ESCAPES


def test_what_excel_escaped_reads_back_as_the_character_and_a_literal_escape_as_text(tmp_path):
    rows = copy.deepcopy(BASE)
    rows["members"][0]["name"] = "Lin\x0b小林"                     # a vertical tab from Word: _x000B_ in the file
    rows["members"][1]["name"] = "Chen _x0041_"                    # typed literally: _x005F_x0041_ in the file
    path = as_excel_saves(make_raw(rows), tmp_path / "shop.xlsx")
    wb = load_workbook(read_xlsx(path))
    assert wb.members["M0001"].name == "Lin\ufffd小林" and wb.members["M0002"].name == "Chen _x0041_"
    warned = [p for p in wb.problems if p.code == "unstorable_text"]
    assert [(p.tab, p.row, p.column, p.severity) for p in warned] == [("Members", 2, "name", WARNING)]
    both_readers(path)


@pytest.mark.parametrize("writer", ["patch", "openpyxl"])
def test_every_writer_replaces_what_no_workbook_can_hold_with_ufffd_even_when_the_write_waits(tmp_path, writer):
    path = tmp_path / "shop.xlsx"
    write_xlsx(make_raw(BASE), path)
    store = XlsxStore(path, writer=writer)
    changes = Changes()
    changes.append("sendlog", [{"send_id": "S1", "status": "sent", "preview": NASTY}])
    changes.set("groups", "G01", "status", NASTY)
    assert not store.write(changes, store.read(), "en").deferred
    tabs = both_readers(path)
    assert column(tabs["SendLog"], "preview") == [NASTY_READ] and column(tabs["Groups"], "status")[0] == NASTY_READ
    lock = path.with_name("~$" + path.name)                       # open in Excel: the write is kept for later
    lock.write_text("")
    later = Changes()
    later.append("sendlog", [{"send_id": "S2", "status": "sent", "preview": NASTY}])
    assert store.write(later, store.read(), "en").deferred
    lock.unlink()
    assert not store.write(Changes(), store.read(), "en").deferred
    assert column(both_readers(path)["SendLog"], "preview") == [NASTY_READ, NASTY_READ]


def test_a_google_sheet_is_sent_ufffd_for_what_it_cannot_hold():
    from qunflow.stores.gsheets import GoogleSheetsStore
    from sheets_fake import FakeSheetsServer, gspread_session
    with FakeSheetsServer() as server:
        server.create_spreadsheet("HYGIENE", make_raw(BASE))
        store = GoogleSheetsStore("HYGIENE", session=gspread_session(server.base_url), sleep=lambda s: None,
                                  rng=random.Random(0), attempts=2)
        changes = Changes()
        changes.append("sendlog", [{"send_id": "S1", "status": "sent", "preview": NASTY}])
        changes.append("events", [{"event_id": "E9", "type": "join", "member_id": "M9", "detail": NASTY}])
        store.write(changes, store.read(), "en")
        assert column(server.sheet_values("HYGIENE", "SendLog"), "preview")[-1] == NASTY_READ
        assert column(server.sheet_values("HYGIENE", "Events"), "detail")[-1] == NASTY_READ


# --- imports ----------------------------------------------------------------------------------------------

def test_an_import_reads_unstorable_text_as_ufffd_with_a_warning_and_refuses_times_it_cannot_keep(tmp_path):
    import csv
    book = tmp_path / "shop.xlsx"
    write_xlsx(make_raw(BASE), book)
    file = tmp_path / "events.csv"
    with open(file, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([
            ["event_id", "type", "member_id", "group_id", "at", "detail"],
            ["E200", "join", "M0200", "G01", "2026-12-01 20:00", "name=小\x0b周"],
            ["E201", "join", "M0201", "G01", "0001-01-01T00:00:00+08:00", ""],
            ["E202", "message", "M\x000201", "G01", "9999-12-31 23:00", ""],
            ["E203", "message", "M0001", "G01", "2026-12-02 08:00", "fine"],
        ])
    out = CliRunner().invoke(cli, ["import", "events", str(file), str(book), "--json"])
    assert out.exit_code == 1, out.output
    summary = json.loads(out.stdout)
    assert (summary["new"], [b["row"] for b in summary["bad"]], [w["row"] for w in summary["warnings"]]) == (2, [3, 4], [2, 4])
    assert all("between the years 1900 and 2999" in b["reason"] for b in summary["bad"])
    assert "detail" in summary["warnings"][0]["reason"] and "U+000B" in summary["warnings"][0]["reason"]
    events = both_readers(book)["Events"]
    assert column(events, "detail")[-2:] == ["name=小\ufffd周", "fine"]
    excel = as_excel_saves({"Sheet1": [["成员ID", "群成员", "入群时间", "所在群"], ["wm-1", "小\x0c林", "2026-12-01 20:00", "G01"]]},
                           tmp_path / "members.xlsx")
    out = CliRunner().invoke(cli, ["import", "events", str(excel), str(book), "--mapping", "wecom-members", "--json"])
    assert out.exit_code == 0 and json.loads(out.stdout)["warnings"][0]["row"] == 2, out.output
    assert column(both_readers(book)["Events"], "detail")[-1] == "name=小\ufffd林"


# --- the property: arbitrary Unicode through ingest, import and a tick on a real .xlsx ----------------------

UNICODE = st.characters(codec=None, categories=None)             # every code point: surrogates and controls too
PIECES = st.sampled_from(["\x00", "\x0b", "\x0c", "\x1b", "\r", "\t", "\n", "\ud800", "\udfff", "\ufffe", "\uffff",
                          "_x000B_", "_x005F_", "_xD800_", "=1+1", "🎉", "中文", " "])
TEXT = st.lists(st.one_of(UNICODE, PIECES), max_size=16).map("".join)
AT = st.one_of(st.builds(lambda y, off: f"{y:04d}-12-01T20:00:00{off}",
                         st.one_of(st.integers(1900, 2999), st.integers(1, 9999)),
                         st.sampled_from(["", "Z", "+08:00", "-12:00", "+14:00"])), TEXT)
FIELD = st.one_of(TEXT, st.integers(-10**20, 10**20), st.floats(), st.booleans(), st.none(), st.lists(TEXT, max_size=2))
CLEAN = st.text(st.characters(exclude_categories=("Cs", "Cc", "Cn")), max_size=16)   # text ingest takes
ID = st.one_of(CLEAN.map("e".__add__), TEXT.map("e".__add__), st.integers(0, 10**20), FIELD)


@pytest.fixture(scope="module")
def hygiene_shop(tmp_path_factory):
    shop = _shop(tmp_path_factory.mktemp("hygiene") / "unused.xlsx", datetime(2026, 12, 1, 14, 55, tzinfo=UTC))
    yield shop
    shop.close()


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])
@given(typed=st.fixed_dictionaries({"group": TEXT, "member": TEXT, "coupon_value": TEXT, "tag": TEXT}),
       sent=st.fixed_dictionaries({"event_id": ID, "member_id": ID, "detail": st.one_of(CLEAN, TEXT, FIELD),
                                   "coupon_code": st.one_of(st.none(), ID),
                                   "type": st.one_of(st.sampled_from(["join", "message"]), FIELD), "at": AT}),
       imported=st.lists(st.tuples(TEXT, TEXT, TEXT), min_size=1, max_size=3))
def test_arbitrary_unicode_through_ingest_import_and_a_tick_leaves_a_workbook_both_readers_open(
        hygiene_shop, tmp_path_factory, typed, sent, imported):
    rows = copy.deepcopy(SHOP)
    rows["groups"][0]["name"] = typed["group"] or "G"                 # what operators type, as Excel saves it
    rows["members"][0]["name"] = typed["member"] or "M"
    rows["coupons"][0]["value"] = typed["coupon_value"]
    rows["tags"] = [{"tag": "t", "rule": "messages_7d == 0", "description": typed["tag"]}]
    path = as_excel_saves(make_raw(rows), tmp_path_factory.mktemp("book") / "shop.xlsx")
    store = XlsxStore(path)
    now = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)

    headers, body = signed([{**sent, "group_id": "G01"}], int(now.timestamp()))     # a shop's event
    result = ingest_into(store, headers, body, SECRET, now.timestamp())
    assert result.status in (200, 400), result.error
    event(f"ingest {result.status}")
    header = ["成员ID", "群成员", "入群时间", "所在群", "入群方式"]                        # a WeCom export
    lines = [[member or "wm", name, "2026-12-01 22:50", "G01", channel] for member, name, channel in imported]
    import_into(store, header, lines, "wecom-members", now)

    hygiene_shop.store = store
    hygiene_shop.emulator.messages.clear()
    hygiene_shop.tick(jump_to=now)                                     # welcomes the joiners, writes back
    tabs = both_readers(path)
    if result.ok and result.events:                                    # what was accepted reads back as sent
        ids = column(tabs["Events"], "event_id")
        assert ids.count(result.events[0]["event_id"]) == 1
        assert column(tabs["Events"], "detail")[ids.index(result.events[0]["event_id"])] == (result.events[0]["detail"] or "")
    for title in ("SendLog", "Problems"):                              # what qunflow wrote
        assert not any(isinstance(v, str) and UNSTORABLE.search(v) for row in tabs[title] for v in row), title
    for new_row in tabs["Events"][1:] + tabs["Members"][3:]:
        assert not any(isinstance(v, str) and UNSTORABLE.search(v) for v in new_row)
    assert all(not UNSTORABLE.search(m["text"]) for m in hygiene_shop.emulator.messages)
    again = load_workbook(read_xlsx(path))
    assert all(not UNSTORABLE.search(p.value + p.message + p.column) for p in again.problems)
