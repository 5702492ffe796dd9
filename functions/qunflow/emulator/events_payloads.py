"""What each platform's event source sends: real-shaped payloads, signed or encrypted as the platform does.

Written from ../shared/EVENTS.md (and WECOM.md for the WeCom-style crypto DingTalk uses), never from qunflow's
receivers: an independent witness. Pure: the clock reading, the ids and the random bytes are arguments.

Each builder returns a `Wire` (path, query, headers, body): what goes over HTTP to the configured URL.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

KINDS = ("join", "leave", "message")


@dataclass(frozen=True)
class Person:
    id: str
    name: str = ""
    username: str | None = None

    @classmethod
    def of(cls, user: Any) -> "Person":
        if isinstance(user, Person):
            return user
        if isinstance(user, dict):
            return cls(str(user["id"]), str(user.get("name") or ""), user.get("username"))
        return cls(str(user))


@dataclass
class Wire:
    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    event_id: str = ""


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _pkcs7(data: bytes, block: int) -> bytes:
    n = block - len(data) % block
    return data + bytes([n]) * n


def _aes_cbc(key: bytes, iv: bytes, plain: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(plain) + enc.finalize()


def _aes_cbc_open(key: bytes, iv: bytes, data: bytes) -> bytes:
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return dec.update(data) + dec.finalize()


# --- Feishu / Lark -------------------------------------------------------------------------------------

def feishu_encrypt(encrypt_key: str, plain: bytes, iv: bytes) -> str:
    """key = SHA-256(Encrypt Key); base64(IV + AES-256-CBC(PKCS#7 to 16))."""
    key = hashlib.sha256(encrypt_key.encode("utf-8")).digest()
    return base64.b64encode(iv + _aes_cbc(key, iv, _pkcs7(plain, 16))).decode("ascii")


def feishu_signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    return hashlib.sha256(timestamp.encode() + nonce.encode() + encrypt_key.encode() + body).hexdigest()


def feishu_ids(p: Person) -> dict[str, str]:
    return {"open_id": p.id, "union_id": f"on_{p.id}", "user_id": f"uid_{p.id}"}


def feishu_event(kind: str, chat_id: str, user: Person, *, event_id: str, now: float, token: str, app_id: str,
                 text: str = "", inviter: Person | None = None, message_id: str = "") -> dict:
    ms = str(int(now * 1000))
    header = {"event_id": event_id, "token": token, "create_time": ms, "app_id": app_id,
              "tenant_key": "tenant_emulated"}
    if kind == "message":
        header["event_type"] = "im.message.receive_v1"
        event = {"sender": {"sender_id": feishu_ids(user), "sender_type": "user", "tenant_key": "tenant_emulated"},
                 "message": {"message_id": message_id or f"om_{event_id}", "create_time": ms, "chat_id": chat_id,
                             "chat_type": "group", "message_type": "text",
                             "content": json.dumps({"text": text}, ensure_ascii=False)}}
    else:
        header["event_type"] = ("im.chat.member.user.added_v1" if kind == "join"
                                else "im.chat.member.user.deleted_v1")
        operator = inviter or user
        event = {"chat_id": chat_id, "operator_id": feishu_ids(operator), "external": False,
                 "operator_tenant_key": "tenant_emulated", "name": "",
                 "users": [{"name": user.name, "tenant_key": "tenant_emulated", "user_id": feishu_ids(user)}]}
    return {"schema": "2.0", "header": header, "event": event}


def feishu_wire(payload: dict, *, encrypt_key: str, now: float, nonce: str, iv: bytes, sign: bool = True) -> Wire:
    body = _json({"encrypt": feishu_encrypt(encrypt_key, _json(payload), iv)})
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if sign:
        timestamp = str(int(now))
        headers.update({"X-Lark-Request-Timestamp": timestamp, "X-Lark-Request-Nonce": nonce,
                        "X-Lark-Signature": feishu_signature(timestamp, nonce, encrypt_key, body)})
    event_id = (payload.get("header") or {}).get("event_id", "")
    return Wire("/feishu", body, headers, event_id=event_id)


# --- Slack ---------------------------------------------------------------------------------------------

def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return "v0=" + mac.hexdigest()


def slack_event(kind: str, channel: str, user: Person, *, event_id: str, now: float, token: str, team: str,
                app_id: str, text: str = "", inviter: Person | None = None) -> dict:
    ts = f"{now:.6f}"
    if kind == "message":
        event = {"type": "message", "channel": channel, "user": user.id, "text": text, "ts": ts,
                 "event_ts": ts, "channel_type": "channel", "team": team}
    else:
        event = {"type": "member_joined_channel" if kind == "join" else "member_left_channel", "user": user.id,
                 "channel": channel, "channel_type": "C", "team": team, "event_ts": ts}
        if kind == "join" and inviter is not None:
            event["inviter"] = inviter.id
    return {"token": token, "team_id": team, "api_app_id": app_id, "event": event, "type": "event_callback",
            "event_id": event_id, "event_time": int(now)}


def slack_wire(payload: dict, *, secret: str, now: float, retry: int = 0, retry_reason: str = "") -> Wire:
    body = _json(payload)
    timestamp = str(int(now))
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": timestamp,
               "X-Slack-Signature": slack_signature(secret, timestamp, body)}
    if retry:
        headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": retry_reason})
    return Wire("/slack", body, headers, event_id=str(payload.get("event_id", "")))


# --- Telegram ------------------------------------------------------------------------------------------

def telegram_user(p: Person) -> dict:
    user = {"id": int(p.id) if p.id.lstrip("-").isdigit() else p.id, "is_bot": False, "first_name": p.name or p.id}
    if p.username:
        user["username"] = p.username
    return user


def telegram_update(kind: str, chat_id: str, user: Person, *, update_id: int, now: float, text: str = "",
                    inviter: Person | None = None, title: str = "", message_id: int = 1,
                    service: bool = False) -> dict:
    chat = {"id": int(chat_id) if str(chat_id).lstrip("-").isdigit() else chat_id, "type": "supergroup",
            "title": title or str(chat_id)}
    if kind == "message":
        return {"update_id": update_id, "message": {"message_id": message_id, "from": telegram_user(user),
                                                    "chat": chat, "date": int(now), "text": text}}
    if service:              # the service message that comes with ordinary message updates
        key = "new_chat_members" if kind == "join" else "left_chat_member"
        value = [telegram_user(user)] if kind == "join" else telegram_user(user)
        return {"update_id": update_id, "message": {"message_id": message_id, "from": telegram_user(inviter or user),
                                                    "chat": chat, "date": int(now), key: value}}
    old, new = ("left", "member") if kind == "join" else ("member", "left")
    return {"update_id": update_id, "chat_member": {
        "chat": chat, "from": telegram_user(inviter or user), "date": int(now),
        "old_chat_member": {"status": old, "user": telegram_user(user)},
        "new_chat_member": {"status": new, "user": telegram_user(user)}}}


def telegram_wire(update: dict, *, secret_token: str) -> Wire:
    return Wire("/telegram", _json(update), {"Content-Type": "application/json",
                                             "X-Telegram-Bot-Api-Secret-Token": secret_token},
                event_id=str(update["update_id"]))


# --- DingTalk (HTTP event callback, WeCom-style crypto) ------------------------------------------------

def _wx_key(aes_key: str) -> bytes:
    key = base64.b64decode(aes_key + "=")
    if len(key) != 32:
        raise ValueError("the EncodingAESKey is 43 characters that decode to 32 bytes")
    return key


def wx_encrypt(aes_key: str, receive_id: str, message: bytes, random16: bytes) -> str:
    """random(16) + msg_len (4 bytes, big-endian) + msg + receiveid, PKCS#7 to 32, AES-256-CBC, IV = key[:16]."""
    key = _wx_key(aes_key)
    plain = random16 + struct.pack(">I", len(message)) + message + receive_id.encode("utf-8")
    return base64.b64encode(_aes_cbc(key, key[:16], _pkcs7(plain, 32))).decode("ascii")


def wx_decrypt(aes_key: str, encrypted: str) -> tuple[bytes, str]:
    key = _wx_key(aes_key)
    plain = _aes_cbc_open(key, key[:16], base64.b64decode(encrypted))
    pad = plain[-1]
    if not 1 <= pad <= 32 or plain[-pad:] != bytes([pad]) * pad:
        raise ValueError("bad padding")
    plain = plain[:-pad]
    size = struct.unpack(">I", plain[16:20])[0]
    return plain[20:20 + size], plain[20 + size:].decode("utf-8")


def wx_signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode("utf-8")).hexdigest()


def dingtalk_event(kind: str, chat_id: str, user: Person, *, now: float, corp_id: str,
                   inviter: Person | None = None) -> dict:
    if kind == "check_url":
        return {"EventType": "check_url"}
    if kind == "message":
        raise ValueError("DingTalk's HTTP event callback has no message event (EVENTS.md): "
                         "its group events are member changes only")
    kind_name = "chat_add_member" if kind == "join" else "chat_quit"
    event = {"EventType": kind_name, "ChatId": chat_id, "CorpId": corp_id, "TimeStamp": int(now * 1000),
             "UserId": [user.id] if kind == "join" else user.id}
    event["Operator"] = (inviter or user).id
    return event


def dingtalk_wire(event: dict, *, token: str, aes_key: str, app_key: str, now: float, nonce: str,
                  random16: bytes) -> Wire:
    encrypted = wx_encrypt(aes_key, app_key, _json(event), random16)
    timestamp = str(int(now * 1000))
    query = {"msg_signature": wx_signature(token, timestamp, nonce, encrypted), "timestamp": timestamp,
             "nonce": nonce}
    return Wire("/dingtalk", _json({"encrypt": encrypted}), {"Content-Type": "application/json"}, query)


def dingtalk_acknowledged(answer: bytes, *, token: str, aes_key: str, app_key: str) -> bool:
    """DingTalk counts a callback as received only when the answer is its encrypted, signed "success"."""
    try:
        data = json.loads(answer.decode("utf-8"))
        encrypted = data["encrypt"]
        if not hmac.compare_digest(wx_signature(token, str(data["timeStamp"]), str(data["nonce"]), encrypted),
                                   str(data["msg_signature"])):
            return False
        message, receive_id = wx_decrypt(aes_key, encrypted)
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError, struct.error):
        return False
    return message == b"success" and receive_id == app_key
