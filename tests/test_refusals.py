"""Refusals classified by what they mean (#15 item 3), through the tick and the emulator over real HTTP:
a keyword miss refuses one message, a bad secret disables the group, a clock that is off is retried."""
from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from engine_harness import BOTS, SHOP, Shop
from helpers import make_raw
from qunflow.delivery.platforms import PLATFORMS
from qunflow.delivery.platforms.base import CLOCK, DISABLE_TARGET, KEYWORD, RETRY, SIGNATURE, settle_signature
from qunflow.emulator import Bot
from qunflow.sheet.load import load_workbook

UTC = timezone.utc
DING, FEISHU = BOTS[1], BOTS[2]


def at(text: str) -> datetime:  # Asia/Shanghai wall time → UTC
    return datetime.fromisoformat(text + "+08:00").astimezone(UTC)


def shop_with(sop: list[dict], groups: dict[str, dict] | None = None) -> Shop:
    rows = copy.deepcopy(SHOP)
    rows["sop"] = sop
    for g in rows["groups"]:
        g.update((groups or {}).get(g["group_id"], {}))
    return Shop(at("2026-12-01 09:55"), rows)


def problems(shop: Shop) -> list:
    return load_workbook(shop.store.raw).previous_problems


@pytest.mark.parametrize("bot,group", [(DING, "G02"), (FEISHU, "G03")])
def test_a_keyword_miss_refuses_that_message_and_the_robot_keeps_posting(bot, group):
    """Why: "A DingTalk keyword miss kills the robot" (310000 keywords not in content; Feishu 19024)."""
    shop = shop_with([
        {"rule_id": "K1", "groups": group, "schedule": "daily 10:00", "content": "Morning, everyone"},
        {"rule_id": "K2", "groups": group, "schedule": "daily 10:00", "content": "福利 of the day"},
        {"rule_id": "K3", "groups": group, "schedule": "daily 11:00", "content": "More 福利 at 11"},
    ], {group: {"keyword": "福利"}})
    try:
        shop.emulator.add_bot(Bot(bot.platform, bot.token, secret=bot.secret, keyword="福利"))
        first = shop.tick(at("2026-12-01 10:01"))
        found = [p for p in problems(shop) if p.tab == "SOP" and p.row == 2]            # K1 is the first SOP row
        assert any("requires the keyword 福利" in p.message and "add it to the text" in p.message for p in found)
        second = shop.tick(at("2026-12-01 11:01"))
        assert (first.sent, first.failed, second.sent) == (1, 1, 1)
        assert [m["text"] for m in shop.emulator.messages] == ["福利 of the day", "More 福利 at 11"]
        wb = load_workbook(shop.store.raw)
        outcome = {r.rule_id: (r.status, r.outcome) for r in wb.sendlog}
        assert outcome["K1"][0] == "failed" and "keyword" in outcome["K1"][1]
        assert outcome["K3"][0] == "sent"
        group_row = wb.groups[group]
        assert not (group_row.status or "").startswith("dead")                      # the robot is alive
        assert not [p for p in wb.previous_problems if p.tab == "Groups" and "stopped posting" in p.message]
    finally:
        shop.close()


def test_a_keyword_miss_names_the_fix_in_chinese_even_without_the_keyword_column():
    shop = shop_with([{"rule_id": "K1", "groups": "G02", "schedule": "daily 10:00", "content": "早上好"}])
    shop.store = type(shop.store)(make_raw(copy.deepcopy({**SHOP, "settings": [
        {"key": "timezone", "value": "Asia/Shanghai"}, {"key": "catch_up", "value": "30m"}],
        "sop": [{"rule_id": "K1", "groups": "G02", "schedule": "每天 10:00", "content": "早上好"}]}), lang="zh-CN"))
    try:
        shop.emulator.add_bot(Bot("dingtalk", DING.token, secret=DING.secret, keyword="福利"))
        report = shop.tick(at("2026-12-01 10:01"))
        assert report.failed == 1
        texts = [p.message for p in load_workbook(shop.store.raw).previous_problems]
        assert any("这个机器人要求消息包含它的安全关键词" in t and "请把关键词加进文案" in t for t in texts), texts
    finally:
        shop.close()


def test_validate_flags_every_rule_for_a_keyword_group_whose_text_lacks_it():
    rows = copy.deepcopy(SHOP)
    rows["groups"][1]["keyword"] = "福利, 秒杀"
    rows["templates"].append({"name": "flash", "content": "秒杀 starts now"})
    rows["sop"] = [
        {"rule_id": "A1", "groups": "G01, G02", "schedule": "daily 10:00", "content": "Hello"},      # flagged for G02
        {"rule_id": "A2", "groups": "kind:flash", "schedule": "daily 10:00", "content": "今日福利"},  # has one
        {"rule_id": "A3", "groups": "*", "schedule": "daily 10:00", "content": "template:flash"},   # the template has one
        {"rule_id": "A4", "groups": "*", "schedule": "daily 11:00", "content": "Bye"},             # flagged for G02
    ]
    wb = load_workbook(make_raw(rows))
    flagged = [(p.row, p.column, p.severity) for p in wb.problems if p.code == "keyword_missing"]
    assert flagged == [(2, "content", "warning"), (5, "content", "warning")]
    assert all("福利 / 秒杀" in p.message for p in wb.problems if p.code == "keyword_missing")


def test_feishu_19021_is_a_clock_problem_when_the_platform_clock_is_off_and_a_bad_secret_otherwise():
    """Why: "A Feishu signature or timestamp failure (19021) also kills the group, while DingTalk's clock skew is
    retried". The emulator's Date header is the platform's clock."""
    sop = [{"rule_id": "S1", "groups": "G02, G03", "schedule": "daily 10:00", "content": "hello {{ group_name }}"}]
    shop = shop_with(sop)
    try:
        shop.emulator.wall_clock = lambda: shop.clock() + 2 * 3600        # the platforms' clock is 2 h ahead
        report = shop.tick(at("2026-12-01 10:01"))
        assert (report.sent, report.retry) == (0, 2) and not shop.emulator.messages
        wb = load_workbook(shop.store.raw)
        assert not any((g.status or "").startswith("dead") for g in wb.groups.values())
        clock = [p for p in wb.previous_problems if "clock" in p.message and p.tab == "Groups"]
        assert sorted(p.row for p in clock) == [3, 4]                        # G02 and G03, each at its row
        assert all("signing secret is fine" in p.message for p in clock)
        shop.emulator.wall_clock = None                                    # the clock is set right
        again = shop.tick(at("2026-12-01 10:06"))
        assert again.sent == 2 and len(shop.emulator.messages) == 2
    finally:
        shop.close()
    shop = shop_with(sop)
    try:
        shop.resolver.env["QUNFLOW_SIGN_G03"] = "feishu-sign-typed-wrong-0003"  # checkov:skip=CKV_SECRET_6: test fixture
        report = shop.tick(at("2026-12-01 10:01"))
        wb = load_workbook(shop.store.raw)
        assert wb.groups["G03"].status.startswith("dead") and not (wb.groups["G02"].status or "")
        assert "signing secret is wrong" in wb.groups["G03"].status
        assert report.sent == 1
    finally:
        shop.close()


def j(**kw) -> bytes:
    import json
    return json.dumps(kw).encode()


def test_19021_is_settled_by_the_reply_date():
    feishu = PLATFORMS["feishu"]
    refused = feishu.classify(200, {}, j(code=19021, msg="sign match fail or timestamp is not within one hour"))
    signed_at = datetime(2026, 12, 1, 2, 0, tzinfo=UTC).timestamp()
    near = {"Date": "Tue, 01 Dec 2026 02:00:03 GMT"}
    far = {"Date": "Tue, 01 Dec 2026 03:30:00 GMT"}
    assert (settle_signature(refused, near, signed_at).kind, settle_signature(refused, near, signed_at).cause) == \
        (DISABLE_TARGET, SIGNATURE)
    skew = settle_signature(refused, far, signed_at)
    assert (skew.kind, skew.cause) == (RETRY, CLOCK) and "90 minutes behind" in skew.reason
    assert settle_signature(refused, {}, signed_at).kind is DISABLE_TARGET     # no Date: the secret is taken as wrong
    assert settle_signature(refused, {"Date": "garbage"}, signed_at).kind is DISABLE_TARGET
    keyword = feishu.classify(200, {}, j(code=19024, msg="Key Words Not Found"))
    assert keyword.cause == KEYWORD and settle_signature(keyword, far, signed_at) is keyword


@pytest.mark.parametrize("errmsg,kind,cause", [
    ("keywords not in content", "REJECT_MESSAGE", KEYWORD),
    ("invalid timestamp", "RETRY", CLOCK),
    ("sign not match", "DISABLE_TARGET", SIGNATURE),
    ("ip 1.2.3.4 not in whitelist", "DISABLE_TARGET", ""),
])
def test_dingtalk_310000_is_four_refusals(errmsg, kind, cause):
    outcome = PLATFORMS["dingtalk"].classify(200, {}, j(errcode=310000, errmsg=errmsg))
    assert (outcome.kind.value, outcome.cause) == (kind, cause)


def test_dingtalk_clock_skew_through_the_tick_is_retried_and_reported_as_a_clock_problem():
    shop = shop_with([{"rule_id": "S1", "groups": "G02", "schedule": "daily 10:00", "content": "hello"}])
    try:
        shop.emulator.wall_clock = lambda: shop.clock() - 2 * 3600
        report = shop.tick(at("2026-12-01 10:01"))
        assert report.retry == 1
        wb = load_workbook(shop.store.raw)
        assert not (wb.groups["G02"].status or "")
        assert [p.row for p in wb.previous_problems if p.tab == "Groups" and "clock" in p.message] == [3]
        shop.emulator.wall_clock = None
        assert shop.tick(at("2026-12-01 10:06")).sent == 1
    finally:
        shop.close()


def test_the_emulator_dates_its_replies_by_the_platform_clock():
    import requests
    shop = shop_with([])
    try:
        shop.emulator.wall_clock = lambda: shop.clock() + 7200
        reply = requests.post(shop.emulator.webhook_url(FEISHU), json={"msg_type": "text", "content": {"text": "x"}})
        from email.utils import parsedate_to_datetime
        assert parsedate_to_datetime(reply.headers["Date"]) == at("2026-12-01 11:55")
    finally:
        shop.close()


def test_preview_flags_each_send_whose_text_lacks_its_groups_keyword(tmp_path):
    import json

    from click.testing import CliRunner

    from helpers import write_xlsx
    from qunflow.cli import cli
    rows = copy.deepcopy(SHOP)
    rows["groups"][1]["keyword"] = "福利"
    rows["sop"] = [{"rule_id": "P1", "groups": "G01, G02", "schedule": "daily 10:00", "content": "Morning"},
                   {"rule_id": "P2", "groups": "G02", "schedule": "daily 11:00", "content": "今日福利"}]
    path = tmp_path / "shop.xlsx"
    write_xlsx(make_raw(rows), path)
    out = CliRunner().invoke(cli, ["preview", str(path), "--now", "2026-12-01T09:00:00+08:00", "--days", "1", "--json"])
    assert out.exit_code == 0, out.output
    flags = {(i["group_id"], i["rule_id"]): i["flags"] for i in json.loads(out.output)}
    assert flags[("G01", "P1")] == [] and flags[("G02", "P2")] == []
    assert flags[("G02", "P1")] == ["the robot requires the keyword 福利: this text lacks it and will be refused"]
    shown = CliRunner().invoke(cli, ["preview", str(path), "--now", "2026-12-01T09:00:00+08:00", "--days", "1"])
    assert shown.output.count("⚠ the robot requires the keyword 福利") == 1
