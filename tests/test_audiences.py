"""Who a post names (#15 items 2 and 7, #16 items 2 and 5): a segment that finds nobody sends nothing, each mentioned
member is named once on every platform, codes and streaks are each member's own, and 打卡 messages are check-ins.
The tick end to end: MemoryStore + the emulator over real HTTP, on a virtual clock."""
import copy
import random
from datetime import datetime, timezone

import pytest
import requests

from engine_harness import SHOP, Shop
from helpers import make_raw
from qunflow.clock import VirtualClock
from qunflow.delivery.secrets import SecretResolver
from qunflow.emulator import Bot, Emulator
from qunflow.jobs.tick import TickDeps, run_tick
from qunflow.sheet.load import load_workbook
from qunflow.stores.memory import MemoryStore

UTC = timezone.utc


def at(text: str) -> datetime:  # Asia/Shanghai wall time → UTC
    return datetime.fromisoformat(text + "+08:00").astimezone(UTC)


def checkin_shop(sop: list[dict], events: list[dict], language: str = "en", coupons: list[dict] | None = None,
                 group: dict | None = None) -> Shop:
    """The engine harness's shop plus a check-in group G04 (WeCom) with three members, Bird0..Bird2."""
    rows = copy.deepcopy(SHOP)
    rows["settings"] = [s for s in rows["settings"] if s["key"] != "language"] + [{"key": "language", "value": language}]
    rows["groups"].append(dict({"group_id": "G04", "name": "Early birds", "platform": "wecom",
                                "webhook": "env:QUNFLOW_HOOK_G01", "kind": "checkin"}, **(group or {})))
    rows["members"] += [{"member_id": f"K{i}", "name": f"Bird{i}", "group_id": "G04", "platform_user_id": f"bird{i}",
                         "joined_at": "2026-11-01 08:00", "welcomed_at": "2026-11-01 08:01"} for i in range(3)]
    for code, update in (coupons or []):
        next(c for c in rows["coupons"] if c["code"] == code).update(update)
    rows["events"] = events
    rows["sop"] = sop
    return Shop(at("2026-12-01 09:55"), rows=rows)


def checkins(member: str, days: range, month: str = "2026-11", kind: str = "checkin", detail: str = "") -> list[dict]:
    return [{"event_id": f"{member}-{month}-{d}-{kind}", "type": kind, "member_id": member, "group_id": "G04",
             "at": f"{month}-{d:02d} 07:10", "detail": detail} for d in days]


def sendlog(shop, rule_id: str):
    return [r for r in load_workbook(shop.store.raw).sendlog if r.rule_id == rule_id]


# ---- #15 item 2, #16 item 5: a segment that finds nobody sends nothing ------------------------------------------

@pytest.mark.parametrize("language, reason", [("en", "nobody to mention"), ("zh-CN", "没有可@的成员")])
def test_a_streak_milestone_nobody_reached_posts_nothing_and_is_recorded_skipped(language, reason):
    """Why: `streak:21` posted "恭喜  连续打卡 21 天！" with nobody @-mentioned."""
    shop = checkin_shop([{"rule_id": "CK21", "groups": "G04", "schedule": "daily 21:00",
                          "content": "恭喜 {{ mentions }} 连续打卡 21 天！", "mention": "streak:21"}],
                        checkins("K0", range(25, 31)), language=language)  # a 6-day streak, not 21
    try:
        shop.tick(at("2026-12-01 20:55"))
        report = shop.tick(at("2026-12-01 21:01"))
        assert [m for m in shop.emulator.messages if "连续打卡" in m["text"]] == []
        rows = sendlog(shop, "CK21")
        assert [r.status for r in rows] == ["skipped"] and reason in rows[0].outcome and "streak:21" in rows[0].outcome
        assert report.skipped == 1 and report.sent == 0
        assert shop.tick(at("2026-12-01 21:06")).skipped == 0  # recorded once, never planned again
    finally:
        shop.close()


def test_expiring_with_no_coupon_expiring_posts_nothing():
    """Why: `expiring:3` posted "你的券快过期啦：" every day, even when no coupon was expiring."""
    shop = checkin_shop([{"rule_id": "EX3", "groups": "G04", "schedule": "daily 10:00",
                          "content": "你的券快过期啦：{{ mentions }}", "mention": "expiring:3"}], [],
                        coupons=[("WEL-001", {"status": "issued", "member_id": "K0", "issued_at": "2026-11-28 10:00",
                                              "expires_at": "2026-12-07 23:59"})])  # 6 days left, not 3
    try:
        shop.tick(at("2026-12-01 09:55"))
        shop.tick(at("2026-12-01 10:01"))
        assert [m for m in shop.emulator.messages if "过期" in m["text"]] == []
        assert [r.status for r in sendlog(shop, "EX3")] == ["skipped"]
        shop.tick(at("2026-12-04 09:55"))   # on Dec 4 the code has 3 days left: K0 is told, with their own code
        shop.tick(at("2026-12-04 10:01"))
        posts = [m for m in shop.emulator.messages if "过期" in m["text"]]
        assert len(posts) == 1 and posts[0]["mentions"] == ["bird0"]
    finally:
        shop.close()


def test_an_expiring_code_is_each_members_own():
    """Why: a member's own value (here the code about to expire) had no per-member variable at all."""
    expiring = {"status": "issued", "issued_at": "2026-11-28 10:00", "expires_at": "2026-12-04 23:59"}
    shop = checkin_shop([{"rule_id": "EX3", "groups": "G04", "schedule": "daily 10:00", "coupon_display": "masked",
                          "content": "{{ mentions }} 你的券 {{ expiring_code }} 3 天后过期", "mention": "expiring:3"}], [],
                        coupons=[("WEL-001", dict(expiring, member_id="K0")), ("WEL-002", dict(expiring, member_id="K1"))])
    try:
        shop.tick(at("2026-12-01 09:55"))
        shop.tick(at("2026-12-01 10:01"))
        posts = sorted((m["mentions"], m["text"]) for m in shop.emulator.messages if "过期" in m["text"])
        assert posts == [(["bird0"], "你的券 WEL-****01 3 天后过期"), (["bird1"], "你的券 WEL-****02 3 天后过期")]
        assert sorted((r.member_id, r.status) for r in sendlog(shop, "EX3")) == [("K0", "sent"), ("K1", "sent")]
    finally:
        shop.close()


def test_mention_all_and_none_post_without_a_segment():
    shop = checkin_shop([{"rule_id": "A1", "groups": "G04", "schedule": "daily 10:00", "content": "Hello all",
                          "mention": "all"},
                         {"rule_id": "N1", "groups": "G04", "schedule": "daily 10:00", "content": "Hello, nobody named",
                          "mention": "none"}], [])
    try:
        shop.tick(at("2026-12-01 09:55"))
        shop.tick(at("2026-12-01 10:01"))
        texts = {m["text"]: m["mentions"] for m in shop.emulator.messages}
        assert texts == {"Hello all": ["all"], "Hello, nobody named": []}
    finally:
        shop.close()


# ---- #16 item 5: milestones for those who reached them, each with their own streak --------------------------------

def test_a_milestone_mentions_those_who_reached_it_each_with_their_own_streak():
    """Why: there was no per-member {{ streak }}; a milestone for several members read nobody's streak."""
    events = (checkins("K0", range(25, 31)) + checkins("K0", range(1, 2), "2026-12")      # 7 days through Dec 1
              + checkins("K1", range(1, 2), "2026-12")                                     # 1 day
              + checkins("K2", range(28, 31)) + checkins("K2", range(1, 2), "2026-12"))   # 4 days
    shop = checkin_shop([{"rule_id": "MS", "groups": "G04", "schedule": "daily 21:00",
                          "content": "🎉 {{ mentions }} 连续打卡 {{ streak }} 天！", "mention": "streak:4,7,21"}], events)
    try:
        shop.tick(at("2026-12-01 20:55"))
        shop.tick(at("2026-12-01 21:01"))
        posts = sorted((m["mentions"], m["text"]) for m in shop.emulator.messages if "连续打卡" in m["text"])
        assert posts == [(["bird0"], "🎉 连续打卡 7 天！"), (["bird2"], "🎉 连续打卡 4 天！")]
        rows = sendlog(shop, "MS")
        assert sorted((r.member_id, r.status) for r in rows) == [("K0", "sent"), ("K2", "sent")]
        before = len(shop.emulator.messages)
        shop.tick(at("2026-12-01 21:06"))
        assert len(shop.emulator.messages) == before
    finally:
        shop.close()


@pytest.mark.parametrize("group, detail, counted", [
    ({}, "打卡 今天穿了风衣", True),                        # kind: checkin → 打卡 by default
    ({"checkin_keyword": "早安"}, "早安！今日穿搭", True),    # the group's own keyword
    ({"checkin_keyword": "早安"}, "打卡 今天穿了风衣", False),
])
def test_a_message_with_the_checkin_keyword_counts_as_that_days_checkin(group, detail, counted):
    """Why: check-ins counted only when an event said `checkin`; in a real 打卡 group members post 打卡."""
    events = checkins("K0", range(28, 31), kind="message", detail=detail) \
        + checkins("K0", range(1, 2), "2026-12", kind="message", detail=detail)
    # a message at 00:30 Shanghai on Dec 2 (16:30 UTC on Dec 1) is a check-in for Dec 2, the group's day
    events.append({"event_id": "late", "type": "message", "member_id": "K1", "group_id": "G04",
                   "at": "2026-12-01T16:30:00+00:00", "detail": detail})
    shop = checkin_shop([{"rule_id": "MS", "groups": "G04", "schedule": "daily 21:00",
                          "content": "{{ mentions }} 已连续打卡 4 天", "mention": "streak:4"},
                         {"rule_id": "NC", "groups": "G04", "schedule": "daily 09:00",
                          "content": "还没打卡：{{ mentions }}", "mention": "not_checked_in"}], events, group=group)
    try:
        shop.tick(at("2026-12-01 20:55"))
        shop.tick(at("2026-12-01 21:01"))
        posts = [m for m in shop.emulator.messages if "已连续打卡" in m["text"]]
        assert [(m["mentions"], m["text"]) for m in posts] == ([(["bird0"], "已连续打卡 4 天")] if counted else [])
        shop.tick(at("2026-12-02 09:01"))
        reminder = next(m for m in shop.emulator.messages if "还没打卡" in m["text"])
        assert ("bird1" not in reminder["mentions"]) is counted
    finally:
        shop.close()


# ---- #16 item 2: coupon_display ------------------------------------------------------------------------------------

def _join_three(shop):
    shop.tick(at("2026-12-01 09:55"))
    raw = shop.store.raw
    header = raw["Members"][0]
    for i in range(3):
        row = {"member_id": f"N{i}", "name": f"New{i}", "group_id": "G01", "platform_user_id": f"new{i}",
               "joined_at": "2026-12-01 09:57"}
        raw["Members"].append([row.get(h, "") for h in header])
    shop.tick(at("2026-12-01 10:00"))
    wb = load_workbook(shop.store.raw)
    return [m for m in shop.emulator.messages if "Welcome" in m["text"]], {f"N{i}": wb.members[f"N{i}"].coupon_code
                                                                             for i in range(3)}


@pytest.mark.parametrize("setting, rule", [(None, None), ("full", "none"), ("none", None)])
def test_by_default_the_welcome_posts_no_code_in_the_group(setting, rule):
    """Why: the welcome posted every newcomer's code in the group ("你的专属券：新人1 WEL-1、新人2 WEL-2…")."""
    rows = copy.deepcopy(SHOP)
    if setting:
        rows["settings"].append({"key": "coupon_display", "value": setting})
    rows["sop"][2]["coupon_display"] = rule
    shop = Shop(at("2026-12-01 09:55"), rows=rows)
    try:
        welcomes, codes = _join_three(shop)
        assert len(welcomes) == 1 and sorted(welcomes[0]["mentions"]) == ["new0", "new1", "new2"]
        assert all(codes.values()) and not any(code in welcomes[0]["text"] for code in codes.values())
        assert "member account" in welcomes[0]["text"]
    finally:
        shop.close()


@pytest.mark.parametrize("display, shown", [("full", lambda code: code), ("masked", lambda code: "WEL-****" + code[-2:])])
def test_a_shown_code_is_the_mentioned_members_own_and_nobody_elses(display, shown):
    rows = copy.deepcopy(SHOP)
    rows["sop"][2]["coupon_display"] = display
    shop = Shop(at("2026-12-01 09:55"), rows=rows)
    try:
        welcomes, codes = _join_three(shop)
        assert len(welcomes) == 3   # one per newcomer: each reads their own code
        for post in welcomes:
            (uid,) = post["mentions"]
            own = codes["N" + uid[-1]]
            assert shown(own) in post["text"]
            assert not any(code in post["text"] or shown(code) in post["text"] for code in codes.values() if code != own)
        shop.tick(at("2026-12-01 10:05"))    # each copy is remembered: none goes out again (the day's tip, spread
        # by the collision guard from 10:00 to 10:02, goes out now)
        assert not any("Welcome" in m["text"] for m in shop.emulator.messages if m["at"].startswith("2026-12-01T02:05"))
        assert len([m for m in shop.emulator.messages if "Welcome" in m["text"]]) == 3
        wb = load_workbook(shop.store.raw)
        assert all(wb.members[mid].welcomed_at for mid in codes)
    finally:
        shop.close()


# ---- #15 item 7: one mention per person, on all six platforms ------------------------------------------------------

SIX = [
    ("wecom", Bot("wecom", "wecom-key-aud-0000000000000001"), "liting"),
    ("dingtalk", Bot("dingtalk", "ding-token-aud-000000000000001", secret="SEC-ding-aud-0000000000000001"), "liting-dt"),
    ("feishu", Bot("feishu", "feishu-hook-aud-000000000001", secret="feishu-sign-aud-000000000001"), "ou_1001"),
    ("slack", Bot("slack", "T0AUD0001/B0AUD0001/XAUD00000000000000000001"), "U1001AUD"),
    ("discord", Bot("discord", "112233445566778899/aud-webhook-token-0001"), "80000000000000001"),
    ("telegram", Bot("telegram", "123456:AUD-token_00000000001"), "7001001"),
]
NAMES = ["李婷婷", "王小雨", "张晓梅", "刘佳怡", "陈思琪", "杨欣然"]


def times_named(record: dict, name: str, uid: str | None) -> int:
    """How often a member sees this person named: their name or user id in the text as delivered, plus WeCom's
    mentioned_list, which a text message shows by itself."""
    text = record["text"]
    shown = text.count(name) + (text.count(uid) if uid else 0)
    if record["platform"] == "wecom" and record["msgtype"] == "text" and uid:
        shown += record["mentions"].count(uid)
    return shown


@pytest.fixture
def six_platforms():
    clock = VirtualClock(at("2026-12-01 09:55"))
    emulator = Emulator([b for _, b, _ in SIX], clock=clock)
    emulator.start()
    env = {}
    groups, members = [], []
    for i, (platform, bot, uid) in enumerate(SIX, start=1):
        url = emulator.webhook_url(bot) + ("?chat_id=-100200300" if platform == "telegram" else "")
        env[f"QUNFLOW_HOOK_P{i}"] = url
        group = {"group_id": f"P{i}", "name": f"Shop {platform}", "platform": platform,
                 "webhook": f"env:QUNFLOW_HOOK_P{i}", "kind": "traffic"}
        if bot.secret:
            env[f"QUNFLOW_SIGN_P{i}"] = bot.secret
            group["secret"] = f"env:QUNFLOW_SIGN_P{i}"
        groups.append(group)
        members += [{"member_id": f"N{i}", "name": NAMES[i - 1], "group_id": f"P{i}", "platform_user_id": uid,
                     "joined_at": "2026-12-01 09:57"},
                    {"member_id": f"Q{i}", "name": f"赵可馨{i}", "group_id": f"P{i}", "joined_at": "2026-12-01 09:57"}]

    def run(template: str, msg_type: str = "text") -> list[dict]:
        rows = {"settings": [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": "zh-CN"}],
                "groups": groups, "members": members, "templates": [{"name": "welcome", "content": template}],
                "sop": [{"rule_id": "W01", "groups": "*", "schedule": "on join", "content": "template:welcome",
                         "mention": "new", "msg_type": msg_type}]}
        store = MemoryStore(make_raw(copy.deepcopy(rows)))
        deps = TickDeps(session=requests.Session(), clock=clock, sleep=clock.sleep, rng=random.Random(1),
                        resolver=SecretResolver(env=env))
        clock.set(at("2026-12-01 10:00"))
        report = run_tick(store, clock.now(), deps)
        assert report.sent == 6 and report.failed == 0
        return list(emulator.messages)

    yield run
    emulator.stop()


@pytest.mark.parametrize("msg_type", ["text", "markdown", "news"])
@pytest.mark.parametrize("template, plain_named", [
    ("欢迎 {{ mentions }} 加入「{{ group_name }}」！", 1),
    ("{{ mentions }} 你好！欢迎 {{ mentions }} 加入「{{ group_name }}」", 1),   # the template says it twice
    ("欢迎加入「{{ group_name }}」！", 0),                                     # the template does not say it
])
def test_each_mentioned_member_is_named_once_on_every_platform(six_platforms, template, plain_named, msg_type):
    """Why: on Feishu the welcome was `<at user_id="u1001">李婷婷</at> 欢迎 @李婷婷 加入…`, and the same doubling
    showed on DingTalk, Slack, Discord and Telegram: the platform layer added a native mention and the template's
    {{ mentions }} a plain one."""
    delivered = six_platforms(template, msg_type)
    assert sorted(m["platform"] for m in delivered) == sorted(p for p, _, _ in SIX)
    for i, (platform, _, uid) in enumerate(SIX, start=1):
        (record,) = [m for m in delivered if m["platform"] == platform]
        assert times_named(record, NAMES[i - 1], uid) == 1, (platform, record["text"])
        assert record["mentions"].count(uid) == 1, (platform, record["mentions"])   # notified natively, once
        assert times_named(record, f"赵可馨{i}", None) == plain_named, (platform, record["text"])  # no user id: @name
        assert "\ue000" not in record["text"] and "{{" not in record["text"]


def test_a_per_member_copy_deferred_by_the_daily_cap_comes_back_for_its_member_alone():
    rows = copy.deepcopy(SHOP)
    rows["groups"][0]["daily_cap"] = 2            # G01: two welcomes today, the third waits a day
    rows["sop"][2]["coupon_display"] = "full"
    shop = Shop(at("2026-12-01 09:55"), rows=rows)
    try:
        welcomes, codes = _join_three(shop)
        assert len(welcomes) == 2
        assert sorted(r.status for r in sendlog(shop, "W01")) == ["deferred", "sent", "sent"]
        for t in ("2026-12-01 23:55", "2026-12-02 00:01", "2026-12-02 09:55", "2026-12-02 10:00", "2026-12-02 10:05"):
            # the cap defers to the next day at the send's own time of day (09:57), never at midnight (#15)
            shop.tick(at(t))
        welcomes = [m for m in shop.emulator.messages if "Welcome" in m["text"]]
        assert sorted(tuple(m["mentions"]) for m in welcomes) == [("new0",), ("new1",), ("new2",)]
        wb = load_workbook(shop.store.raw)
        codes = {mid: wb.members[mid].coupon_code for mid in codes}
        assert all(codes.values()) and len(set(codes.values())) == 3
        for post in welcomes:
            own = codes["N" + post["mentions"][0][-1]]
            assert own in post["text"] and sum(code in post["text"] for code in codes.values()) == 1
        wb = load_workbook(shop.store.raw)
        assert all(wb.members[mid].welcomed_at for mid in codes)
        latest = {r.send_id: r.status for r in wb.sendlog if r.rule_id == "W01"}
        assert sorted(latest.values()) == ["sent", "sent", "sent"]
    finally:
        shop.close()


def test_tag_rules_see_keyword_check_ins_too():
    from zoneinfo import ZoneInfo
    from qunflow.members.tags import member_facts
    from qunflow.sheet.records import Event, Group, Member
    group = Group("G04", "Early birds", "wecom", "env:QUNFLOW_X", "checkin", timezone=ZoneInfo("Asia/Shanghai"))
    events = [Event(f"E{d}", "message", "K0", datetime(2026, 12, d, 7, 10), group_id="G04", detail="打卡 风衣")
              for d in (7, 8, 9)] + [Event("E0", "message", "K0", datetime(2026, 12, 9, 12), group_id="G04", detail="好看")]
    facts = member_facts(Member("K0", "Bird0", "G04"), events, datetime(2026, 12, 9, 20), group)
    assert (facts["checkins"], facts["streak"], facts["messages"]) == (3, 3, 4)
