"""The platform receivers (events.feishu/slack/telegram/dingtalk, events.route): real-shaped requests, signed or
encrypted HERE from ../shared/EVENTS.md's recipes with hashlib/hmac/cryptography (never with the receivers' own
helpers), map to the right PlatformEvents; wrong signatures, stale timestamps, missing keys, poison payloads and
the handshakes answer as base.py says."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from qunflow.events import route
from qunflow.events.base import Inbound

NOW = 1764590400.0                                   # 2025-12-01 12:00:00 UTC
AT = datetime(2025, 12, 1, 11, 59, 58, tzinfo=timezone.utc)
SECRETS = {
    "FEISHU_ENCRYPT_KEY": "feishu-encrypt-key-0123456789",
    # checkov:skip=CKV_SECRET_6: a made-up test key or a published test vector for the emulator, not a real secret
    "FEISHU_VERIFICATION_TOKEN": "feishu-verify-token-abcdef",
    # checkov:skip=CKV_SECRET_6: a made-up test key or a published test vector for the emulator, not a real secret
    "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
    "TELEGRAM_SECRET_TOKEN": "tg_secret-Token_0123456789",
    # checkov:skip=CKV_SECRET_6: a made-up test key or a published test vector for the emulator, not a real secret
    "DINGTALK_TOKEN": "dingtalk-token-0123456789",
    "DINGTALK_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "DINGTALK_APP_KEY": "dingappkey0123456789",
}


def keys_without(*names):
    return lambda name: None if name in names else SECRETS.get(name)


KEYS = keys_without()


def post(path, body, headers=None, query=None, method="POST"):
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return Inbound(method=method, path=path, headers={k.lower(): v for k, v in (headers or {}).items()},
                   query=dict(query or {}), body=raw)


def receive(request, keys=KEYS, now=NOW):
    answer = route.receive(request, keys, now)
    for secret in SECRETS.values():                  # no answer ever carries a secret
        assert secret not in answer.reason and secret.encode() not in answer.body
    return answer


def refused(answer, status, *words):
    assert answer.status == status and answer.events == [] and answer.reason.startswith("refused: ")
    for word in words:
        assert word in answer.reason, answer.reason


def acked(answer, kind):
    assert answer.status == 200 and answer.events == [] and answer.reason.startswith(kind + ": "), answer.reason


# ---- Slack ---------------------------------------------------------------------------------------------------

def slack(body, ts=NOW, secret=SECRETS["SLACK_SIGNING_SECRET"], tamper=None):
    raw = json.dumps(body).encode() if not isinstance(body, bytes) else body
    stamp = str(int(ts))
    mac = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + raw, hashlib.sha256).hexdigest()
    return post("/slack", tamper if tamper is not None else raw,
                {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=" + mac})


def slack_event(event, event_id="Ev0PV52K21"):
    return {"token": "deprecated", "team_id": "T0001", "api_app_id": "A0001", "type": "event_callback",
            "event_id": event_id, "event_time": int(NOW) - 2, "event": event}


def test_slack_join_leave_and_message():
    joined = receive(slack(slack_event({"type": "member_joined_channel", "user": "W06GH7XHN", "channel": "C0698JE0H",
                                        "channel_type": "C", "team": "T0001", "inviter": "U123456789"})))
    assert joined.status == 200 and joined.reason == ""
    [e] = joined.events
    assert (e.platform, e.event_id, e.type, e.chat_id, e.user_id, e.inviter_id, e.at) == (
        "slack", "slack:Ev0PV52K21", "join", "C0698JE0H", "W06GH7XHN", "U123456789", AT)
    [left] = receive(slack(slack_event({"type": "member_left_channel", "user": "W06GH7XHN", "channel": "C0698JE0H",
                                        "channel_type": "C", "team": "T0001"}, "Ev2"))).events
    assert (left.type, left.event_id, left.inviter_id) == ("leave", "slack:Ev2", "")
    [msg] = receive(slack(slack_event({"type": "message", "channel": "C0698JE0H", "user": "U2147483697",
                                       "text": "打卡 day 3", "ts": "1764590398.000200", "channel_type": "channel"},
                                      "Ev3"))).events
    assert (msg.type, msg.user_id, msg.text, msg.event_id) == ("message", "U2147483697", "打卡 day 3", "slack:Ev3")


@pytest.mark.parametrize("event, why", [
    ({"type": "message", "subtype": "message_changed", "channel": "C1", "message": {"text": "打卡"}}, "subtype"),
    ({"type": "message", "subtype": "channel_join", "channel": "C1", "user": "U1", "text": "joined"}, "subtype"),
    ({"type": "message", "channel": "C1", "user": "U1", "bot_id": "B1", "text": "打卡"}, "bot"),
    ({"type": "message", "channel": "D1", "user": "U1", "text": "hi", "channel_type": "im"}, "direct"),
    ({"type": "reaction_added", "user": "U1"}, "reaction_added"),
])
def test_slack_ignores_edits_bots_and_other_events(event, why):
    answer = receive(slack(slack_event(event)))
    acked(answer, "ignored")
    assert why in answer.reason


def test_slack_url_verification_is_signed_and_answered():
    # checkov:skip=CKV_SECRET_6: a made-up test key or a published test vector for the emulator, not a real secret
    answer = receive(slack({"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                            "type": "url_verification"}))
    assert answer.status == 200 and answer.events == [] and answer.reason.startswith("handshake: ")
    assert json.loads(answer.body) == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    refused(receive(slack({"challenge": "c", "type": "url_verification"}, secret="another-secret-0000")), 401)


def test_slack_refusals():
    body = slack_event({"type": "member_joined_channel", "user": "U1", "channel": "C1"})
    # checkov:skip=CKV_SECRET_6: a made-up test key or a published test vector for the emulator, not a real secret
    wrong = receive(slack(body, secret="not-the-signing-secret"))
    refused(wrong, 401, "X-Slack-Signature")
    assert wrong.headers == {"X-Slack-No-Retry": "1"}
    tampered = receive(slack(body, tamper=json.dumps({**body, "event_id": "EvOTHER"}).encode()))
    refused(tampered, 401, "X-Slack-Signature")
    for ts in (NOW - 301, NOW + 301):
        late = receive(slack(body, ts=ts))
        refused(late, 401, "stale", "X-Slack-Request-Timestamp")
        assert late.headers == {"X-Slack-No-Retry": "1"}
    assert receive(slack(body, ts=NOW - 299)).events                 # inside the window
    unsigned = post("/slack", body, {"X-Slack-Request-Timestamp": str(int(NOW))})
    refused(receive(unsigned), 401, "X-Slack-Signature is missing")
    missing = receive(slack(body), keys=keys_without("SLACK_SIGNING_SECRET"))
    refused(missing, 401, "SLACK_SIGNING_SECRET")
    assert "X-Slack-No-Retry" not in missing.headers                # our configuration: Slack's retries may help


def test_slack_poison_is_acknowledged():
    acked(receive(slack(b"{not json")), "poison")
    acked(receive(slack({"type": "event_callback", "event": {"type": "member_joined_channel"}})), "poison")
    acked(receive(slack(slack_event({"type": "member_joined_channel", "channel": "C1"}))), "poison")


# ---- Feishu --------------------------------------------------------------------------------------------------

def feishu_encrypt(plain: bytes, key=SECRETS["FEISHU_ENCRYPT_KEY"], pad=True) -> str:
    iv = os.urandom(16)
    if pad:
        padder = padding.PKCS7(128).padder()
        plain = padder.update(plain) + padder.finalize()
    enc = Cipher(algorithms.AES(hashlib.sha256(key.encode()).digest()), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + enc.update(plain) + enc.finalize()).decode()


def feishu(payload, ts=NOW, key=SECRETS["FEISHU_ENCRYPT_KEY"], signed=True, encrypted=True, raw_plain=None):
    plain = raw_plain if raw_plain is not None else json.dumps(payload, ensure_ascii=False).encode()
    body = json.dumps({"encrypt": feishu_encrypt(plain)}).encode() if encrypted else plain
    headers = {}
    if signed:
        stamp, nonce = str(int(ts)), "13a3c6f8"
        headers = {"X-Lark-Request-Timestamp": stamp, "X-Lark-Request-Nonce": nonce,
                   "X-Lark-Signature": hashlib.sha256((stamp + nonce + key).encode() + body).hexdigest()}
    return post("/feishu", body, headers)


def feishu_v2(event_type, event, event_id="5e3702a84e847582be8db7fb73283c02",
              token=SECRETS["FEISHU_VERIFICATION_TOKEN"]):
    return {"schema": "2.0", "header": {"event_id": event_id, "event_type": event_type,
                                        "create_time": str(int(NOW * 1000) - 2000), "token": token,
                                        "app_id": "cli_9f5343c580712544", "tenant_key": "2ca1d211f64f6438"},
            "event": event}


def ids(open_id):
    return {"open_id": open_id, "union_id": "on_" + open_id[3:], "user_id": "e33ggbyz"}


ADDED = {"chat_id": "oc_a0553eda9014c201e6969b478895c230", "operator_id": ids("ou_operator0000000000"),
         "external": False, "operator_tenant_key": "736588c9260f175e", "name": "群",
         "users": [{"name": "王小明", "tenant_key": "736588c9260f175e", "user_id": ids("ou_wang000000000000")},
                   {"name": "Lily", "tenant_key": "736588c9260f175e", "user_id": ids("ou_lily000000000000")}]}


def test_feishu_added_gives_one_join_per_user():
    answer = receive(feishu(feishu_v2("im.chat.member.user.added_v1", ADDED)))
    assert answer.status == 200 and answer.reason == "" and json.loads(answer.body) == {"msg": "success"}
    assert [(e.event_id, e.type, e.chat_id, e.user_id, e.user_name, e.inviter_id, e.at) for e in answer.events] == [
        ("feishu:5e3702a84e847582be8db7fb73283c02:0", "join", ADDED["chat_id"], "ou_wang000000000000", "王小明",
         "ou_operator0000000000", AT),
        ("feishu:5e3702a84e847582be8db7fb73283c02:1", "join", ADDED["chat_id"], "ou_lily000000000000", "Lily",
         "ou_operator0000000000", AT)]
    again = receive(feishu(feishu_v2("im.chat.member.user.added_v1", ADDED)))   # a retry: the same dedup keys
    assert [e.event_id for e in again.events] == [e.event_id for e in answer.events]


@pytest.mark.parametrize("event_type, detail", [("im.chat.member.user.deleted_v1", "removed"),
                                                ("im.chat.member.user.withdrawn_v1", "invitation withdrawn")])
def test_feishu_deleted_and_withdrawn_are_leaves(event_type, detail):
    event = {**ADDED, "users": ADDED["users"][:1]}
    [e] = receive(feishu(feishu_v2(event_type, event, "ev2"))).events
    assert (e.type, e.user_id, e.event_id, e.detail, e.inviter_id) == (
        "leave", "ou_wang000000000000", "feishu:ev2:0", detail, "")


def feishu_message(text="打卡 第3天", sender_type="user", chat_type="group", message_type="text"):
    content = json.dumps({"text": text}, ensure_ascii=False) if message_type == "text" else '{"image_key":"img"}'
    return feishu_v2("im.message.receive_v1", {
        "sender": {"sender_id": ids("ou_wang000000000000"), "sender_type": sender_type, "tenant_key": "t"},
        "message": {"message_id": "om_5ce6d572455d361153b7cb51da133945", "root_id": "", "parent_id": "",
                    "create_time": str(int(NOW * 1000) - 2000), "chat_id": "oc_5ce6d572455d361153b7xx51da133945",
                    "chat_type": chat_type, "message_type": message_type, "content": content, "mentions": []}},
        "evmsg")


def test_feishu_message_text_is_a_json_string():
    [e] = receive(feishu(feishu_message())).events
    assert (e.type, e.event_id, e.chat_id, e.user_id, e.text, e.at) == (
        "message", "feishu:evmsg", "oc_5ce6d572455d361153b7xx51da133945", "ou_wang000000000000", "打卡 第3天", AT)
    [image] = receive(feishu(feishu_message(message_type="image"))).events
    assert (image.type, image.text) == ("message", "")
    acked(receive(feishu(feishu_message(sender_type="app"))), "ignored")
    acked(receive(feishu(feishu_message(chat_type="p2p"))), "ignored")


def test_feishu_url_verification_plain_and_encrypted():
    challenge = {"challenge": "ajls384kdjx98XX", "token": SECRETS["FEISHU_VERIFICATION_TOKEN"],
                 "type": "url_verification"}
    for request in (feishu(challenge, signed=False, encrypted=False), feishu(challenge, signed=False),
                    feishu(challenge)):
        answer = receive(request)
        assert answer.status == 200 and answer.events == [] and answer.reason.startswith("handshake: ")
        assert json.loads(answer.body) == {"challenge": "ajls384kdjx98XX"}
    wrong_token = {**challenge, "token": "someone-elses-token"}
    refused(receive(feishu(wrong_token, signed=False, encrypted=False)), 401, "verification token")
    refused(receive(feishu(wrong_token, signed=False)), 401, "verification token")


def test_feishu_refusals():
    payload = feishu_v2("im.chat.member.user.added_v1", ADDED)
    refused(receive(feishu(payload, key="not-the-encrypt-key")), 401, "X-Lark-Signature")
    refused(receive(feishu(payload, signed=False)), 401, "X-Lark-Signature is missing")
    refused(receive(feishu(payload, ts=NOW - 400)), 401, "stale", "X-Lark-Request-Timestamp")
    refused(receive(feishu(feishu_v2("im.chat.member.user.added_v1", ADDED, token="forged"))), 401, "token")
    refused(receive(feishu(payload), keys=keys_without("FEISHU_ENCRYPT_KEY")), 401, "FEISHU_ENCRYPT_KEY")
    refused(receive(feishu(payload), keys=keys_without("FEISHU_VERIFICATION_TOKEN")), 401,
            "FEISHU_VERIFICATION_TOKEN")
    request = feishu(payload)                                        # a body changed after signing
    changed = Inbound(request.method, request.path, request.headers, request.query,
                      json.dumps({"encrypt": feishu_encrypt(json.dumps(payload).encode())}).encode())
    refused(receive(changed), 401, "X-Lark-Signature")
    # unsigned and undecryptable: not Feishu's (a wrong Encrypt Key on either side)
    refused(receive(post("/feishu", {"encrypt": feishu_encrypt(b"{}", key="other-key-000")})), 401, "decrypt")


def signed_feishu_body(body: bytes):
    stamp, nonce = str(int(NOW)), "n0nce"
    sig = hashlib.sha256((stamp + nonce + SECRETS["FEISHU_ENCRYPT_KEY"]).encode() + body).hexdigest()
    return post("/feishu", body, {"X-Lark-Request-Timestamp": stamp, "X-Lark-Request-Nonce": nonce,
                                  "X-Lark-Signature": sig})


def test_feishu_poison_is_acknowledged():
    acked(receive(signed_feishu_body(b"not json at all")), "poison")               # signed, not JSON
    acked(receive(feishu(None, raw_plain=b"not json at all")), "poison")            # decrypts to not-JSON
    acked(receive(feishu(None, raw_plain="打卡".encode("gbk"))), "poison")           # nor UTF-8
    # signed, but the ciphertext's PKCS#7 is broken: the last 16 bytes end 05 05 ... 03
    bad_pad = b'{"schema":"2.0"}' + b"\x05" * 15 + b"\x03"
    answer = receive(signed_feishu_body(json.dumps({"encrypt": feishu_encrypt(bad_pad, pad=False)}).encode()))
    acked(answer, "poison")
    assert "padding" in answer.reason
    answer = receive(signed_feishu_body(json.dumps({"encrypt": feishu_encrypt(b"\x11" * 32, pad=False)}).encode()))
    acked(answer, "poison")                                            # 17 agreeing bytes: above AES's block of 16
    assert "padding" in answer.reason
    answer = receive(signed_feishu_body(json.dumps({"encrypt": "!!not base64!!"}).encode()))
    acked(answer, "poison")
    assert "base64" in answer.reason
    acked(receive(feishu(feishu_v2("im.chat.member.user.added_v1", {"chat_id": "oc_1", "users": "x"}))), "poison")
    acked(receive(feishu(feishu_v2("im.chat.member.user.added_v1", {"chat_id": "oc_1", "users": [{}]}))), "poison")
    acked(receive(feishu(feishu_v2("im.chat.updated_v1", {"chat_id": "oc_1"}))), "ignored")
    acked(receive(feishu({"uuid": "v1", "token": SECRETS["FEISHU_VERIFICATION_TOKEN"], "event": {}})), "poison")


# ---- Telegram ------------------------------------------------------------------------------------------------

def telegram(update, secret=SECRETS["TELEGRAM_SECRET_TOKEN"]):
    return post("/telegram", update, {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {})


GROUP = {"id": -1001234567890, "title": "打卡群", "type": "supergroup"}
ANNA = {"id": 111111111, "is_bot": False, "first_name": "Anna", "last_name": "Li", "username": "annali"}
BEN = {"id": 222222222, "is_bot": False, "first_name": "Ben"}
BOT = {"id": 999, "is_bot": True, "first_name": "qunflow", "username": "qunflow_bot"}


def member_update(old, new, user=ANNA, actor=BEN, **extra):
    return {"update_id": 10000, "chat_member": {
        "chat": GROUP, "from": actor, "date": int(NOW) - 2,
        "old_chat_member": {"status": old, "user": user, **extra.get("old_extra", {})},
        "new_chat_member": {"status": new, "user": user, **extra.get("new_extra", {})}}}


def test_telegram_chat_member_transitions():
    [join] = receive(telegram(member_update("left", "member"))).events
    assert (join.event_id, join.type, join.chat_id, join.user_id, join.user_name, join.inviter_id, join.at) == (
        "telegram:10000:0", "join", "-1001234567890", "111111111", "Anna Li", "222222222", AT)
    [self_join] = receive(telegram(member_update("kicked", "member", actor=ANNA))).events
    assert self_join.inviter_id == ""
    [leave] = receive(telegram(member_update("member", "left", actor=ANNA))).events
    assert (leave.type, leave.user_id) == ("leave", "111111111")
    [restricted] = receive(telegram(member_update("left", "restricted", new_extra={"is_member": True}))).events
    assert restricted.type == "join"
    acked(receive(telegram(member_update("member", "administrator"))), "ignored")
    acked(receive(telegram(member_update("left", "restricted", new_extra={"is_member": False}))), "ignored")
    acked(receive(telegram(member_update("left", "member", user=BOT))), "ignored")


def message_update(update_id=10001, chat=GROUP, **message):
    return {"update_id": update_id, "message": {"message_id": 7, "from": BEN, "chat": chat, "date": int(NOW) - 2,
                                                **message}}


def test_telegram_service_messages_and_text():
    joined = receive(telegram(message_update(new_chat_members=[ANNA, BOT, BEN]))).events
    assert [(e.event_id, e.type, e.user_id, e.user_name, e.inviter_id) for e in joined] == [
        ("telegram:10001:0", "join", "111111111", "Anna Li", "222222222"),
        ("telegram:10001:1", "join", "222222222", "Ben", "")]
    [left] = receive(telegram(message_update(10002, left_chat_member=ANNA))).events
    assert (left.event_id, left.type, left.user_id) == ("telegram:10002:0", "leave", "111111111")
    [text] = receive(telegram(message_update(10003, text="打卡"))).events
    assert (text.event_id, text.type, text.user_id, text.text, text.chat_id, text.at) == (
        "telegram:10003:0", "message", "222222222", "打卡", "-1001234567890", AT)
    [photo] = receive(telegram(message_update(10004, photo=[{"file_id": "f"}], caption="打卡 photo"))).events
    assert photo.text == "打卡 photo"
    acked(receive(telegram(message_update(10005, new_chat_title="new"))), "ignored")
    acked(receive(telegram(message_update(10006, chat={"id": 222222222, "type": "private"}, text="hi"))), "ignored")
    acked(receive(telegram({"update_id": 10007, "message": {"from": BOT, "chat": GROUP, "text": "x"}})), "ignored")
    acked(receive(telegram({"update_id": 10008, "edited_message": {"chat": GROUP, "text": "x"}})), "ignored")


def test_telegram_refusals_and_poison():
    update = message_update(text="打卡")
    # checkov:skip=CKV_SECRET_6: a made-up test key or a published test vector for the emulator, not a real secret
    refused(receive(telegram(update, secret="wrong-secret-token")), 401, "X-Telegram-Bot-Api-Secret-Token")
    refused(receive(telegram(update, secret="")), 401, "X-Telegram-Bot-Api-Secret-Token is missing")
    refused(receive(telegram(update), keys=keys_without("TELEGRAM_SECRET_TOKEN")), 401, "TELEGRAM_SECRET_TOKEN")
    acked(receive(telegram(b"<html>")), "poison")
    acked(receive(telegram({"message": update["message"]})), "poison")
    acked(receive(telegram({"update_id": 5, "message": {"text": "no chat"}})), "poison")


# ---- DingTalk ------------------------------------------------------------------------------------------------

def wx_key(aes=SECRETS["DINGTALK_AES_KEY"]):
    return base64.b64decode(aes + "=")


def wx_encrypt(msg: bytes, receiveid=SECRETS["DINGTALK_APP_KEY"]) -> str:
    plain = os.urandom(16) + struct.pack(">I", len(msg)) + msg + receiveid.encode()
    n = 32 - len(plain) % 32
    key = wx_key()
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plain + bytes([n]) * n) + enc.finalize()).decode()


def wx_decrypt(encrypted: str) -> tuple[bytes, bytes]:
    key = wx_key()
    dec = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = dec.update(base64.b64decode(encrypted)) + dec.finalize()
    plain = plain[:-plain[-1]]
    (size,) = struct.unpack(">I", plain[16:20])
    return plain[20:20 + size], plain[20 + size:]


def wx_sig(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def dingtalk(event, ts_ms=int(NOW * 1000) - 1000, token=SECRETS["DINGTALK_TOKEN"], receiveid=None,
             names=("msg_signature", "timestamp"), raw=None):
    encrypted = wx_encrypt(raw if raw is not None else json.dumps(event).encode(),
                           receiveid or SECRETS["DINGTALK_APP_KEY"])
    nonce = "nEXhMP4r"
    query = {names[0]: wx_sig(token, str(ts_ms), nonce, encrypted), names[1]: str(ts_ms), "nonce": nonce}
    return post("/dingtalk", {"encrypt": encrypted}, query=query)


def assert_success(answer):
    reply = json.loads(answer.body)
    assert reply["msg_signature"] == wx_sig(SECRETS["DINGTALK_TOKEN"], reply["timeStamp"], reply["nonce"],
                                            reply["encrypt"])
    assert wx_decrypt(reply["encrypt"]) == (b"success", SECRETS["DINGTALK_APP_KEY"].encode())
    assert reply["timeStamp"] == str(int(NOW * 1000))


def test_dingtalk_check_url_answers_encrypted_success():
    answer = receive(dingtalk({"EventType": "check_url"}))
    assert answer.status == 200 and answer.events == [] and answer.reason.startswith("handshake: ")
    assert_success(answer)
    assert_success(receive(dingtalk({"EventType": "check_url"}, names=("signature", "timeStamp"))))


def test_dingtalk_member_events():
    stamp = int(NOW * 1000) - 2000
    answer = receive(dingtalk({"EventType": "chat_add_member", "ChatId": "chat7b1e1fd3c9b3f4ea7ac8a4d1",
                               "Operator": "manager7675", "UserId": ["user001", "manager7675"], "TimeStamp": stamp,
                               "CorpId": "ding1234"}))
    assert answer.status == 200 and answer.reason == ""
    assert_success(answer)
    key = f"dingtalk:chat_add_member:chat7b1e1fd3c9b3f4ea7ac8a4d1:{stamp}"
    assert [(e.event_id, e.type, e.chat_id, e.user_id, e.inviter_id, e.at) for e in answer.events] == [
        (f"{key}:0", "join", "chat7b1e1fd3c9b3f4ea7ac8a4d1", "user001", "manager7675", AT),
        (f"{key}:1", "join", "chat7b1e1fd3c9b3f4ea7ac8a4d1", "manager7675", "", AT)]
    [removed] = receive(dingtalk({"EventType": "chat_remove_member", "ChatId": "chat1", "Operator": "m",
                                  "UserId": ["user001"], "TimeStamp": stamp, "EventId": "e-77"})).events
    assert (removed.event_id, removed.type, removed.detail) == ("dingtalk:e-77:0", "leave", "removed")
    [quit_] = receive(dingtalk({"EventType": "chat_quit", "OpenConversationId": "cidABC", "Operator": "user002",
                                "TimeStamp": stamp})).events
    assert (quit_.type, quit_.chat_id, quit_.user_id, quit_.detail) == ("leave", "cidABC", "user002", "quit")


def test_dingtalk_refusals():
    event = {"EventType": "chat_add_member", "ChatId": "c", "UserId": ["u"], "TimeStamp": 1}
    refused(receive(dingtalk(event, token="not-the-token")), 401, "msg_signature")
    refused(receive(dingtalk(event, ts_ms=int(NOW * 1000) - 301_000)), 401, "stale", "timestamp")
    refused(receive(dingtalk(event, receiveid="dingOTHERAPP")), 401, "receiveid")
    for name in ("DINGTALK_TOKEN", "DINGTALK_AES_KEY", "DINGTALK_APP_KEY"):
        refused(receive(dingtalk(event), keys=keys_without(name)), 401, name)
    refused(receive(post("/dingtalk", b"not json", query={"msg_signature": "x", "nonce": "n"})), 401, "encrypt")
    request = dingtalk(event)
    refused(receive(Inbound("POST", "/dingtalk", {}, {**request.query, "nonce": "other"}, request.body)), 401,
            "msg_signature")


def test_dingtalk_poison_and_ignored():
    poisoned = receive(dingtalk(None, raw=b"\xff not json"))
    acked(poisoned, "poison")
    assert_success(poisoned)                                          # acknowledged the way DingTalk wants
    acked(receive(dingtalk({"EventType": "chat_add_member", "UserId": ["u"]})), "poison")
    ignored = receive(dingtalk({"EventType": "chat_update_title", "ChatId": "c"}))
    acked(ignored, "ignored")
    assert_success(ignored)


# ---- the route -----------------------------------------------------------------------------------------------

def test_route_paths_methods_and_size():
    assert receive(telegram(message_update(text="x"))).events
    trailing = Inbound("POST", "/telegram/", telegram(message_update(text="x")).headers, {},
                       telegram(message_update(text="x")).body)
    assert receive(trailing).events
    refused(receive(post("/whatsapp", {})), 404, "/whatsapp")
    refused(receive(post("/", {})), 404)
    get = receive(post("/slack", b"", method="GET"))
    refused(get, 405)
    assert get.headers == {"Allow": "POST"}
    big = receive(telegram({"update_id": 1, "message": {"text": "x" * (256 * 1024)}}))
    refused(big, 413)
    assert receive(telegram({"update_id": 1, "message": {"chat": GROUP, "from": BEN, "date": 1,
                                                         "text": "x" * (250 * 1024)}})).events


def test_route_keys_failing_is_a_retry_and_a_receiver_bug_is_not(monkeypatch):
    def broken_keys(name):
        raise TimeoutError("secret manager is slow")
    refused(receive(telegram(message_update(text="x")), keys=broken_keys), 503, "TELEGRAM_SECRET_TOKEN")

    def bug(request, keys, now):
        raise KeyError("surprise")
    monkeypatch.setitem(route.RECEIVERS, "/telegram", (bug, frozenset({"POST"})))
    acked(receive(telegram(message_update(text="x"))), "poison")


def test_retries_and_replays_give_the_same_dedup_keys():
    body = slack_event({"type": "member_joined_channel", "user": "U1", "channel": "C1"}, "EvRETRY")
    first = receive(slack(body))
    retry = slack(body, ts=NOW + 60)                                 # Slack re-signs its retry a minute later
    retry = Inbound(retry.method, retry.path, {**retry.headers, "x-slack-retry-num": "1",
                                               "x-slack-retry-reason": "http_timeout"}, {}, retry.body)
    assert [e.event_id for e in receive(retry, now=NOW + 60).events] == [e.event_id for e in first.events]
    update = message_update(4242, text="打卡")
    assert receive(telegram(update)).events[0].event_id == receive(telegram(update)).events[0].event_id
    acked(receive(telegram({"update_id": 4243, "my_chat_member": {"chat": GROUP}})), "ignored")
