"""WeCom's server API for one self-built app: its access token and one call at a time (WECOM.md, "Access token").

- `gettoken?corpid&corpsecret` per app; the token is cached in the state store (`cache`/`cached`, name
  `wecom_token:<corp id>:<secret fingerprint>`) until `expires_in` minus a margin, so every run and every
  function instance shares one token.
- Early invalidation: a call answered 40014 (bad token) or 42001 (expired) refreshes the token once and is
  retried once. A refresh is single-flight: it holds the lease `wecom_token:...` in the state store, and a
  caller that waited for it takes the token the other one fetched (it differs from the one that failed).
- -1 (busy) is retried up to 3 times; 45009 (frequency) and 45033 (concurrency) back off with growing pauses
  (injected `sleep`), then raise `WeComBusy`.
- 60020 raises `UntrustedIP` carrying the IP WeCom saw (its errmsg says "from ip: ..."; read tolerantly): the
  engineer adds that IP to the app's 企业可信IP.
- Decide by `errcode`, never by `errmsg` (60020's IP is the one thing read from the text).

The secret is a reference (`secret:NAME` / `env:NAME`, delivery/secrets.py) resolved at the call; neither the
secret nor the token is ever logged or put in an exception's text (`mask` shows 4 characters).

Everything that talks to the world is injected: `session` (a requests.Session-like object with get/post),
`state` (the state store), `clock` (epoch seconds), `sleep`.
"""
from __future__ import annotations

import hashlib
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping

DEFAULT_BASE = "https://qyapi.weixin.qq.com"
MARGIN = 300.0                 # refresh this many seconds before WeCom's expiry
LEASE_TTL = 30.0
LEASE_WAIT = 15.0
BUSY_PAUSES = (1.0, 2.0, 4.0)  # -1, 45009, 45033: pauses before the 2nd, 3rd and 4th try
TOKEN_CODES = {40014, 42001}   # the token is bad or expired: refresh once, retry once
BUSY_CODES = {-1, 45009, 45033}
IP_CODE = 60020
IP_IN_TEXT = re.compile(r"from ip\s*[:：]?\s*([0-9A-Fa-f.:]{3,45})")
ANY_IPV4 = re.compile(r"\b(\d{1,3}(?:\.\d{1,3}){3})\b")


def mask(text: str | None) -> str:
    return (text[:min(4, len(text) // 2)] + "…") if text else ""


class WeComError(RuntimeError):
    """WeCom answered an errcode other than 0. `errmsg` is WeCom's own words (it never holds our secret)."""

    def __init__(self, errcode: int, errmsg: str, path: str = ""):
        super().__init__(f"WeCom {path} errcode {errcode}: {errmsg}".replace("  ", " "))
        self.errcode, self.errmsg, self.path = int(errcode), str(errmsg or ""), path


class WeComBusy(WeComError):
    """-1, 45009 or 45033 still after the pauses: try again on a later run."""


class UntrustedIP(WeComError):
    """60020: this machine's IP is not among the app's trusted IPs. `ip` is the one WeCom saw ('' if not said)."""

    def __init__(self, errcode: int, errmsg: str, path: str = ""):
        super().__init__(errcode, errmsg, path)
        self.ip = untrusted_ip(errmsg)

    def advice(self) -> str:
        """What the engineer does (English; the Problem's reason key is reason_wecom_untrusted_ip)."""
        return untrusted_ip_reason(self.ip)


class NoSecret(LookupError):
    """The app's secret reference resolved to nothing."""


def untrusted_ip(errmsg: str) -> str:
    """The IP in a 60020 errmsg ("... from ip: 1.2.3.4, more info at ..."), tolerant of its wording."""
    found = IP_IN_TEXT.search(errmsg or "") or ANY_IPV4.search(errmsg or "")
    return found.group(1).rstrip(".,:") if found else ""


def untrusted_ip_reason(ip: str) -> str:
    """The English reason (sheet/i18n_reasons.py: reason_wecom_untrusted_ip / reason_wecom_untrusted_unknown_ip)."""
    if ip:
        return (f"WeCom refused the call from IP {ip} (60020): add that IP to the app's trusted IPs "
                f"(企业可信IP) in the WeCom admin console")
    return ("WeCom refused the call from this machine's IP (60020): add the IP the functions call from "
            "to the app's trusted IPs (企业可信IP) in the WeCom admin console")


@dataclass(frozen=True)
class WeComApp:
    """One self-built app: the corp id and a reference to its secret (never the secret itself in a sheet)."""
    corp_id: str
    secret_ref: str
    label: str = ""

    def cache_name(self, secret: str) -> str:
        """One token per app (secret): the corp id and a short fingerprint of the secret, never the secret."""
        return f"wecom_token:{self.corp_id}:{hashlib.sha256(secret.encode('utf-8')).hexdigest()[:12]}"


class WeComApi:
    """Calls to WeCom's server API for one app, with its cached token. Not thread-safe per instance: one call at
    a time is also what WeCom asks of the result calls (45033)."""

    def __init__(self, app: WeComApp, *, session: Any, state: Any, resolve: Callable[[str], str | None],
                 base_url: str = DEFAULT_BASE, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, holder: str | None = None, timeout: float = 15.0):
        self.app, self.session, self.state, self._resolve = app, session, state, resolve
        self.base_url = base_url.rstrip("/")
        self.clock, self.sleep, self.timeout = clock, sleep, timeout
        self.holder = holder or f"wecom-{uuid.uuid4().hex[:8]}"
        self.gettoken_calls = 0

    # ---- the token

    def _secret(self) -> str:
        secret = self._resolve(self.app.secret_ref)
        if not secret:
            raise NoSecret(f"{self.app.secret_ref} is not set")
        return secret

    def token(self, stale: str | None = None) -> str:
        """The cached token, or a fresh one. `stale`: a token WeCom just refused; never returned again."""
        secret = self._secret()
        name = self.app.cache_name(secret)
        current = self.state.cached(name, self.clock())
        if current and current != stale:
            return current
        deadline = self.clock() + LEASE_WAIT
        while not self.state.acquire(name, self.holder, LEASE_TTL, self.clock()):
            if self.clock() >= deadline:
                raise WeComBusy(45033, "another run is refreshing the access token", "gettoken")
            self.sleep(0.2)
        try:
            current = self.state.cached(name, self.clock())   # whoever held the lease may have refreshed it
            if current and current != stale:
                return current
            data = self._request("GET", "/cgi-bin/gettoken", params={"corpid": self.app.corp_id, "corpsecret": secret})
            self.gettoken_calls += 1
            token = str(data.get("access_token") or "")
            if not token:
                raise WeComError(-2, "gettoken answered without an access_token", "gettoken")
            expires_in = float(data.get("expires_in") or 7200)
            self.state.cache(name, token, self.clock() + max(60.0, expires_in - MARGIN))
            return token
        finally:
            self.state.release(name, self.holder)

    # ---- calls

    def post(self, path: str, body: Mapping[str, Any]) -> dict:
        return self.call("POST", path, body=dict(body))

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict:
        return self.call("GET", path, params=dict(params or {}))

    def call(self, method: str, path: str, *, body: dict | None = None, params: dict | None = None) -> dict:
        """One API call with the token: refresh once on 40014/42001; back off on -1/45009/45033."""
        token = self.token()
        refreshed = False
        while True:
            try:
                return self._request(method, path, params={**(params or {}), "access_token": token}, body=body)
            except WeComError as exc:
                if exc.errcode in TOKEN_CODES and not refreshed:
                    token, refreshed = self.token(stale=token), True
                    continue
                raise

    def _request(self, method: str, path: str, *, params: dict, body: dict | None = None) -> dict:
        url = self.base_url + path
        for attempt in range(len(BUSY_PAUSES) + 1):
            try:
                if method == "GET":
                    reply = self.session.get(url, params=params, timeout=self.timeout)
                else:
                    reply = self.session.post(url, params=params, json=body, timeout=self.timeout)
            except Exception as exc:   # its text carries the URL, and the URL the token or the secret
                raise WeComError(-3, f"could not reach WeCom ({type(exc).__name__})", path) from None
            try:
                data = reply.json()
            except ValueError:
                raise WeComError(-2, f"HTTP {reply.status_code}, not JSON", path) from None
            code = int(data.get("errcode") or 0)
            if code == 0:
                return data
            if code in BUSY_CODES and attempt < len(BUSY_PAUSES):
                self.sleep(BUSY_PAUSES[attempt])
                continue
            kind = UntrustedIP if code == IP_CODE else WeComBusy if code in BUSY_CODES else WeComError
            raise kind(code, str(data.get("errmsg") or ""), path)
        raise AssertionError("unreachable")
