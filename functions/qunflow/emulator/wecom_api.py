"""The emulator's WeCom server API (qyapi.weixin.qq.com/cgi-bin/...): apps, gettoken, the token check, the
trusted-IP switch. Written from /work/shared/WECOM.md, not from qunflow's transport; imports nothing of qunflow.

- `GET /cgi-bin/gettoken?corpid&corpsecret` → `{errcode 0, access_token, expires_in 7200}`; a wrong pair → 40001.
  Each call makes a new token; the app's earlier tokens stay valid until their own expiry (WeCom's own
  behaviour is to return the same token while valid; either is allowed by the page, and a new one makes a
  refresh visible to tests).
- Every other call carries `access_token`: missing → 41001, unknown or invalidated → 40014, expired → 42001.
  `check_token(query, now)` is that check, for the other WeCom modules (emulator/wecom_groups.py,
  emulator/wecom_tasks.py): it returns `(corp_id, None)` or `(None, error_body)`.
- `invalidate()`: WeCom may invalidate tokens early; every token issued so far then answers 40014.
- Trusted-IP switch: when `trusted_ip_only`, every call but gettoken answers 60020 with WeCom's wording,
  naming `caller_ip`.
- Routes: other modules add `routes[path] = fn(req, corp_id, now) -> dict` (the reply body, errcode inside).

Admin (`/_emulator/wecom/...`, JSON): POST apps `{corp_id, secret}`; POST invalidate; POST trusted_ip
`{on, caller_ip?}`; GET state (calls counted; tokens masked). Modules with their own admin add `admins[path]`.
"""
from __future__ import annotations

import secrets as _random
import threading
from typing import Any, Callable

from .base import Reply, Request, admin_body, json_reply, mask

EXPIRES_IN = 7200
PREFIX = "/cgi-bin/"
OWN = ("/cgi-bin/gettoken", "/cgi-bin/externalcontact/")
ADMIN = "/_emulator/wecom/"


def error(code: int, msg: str) -> dict:
    return {"errcode": code, "errmsg": msg}


class WeComApi:
    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self.lock = threading.RLock()
        self.apps: dict[str, set[str]] = {}            # corp id -> its apps' secrets
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (corp id, expires at)
        self.trusted_ip_only = False
        self.caller_ip = "203.0.113.7"
        self.calls: dict[str, int] = {}
        self.routes: dict[str, Callable[[Request, str, float], dict]] = {}
        self.admins: dict[str, Callable[[str, dict, Any], Reply]] = {}

    # ---- set-up

    def add_app(self, corp_id: str, secret: str) -> None:
        with self.lock:
            self.apps.setdefault(corp_id, set()).add(secret)

    def invalidate(self) -> None:
        with self.lock:
            self.tokens.clear()

    def owns(self, path: str) -> bool:
        return path.startswith(OWN) or path in self.routes

    # ---- the token

    def check_token(self, query: dict, now: float) -> tuple[str | None, dict | None]:
        token = query.get("access_token", "")
        if not token:
            return None, error(41001, "access_token missing")
        with self.lock:
            found = self.tokens.get(token)
        if found is None:
            return None, error(40014, "invalid access_token")
        corp_id, expires = found
        if now >= expires:
            return None, error(42001, "access_token expired")
        if self.trusted_ip_only:
            return None, error(60020, f"not allow to access from your ip, hint: [{int(now)}-emu], from ip: "
                                      f"{self.caller_ip}, more info at https://open.work.weixin.qq.com/devtool/query?e=60020")
        return corp_id, None

    def _gettoken(self, req: Request, now: float) -> dict:
        corp_id, secret = req.query.get("corpid", ""), req.query.get("corpsecret", "")
        if not corp_id:
            return error(41002, "corpid missing")
        if not secret:
            return error(41004, "corpsecret missing")
        with self.lock:
            if secret not in self.apps.get(corp_id, set()):
                return error(40001, "invalid credential")
            token = "emu-" + _random.token_urlsafe(24)
            self.tokens[token] = (corp_id, now + EXPIRES_IN)
        return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": EXPIRES_IN}

    # ---- requests

    def handle(self, req: Request, now: float) -> Reply:
        path = req.path
        with self.lock:
            self.calls[path] = self.calls.get(path, 0) + 1
        if path == "/cgi-bin/gettoken":
            if req.method != "GET":
                return json_reply(200, error(43001, "require GET method"))
            return json_reply(200, self._gettoken(req, now))
        route = self.routes.get(path)
        if route is None:
            return json_reply(200, error(48002, f"api forbidden or unknown: {path}"))
        if req.method != "POST":
            return json_reply(200, error(43002, "require POST method"))
        corp_id, refused = self.check_token(req.query, now)
        if refused:
            return json_reply(200, refused)
        return json_reply(200, route(req, corp_id, now))

    def admin(self, method: str, path: str, query: dict, body: bytes) -> Reply:
        data, bad = admin_body(body)
        if bad is not None:
            return bad
        name = path[len(ADMIN):]
        if (method, name) == ("POST", "apps"):
            self.add_app(str(data["corp_id"]), str(data["secret"]))
            return json_reply(201, {"ok": True})
        if (method, name) == ("POST", "invalidate"):
            self.invalidate()
            return json_reply(200, {"ok": True})
        if (method, name) == ("POST", "trusted_ip"):
            self.trusted_ip_only = bool(data.get("on"))
            self.caller_ip = str(data.get("caller_ip") or self.caller_ip)
            return json_reply(200, {"ok": True, "trusted_ip_only": self.trusted_ip_only})
        if (method, name) == ("GET", "state"):
            with self.lock:
                return json_reply(200, {"calls": dict(self.calls), "tokens": [mask(t) for t in self.tokens],
                                        "trusted_ip_only": self.trusted_ip_only})
        handler = self.admins.get(name)
        if handler is not None:
            return handler(method, query, data)
        return json_reply(404, {"ok": False, "error": f"no wecom admin endpoint {method} {path}"})
