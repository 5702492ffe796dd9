"""Events are planned when they are first seen (issue #15, item 1), and one time is read one way everywhere.

The tick end to end: MemoryStore + the emulator over real HTTP, on a virtual clock."""
import copy
import json
from datetime import datetime, timedelta, timezone

from engine_harness import SHOP, Shop
from qunflow.jobs.ingest import ingest_into, sign
from qunflow.sheet.load import load_workbook

UTC = timezone.utc
SECRET = "ingest-secret-for-tests-0001"  # checkov:skip=CKV_SECRET_6: test fixture


def at(text: str) -> datetime:  # Asia/Shanghai wall time → UTC
    return datetime.fromisoformat(text + "+08:00").astimezone(UTC)


def add_member(shop, **row):
    raw = shop.store.raw
    header = raw["Members"][0]
    raw["Members"].append([row.get(h, "") for h in header])


def welcomes(shop):
    return [m for m in shop.emulator.messages if "Welcome" in m["text"]]


def latest_rows(shop):
    out = {}
    for r in load_workbook(shop.store.raw).sendlog:
        out[r.send_id] = r
    return out


def test_a_join_typed_after_the_tick_that_covered_it_is_still_welcomed_once():
    shop = Shop(at("2026-12-01 09:55"))
    try:
        shop.tick(at("2026-12-01 09:55"))
        shop.tick(at("2026-12-01 10:00"))
        # the join is dated 10 minutes before the previous tick; it reaches the sheet only now
        add_member(shop, member_id="N001", name="Late", group_id="G01", platform_user_id="late1",
                   joined_at="2026-12-01 09:50")
        report = shop.tick(at("2026-12-01 10:05"))
        assert report.sent >= 1
        assert len(welcomes(shop)) == 1 and "late1" in json.dumps(welcomes(shop)[0]["payload"])
        shop.tick(at("2026-12-01 10:10"))
        shop.tick(at("2026-12-01 12:00"))
        assert len(welcomes(shop)) == 1
        wb = load_workbook(shop.store.raw)
        assert wb.members["N001"].welcomed_at is not None and wb.members["N001"].coupon_code
    finally:
        shop.close()


def test_a_join_seen_beyond_welcome_window_is_recorded_missed_with_the_reason():
    shop = Shop(at("2026-12-01 16:55"))
    try:
        shop.tick(at("2026-12-01 16:55"))
        add_member(shop, member_id="N002", name="Old", group_id="G02", platform_user_id="old1",
                   joined_at="2026-12-01 09:00")          # 8 hours before it is seen; welcome_window is 6h
        shop.tick(at("2026-12-01 17:00"))
        shop.tick(at("2026-12-01 17:05"))
        assert welcomes(shop) == []
        rows = [r for r in latest_rows(shop).values() if r.member_id == "N002"]
        assert [(r.rule_id, r.status) for r in rows] == [("W01", "missed")]
        assert "welcome_window" in rows[0].outcome and "seen" in rows[0].outcome
    finally:
        shop.close()


def test_an_ingested_join_with_an_offset_is_welcomed_once_whatever_the_zones():
    rows = copy.deepcopy(SHOP)
    rows["groups"][0]["timezone"] = "America/New_York"    # the Settings zone stays Asia/Shanghai: 13 hours apart
    joined = datetime(2026, 12, 1, 10, 2, tzinfo=timezone(timedelta(hours=-5)))   # 15:02 UTC
    shop = Shop(joined - timedelta(minutes=7), rows=rows)
    try:
        shop.tick(joined - timedelta(minutes=7))
        body = json.dumps({"events": [{"event_id": "E9001", "type": "join", "member_id": "N003", "group_id": "G01",
                                       "at": joined.isoformat(), "detail": "name=Ny; user=ny1"}]}).encode()
        stamp = int((joined + timedelta(minutes=1)).timestamp())
        headers = {"X-Qunflow-Timestamp": str(stamp), "X-Qunflow-Signature": sign(body, SECRET, stamp)}
        result = ingest_into(shop.store, headers, body, SECRET, stamp)
        assert result.ok, result.error
        shop.tick(joined + timedelta(minutes=3))               # the day-1 tip goes first; the welcome 2 minutes on
        shop.tick(joined + timedelta(minutes=8))
        assert len(welcomes(shop)) == 1 and "ny1" in json.dumps(welcomes(shop)[0]["payload"])
        shop.tick(joined + timedelta(hours=14))                # past where a 13-hour misreading would put it
        shop.tick(joined + timedelta(hours=27))
        assert len(welcomes(shop)) == 1
        wb = load_workbook(shop.store.raw)
        assert wb.members["N003"].joined_at == datetime(2026, 12, 1, 10, 2)   # the group's wall clock
    finally:
        shop.close()


def test_a_follow_up_whose_time_passed_before_the_join_was_seen_goes_out_late_within_catch_up_or_is_missed():
    rows = copy.deepcopy(SHOP)
    rows["sop"].append({"rule_id": "F01", "groups": "*", "schedule": "join+1d 10:00", "content": "Day two {{ mentions }}",
                        "mention": "new"})
    shop = Shop(at("2026-12-02 10:15"), rows=rows)
    try:
        shop.tick(at("2026-12-02 10:15"))
        # both joined yesterday; their rows reach the sheet after their 10:00 follow-up was due
        add_member(shop, member_id="N004", name="A", group_id="G01", platform_user_id="a1", joined_at="2026-12-01 09:00",
                   welcomed_at="2026-12-01 09:05")
        shop.tick(at("2026-12-02 10:20"))                      # 20 minutes late: within catch_up (30m)
        assert [m["text"] for m in shop.emulator.messages if m["text"].startswith("Day two")] and \
            "a1" in json.dumps([m["payload"] for m in shop.emulator.messages])
        add_member(shop, member_id="N005", name="B", group_id="G02", platform_user_id="b1", joined_at="2026-12-01 09:00",
                   welcomed_at="2026-12-01 09:05")
        shop.tick(at("2026-12-02 11:00"))                      # an hour late: missed, with the reason
        late = [r for r in latest_rows(shop).values() if r.member_id == "N005" and r.rule_id == "F01"]
        assert [r.status for r in late] == ["missed"] and "seen" in late[0].outcome
        assert len([m for m in shop.emulator.messages if m["text"].startswith("Day two")]) == 1
    finally:
        shop.close()
