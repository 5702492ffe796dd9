"""The emulator's WeCom customer-group sends (客户群群发), strictly as /work/shared/WECOM.md describes them.
Imports nothing of qunflow; mounted on emulator/wecom_api.py's routes (`WeComTasks(api).mount()`).

- `add_msg_template`: `chat_type` "group", `sender` required and the owner of every chat in `chat_id_list`
  (1..2,000), `text.content` ≤ 4,000 bytes, ≤ 9 attachments of the listed kinds. It only creates a task: the
  owner confirms it (the control endpoint plays the owner). Refusals: 40058 (a bad parameter: the words say
  which), 45002 (text too long), 41048 (the quota: every listed chat has used its period; unverified code).
- Quota: each chat receives at most the days of the month per calendar month (default), or 7 per week, or 1
  per day (`quota` = month | week | day), counted on Beijing time when the owner's confirmation sends it. A chat
  already at its quota when the owner confirms gets status 3 (quota already used) in the send result.
- `get_groupmsg_task {msgid, limit ≤ 1000, cursor}` → task_list[{userid, status 0 not sent | 2 sent, send_time}];
  `get_groupmsg_send_result {msgid, userid, limit ≤ 1000, cursor}` → send_list of the chats already sent to
  (status 1, send_time) or refused for the quota (status 3); both paged with `next_cursor`.
- Concurrency: a result call while another result call is in flight answers 45033.
- `remind_groupmsg_send {msgid}`: at most 3 per task in any 24 h (a 4th: 41101, unverified code);
  `cancel_groupmsg_send {msgid}`: nothing more is sent; what was sent stays.

Control (`/_emulator/wecom/...`): POST customer_groups `[{chat_id, owner}]`; POST quota `{rule}`;
POST owner `{msgid, action: confirm | ignore}` (confirming late is confirming after the window: if qunflow
cancelled the task meanwhile, the owner's confirmation sends nothing: 409); GET tasks (each task's state).
"""
from __future__ import annotations

import calendar
import itertools
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

from .base import Reply, Request, json_reply, utf8len

BEIJING = timezone(timedelta(hours=8))
MAX_CHATS, MAX_TEXT, MAX_ATTACHMENTS, MAX_PAGE = 2000, 4000, 9, 1000
KINDS = {"image", "link", "miniprogram", "video", "file"}
REMINDS, REMIND_WINDOW = 3, 24 * 3600


def ok(**fields: Any) -> dict:
    return {"errcode": 0, "errmsg": "ok", **fields}


def bad(code: int, msg: str) -> dict:
    return {"errcode": code, "errmsg": msg}


def period(rule: str, at: float) -> tuple[str, int]:
    """(the period's key, how many sends a chat may receive in it) for a moment, on Beijing time."""
    day = datetime.fromtimestamp(at, BEIJING).date()
    if rule == "day":
        return day.isoformat(), 1
    if rule == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}", 7
    return f"{day.year}-{day.month:02d}", calendar.monthrange(day.year, day.month)[1]


class WeComTasks:
    def __init__(self, api: Any):
        self.api = api
        self.lock = threading.RLock()
        self.owners: dict[str, str] = {}                   # chat_id -> owner userid
        self.quota = "month"
        self.tasks: dict[str, dict] = {}
        self.received: dict[tuple[str, str], int] = {}     # (chat_id, period key) -> sends received
        self.messages: list[dict] = []                     # what the groups saw
        self._ids = itertools.count(1)
        self._in_flight = 0

    def mount(self) -> "WeComTasks":
        base = "/cgi-bin/externalcontact/"
        for name in ("add_msg_template", "get_groupmsg_task", "get_groupmsg_send_result", "remind_groupmsg_send",
                     "cancel_groupmsg_send"):
            self.api.routes[base + name] = getattr(self, name)
        for name in ("customer_groups", "quota", "owner", "tasks"):
            self.api.admins[name] = getattr(self, "admin_" + name)
        return self

    # ---- the API

    def add_msg_template(self, req: Request, corp_id: str, now: float) -> dict:
        body, problem = req.json()
        if problem or not isinstance(body, dict):
            return bad(40058, f"invalid json: {problem}")
        if body.get("chat_type") != "group":
            return bad(40058, "chat_type must be group for customer groups")
        sender = body.get("sender")
        if not isinstance(sender, str) or not sender:
            return bad(40058, "sender is required for chat_type group")
        chats = body.get("chat_id_list")
        if not isinstance(chats, list) or not chats or not all(isinstance(c, str) and c for c in chats):
            return bad(40058, "chat_id_list must list chat ids")
        if len(chats) > MAX_CHATS:
            return bad(40058, f"chat_id_list holds {len(chats)} chat ids, more than {MAX_CHATS}")
        text = (body.get("text") or {}).get("content", "") if isinstance(body.get("text"), dict) else ""
        if utf8len(text) > MAX_TEXT:
            return bad(45002, f"text.content is {utf8len(text)} bytes, more than {MAX_TEXT}")
        attachments = body.get("attachments") or []
        if not isinstance(attachments, list) or len(attachments) > MAX_ATTACHMENTS:
            return bad(40058, f"attachments: at most {MAX_ATTACHMENTS}")
        for a in attachments:
            kind = a.get("msgtype") if isinstance(a, dict) else None
            if kind not in KINDS or not isinstance(a.get(kind), dict):
                return bad(40058, f"attachment of unknown msgtype {kind!r}")
        if not text and not attachments:
            return bad(40058, "text or attachments required")
        with self.lock:
            for chat in chats:
                if chat not in self.owners:
                    return bad(40058, f"invalid chat_id {chat}")
                if self.owners[chat] != sender:
                    return bad(40058, f"sender {sender} is not the owner of chat {chat}")
            key, limit = period(self.quota, now)
            if all(self.received.get((c, key), 0) >= limit for c in chats):
                return bad(41048, "the groups have used their mass-message quota")
            msgid = f"msg{next(self._ids):06d}emu"
            self.tasks[msgid] = {"msgid": msgid, "corp_id": corp_id, "sender": sender, "chats": list(chats),
                                 "text": text, "attachments": attachments, "created": now, "status": 0,
                                 "send_time": 0, "results": {}, "reminds": [], "cancelled": False}
        return ok(fail_list=[], msgid=msgid)

    def _task(self, body: Any) -> dict | None:
        return self.tasks.get(body.get("msgid", "")) if isinstance(body, dict) else None

    @staticmethod
    def _page(items: list, body: dict) -> tuple[list, str] | dict:
        limit = body.get("limit", MAX_PAGE)
        if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            return bad(40058, f"limit must be 1..{MAX_PAGE}")
        cursor = body.get("cursor") or "0"
        if not str(cursor).isdigit():
            return bad(40058, "invalid cursor")
        start = int(cursor)
        end = start + limit
        return items[start:end], (str(end) if end < len(items) else "")

    def _serial(self, fn, req: Request, now: float) -> dict:
        """The result calls are to be made one at a time: a call while another is in flight is 45033."""
        with self.lock:
            if self._in_flight:
                return bad(45033, "api concurrent out of limit")
            self._in_flight += 1
        try:
            body, problem = req.json()
            if problem or not isinstance(body, dict):
                return bad(40058, f"invalid json: {problem}")
            with self.lock:
                task = self._task(body)
                if task is None:
                    return bad(40058, "invalid msgid")
                return fn(task, body, now)
        finally:
            with self.lock:
                self._in_flight -= 1

    def get_groupmsg_task(self, req: Request, corp_id: str, now: float) -> dict:
        def answer(task, body, now):
            rows = [{"userid": task["sender"], "status": task["status"], "send_time": task["send_time"]}]
            page = self._page(rows, body)
            return page if isinstance(page, dict) else ok(task_list=page[0], next_cursor=page[1])
        return self._serial(answer, req, now)

    def get_groupmsg_send_result(self, req: Request, corp_id: str, now: float) -> dict:
        def answer(task, body, now):
            if body.get("userid") != task["sender"]:
                return bad(40058, "userid is not this task's sender")
            rows = [{"chat_id": c, "userid": task["sender"], **task["results"][c]}
                    for c in task["chats"] if c in task["results"]]
            page = self._page(rows, body)
            return page if isinstance(page, dict) else ok(send_list=page[0], next_cursor=page[1])
        return self._serial(answer, req, now)

    def remind_groupmsg_send(self, req: Request, corp_id: str, now: float) -> dict:
        body, _ = req.json()
        with self.lock:
            task = self._task(body)
            if task is None:
                return bad(40058, "invalid msgid")
            recent = [t for t in task["reminds"] if now - t < REMIND_WINDOW]
            if len(recent) >= REMINDS:
                return bad(41101, "remind limit: at most 3 times in 24 hours")
            task["reminds"].append(now)
        return ok()

    def cancel_groupmsg_send(self, req: Request, corp_id: str, now: float) -> dict:
        body, _ = req.json()
        with self.lock:
            task = self._task(body)
            if task is None:
                return bad(40058, "invalid msgid")
            task["cancelled"] = True
            task["cancelled_at"] = now
        return ok()

    # ---- the owner, played by a test or the demo

    def confirm(self, msgid: str, now: float) -> dict:
        with self.lock:
            task = self.tasks[msgid]
            if task["cancelled"]:
                return {"ok": False, "error": "the task was cancelled: nothing is sent"}
            if task["status"] == 2:
                return {"ok": False, "error": "already sent"}
            key, limit = period(self.quota, now)
            for chat in task["chats"]:
                if self.received.get((chat, key), 0) >= limit:
                    task["results"][chat] = {"status": 3, "send_time": 0}
                    continue
                self.received[(chat, key)] = self.received.get((chat, key), 0) + 1
                task["results"][chat] = {"status": 1, "send_time": int(now)}
                self.messages.append({"chat_id": chat, "owner": task["sender"], "msgid": msgid, "at": int(now),
                                      "text": task["text"], "attachments": task["attachments"]})
            task["status"], task["send_time"] = 2, int(now)
            return {"ok": True, "results": dict(task["results"])}

    def admin_customer_groups(self, method: str, query: dict, data: Any) -> Reply:
        items = data if isinstance(data, list) else [data]
        with self.lock:
            for item in items:
                self.owners[str(item["chat_id"])] = str(item["owner"])
        return json_reply(201, {"ok": True, "groups": len(self.owners)})

    def admin_quota(self, method: str, query: dict, data: Any) -> Reply:
        rule = (data or {}).get("rule")
        if rule not in ("month", "week", "day"):
            return json_reply(400, {"ok": False, "error": "rule is month, week or day"})
        self.quota = rule
        return json_reply(200, {"ok": True})

    def admin_owner(self, method: str, query: dict, data: Any) -> Reply:
        msgid, action = (data or {}).get("msgid", ""), (data or {}).get("action")
        if msgid not in self.tasks:
            return json_reply(404, {"ok": False, "error": f"no task {msgid}"})
        if action == "ignore":
            return json_reply(200, {"ok": True})
        if action != "confirm":
            return json_reply(400, {"ok": False, "error": "action is confirm or ignore"})
        done = self.confirm(msgid, self.api.clock())
        return json_reply(200 if done["ok"] else 409, done)

    def admin_tasks(self, method: str, query: dict, data: Any) -> Reply:
        with self.lock:
            return json_reply(200, [{k: v for k, v in t.items() if k != "corp_id"} for t in self.tasks.values()])
