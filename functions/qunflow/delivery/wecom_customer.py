"""WeCom customer groups (客户群): SOP sends as group-send tasks the owner confirms (WECOM.md, "Posting").

- `plan_tasks(sends)`: one `add_msg_template` per owner per slot (and per text: groups of one owner whose text
  differs get a task each), `chat_type` group, `sender` the owner, `chat_id_list` in chunks of ≤ 2,000; a text
  over 4,000 bytes or more than 9 attachments is refused before any call (`TaskRefused`).
- `TaskSender.create(task)`: the call; the `msgid` is kept in the state store for every send it covers, as a
  task record `wecom_task:<msgid>` (cache entry, JSON) with the chat → send id map, when it was created, when
  its confirmation window ends and the reminders sent. Its sends are `awaiting_confirmation`.
- `TaskSender.poll()`: each open task, one call at a time: `get_groupmsg_task` (paged) for the owner's status;
  once sent, `get_groupmsg_send_result` (paged) for each chat: status 1 → `sent` at its `send_time`, 3 →
  `quota`; a chat the result does not list was not sent to (`not_sent`). A task past its window with nothing
  sent is cancelled (`cancel_groupmsg_send`): its sends are `not_sent`, and nothing more will go. A task waiting
  longer than `remind_after` since its creation (or its last reminder) gets `remind_groupmsg_send`, at most 3 in
  any 24 h.

Statuses (the ledger's words; the SendLog shows them in en and zh-CN): awaiting_confirmation, sent, not_sent,
quota, failed. Everything that talks to the world comes in: `api` (delivery/wecom_token.WeComApi), `state`, `clock`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from .wecom_token import UntrustedIP, WeComError

BASE = "/cgi-bin/externalcontact/"
MAX_CHATS, MAX_TEXT, MAX_ATTACHMENTS, PAGE = 2000, 4000, 9, 1000
REMINDS, REMIND_WINDOW = 3, 24 * 3600.0
KEEP = 40 * 24 * 3600.0        # a closed task's record stays this long after its window (for the SendLog)
PREFIX = "wecom_task:"
QUOTA_CODE = 41048             # one SDK's quota refusal (unverified): every listed group has used its quota

AWAITING, SENT, NOT_SENT, QUOTA, FAILED = "awaiting_confirmation", "sent", "not_sent", "quota", "failed"
TASK_STATUSES = (AWAITING, SENT, NOT_SENT, QUOTA)


@dataclass(frozen=True)
class CustomerSend:
    """One planned send to one customer group."""
    send_id: str
    chat_id: str
    owner: str
    text: str
    slot: float                        # epoch seconds the send is due
    window: float                      # seconds the owner has to confirm
    attachments: tuple = ()            # WeCom attachment objects ({msgtype: image|link|miniprogram, ...})
    group_id: str = ""
    covers: tuple = ()                 # the ledger ids this send accounts for (member-relative batches); () = itself


@dataclass
class Task:
    owner: str
    slot: float
    window: float
    text: str
    attachments: tuple
    chats: dict[str, str] = field(default_factory=dict)      # chat_id -> send_id
    covers: dict[str, list] = field(default_factory=dict)    # send_id -> the ledger ids it accounts for

    def body(self) -> dict:
        body: dict[str, Any] = {"chat_type": "group", "sender": self.owner, "chat_id_list": list(self.chats),
                                "allow_select": False}
        if self.text:
            body["text"] = {"content": self.text}
        if self.attachments:
            body["attachments"] = [dict(a) for a in self.attachments]
        return body


@dataclass(frozen=True)
class Result:
    send_id: str
    status: str                        # one of TASK_STATUSES or failed
    at: float | None = None            # sent: WeCom's send_time; else when qunflow learnt it
    reason: str = ""
    msgid: str = ""
    group_id: str = ""
    covers: tuple = ()                 # the ledger ids (the send id itself when empty)

    @property
    def ids(self) -> list[str]:
        return list(self.covers) or [self.send_id]


class TaskRefused(ValueError):
    """This task can never be created as it is (`reason` says what to change)."""


def utf8len(text: str) -> int:
    return len(text.encode("utf-8"))


def check(send: CustomerSend) -> str:
    """Why WeCom would refuse this send's task ('' if it would not)."""
    if not send.owner:
        return "no owner (群主) for this customer group: fill in the owner column"
    if not send.chat_id:
        return "no chat_id (平台群ID) for this customer group: fill in the chat_id column"
    if utf8len(send.text) > MAX_TEXT:
        return f"the text is {utf8len(send.text)} bytes; WeCom takes at most {MAX_TEXT} in a group-send task"
    if len(send.attachments) > MAX_ATTACHMENTS:
        return f"{len(send.attachments)} attachments; WeCom takes at most {MAX_ATTACHMENTS}"
    if not send.text and not send.attachments:
        return "nothing to send (no text, no attachment)"
    return ""


def plan_tasks(sends: Iterable[CustomerSend]) -> tuple[list[Task], list[Result]]:
    """(tasks, refusals): one task per owner per slot and content, ≤ 2,000 chats each, in the order given."""
    tasks: dict[tuple, list[Task]] = {}
    refused: list[Result] = []
    for s in sends:
        why = check(s)
        if why:
            refused.append(Result(s.send_id, FAILED, reason=why, group_id=s.group_id, covers=tuple(s.covers)))
            continue
        key = (s.owner, s.slot, s.text, json.dumps(list(s.attachments), sort_keys=True, ensure_ascii=False))
        chunks = tasks.setdefault(key, [])
        if not chunks or len(chunks[-1].chats) >= MAX_CHATS:
            chunks.append(Task(s.owner, s.slot, s.window, s.text, tuple(s.attachments)))
        if s.chat_id in chunks[-1].chats:     # one group twice in one slot (two rules, one text): one task each
            chunks.append(Task(s.owner, s.slot, s.window, s.text, tuple(s.attachments)))
        chunks[-1].chats[s.chat_id] = s.send_id
        chunks[-1].covers[s.send_id] = list(s.covers) or [s.send_id]
        chunks[-1].window = min(chunks[-1].window, s.window)
    return [t for chunk in tasks.values() for t in chunk], refused


class TaskSender:
    def __init__(self, api: Any, state: Any, clock: Callable[[], float], *, remind_after: float = 2 * 3600.0,
                 page: int = PAGE, groups: dict[str, str] | None = None, app: str = ""):
        """`groups`: chat_id -> group id, to name the group in each result. `app`: a name for the app whose tasks
        these are (its records carry it; another app's tasks are not polled with this one's token)."""
        self.api, self.state, self.clock, self.app = api, state, clock, app
        self.remind_after, self.page = float(remind_after), int(page)
        self.groups = groups or {}
        self.calls: list[str] = []

    def _result(self, record_or_task: Any, chat: str, send_id: str, status: str, at: float | None, reason: str = "",
                msgid: str = "") -> Result:
        covers = (record_or_task.covers if isinstance(record_or_task, Task) else record_or_task.get("covers", {}))
        return Result(send_id, status, at, reason, msgid, self.groups.get(chat, ""), tuple(covers.get(send_id, ())))

    def _post(self, name: str, body: dict) -> dict:
        self.calls.append(name)
        return self.api.post(BASE + name, body)

    # ---- creating tasks

    def create(self, task: Task) -> list[Result]:
        now = self.clock()
        try:
            reply = self._post("add_msg_template", task.body())
        except UntrustedIP as exc:
            return [self._result(task, c, sid, FAILED, now, exc.advice()) for c, sid in task.chats.items()]
        except WeComError as exc:
            status = QUOTA if exc.errcode == QUOTA_CODE else FAILED
            reason = ("WeCom refused the task: the groups have used their mass-message quota" if status == QUOTA
                      else f"WeCom refused the task (errcode {exc.errcode}): {exc.errmsg}")
            return [self._result(task, c, sid, status, now, reason) for c, sid in task.chats.items()]
        msgid = str(reply.get("msgid") or "")
        failed = {str(f) for f in (reply.get("fail_list") or []) if isinstance(f, str)}
        chats = {c: sid for c, sid in task.chats.items() if c not in failed}
        results = [self._result(task, c, sid, FAILED, now, "WeCom did not take this group into the task (fail_list)", msgid)
                   for c, sid in task.chats.items() if c in failed]
        if msgid and chats:
            record = {"msgid": msgid, "app": self.app, "owner": task.owner, "chats": chats, "created": now, "slot": task.slot,
                      "covers": {sid: task.covers.get(sid, [sid]) for sid in chats.values()},
                      "deadline": max(now, task.slot) + task.window, "reminds": [], "open": True, "results": {}}
            self._save(record)
        results += [self._result(task, c, sid, AWAITING, now, "", msgid) for c, sid in chats.items()]
        return results

    def _save(self, record: dict) -> None:
        self.state.cache(PREFIX + record["msgid"], json.dumps(record, ensure_ascii=False), record["deadline"] + KEEP)

    def records(self) -> list[dict]:
        return [json.loads(v) for v in self.state.cached_under(PREFIX, self.clock()).values()]

    def open_tasks(self) -> list[dict]:
        return [r for r in self.records() if r.get("open") and r.get("app", "") == self.app]

    # ---- polling

    def _pages(self, name: str, body: dict, key: str) -> list[dict]:
        rows, cursor = [], ""
        while True:
            reply = self._post(name, {**body, "limit": self.page, **({"cursor": cursor} if cursor else {})})
            rows += list(reply.get(key) or [])
            cursor = str(reply.get("next_cursor") or "")
            if not cursor:
                return rows

    def poll(self) -> list[Result]:
        """Every open task, one call at a time; the results of those whose state changed or is still waiting."""
        results: list[Result] = []
        for record in self.open_tasks():
            try:
                results += self._poll_one(record)
            except WeComError as exc:     # this task is asked again next tick; the others go on
                reason = exc.advice() if isinstance(exc, UntrustedIP) else f"WeCom (errcode {exc.errcode}): {exc.errmsg}"
                results += [self._result(record, c, sid, AWAITING, self.clock(), f"could not ask WeCom: {reason}",
                                         record["msgid"]) for c, sid in record["chats"].items()]
        return results

    def _poll_one(self, record: dict) -> list[Result]:
        msgid, owner, now = record["msgid"], record["owner"], self.clock()
        tasks = self._pages("get_groupmsg_task", {"msgid": msgid}, "task_list")
        mine = next((t for t in tasks if t.get("userid") == owner), tasks[0] if tasks else {})
        if int(mine.get("status") or 0) == 2:
            return self._close_sent(record)
        if now >= record["deadline"]:
            self._post("cancel_groupmsg_send", {"msgid": msgid})
            record["open"], record["cancelled"] = False, now
            self._save(record)
            reason = "the owner did not confirm within the window; the task was cancelled"
            return [self._result(record, c, sid, NOT_SENT, now, reason, msgid) for c, sid in record["chats"].items()]
        last = max([record["created"]] + record["reminds"])
        recent = [t for t in record["reminds"] if now - t < REMIND_WINDOW]
        if now - last >= self.remind_after and len(recent) < REMINDS:
            try:
                self._post("remind_groupmsg_send", {"msgid": msgid})
                record["reminds"].append(now)
            except WeComError as exc:
                record.setdefault("remind_refused", []).append([now, exc.errcode])
            self._save(record)
        waited = f"waiting for the owner {owner} to confirm in WeCom ({len(record['reminds'])} reminder(s))"
        return [self._result(record, c, sid, AWAITING, now, waited, msgid) for c, sid in record["chats"].items()]

    def _close_sent(self, record: dict) -> list[Result]:
        msgid, now = record["msgid"], self.clock()
        rows = self._pages("get_groupmsg_send_result", {"msgid": msgid, "userid": record["owner"]}, "send_list")
        by_chat = {str(r.get("chat_id")): r for r in rows}
        out = []
        for chat, sid in record["chats"].items():
            row = by_chat.get(chat)
            status = int(row.get("status") or 0) if row else 0
            if status == 1:
                out.append(self._result(record, chat, sid, SENT, float(row.get("send_time") or now), "", msgid))
            elif status == 3:
                out.append(self._result(record, chat, sid, QUOTA, now, "the group had used its mass-message quota", msgid))
            else:
                out.append(self._result(record, chat, sid, NOT_SENT, now, "the owner sent the task, but not to this group",
                                        msgid))
            record["results"][chat] = out[-1].status
        record["open"] = False
        self._save(record)
        return out
