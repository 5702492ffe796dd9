"""What the platforms told qunflow, kept and then made sense of: the `events` function's inbox and the tick's fold.

**On the request path** (`keep`): the events a receiver returned (qunflow.events) are put into the state store's
inbox as plain values, deduplicated by their `event_id` (the platform's id: a retry or a replay is the same
id), and nothing else happens: no sheet is read, so the platform gets its answer within its deadline. A
message's text travels only as far as the inbox, cut to TEXT_CAP characters (enough to find a check-in keyword),
because only the tick knows each group's keyword; it never reaches a row or the activity records, and folding
drops it from the inbox too. Folded events stay INBOX_DAYS (their ids deduplicate a late retry), then
`forget_old` deletes them, once a day.

**At the tick** (`fold_platform`, called by jobs/tick_state.drain_inbox), with the workbook in hand:
- the group is the one whose Groups `chat_id` is the event's chat (one of the same platform first). A chat no
  group claims: its events are dropped and counted (activity key "chat:<platform>:<chat_id>"), and one Problem
  per chat says to add its chat_id to Groups, for as long as it keeps sending (ACTIVITY_DAYS) and no group
  claims it (`unknown_chat_problems`);
- the person is the member whose Members `platform_user_id` is the event's user. A join from someone unknown
  creates the member, named as the platform names them: its member id is their platform user id (or
  "<platform>:<user id>" when that id is already someone else's), so the same person always gets the same id,
  whichever tick sees them first. Leaves and messages from people qunflow does not know are dropped;
- join → a `join` row (detail `name=…; user=…`), with an `invite` row before it when the platform says an
  existing member added them (Slack inviter, Feishu operator, Telegram from, DingTalk Operator): the referral,
  in the inviter's membership of that group, else of their first group (where their invites count);
  leave → a `leave` row;
- message → activity, never a row: counted per membership and day (in the group's zone) with the time of the
  last one (state.add_activity, which folds the message in the same transaction). A message that carries the
  group's check-in keyword (members.activity.checkin_keyword) is a `checkin` row instead (a check-in counts as
  activity too), so it waits for the sheet's write like every row.
`apply_chat_activity` reads the counts back for the tick, as in-memory message events (see there).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from ..events.base import PlatformEvent
from ..members.activity import checkin_keyword
from ..sheet.cells import fold
from ..state.base import ActivityHit, iso

TEXT_CAP = 200
INBOX_DAYS = 30             # folded events kept this long: longer than any platform retries (their dedup keys)
FORGOTTEN = "inbox_forgotten"   # the cursor: the day the inbox was last cleared of old folded events
ACTIVITY_DAYS = 35          # days of message counts the tick reads (30-day layers, 7-day tags, a margin)
PER_DAY = 50               # in-memory message events a membership and day (the layer thresholds count 3 and 20)


# --- the request path ------------------------------------------------------------------------------------

def inbox_event(e: PlatformEvent) -> dict[str, Any]:
    """One PlatformEvent as the inbox keeps it (JSON values only)."""
    out: dict[str, Any] = {"event_id": e.event_id, "platform": e.platform, "type": e.type, "chat_id": e.chat_id,
                           "user_id": e.user_id, "user_name": e.user_name[:80], "at": iso(e.at) if e.at else None}
    if e.inviter_id:
        out["inviter_id"] = e.inviter_id
    if e.type in ("message", "checkin") and e.text:
        out["text"] = e.text[:TEXT_CAP]
    if e.detail:
        out["detail"] = e.detail[:120]
    return out


def keep(state: Any, events: Iterable[PlatformEvent], now: float) -> int:
    """Put a receiver's events into the inbox: one transaction, each event id kept once. The new ones' count."""
    rows = [inbox_event(e) for e in events]
    if not rows:
        return 0
    return state.put_events(rows, datetime.fromtimestamp(now, timezone.utc))


# --- the tick --------------------------------------------------------------------------------------------

def is_platform(event: dict) -> bool:
    return bool(event.get("platform")) and "chat_id" in event and "user_id" in event


def _groups_by_chat(wb: Any) -> dict[str, list]:
    out: dict[str, list] = {}
    for g in wb.groups.values():
        if g.chat_id and str(g.chat_id).strip():
            out.setdefault(fold(str(g.chat_id).strip()), []).append(g)
    return out


def group_of(wb: Any, platform: str, chat_id: str, by_chat: dict | None = None):
    found = (by_chat if by_chat is not None else _groups_by_chat(wb)).get(fold(str(chat_id).strip()), [])
    same = [g for g in found if g.platform == platform]
    return (same or found or [None])[0]


def _zone(wb: Any, group: Any):
    return (group.timezone if group is not None and group.timezone else None) or wb.settings.timezone


def _when(event: dict, fallback: datetime) -> datetime:
    text = event.get("at")
    try:
        at = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc) if text else fallback
    except (TypeError, ValueError):
        at = fallback
    return at


def _clean(text: str) -> str:
    """A name inside a `key=value; …` detail: no separators, no line breaks, short."""
    return " ".join(str(text or "").replace(";", " ").replace("=", " ").split())[:40]


class _People:
    """platform user id -> member id, for the members the workbook has and the ones this fold creates."""

    def __init__(self, wb: Any):
        self.by_user: dict[str, str] = {}
        self.ids: set[str] = set()
        for m in wb.members.values():
            self.ids.add(m.member_id)
            if m.platform_user_id:
                self.by_user.setdefault(str(m.platform_user_id).strip(), m.member_id)
        for e in wb.events:
            self.ids.add(e.member_id)

    def find(self, user_id: str) -> str | None:
        return self.by_user.get(str(user_id).strip()) if user_id else None

    def create(self, platform: str, user_id: str) -> str:
        user_id = str(user_id).strip()
        member_id = user_id if user_id not in self.ids else f"{platform}:{user_id}"
        self.by_user[user_id] = member_id
        self.ids.add(member_id)
        return member_id


def fold_platform(state: Any, wb: Any, pending: list[dict], now: datetime) -> tuple[list[dict], list[str]]:
    """The pending inbox with its platform events made into Events rows (the others as they are), and the ids
    of platform events that make no row (dropped, or counted as activity): mark them folded with the rest."""
    by_chat = _groups_by_chat(wb)
    people = _People(wb)
    rows: list[dict] = []
    hits: list[ActivityHit] = []
    dropped: list[str] = []
    for event in pending:
        if not is_platform(event):
            rows.append(event)
            continue
        event_id, kind, platform = str(event["event_id"]), event.get("type"), str(event["platform"])
        at = _when(event, now)
        group = group_of(wb, platform, event["chat_id"], by_chat)
        if group is None:
            hits.append(ActivityHit(event_id, f"chat:{platform}:{event['chat_id']}", at.date().isoformat(), at))
            continue
        local = at.astimezone(_zone(wb, group))
        member_id = people.find(event["user_id"])
        base = {"event_id": event_id, "group_id": group.group_id, "at": str(local.replace(microsecond=0))}
        if kind == "join":
            if member_id is None:
                member_id = people.create(platform, event["user_id"])
            inviter = people.find(event.get("inviter_id") or "")
            if inviter and inviter != member_id:       # counted in the inviter's own membership (layers)
                theirs = [m.group_id for m in wb.members.of(inviter)]
                where = group.group_id if group.group_id in theirs or not theirs else theirs[0]
                rows.append({**base, "event_id": f"{event_id}:invite", "type": "invite", "member_id": inviter,
                             "group_id": where, "detail": f"member={member_id}"})
            name = _clean(event.get("user_name") or "")
            rows.append({**base, "type": "join", "member_id": member_id,
                         "detail": (f"name={name}; " if name else "") + f"user={_clean(event['user_id'])}"})
        elif member_id is None or kind not in ("leave", "message", "checkin"):
            dropped.append(event_id)                      # someone qunflow does not know, or nothing to keep
        elif kind == "leave":
            rows.append({**base, "type": "leave", "member_id": member_id})
        else:
            keyword = checkin_keyword(group)
            if kind == "checkin" or (keyword and keyword in str(event.get("text") or "")):
                rows.append({**base, "type": "checkin", "member_id": member_id})
            else:
                hits.append(ActivityHit(event_id, f"{member_id}@{group.group_id}", local.date().isoformat(), at))
    if hits:
        state.add_activity(hits, now)
    return rows, dropped


def forget_old(state: Any, now: datetime) -> int:
    """Once a day: delete the folded events received more than INBOX_DAYS ago (how many went), and the cache's
    expired entries."""
    today = now.astimezone(timezone.utc).date().isoformat()
    if (state.cursor(FORGOTTEN) or "") >= today:
        return 0
    gone = state.forget_events(now - timedelta(days=INBOX_DAYS))
    state.forget_cached(now.timestamp())       # expired tokens, task records and parsed blocks no tick reads again
    state.advance(FORGOTTEN, today)
    return gone


def chat_activity(state: Any, wb: Any, now: datetime, since: str | None = None
                  ) -> tuple[dict[tuple[str, str], list[tuple[str, int, datetime]]], dict[tuple[str, str], int]]:
    """(membership -> [(day, messages, last_at local naive)], (platform, chat_id) -> messages dropped) from the
    day `since` (default: ACTIVITY_DAYS days before now)."""
    since = since or (now - timedelta(days=ACTIVITY_DAYS)).date().isoformat()
    members: dict[tuple[str, str], list] = {}
    unknown: dict[tuple[str, str], int] = {}
    for a in state.activity(since=since):
        if a.key.startswith("chat:"):
            _, platform, chat_id = a.key.split(":", 2)
            unknown[(platform, chat_id)] = unknown.get((platform, chat_id), 0) + a.messages
            continue
        member_id, _, group_id = a.key.rpartition("@")
        group = wb.groups.get(group_id)
        last = a.last_at.astimezone(_zone(wb, group)).replace(tzinfo=None) if a.last_at else None
        members.setdefault((member_id, group_id), []).append((a.day, a.messages, last))
    return members, unknown


def add_chat_events(state: Any, wb: Any, now: datetime, since: str | None = None) -> dict[tuple[str, str], int]:
    """The messages counted in the store join `wb.events` as in-memory `message` events (never rows: nothing
    writes wb.events back), so last active times, tags (messages_7d), layers, audiences and metrics count them
    as they count Events rows: at most PER_DAY a membership and day, each at the day's last message. Returns
    {(platform, chat_id): dropped} of the chats no group claims."""
    from ..sheet.records import Event
    members, unknown = chat_activity(state, wb, now, since)
    for (member_id, group_id), days in sorted(members.items()):
        for day, count, last in days:
            at = last or datetime.fromisoformat(day)
            wb.events.extend(Event(f"~chat:{member_id}@{group_id}:{day}:{n}", "message", member_id, at, group_id)
                             for n in range(min(count, PER_DAY)))
    by_chat = _groups_by_chat(wb)
    return {k: n for k, n in unknown.items() if group_of(wb, k[0], k[1], by_chat) is None}


def apply_chat_activity(state: Any, wb: Any, now: datetime, sink: Any) -> dict:
    """At the tick, before the members are folded: `add_chat_events`, and one Problem per chat no group claims
    (for as long as it sent events in the last ACTIVITY_DAYS days)."""
    still = add_chat_events(state, wb, now)
    table = wb.tables["groups"]
    for (platform, chat_id), count in sorted(still.items()):
        sink.add("unknown_chat", tab=table.title, row=None, column=table.header_of("chat_id", wb.lang),
                 value=chat_id, platform=platform, count=count)
    return still
