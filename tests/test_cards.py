"""Cards (#21): a Cards tab with a column each, sent by `card:NAME`, in each platform's own card form, checked by
validate against every platform it goes to; and the msg_types no robot can send, answered with the alternative.

Cards go from a real .xlsx through compose and the real senders over HTTP to the emulator on 127.0.0.1, which
checks each form the way its platform does."""
from __future__ import annotations

import copy
import json
import random
from datetime import datetime, timezone

import pytest
import requests

from engine_harness import VirtualClock
from helpers import BASE, make_raw, write_xlsx
from qunflow.delivery import Delivery, Dispatcher, Target
from qunflow.emulator import Bot, Emulator
from qunflow.engine.audience import target_groups
from qunflow.engine.compose import compose
from qunflow.engine.planned import PlannedSend
from qunflow.jobs.validate import validate_store
from qunflow.sheet.schema import load_schemas
from qunflow.stores.xlsx import XlsxStore

NOW = datetime(2026, 11, 24, 4, 0, tzinfo=timezone.utc)
PLATFORMS = ("wecom", "dingtalk", "feishu", "slack", "discord", "telegram")
# made-up webhook tokens for the local emulator only
TOKENS = {"wecom": "wecom-card-key-3c1d", "dingtalk": "dingcardtoken0a1b", "feishu": "feishu-card-hook-5e6f",
          "slack": "T0CARD01/B0CARD01/slackCard0a1b", "discord": "27182818284/discordCard-0a1b",
          "telegram": "314159:TGcardToken0a1b"}
CHAT = "-1001234567890"
CARD = {"name": "spring", "title": "{{ group_name }}: spring sale", "description": "Half price tonight, 200 only",
        "url": "https://shop.example.com/spring", "picture_url": "https://shop.example.com/spring.jpg",
        "button_text": "Buy now"}


def shop(cards: list[dict], sop: list[dict], lang: str = "en", platforms=PLATFORMS) -> dict:
    rows = copy.deepcopy(BASE)
    rows["settings"][1]["value"] = lang
    rows["groups"] = [{"group_id": f"G-{p}", "name": f"Group {p}", "platform": p, "webhook": f"env:QUNFLOW_HOOK_{i}",
                       "kind": "traffic"} for i, p in enumerate(platforms)]
    rows["members"] = [{"member_id": "M1", "name": "Lin", "group_id": f"G-{platforms[0]}"}]
    rows["events"] = []
    rows["sop"] = sop
    rows["cards"] = cards
    return rows


def saved(tmp_path, rows: dict, lang: str = "en") -> XlsxStore:
    path = tmp_path / f"shop-{lang}.xlsx"
    write_xlsx(make_raw(rows, lang), path)
    return XlsxStore(path)


def problems_at(wb, code: str) -> list[tuple]:
    return [(p.tab, p.row, p.column, p.severity) for p in wb.problems if p.code == code]


# ---- each platform's card form, accepted by the emulator ----------------------------------------------------

def deliver(wb, rule_id: str) -> tuple[list, list[dict], Emulator]:
    clock = VirtualClock(NOW)
    bots = {p: Bot(p, TOKENS[p], group_id=f"G-{p}") for p in PLATFORMS}
    rule = next(r for r in wb.sop if r.rule_id == rule_id)
    with Emulator(list(bots.values()), clock=clock) as emu:
        deliveries = []
        for group in target_groups(rule, wb.groups):
            url = emu.webhook_url(bots[group.platform]) + (f"?chat_id={CHAT}" if group.platform == "telegram" else "")
            message = compose(PlannedSend(f"{rule_id}:{group.group_id}", rule, group, NOW, NOW), wb)
            deliveries.append(Delivery(group.platform, Target(group.platform, group.group_id, url), message))
        report = Dispatcher(requests.Session(), clock, clock.sleep, random.Random(3)).dispatch(deliveries)
        return report.results, list(emu.messages), emu


def test_a_card_goes_to_every_platform_in_its_own_form_and_is_accepted(tmp_path):
    store = saved(tmp_path, shop([CARD], [{"rule_id": "C1", "groups": "*", "schedule": "daily 20:00",
                                           "content": "card:spring", "msg_type": "news"}]))
    wb = validate_store(store, NOW, write=False)
    assert [p for p in wb.problems if p.severity == "error"] == []
    results, messages, emu = deliver(wb, "C1")
    assert [(r.send_id, r.status) for r in results] == [(p, "sent") for p in PLATFORMS], \
        [(r.send_id, r.reason) for r in results if r.status != "sent"]
    assert not emu.rejections
    got = {m["platform"]: m["payload"] for m in messages}
    assert set(got) == set(PLATFORMS)
    article = got["wecom"]["news"]["articles"][0]
    assert article == {"title": "Group wecom: spring sale", "description": "Half price tonight, 200 only",
                       "url": CARD["url"], "picurl": CARD["picture_url"]}
    action = got["dingtalk"]["actionCard"]            # a button: DingTalk's actionCard
    assert got["dingtalk"]["msgtype"] == "actionCard"
    assert (action["singleTitle"], action["singleURL"]) == ("Buy now", CARD["url"])
    assert f"![]({CARD['picture_url']})" in action["text"] and "### Group dingtalk: spring sale" in action["text"]
    card = got["feishu"]["card"]
    assert got["feishu"]["msg_type"] == "interactive"
    assert card["header"]["title"]["content"] == "Group feishu: spring sale"
    assert not [e for e in card["elements"] if e.get("tag") == "img"]     # no image_key: no img element
    button = card["elements"][-1]["actions"][0]
    assert (button["text"]["content"], button["url"]) == ("Buy now", CARD["url"])
    section, actions = got["slack"]["blocks"]
    assert section["accessory"] == {"type": "image", "image_url": CARD["picture_url"],
                                    "alt_text": "Group slack: spring sale"}
    assert actions["elements"][0]["url"] == CARD["url"] and actions["elements"][0]["text"]["text"] == "Buy now"
    embed = got["discord"]["embeds"][0]
    assert (embed["title"], embed["url"], embed["image"]["url"]) == ("Group discord: spring sale", CARD["url"],
                                                                    CARD["picture_url"])
    assert embed["description"] == "Half price tonight, 200 only"
    telegram = got["telegram"]
    assert telegram["link_preview_options"]["url"] == CARD["picture_url"]
    assert telegram["reply_markup"] == {"inline_keyboard": [[{"text": "Buy now", "url": CARD["url"]}]]}


def test_a_card_without_a_button_is_a_dingtalk_link_and_feishu_says_view_details(tmp_path):
    plain = {k: v for k, v in CARD.items() if k != "button_text"}
    store = saved(tmp_path, shop([plain], [{"rule_id": "C1", "groups": "*", "schedule": "daily 20:00",
                                            "content": "card:spring"}]))      # msg_type left text: card: decides
    wb = validate_store(store, NOW, write=False)
    results, messages, _ = deliver(wb, "C1")
    assert {r.status for r in results} == {"sent"}
    got = {m["platform"]: m["payload"] for m in messages}
    assert got["dingtalk"]["msgtype"] == "link" and got["dingtalk"]["link"]["picUrl"] == CARD["picture_url"]
    assert got["feishu"]["card"]["elements"][-1]["actions"][0]["text"]["content"] == "查看详情"
    assert len(got["slack"]["blocks"]) == 1 and "reply_markup" not in got["telegram"]


def test_the_old_separated_news_still_goes_out_and_validate_points_at_the_cards_tab(tmp_path):
    rule = {"rule_id": "N1", "groups": "G-wecom", "schedule": "daily 20:00", "msg_type": "news",
            "content": "Sale | Half price | https://shop.example.com/s | https://shop.example.com/s.jpg"}
    wb = validate_store(saved(tmp_path, shop([], [rule])), NOW, write=False)
    assert problems_at(wb, "news_separators") == [("SOP", 2, "content", "warning")]
    assert "Cards" in next(p.message for p in wb.problems if p.code == "news_separators")
    results, messages, _ = deliver(wb, "N1")
    assert [r.status for r in results] == ["sent"] and [m["platform"] for m in messages] == ["wecom"]
    assert messages[0]["payload"]["news"]["articles"][0]["title"] == "Sale"


# ---- the emulator refuses malformed cards the way the platforms do ------------------------------------------

MALFORMED = [
    ("wecom", {"msgtype": "news", "news": {"articles": [{"title": "t", "url": "https://e.com"}] * 9}}, 200, 40058),
    ("wecom", {"msgtype": "news", "news": {"articles": [{"title": "标" * 43, "url": "https://e.com"}]}}, 200, 45002),
    ("wecom", {"msgtype": "news", "news": {"articles": [{"title": "t", "description": "述" * 171,
                                                         "url": "https://e.com"}]}}, 200, 45002),
    ("wecom", {"msgtype": "news", "news": {"articles": [{"title": "no url"}]}}, 200, 40058),
    ("dingtalk", {"msgtype": "actionCard", "actionCard": {"title": "t", "text": "x"}}, 200, 40035),
    ("feishu", {"msg_type": "interactive", "card": {"elements": [{"tag": "img", "img_key": "",
                                                                   "alt": {"tag": "plain_text", "content": "p"}},
                                                                  {"tag": "markdown", "content": "x"}]}}, 200, 9499),
    ("feishu", {"msg_type": "interactive", "card": {"elements": [{"tag": "action", "actions": [
        {"tag": "button", "text": {"tag": "plain_text", "content": "go"}, "url": "javascript:alert(1)"}]}]}},
     200, 9499),
    ("slack", {"text": "t", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x"},
                                        "accessory": {"type": "image", "image_url": "https://e.com/p.png"}}]},
     400, "invalid_blocks"),
    ("slack", {"text": "t", "blocks": [{"type": "actions", "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": "b" * 76}, "url": "https://e.com"}]}]},
     400, "invalid_blocks"),
    ("discord", {"embeds": [{"title": "t", "url": "shop.example.com"}]}, 400, 50035),
    ("discord", {"embeds": [{"title": "t", "image": {"url": "ftp://e.com/p.png"}}]}, 400, 50035),
    ("telegram", {"chat_id": CHAT, "text": "t", "reply_markup": {"inline_keyboard": [[{"text": "Buy"}]]}}, 400, 400),
    ("telegram", {"chat_id": CHAT, "text": "t",
                  "reply_markup": {"inline_keyboard": [[{"text": "Buy", "url": "javascript:x"}]]}}, 400, 400),
    ("telegram", {"chat_id": CHAT, "text": "t", "link_preview_options": "large"}, 400, 400),
]


@pytest.mark.parametrize("platform,payload,status,code", MALFORMED,
                         ids=[f"{m[0]}-{i}" for i, m in enumerate(MALFORMED)])
def test_the_emulator_refuses_malformed_cards_as_the_platform_does(platform, payload, status, code):
    bot = Bot(platform, TOKENS[platform])
    with Emulator([bot], clock=VirtualClock(NOW)) as emu:
        reply = requests.post(emu.webhook_url(bot), json=payload, timeout=5)
        assert reply.status_code == status
        body = reply.json() if platform != "slack" else reply.text
        got = {"wecom": lambda: body["errcode"], "dingtalk": lambda: body["errcode"], "feishu": lambda: body["code"],
               "slack": lambda: body, "discord": lambda: body["code"], "telegram": lambda: body["error_code"]}
        assert got[platform]() == code
        assert not emu.messages and sum(emu.rejections.values()) == 1


# ---- validate: each card against every platform it goes to --------------------------------------------------

def test_limits_a_platform_would_cut_are_warnings_at_the_card_cell_naming_platform_rule_and_group(tmp_path):
    long = dict(CARD, name="long", title="标" * 50, description="述" * 200, button_text="b" * 80)
    fits = dict(CARD, name="fits", title="Short", description="Fine", button_text="Go")
    sop = [{"rule_id": "L1", "groups": "G-wecom, G-slack", "schedule": "daily 20:00", "content": "card:long"},
           {"rule_id": "F1", "groups": "*", "schedule": "daily 20:00", "content": "card:fits"}]
    wb = validate_store(saved(tmp_path, shop([long, fits], sop)), NOW, write=False)
    cut = {(p.row, p.column): p for p in wb.problems if p.code == "card_too_long"}
    assert set(cut) == {(2, "title"), (2, "description"), (2, "button_text")}        # row 2: the long card
    assert all(p.tab == "Cards" and p.severity == "warning" for p in cut.values())
    title = cut[(2, "title")].message
    assert "150 bytes" in title and "WeCom" in title and "128 bytes" in title and "L1" in title and "G-wecom" in title
    assert "Slack" in cut[(2, "button_text")].message and "75 characters" in cut[(2, "button_text")].message


def test_a_discord_title_over_256_characters_is_flagged_only_where_it_goes_to_discord(tmp_path):
    card = dict(CARD, title="T" * 300)
    sop = [{"rule_id": "D1", "groups": "G-discord", "schedule": "daily 20:00", "content": "card:spring"}]
    wb = validate_store(saved(tmp_path, shop([card], sop)), NOW, write=False)
    assert problems_at(wb, "card_too_long") == [("Cards", 2, "title", "warning")]
    assert "Discord" in next(p.message for p in wb.problems if p.code == "card_too_long")


def test_bad_cells_in_the_cards_tab_and_a_missing_card(tmp_path):
    cards = [CARD, dict(CARD, name="ftp", url="ftp://shop.example.com/x"), dict(CARD, name="pic", picture_url="spring.jpg"),
             dict(CARD, name="empty", title=""), dict(CARD, title="again")]
    sop = [{"rule_id": "M1", "groups": "G-wecom", "schedule": "daily 20:00", "content": "card:nosuch"},
           {"rule_id": "M2", "groups": "G-wecom", "schedule": "daily 20:00", "content": "card:ftp"}]
    wb = validate_store(saved(tmp_path, shop(cards, sop)), NOW, write=False)
    assert problems_at(wb, "card_bad_url") == [("Cards", 3, "url", "error"), ("Cards", 4, "picture_url", "error")]
    assert problems_at(wb, "required") == [("Cards", 5, "title", "error")]
    assert problems_at(wb, "duplicate") == [("Cards", 6, "name", "error")]
    assert problems_at(wb, "unknown_card") == [("SOP", 2, "content", "error")]
    missing = next(p.message for p in wb.problems if p.code == "unknown_card")
    assert "nosuch" in missing and "spring" in missing           # the cards there are named
    assert problems_at(wb, "card_unusable") == [("SOP", 3, "content", "error")]
    assert "row 3" in next(p.message for p in wb.problems if p.code == "card_unusable")
    assert set(wb.cards) == {"spring"} and wb.sop == []


def test_a_keyword_in_the_card_satisfies_the_robot(tmp_path):
    rows = shop([dict(CARD, title="【福利】spring")], [{"rule_id": "K1", "groups": "G-dingtalk",
                                                          "schedule": "daily 20:00", "content": "card:spring"}])
    rows["groups"][1]["keyword"] = "福利"
    wb = validate_store(saved(tmp_path, rows), NOW, write=False)
    assert problems_at(wb, "keyword_missing") == []


# ---- what no robot can send ----------------------------------------------------------------------------------

@pytest.mark.parametrize("typed,code,advice", [
    ("红包", "impossible_red_packet", "coupon"), ("hongbao", "impossible_red_packet", "lottery"),
    ("red_packet", "impossible_red_packet", "coupon"), ("小程序", "impossible_miniprogram", "card:NAME"),
    ("miniprogram", "impossible_miniprogram", "URL Link"), ("voice", "impossible_media", "card:NAME"),
    ("视频", "impossible_media", "card:NAME"), ("file", "impossible_media", "link"),
])
def test_a_msg_type_no_robot_can_send_is_a_plain_problem_naming_the_alternative(tmp_path, typed, code, advice):
    sop = [{"rule_id": "X1", "groups": "G-wecom, G-slack", "schedule": "daily 20:00", "content": "x", "msg_type": typed}]
    wb = validate_store(saved(tmp_path, shop([], sop)), NOW, write=False)
    assert problems_at(wb, code) == [("SOP", 2, "msg_type", "error")]
    said = next(p for p in wb.problems if p.code == code)
    assert advice in said.message and "bad_enum" not in {p.code for p in wb.problems}
    if code != "impossible_red_packet":
        assert "G-wecom (wecom)" in said.message and "G-slack (slack)" in said.message
    assert wb.sop == []                     # never sent


# ---- a zh-CN workbook ----------------------------------------------------------------------------------------

def test_a_zh_workbook_with_a_cards_tab(tmp_path):
    cards = [dict(CARD, title="{{ group_name }}：春季新品 5 折", description="今晚 8 点开抢", button_text="立即抢购"),
             dict(CARD, name="长标题", title="标" * 50)]
    sop = [{"rule_id": "C1", "groups": "*", "schedule": "每天 20:00", "content": "card:spring", "msg_type": "图文"},
           {"rule_id": "C2", "groups": "G-wecom", "schedule": "每天 21:00", "content": "card:长标题"},
           {"rule_id": "C3", "groups": "G-wecom", "schedule": "每天 21:00", "content": "card:没有", "msg_type": "文本"},
           {"rule_id": "C4", "groups": "G-wecom", "schedule": "每天 21:00", "content": "x", "msg_type": "红包"}]
    store = saved(tmp_path, shop(cards, sop, "zh-CN"), "zh-CN")
    raw = store.read().raw
    schema = load_schemas()["cards"]
    assert raw["卡片"][0][:6] == [c.headers["zh-CN"] for c in schema.columns][:6]
    assert raw["卡片"][0][:3] == ["卡片名称", "标题", "描述"]
    wb = validate_store(store, NOW, write=False)
    assert wb.lang == "zh-CN" and set(wb.cards) == {"spring", "长标题"}
    assert problems_at(wb, "card_too_long") == [("卡片", 3, "标题", "warning")]
    assert problems_at(wb, "unknown_card") == [("SOP日历", 4, "内容", "error")]
    assert problems_at(wb, "impossible_red_packet") == [("SOP日历", 5, "消息类型", "error")]
    for p in wb.problems:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in p.message), p.message
    assert "企业微信" in next(p.message for p in wb.problems if p.code == "card_too_long")
    results, messages, _ = deliver(wb, "C1")
    assert {r.status for r in results} == {"sent"}
    dingtalk = next(m["payload"] for m in messages if m["platform"] == "dingtalk")
    assert dingtalk["actionCard"]["singleTitle"] == "立即抢购"
    assert "Group dingtalk：春季新品 5 折" in json.dumps(dingtalk, ensure_ascii=False)


# ---- the tick and the CLI --------------------------------------------------------------------------------------

def test_the_tick_posts_the_card_and_writes_what_wecom_would_cut_to_the_problems_tab():
    from engine_harness import SHOP, Shop
    rows = copy.deepcopy(SHOP)
    rows["cards"] = [dict(CARD, title="标" * 50)]
    rows["sop"] = [{"rule_id": "K1", "groups": "G01", "schedule": "daily 10:00", "content": "card:spring"}]
    shop_ = Shop(datetime(2026, 12, 2, 1, 55, tzinfo=timezone.utc), rows)     # 09:55 in Shanghai
    try:
        shop_.tick()
        shop_.tick(datetime(2026, 12, 2, 2, 1, tzinfo=timezone.utc))
        news = [m for m in shop_.messages() if m["msgtype"] == "news"]
        assert len(news) == 1
        title = news[0]["payload"]["news"]["articles"][0]["title"]
        assert len(title.encode("utf-8")) <= 128 and title.endswith("…")       # cut, as the warning said
        problems = shop_.store.read().raw["Problems"]
        header = problems[0]
        found = [dict(zip(header, row)) for row in problems[1:]]
        assert any(p["tab"] == "Cards" and p["column"] == "title" and "128 bytes" in p["message"] for p in found), found
    finally:
        shop_.close()


def test_qunflow_validate_answers_a_red_packet_and_a_missing_card(tmp_path):
    from click.testing import CliRunner
    from qunflow.cli import cli
    sop = [{"rule_id": "X1", "groups": "G-wecom", "schedule": "daily 20:00", "content": "x", "msg_type": "红包"},
           {"rule_id": "X2", "groups": "G-wecom", "schedule": "daily 20:00", "content": "card:nope"}]
    store = saved(tmp_path, shop([CARD], sop))
    out = CliRunner().invoke(cli, ["validate", str(store.path), "--json"])
    assert out.exit_code == 1, out.output
    problems = json.loads(out.output)["problems"]
    assert [(p["tab"], p["row"], p["column"], p["severity"]) for p in problems] == \
        [("SOP", 2, "msg_type", "error"), ("SOP", 3, "content", "error")]
    assert "coupon" in problems[0]["message"] and "spring" in problems[1]["message"]


def test_a_customer_group_card_is_checked_against_the_task_link_and_a_mini_program_there_is_still_answered(tmp_path):
    rows = shop([dict(CARD, description="述" * 200)],
                [{"rule_id": "T1", "groups": "G-cust", "schedule": "daily 20:00", "content": "card:spring"},
                 {"rule_id": "T2", "groups": "G-cust", "schedule": "daily 20:00", "content": "x",
                  "msg_type": "小程序"}])
    rows["groups"].append({"group_id": "G-cust", "name": "VIP customers", "platform": "wecom-customer",
                           "webhook": "secret:wecom_app", "kind": "traffic", "owner": "zhangsan", "chat_id": "wrOgQhDgAAMYQ"})
    wb = validate_store(saved(tmp_path, rows), NOW, write=False)
    assert problems_at(wb, "card_too_long") == [("Cards", 2, "description", "warning")]
    assert "600 bytes" in next(p.message for p in wb.problems if p.code == "card_too_long")
    mini = next(p for p in wb.problems if p.code == "impossible_miniprogram")
    assert (mini.row, mini.column) == (3, "msg_type") and "G-cust (wecom-customer)" in mini.message


def test_a_title_with_a_separator_stays_whole(tmp_path):
    """The Why of #21: in one `a|b|c|d` cell, a title holding `|` broke the card; in its own column it stays."""
    card = dict(CARD, title="满199 | 减50：今晚 8 点", description="第二件半价 | 限 200 件")
    store = saved(tmp_path, shop([card], [{"rule_id": "C1", "groups": "*", "schedule": "daily 20:00",
                                           "content": "card:spring", "msg_type": "news"}], platforms=("wecom",)))
    wb = validate_store(store, NOW, write=False)
    results, messages, emu = deliver(wb, "C1")
    assert [r.status for r in results] == ["sent"] and not emu.rejections
    article = messages[0]["payload"]["news"]["articles"][0]
    assert (article["title"], article["description"], article["url"]) == (card["title"], card["description"], CARD["url"])
