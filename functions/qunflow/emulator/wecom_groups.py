"""The emulator's WeCom customer groups (客户群): groupchat list/get, group welcome templates, and the encrypted
change_external_chat callbacks. Written from /work/shared/WECOM.md, not from qunflow's receiver or sync; it
imports nothing of qunflow (its WXBizMsgCrypt is its own, below). Mounted on emulator/wecom_api.py's routes, so
every call is token-checked (and answers 60020 when the trusted-IP switch is on).

API (POST, JSON, `?access_token=`):
- `externalcontact/groupchat/list {status_filter, owner_filter: {userid_list ≤ 100}, cursor, limit 1..1000}` →
  `group_chat_list[{chat_id, status}], next_cursor` (paged by offset; "" when done). Without owner_filter over
  more than LARGE_SCOPE chats: 81017.
- `externalcontact/groupchat/get {chat_id, need_name}` → `group_chat{chat_id, name, owner, create_time, notice,
  member_list[{userid, type, join_time, join_scene, invitor?, group_nickname, name}], admin_list,
  member_version}`. `member_version` changes with every membership change. A change becomes visible to get
  `lag` seconds after it happens (WECOM.md: a read right after a callback may lag ~2 s); 0 by default.
- `externalcontact/group_welcome_template/add|edit|get|del`: text ≤ 3,000 bytes, at most one of image, link,
  miniprogram, file, video; ≤ 100 templates per corp; `notify` kept.
Codes the page does not give are marked unverified: 40050 (unknown chat_id), 40058 (a bad parameter), 41063
(too many templates), 40051 (unknown template).

Callbacks: `configure(url, token, aes_key, corp_id)`; each change made through the control endpoint (a
person joining or leaving in the app: changes made through the API produce none) POSTs
`?msg_signature&timestamp&nonce` with `<xml><ToUserName/><Encrypt/><AgentID/></xml>` to the URL. WeCom's rule:
no answer within 5 s (or not HTTP 200) is retried, 3 attempts in all. `mode`: "send" (default), "lose" (the
callback is never sent: WeCom's staff say they may be lost), "hold" (kept until `release`, which sends the held
ones newest first: out of order). Every attempt is recorded in `deliveries` (never a key).

Control (`/_emulator/wecom/groups/...`, JSON): POST `chat` {chat_id, owner, name?, members?: [...]};
POST `join` {chat_id, userid, type?, join_scene?, invitor?, name?}; POST `leave` {chat_id, userid};
POST `callbacks` {url, token, aes_key, corp_id}; POST `mode` {mode, lag?}; POST `release`; GET `state`.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import threading
import time
from typing import Any, Callable

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .base import Reply, json_reply

LARGE_SCOPE = 50
WELCOME_TEXT_MAX = 3000
TEMPLATES_MAX = 100
CALLBACK_DEADLINE = 5.0
CALLBACK_ATTEMPTS = 3
ATTACHMENT_KINDS = ("image", "link", "miniprogram", "file", "video")
PATH = "/cgi-bin/externalcontact/"


def err(code: int, msg: str) -> dict:
    return {"errcode": code, "errmsg": msg}


# --- the emulator's own WXBizMsgCrypt (WECOM.md, doc 91144) ------------------------------------------------

def wx_seal(token: str, aes_key: str, corp_id: str, msg: bytes, timestamp: str, nonce: str,
            random16: bytes | None = None) -> tuple[str, str]:
    """(Encrypt, msg_signature): AES-256-CBC, IV = key[:16], PKCS#7 to 32, random16 + len + msg + corp id."""
    key = base64.b64decode(aes_key + "=")
    plain = (random16 or os.urandom(16)) + struct.pack(">I", len(msg)) + msg + corp_id.encode("utf-8")
    n = 32 - len(plain) % 32
    plain += bytes([n]) * n
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    encrypted = base64.b64encode(enc.update(plain) + enc.finalize()).decode("ascii")
    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode("utf-8")).hexdigest()
    return encrypted, signature


def callback_xml(corp_id: str, chat_id: str, change: str, detail: str, now: float, scene: int | None,
                 count: int, users: list[str], last_ver: str, cur_ver: str) -> bytes:
    parts = [f"<ToUserName><![CDATA[{corp_id}]]></ToUserName>", "<FromUserName><![CDATA[sys]]></FromUserName>",
             f"<CreateTime>{int(now)}</CreateTime>", "<MsgType><![CDATA[event]]></MsgType>",
             "<Event><![CDATA[change_external_chat]]></Event>", f"<ChatId><![CDATA[{chat_id}]]></ChatId>",
             f"<ChangeType><![CDATA[{change}]]></ChangeType>"]
    if detail:
        parts.append(f"<UpdateDetail><![CDATA[{detail}]]></UpdateDetail>")
        tag = "JoinScene" if detail == "add_member" else "QuitScene"
        parts += [f"<{tag}>{scene or 0}</{tag}>", f"<MemChangeCnt>{count}</MemChangeCnt>",
                  "<MemChangeList>" + "".join(f"<Item><![CDATA[{u}]]></Item>" for u in users) + "</MemChangeList>",
                  f"<LastMemVer><![CDATA[{last_ver}]]></LastMemVer>", f"<CurMemVer><![CDATA[{cur_ver}]]></CurMemVer>"]
    return ("<xml>" + "".join(parts) + "</xml>").encode("utf-8")


class WeComGroups:
    def __init__(self, api: Any, *, session: Any = None, sleep: Callable[[float], None] = time.sleep):
        self.api, self.clock, self.sleep = api, api.clock, sleep
        self.lock = threading.RLock()
        self.chats: dict[str, dict] = {}
        self.changes: list[tuple[float, Callable[[], None]]] = []   # (visible at, apply) for the lag
        self.templates: dict[str, dict] = {}
        self.callback: dict[str, str] | None = None
        self.mode, self.lag = "send", 0.0
        self.held: list[tuple[bytes, dict]] = []
        self.deliveries: list[dict] = []
        self.session = session
        self._n = 0
        for name in ("groupchat/list", "groupchat/get", "group_welcome_template/add", "group_welcome_template/edit",
                     "group_welcome_template/get", "group_welcome_template/del"):
            api.routes[PATH + name] = getattr(self, "_" + name.replace("/", "_"))
        for name in ("chat", "join", "leave", "callbacks", "mode", "release", "state"):
            api.admins["groups/" + name] = lambda method, query, data, n=name: self.admin(n, method, data)

    # ---- the world (what people do in the app)

    def _version(self, chat: dict) -> str:
        chat["seq"] += 1
        return hashlib.md5(f"{chat['chat_id']}:{chat['seq']}".encode()).hexdigest()

    def add_chat(self, chat_id: str, owner: str, name: str = "", members: list[dict] | None = None) -> None:
        now = self.clock()
        with self.lock:
            chat = {"chat_id": chat_id, "name": name or chat_id, "owner": owner, "create_time": int(now),
                    "notice": "", "status": 0, "seq": 0, "members": {}, "visible": {}, "version": ""}
            chat["members"][owner] = {"userid": owner, "type": 1, "join_time": int(now), "join_scene": 1,
                                      "group_nickname": "", "name": owner}
            for m in members or []:
                chat["members"][m["userid"]] = self._member(m, now)
            chat["version"] = self._version(chat)
            chat["visible"] = {"members": json.loads(json.dumps(chat["members"])), "version": chat["version"]}
            self.chats[chat_id] = chat

    @staticmethod
    def _member(m: dict, now: float) -> dict:
        out = {"userid": str(m["userid"]), "type": int(m.get("type", 2)), "join_time": int(m.get("join_time", now)),
               "join_scene": int(m.get("join_scene", 3)), "group_nickname": m.get("group_nickname", ""),
               "name": m.get("name", str(m["userid"]))}
        if m.get("invitor"):
            out["invitor"] = {"userid": str(m["invitor"])}
        return out

    def join(self, chat_id: str, member: dict) -> dict:
        return self._change(chat_id, "add_member", member)

    def leave(self, chat_id: str, userid: str, removed: bool = False) -> dict:
        return self._change(chat_id, "del_member", {"userid": userid, "quit_scene": 1 if removed else 0})

    def _change(self, chat_id: str, detail: str, member: dict) -> dict:
        now = self.clock()
        with self.lock:
            chat = self.chats[chat_id]
            last = chat["version"]
            if detail == "add_member":
                chat["members"][str(member["userid"])] = self._member(member, now)
                scene = 0 if member.get("invitor") else int(member.get("join_scene", 3))
            else:
                chat["members"].pop(str(member["userid"]), None)
                scene = int(member.get("quit_scene", 0))
            chat["version"] = self._version(chat)
            snapshot = {"members": json.loads(json.dumps(chat["members"])), "version": chat["version"]}
            self.changes.append((now + self.lag, lambda c=chat, s=snapshot: c.__setitem__("visible", s)))
            xml = callback_xml(self.callback["corp_id"] if self.callback else "", chat_id, "update", detail, now,
                               scene, 1, [str(member["userid"])], last, chat["version"])
        return self._callback(xml)

    def _settle(self, now: float) -> None:
        with self.lock:
            due = [c for c in self.changes if c[0] <= now]
            self.changes = [c for c in self.changes if c[0] > now]
        for _, apply in due:
            apply()

    # ---- callbacks

    def _callback(self, xml: bytes) -> dict:
        if self.callback is None:
            return {"sent": False, "why": "no callback URL"}
        if self.mode == "lose":
            self.deliveries.append({"lost": True, "attempts": []})
            return {"sent": False, "why": "lost"}
        if self.mode == "hold":
            self.held.append((xml, dict(self.callback)))
            return {"sent": False, "why": "held"}
        return self._post(xml, self.callback)

    def release(self) -> list[dict]:
        """Send the held callbacks, newest first (out of order)."""
        with self.lock:
            held, self.held = list(reversed(self.held)), []
        return [self._post(xml, cfg) for xml, cfg in held]

    def _post(self, xml: bytes, cfg: dict) -> dict:
        if self.session is None:
            import requests
            self.session = requests.Session()
        self._n += 1
        record = {"n": self._n, "attempts": [], "acknowledged": False}
        for attempt in range(CALLBACK_ATTEMPTS):
            timestamp, nonce = str(int(self.clock())), str(1000000 + self._n * 10 + attempt)
            encrypted, signature = wx_seal(cfg["token"], cfg["aes_key"], cfg["corp_id"], xml, timestamp, nonce)
            body = (f"<xml><ToUserName><![CDATA[{cfg['corp_id']}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]>"
                    "</Encrypt><AgentID><![CDATA[]]></AgentID></xml>").encode()
            started = time.monotonic()
            try:
                reply = self.session.post(cfg["url"], params={"msg_signature": signature, "timestamp": timestamp,
                                                              "nonce": nonce}, data=body,
                                          headers={"Content-Type": "text/xml"}, timeout=CALLBACK_DEADLINE)
                status = reply.status_code
            except Exception as exc:   # noqa: BLE001 - a timeout or a refused connection: WeCom retries
                status = f"no answer ({type(exc).__name__})"
            record["attempts"].append({"status": status, "elapsed": round(time.monotonic() - started, 3)})
            if status == 200:
                record["acknowledged"] = True
                break
        self.deliveries.append(record)
        return record

    # ---- the API

    def _body(self, req: Any) -> dict:
        data, _ = req.json()
        return data if isinstance(data, dict) else {}

    def _groupchat_list(self, req: Any, corp_id: str, now: float) -> dict:
        data = self._body(req)
        try:
            limit, offset = int(data.get("limit", 100)), int(data.get("cursor") or 0)
        except (TypeError, ValueError):
            return err(40058, "invalid limit or cursor (unverified code)")
        if not 1 <= limit <= 1000:
            return err(40058, "limit must be 1..1000 (unverified code)")
        owners = (data.get("owner_filter") or {}).get("userid_list") or []
        if len(owners) > 100:
            return err(40058, "owner_filter.userid_list has more than 100 userids (unverified code)")
        with self.lock:
            chats = [c for c in self.chats.values() if not owners or c["owner"] in owners]
            if not owners and len(self.chats) > LARGE_SCOPE:
                return err(81017, "groupchat/list needs owner_filter over a large scope")
            page = sorted(chats, key=lambda c: c["chat_id"])[offset:offset + limit]
            more = offset + limit < len(chats)
        return {"errcode": 0, "errmsg": "ok", "group_chat_list": [{"chat_id": c["chat_id"], "status": c["status"]}
                                                                  for c in page],
                "next_cursor": str(offset + limit) if more else ""}

    def _groupchat_get(self, req: Any, corp_id: str, now: float) -> dict:
        self._settle(now)
        data = self._body(req)
        with self.lock:
            chat = self.chats.get(str(data.get("chat_id") or ""))
            if chat is None:
                return err(40050, "chat_id not found (unverified code)")
            seen = chat["visible"]
            return {"errcode": 0, "errmsg": "ok", "group_chat": {
                "chat_id": chat["chat_id"], "name": chat["name"], "owner": chat["owner"],
                "create_time": chat["create_time"], "notice": chat["notice"],
                "member_list": [dict(m) for m in seen["members"].values()],
                "admin_list": [], "member_version": seen["version"]}}

    def _template(self, data: dict) -> tuple[dict | None, dict | None]:
        text = (data.get("text") or {}).get("content", "")
        if len(str(text).encode("utf-8")) > WELCOME_TEXT_MAX:
            return None, err(40058, f"text.content is over {WELCOME_TEXT_MAX} bytes (unverified code)")
        kinds = [k for k in ATTACHMENT_KINDS if data.get(k)]
        if len(kinds) > 1:
            return None, err(40058, "at most one of image, link, miniprogram, file, video (unverified code)")
        if not text and not kinds:
            return None, err(40058, "a welcome template needs text or an attachment (unverified code)")
        if "link" in kinds and not (data["link"].get("title") and data["link"].get("url")):
            return None, err(40058, "link needs title and url (unverified code)")
        if "miniprogram" in kinds and not all(data["miniprogram"].get(k) for k in ("title", "pic_media_id",
                                                                                  "appid", "page")):
            return None, err(40058, "miniprogram needs title, pic_media_id, appid and page (unverified code)")
        out = {"text": {"content": str(text)}} if text else {}
        out.update({k: data[k] for k in kinds})
        out["notify"] = int(data.get("notify", 1))
        return out, None

    def _group_welcome_template_add(self, req: Any, corp_id: str, now: float) -> dict:
        template, bad = self._template(self._body(req))
        if bad:
            return bad
        with self.lock:
            mine = [t for t in self.templates.values() if t["corp_id"] == corp_id]
            if len(mine) >= TEMPLATES_MAX:
                return err(41063, f"a corp has at most {TEMPLATES_MAX} welcome templates (unverified code)")
            template_id = "msg" + hashlib.sha1(f"{corp_id}:{len(self.templates)}:{now}".encode()).hexdigest()[:20]
            self.templates[template_id] = {**template, "corp_id": corp_id}
        return {"errcode": 0, "errmsg": "ok", "template_id": template_id}

    def _group_welcome_template_edit(self, req: Any, corp_id: str, now: float) -> dict:
        data = self._body(req)
        template, bad = self._template(data)
        if bad:
            return bad
        with self.lock:
            old = self.templates.get(str(data.get("template_id") or ""))
            if old is None or old["corp_id"] != corp_id:
                return err(40051, "template_id not found (unverified code)")
            self.templates[data["template_id"]] = {**template, "corp_id": corp_id}
        return {"errcode": 0, "errmsg": "ok"}

    def _group_welcome_template_get(self, req: Any, corp_id: str, now: float) -> dict:
        found = self.templates.get(str(self._body(req).get("template_id") or ""))
        if found is None or found["corp_id"] != corp_id:
            return err(40051, "template_id not found (unverified code)")
        return {"errcode": 0, "errmsg": "ok", **{k: v for k, v in found.items() if k not in ("corp_id", "notify")}}

    def _group_welcome_template_del(self, req: Any, corp_id: str, now: float) -> dict:
        template_id = str(self._body(req).get("template_id") or "")
        with self.lock:
            found = self.templates.get(template_id)
            if found is None or found["corp_id"] != corp_id:
                return err(40051, "template_id not found (unverified code)")
            del self.templates[template_id]
        return {"errcode": 0, "errmsg": "ok"}

    # ---- control

    def admin(self, name: str, method: str, data: Any) -> Reply:
        data = data if isinstance(data, dict) else {}
        try:
            if (method, name) == ("POST", "chat"):
                self.add_chat(str(data["chat_id"]), str(data["owner"]), data.get("name", ""), data.get("members"))
                return json_reply(201, {"ok": True})
            if (method, name) == ("POST", "join"):
                return json_reply(200, {"ok": True, "callback": self.join(str(data["chat_id"]), data)})
            if (method, name) == ("POST", "leave"):
                return json_reply(200, {"ok": True, "callback": self.leave(str(data["chat_id"]), str(data["userid"]),
                                                                          bool(data.get("removed")))})
            if (method, name) == ("POST", "callbacks"):
                self.callback = {k: str(data[k]) for k in ("url", "token", "aes_key", "corp_id")}
                return json_reply(200, {"ok": True})
            if (method, name) == ("POST", "mode"):
                self.mode, self.lag = str(data.get("mode", "send")), float(data.get("lag", self.lag))
                return json_reply(200, {"ok": True})
            if (method, name) == ("POST", "release"):
                return json_reply(200, {"ok": True, "deliveries": self.release()})
            if (method, name) == ("GET", "state"):
                with self.lock:
                    return json_reply(200, {"chats": {c: sorted(v["members"]) for c, v in self.chats.items()},
                                            "templates": len(self.templates), "deliveries": self.deliveries[-20:],
                                            "held": len(self.held)})
        except (KeyError, TypeError, ValueError) as exc:
            return json_reply(400, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        return json_reply(404, {"ok": False, "error": f"no wecom groups endpoint {method} {name}"})
