"""Telegram webhook receiver: check the secret token header, map chat_member updates and group messages.

    receive(request: Inbound, keys: Keys, now: float) -> Answer

Verification (../shared/EVENTS.md): `setWebhook(secret_token=S)` makes every request carry
`X-Telegram-Bot-Api-Secret-Token: S`; it is compared in constant time with TELEGRAM_SECRET_TOKEN. Telegram
signs nothing and its requests carry no timestamp header, so there is no freshness window: an update's `date`
is when it happened, and Telegram legitimately delivers pending updates hours late after an outage. Replays are
caught by the dedup key instead: "telegram:<update_id>:<n>", n = 0, 1, ... over the events one update gives.

Mapped:
- `chat_member` (ChatMemberUpdated): a join is a change from not-a-member (left, kicked, restricted with
  is_member false) to a member (member, administrator, creator, restricted with is_member true); a leave the
  reverse; other changes (a promotion) are ignored. `from` -> inviter_id when it is someone else.
- `message.new_chat_members` -> one join per (non-bot) member; `message.left_chat_member` -> leave.
- any other group `message` from a person -> message; `text` (or a caption) is its text. Other service
  messages (a new title, a pin, ...) are ignored, as are bots, private chats, edits and channel posts.
`my_chat_member` (the bot's own membership) is ignored. Chat and user ids are Telegram's integers as text.
"""
from __future__ import annotations

from .answers import accepted, ignored, load_json, missing_key, poison, refused, same, text_of, when
from .base import Answer, Inbound, Keys, PlatformEvent, header

PLATFORM = "telegram"
# checkov:skip=CKV_SECRET_6: the name of the environment variable, not a secret
SECRET = "TELEGRAM_SECRET_TOKEN"
IN = {"member", "administrator", "creator"}
SERVICE = {"new_chat_title", "new_chat_photo", "delete_chat_photo", "group_chat_created", "supergroup_chat_created",
           "channel_chat_created", "migrate_to_chat_id", "migrate_from_chat_id", "pinned_message",
           "message_auto_delete_timer_changed", "video_chat_started", "video_chat_ended", "video_chat_scheduled",
           "video_chat_participants_invited", "forum_topic_created", "forum_topic_edited", "forum_topic_closed",
           "forum_topic_reopened", "general_forum_topic_hidden", "general_forum_topic_unhidden", "boost_added",
           "chat_background_set", "write_access_allowed", "proximity_alert_triggered", "users_shared",
           "chat_shared"}


def verify(request: Inbound, keys: Keys) -> Answer | None:
    found, absent = missing_key(keys, SECRET)
    if absent:
        return refused(absent)
    given = header(request, "X-Telegram-Bot-Api-Secret-Token")
    if not given:
        return refused("X-Telegram-Bot-Api-Secret-Token is missing")
    if not same(found[SECRET], given):
        return refused("X-Telegram-Bot-Api-Secret-Token does not match")
    return None


def receive(request: Inbound, keys: Keys, now: float) -> Answer:
    refusal = verify(request, keys)
    if refusal is not None:
        return refusal
    update = load_json(request.body)
    if not isinstance(update, dict):
        return poison("the body is not a JSON object")
    update_id = update.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        return poison("an update without an integer update_id")
    key = f"{PLATFORM}:{update_id}"
    if isinstance(update.get("chat_member"), dict):
        return _member(update["chat_member"], key)
    if isinstance(update.get("message"), dict):
        return _message(update["message"], key)
    kinds = sorted(k for k in update if k != "update_id")
    return ignored(f"update kind {','.join(kinds)[:60] or 'none'}")


def name_of(user: dict) -> str:
    full = " ".join(str(user.get(k) or "").strip() for k in ("first_name", "last_name")).strip()
    return full or str(user.get("username") or "").strip()


def _is_in(member: dict) -> bool:
    status = member.get("status")
    return status in IN or (status == "restricted" and member.get("is_member", True) is not False)


def _group(chat) -> str:
    if not isinstance(chat, dict) or chat.get("id") is None:
        return ""
    return text_of(chat.get("id"))


def _member(change: dict, key: str) -> Answer:
    chat = _group(change.get("chat"))
    old, new = change.get("old_chat_member"), change.get("new_chat_member")
    if not chat or not isinstance(old, dict) or not isinstance(new, dict) or not isinstance(new.get("user"), dict):
        return poison("chat_member without chat, old_chat_member or new_chat_member.user")
    if change["chat"].get("type") in ("private", "channel"):
        return ignored(f"chat_member in a {change['chat'].get('type')} chat")
    was, now_in = _is_in(old), _is_in(new)
    if was == now_in:
        return ignored(f"chat_member {old.get('status')} -> {new.get('status')}")
    user = new["user"]
    if user.get("id") is None:
        return poison("chat_member user without id")
    if user.get("is_bot"):
        return ignored("a bot joined or left")
    actor = change.get("from") if isinstance(change.get("from"), dict) else {}
    inviter = text_of(actor.get("id")) if now_in and actor.get("id") != user.get("id") else ""
    link = change.get("invite_link") if isinstance(change.get("invite_link"), dict) else {}
    return accepted([PlatformEvent(
        platform=PLATFORM, event_id=f"{key}:0", type="join" if now_in else "leave", chat_id=chat,
        user_id=text_of(user.get("id")), user_name=name_of(user), at=when(seconds=change.get("date")),
        inviter_id=inviter, detail=f"{old.get('status')} -> {new.get('status')}"
        + (f" via {str(link.get('name') or 'invite link')[:40]}" if link else ""))])


def _message(message: dict, key: str) -> Answer:
    chat = _group(message.get("chat"))
    if not chat:
        return poison("message without chat.id")
    if message["chat"].get("type") not in ("group", "supergroup"):
        return ignored(f"a message in a {str(message['chat'].get('type'))[:20]} chat")
    at = when(seconds=message.get("date"))
    actor = message.get("from") if isinstance(message.get("from"), dict) else {}
    joined = message.get("new_chat_members")
    if isinstance(joined, list):
        events = []
        for member in joined:
            if not isinstance(member, dict) or member.get("id") is None or member.get("is_bot"):
                continue
            inviter = text_of(actor.get("id")) if actor.get("id") != member.get("id") else ""
            events.append(PlatformEvent(
                platform=PLATFORM, event_id=f"{key}:{len(events)}", type="join", chat_id=chat,
                user_id=text_of(member.get("id")), user_name=name_of(member), at=at, inviter_id=inviter,
                detail="new_chat_members"))
        return accepted(events) if events else ignored("new_chat_members names only bots")
    left = message.get("left_chat_member")
    if isinstance(left, dict):
        if left.get("id") is None:
            return poison("left_chat_member without id")
        if left.get("is_bot"):
            return ignored("a bot left")
        return accepted([PlatformEvent(
            platform=PLATFORM, event_id=f"{key}:0", type="leave", chat_id=chat, user_id=text_of(left.get("id")),
            user_name=name_of(left), at=at, detail="left_chat_member")])
    service = sorted(SERVICE & set(message))
    if service:
        return ignored(f"service message {service[0]}")
    if actor.get("id") is None:
        return ignored("a message with no sender (an anonymous admin or a channel)")
    if actor.get("is_bot"):
        return ignored("a bot's message")
    text = message.get("text") if isinstance(message.get("text"), str) else message.get("caption")
    return accepted([PlatformEvent(
        platform=PLATFORM, event_id=f"{key}:0", type="message", chat_id=chat, user_id=text_of(actor.get("id")),
        user_name=name_of(actor), at=at, text=text if isinstance(text, str) else "")])
