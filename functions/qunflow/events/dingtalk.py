"""DingTalk HTTP event callback receiver: WeCom-style crypto, check_url, group member events.

    receive(request: Inbound, keys: Keys, now: float) -> Answer

The request (../shared/EVENTS.md; DingTalk's callback crypto library): POST
`?msg_signature=S&timestamp=T&nonce=N` (older senders say `signature`, `timeStamp`) with the body
`{"encrypt": "..."}`. Needs DINGTALK_TOKEN, DINGTALK_AES_KEY (the 43-character EncodingAESKey) and
DINGTALK_APP_KEY (the receiveid of an internal app's event subscription). Verified through `wxcrypt`:
msg_signature = sha1 over sorted [token, timestamp, nonce, encrypt] (constant time), then the timestamp within
5 minutes (DingTalk's is in milliseconds; seconds are accepted too), then decryption, strict PKCS#7 (32), and
the receiveid. A body that gives no `encrypt` cannot be verified, and a ciphertext that does not open under a
good signature means our DINGTALK_AES_KEY / DINGTALK_APP_KEY are not the app's: all are refusals (401). The
decrypted text that is not JSON, or an event without a chat, is poison.

Every verified request, check_url included, is answered with DingTalk's encrypted "success":
{"msg_signature", "timeStamp", "nonce", "encrypt"} (timeStamp in ms from `now`, the request's nonce).

Mapped (decrypted JSON, `EventType`):
- chat_add_member -> join per `UserId` (a list, or one id); `Operator` -> inviter_id when someone else;
- chat_remove_member -> leave per `UserId` (detail "removed"); chat_quit -> leave of `UserId`, else `Operator`.
The chat is `ChatId`, else `OpenConversationId` (also their camelCase forms); `at` is `TimeStamp` (ms).
Dedup: DingTalk's callbacks carry no event id, so "dingtalk:<EventId>:<n>" when an `EventId`/`eventId` is
given, else "dingtalk:<EventType>:<chat>:<TimeStamp>:<n>" (a retry repeats the same payload). Other event types
(chat_update_title, chat_disband, ...) are ignored.
"""
from __future__ import annotations

import json

from .answers import accepted, ignored, load_json, missing_key, poison, refused, stale, text_of, when
from .base import Answer, Inbound, Keys, PlatformEvent
from .wxcrypt import Crypt, CryptoError

PLATFORM = "dingtalk"
TOKEN, AES_KEY, APP_KEY = "DINGTALK_TOKEN", "DINGTALK_AES_KEY", "DINGTALK_APP_KEY"
LEAVES = {"chat_remove_member": "removed", "chat_quit": "quit"}


def _query(request: Inbound, *names: str) -> str:
    for name in names:
        value = request.query.get(name)
        if value:
            return str(value).strip()
    return ""


def success(crypt: Crypt, now: float, nonce: str) -> bytes:
    """DingTalk's encrypted "success" answer."""
    timestamp = str(int(now * 1000))
    encrypted, signature = crypt.seal_message(b"success", timestamp, nonce)
    return json.dumps({"msg_signature": signature, "timeStamp": timestamp, "nonce": nonce,
                       "encrypt": encrypted}, separators=(",", ":")).encode("utf-8")


def receive(request: Inbound, keys: Keys, now: float) -> Answer:
    found, absent = missing_key(keys, TOKEN, AES_KEY, APP_KEY)
    if absent:
        return refused(absent)
    crypt = Crypt(found[TOKEN], found[AES_KEY], found[APP_KEY])
    given = _query(request, "msg_signature", "signature")
    timestamp = _query(request, "timestamp", "timeStamp")
    nonce = _query(request, "nonce")
    if not given:
        return refused("the msg_signature (signature) parameter is missing")
    if not nonce:
        return refused("the nonce parameter is missing")
    outer = load_json(request.body)
    encrypted = outer.get("encrypt") if isinstance(outer, dict) else None
    if not isinstance(encrypted, str) or not encrypted:
        return refused("the body has no encrypt to verify")
    try:
        plain = crypt.open_message(given, timestamp, nonce, encrypted)
    except CryptoError as err:
        if err.what == "signature":
            return refused("msg_signature does not match")
        if err.what == "key":
            return refused(f"DINGTALK_AES_KEY is not a 43-character EncodingAESKey ({err})")
        if err.what == "receiveid":
            return refused("the message is for another app (receiveid is not DINGTALK_APP_KEY)")
        return refused(f"could not decrypt ({err.what}): is DINGTALK_AES_KEY right?")
    late = stale(timestamp, now, "timestamp")
    if late:
        return refused(late)
    body = success(crypt, now, nonce)
    event = load_json(plain)
    if not isinstance(event, dict):
        return poison("the decrypted text is not a JSON object", body)
    kind = text_of(event.get("EventType") or event.get("eventType"))
    if kind == "check_url":
        return Answer(status=200, body=body, reason="handshake: dingtalk check_url")
    if kind == "chat_add_member" or kind in LEAVES:
        return _members(event, kind, body)
    return ignored(f"event type {kind[:60] or 'none'}", body)


def _ids(value) -> list[str]:
    if isinstance(value, list):
        return [text_of(v) for v in value if text_of(v)]
    if isinstance(value, str) and value.strip().startswith("["):
        parsed = load_json(value)
        return _ids(parsed) if isinstance(parsed, list) else []
    return [text_of(value)] if text_of(value) else []


def _field(event: dict, *names: str):
    for name in names:
        if event.get(name) not in (None, "", []):
            return event[name]
    return None


def _members(event: dict, kind: str, body: bytes) -> Answer:
    chat = text_of(_field(event, "ChatId", "chatId", "OpenConversationId", "openConversationId"))
    operator = text_of(_field(event, "Operator", "operator", "OperatorUserId"))
    users = _ids(_field(event, "UserId", "userId", "UserIdList", "userIdList"))
    if kind == "chat_quit" and not users and operator:
        users = [operator]
    if not chat or not users:
        return poison(f"{kind} without a chat or a user", body)
    stamp = text_of(_field(event, "TimeStamp", "timeStamp", "timestamp"))
    event_key = text_of(_field(event, "EventId", "eventId"))
    key = f"{PLATFORM}:{event_key}" if event_key else f"{PLATFORM}:{kind}:{chat}:{stamp}"
    join = kind == "chat_add_member"
    return accepted([PlatformEvent(
        platform=PLATFORM, event_id=f"{key}:{n}", type="join" if join else "leave", chat_id=chat, user_id=user,
        at=when(millis=stamp), inviter_id=operator if join and operator != user else "",
        detail="added" if join else LEAVES[kind]) for n, user in enumerate(users)], body)
