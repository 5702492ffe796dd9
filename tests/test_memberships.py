"""#16: a person in several groups, coupon problems that stay while the facts do, events that wait for their
time, and referrals credited when the invitee joins."""
import copy
from datetime import datetime

from engine_harness import SHOP, Shop
from qunflow.metrics.rollup import rollup
from qunflow.sheet.load import load_workbook
from helpers import at, add_events



def problems(shop, code_words):
    wb = load_workbook(shop.store.raw)
    return [p for p in wb.previous_problems if code_words in p.message]


def shop_with(settings=(), members=(), coupons=(), sop=None, events=()):
    rows = copy.deepcopy(SHOP)
    rows["settings"] += [{"key": k, "value": v} for k, v in settings]
    rows["members"] += list(members)
    rows["coupons"] += list(coupons)
    if sop is not None:
        rows["sop"] = sop
    rows["events"] = list(events)
    return Shop(at("2026-12-01 09:55"), rows=rows)


# --- memberships ------------------------------------------------------------------------------------------

def test_a_member_joining_a_second_group_gets_a_row_a_welcome_and_counts_once_in_the_shop():
    shop = shop_with()
    try:
        shop.tick(at("2026-12-01 09:55"))
        add_events(shop.store, [{"event_id": "J2", "type": "join", "member_id": "M0001", "group_id": "G02",
                                 "at": "2026-12-01 09:57", "detail": "channel=traffic"}])
        shop.tick(at("2026-12-01 10:00"))
        wb = load_workbook(shop.store.raw)
        rows = [m for m in wb.members.values() if m.member_id == "M0001"]
        assert [m.group_id for m in rows] == ["G01", "G02"]
        second = wb.members[("M0001", "G02")]
        assert second.name == "Lin" and second.platform_user_id == "lin" and second.welcomed_at is not None
        assert second.coupon_code and wb.coupons[second.coupon_code].member_id == "M0001"
        welcomes = [m for m in shop.emulator.messages if "Welcome" in m["text"]]
        assert [m["platform"] for m in welcomes] == ["dingtalk"] and "Flash sale" in welcomes[0]["text"]
        assert not [p for p in wb.previous_problems if "already" in p.message and p.tab == "Members"]
        facts_rows = {r["group_id"]: r for r in rollup(wb, [datetime(2026, 12, 1).date()]).metrics}
        assert facts_rows["G01"]["members"] == 1 and facts_rows["G02"]["members"] == 2   # memberships
        assert facts_rows["G01"]["shop_people"] == facts_rows["G02"]["shop_people"] == 2  # people: Lin once
        shop.tick(at("2026-12-01 10:05"))   # nothing new: the second row is not re-created nor re-welcomed
        wb = load_workbook(shop.store.raw)
        assert len([m for m in wb.members.values() if m.member_id == "M0001"]) == 2
        assert len([m for m in shop.emulator.messages if "Welcome" in m["text"]]) == 1
    finally:
        shop.close()


def test_leaving_one_group_keeps_the_other_membership_and_the_blacklist_spans_both():
    shop = shop_with(members=[{"member_id": "M0001", "name": "Lin", "group_id": "G02", "platform_user_id": "lin",
                               "joined_at": "2026-11-02 10:00", "welcomed_at": "2026-11-02 10:05"}])
    try:
        shop.tick(at("2026-12-01 09:55"))
        wb = load_workbook(shop.store.raw)
        assert not wb.problems or not [p for p in wb.problems if "already" in p.message]
        add_events(shop.store, [{"event_id": "L1", "type": "leave", "member_id": "M0001", "group_id": "G01",
                                 "at": "2026-12-01 09:58"}])
        shop.tick(at("2026-12-01 10:00"))
        wb = load_workbook(shop.store.raw)
        assert wb.members[("M0001", "G01")].left_at is not None and wb.members[("M0001", "G01")].status == "left"
        assert wb.members[("M0001", "G02")].left_at is None and wb.members[("M0001", "G02")].status == "active"
    finally:
        shop.close()


# --- coupons ----------------------------------------------------------------------------------------------

def test_the_transfer_flag_stays_on_the_next_tick_like_the_double_use_flag():
    shop = shop_with(events=[])
    try:
        shop.tick(at("2026-12-01 09:55"))
        raw = shop.store.raw
        wb = load_workbook(raw)
        add_events(shop.store, [
            {"event_id": "O1", "type": "order", "member_id": "M0002", "group_id": "G02", "at": "2026-12-01 09:56",
             "amount": 99, "coupon_code": "WEL-001", "detail": "order=A1"},
            {"event_id": "O2", "type": "order", "member_id": "M0002", "group_id": "G02", "at": "2026-12-01 09:57",
             "amount": 99, "coupon_code": "WEL-001", "detail": "order=A2"}])
        header = raw["Coupons"][0]
        row = next(r for r in raw["Coupons"][1:] if r[header.index("code")] == "WEL-001")
        row[header.index("member_id")], row[header.index("status")] = "M0001", "issued"
        assert wb.coupons["WEL-001"].member_id is None
        shop.tick(at("2026-12-01 10:00"))
        assert problems(shop, "not transferable") and problems(shop, "already redeemed")
        shop.tick(at("2026-12-01 10:05"))
        assert problems(shop, "not transferable") and problems(shop, "already redeemed")
    finally:
        shop.close()


def test_redeeming_an_expired_or_a_void_coupon_is_flagged_and_not_counted():
    coupons = [{"code": "OLD-1", "campaign": "recall", "kind": "recall", "status": "issued", "member_id": "M0001",
                "issued_at": "2026-11-01 10:00", "expires_at": "2026-11-08 23:59"},
               {"code": "VOID-1", "campaign": "recall", "kind": "recall", "status": "void", "member_id": "M0002"}]
    events = [{"event_id": "O1", "type": "order", "member_id": "M0001", "group_id": "G01", "at": "2026-11-20 10:00",
               "amount": 99, "coupon_code": "OLD-1", "detail": "order=B1"},
              {"event_id": "O2", "type": "order", "member_id": "M0002", "group_id": "G02", "at": "2026-11-21 10:00",
               "amount": 99, "coupon_code": "VOID-1", "detail": "order=B2"}]
    shop = shop_with(coupons=coupons, events=events)
    try:
        for tick in ("2026-12-01 09:55", "2026-12-01 10:00"):   # and it stays on the next tick
            shop.tick(at(tick))
            wb = load_workbook(shop.store.raw)
            assert wb.coupons["OLD-1"].status == "expired" and wb.coupons["VOID-1"].status == "void"
            assert problems(shop, "after it expired") and problems(shop, "is void but was redeemed")
    finally:
        shop.close()


def test_an_order_dated_in_the_future_redeems_its_coupon_only_when_its_time_comes():
    coupons = [{"code": "C-1", "campaign": "vip", "kind": "manual", "status": "issued", "member_id": "M0001",
                "issued_at": "2026-11-30 10:00", "expires_at": "2026-12-31 23:59"}]
    events = [{"event_id": "O1", "type": "order", "member_id": "M0001", "group_id": "G01", "at": "2026-12-03 10:00",
               "amount": 99, "coupon_code": "C-1", "detail": "order=F1"}]
    shop = shop_with(coupons=coupons, events=events)
    try:
        shop.tick(at("2026-12-01 09:55"))
        wb = load_workbook(shop.store.raw)
        assert wb.coupons["C-1"].status == "issued" and wb.coupons["C-1"].redeemed_at is None
        shop.tick(at("2026-12-03 10:01"))
        wb = load_workbook(shop.store.raw)
        assert wb.coupons["C-1"].status == "redeemed" and wb.coupons["C-1"].order_id == "F1"
    finally:
        shop.close()


# --- referral ---------------------------------------------------------------------------------------------

REFERRAL = [("referral_campaign", "invite30"), ("referral_threshold", "2")]
INVITE_CODES = [{"code": f"INV-{i}", "campaign": "invite30", "kind": "referral", "value": 30} for i in range(1, 4)]


def test_an_invite_before_the_join_sets_referred_by_and_the_k_factor():
    events = [{"event_id": "I1", "type": "invite", "member_id": "M0001", "group_id": "G01", "at": "2026-11-30 20:00",
               "detail": "user=friend1"},
              {"event_id": "I2", "type": "invite", "member_id": "M0001", "group_id": "G01", "at": "2026-11-30 20:01",
               "detail": "mobile=13600000002"},
              {"event_id": "J1", "type": "join", "member_id": "N1", "group_id": "G01", "at": "2026-12-01 09:00",
               "detail": "name=Friend1; user=friend1"},
              {"event_id": "J2", "type": "join", "member_id": "N2", "group_id": "G01", "at": "2026-12-01 09:10",
               "detail": "name=Friend2; user=friend2; mobile=13600000002"}]
    shop = shop_with(settings=REFERRAL, coupons=INVITE_CODES, events=events)
    try:
        shop.tick(at("2026-12-01 09:55"))
        wb = load_workbook(shop.store.raw)
        assert wb.members["N1"].referred_by == "M0001" and wb.members["N2"].referred_by == "M0001"
        reward = [c for c in wb.coupons.values() if c.campaign == "invite30" and c.member_id]
        assert [c.member_id for c in reward] == ["M0001"]
        row = next(r for r in rollup(wb, [datetime(2026, 12, 1).date()]).metrics if r["group_id"] == "G01")
        assert row["k_factor"] and row["k_factor"] > 0
    finally:
        shop.close()


def test_empty_invites_and_self_invites_earn_nothing_and_are_warnings():
    events = [{"event_id": f"I{i}", "type": "invite", "member_id": "M0001", "group_id": "G01",
               "at": f"2026-11-30 20:0{i}"} for i in range(3)]
    events += [{"event_id": "S1", "type": "invite", "member_id": "M0001", "group_id": "G01", "at": "2026-11-30 21:00",
                "detail": "user=lin"},
               {"event_id": "S2", "type": "invite", "member_id": "M0001", "group_id": "G01", "at": "2026-11-30 21:01",
                "detail": "member=M0001"},
               {"event_id": "A1", "type": "invite", "member_id": "M0001", "group_id": "G01", "at": "2026-11-30 21:02",
                "detail": "member=M0002"}]
    shop = shop_with(settings=REFERRAL, coupons=INVITE_CODES, events=events)
    try:
        shop.tick(at("2026-12-01 09:55"))
        wb = load_workbook(shop.store.raw)
        assert not [c for c in wb.coupons.values() if c.campaign == "invite30" and c.member_id]
        assert len(problems(shop, "names nobody")) == 3
        assert len(problems(shop, "invited themself")) == 2
        assert len(problems(shop, "was already in the shop")) == 1    # M0002 joined long before
        assert wb.members["M0002"].referred_by is None
    finally:
        shop.close()


def test_the_leaderboard_counts_joined_referrals_of_the_period_and_the_reward_is_announced():
    events = [  # an old referral (outside 7 days), a fresh one, and raw invites of nobody who joined
        {"event_id": "I0", "type": "invite", "member_id": "M0001", "group_id": "G01", "at": "2026-11-01 20:00",
         "detail": "member=N0"},
        {"event_id": "J0", "type": "join", "member_id": "N0", "group_id": "G01", "at": "2026-11-02 09:00"},
        {"event_id": "I1", "type": "invite", "member_id": "M0001", "group_id": "G01", "at": "2026-11-30 20:00",
         "detail": "member=N1"},
        {"event_id": "J1", "type": "join", "member_id": "N1", "group_id": "G01", "at": "2026-12-01 09:58"},
    ] + [{"event_id": f"X{i}", "type": "invite", "member_id": "M0003", "group_id": "G01", "at": "2026-11-30 10:00",
          "detail": f"member=ghost{i}"} for i in range(5)]
    members = [{"member_id": "M0003", "name": "Wu", "group_id": "G01", "platform_user_id": "wu",
                "joined_at": "2026-11-01 10:00", "welcomed_at": "2026-11-01 10:05"}]
    sop = [{"rule_id": "LB", "groups": "G01", "schedule": "daily 10:00", "content": "Top inviters:\n{{ leaderboard }}"},
           {"rule_id": "RW", "groups": "G01", "schedule": "daily 10:00", "content": "Thanks {{ mentions }}!",
            "mention": "rewarded"}]
    shop = shop_with(settings=REFERRAL, members=members, coupons=INVITE_CODES, sop=sop, events=events)
    try:
        shop.tick(at("2026-12-01 09:55"))   # N1's join is not due yet: no reward
        assert not load_workbook(shop.store.raw).coupons["INV-1"].member_id
        shop.tick(at("2026-12-01 10:00"))
        board = [m["text"] for m in shop.emulator.messages if "Top inviters" in m["text"]]
        assert board and "Lin 1" in board[0] and "Wu" not in board[0]
        thanks = [m for m in shop.emulator.messages if m["text"].startswith("Thanks")]
        # rewarded at the 2nd joined referral, and @-mentioned once: by WeCom's own mention list (user id lin)
        assert len(thanks) == 1 and thanks[0]["mentions"] == ["lin"] and "Lin" not in thanks[0]["text"]
        assert "lin" in str(thanks[0])                                      # @-mentioned on the platform
        assert load_workbook(shop.store.raw).coupons["INV-1"].member_id == "M0001"
    finally:
        shop.close()
