"""The tick with qunflow's memory in a state store: what an operator's stale save, or a run that dies, can cost.

Each test fails on a tick whose only memory is the sheet (state=None), and passes with SQLite and Firestore.
"""
from __future__ import annotations

import copy
from collections import Counter
from datetime import datetime, timedelta

import pytest

from engine_harness import SHOP, Shop
from qunflow.sheet.load import load_workbook
from test_members import add_events
from zoneinfo import ZoneInfo

SH = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def _joins(shop, names, minute):
    add_events(shop.store, [{"event_id": f"J-{n}", "type": "join", "member_id": n, "group_id": "G01",
                             "at": f"2026-12-01 {minute}", "detail": f"name={n}; user={n.lower()}"} for n in names])


def _texts(shop) -> Counter:
    """Each post by platform, text and who it mentions (a welcome shows no code: its mentions tell two apart)."""
    return Counter((m["platform"], m["text"], tuple(m["mentions"])) for m in shop.emulator.messages)


def test_an_operators_stale_save_posts_nothing_twice_and_loses_no_binding(state):
    shop = Shop(at("2026-12-01 09:55"), rows=copy.deepcopy(SHOP), state=state)
    try:
        shop.tick(at("2026-12-01 09:55"))
        _joins(shop, ["N1", "N2"], "09:56")
        opened = copy.deepcopy(shop.store.raw)      # the operator opens the workbook in Excel here
        shop.tick(at("2026-12-01 10:00"))           # welcomes N1 and N2, binds two coupons, posts day-1's tip
        first = load_workbook(shop.store.raw)
        codes = {m: first.members[m].coupon_code for m in ("N1", "N2")}
        assert all(codes.values()) and len(set(codes.values())) == 2
        shop.store.raw = opened                     # ... and presses Ctrl-S: SendLog, last_tick, bindings are gone
        _joins(shop, ["N3"], "10:06")
        shop.tick(at("2026-12-01 10:10"))
        shop.tick(at("2026-12-01 10:20"))
        doubled = {k: n for k, n in _texts(shop).items() if n > 1}
        assert doubled == {}, doubled
        wb = load_workbook(shop.store.raw)
        assert {m: wb.members[m].coupon_code for m in ("N1", "N2")} == codes          # put back in the sheet
        assert all(wb.members[m].welcomed_at for m in ("N1", "N2", "N3"))
        assert wb.members["N3"].coupon_code not in codes.values()                    # never a bound code again
        holders = Counter(b.value for b in state.bindings("coupon").values())
        assert holders == Counter({"N1": 1, "N2": 1, "N3": 1})
        for member, code in codes.items():
            assert wb.coupons[code].member_id == member
        shown = {r.send_id for r in wb.sendlog}
        assert {s.send_id for s in state.sends() if s.status == "sent"} <= shown    # the SendLog is projected again
    finally:
        shop.close()


def test_the_stale_save_does_post_twice_without_a_state_store():
    """The witness: the same story with the sheet as the only memory re-posts (what the state store fixes)."""
    shop = Shop(at("2026-12-01 09:55"), rows=copy.deepcopy(SHOP))
    try:
        shop.tick(at("2026-12-01 09:55"))
        _joins(shop, ["N1"], "09:56")
        opened = copy.deepcopy(shop.store.raw)
        shop.tick(at("2026-12-01 10:00"))
        shop.store.raw = opened
        shop.tick(at("2026-12-01 10:10"))
        assert any(n > 1 for n in _texts(shop).values())
    finally:
        shop.close()


def test_a_send_claimed_by_a_run_that_died_is_unknown_and_the_rest_go_out(state):
    """A run that dies after claiming one send and before the others: the claimed one is `unknown` (it may have
    reached the group), never re-posted; everything it never claimed goes out on the next tick."""
    shop = Shop(at("2026-12-01 22:55"), rows=copy.deepcopy(SHOP), state=state)
    try:
        shop.tick(at("2026-12-01 22:55"))
        # the dead run: it claimed R01 for G01 at 23:00 and posted nothing else (its POST may or may not have left)
        state.claim(["R01:G01:20261201T1500Z"], rule_id="R01", group_id="G01",
                    scheduled_for=at("2026-12-01 23:00"), holder="dead-run", at=at("2026-12-01 23:00"))
        report = shop.tick(at("2026-12-01 23:02"))
        sent = state.get_sends(["R01:G01:20261201T1500Z", "R01:G02:20261201T1500Z", "R01:G03:20261201T1500Z"])
        assert sent["R01:G01:20261201T1500Z"].status == "unknown"
        assert sent["R01:G02:20261201T1500Z"].status == "sent"
        assert "R01:G03:20261201T1500Z" not in sent or sent["R01:G03:20261201T1500Z"].status != "claimed"
        assert not any(m["platform"] == "wecom" and "Good night" in m["text"] for m in shop.emulator.messages)
        assert report.unknown == 0                  # this run sent nothing it could not account for
        wb = load_workbook(shop.store.raw)
        assert any(r.send_id == "R01:G01:20261201T1500Z" and r.status == "unknown" for r in wb.sendlog)
    finally:
        shop.close()


def test_an_existing_workbook_is_imported_on_first_run_without_resending(state, tmp_path):
    """A workbook ticked for a day with the sheet as memory, then a state store appears: nothing goes out again."""
    shop = Shop(at("2026-12-01 09:55"), rows=copy.deepcopy(SHOP))
    try:
        for t in ("2026-12-01 09:55", "2026-12-01 10:05", "2026-12-01 23:05"):
            shop.tick(at(t))
        before = len(shop.emulator.messages)
        shop.state = state
        shop.store.raw["Settings"] = [row for row in shop.store.raw["Settings"] if row[0] != "last_tick"]
        shop.tick(at("2026-12-01 23:10"))           # first run on the store; last_tick lost too: catch-up window
        assert len(shop.emulator.messages) == before
        assert state.cursor("sendlog_imported")
        assert {s.status for s in state.sends()} >= {"sent"}
    finally:
        shop.close()


def test_a_dry_run_leaves_the_state_store_untouched(state):
    shop = Shop(at("2026-12-01 09:55"), rows=copy.deepcopy(SHOP), state=state)
    try:
        shop.tick(at("2026-12-01 10:05"), dry_run=True)
        assert state.sends() == [] and state.cursor("last_tick") is None
    finally:
        shop.close()


def test_last_tick_in_the_store_never_moves_back(state):
    shop = Shop(at("2026-12-01 09:55"), rows=copy.deepcopy(SHOP), state=state)
    try:
        shop.tick(at("2026-12-01 10:05"))
        shop.store.raw["Settings"] = [row for row in shop.store.raw["Settings"] if row[0] != "last_tick"]
        report = shop.tick(at("2026-12-01 10:10"))
        assert report.window[0] == at("2026-12-01 10:05").astimezone(ZoneInfo("UTC")).isoformat()
        assert state.cursor("last_tick").startswith("2026-12-01T02:10")
    finally:
        shop.close()


@pytest.fixture
def google_shop(state):
    import random

    from helpers import make_raw
    from qunflow.stores.gsheets import GoogleSheetsStore
    from sheets_fake import FakeSheetsServer, gspread_session
    with FakeSheetsServer() as server:
        server.create_spreadsheet("SHOP", make_raw(copy.deepcopy(SHOP)))
        store = GoogleSheetsStore("SHOP", session=gspread_session(server.base_url), sleep=lambda s: None,
                                  rng=random.Random(0), attempts=3)
        shop = Shop(at("2026-12-01 09:55"), store=store, state=state)
        yield server, store, shop
        shop.close()


def test_on_google_the_write_ahead_is_gone_and_a_tick_is_one_read_and_one_batch(google_shop):
    server, store, shop = google_shop
    store.read()                                    # learn the tab titles once
    for minute in range(0, 24 * 60, 20):
        server.reset_counts()
        report = shop.tick(at("2026-12-01 09:55") + timedelta(minutes=minute))
        assert server.count("values.batchGet") == 1 and server.request_count - 1 <= 2, server.requests
        assert report.sheets_requests == {"read": 1, "write": report.sheets_requests["write"]}
        assert report.sheets_requests["write"] <= 2
    wb = load_workbook(store.read().raw)
    assert not [r for r in wb.sendlog if r.status == "pending"]              # nothing written ahead
    sent = [r.send_id for r in wb.sendlog if r.status == "sent"]
    assert len(sent) == len(set(sent)) >= 4


def test_on_google_a_failed_write_back_loses_nothing_and_posts_nothing_twice(google_shop):
    server, store, shop = google_shop
    shop.tick(at("2026-12-01 09:55"))
    server.inject(500, count=10, kind="values.batchUpdate")
    with pytest.raises(Exception):
        shop.tick(at("2026-12-01 10:01"))          # the 10:00 tip goes out, then the write-back fails
    server.inject(500, count=0, kind="values.batchUpdate")
    assert len(shop.emulator.messages) == 1
    report = shop.tick(at("2026-12-01 10:06"))
    assert report.sent == 0 and len(shop.emulator.messages) == 1
    wb = load_workbook(store.read().raw)
    assert [r.status for r in wb.sendlog if r.send_id.startswith("C01:G01")] == ["sent"]   # projected once


def test_ingest_with_a_state_store_never_writes_the_sheet_and_the_tick_folds_the_inbox(state, google_shop):
    """Ingest answers from the inbox (one read of the sheet, no write, no lease to wait for); the next tick
    appends the events to the Events tab once, welcomes the newcomer and marks the events taken."""
    import json as _json

    from qunflow.jobs.ingest import ingest_into, sign
    server, store, shop = google_shop
    shop.tick(at("2026-12-01 09:55"))
    payload = {"events": [{"event_id": "IN-1", "type": "join", "member_id": "N0009", "group_id": "G01",
                           "at": "2026-12-01T09:57:00+08:00", "detail": "name=Nine; user=nine"}]}
    body = _json.dumps(payload).encode()
    now = at("2026-12-01 09:58").timestamp()
    headers = {"X-Qunflow-Timestamp": str(int(now)), "X-Qunflow-Signature": sign(body, "k3y-for-tests", int(now))}
    store.read()
    server.reset_counts()
    taken = store.lease

    def busy(name, seconds=0):
        raise AssertionError(f"ingest took the sheet's {name} lease")
    store.lease = busy                               # as if a tick held the sheet: ingest must not wait for it
    first = ingest_into(store, headers, body, "k3y-for-tests", now, state=state)
    again = ingest_into(store, headers, body, "k3y-for-tests", now, state=state)    # a retried delivery
    assert first.body() == {"accepted": 1, "duplicates": 0} and again.body() == {"accepted": 0, "duplicates": 1}
    assert server.count("values.batchGet") == 2 and server.request_count == 2      # reads only
    assert [e["event_id"] for e in state.pending_events()] == ["IN-1"]
    store.lease = taken
    shop.tick(at("2026-12-01 10:00"))
    shop.tick(at("2026-12-01 10:05"))
    wb = load_workbook(store.read().raw)
    assert [e.event_id for e in wb.events].count("IN-1") == 1
    assert wb.members["N0009"].welcomed_at is not None and wb.members["N0009"].coupon_code
    assert state.pending_events() == []
    assert sum("Nine" in m["text"] or "nine" in str(m.get("mentions")) for m in shop.emulator.messages) == 1


def test_on_google_an_append_whose_reply_was_lost_is_not_applied_twice(google_shop):
    """The Sheets fake carries out the append, then answers 500 (the reply lost): the retry finds the rows
    already there and adds nothing, so no Members or SendLog row is doubled."""
    server, store, shop = google_shop
    shop.tick(at("2026-12-01 09:55"))
    event = {"event_id": "J-LOST", "type": "join", "member_id": "N0077", "group_id": "G01", "at": "2026-12-01 09:56",
             "detail": "name=Seven; user=seven"}
    store.write(_append_events([event]), store.read(), "en")          # typed into the Events tab
    server.inject(500, count=1, kind="values.append", applied=True)
    shop.tick(at("2026-12-01 10:00"))
    wb = load_workbook(store.read().raw)
    members = [r for r in server.sheet_values("SHOP", "Members")[1:] if r and r[0] == "N0077"]
    assert len(members) == 1
    sent = [r.send_id for r in wb.sendlog]
    assert len(sent) == len(set(sent)), Counter(sent).most_common(3)
    assert not [p for p in wb.problems if "already" in p.message]


def _append_events(events):
    from qunflow.sheet.changes import Changes
    changes = Changes()
    changes.append("events", events)
    return changes
