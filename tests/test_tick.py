"""The tick end to end: MemoryStore + the emulator over real HTTP, on a virtual clock."""
from datetime import datetime, timedelta, timezone

import pytest

from engine_harness import Shop
from qunflow.sheet.load import load_workbook

UTC = timezone.utc


def at(text: str) -> datetime:  # Asia/Shanghai wall time → UTC
    return datetime.fromisoformat(text + "+08:00").astimezone(UTC)


@pytest.fixture
def shop():
    s = Shop(at("2026-12-01 09:55"))
    yield s
    s.close()


def wb_of(shop):
    return load_workbook(shop.store.raw)


def test_a_day_of_ticks_posts_each_due_message_once(shop):
    for minute in range(0, 24 * 60, 5):
        shop.tick(at("2026-12-01 09:55") + timedelta(minutes=minute))
    texts = [(m["platform"], m["text"]) for m in shop.emulator.messages]
    assert texts.count(("wecom", "Day 1 tip")) == 1
    assert texts.count(("wecom", "Good night from Spring deals")) == 1
    assert texts.count(("dingtalk", "Good night from Flash sale")) == 1
    # G03 has quiet hours 22:00-08:00: its 23:00 good night waits until 08:00 the next morning
    feishu = [m for m in shop.emulator.messages if m["platform"] == "feishu"]
    assert [m["text"] for m in feishu] == ["Good night from Style lab"]
    assert datetime.fromisoformat(feishu[0]["at"].replace("Z", "+00:00")) == at("2026-12-02 08:00")
    wb = wb_of(shop)
    statuses = {(r.rule_id, r.group_id): r.status for r in wb.sendlog}
    assert statuses[("R01", "G01")] == "sent" and statuses[("C01", "G01")] == "sent"
    assert wb.settings.extra["last_tick"] is not None
    rule = next(r for r in wb.sop if r.rule_id == "R01")
    assert rule.status.startswith("next 2026-12-02 ")


def test_a_repeated_tick_at_the_same_moment_sends_nothing_twice(shop):
    moment = at("2026-12-01 10:02")
    first = shop.tick(moment)
    second = shop.tick(moment)
    assert first.sent == 1 and second.sent == 0 and second.due == 0
    assert len(shop.emulator.messages) == 1


def test_an_outage_longer_than_catch_up_records_missed_and_never_posts_late(shop):
    shop.tick(at("2026-12-01 09:55"))
    report = shop.tick(at("2026-12-01 11:00"))  # the 10:00 tip is 60 min old; catch_up is 30m
    assert report.missed == 1 and report.sent == 0
    assert shop.emulator.messages == []
    wb = wb_of(shop)
    assert [(r.rule_id, r.status) for r in wb.sendlog] == [("C01", "missed")]


def test_joins_get_one_batched_welcome_per_group_with_a_bound_coupon_each(shop):
    shop.tick(at("2026-12-01 09:55"))
    raw = shop.store.raw
    header = raw["Members"][0]
    for i in range(30):
        row = {"member_id": f"N{i:03d}", "name": f"New{i}", "group_id": "G01" if i % 2 else "G02",
               "platform_user_id": f"new{i}", "joined_at": "2026-12-01 09:57"}
        raw["Members"].append([row.get(h, "") for h in header])
    report = shop.tick(at("2026-12-01 10:00"))
    welcomes = [m for m in shop.emulator.messages if "Welcome" in m["text"]]
    assert len(welcomes) == 2  # one per group, not 30
    wb = wb_of(shop)
    new = [m for m in wb.members.values() if m.member_id.startswith("N")]
    assert all(m.welcomed_at is not None for m in new)
    codes = [m.coupon_code for m in new]
    assert len(set(codes)) == 30 and all(codes)
    assert all(wb.coupons[c].member_id == m.member_id and wb.coupons[c].status == "issued" for m, c in zip(new, codes))
    again = shop.tick(at("2026-12-01 10:05"))
    assert again.due == 0 and len([m for m in shop.emulator.messages if "Welcome" in m["text"]]) == 2


def test_a_removed_bot_disables_only_its_group(shop):
    shop.emulator.bots[0].dead = True  # the WeCom bot of G01 was removed from its group
    shop.tick(at("2026-12-01 23:01"))
    wb = wb_of(shop)
    assert wb.groups["G01"].status.startswith("dead since")
    assert any(p.tab == "Groups" and p.row == 2 and "robot" in p.message for p in wb.previous_problems)
    assert [m["platform"] for m in shop.emulator.messages] == ["dingtalk"]


def test_a_literal_webhook_of_a_removed_bot_is_masked_in_the_problems_tab():
    shop = Shop(at("2026-12-01 09:55"))
    try:
        key = shop.emulator.bots[0].token
        literal = shop.resolver.resolve("env:QUNFLOW_HOOK_G01")              # the full URL, key included
        shop.store.raw["Groups"][1][shop.store.raw["Groups"][0].index("webhook")] = literal
        shop.emulator.bots[0].dead = True
        shop.tick(at("2026-12-01 23:01"))
        problems = wb_of(shop).previous_problems
        dead = [p for p in problems if p.tab == "Groups" and p.row == 2 and "robot" in p.message]
        assert dead and key[:4] in dead[0].value and "…" in dead[0].value
        assert not [p for p in problems if key in p.value or key in p.message]
    finally:
        shop.close()


def test_clock_jumps_back_send_nothing_twice_and_forward_past_catch_up_record_missed(shop):
    shop.tick(at("2026-12-01 10:02"))  # the 10:00 tip goes out
    assert len(shop.emulator.messages) == 1
    back = shop.tick(jump_to=at("2026-12-01 09:30"))  # the clock jumped back: the window is empty
    assert back.due == 0 and len(shop.emulator.messages) == 1
    assert wb_of(shop).settings.extra["last_tick"] == at("2026-12-01 10:02")  # last_tick never moves back
    again = shop.tick(at("2026-12-01 10:04"))  # and forward again: still nothing twice
    assert again.due == 0 and len(shop.emulator.messages) == 1
    forward = shop.tick(at("2026-12-02 11:00"))  # jumped a day ahead: yesterday's 23:00 and today's 10:00 are late
    assert forward.sent == 0 and forward.missed >= 2
    wb = wb_of(shop)
    assert {r.status for r in wb.sendlog if r.scheduled_for and r.scheduled_for.day == 2} >= {"missed"}
