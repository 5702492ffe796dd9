"""Feishu / Lark event receiver: signature, decryption, url_verification, member and message events (v2 schema).

    receive(request: Inbound, keys: Keys, now: float) -> Answer

Needs both FEISHU_ENCRYPT_KEY and FEISHU_VERIFICATION_TOKEN (the endpoint is public: without an Encrypt Key
Feishu signs nothing). The order, from ../shared/EVENTS.md and lark-oapi's dispatcher (read, not copied):
1. When `X-Lark-Signature` is present it must equal hex(SHA-256(X-Lark-Request-Timestamp + X-Lark-Request-Nonce
   + Encrypt Key + raw body)) (constant time) and the timestamp be within 5 minutes, before anything is parsed.
2. `{"encrypt": b64}` is opened: key = SHA-256(Encrypt Key), IV = the first 16 decoded bytes, AES-256-CBC,
   strict PKCS#7 (block 16). lark-oapi's AESCipher is the same 20 lines; it is not worth the dependency.
3. The Verification Token inside (`token`, or v2 `header.token`) must match (constant time).
4. `url_verification` is answered {"challenge": ...}. Feishu sends it unsigned, so it is the only request
   accepted without a signature (the token, and decryption with the Encrypt Key, vouch for it).
5. Every other request must have been signed in step 1.
A signed request whose body will not parse or decrypt is poison (200): only someone with the Encrypt Key can
sign. The same failure unsigned is a refusal.

Mapped (v2 `schema: "2.0"`; dedup "feishu:<header.event_id>", and "feishu:<event_id>:<n>" for the n-th user of
a member event):
- im.chat.member.user.added_v1 -> join per `users[]` (name -> user_name; operator_id -> inviter_id);
- im.chat.member.user.deleted_v1 (removed) / .withdrawn_v1 (invitation withdrawn) -> leave per user;
- im.message.receive_v1 from `sender_type: "user"` in a group chat -> message; a text message's `content` is a
  JSON string {"text": ...}; other message types count as activity with no text.
User ids: `open_id` (always given to an app), else `user_id`, else `union_id`. `at` is header.create_time (ms).
"""
from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .answers import (accepted, challenge_body, handshake, ignored, load_json, missing_key, poison, refused,
                      same, stale, text_of, when)
from .base import Answer, Inbound, Keys, PlatformEvent, header
from .wxcrypt import CryptoError, unpad

PLATFORM = "feishu"
ENCRYPT_KEY, TOKEN = "FEISHU_ENCRYPT_KEY", "FEISHU_VERIFICATION_TOKEN"
SUCCESS = b'{"msg":"success"}'
MEMBER = {"im.chat.member.user.added_v1": ("join", "added"),
          "im.chat.member.user.deleted_v1": ("leave", "removed"),
          "im.chat.member.user.withdrawn_v1": ("leave", "invitation withdrawn")}
MESSAGE = "im.message.receive_v1"


def decrypt(encrypted: str, encrypt_key: str) -> bytes:
    """The plaintext of Feishu's `encrypt` field. CryptoError when it does not open."""
    try:
        raw = base64.b64decode((encrypted or "").strip(), validate=True)
    except (binascii.Error, ValueError):
        raise CryptoError("base64", "encrypt is not base64") from None
    if len(raw) < 32 or len(raw) % 16:
        raise CryptoError("length", "encrypt is not an IV and whole AES blocks")
    key = hashlib.sha256(encrypt_key.encode("utf-8")).digest()
    decryptor = Cipher(algorithms.AES(key), modes.CBC(raw[:16])).decryptor()
    return unpad(decryptor.update(raw[16:]) + decryptor.finalize(), block=16)


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode("utf-8") + body).hexdigest()


def receive(request: Inbound, keys: Keys, now: float) -> Answer:
    found, absent = missing_key(keys, ENCRYPT_KEY, TOKEN)
    if absent:
        return refused(absent)
    encrypt_key = found[ENCRYPT_KEY]
    given = header(request, "X-Lark-Signature").strip()
    signed = bool(given)
    if signed:
        timestamp = header(request, "X-Lark-Request-Timestamp")
        nonce = header(request, "X-Lark-Request-Nonce")
        if not same(signature(timestamp, nonce, encrypt_key, request.body), given.lower()):
            return refused("X-Lark-Signature does not match the body")
        late = stale(timestamp, now, "X-Lark-Request-Timestamp")
        if late:
            return refused(late)
    unusable = poison if signed else refused
    payload = load_json(request.body)
    if not isinstance(payload, dict):
        return unusable("the body is not a JSON object")
    if "encrypt" in payload:
        try:
            payload = load_json(decrypt(str(payload.get("encrypt") or ""), encrypt_key))
        except CryptoError as err:
            return unusable(f"could not decrypt encrypt ({err.what}): is FEISHU_ENCRYPT_KEY right?")
        if not isinstance(payload, dict):
            return unusable("the decrypted body is not a JSON object")
    head = payload.get("header") if isinstance(payload.get("header"), dict) else {}
    token = payload.get("token") if "token" in payload else head.get("token")
    if not isinstance(token, str) or not same(found[TOKEN], token):
        return refused("the verification token does not match FEISHU_VERIFICATION_TOKEN")
    if payload.get("type") == "url_verification":
        challenge = payload.get("challenge")
        if not isinstance(challenge, str) or not challenge:
            return unusable("url_verification without a challenge")
        return handshake(challenge_body(challenge), "feishu url_verification")
    if not signed:
        return refused("X-Lark-Signature is missing")
    if payload.get("schema") != "2.0" or not head:
        return poison("not a v2 event (schema 2.0 with a header)", SUCCESS)
    event_id, event_type = text_of(head.get("event_id")), text_of(head.get("event_type"))
    event = payload.get("event")
    if not event_id or not isinstance(event, dict):
        return poison(f"{event_type or 'an event'} without header.event_id or event", SUCCESS)
    at = when(millis=head.get("create_time"))
    if event_type in MEMBER:
        return _members(event, event_type, f"{PLATFORM}:{event_id}", at)
    if event_type == MESSAGE:
        return _message(event, f"{PLATFORM}:{event_id}", at)
    return ignored(f"event type {event_type[:60] or 'none'}", SUCCESS)


def user_id(ids) -> str:
    if isinstance(ids, str):
        return ids.strip()
    if not isinstance(ids, dict):
        return ""
    for name in ("open_id", "user_id", "union_id"):
        if text_of(ids.get(name)):
            return text_of(ids.get(name))
    return ""


def _members(event: dict, event_type: str, key: str, at) -> Answer:
    kind, detail = MEMBER[event_type]
    chat, users = text_of(event.get("chat_id")), event.get("users")
    if not chat or not isinstance(users, list):
        return poison(f"{event_type} without chat_id or users", SUCCESS)
    inviter = user_id(event.get("operator_id")) if kind == "join" else ""
    events = []
    for n, user in enumerate(users):
        uid = user_id(user.get("user_id")) if isinstance(user, dict) else ""
        if not uid:
            continue
        events.append(PlatformEvent(
            platform=PLATFORM, event_id=f"{key}:{n}", type=kind, chat_id=chat, user_id=uid,
            user_name=text_of(user.get("name")), at=at, inviter_id="" if inviter == uid else inviter,
            detail=detail + (" (external)" if event.get("external") else "")))
    if not events:
        return poison(f"{event_type} names no user with an id", SUCCESS)
    return accepted(events, SUCCESS)


def _message(event: dict, key: str, at) -> Answer:
    sender = event.get("sender") if isinstance(event.get("sender"), dict) else {}
    message = event.get("message") if isinstance(event.get("message"), dict) else {}
    if sender.get("sender_type", "user") != "user":
        return ignored(f"a message from a {str(sender.get('sender_type'))[:20]}", SUCCESS)
    if message.get("chat_type") == "p2p":
        return ignored("a direct message", SUCCESS)
    chat, uid = text_of(message.get("chat_id")), user_id(sender.get("sender_id"))
    if not chat or not uid:
        return poison("im.message.receive_v1 without message.chat_id or sender.sender_id", SUCCESS)
    text = ""
    if message.get("message_type") == "text":
        content = load_json(message.get("content") or "")
        if isinstance(content, dict) and isinstance(content.get("text"), str):
            text = content["text"]
    return accepted([PlatformEvent(
        platform=PLATFORM, event_id=key, type="message", chat_id=chat, user_id=uid,
        at=when(millis=message.get("create_time")) or at, text=text,
        detail=text_of(message.get("message_type")))], SUCCESS)
