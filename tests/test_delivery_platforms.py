"""The platform modules: requests built (table-driven), splitting at byte/char limits, signing, reply classification.

Every expectation here is read from /work/shared/PLATFORMS.md, not from the modules' own constants.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import urllib.parse

import pytest
from hypothesis import given, settings, strategies as st

from qunflow.delivery.message import Mentions, Message, NewsCard, Target
from qunflow.delivery.platforms import PLATFORMS, MessageRejected, OutcomeKind, sign_dingtalk, sign_feishu
from qunflow.delivery.platforms.base import encode_json

OK, RETRY, REJECT, DISABLE, UNKNOWN = (OutcomeKind.OK, OutcomeKind.RETRY, OutcomeKind.REJECT_MESSAGE,
                                       OutcomeKind.DISABLE_TARGET, OutcomeKind.UNKNOWN)
TS = 1_700_000_000.25
WEBHOOKS = {
    "wecom": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=fakekey1-test-only-not-real-wecomkey00",
    "dingtalk": "https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef0123456789abcdef",
    "feishu": "https://open.feishu.cn/open-apis/bot/v2/hook/0f5e3c1a-1111-2222-3333-444455556666",
    # checkov:skip=CKV_SECRET_14: a fake Slack webhook; the real host is the point (URL building, masking)
    "slack": "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX",
    "discord": "https://discord.com/api/webhooks/123456789012345678/AbCdEf-token_0123456789",
    "telegram": "https://api.telegram.org/bot123456:ABC-DEF1234ghIkl/sendMessage?chat_id=-1001234567890",
}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def target(platform: str, secret: str | None = None) -> Target:
    return Target(platform, "g1", WEBHOOKS[platform], secret)


def build(platform: str, message: Message, secret: str | None = None):
    return PLATFORMS[platform].build_requests(message, target(platform, secret), TS)


def one(platform: str, message: Message, secret: str | None = None) -> dict:
    requests_ = build(platform, message, secret)
    assert len(requests_) == 1, requests_
    assert requests_[0].method == "POST"
    return requests_[0].json


# ---- signing: against an independent inline implementation of the documented formulas --------------------------

@pytest.mark.parametrize("secret,ts_ms", [("SEC0123456789abcdef", 1_700_000_000_250), ("SECé+/=", 1),
                                          ("SECxyz", 1_577_836_800_000)])
def test_dingtalk_sign_matches_the_documented_formula(secret, ts_ms):
    string_to_sign = f"{ts_ms}\n{secret}".encode()
    expected = urllib.parse.quote_plus(base64.b64encode(
        hmac.new(secret.encode(), string_to_sign, digestmod=hashlib.sha256).digest()))
    assert sign_dingtalk(secret, ts_ms) == expected


@pytest.mark.parametrize("secret,ts", [("SECfeishu0123", 1_700_000_000), ("s", 0), ("密钥", 1_599_360_473)])
def test_feishu_sign_matches_the_documented_formula(secret, ts):
    expected = base64.b64encode(hmac.new(f"{ts}\n{secret}".encode(), b"", digestmod=hashlib.sha256).digest()).decode()
    assert sign_feishu(secret, ts) == expected


def test_dingtalk_signature_is_appended_by_concatenation_and_encoded_once():
    secret = "SEC0000000000000000"
    for ts in range(1_700_000_000_000, 1_700_000_000_200):  # find a signature whose base64 has + or / or =
        raw = base64.b64encode(hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()).decode()
        if "+" in raw or "/" in raw:
            break
    req = DingTalk_build(Message("text", "hi"), secret, ts / 1000)
    assert req.url.startswith(WEBHOOKS["dingtalk"] + f"&timestamp={ts}&sign=")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(req.url).query)
    assert query["timestamp"] == [str(ts)]
    assert query["sign"] == [raw]                      # what the platform decodes is the base64 itself
    assert "%25" not in req.url                        # never encoded twice


def DingTalk_build(message, secret, ts):
    return PLATFORMS["dingtalk"].build_requests(message, target("dingtalk", secret), ts)[0]


def test_dingtalk_without_secret_leaves_url_alone():
    assert build("dingtalk", Message("text", "hi"))[0].url == WEBHOOKS["dingtalk"]


def test_feishu_signature_goes_in_the_body_with_string_seconds():
    body = one("feishu", Message("text", "hi"), secret="SECfeishu")
    assert body["timestamp"] == str(int(TS))
    expected = base64.b64encode(hmac.new(f"{int(TS)}\nSECfeishu".encode(), b"", hashlib.sha256).digest()).decode()
    assert body["sign"] == expected
    assert build("feishu", Message("text", "hi"), "SECfeishu")[0].url == WEBHOOKS["feishu"]
    assert "sign" not in one("feishu", Message("text", "hi"))


# ---- build_requests: table ------------------------------------------------------------------------------------
USERS = Mentions(user_ids=("zhangsan", "lisi"), names=("张三", "李四"))
MOBILES = Mentions(mobiles=("13800000000",))
ALL = Mentions(all=True)

BUILD_CASES = [
    # WeCom
    ("wecom", Message("text", "你好"), {"msgtype": "text", "text": {"content": "你好"}}),
    ("wecom", Message("text", "你好", mentions=USERS),
     {"msgtype": "text", "text": {"content": "你好", "mentioned_list": ["zhangsan", "lisi"]}}),
    ("wecom", Message("text", "你好", mentions=ALL),
     {"msgtype": "text", "text": {"content": "你好", "mentioned_list": ["@all"]}}),
    ("wecom", Message("markdown", "**你好**", mentions=USERS),
     {"msgtype": "markdown", "markdown": {"content": "<@zhangsan> <@lisi>\n**你好**"}}),
    ("wecom", Message("markdown", "**你好**", mentions=MOBILES),       # markdown cannot @ a mobile: text
     {"msgtype": "text", "text": {"content": "你好", "mentioned_mobile_list": ["13800000000"]}}),
    ("wecom", Message("markdown", "# 标题\n**你好**", mentions=ALL),    # markdown cannot @all: text
     {"msgtype": "text", "text": {"content": "标题\n你好", "mentioned_list": ["@all"]}}),
    ("wecom", Message("news", card=NewsCard("标题", "描述", "https://e.com/a", "https://e.com/p.png")),
     {"msgtype": "news", "news": {"articles": [{"title": "标题", "description": "描述", "url": "https://e.com/a",
                                                "picurl": "https://e.com/p.png"}]}}),
    ("wecom", Message("image", image_bytes=PNG),
     {"msgtype": "image", "image": {"base64": base64.b64encode(PNG).decode(), "md5": hashlib.md5(PNG).hexdigest()}}),
    # DingTalk: at{} AND the @ written into the text
    ("dingtalk", Message("text", "你好"), {"msgtype": "text", "text": {"content": "你好"}}),
    ("dingtalk", Message("text", "你好", mentions=Mentions(user_ids=("u1",), mobiles=("13800000000",))),
     {"msgtype": "text", "text": {"content": "@13800000000 @u1\n你好"},
      "at": {"atMobiles": ["13800000000"], "atUserIds": ["u1"], "isAtAll": False}}),
    ("dingtalk", Message("text", "你好", mentions=ALL),
     {"msgtype": "text", "text": {"content": "你好"}, "at": {"isAtAll": True}}),
    ("dingtalk", Message("markdown", "**你好**", title="早安"),
     {"msgtype": "markdown", "markdown": {"title": "早安", "text": "**你好**"}}),
    ("dingtalk", Message("news", card=NewsCard("标题", "描述", "https://e.com/a", "https://e.com/p.png")),
     {"msgtype": "link", "link": {"title": "标题", "text": "描述", "messageUrl": "https://e.com/a",
                                  "picUrl": "https://e.com/p.png"}}),
    ("dingtalk", Message("image", image_url="https://e.com/p.png", title="海报"),
     {"msgtype": "markdown", "markdown": {"title": "海报", "text": "![海报](https://e.com/p.png)\n\n海报"}}),
    # Feishu
    ("feishu", Message("text", "你好"), {"msg_type": "text", "content": {"text": "你好"}}),
    ("feishu", Message("text", "你好", mentions=Mentions(all=True, user_ids=("ou_x",), names=("Tom",))),
     {"msg_type": "text", "content": {"text": '<at user_id="all">所有人</at> <at user_id="ou_x">Tom</at> 你好'}}),
    ("feishu", Message("markdown", "**你好**", title="早安"),
     {"msg_type": "interactive", "card": {"config": {"wide_screen_mode": True},
                                          "elements": [{"tag": "markdown", "content": "**你好**"}],
                                          "header": {"title": {"tag": "plain_text", "content": "早安"}}}}),
    # Slack
    ("slack", Message("text", "a < b & c", mentions=Mentions(all=True, user_ids=("U123",))),
     {"text": "<!channel> <@U123> a &lt; b &amp; c"}),
    ("slack", Message("markdown", "**bold** [site](https://e.com)"), {"text": "*bold* <https://e.com|site>"}),
    # Discord
    ("discord", Message("text", "hi", mentions=Mentions(all=True, user_ids=("42",))),
     {"content": "@everyone <@42> hi", "allowed_mentions": {"parse": ["everyone"], "users": ["42"]}}),
    ("discord", Message("text", "hi @everyone"),          # text that says @everyone notifies no one
     {"content": "hi @everyone", "allowed_mentions": {"parse": [], "users": []}}),
    ("discord", Message("news", card=NewsCard("T", "D", "https://e.com/a", "https://e.com/p.png")),
     {"embeds": [{"title": "T", "description": "D", "url": "https://e.com/a", "image": {"url": "https://e.com/p.png"}}],
      "allowed_mentions": {"parse": [], "users": []}}),
    ("discord", Message("image", image_url="https://e.com/p.png"),
     {"embeds": [{"image": {"url": "https://e.com/p.png"}}], "allowed_mentions": {"parse": [], "users": []}}),
    # Telegram: HTML parse mode, chat_id from the query into the body
    ("telegram", Message("text", "a<b", mentions=Mentions(user_ids=("42",), names=("Ann",))),
     {"chat_id": -1001234567890, "text": '<a href="tg://user?id=42">Ann</a> a&lt;b', "parse_mode": "HTML"}),
    ("telegram", Message("markdown", "**hi** [x](https://e.com/?a=1&b=2)"),
     {"chat_id": -1001234567890, "text": '<b>hi</b> <a href="https://e.com/?a=1&amp;b=2">x</a>',
      "parse_mode": "HTML"}),
    ("telegram", Message("news", card=NewsCard("T", "D", "https://e.com/a")),
     {"chat_id": -1001234567890, "text": '<b><a href="https://e.com/a">T</a></b>\nD', "parse_mode": "HTML",
      "link_preview_options": {"url": "https://e.com/a", "prefer_large_media": True, "show_above_text": False}}),
]


@pytest.mark.parametrize("platform,message,expected", BUILD_CASES,
                         ids=[f"{c[0]}-{c[1].kind}-{i}" for i, c in enumerate(BUILD_CASES)])
def test_build_requests(platform, message, expected):
    assert one(platform, message) == expected


def test_telegram_posts_to_the_method_url_without_the_query():
    req = build("telegram", Message("text", "hi"))[0]
    assert req.url == "https://api.telegram.org/bot123456:ABC-DEF1234ghIkl/sendMessage"


def test_telegram_everyone_degrades_to_a_note_without_error():
    text = one("telegram", Message("text", "hi", mentions=ALL))["text"]
    assert text.endswith("hi") and text != "hi"


def test_feishu_card_markdown_mentions_use_card_syntax():
    body = one("feishu", Message("markdown", "hi", mentions=Mentions(all=True, user_ids=("ou_x",))))
    assert body["card"]["elements"][0]["content"] == "<at id=all></at> <at id=ou_x></at>\nhi"


def test_feishu_news_is_an_interactive_card_with_a_button():
    body = one("feishu", Message("news", card=NewsCard("标题", "描述", "https://e.com/a")))
    assert body["msg_type"] == "interactive"
    assert body["card"]["header"]["title"]["content"] == "标题"
    assert body["card"]["elements"][-1]["actions"][0]["url"] == "https://e.com/a"


def test_slack_news_uses_blocks():
    body = one("slack", Message("news", card=NewsCard("T", "D", "https://e.com/a", "https://e.com/p.png")))
    section = body["blocks"][0]
    assert section["text"] == {"type": "mrkdwn", "text": "*<https://e.com/a|T>*\nD"}
    assert section["accessory"]["image_url"] == "https://e.com/p.png"


def test_dingtalk_news_with_mentions_becomes_markdown_with_at():
    body = one("dingtalk", Message("news", card=NewsCard("T", "D", "https://e.com/a"), mentions=MOBILES))
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["text"].startswith("@13800000000\n#### [T](https://e.com/a)")
    assert body["at"]["atMobiles"] == ["13800000000"]


def test_wecom_image_and_news_carry_mentions_in_a_follow_up_text():
    reqs = build("wecom", Message("image", image_bytes=PNG, mentions=ALL))
    assert [r.json["msgtype"] for r in reqs] == ["image", "text"]
    assert reqs[1].json["text"]["mentioned_list"] == ["@all"]


def test_wecom_image_url_becomes_a_news_article():
    body = one("wecom", Message("image", image_url="https://e.com/p.png", title="海报"))
    assert body["news"]["articles"][0] == {"title": "海报", "url": "https://e.com/p.png",
                                           "picurl": "https://e.com/p.png"}


def test_wecom_news_fields_truncated_to_byte_limits_on_character_boundaries():
    body = one("wecom", Message("news", card=NewsCard("标" * 100, "述" * 400, "https://e.com")))
    article = body["news"]["articles"][0]
    assert len(article["title"].encode()) <= 128 and len(article["description"].encode()) <= 512
    assert article["title"].endswith("…")


@pytest.mark.parametrize("data,reason", [(b"\xff\xd8\xff" + b"\x00" * (2 * 1024 * 1024), "2 MB"),
                                         (b"GIF89a" + b"\x00" * 10, "JPG or PNG")])
def test_wecom_rejects_images_it_cannot_take(data, reason):
    with pytest.raises(MessageRejected, match=reason):
        build("wecom", Message("image", image_bytes=data))


@pytest.mark.parametrize("platform", ["dingtalk", "feishu", "slack", "discord", "telegram"])
def test_image_bytes_without_url_are_rejected_where_webhooks_cannot_upload(platform):
    with pytest.raises(MessageRejected, match="image_url"):
        build(platform, Message("image", image_bytes=PNG))


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_image_url_is_sent_as_a_link_everywhere(platform):
    reqs = build(platform, Message("image", image_url="https://e.com/p.png"))
    assert "https://e.com/p.png" in reqs[0].body().decode()


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_empty_text_is_rejected_with_a_reason(platform):
    with pytest.raises(MessageRejected, match="no text"):
        build(platform, Message("text", "  "))


def test_telegram_webhook_without_chat_id_is_rejected():
    t = Target("telegram", "g", "https://api.telegram.org/bot1:x/sendMessage")
    with pytest.raises(MessageRejected, match="chat_id"):
        PLATFORMS["telegram"].build_requests(Message("text", "hi"), t, TS)


def test_bodies_are_utf8_not_escaped():
    assert "你好".encode() in build("wecom", Message("text", "你好"))[0].body()


# ---- splitting ---------------------------------------------------------------------------------------------------
def paragraphs(n: int, size: int) -> str:
    return "\n\n".join(f"第{i}段" + "中文内容，" * size for i in range(n))


def wecom_text(json_): return json_["text"]["content"]
def wecom_md(json_): return json_["markdown"]["content"]


# platform, kind, extractor of the measured text, measure, limit (all from PLATFORMS.md)
SPLIT_CASES = [
    ("wecom", "text", wecom_text, lambda s: len(s.encode()), 2048),
    ("wecom", "markdown", wecom_md, lambda s: len(s.encode()), 4096),
    ("dingtalk", "text", None, None, 20000),          # the whole JSON body
    ("dingtalk", "markdown", None, None, 20000),
    ("feishu", "text", None, None, 20000),
    ("feishu", "markdown", None, None, 20000),
    ("slack", "text", lambda j: j["text"], len, 40000),
    ("discord", "text", lambda j: j["content"], len, 2000),
    ("discord", "markdown", lambda j: j["content"], len, 2000),
    ("telegram", "text", lambda j: j["text"], len, 4096),
]


@pytest.mark.parametrize("platform,kind,extract,measure,limit", SPLIT_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in SPLIT_CASES])
def test_long_chinese_text_splits_at_paragraphs_within_the_limit(platform, kind, extract, measure, limit):
    size = max(20, limit // 60)
    text = paragraphs(12, size)
    reqs = build(platform, Message(kind, text, mentions=Mentions(user_ids=("u1",))), secret="SECabc")
    assert len(reqs) > 1
    for r in reqs:
        if extract is None:
            assert len(r.body()) <= limit
        else:
            assert measure(extract(r.json)) <= limit
    body = [r.body().decode() for r in reqs]
    for i in range(12):  # every paragraph is whole in exactly one part
        start = f"第{i}段"
        assert sum(start + "中文内容，" * size in b for b in body) == 1, i
    assert "u1" in body[0] and all("u1" not in b for b in body[1:])  # mentions once, on the first part


def test_a_paragraph_longer_than_the_limit_is_cut_at_lines_then_characters():
    text = "一" * 700 + "\n" + "二" * 700 + "三" * 2000
    reqs = build("wecom", Message("text", text))
    parts = [r.json["text"]["content"] for r in reqs]
    assert all(len(p.encode()) <= 2048 for p in parts)
    assert parts[0] == "一" * 682  # 2048 // 3 characters: not one byte over, no half character
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="ab中文😀\n é", min_size=0, max_size=900), min_size=1, max_size=8))
def test_splitting_never_loses_or_breaks_a_character(chunks):
    text = "\n\n".join(chunks)
    if not text.strip():
        return
    reqs = build("wecom", Message("text", text))
    parts = [r.json["text"]["content"] for r in reqs]
    assert all(0 < len(p.encode()) <= 2048 for p in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")


def test_telegram_counts_emoji_as_two_units():
    reqs = build("telegram", Message("text", "😀" * 3000))
    assert all(len(r.json["text"].encode("utf-16-le")) // 2 <= 4096 for r in reqs)
    assert len(reqs) == 2


def test_encode_json_is_compact_utf8():
    assert encode_json({"a": "中"}) == '{"a":"中"}'.encode()


# ---- classify: every code in PLATFORMS.md ------------------------------------------------------------------------
def j(**kw) -> bytes:
    return json.dumps(kw).encode()


CLASSIFY_CASES = [
    # platform, HTTP status, headers, body, kind, least retry_after, code
    ("wecom", 200, {}, j(errcode=0, errmsg="ok"), OK, None, "0"),
    ("wecom", 200, {}, j(errcode=45009, errmsg="api freq out of limit"), RETRY, 60, "45009"),
    ("wecom", 200, {}, j(errcode=-1, errmsg="system busy"), RETRY, None, "-1"),
    ("wecom", 200, {}, j(errcode=45033, errmsg="x"), RETRY, None, "45033"),
    ("wecom", 502, {}, b"<html>bad gateway</html>", RETRY, None, "502"),
    ("wecom", 200, {}, j(errcode=40058, errmsg="x"), REJECT, None, "40058"),
    ("wecom", 200, {}, j(errcode=44004, errmsg="x"), REJECT, None, "44004"),
    ("wecom", 200, {}, j(errcode=45002, errmsg="x"), REJECT, None, "45002"),
    ("wecom", 200, {}, j(errcode=40008, errmsg="x"), REJECT, None, "40008"),
    ("wecom", 200, {}, j(errcode=93000, errmsg="invalid webhook url"), DISABLE, None, "93000"),
    ("wecom", 200, {}, j(errcode=93004, errmsg="x"), DISABLE, None, "93004"),
    ("wecom", 200, {}, j(errcode=93008, errmsg="x"), DISABLE, None, "93008"),
    ("wecom", 200, {}, j(errcode=77777, errmsg="x"), REJECT, None, "77777"),
    ("wecom", 200, {}, b"<html>captive portal</html>", RETRY, None, "non-json"),
    ("dingtalk", 200, {}, j(errcode=0, errmsg="ok"), OK, None, "0"),
    ("dingtalk", 200, {}, j(errcode=130101, errmsg="send too fast"), RETRY, 600, "130101"),
    ("dingtalk", 200, {}, j(errcode=410100, errmsg="x"), RETRY, 600, "410100"),
    ("dingtalk", 200, {}, j(errcode=400105, errmsg="x"), REJECT, None, "400105"),
    *[("dingtalk", 200, {}, j(errcode=c, errmsg="x"), REJECT, None, str(c)) for c in (430101, 430102, 430103, 430104)],
    ("dingtalk", 200, {}, j(errcode=460101, errmsg="x"), REJECT, None, "460101"),
    *[("dingtalk", 200, {}, j(errcode=c, errmsg="x"), DISABLE, None, str(c))
      for c in (300001, 300005, 400101, 400102, 400106, 400013)],
    ("dingtalk", 200, {}, j(errcode=310000, errmsg="keywords not in content"), REJECT, None, "310000"),
    ("dingtalk", 200, {}, j(errcode=310000, errmsg="a wording no one has seen"), REJECT, None, "310000"),
    ("dingtalk", 200, {}, j(errcode=310000, errmsg="sign not match"), DISABLE, None, "310000"),
    ("dingtalk", 200, {}, j(errcode=310000, errmsg="ip X.X.X.X not in whitelist"), DISABLE, None, "310000"),
    ("dingtalk", 200, {}, j(errcode=310000, errmsg="invalid timestamp"), RETRY, None, "310000"),
    ("dingtalk", 200, {}, j(errcode=999999, errmsg="x"), REJECT, None, "999999"),
    ("dingtalk", 200, {}, b"not json", RETRY, None, "non-json"),
    ("dingtalk", 503, {}, b"", RETRY, None, "503"),
    ("feishu", 200, {}, j(code=0, msg="success", StatusCode=0, StatusMessage="success"), OK, None, "0"),
    ("feishu", 200, {}, j(StatusCode=0, StatusMessage="success"), OK, None, "0"),
    ("feishu", 200, {}, j(code=11232, msg="frequency limited"), RETRY, None, "11232"),
    ("feishu", 200, {}, j(code=9499, msg="Bad Request"), REJECT, None, "9499"),
    *[("feishu", 200, {}, j(code=c, msg="x"), DISABLE, None, str(c)) for c in (19001, 19021, 19022)],
    ("feishu", 200, {}, j(code=19024, msg="Key Words Not Found"), REJECT, None, "19024"),
    ("feishu", 400, {}, j(code=19021, msg="sign match fail"), DISABLE, None, "19021"),
    ("feishu", 200, {}, j(code=12345, msg="x"), REJECT, None, "12345"),
    ("feishu", 200, {}, b"", RETRY, None, "non-json"),
    ("slack", 200, {}, b"ok", OK, None, "200"),
    ("slack", 429, {"Retry-After": "30"}, b"rate_limited", RETRY, 30, "429"),
    ("slack", 500, {}, b"", RETRY, None, "500"),
    ("slack", 503, {}, b"", RETRY, None, "503"),
    ("slack", 400, {}, b"invalid_payload", REJECT, None, "400"),
    ("slack", 400, {}, b"no_text", REJECT, None, "400"),
    ("slack", 403, {}, b"action_prohibited", DISABLE, None, "403"),
    ("slack", 404, {}, b"no_service", DISABLE, None, "404"),
    ("slack", 410, {}, b"channel_is_archived", DISABLE, None, "410"),
    ("discord", 204, {}, b"", OK, None, "204"),
    ("discord", 200, {}, j(id="1"), OK, None, "200"),
    ("discord", 429, {}, j(message="You are being rate limited.", retry_after=1.5, **{"global": False}),
     RETRY, 1.5, "429"),
    ("discord", 500, {}, b"", RETRY, None, "500"),
    ("discord", 400, {}, j(message="Cannot send an empty message", code=50006), REJECT, None, "400"),
    ("discord", 401, {}, j(message="Invalid Webhook Token", code=50027), DISABLE, None, "401"),
    ("discord", 404, {}, j(message="Unknown Webhook", code=10015), DISABLE, None, "404"),
    ("telegram", 200, {}, j(ok=True, result={}), OK, None, "ok"),
    ("telegram", 429, {}, j(ok=False, error_code=429, description="Too Many Requests: retry after 7",
                            parameters={"retry_after": 7}), RETRY, 7, "429"),
    ("telegram", 400, {}, j(ok=False, error_code=400, description="Bad Request: group chat was upgraded",
                            parameters={"migrate_to_chat_id": -1009876}), DISABLE, None, "400"),
    ("telegram", 403, {}, j(ok=False, error_code=403, description="Forbidden: bot was kicked"), DISABLE, None, "403"),
    ("telegram", 401, {}, j(ok=False, error_code=401, description="Unauthorized"), DISABLE, None, "401"),
    ("telegram", 400, {}, j(ok=False, error_code=400, description="Bad Request: chat not found"), DISABLE, None, "400"),
    ("telegram", 400, {}, j(ok=False, error_code=400, description="Bad Request: message is too long"),
     REJECT, None, "400"),
    ("telegram", 502, {}, b"Bad Gateway", RETRY, None, "502"),
    # a gateway's 504 came after the request reached it: the platform may have posted it, never resent;
    # 502 and 503 say the platform did not take it: retried
    *[(p, 504, {}, body, UNKNOWN, None, "504") for p, body in (
        ("wecom", b"<html>504 Gateway Time-out</html>"), ("dingtalk", j(errcode=-1, errmsg="busy")),
        ("feishu", b""), ("slack", b"upstream request timeout"), ("discord", j(message="timeout")),
        ("telegram", j(ok=False, error_code=504, description="Gateway Timeout")))],
    *[(p, status, {}, b"Bad Gateway", RETRY, None, str(status)) for p in PLATFORMS for status in (502, 503)],
]


@pytest.mark.parametrize("platform,status,headers,body,kind,wait,code", CLASSIFY_CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[6]}-{i}" for i, c in enumerate(CLASSIFY_CASES)])
def test_classify(platform, status, headers, body, kind, wait, code):
    outcome = PLATFORMS[platform].classify(status, headers, body)
    assert (outcome.kind, outcome.code) == (kind, code), outcome
    if wait is not None:
        assert outcome.retry_after is not None and outcome.retry_after >= wait
    assert outcome.reason


@pytest.mark.parametrize("platform,field", [("wecom", "errcode"), ("dingtalk", "errcode"), ("feishu", "code")])
def test_unknown_codes_name_the_code_in_the_reason(platform, field):
    outcome = PLATFORMS[platform].classify(200, {}, json.dumps({field: 424242, "errmsg": "x"}).encode())
    assert outcome.kind is REJECT and "424242" in outcome.reason


def test_classification_reads_the_code_not_the_text():
    wecom = PLATFORMS["wecom"]
    assert wecom.classify(200, {}, j(errcode=93000, errmsg="api freq out of limit")).kind is DISABLE
    assert wecom.classify(200, {}, j(errcode=45009, errmsg="invalid webhook url")).kind is RETRY
    assert wecom.classify(200, {}, j(errcode=0, errmsg="error")).kind is OK


def test_dingtalk_clock_skew_is_named():
    outcome = PLATFORMS["dingtalk"].classify(200, {}, j(errcode=310000, errmsg="invalid timestamp"))
    assert "clock skew" in outcome.reason


def test_telegram_migration_names_the_new_chat_id():
    outcome = PLATFORMS["telegram"].classify(400, {}, j(ok=False, error_code=400, description="Bad Request",
                                                        parameters={"migrate_to_chat_id": -1009876}))
    assert outcome.migrate_to_chat_id == "-1009876" and "-1009876" in outcome.reason


def test_discord_exhausted_bucket_holds_the_next_send():
    outcome = PLATFORMS["discord"].classify(204, {"x-ratelimit-remaining": "0", "x-ratelimit-reset-after": "2.5"}, b"")
    assert outcome.kind is OK and outcome.retry_after == 2.5


def test_retry_after_header_raises_the_wait_but_never_lowers_the_platform_minimum():
    wecom = PLATFORMS["wecom"]
    assert wecom.classify(200, {"Retry-After": "90"}, j(errcode=45009)).retry_after == 90
    assert wecom.classify(200, {"Retry-After": "5"}, j(errcode=45009)).retry_after == 60


def test_every_platform_declares_its_limits():
    assert PLATFORMS["wecom"].rate_windows == ((20, 60.0),)
    assert PLATFORMS["dingtalk"].rate_windows == ((20, 60.0),) and PLATFORMS["dingtalk"].penalty_seconds == 600
    assert PLATFORMS["feishu"].rate_windows == ((5, 1.0), (100, 60.0))
    assert all(cls.rate_windows for cls in PLATFORMS.values())
    assert set(PLATFORMS) == {"wecom", "dingtalk", "feishu", "slack", "discord", "telegram"}


def test_reprs_mask_credentials():
    t = target("wecom", "SECsecretsecret")
    assert "fakekey1-test" not in repr(t) and "SECsecretsecret" not in repr(t)
    req = build("telegram", Message("text", "hi"))[0]
    assert "ABC-DEF1234ghIkl" not in repr(req)
    assert re.search(r"bot1234…", repr(req))


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_a_news_card_without_title_or_url_is_rejected(platform):
    with pytest.raises(MessageRejected, match="neither a title nor a url"):
        build(platform, Message("news", card=NewsCard("", "描述")))


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_an_image_message_without_an_image_is_rejected(platform):
    with pytest.raises(MessageRejected, match="has no image"):
        build(platform, Message("image", image_url=""))


def test_a_mention_longer_than_the_limit_cannot_be_split():
    many = Mentions(user_ids=tuple(f"user{i:04}" for i in range(300)))
    with pytest.raises(MessageRejected, match="cannot be split"):
        build("discord", Message("text", "hi", mentions=many))
