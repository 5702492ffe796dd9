"""The chat-platform emulator, exercised over real HTTP on 127.0.0.1.

Signatures are computed here from the PLATFORMS.md formulas, independently of
the emulator's own code; rate limits run on a fake clock the tests advance.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
import threading
import time
import zlib
from datetime import datetime, timezone
from html.parser import HTMLParser
from urllib.parse import quote_plus

import pytest
import requests

from qunflow.emulator import Bot, Emulator, Limiter, read_jsonl, render_html, serve

T0 = 1_700_000_000.0


class FakeClock:
    def __init__(self, now: float = T0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


BOTS = {
    "wecom": Bot("wecom", "wk-0001-secret-key", name="WeCom Shop", group_id="g-wecom"),
    "dingtalk": Bot("dingtalk", "dt-0001-access", name="Ding Shop", group_id="g-ding"),
    "dingtalk_signed": Bot("dingtalk", "dt-signed-0002", secret="SEC-ding-000000", name="Ding Signed"),
    "dingtalk_kw": Bot("dingtalk", "dt-keyword-0003", keyword="qunflow", name="Ding Keyword"),
    "feishu": Bot("feishu", "fs-0001-hook", name="Feishu Shop", group_id="g-feishu"),
    "feishu_signed": Bot("feishu", "fs-signed-0002", secret="fs-secret", name="Feishu Signed"),
    "slack": Bot("slack", "T0001/B0001/XXXXsecret", name="Slack Shop"),
    "discord": Bot("discord", "112233445566/disc-token-secret", name="Discord Shop"),
    "telegram": Bot("telegram", "123456:ABC-def_secret", name="TG Shop",
                    dead_chats=("-1009",), migrated_chats={"-42": -1000042}),
}
DEAD = {p: Bot(p, t, dead=True) for p, t in [
    ("wecom", "wk-dead"), ("dingtalk", "dt-dead"), ("feishu", "fs-dead"), ("slack", "T9/B9/dead"),
    ("discord", "999/dead-token"), ("telegram", "999:dead-token")]}


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def emu(clock):
    with Emulator(list(BOTS.values()) + list(DEAD.values()), clock=clock) as emulator:
        yield emulator


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


def url(emu, key):
    return emu.webhook_url(BOTS[key] if key in BOTS else DEAD[key])


def png_bytes() -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def wecom_image(raw: bytes, md5: str | None = None) -> dict:
    return {"msgtype": "image", "image": {"base64": base64.b64encode(raw).decode(),
                                          "md5": md5 or hashlib.md5(raw).hexdigest()}}


def ding_signed_url(emu, secret: str, ts_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{ts_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return url(emu, "dingtalk_signed") + f"&timestamp={ts_ms}&sign={quote_plus(base64.b64encode(digest))}"


def feishu_sign(secret: str, ts: int) -> str:
    return base64.b64encode(hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()


# ---------------------------------------------------------------- every kind accepted

ACCEPTED = [
    ("wecom", {"msgtype": "text", "text": {"content": "Hello", "mentioned_list": ["wangqing", "@all"],
                                           "mentioned_mobile_list": ["13800001111"]}},
     "Hello", ["wangqing", "all", "13800001111"]),
    ("wecom", {"msgtype": "markdown", "markdown": {"content": "# Sale\n**today** <@lisi>"}}, "# Sale", ["lisi"]),
    ("wecom", {"msgtype": "markdown_v2", "markdown_v2": {"content": "| a | b |\n|---|---|"}}, "| a |", []),
    ("wecom", wecom_image(png_bytes()), "[image png", []),
    ("wecom", {"msgtype": "news", "news": {"articles": [{"title": "New", "description": "d", "url": "https://x.test",
                                                         "picurl": "https://x.test/p.png"}]}}, "New", []),
    ("wecom", {"msgtype": "file", "file": {"media_id": "3a8asd892asd8asd"}}, "[file]", []),
    ("wecom", {"msgtype": "voice", "voice": {"media_id": "3a8asd892asd8asd"}}, "[voice]", []),
    ("wecom", {"msgtype": "template_card", "template_card": {
        "card_type": "text_notice", "main_title": {"title": "Welcome", "desc": "hi"},
        "card_action": {"type": 1, "url": "https://x.test"}}}, "Welcome", []),
    ("dingtalk", {"msgtype": "text", "text": {"content": "Hi @13800001111"},
                  "at": {"atMobiles": ["13800001111"], "isAtAll": True}}, "Hi @138", ["13800001111", "all"]),
    ("dingtalk", {"msgtype": "markdown", "markdown": {"title": "T", "text": "### Hi @u1"}, "at": {"atUserIds": ["u1"]}},
     "### Hi", ["u1"]),
    ("dingtalk", {"msgtype": "link", "link": {"title": "L", "text": "body", "messageUrl": "https://x.test",
                                              "picUrl": ""}}, "body", []),
    ("dingtalk", {"msgtype": "actionCard", "actionCard": {"title": "A", "text": "card", "singleTitle": "Go",
                                                          "singleURL": "https://x.test"}}, "[Go]", []),
    ("dingtalk", {"msgtype": "actionCard", "actionCard": {"title": "A", "text": "card", "btns": [
        {"title": "Yes", "actionURL": "https://x.test/y"}, {"title": "No", "actionURL": "https://x.test/n"}]}}, "[No]", []),
    ("dingtalk", {"msgtype": "feedCard", "feedCard": {"links": [{"title": "F1", "messageURL": "https://x.test",
                                                                 "picURL": "https://x.test/p"}]}}, "F1", []),
    ("feishu", {"msg_type": "text", "content": {"text": 'Hi <at user_id="ou_abc">Tom</at> <at user_id="all">所有人</at>'}},
     "Hi @Tom @所有人", ["ou_abc", "all"]),
    ("feishu", {"msg_type": "post", "content": {"post": {"zh_cn": {"title": "Title", "content": [[
        {"tag": "text", "text": "see "}, {"tag": "a", "text": "link", "href": "https://x.test"},
        {"tag": "at", "user_id": "ou_xyz", "user_name": "Ann"}]]}}}}, "see link@Ann", ["ou_xyz"]),
    # feishu image: only an image_key its open API issued (tests/test_feishu_images.py uploads one first)
    ("feishu", {"msg_type": "share_chat", "content": {"share_chat_id": "oc_abc"}}, "[group card]", []),
    ("feishu", {"msg_type": "interactive", "card": {"header": {"title": {"tag": "plain_text", "content": "Card"}},
                "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": "hi <at id=all></at>"}}]}},
     "Card", ["all"]),
    ("slack", {"text": "Hi <@U024BE7LH> and <!channel>"}, "Hi <@U024BE7LH>", ["U024BE7LH", "all"]),
    ("slack", {"text": "fallback", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "Head"}},
               {"type": "section", "text": {"type": "mrkdwn", "text": "*bold* body"}}, {"type": "divider"}]},
     "*bold* body", []),
    ("slack", {"attachments": [{"fallback": "fb", "text": "attached"}]}, "attached", []),
    ("discord", {"content": "Hi <@80351110224678912> @everyone"}, "Hi <@8035", ["80351110224678912", "all"]),
    ("discord", {"embeds": [{"title": "Embed", "description": "desc", "fields": [{"name": "n", "value": "v"}]}]},
     "Embed", []),
    ("telegram", {"chat_id": -100123, "text": "Hello @shop_owner"}, "Hello @shop_owner", ["shop_owner"]),
    ("telegram", {"chat_id": "-100123", "text": '<b>Bold</b> &amp; <a href="tg://user?id=42">Ann</a>',
                  "parse_mode": "HTML"}, "Bold & Ann", ["42"]),
    ("telegram", {"chat_id": -100123, "text": "*Bold* price 9\\.90 [Ann](tg://user?id=7)", "parse_mode": "MarkdownV2"},
     "Bold price 9.90 Ann", ["7"]),
]


@pytest.mark.parametrize("key,payload,text,mentions", ACCEPTED,
                         ids=[f"{a[0]}-{a[1].get('msgtype') or a[1].get('msg_type') or i}" for i, a in enumerate(ACCEPTED)])
def test_every_message_kind_is_accepted(emu, http, key, payload, text, mentions):
    r = http.post(url(emu, key), json=payload)
    assert r.status_code in (200, 204), r.text
    if key in ("wecom", "dingtalk"):
        assert r.json() == {"errcode": 0, "errmsg": "ok"}
    elif key == "feishu":
        assert r.json()["code"] == 0
    elif key == "slack":
        assert r.text == "ok"
    elif key == "telegram":
        assert r.json()["ok"] is True and r.json()["result"]["text"] == emu.messages[-1]["text"]
    msg = emu.messages[-1]
    assert text in msg["text"]
    assert msg["mentions"] == mentions
    assert msg["platform"] == BOTS[key].platform and msg["seq"] == 1
    assert BOTS[key].token not in json.dumps(msg, ensure_ascii=False)
    assert msg["token_masked"] == BOTS[key].token[:4] + "…"


def test_record_fields_and_clock(emu, http):
    http.post(url(emu, "wecom"), json={"msgtype": "text", "text": {"content": "hi"}})
    msg = emu.messages[0]
    assert msg["at"] == "2023-11-14T22:13:20.000+00:00"
    assert (msg["group_id"], msg["name"], msg["msgtype"]) == ("g-wecom", "WeCom Shop", "text")
    assert msg["payload"] == {"msgtype": "text", "text": {"content": "hi"}}


def test_discord_wait_true_returns_the_message_and_telegram_chat_in_query(emu, http):
    r = http.post(url(emu, "discord") + "?wait=true", json={"content": "hello", "username": "Shop bot"})
    assert r.status_code == 200 and r.json()["content"] == "hello" and r.json()["webhook_id"] == "112233445566"
    assert emu.messages[-1]["author"] == "Shop bot"
    r = http.post(url(emu, "discord"), json={"content": "hello"})
    assert r.status_code == 204 and r.content == b""
    r = http.post(url(emu, "telegram") + "?chat_id=-100777", json={"text": "in query"})
    assert r.json()["result"]["chat"]["id"] == -100777 and emu.messages[-1]["group_id"] == "-100777"


def test_slack_form_encoded_payload(emu, http):
    r = http.post(url(emu, "slack"), data={"payload": json.dumps({"text": "form"})})
    assert r.text == "ok" and emu.messages[-1]["text"] == "form"


# ---------------------------------------------------------------- limits and codes

BIG_PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * (2 * 1024 * 1024)

REJECTED = [
    # WeCom: HTTP 200, errcode decides; byte limits are UTF-8 bytes
    ("wecom", {"msgtype": "text", "text": {"content": ""}}, 200, 44004),
    ("wecom", {"msgtype": "text", "text": {"content": "中" * 683}}, 200, 45002),  # 2049 bytes
    ("wecom", {"msgtype": "markdown", "markdown": {"content": "a" * 4097}}, 200, 45002),
    ("wecom", {"msgtype": "markdown_v2", "markdown_v2": {"content": "é" * 2049}}, 200, 45002),
    ("wecom", {"msgtype": "video", "video": {}}, 200, 40008),
    ("wecom", {"text": {"content": "no msgtype"}}, 200, 40008),
    ("wecom", {"msgtype": "text", "text": {"content": "x", "mentioned_list": "all"}}, 200, 40058),
    ("wecom", {"msgtype": "news", "news": {"articles": []}}, 200, 40058),
    ("wecom", {"msgtype": "news", "news": {"articles": [{"title": "t", "url": "https://x.test"}] * 9}}, 200, 40058),
    ("wecom", {"msgtype": "news", "news": {"articles": [{"title": "标" * 43, "url": "https://x.test"}]}}, 200, 45002),
    ("wecom", {"msgtype": "news", "news": {"articles": [{"title": "t", "description": "d" * 513,
                                                         "url": "https://x.test"}]}}, 200, 45002),
    ("wecom", wecom_image(png_bytes(), md5="0" * 32), 200, 301019),
    ("wecom", wecom_image(b"GIF89a" + b"\0" * 20), 200, 40058),
    ("wecom", wecom_image(BIG_PNG), 200, 45002),
    ("wecom", {"msgtype": "image", "image": {"base64": "***", "md5": "x"}}, 200, 40058),
    # DingTalk
    ("dingtalk", {"msgtype": "text", "text": {"content": "x" * 20001}}, 200, 460101),
    ("dingtalk", {"msgtype": "voice", "voice": {}}, 200, 400105),
    ("dingtalk", {"msgtype": "text", "text": {}}, 200, 40035),
    ("dingtalk", {"msgtype": "markdown", "markdown": {"text": "no title"}}, 200, 40035),
    ("dingtalk", {"msgtype": "text", "text": {"content": "x"}, "at": {"atMobiles": "138"}}, 200, 40035),
    # Feishu: HTTP 200, code decides
    ("feishu", {"msg_type": "text", "content": {"text": "x" * 21000}}, 200, 9499),
    ("feishu", {"msg_type": "markdown", "content": {"text": "x"}}, 200, 9499),
    ("feishu", {"msg_type": "text", "content": {"text": ""}}, 200, 9499),
    ("feishu", {"msg_type": "interactive", "content": {"card": {}}}, 200, 9499),
    # Slack: plain-text error names
    ("slack", {}, 400, "no_text"),
    ("slack", {"text": ""}, 400, "no_text"),
    ("slack", {"text": "x", "blocks": [{"type": "divider"}] * 51}, 400, "invalid_blocks"),
    ("slack", {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]}, 400, "invalid_blocks"),
    ("slack", {"text": "x", "blocks": {"type": "divider"}}, 400, "invalid_blocks_format"),
    # Discord: 400 JSON with a numeric code
    ("discord", {"content": "x" * 2001}, 400, 50035),
    ("discord", {"embeds": [{"title": "t"}] * 11}, 400, 50035),
    ("discord", {"embeds": [{"description": "x" * 4000}, {"description": "y" * 2001}]}, 400, 50035),
    ("discord", {"content": "   "}, 400, 50006),
    ("discord", {"content": "<@1>", "allowed_mentions": {"parse": ["users"], "users": ["1"]}}, 400, 50035),
    # Telegram: ok:false, error_code == HTTP status
    ("telegram", {"chat_id": 1, "text": ""}, 400, 400),
    ("telegram", {"chat_id": 1, "text": "x" * 4097}, 400, 400),
    ("telegram", {"text": "no chat"}, 400, 400),
    ("telegram", {"chat_id": 1, "text": "<script>alert(1)</script>", "parse_mode": "HTML"}, 400, 400),
    ("telegram", {"chat_id": 1, "text": "<b>unclosed", "parse_mode": "HTML"}, 400, 400),
    ("telegram", {"chat_id": 1, "text": "price 9.90", "parse_mode": "MarkdownV2"}, 400, 400),
    ("telegram", {"chat_id": 1, "text": "x", "parse_mode": "BBCode"}, 400, 400),
    ("telegram", {"chat_id": "-1009", "text": "kicked"}, 403, 403),
]


def code_of(key: str, r: requests.Response):
    if key.startswith(("wecom", "dingtalk")):
        return r.json()["errcode"]
    if key.startswith("feishu"):
        return r.json()["code"]
    if key.startswith("slack"):
        return r.text
    if key.startswith("discord"):
        return r.json()["code"]
    body = r.json()
    assert body["ok"] is False
    return body["error_code"]


@pytest.mark.parametrize("key,payload,status,code", REJECTED, ids=[f"{c[0]}-{c[3]}-{i}" for i, c in enumerate(REJECTED)])
def test_invalid_messages_get_the_platform_code(emu, http, key, payload, status, code):
    r = http.post(url(emu, key), json=payload)
    assert (r.status_code, code_of(key, r)) == (status, code), r.text
    assert emu.messages == []
    assert emu.rejections[f"{BOTS[key].platform}:{code}"] == 1


def test_limits_are_inclusive(emu, http):
    assert http.post(url(emu, "wecom"), json={"msgtype": "text", "text": {"content": "中" * 682 + "ab"}}).json()["errcode"] == 0
    assert http.post(url(emu, "wecom"), json={"msgtype": "news", "news": {"articles": [
        {"title": "标" * 42 + "ab", "description": "d" * 512, "url": "https://x.test"}] * 8}}).json()["errcode"] == 0
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3000}}] + [{"type": "divider"}] * 49
    assert http.post(url(emu, "slack"), json={"text": "x", "blocks": blocks}).text == "ok"
    assert http.post(url(emu, "discord"), json={"content": "x" * 2000, "embeds": [{"title": "t"}] * 10}).status_code == 204
    assert http.post(url(emu, "telegram"), json={"chat_id": 5, "text": "é" * 4096}).json()["ok"] is True


def test_slack_truncates_long_text_and_dingtalk_needs_json_content_type(emu, http):
    assert http.post(url(emu, "slack"), json={"text": "x" * 40005}).text == "ok"
    assert len(emu.messages[-1]["text"]) == 40000 and emu.messages[-1]["warnings"]
    r = http.post(url(emu, "dingtalk"), data=json.dumps({"msgtype": "text", "text": {"content": "x"}}))
    assert r.json()["errcode"] == 43004


def test_telegram_migrated_group_names_the_new_chat(emu, http):
    r = http.post(url(emu, "telegram"), json={"chat_id": -42, "text": "hi"})
    assert r.status_code == 400 and r.json()["parameters"] == {"migrate_to_chat_id": -1000042}


def test_mention_mistakes_are_recorded_as_warnings(emu, http):
    http.post(url(emu, "wecom"), json={"msgtype": "markdown_v2", "markdown_v2": {"content": "hi <@lisi>"}})
    assert emu.messages[-1]["mentions"] == [] and "markdown_v2" in emu.messages[-1]["warnings"][0]
    http.post(url(emu, "wecom"), json={"msgtype": "markdown", "markdown": {"content": "hi", "mentioned_list": ["a"]}})
    assert emu.messages[-1]["mentions"] == [] and emu.messages[-1]["warnings"]
    http.post(url(emu, "dingtalk"), json={"msgtype": "text", "text": {"content": "hi"}, "at": {"atMobiles": ["139"]}})
    assert "@139" in emu.messages[-1]["warnings"][0]
    http.post(url(emu, "telegram"), json={"chat_id": 1, "text": "@all please read"})
    assert emu.messages[-1]["mentions"] == [] and "no @all" in emu.messages[-1]["warnings"][0]
    http.post(url(emu, "discord"), json={"content": "<@123> @everyone", "allowed_mentions": {"parse": []}})
    assert emu.messages[-1]["mentions"] == [] and len(emu.messages[-1]["warnings"]) == 2
    http.post(url(emu, "feishu"), json={"msg_type": "text", "content": {"text": "<at id=ou_1>x</at>"}})
    assert emu.messages[-1]["mentions"] == [] and emu.messages[-1]["warnings"]


# ---------------------------------------------------------------- unknown and dead webhooks

UNKNOWN = {
    "wecom": (lambda b: f"{b}/cgi-bin/webhook/send?key=nope", 200, 93000),
    "dingtalk": (lambda b: f"{b}/robot/send?access_token=nope", 200, 300001),
    "feishu": (lambda b: f"{b}/open-apis/bot/v2/hook/nope", 200, 19001),
    "slack": (lambda b: f"{b}/services/TX/BX/nope", 404, "no_service"),
    "discord": (lambda b: f"{b}/api/webhooks/5550001/nope", 404, 10015),
    "telegram": (lambda b: f"{b}/bot555:nope/sendMessage", 401, 401),
}
MINIMAL = {
    "wecom": {"msgtype": "text", "text": {"content": "x"}},
    "dingtalk": {"msgtype": "text", "text": {"content": "x"}},
    "feishu": {"msg_type": "text", "content": {"text": "x"}},
    "slack": {"text": "x"},
    "discord": {"content": "x"},
    "telegram": {"chat_id": -100123, "text": "x"},
}
DEAD_CODES = {"wecom": (200, 93000), "dingtalk": (200, 400102), "feishu": (200, 19001), "slack": (410, "channel_is_archived"),
              "discord": (404, 10015), "telegram": (403, 403)}


@pytest.mark.parametrize("platform", list(UNKNOWN))
def test_unknown_token_strict_gets_the_bad_key_answer(emu, http, platform):
    make_url, status, code = UNKNOWN[platform]
    r = http.post(make_url(emu.base_url), json=MINIMAL[platform])
    assert (r.status_code, code_of(platform, r)) == (status, code)
    assert emu.messages == []


@pytest.mark.parametrize("platform", list(UNKNOWN))
def test_unknown_token_lax_is_registered_and_accepted(http, platform):
    with Emulator(strict=False) as emu:
        make_url, _, _ = UNKNOWN[platform]
        r = http.post(make_url(emu.base_url), json=MINIMAL[platform])
        assert r.status_code in (200, 204), r.text
        assert len(emu.messages) == 1 and len(emu.bots) == 1 and emu.bots[0].platform == platform


@pytest.mark.parametrize("platform", list(DEAD))
def test_dead_bots_answer_their_removal_code(emu, http, platform):
    r = http.post(emu.webhook_url(DEAD[platform]), json=MINIMAL[platform])
    assert (r.status_code, code_of(platform, r)) == DEAD_CODES[platform]
    assert emu.messages == []


def test_specific_removal_codes_and_wrong_discord_token(http):
    bots = [Bot("slack", "T1/B1/X1", dead=403), Bot("wecom", "wk-x", dead=93008), Bot("dingtalk", "dt-x", dead=300001)]
    with Emulator(bots + [BOTS["discord"]]) as emu:
        assert http.post(emu.webhook_url(bots[0]), json={"text": "x"}).status_code == 403
        assert http.post(emu.webhook_url(bots[1]), json=MINIMAL["wecom"]).json()["errcode"] == 93008
        assert http.post(emu.webhook_url(bots[2]), json=MINIMAL["dingtalk"]).json()["errcode"] == 300001
        r = http.post(f"{emu.base_url}/api/webhooks/112233445566/wrong", json={"content": "x"})
        assert (r.status_code, r.json()["code"]) == (401, 50027)
        r = http.post(f"{emu.base_url}/botnot-a-token/sendMessage", json=MINIMAL["telegram"])
        assert r.status_code == 404 and r.json()["ok"] is False


# ---------------------------------------------------------------- signatures and keywords

def test_dingtalk_signature(emu, http, clock):
    body = {"msgtype": "text", "text": {"content": "signed"}}
    ts = int(clock.now * 1000)
    assert http.post(ding_signed_url(emu, "SEC-ding-000000", ts), json=body).json()["errcode"] == 0
    wrong = http.post(ding_signed_url(emu, "SEC-wrong", ts), json=body).json()
    assert wrong["errcode"] == 310000 and "sign not match" in wrong["errmsg"]
    missing = http.post(url(emu, "dingtalk_signed"), json=body).json()
    assert missing["errcode"] == 310000 and "sign not match" in missing["errmsg"]
    stale_ts = ts - 3601 * 1000
    stale = http.post(ding_signed_url(emu, "SEC-ding-000000", stale_ts), json=body).json()
    assert stale["errcode"] == 310000 and "invalid timestamp" in stale["errmsg"]
    near = ts - 3599 * 1000
    assert http.post(ding_signed_url(emu, "SEC-ding-000000", near), json=body).json()["errcode"] == 0
    # the already-encoded sign passed through params= is encoded twice: sign not match
    digest = base64.b64encode(hmac.new(b"SEC-ding-000000", f"{ts}\nSEC-ding-000000".encode(), hashlib.sha256).digest())
    r = http.post(url(emu, "dingtalk_signed"), params={"timestamp": ts, "sign": quote_plus(digest)}, json=body)
    assert r.json()["errcode"] == 310000
    assert len(emu.messages) == 2


def test_feishu_signature_in_body(emu, http, clock):
    ts = int(clock.now)
    body = {"timestamp": str(ts), "sign": feishu_sign("fs-secret", ts), "msg_type": "text", "content": {"text": "s"}}
    assert http.post(url(emu, "feishu_signed"), json=body).json()["code"] == 0
    assert "sign" not in emu.messages[-1]["payload"] and "timestamp" not in emu.messages[-1]["payload"]
    wrong = dict(body, sign=feishu_sign("other", ts))
    assert http.post(url(emu, "feishu_signed"), json=wrong).json()["code"] == 19021
    stale = dict(body, timestamp=str(ts - 3700), sign=feishu_sign("fs-secret", ts - 3700))
    assert http.post(url(emu, "feishu_signed"), json=stale).json()["code"] == 19021
    unsigned = {"msg_type": "text", "content": {"text": "s"}}
    assert http.post(url(emu, "feishu_signed"), json=unsigned).json()["code"] == 19021
    clock.advance(3000)  # still within the hour
    assert http.post(url(emu, "feishu_signed"), json=body).json()["code"] == 0


def test_a_signature_for_a_bot_registered_without_a_secret_is_refused(emu, http, clock):
    """A robot the emulator knows no secret for cannot have its signature checked: refused as a wrong one is,
    never waved through (the sheet says the group signs; the registry says it does not)."""
    ts = int(clock.now)
    ding = url(emu, "dingtalk") + f"&timestamp={ts * 1000}&sign=c2lnbg%3D%3D"
    refused = http.post(ding, json={"msgtype": "text", "text": {"content": "x"}}).json()
    assert refused["errcode"] == 310000 and "sign not match" in refused["errmsg"]
    assert "no signing secret" in refused["errmsg"] and "invalid timestamp" not in refused["errmsg"]
    body = {"timestamp": str(ts), "sign": feishu_sign("guess", ts), "msg_type": "text", "content": {"text": "x"}}
    assert http.post(url(emu, "feishu"), json=body).json()["code"] == 19021
    assert not emu.messages


def test_signed_bots_registered_over_the_admin_endpoint_are_checked_against_the_wall_clock(http, clock):
    """Out of process, the demo or a test registers a signed group with its secret; with `wall_clock`, signature
    timestamps are checked against it while rate windows and records follow `clock` (a run's --now)."""
    real = FakeClock()
    clock.advance(30 * 86400)                                # the run's --now is a month ahead of the wall
    with Emulator(clock=clock, wall_clock=real) as emu:
        reply = http.post(f"{emu.base_url}/_emulator/bots",
                          json={"platform": "dingtalk", "token": "dt-admin-signed", "secret": "SEC-admin-0001"})
        # checkov:skip=CKV_SECRET_6: a made-up test key or secret for the emulator, not a real one
        assert reply.status_code == 201
        base = reply.json()["bots"][0]["webhook_url"]
        body = {"msgtype": "text", "text": {"content": "signed"}}

        def signed(secret: str, ts_ms: int) -> str:
            digest = hmac.new(secret.encode(), f"{ts_ms}\n{secret}".encode(), hashlib.sha256).digest()
            return base + f"&timestamp={ts_ms}&sign={quote_plus(base64.b64encode(digest))}"
        assert http.post(signed("SEC-admin-0001", int(real.now * 1000)), json=body).json()["errcode"] == 0
        assert http.post(signed("SEC-wrong-0001", int(real.now * 1000)), json=body).json()["errcode"] == 310000
        by_now = http.post(signed("SEC-admin-0001", int(clock.now * 1000)), json=body).json()
        assert by_now["errcode"] == 310000 and "invalid timestamp" in by_now["errmsg"]
        assert [m["at"][:10] for m in emu.messages] == [
            datetime.fromtimestamp(clock.now, timezone.utc).date().isoformat()]


def test_keywords(http, clock):
    fs = Bot("feishu", "fs-kw", keyword="qunflow")
    with Emulator([BOTS["dingtalk_kw"], fs], clock=clock) as emu:
        r = http.post(url(emu, "dingtalk_kw"), json={"msgtype": "text", "text": {"content": "hello"}}).json()
        assert r["errcode"] == 310000 and "keywords not in content" in r["errmsg"]
        ok = {"msgtype": "markdown", "markdown": {"title": "qunflow daily", "text": "hello"}}
        assert http.post(url(emu, "dingtalk_kw"), json=ok).json()["errcode"] == 0
        assert http.post(emu.webhook_url(fs), json=MINIMAL["feishu"]).json()["code"] == 19024


# ---------------------------------------------------------------- rate limits on the fake clock

def send(http, emu, key, n, payload=None, **kw):
    return [http.post(url(emu, key), json=payload or MINIMAL[BOTS[key].platform], **kw) for _ in range(n)]


def test_wecom_rolling_window(emu, http, clock):
    assert all(r.json()["errcode"] == 0 for r in send(http, emu, "wecom", 10))
    clock.advance(30)
    assert all(r.json()["errcode"] == 0 for r in send(http, emu, "wecom", 10))
    clock.advance(29.9)
    assert send(http, emu, "wecom", 1)[0].json()["errcode"] == 45009
    clock.advance(0.2)  # the first ten left the window
    assert all(r.json()["errcode"] == 0 for r in send(http, emu, "wecom", 10))
    assert send(http, emu, "wecom", 1)[0].json()["errcode"] == 45009
    assert emu.rejections["wecom:45009"] == 2 and len(emu.messages) == 30


def test_rejected_requests_do_not_consume_the_window(emu, http):
    send(http, emu, "wecom", 19)
    send(http, emu, "wecom", 5, {"msgtype": "text", "text": {"content": ""}})
    assert send(http, emu, "wecom", 1)[0].json()["errcode"] == 0
    assert send(http, emu, "wecom", 1)[0].json()["errcode"] == 45009


def test_dingtalk_ten_minute_penalty(emu, http, clock):
    assert all(r.json()["errcode"] == 0 for r in send(http, emu, "dingtalk", 20))
    assert send(http, emu, "dingtalk", 1)[0].json()["errcode"] == 130101
    clock.advance(120)  # the minute window is empty, but the robot is throttled
    assert send(http, emu, "dingtalk", 1)[0].json()["errcode"] == 130101
    clock.advance(479)
    assert send(http, emu, "dingtalk", 1)[0].json()["errcode"] == 130101
    clock.advance(1.5)  # 600 s after going over
    assert send(http, emu, "dingtalk", 1)[0].json()["errcode"] == 0
    assert len(emu.messages) == 21


def test_feishu_per_second_and_per_minute(emu, http, clock):
    assert [r.json()["code"] for r in send(http, emu, "feishu", 6)] == [0] * 5 + [11232]
    clock.advance(1.0)
    for _ in range(19):  # 4 per second keeps under 5/s; 5 + 95 = 100 in the minute
        assert all(r.json()["code"] == 0 for r in send(http, emu, "feishu", 5))
        clock.advance(1.25)
    assert emu.rejections["feishu:11232"] == 1 and len(emu.messages) == 100
    assert send(http, emu, "feishu", 1)[0].json()["code"] == 11232
    clock.advance(60)
    assert send(http, emu, "feishu", 1)[0].json()["code"] == 0


def test_slack_burst_then_429_with_retry_after(emu, http, clock):
    assert [r.status_code for r in send(http, emu, "slack", 4)] == [200, 200, 200, 429]
    r = send(http, emu, "slack", 1)[0]
    assert r.text == "rate_limited" and r.headers["Retry-After"] == "3"
    clock.advance(1.2)
    assert send(http, emu, "slack", 1)[0].headers["Retry-After"] == "2"
    clock.advance(1.9)
    assert send(http, emu, "slack", 1)[0].status_code == 200


def test_discord_bucket_headers_and_429(emu, http, clock):
    replies = send(http, emu, "discord", 6)
    assert [r.status_code for r in replies] == [204] * 5 + [429]
    assert [r.headers["X-RateLimit-Remaining"] for r in replies[:5]] == ["4", "3", "2", "1", "0"]
    for r in replies:
        assert r.headers["X-RateLimit-Limit"] == "5" and r.headers["X-RateLimit-Bucket"]
        assert float(r.headers["X-RateLimit-Reset-After"]) == pytest.approx(2.0)
    body = replies[5].json()
    assert body == {"message": "You are being rate limited.", "retry_after": 2.0, "global": False}
    assert replies[5].headers["Retry-After"] == "2"
    clock.advance(0.5)
    assert send(http, emu, "discord", 1)[0].json()["retry_after"] == pytest.approx(1.5)
    clock.advance(1.5)
    r = send(http, emu, "discord", 1)[0]
    assert r.status_code == 204 and r.headers["X-RateLimit-Remaining"] == "4"


def test_telegram_per_chat_window(emu, http, clock):
    replies = send(http, emu, "telegram", 21)
    assert replies[-1].status_code == 429
    assert replies[-1].json() == {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 60",
                                  "parameters": {"retry_after": 60}}
    other = http.post(url(emu, "telegram"), json={"chat_id": -100999, "text": "other chat"})
    assert other.json()["ok"] is True
    clock.advance(45)
    assert send(http, emu, "telegram", 1)[0].json()["parameters"]["retry_after"] == 15


def test_limiter_unit():
    clock = FakeClock(0.0)
    lim = Limiter([(2, 10.0)], penalty=30.0, clock=clock)
    for _ in range(2):
        assert lim.check("k") == 0
        lim.hit("k")
    assert lim.check("k") == 30.0
    clock.advance(29.0)
    assert lim.retry_after("k") == pytest.approx(1.0)
    clock.advance(1.0)
    assert lim.check("k") == 0
    with pytest.raises(ValueError):
        Limiter([])


# ---------------------------------------------------------------- faults

def test_timeout_fault_accepts_and_records_then_stalls(http):
    with Emulator([BOTS["wecom"]], timeout_rate=1.0, timeout_stall=0.5) as emu:
        with pytest.raises(requests.exceptions.ReadTimeout):
            http.post(url(emu, "wecom"), json=MINIMAL["wecom"], timeout=0.1)
        assert len(emu.messages) == 1 and emu.faults["timeout"] == 1


def test_stop_ends_a_stall(http):
    emu = Emulator([BOTS["wecom"]], timeout_rate=1.0, timeout_stall=30)
    emu.start()
    target = url(emu, "wecom")
    worker = threading.Thread(target=lambda: pytest.raises(Exception, requests.post, target, json=MINIMAL["wecom"],
                                                           timeout=0.2), daemon=True)
    worker.start()
    worker.join()
    started = time.monotonic()
    emu.stop()
    assert time.monotonic() - started < 2 and len(emu.messages) == 1


def test_error_faults_are_seeded_and_record_nothing(http):
    def statuses(seed):
        with Emulator([BOTS["slack"]], error_rate=0.5, seed=seed) as emu:
            got = [http.post(url(emu, "slack"), json={"text": "x"}).status_code for _ in range(12)]
            assert len(emu.messages) == got.count(200)
            return got
    first = statuses(7)
    assert first == statuses(7)
    assert {500, 502, 503} & set(first) and 200 in first
    with Emulator([BOTS["slack"]], error_rate=1.0) as emu:
        assert http.post(url(emu, "slack"), json={"text": "x"}).status_code in (500, 502, 503)
        assert http.get(f"{emu.base_url}/_emulator/health").status_code == 200  # admin paths are never faulted
        assert emu.messages == []


def test_latency_is_a_real_sleep(http):
    with Emulator([BOTS["wecom"]], latency=0.15) as emu:
        started = time.monotonic()
        http.post(url(emu, "wecom"), json=MINIMAL["wecom"])
        assert time.monotonic() - started >= 0.15


def test_bad_fault_settings_are_refused():
    with pytest.raises(ValueError, match="error_rate"):
        Emulator(error_rate=1.5)
    with pytest.raises(ValueError):
        Emulator(error_rate=0.6, timeout_rate=0.6)


# ---------------------------------------------------------------- transcript, HTML, admin, masking

def test_transcript_jsonl_is_written_and_masked(tmp_path, http, clock):
    path = tmp_path / "out" / "transcript.jsonl"
    with Emulator(list(BOTS.values()), clock=clock, transcript_path=path) as emu:
        http.post(url(emu, "wecom"), json=MINIMAL["wecom"])
        http.post(url(emu, "telegram"), json=MINIMAL["telegram"])
        ts = int(clock.now * 1000)
        http.post(ding_signed_url(emu, "SEC-ding-000000", ts), json=MINIMAL["dingtalk"])
        lines = read_jsonl(path)
        assert [m["seq"] for m in lines] == [1, 2, 3] and lines == emu.messages
    raw = path.read_text(encoding="utf-8")
    for bot in BOTS.values():
        assert bot.token not in raw
    assert "SEC-ding-000000" not in raw and "sign" not in raw
    assert "SEC-ding-000000" not in repr(BOTS["dingtalk_signed"]) and BOTS["wecom"].token not in repr(BOTS["wecom"])


class _Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.scripts = [], 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs.get("class", ""), attrs))
        self.scripts += tag == "script"


def test_html_is_escaped_grouped_and_highlights_mentions(emu, http, tmp_path):
    http.post(url(emu, "wecom"), json={"msgtype": "markdown", "markdown": {
        "content": "# Sale\n**50% off** <script>alert(1)</script> [shop](https://x.test/?a=1&b=2) <@lisi>"}})
    http.post(url(emu, "feishu"), json={"msg_type": "text", "content": {"text": '<img src=x onerror=alert(1)> <at user_id="ou_1">Tom</at>'}})
    http.post(url(emu, "wecom"), json={"msgtype": "text", "text": {"content": "line1\nline2"}})
    page = render_html(emu.messages)
    dom = _Dom()
    dom.feed(page)
    assert dom.scripts == 0 and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>50% off</b>" in page and '<a href="https://x.test/?a=1&amp;b=2"' in page
    assert "line1<br>" in page
    groups = [a["data-group"] for t, c, a in dom.tags if t == "section" and c == "group"]
    assert groups == ["g-wecom", "g-feishu"]
    assert sum(1 for t, c, _ in dom.tags if t == "div" and c == "msg") == 3
    mentions = [c for t, c, _ in dom.tags if t == "span" and c == "mention"]
    assert len(mentions) == 2
    assert "stylesheet" not in page and "http://" not in page.split("<main>")[0]
    out = emu.write_html(tmp_path / "t.html")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_admin_endpoints(http, clock):
    with Emulator(clock=clock) as emu:
        base = emu.base_url
        assert http.get(f"{base}/_emulator/health").json()["ok"] is True
        r = http.post(f"{base}/_emulator/bots", json={"platform": "wecom", "token": "wk-admin-added", "name": "A"})
        assert r.status_code == 201 and r.json()["bots"][0]["token_masked"] == "wk-a…"
        hook = r.json()["bots"][0]["webhook_url"]
        assert http.post(hook, json=MINIMAL["wecom"]).json()["errcode"] == 0
        assert http.post(f"{base}/_emulator/bots", json={"platform": "icq", "token": "x"}).status_code == 400
        messages = http.get(f"{base}/_emulator/messages").json()
        assert len(messages) == 1 and messages[0]["name"] == "A"
        assert http.get(f"{base}/_emulator/messages?platform=slack").json() == []
        assert "section" in http.get(f"{base}/_emulator/transcript.html").text
        assert http.post(f"{base}/_emulator/reset").json() == {"ok": True}
        assert http.get(f"{base}/_emulator/messages").json() == [] and emu.requests_total == 0
        assert http.get(f"{base}/nowhere").status_code == 404
        assert http.get(hook).status_code == 405


def test_bot_validation():
    with pytest.raises(ValueError, match="platform"):
        Bot("whatsapp", "x")
    with pytest.raises(ValueError, match="T/B/X"):
        Bot("slack", "just-one")
    with pytest.raises(ValueError, match="discord"):
        Bot("discord", "abc/def")
    with pytest.raises(ValueError, match="telegram"):
        Bot("telegram", "nocolon")


def test_serve_prints_urls_and_writes_html_on_exit(tmp_path, http):
    lines, stop = [], threading.Event()
    html = tmp_path / "t.html"
    worker = threading.Thread(target=serve, kwargs=dict(port=0, html=html, transcript=tmp_path / "t.jsonl",
                                                          out=lines.append, stop_event=stop, quiet=True))
    worker.start()
    for _ in range(100):
        if any("Ctrl-C" in line for line in lines):
            break
        time.sleep(0.01)
    wecom_line = next(line for line in lines if line.strip().startswith("wecom"))
    base = wecom_line.split("POST ")[1].split("/cgi-bin")[0]
    assert sum(1 for line in lines if "POST http://127.0.0.1:" in line) == 6
    assert http.post(f"{base}/cgi-bin/webhook/send?key=any-key-0000000000", json=MINIMAL["wecom"]).json()["errcode"] == 0
    stop.set()
    worker.join(5)
    assert 'class="msg"' in html.read_text(encoding="utf-8") and (tmp_path / "t.jsonl").exists()


def test_chunked_body_reset_in_place_and_short_tokens_masked(emu, http):
    body = json.dumps(MINIMAL["wecom"]).encode()
    r = http.post(url(emu, "wecom"), data=iter([body[:10], body[10:]]), headers={"Content-Type": "application/json"})
    assert r.json()["errcode"] == 0
    held = emu.messages
    emu.reset()
    assert held == [] and emu.requests_total == 0 and emu.stats()["rejections"] == {}
    short = Bot("wecom", "abc")
    assert short.token_masked == "a…" and "abc" not in repr(short)


@pytest.mark.parametrize("text,mode,seen", [
    ("*b* _i_ __u__ ~s~ ||p|| `c.d` ```py\nx = 1.0\n``` \\!", "MarkdownV2", "b i u s p c.d x = 1.0\n !"),
    (">quote\n[Ann\\.](https://x.test/a_(b\\))", "MarkdownV2", "quote\nAnn."),
    ('<pre><code class="language-py">x &lt; 1</code></pre><blockquote expandable>q</blockquote>', "HTML", "x < 1q"),
    ('<span class="tg-spoiler">s</span> Tom &amp; Jerry', "html", "s Tom & Jerry"),
    ("*b* _i_ [x](tg://user?id=5)", "Markdown", "b i x"),
])
def test_telegram_formatting_is_parsed_like_telegram(emu, http, text, mode, seen):
    r = http.post(url(emu, "telegram"), json={"chat_id": 1, "text": text, "parse_mode": mode})
    assert r.json()["ok"] is True, r.text
    assert r.json()["result"]["text"] == seen


def test_the_emulator_keeps_its_own_copy_of_each_bot(http):
    shared = Bot("wecom", "wk-shared-0001")
    with Emulator([shared]) as first:
        first.bots[0].dead = True  # kill it in this emulator only
        assert http.post(first.webhook_url(shared), json=MINIMAL["wecom"]).json()["errcode"] == 93000
    assert shared.dead is False
    with Emulator([shared]) as second:
        assert http.post(second.webhook_url(shared), json=MINIMAL["wecom"]).json()["errcode"] == 0
