"""Google writes in Google-sized pieces (#18 item 4, item 3's range merging): cells written one by one become
ranges, and a write over the request limit is cut into several requests whose bodies, as the fake receives
them over HTTP from gspread, all stay under it; the sheet ends the same either way."""
from __future__ import annotations

import random
from datetime import date

import pytest

from helpers import BASE, make_raw
from qunflow.sheet.changes import Changes
from qunflow.sheet.load import load_workbook
from qunflow.stores.batching import merge_writes, split_rows, split_writes
from qunflow.stores.gsheets import GoogleSheetsStore
from qunflow.stores.writeplan import RangeWrite
from sheets_fake import FakeSheetsServer, gspread_session

TODAY = date(2026, 11, 24)


def cells_of(writes):
    """(title, row, col) -> value, applying the writes in order."""
    out = {}
    for w in writes:
        for i, row in enumerate(w.values):
            for j, value in enumerate(row):
                out[(w.title, w.row + i, w.col + j)] = value
    return out


def test_single_cells_become_the_fewest_ranges_and_a_later_write_wins():
    writes = [RangeWrite("Members", r, 9, [[f"w{r}"]]) for r in (5, 2, 3, 4, 9)]          # welcomed_at, out of order
    writes += [RangeWrite("Members", r, 10, [[f"t{r}"]]) for r in (2, 3, 4, 5)]          # the next column too
    writes += [RangeWrite("Members", 3, 9, [["again"]]), RangeWrite("Groups", 2, 4, [["ok"]])]
    merged = merge_writes(writes)
    assert cells_of(merged) == cells_of(writes)
    assert sorted((w.title, w.row, w.col, len(w.values), len(w.values[0])) for w in merged) == [
        ("Groups", 2, 4, 1, 1), ("Members", 2, 9, 4, 2), ("Members", 9, 9, 1, 1)]


def test_a_cell_under_a_block_keeps_every_write_in_its_order():
    writes = [RangeWrite("Problems", 2, 1, [["a", "b"], ["c", "d"]]), RangeWrite("Problems", 3, 2, [["late"]])]
    assert merge_writes(writes) == writes


@pytest.mark.parametrize("limit", [300, 2_000, 50_000])
def test_batches_stay_under_the_limit_and_keep_every_cell(limit):
    rng = random.Random(limit)
    writes = [RangeWrite("SendLog", 2, 1, [[f"R{i}", "已发送", "x" * rng.randrange(40)] for i in range(400)])]
    writes += [RangeWrite("Members", r, 3, [["2026-11-24 10:00:00"]]) for r in range(2, 300, 3)]
    batches = split_writes(writes, limit)
    assert cells_of([w for b in batches for w in b]) == cells_of(writes)
    import json
    for batch in batches:
        assert sum(len(json.dumps(w.values)) + 200 for w in batch) <= limit or len(batch) == 1
    rows = [[i, "中文" * rng.randrange(10)] for i in range(500)]
    chunks = split_rows(rows, limit)
    assert [r for c in chunks for r in c] == rows
    assert all(len(json.dumps(c)) <= limit for c in chunks if len(c) > 1)


def big_change(members: int) -> tuple[dict, Changes]:
    rows = {k: list(v) for k, v in BASE.items()}
    rows["members"] = [{"member_id": f"M{i:05d}", "name": f"成员 {i}", "group_id": "G01", "joined_at": "2026-11-20 20:00"}
                       for i in range(members)]
    changes = Changes()
    for i in range(members):
        changes.set("members", f"M{i:05d}", "welcomed_at", "2026-11-24 10:00:00")
    changes.append("sendlog", [{"send_id": f"W01:G01:M{i:05d}", "rule_id": "W01", "group_id": "G01", "status": "sent",
                                "preview": f"欢迎 成员 {i} 加入！" * 3} for i in range(members)])
    changes.append("events", [{"event_id": f"E{i}", "type": "join", "member_id": f"M{i:05d}", "group_id": "G01",
                               "at": "2026-11-24 09:00"} for i in range(members // 2)])
    return rows, changes


def test_a_first_tick_sized_write_is_cut_under_the_limit_and_the_sheet_ends_the_same():
    with FakeSheetsServer() as server:
        ends = {}
        for name, limit in (("ONE", 2_000_000), ("CUT", 64 * 1024)):
            rows, changes = big_change(3_000)
            server.create_spreadsheet(name, make_raw(rows))
            store = GoogleSheetsStore(name, session=gspread_session(server.base_url), sleep=lambda s: None,
                                      rng=random.Random(0), max_request_bytes=limit)
            snapshot = store.read()
            server.reset_counts()
            store.write(changes, snapshot, "en")
            writes = [r for r in server.requests if r["method"] != "GET"]
            assert all(r["bytes"] <= limit for r in writes), [r["bytes"] for r in writes]
            ends[name] = ([r["kind"] for r in writes], {t: server.sheet_values(name, t) for t in snapshot.raw})
            if name == "ONE":
                batch = next(r for r in writes if r["kind"] == "values.batchUpdate")
                ranges = [d["range"] for d in batch["body"]["data"]]
                assert ranges == ["'Members'!P2", "'SendLog'!A2"]     # 3,000 welcomed_at cells: one range
        # one batch, SendLog's rows past its grid appended, the Events rows appended; or many small requests
        assert ends["ONE"][0] == ["values.batchUpdate", "values.append", "values.append"]
        assert ends["CUT"][0].count("values.batchUpdate") > 3 and ends["CUT"][0].count("values.append") > 1
        assert ends["ONE"][1] == ends["CUT"][1]
        wb = load_workbook(ends["CUT"][1], today=TODAY)
        assert len(wb.sendlog) == 3_000 and str(wb.members["M02999"].welcomed_at) == "2026-11-24 10:00:00"
        assert len(wb.events) == 1_500
