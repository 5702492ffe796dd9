"""Slack Events API receiver: verify the v0 signature, answer url_verification, map member and message events.

    receive(request: Inbound, keys: Keys, now: float) -> Answer

Verification (../shared/EVENTS.md), before the body is parsed: `X-Slack-Signature` must be
"v0=" + hex(HMAC-SHA256(SLACK_SIGNING_SECRET, "v0:{X-Slack-Request-Timestamp}:{raw body}")), compared in
constant time, and the timestamp within 5 minutes of `now`. url_verification is signed too and answered
{"challenge": ...}.

Mapped (envelope `type: "event_callback"`, dedup key "slack:<event_id>"):
- `member_joined_channel {user, channel, inviter?}` -> join (inviter -> inviter_id);
- `member_left_channel {user, channel}` -> leave;
- `message {user, channel, text, ts}` without a `subtype` and without `bot_id` -> message. Subtypes
  (message_changed, message_deleted, bot_message, channel_join, ...) and bots' messages are ignored: an edit is
  not new activity, and channel_join duplicates member_joined_channel. Direct messages (channel_type "im") are
  ignored: qunflow keeps group chats.
The check-in keyword is not looked at here: the inbox turns a message into a check-in with the group's keyword.

X-Slack-No-Retry decision: a refusal Slack cannot cure by retrying (bad or missing signature, stale timestamp)
carries `X-Slack-No-Retry: 1`, so a forged or replayed request is not resent three more times. A refusal for
a signing secret qunflow does not have yet (our configuration) carries no such header: Slack's retries (about
now, +1 min, +5 min) may then land after the operator sets the secret. Poison and ignored payloads are 200, so
Slack stops anyway.
"""
from __future__ import annotations

import hashlib
import hmac

from .answers import (accepted, challenge_body, handshake, ignored, load_json, missing_key, poison, refused,
                      same, stale, text_of, when)
from .base import Answer, Inbound, Keys, PlatformEvent, header

PLATFORM = "slack"
# checkov:skip=CKV_SECRET_6: the name of the environment variable, not a secret
SECRET = "SLACK_SIGNING_SECRET"
NO_RETRY = {"X-Slack-No-Retry": "1"}


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode("utf-8") + b":" + body
    return "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def verify(request: Inbound, keys: Keys, now: float) -> Answer | None:
    """None when the request is Slack's; else the refusal."""
    found, absent = missing_key(keys, SECRET)
    if absent:
        return refused(absent)
    timestamp, given = header(request, "X-Slack-Request-Timestamp"), header(request, "X-Slack-Signature")
    if not given:
        return refused("X-Slack-Signature is missing", headers=NO_RETRY)
    if not timestamp:
        return refused("X-Slack-Request-Timestamp is missing", headers=NO_RETRY)
    if not same(expected_signature(found[SECRET], timestamp, request.body), given.strip()):
        return refused("X-Slack-Signature does not match the body", headers=NO_RETRY)
    late = stale(timestamp, now, "X-Slack-Request-Timestamp")
    if late:
        return refused(late, headers=NO_RETRY)
    return None


def receive(request: Inbound, keys: Keys, now: float) -> Answer:
    refusal = verify(request, keys, now)
    if refusal is not None:
        return refusal
    payload = load_json(request.body)
    if not isinstance(payload, dict):
        return poison("the body is not a JSON object")
    kind = payload.get("type")
    if kind == "url_verification":
        challenge = payload.get("challenge")
        if not isinstance(challenge, str) or not challenge:
            return poison("url_verification without a challenge")
        return handshake(challenge_body(challenge), "slack url_verification")
    if kind != "event_callback":
        return ignored(f"envelope type {str(kind)[:40]!r}")
    event, event_id = payload.get("event"), text_of(payload.get("event_id"))
    if not isinstance(event, dict) or not event_id:
        return poison("event_callback without event or event_id")
    return _map(event, event_id, payload.get("event_time"))


def _map(event: dict, event_id: str, event_time) -> Answer:
    etype = event.get("type")
    user, channel = text_of(event.get("user")), text_of(event.get("channel"))
    at = when(seconds=event_time) or when(seconds=event.get("event_ts") or event.get("ts"))
    key = f"{PLATFORM}:{event_id}"
    if etype in ("member_joined_channel", "member_left_channel"):
        if not user or not channel:
            return poison(f"{etype} without user or channel")
        return accepted([PlatformEvent(
            platform=PLATFORM, event_id=key, type="join" if etype == "member_joined_channel" else "leave",
            chat_id=channel, user_id=user, at=at, inviter_id=text_of(event.get("inviter")),
            detail=text_of(event.get("channel_type")))])
    if etype == "message":
        if event.get("subtype"):
            return ignored(f"message subtype {str(event.get('subtype'))[:40]}")
        if event.get("bot_id") or event.get("bot_profile"):
            return ignored("a bot's message")
        if event.get("channel_type") == "im":
            return ignored("a direct message")
        if not user or not channel:
            return poison("message without user or channel")
        text = event.get("text")
        return accepted([PlatformEvent(
            platform=PLATFORM, event_id=key, type="message", chat_id=channel, user_id=user, at=at,
            text=text if isinstance(text, str) else "")])
    return ignored(f"event type {str(etype)[:60]}")
