"""Contract tests of the Sheets API fake, run through gspread's real client code over HTTP on 127.0.0.1."""
import threading
import time

import gspread
import pytest
import requests

from sheets_fake import KINDS, DateTime, FakeSheetsServer, Formula, gspread_client

SEND_LOG = [["send_id", "status", "note"], ["S1", "sent", ""], [], ["S3", "failed", "timeout"], ["", "", ""]]


@pytest.fixture(scope="module")
def server():
    with FakeSheetsServer() as fake:
        yield fake


@pytest.fixture
def gc(server):
    server.reset_counts()
    return gspread_client(server.base_url)


def _seed(server, sid, **kw):
    server.create_spreadsheet(sid, {"Sheet1": [["name", "n", "ok"], ["Ann", 7, True], ["Bo", 2.5, False]],
                                    "Send Log": [list(r) for r in SEND_LOG], "发送记录": []}, title="Shop", **kw)
    return sid


def _api_error(call) -> dict:
    with pytest.raises(gspread.exceptions.APIError) as err:
        call()
    return {"code": err.value.code, **err.value.error, "http": err.value.response.status_code}


# --- metadata -------------------------------------------------------------------------------------

def test_open_by_key_and_worksheet_read_metadata_one_request_each(server, gc):
    _seed(server, "META")
    sh = gc.open_by_key("META")
    ws = sh.worksheet("Send Log")
    assert sh.title == "Shop" and server.count("spreadsheets.get") == 2 == server.request_count
    assert [w.title for w in sh.worksheets()] == ["Sheet1", "Send Log", "发送记录"]
    assert (ws.id, ws.index, ws.row_count, ws.col_count) == (server.sheet_properties("META")[1]["sheetId"], 1, 1000, 26)
    assert sh.worksheets()[0].id == 0
    assert server.requests[0]["query"] == {"includeGridData": "false"}
    with pytest.raises(gspread.exceptions.WorksheetNotFound):
        sh.worksheet("Nope")


def test_include_grid_data_returns_cells(server, gc):
    _seed(server, "GRID")
    meta = gc.http_client.spreadsheets_get("GRID", params={"includeGridData": "true"})
    row = meta["sheets"][0]["data"][0]["rowData"][1]["values"]
    assert row[1] == {"userEnteredValue": {"numberValue": 7}, "effectiveValue": {"numberValue": 7},
                      "formattedValue": "7"}
    assert "data" not in gc.http_client.fetch_sheet_metadata("GRID")["sheets"][0]


# --- reads ----------------------------------------------------------------------------------------

def test_values_get_trims_and_normalizes_the_range(server, gc):
    _seed(server, "READ")
    reply = gc.http_client.values_get("READ", "'Send Log'")
    assert reply == {"range": "'Send Log'!A1:Z1000", "majorDimension": "ROWS",
                     "values": [["send_id", "status", "note"], ["S1", "sent"], [], ["S3", "failed", "timeout"]]}
    ws = gc.open_by_key("READ").worksheet("Sheet1")
    assert ws.get_all_values() == [["name", "n", "ok"], ["Ann", "7", "TRUE"], ["Bo", "2.5", "FALSE"]]


def test_batch_get_is_one_request_typed_with_unformatted_value_and_omits_empty_values(server, gc):
    _seed(server, "BATCH")
    reply = gc.http_client.values_batch_get("BATCH", ["Sheet1", "'Send Log'!A1:J20", "'发送记录'"],
                                            {"valueRenderOption": "UNFORMATTED_VALUE",
                                             "dateTimeRenderOption": "SERIAL_NUMBER"})
    assert server.request_count == 1 and server.count("values.batchGet") == 1
    assert server.requests[0]["query"]["ranges"] == ["Sheet1", "'Send Log'!A1:J20", "'发送记录'"]
    sheet1, log, empty = reply["valueRanges"]
    assert reply["spreadsheetId"] == "BATCH"
    assert sheet1 == {"range": "Sheet1!A1:Z1000", "majorDimension": "ROWS",
                      "values": [["name", "n", "ok"], ["Ann", 7, True], ["Bo", 2.5, False]]}
    assert log["range"] == "'Send Log'!A1:J20" and log["values"][2] == []
    assert empty == {"range": "'发送记录'!A1:Z1000", "majorDimension": "ROWS"}


@pytest.mark.parametrize("rng, expect_range, expect_values", [
    ("Sheet1!A:B", "Sheet1!A1:B1000", [["name", "n"], ["Ann", "7"], ["Bo", "2.5"]]),
    ("Sheet1!2:3", "Sheet1!A2:Z3", [["Ann", "7", "TRUE"], ["Bo", "2.5", "FALSE"]]),
    ("'Sheet1'!B2:C", "Sheet1!B2:C1000", [["7", "TRUE"], ["2.5", "FALSE"]]),
    ("'Send Log'!B2:C4", "'Send Log'!B2:C4", [["sent"], [], ["failed", "timeout"]]),
    ("'Send Log'!C1:C2", "'Send Log'!C1:C2", [["note"]]),
    ("'Send Log'!D1:E9", "'Send Log'!D1:E9", None),
    ("A1", "Sheet1!A1", [["name"]]),
    ("sheet1!$A$1:$B$1", "Sheet1!A1:B1", [["name", "n"]]),
])
def test_a1_range_forms(server, gc, rng, expect_range, expect_values):
    _seed(server, "RANGES")
    reply = gc.http_client.values_get("RANGES", rng)
    assert reply["range"] == expect_range and reply.get("values") == expect_values


def test_columns_major_dimension(server, gc):
    _seed(server, "COLS")
    reply = gc.http_client.values_get("COLS", "Sheet1!A1:B3", {"majorDimension": "COLUMNS"})
    assert reply["values"] == [["name", "Ann", "Bo"], ["n", "7", "2.5"]] and reply["majorDimension"] == "COLUMNS"


@pytest.mark.parametrize("rng, message", [
    ("Nope!A1:B2", "Unable to parse range: Nope!A1:B2"),
    ("'Nope'", "Unable to parse range: 'Nope'"),
    ("Sheet1!A1:B2:C3", "Unable to parse range: Sheet1!A1:B2:C3"),
    ("Sheet1!A1:B5000", "Range (Sheet1!A1:B5000) exceeds grid limits. Max rows: 1000, max columns: 26"),
])
def test_bad_ranges_answer_400_in_the_api_error_shape(server, gc, rng, message):
    _seed(server, "BAD")
    error = _api_error(lambda: gc.http_client.values_batch_get("BAD", ["Sheet1", rng]))
    assert error == {"code": 400, "message": message, "status": "INVALID_ARGUMENT", "http": 400}


# --- writes ---------------------------------------------------------------------------------------

TRAPS = ["0123", "=IMPORTXML(\"http://x\",\"//a\")", "+8613800000000", "2026-12-01", "TRUE", "1E5"]


def test_raw_keeps_strings_exactly_and_user_entered_mangles_them(server, gc):
    server.create_spreadsheet("INPUT", {"T": []})
    sh = gc.open_by_key("INPUT")
    sh.values_update("T!A1", params={"valueInputOption": "RAW"}, body={"values": [TRAPS]})
    sh.values_update("T!A2", params={"valueInputOption": "USER_ENTERED"}, body={"values": [TRAPS]})
    assert [r["valueInputOption"] for r in server.requests if r["kind"] == "values.update"] == ["RAW", "USER_ENTERED"]
    raw, entered = server.sheet_values("INPUT", "T")
    assert raw == TRAPS
    assert entered == [123, "#FORMULA", 8613800000000, 46357, True, 100000]
    assert server.cell("INPUT", "T", "B2") == Formula(TRAPS[1]) and server.cell("INPUT", "T", "D2") == DateTime(46357, "2026-12-01")
    assert server.formulas("INPUT") == [("T!B2", TRAPS[1])]
    formatted = gc.http_client.values_get("INPUT", "T!A2:F2")["values"][0]
    assert formatted == ["123", "#FORMULA", "8613800000000", "2026-12-01", "TRUE", "100000"]
    formula = gc.http_client.values_get("INPUT", "T!A1:F2", {"valueRenderOption": "FORMULA"})["values"]
    assert formula[0][1] == formula[1][1] == TRAPS[1]


def test_values_batch_update_raw_counts_and_is_atomic(server, gc):
    _seed(server, "WRITE")
    sh = gc.open_by_key("WRITE")
    reply = sh.values_batch_update({"valueInputOption": "RAW", "data": [
        {"range": "'Send Log'!B2", "majorDimension": "ROWS", "values": [["resent"]]},
        {"range": "'发送记录'!A1:B2", "values": [["id", "n"], ["0123", 5]]}]})
    assert reply == {"spreadsheetId": "WRITE", "totalUpdatedRows": 3, "totalUpdatedColumns": 3, "totalUpdatedCells": 5,
                     "totalUpdatedSheets": 2, "responses": [
                         {"spreadsheetId": "WRITE", "updatedRange": "'Send Log'!B2", "updatedRows": 1,
                          "updatedColumns": 1, "updatedCells": 1},
                         {"spreadsheetId": "WRITE", "updatedRange": "'发送记录'!A1:B2", "updatedRows": 2,
                          "updatedColumns": 2, "updatedCells": 4}]}
    assert server.sheet_values("WRITE", "发送记录") == [["id", "n"], ["0123", 5]]
    error = _api_error(lambda: sh.values_batch_update({"valueInputOption": "RAW", "data": [
        {"range": "Sheet1!A1", "values": [["changed"]]},
        {"range": "Sheet1!A1000", "values": [["x"], ["past the grid"]]}]}))
    assert error["code"] == 400 and "exceeds grid limits. Max rows: 1000" in error["message"]
    assert server.sheet_values("WRITE", "Sheet1")[0][0] == "name"  # nothing applied
    assert "valueInputOption" in _api_error(lambda: sh.values_batch_update({"data": []}))["message"]
    assert "tried writing to row [3]" in _api_error(lambda: sh.values_update(
        "Sheet1!A1:B2", {"valueInputOption": "RAW"}, {"values": [["a"], ["b"], ["c"]]}))["message"]


def test_null_skips_a_cell_and_empty_string_clears_it(server, gc):
    _seed(server, "NULLS")
    gc.http_client.values_update("NULLS", "Sheet1!A2", {"valueInputOption": "RAW"}, {"values": [[None, "", "kept?"]]})
    assert server.sheet_values("NULLS", "Sheet1")[1] == ["Ann", "", "kept?"]


def test_append_rows_goes_after_the_last_non_empty_row(server, gc):
    _seed(server, "APPEND")
    ws = gc.open_by_key("APPEND").worksheet("Send Log")
    server.reset_counts()
    reply = ws.append_rows([["S4", "sent", "=1+1"], ["S5", "queued"]])  # gspread's default: RAW
    assert server.request_count == 1 and server.requests[0]["query"] == {"valueInputOption": "RAW"}
    assert reply == {"spreadsheetId": "APPEND", "tableRange": "'Send Log'!A1:C4",
                     "updates": {"spreadsheetId": "APPEND", "updatedRange": "'Send Log'!A5:C6", "updatedRows": 2,
                                 "updatedColumns": 3, "updatedCells": 5}}
    assert server.sheet_values("APPEND", "Send Log")[3:] == [["S3", "failed", "timeout"], ["S4", "sent", "=1+1"],
                                                             ["S5", "queued"]]
    assert server.formulas("APPEND") == []
    gc.http_client.values_append("APPEND", "'发送记录'!A1", {"valueInputOption": "RAW",
                                                            "insertDataOption": "INSERT_ROWS"}, {"values": [["x"]]})
    assert server.sheet_values("APPEND", "发送记录") == [["x"]]
    assert server.sheet_properties("APPEND")[2]["gridProperties"]["rowCount"] == 1001


def test_append_past_the_last_grid_row_adds_rows_but_not_columns(server, gc):
    server.create_spreadsheet("TIGHT", {"T": [["h"], ["1"]]}, grid={"T": (2, 3)})
    reply = gc.http_client.values_append("TIGHT", "'T'!A1", {"valueInputOption": "RAW"}, {"values": [["2"], ["3"]]})
    assert reply["updates"]["updatedRange"] == "T!A3:A4"
    assert server.sheet_properties("TIGHT")[0]["gridProperties"]["rowCount"] == 4
    error = _api_error(lambda: gc.http_client.values_append("TIGHT", "T!A1", {"valueInputOption": "RAW"},
                                                            {"values": [["a", "b", "c", "d"]]}))
    assert error["code"] == 400 and error["message"].endswith("exceeds grid limits. Max rows: 4, max columns: 3")


def test_clear_and_batch_clear(server, gc):
    _seed(server, "CLEAR")
    ws = gc.open_by_key("CLEAR").worksheet("Send Log")
    reply = ws.batch_clear(["B2:C2", "A4:A4"])
    assert reply == {"spreadsheetId": "CLEAR", "clearedRanges": ["'Send Log'!B2:C2", "'Send Log'!A4"]}
    assert server.sheet_values("CLEAR", "Send Log") == [["send_id", "status", "note"], ["S1"], [], ["", "failed", "timeout"]]
    assert gc.http_client.values_clear("CLEAR", "Sheet1") == {"spreadsheetId": "CLEAR", "clearedRange": "Sheet1!A1:Z1000"}
    assert "values" not in gc.http_client.values_get("CLEAR", "Sheet1")


# --- structure ------------------------------------------------------------------------------------

def test_batch_update_structural_requests(server, gc):
    _seed(server, "STRUCT")
    sh = gc.open_by_key("STRUCT")
    reply = sh.batch_update({"requests": [
        {"addSheet": {"properties": {"title": "Metrics", "gridProperties": {"rowCount": 100, "frozenRowCount": 1}}}},
        {"setDataValidation": {"range": {"sheetId": 0, "startRowIndex": 1, "startColumnIndex": 2, "endColumnIndex": 3},
                               "rule": {"condition": {"type": "BOOLEAN"}}}},
        {"addProtectedRange": {"protectedRange": {"range": {"sheetId": 0, "endRowIndex": 1}, "warningOnly": True}}},
        {"repeatCell": {"range": {"sheetId": 0}, "cell": {"userEnteredFormat": {"numberFormat": {"type": "TEXT"}}},
                        "fields": "userEnteredFormat.numberFormat"}},
        {"addChart": {"chart": {"spec": {"title": "joins"},
                                "position": {"overlayPosition": {"anchorCell": {"sheetId": 0}}}}}},
        {"updateSheetProperties": {"properties": {"sheetId": 0, "title": "Groups",
                                                  "gridProperties": {"frozenRowCount": 1}},
                                   "fields": "title,gridProperties.frozenRowCount"}},
    ]})
    assert [list(r) for r in reply["replies"]] == [["addSheet"], [], ["addProtectedRange"], [], ["addChart"], []]
    new = reply["replies"][0]["addSheet"]["properties"]
    assert new["title"] == "Metrics" and new["index"] == 3 and new["gridProperties"] == {
        "rowCount": 100, "columnCount": 26, "frozenRowCount": 1}
    assert isinstance(reply["replies"][2]["addProtectedRange"]["protectedRange"]["protectedRangeId"], int)
    assert isinstance(reply["replies"][4]["addChart"]["chart"]["chartId"], int)
    ws = sh.worksheet("Metrics")
    assert ws.id == new["sheetId"] and ws.row_count == 100
    groups = sh.worksheet("Groups")
    assert groups.frozen_row_count == 1 and groups.col_count == 26 and groups.get_all_values()[0] == ["name", "n", "ok"]
    meta = gc.http_client.fetch_sheet_metadata("STRUCT")["sheets"][0]
    assert len(meta["protectedRanges"]) == 1 and len(meta["charts"]) == 1
    kinds = [next(iter(r)) for r in server.structural_requests("STRUCT")]
    assert kinds == ["addSheet", "setDataValidation", "addProtectedRange", "repeatCell", "addChart",
                     "updateSheetProperties"]


def test_grid_growing_and_deleting(server, gc):
    _seed(server, "DIMS")
    sh = gc.open_by_key("DIMS")
    sh.batch_update({"requests": [{"appendDimension": {"sheetId": 0, "dimension": "ROWS", "length": 500}},
                                  {"insertDimension": {"range": {"sheetId": 0, "dimension": "ROWS", "startIndex": 1,
                                                                 "endIndex": 2}}}]})
    assert server.sheet_properties("DIMS")[0]["gridProperties"]["rowCount"] == 1501
    assert server.sheet_values("DIMS", "Sheet1")[:3] == [["name", "n", "ok"], [], ["Ann", 7, True]]
    log = sh.worksheet("Send Log")
    sh.del_worksheet(log)
    assert [w.title for w in sh.worksheets()] == ["Sheet1", "发送记录"]
    assert [p["index"] for p in server.sheet_properties("DIMS")] == [0, 1]


@pytest.mark.parametrize("request_, message", [
    ({"frobnicate": {}}, "Unknown name \"frobnicate\" at 'requests[1]'"),
    ({"setDataValidation": {"range": {"sheetId": 99}}}, "Invalid requests[1].setDataValidation: No grid with id: 99"),
    ({"addSheet": {"properties": {"title": "send log"}}}, "A sheet with the name \"send log\" already exists"),
])
def test_bad_structural_requests_fail_the_whole_batch(server, gc, request_, message):
    _seed(server, "ATOMIC")
    before = server.sheet_properties("ATOMIC")
    error = _api_error(lambda: gc.http_client.batch_update("ATOMIC", {"requests": [
        {"addSheet": {"properties": {"title": "Extra"}}}, request_]}))
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT" and message in error["message"]
    assert server.sheet_properties("ATOMIC") == before and server.structural_requests("ATOMIC") == []


# --- access, faults, counting ------------------------------------------------------------------------

NOT_FOUND = {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND", "http": 404}


def test_an_unshared_or_unknown_sheet_answers_404_and_a_forbidden_one_403(server, gc):
    _seed(server, "SECRET", shared=False)
    with pytest.raises(gspread.exceptions.SpreadsheetNotFound):
        gc.open_by_key("SECRET")
    assert _api_error(lambda: gc.http_client.values_batch_get("SECRET", ["Sheet1"])) == NOT_FOUND
    assert _api_error(lambda: gc.http_client.values_get("NO-SUCH-ID", "A1")) == NOT_FOUND
    _seed(server, "FORBIDDEN", permission_denied=True)
    with pytest.raises(PermissionError):
        gc.open_by_key("FORBIDDEN")
    assert _api_error(lambda: gc.http_client.values_get("FORBIDDEN", "A1"))["status"] == "PERMISSION_DENIED"
    server.set_access("SECRET", shared=True)
    assert gc.open_by_key("SECRET").title == "Shop"


def test_an_injected_429_surfaces_as_api_error_and_is_counted(server, gc):
    _seed(server, "QUOTA")
    server.inject(429, retry_after=7)
    with pytest.raises(gspread.exceptions.APIError) as err:
        gc.http_client.values_batch_get("QUOTA", ["Sheet1"])
    assert err.value.code == 429 and err.value.error["status"] == "RESOURCE_EXHAUSTED"
    assert err.value.error["message"].startswith("Quota exceeded for quota metric 'Read requests'")
    assert err.value.response.headers["Retry-After"] == "7"
    assert gc.http_client.values_batch_get("QUOTA", ["Sheet1"])["valueRanges"]
    assert server.request_count == 2 and [r["status"] for r in server.requests] == [429, 200]


def test_faults_by_kind_count_and_cancel(server, gc):
    _seed(server, "FAULTS")
    server.inject(503, count=2, kind="values.append")
    assert gc.http_client.values_get("FAULTS", "Sheet1")["range"] == "Sheet1!A1:Z1000"
    for _ in range(2):
        error = _api_error(lambda: gc.http_client.values_append("FAULTS", "Sheet1", {"valueInputOption": "RAW"},
                                                                {"values": [["x"]]}))
        assert error["status"] == "UNAVAILABLE"
    gc.http_client.values_append("FAULTS", "Sheet1", {"valueInputOption": "RAW"}, {"values": [["x"]]})
    server.inject(500, count=10)
    assert _api_error(lambda: gc.http_client.values_get("FAULTS", "A1"))["status"] == "INTERNAL"
    server.inject(500, count=0)
    assert gc.http_client.values_get("FAULTS", "A1")["values"] == [["name"]]
    assert server.count("values.append") == 3 and server.count("values.get") == 3 and server.request_count == 6
    with pytest.raises(ValueError):
        server.count("values.frobnicate")


def test_requests_are_recorded_with_kind_query_and_body(server, gc):
    _seed(server, "RECORD")
    sh = gc.open_by_key("RECORD")
    sh.values_batch_update({"valueInputOption": "RAW", "data": [{"range": "Sheet1!A5", "values": [["v"]]}]})
    sh.values_batch_clear(body={"ranges": ["Sheet1!A5"]})
    assert [r["kind"] for r in server.requests] == ["spreadsheets.get", "values.batchUpdate", "values.batchClear"]
    write = server.requests[1]
    assert write["method"] == "POST" and write["path"] == "/v4/spreadsheets/RECORD/values:batchUpdate"
    assert write["body"]["data"][0]["values"] == [["v"]] and write["valueInputOption"] == "RAW"
    assert set(KINDS) >= {r["kind"] for r in server.requests}
    server.reset_counts()
    assert server.request_count == 0 and server.requests == []


def test_the_session_never_reaches_real_google(server):
    session = gspread_client(server.base_url).http_client.session
    with pytest.raises(requests.ConnectionError, match="offline"):
        session.get("https://www.googleapis.com/drive/v3/files")


def test_concurrent_writers_are_serialised(server, gc):
    server.create_spreadsheet("THREADS", {"Log": [["id"]]})
    server.reset_counts()

    def writer(n):
        client = gspread_client(server.base_url)
        for i in range(5):
            client.http_client.values_append("THREADS", "Log!A1", {"valueInputOption": "RAW"}, {"values": [[f"{n}-{i}"]]})
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = server.sheet_values("THREADS", "Log")
    assert len(rows) == 21 and sorted(r[0] for r in rows[1:]) == sorted(f"{n}-{i}" for n in range(4) for i in range(5))
    assert server.count("values.append") == server.request_count == 20


def test_latency_is_added_per_request(server, gc):
    _seed(server, "SLOW")
    server.latency_seconds = 0.05
    try:
        start = time.perf_counter()
        gc.http_client.values_get("SLOW", "A1")
        assert time.perf_counter() - start >= 0.05
    finally:
        server.latency_seconds = 0
