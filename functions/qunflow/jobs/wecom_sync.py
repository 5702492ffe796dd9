"""Members of WeCom customer groups (客户群), from WeCom itself: the sync is the truth, a callback only a hint.

    run_sync(api, state, now, owners=[...], chat_ids=[...])        the hourly walk (workflows/jobs.yaml)
    run_sync(api, state, now, hinted_only=True)                     the chats a callback named, a few s later
    note_hints(state, chat_ids, now)                                the `events` function, for Answer.hints

- **Walk.** `groupchat/list` with `owner_filter` (≤ 100 owners a call: WeCom answers 81017 without one over a
  large scope), `limit` 1000, `next_cursor` paging, one call at a time; plus the chat ids the Groups tab names
  and the chats a hint named. Then `groupchat/get` for each chat a Groups row claims (the owners' other chats
  are reported as `unclaimed` and not remembered: once a row claims one, its members all come in as joins).
- **Diff.** The membership qunflow knows of each chat lives in the state store's cache (`wecom_members:<chat>`:
  member_version and {userid: join_time, join_scene, invitor}); external members (type 2) only. A member
  present now and not before, or with another join_time (they left and came back between two reads), is a
  `join` at their real `join_time`, with `inviter_id` = the `invitor` (a staff member who invited them: the
  tick's fold makes it an `invite` row, the referral, when that userid is a member); one known before and
  absent now is a `leave`, dated at the sync. Event ids are built from the chat, the userid and the join_time
  (`wecom:sync:<chat>:<user>:join:<join_time>`, `...:leave:<join_time>`), so a sync that dies after putting
  its events and before saving the membership puts the same ids again, and the inbox keeps each once.
- **Why callbacks are only hints.** WeCom's staff say change_external_chat may be lost or come out of order;
  each read of groupchat/get is a whole membership, so whatever order the hints come in (or none at all: the
  hourly walk), the membership ends where WeCom says. A hint is kept by chat (`wecom_hint:<chat>`, due
  HINT_DELAY seconds after it came: a read right after a callback may lag ~2 s), so WeCom's retries of one
  callback make one sync; a chat synced since is not synced again for it.
- The events go into the inbox as the platform receivers' do (jobs/events_inbox.inbox_event), platform
  `wecom-customer`; the tick matches the chat to Groups `chat_id` and the userid to Members `platform_user_id`.

Injected: `api` (delivery.wecom_token.WeComApi: the cached token, errcodes), `state`, `now` (aware UTC).
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from ..events.base import PlatformEvent
from ..state.base import LeaseBusy, lease
from .events_inbox import inbox_event

PLATFORM = "wecom-customer"
MEMBERS, HINTS = "wecom_members:", "wecom_hint:"
FOREVER = 4102444800.0          # 2100-01-01: the membership cache never expires
HINT_DELAY = 5.0                # seconds after a callback before its sync (groupchat/get may lag ~2 s)
HINT_TTL = 6 * 3600.0           # a hint older than this is dropped: the hourly walk has covered it
OWNERS_PER_CALL = 100
PAGE = 1000
LEASE, LEASE_TTL = "wecom_sync", 600.0
SCENES = {1: "invited", 2: "link", 3: "qr"}


@dataclass
class SyncReport:
    chats: int = 0
    joins: int = 0
    leaves: int = 0
    kept: int = 0                                   # new inbox events (retries of a sync keep 0)
    unclaimed: list[str] = field(default_factory=list)   # the owners' chats no Groups row names: not synced
    errors: dict[str, str] = field(default_factory=dict)   # chat id (or "list") -> WeCom's errcode and words

    def as_json(self) -> dict:
        return {"chats": self.chats, "joins": self.joins, "leaves": self.leaves, "kept": self.kept,
                "unclaimed": list(self.unclaimed), "errors": dict(self.errors)}


def _epoch(now: datetime) -> float:
    return now.timestamp()


# --- hints ----------------------------------------------------------------------------------------------

def note_hints(state: Any, chat_ids: Iterable[str], now: float) -> int:
    """Remember the chats a callback named (Answer.hints). A chat already hinted keeps its first due time, so
    WeCom's retries (and a burst of changes) make one sync. The number of chats newly hinted."""
    new = 0
    for chat in dict.fromkeys(str(c).strip() for c in chat_ids if str(c).strip()):
        live = hinted(state, now, due_only=False).get(chat)
        if live is None or live <= now:         # none, or one a running sync may already have read
            state.cache(HINTS + chat, repr(now + HINT_DELAY), now + HINT_TTL)
            new += 1
    return new


def hinted(state: Any, now: float, *, due_only: bool = True) -> dict[str, float]:
    """chat id -> when its hint is due, for the live hints (due ones only, unless `due_only` is False)."""
    out = {}
    for name, value in state.cached_under(HINTS, now).items():
        try:
            due = float(value)
        except ValueError:
            continue
        if not due_only or due <= now:
            out[name[len(HINTS):]] = due
    return out


# --- WeCom's reads --------------------------------------------------------------------------------------

def list_chats(api: Any, owners: list[str]) -> list[str]:
    """Every chat of these owners (status_filter 0: not dismissed), paged, one call at a time."""
    found: list[str] = []
    owners = sorted(dict.fromkeys(o for o in owners if o))
    for i in range(0, len(owners), OWNERS_PER_CALL):
        cursor = ""
        while True:
            body = {"status_filter": 0, "owner_filter": {"userid_list": owners[i:i + OWNERS_PER_CALL]},
                    "limit": PAGE}
            if cursor:
                body["cursor"] = cursor
            data = api.post("/cgi-bin/externalcontact/groupchat/list", body)
            found += [str(c["chat_id"]) for c in data.get("group_chat_list") or [] if c.get("chat_id")]
            cursor = str(data.get("next_cursor") or "")
            if not cursor:
                break
    return list(dict.fromkeys(found))


def members_of(group_chat: dict) -> dict[str, dict]:
    """The external members (type 2) of a groupchat/get answer, as qunflow keeps them."""
    out = {}
    for m in group_chat.get("member_list") or []:
        if int(m.get("type") or 0) != 2 or not m.get("userid"):
            continue
        invitor = (m.get("invitor") or {}).get("userid") or ""
        out[str(m["userid"])] = {"join_time": int(m.get("join_time") or 0), "join_scene": int(m.get("join_scene") or 0),
                                 "invitor": str(invitor), "name": str(m.get("group_nickname") or m.get("name") or "")}
    return out


# --- the diff -------------------------------------------------------------------------------------------

def known(state: Any, chat_id: str, now: float) -> dict | None:
    text = state.cached(MEMBERS + chat_id, now)
    return json.loads(text) if text else None


def diff(chat_id: str, before: dict | None, now_members: dict[str, dict], at: datetime) -> list[PlatformEvent]:
    """Joins and leaves that take `before` (qunflow's memory of the chat, or None) to `now_members`."""
    old = (before or {}).get("members") or {}
    events: list[PlatformEvent] = []
    stamp = int(at.timestamp())
    for user, m in sorted(old.items()):
        if user not in now_members or now_members[user]["join_time"] != m["join_time"]:
            left = now_members[user]["join_time"] - 1 if user in now_members else stamp
            events.append(PlatformEvent(PLATFORM, f"wecom:sync:{chat_id}:{user}:leave:{m['join_time']}", "leave",
                                        chat_id, user, m.get("name", ""),
                                        datetime.fromtimestamp(left, timezone.utc), detail="wecom sync"))
    for user, m in sorted(now_members.items(), key=lambda kv: (kv[1]["join_time"], kv[0])):
        if user in old and old[user]["join_time"] == m["join_time"]:
            continue
        scene = SCENES.get(m["join_scene"], str(m["join_scene"]))
        events.append(PlatformEvent(PLATFORM, f"wecom:sync:{chat_id}:{user}:join:{m['join_time']}", "join",
                                    chat_id, user, m.get("name", ""),
                                    datetime.fromtimestamp(m["join_time"] or stamp, timezone.utc),
                                    inviter_id=m["invitor"], detail=f"join_scene={scene}"))
    return events


def sync_chat(api: Any, state: Any, chat_id: str, now: datetime, report: SyncReport) -> None:
    """Read one chat, put its differences into the inbox, then remember its membership (in that order)."""
    data = api.post("/cgi-bin/externalcontact/groupchat/get", {"chat_id": chat_id, "need_name": 1})
    chat = data.get("group_chat") or {}
    current = members_of(chat)
    before = known(state, chat_id, _epoch(now))
    version = str(chat.get("member_version") or "")
    events = [] if before and version and before.get("version") == version and before.get("members") == current \
        else diff(chat_id, before, current, now)
    if events:
        report.kept += state.put_events([inbox_event(e) for e in events], now)
        report.joins += sum(e.type == "join" for e in events)
        report.leaves += sum(e.type == "leave" for e in events)
    if events or before is None or before.get("version") != version:
        state.cache(MEMBERS + chat_id, json.dumps({"version": version, "owner": str(chat.get("owner") or ""),
                                                   "members": current}, sort_keys=True), FOREVER)
    report.chats += 1


def run_sync(api: Any, state: Any, now: datetime, *, owners: Iterable[str] = (), chat_ids: Iterable[str] = (),
             hinted_only: bool = False, holder: str | None = None, claimed: Iterable[str] | None = None) -> SyncReport:
    """One sync under the `wecom_sync` lease (the hourly walk and a hinted sync never overlap). A chat WeCom
    refuses (an errcode) is reported and keeps its memory; a list that fails still syncs the named chats.
    `claimed`: the chat ids the Groups tab names (run_job gives them); any other chat is only reported
    (`unclaimed`) and not remembered, so its members all come in as joins once a row claims it."""
    claimed = None if claimed is None else set(claimed)
    from ..delivery.wecom_token import WeComError
    report = SyncReport()
    epoch = _epoch(now)
    try:
        with lease(state, LEASE, holder or uuid.uuid4().hex, LEASE_TTL, clock=lambda: epoch):
            hints = hinted(state, epoch)
            chats: list[str] = list(hints)
            if not hinted_only:
                try:
                    chats += list_chats(api, list(owners))
                except WeComError as exc:
                    if exc.errcode == 60020:
                        raise
                    report.errors["list"] = f"{exc.errcode} {exc.errmsg}"[:200]
                chats += [str(c) for c in chat_ids if c]
            for chat in dict.fromkeys(chats):
                if claimed is not None and chat not in claimed:
                    report.unclaimed.append(chat)
                    if chat in hints:
                        state.cache(HINTS + chat, "", epoch)
                    continue
                try:
                    sync_chat(api, state, chat, now, report)
                except WeComError as exc:
                    if exc.errcode == 60020:
                        raise
                    report.errors[chat] = f"{exc.errcode} {exc.errmsg}"[:200]
                    continue
                if chat in hints and hinted(state, epoch, due_only=False).get(chat) == hints[chat]:
                    state.cache(HINTS + chat, "", epoch)          # done (and no newer hint came): expires now
    except LeaseBusy:
        report.errors["lease"] = "another sync is running; this one did nothing"
    return report


# --- the job (functions/main.py wecom_sync) ----------------------------------------------------------------

def apps_of(wb: Any, env: dict) -> dict[tuple[str, str], tuple[list[str], list[str]]]:
    """(corp id, secret reference) -> (owners, chat ids): one app per secret reference, as the tick sends
    (Settings `wecom_corp_id`, else $QUNFLOW_WECOM_CORP_ID; the group's `webhook` cell is the app's secret)."""
    corp = str((getattr(wb.settings, "extra", None) or {}).get("wecom_corp_id") or
               env.get("QUNFLOW_WECOM_CORP_ID") or "").strip()
    out: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    for g in wb.groups.values():
        if g.platform != PLATFORM or not g.enabled or not corp or not g.webhook:
            continue
        owners, chats = out.setdefault((corp, str(g.webhook).strip()), ([], []))
        if str(getattr(g, "owner", "") or "").strip():
            owners.append(str(g.owner).strip())
        if str(getattr(g, "chat_id", "") or "").strip():
            chats.append(str(g.chat_id).strip())
    return out


def api_for(corp: str, reference: str, state: Any, session: Any, env: dict, resolver: Any = None,
            clock: Any = None) -> Any:
    import time
    from ..delivery.secrets import SecretResolver, UnresolvedSecret
    from ..delivery.wecom_token import DEFAULT_BASE, WeComApi, WeComApp
    resolver = resolver or SecretResolver.from_environment()

    def resolve(ref: str) -> str | None:
        try:
            return resolver.resolve(ref)
        except UnresolvedSecret:
            return None
    return WeComApi(WeComApp(corp, reference), session=session, state=state, resolve=resolve,
                    clock=clock or time.time, base_url=env.get("QUNFLOW_WECOM_API") or DEFAULT_BASE)


def run_job(store: Any, state: Any, session: Any, now: datetime, *, env: dict, hinted_only: bool = False,
            resolver: Any = None) -> SyncReport:
    """The sync for the workbook's wecom-customer groups, per app. With `hinted_only`, nothing is read (not
    even the sheet) unless a hint is due."""
    total = SyncReport()
    if hinted_only and not hinted(state, now.timestamp()):
        return total
    from ..sheet.load import load_workbook
    snapshot = store.read()
    wb = load_workbook(snapshot.raw, today=now.date(), grid_rows=snapshot.grid_rows)
    apps = apps_of(wb, env)
    claimed = {c for _, chats in apps.values() for c in chats}
    for (corp, reference), (owners, chats) in apps.items():
        api = api_for(corp, reference, state, session, env, resolver, clock=lambda: now.timestamp())
        report = run_sync(api, state, now, owners=owners, chat_ids=chats, hinted_only=hinted_only,
                          claimed=claimed)
        total.chats, total.joins, total.leaves = total.chats + report.chats, total.joins + report.joins, \
            total.leaves + report.leaves
        total.kept += report.kept
        total.errors.update(report.errors)
        total.unclaimed += [c for c in report.unclaimed if c not in total.unclaimed]
    return total
