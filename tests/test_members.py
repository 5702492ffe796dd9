"""Members from events: joins welcomed once per group, the blacklist everywhere, coupons that are personal."""
import copy

import pytest

from engine_harness import SHOP, Shop
from helpers import add_events, at
from qunflow.sheet.load import load_workbook



@pytest.fixture
def shop():
    rows = copy.deepcopy(SHOP)
    rows["members"].append({"member_id": "B0001", "name": "Spammer", "group_id": "G01", "platform_user_id": "spam1",
                            "mobile": "13700000000", "status": "blacklisted", "joined_at": "2026-10-01 10:00"})
    rows["sop"].append({"rule_id": "T01", "groups": "*", "schedule": "daily 12:00", "content": "Lunch deal {{ mentions }}",
                        "mention": "tag:vip", "coupon": "welcome50"})
    s = Shop(at("2026-12-01 09:55"), rows=rows)
    yield s
    s.close()


def test_thirty_joins_in_a_minute_get_one_welcome_per_group_and_thirty_bound_coupons(shop):
    shop.tick(at("2026-12-01 09:55"))
    add_events(shop.store, [{"event_id": f"J{i:03d}", "type": "join", "member_id": f"N{i:03d}",
                             "group_id": ["G01", "G02", "G03"][i % 3], "at": f"2026-12-01 09:56:{i:02d}",
                             "detail": f"name=New{i}; channel=store; user=new{i}"} for i in range(30)])
    shop.tick(at("2026-12-01 10:00"))
    welcomes = [m for m in shop.emulator.messages if "Welcome" in m["text"]]
    assert sorted(m["platform"] for m in welcomes) == ["dingtalk", "feishu", "wecom"]
    wb = load_workbook(shop.store.raw)
    new = [wb.members[f"N{i:03d}"] for i in range(30)]
    assert all(m.welcomed_at and m.source == "store" and m.name.startswith("New") for m in new)
    codes = {m.coupon_code for m in new}
    assert len(codes) == 30 and all(wb.coupons[c].member_id for c in codes)
    assert all(wb.coupons[c].expires_at for c in codes)
    before = len(shop.emulator.messages)
    again = shop.tick(at("2026-12-01 10:05"))
    assert again.sent == 0 and len(shop.emulator.messages) == before


def test_a_blacklisted_member_is_never_mentioned_welcomed_or_given_a_coupon(shop):
    wb = load_workbook(shop.store.raw)
    shop.tick(at("2026-12-01 09:55"))
    # the same person (same platform user) joins another group under a new member id
    add_events(shop.store, [{"event_id": "J1", "type": "join", "member_id": "B0002", "group_id": "G02",
                             "at": "2026-12-01 09:57", "detail": "name=Spammer2; user=spam1"},
                            {"event_id": "J2", "type": "join", "member_id": "N0001", "group_id": "G02",
                             "at": "2026-12-01 09:58", "detail": "name=Fresh; user=fresh"}])
    raw = shop.store.raw
    header = raw["Members"][0]
    for row in raw["Members"][1:]:
        if row[header.index("member_id")] in ("B0001", "M0001"):
            row[header.index("tags")] = "vip"
    shop.tick(at("2026-12-01 10:00"))
    shop.tick(at("2026-12-01 12:01"))
    wb = load_workbook(shop.store.raw)
    assert wb.members["B0002"].status == "blacklisted" and wb.members["B0002"].welcomed_at is None
    assert wb.members["B0001"].coupon_code is None and wb.members["B0002"].coupon_code is None
    assert wb.members["N0001"].welcomed_at is not None
    for m in shop.emulator.messages:
        assert "Spammer" not in m["text"] and "spam1" not in str(m.get("mentions"))
    lunch = [m for m in shop.emulator.messages if "Lunch" in m["text"]]
    assert lunch and any("lin" in str(m.get("mentions")) for m in lunch)
    assert any(p.tab == "Events" and "blacklist" in p.message for p in wb.previous_problems)


def test_transferred_and_double_redemptions_are_flagged(shop):
    shop.tick(at("2026-12-01 09:55"))
    add_events(shop.store, [{"event_id": "J1", "type": "join", "member_id": "N0001", "group_id": "G01",
                             "at": "2026-12-01 09:56", "detail": "name=Fresh; user=fresh"}])
    shop.tick(at("2026-12-01 10:00"))
    code = load_workbook(shop.store.raw).members["N0001"].coupon_code
    add_events(shop.store, [
        {"event_id": "O1", "type": "order", "member_id": "M0001", "group_id": "G01", "at": "2026-12-01 10:02",
         "amount": 199, "coupon_code": code, "detail": "order=A100"},
        {"event_id": "O2", "type": "order", "member_id": "M0001", "group_id": "G01", "at": "2026-12-01 10:03",
         "amount": 99, "coupon_code": code, "detail": "order=A101"}])
    shop.tick(at("2026-12-01 10:05"))
    wb = load_workbook(shop.store.raw)
    assert wb.coupons[code].status == "redeemed" and wb.coupons[code].order_id == "A100"
    messages = " ".join(p.message for p in wb.previous_problems if p.tab == "Events")
    assert "not transferable" in messages and "already redeemed" in messages


def test_check_in_reminders_milestones_layers_and_coupon_expiry():
    rows = copy.deepcopy(SHOP)
    rows["groups"].append({"group_id": "G04", "name": "Early birds", "platform": "wecom", "webhook": "env:QUNFLOW_HOOK_G01",
                           "kind": "checkin"})
    rows["members"] += [{"member_id": f"K{i}", "name": f"Bird{i}", "group_id": "G04", "platform_user_id": f"bird{i}",
                         "joined_at": "2026-11-01 08:00", "welcomed_at": "2026-11-01 08:01"} for i in range(3)]
    rows["coupons"][0].update(status="issued", member_id="K0", issued_at="2026-11-28 10:00", expires_at="2026-12-03 23:59")
    rows["coupons"][1].update(status="issued", member_id="K1", issued_at="2026-11-20 10:00", expires_at="2026-11-30 23:59")
    rows["events"] = ([{"event_id": f"C0-{d}", "type": "checkin", "member_id": "K0", "group_id": "G04",
                        "at": f"2026-11-{d:02d} 07:10"} for d in range(24, 31)]  # 7 days in a row, through Nov 30
                      + [{"event_id": "C0-1201", "type": "checkin", "member_id": "K0", "group_id": "G04", "at": "2026-12-01 07:05"},
                         {"event_id": "C1-1201", "type": "checkin", "member_id": "K1", "group_id": "G04", "at": "2026-12-01 07:20"}]
                      + [{"event_id": f"M2-{i}", "type": "message", "member_id": "K2", "group_id": "G04",
                          "at": f"2026-11-{10 + i:02d} 12:00"} for i in range(20)])
    rows["sop"] = [
        {"rule_id": "CK1", "groups": "G04", "schedule": "daily 21:00", "content": "Not yet today: {{ mentions }}",
         "mention": "not_checked_in"},
        {"rule_id": "CK2", "groups": "G04", "schedule": "daily 21:05", "content": "Milestone! {{ mentions }}",
         "mention": "streak:7,8,21,30"},
        {"rule_id": "EX1", "groups": "G04", "schedule": "daily 10:00", "content": "Your coupon expires in 2 days {{ mentions }}",
         "mention": "expiring:2"},
    ]
    shop = Shop(at("2026-12-01 09:55"), rows=rows)
    try:
        for t in ("2026-12-01 09:55", "2026-12-01 10:01", "2026-12-01 21:01", "2026-12-01 21:06"):
            shop.tick(at(t))
        texts = {m["text"].split(" ")[0]: m for m in shop.emulator.messages}
        assert "bird2" in str(texts["Not"]["mentions"]) and "bird0" not in str(texts["Not"]["mentions"])
        assert str(texts["Milestone!"]["mentions"]).count("bird") == 1 and "bird0" in str(texts["Milestone!"]["mentions"])
        assert "bird0" in str(texts["Your"]["mentions"]) and "bird1" not in str(texts["Your"]["mentions"])
        wb = load_workbook(shop.store.raw)
        assert wb.coupons[rows["coupons"][1]["code"]].status == "expired"
        assert wb.members["K2"].layer == "core" and wb.members["K1"].layer == "periphery"
    finally:
        shop.close()


def test_thirty_joins_through_the_signed_ingest_endpoint_then_one_welcome_per_group(shop):
    import json

    from qunflow.jobs.ingest import ingest_into, sign
    shop.tick(at("2026-12-01 09:55"))
    body = json.dumps({"events": [{"event_id": f"I{i:03d}", "type": "join", "member_id": f"P{i:03d}",
                                   "group_id": ["G01", "G02", "G03"][i % 3], "at": f"2026-12-01T09:56:{i:02d}+08:00",
                                   "detail": f"name=Pat{i}; channel=qr-store; user=pat{i}"} for i in range(30)]}).encode()
    ts = int(at("2026-12-01 09:57").timestamp())
    headers = {"X-Qunflow-Timestamp": str(ts), "X-Qunflow-Signature": sign(body, "hmac-secret", ts)}
    result = ingest_into(shop.store, headers, body, "hmac-secret", ts)
    assert result.status == 200, result.error
    replay = ingest_into(shop.store, headers, body, "hmac-secret", ts + 5)
    assert replay.status == 200 and len(replay.duplicates) == 30  # the same event ids are written once
    shop.tick(at("2026-12-01 10:00"))
    welcomes = [m for m in shop.emulator.messages if "Welcome" in m["text"]]
    assert sorted(m["platform"] for m in welcomes) == ["dingtalk", "feishu", "wecom"]
    wb = load_workbook(shop.store.raw)
    new = [wb.members[f"P{i:03d}"] for i in range(30)]
    assert all(m.welcomed_at and m.coupon_code and m.source == "qr-store" for m in new)
    assert len({m.coupon_code for m in new}) == 30
    assert len([e for e in wb.events if e.event_id.startswith("I")]) == 30
    assert shop.tick(at("2026-12-01 10:05")).sent == 0
