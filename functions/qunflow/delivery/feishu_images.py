"""Feishu's open API for one self-built app: its tenant_access_token and image uploads for an image_key (#21).

- `POST {base}/open-apis/auth/v3/tenant_access_token/internal` with `{app_id, app_secret}` →
  `{code 0, tenant_access_token, expire}` (seconds). The token is cached in the state store (`cache`/`cached`,
  name `feishu_token:<app id>:<secret fingerprint>`) until `expire` minus a margin, so every run shares it.
- `POST {base}/open-apis/im/v1/images`, `Authorization: Bearer <token>`, multipart `image_type=message` and
  `image` → `{code 0, data: {image_key}}`. A token refused (99991661, 99991663) is refreshed once and the upload
  retried once. The image_key is cached in the state store by the sha256 of the bytes (and the app), so one
  poster is uploaded once, across ticks.
- Feishu's limits are checked before the upload (≤ 10 MB, not empty), so a poster it would refuse costs no call.

The secret is resolved by the caller and handed in; neither it nor the token is ever put in an exception's text.
`session` (requests-like, with post), `state` (a state store's cache/cached) and `clock` are injected.
Lark (larksuite.com) is the same API at https://open.larksuite.com.
"""
from __future__ import annotations

import hashlib
import time
from typing import Any, Callable
from urllib.parse import urlsplit

FEISHU_BASE = "https://open.feishu.cn"
LARK_BASE = "https://open.larksuite.com"
TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
IMAGES_PATH = "/open-apis/im/v1/images"
MARGIN = 300.0                      # refresh this many seconds before Feishu's expiry
KEY_DAYS = 30.0                     # how long an image_key is remembered for its bytes
TOKEN_CODES = {99991661, 99991663, 99991668}   # the token is missing, malformed, invalid or expired: refresh once
CREDENTIAL_CODES = {10003, 10014}   # app_id or app_secret refused by tenant_access_token/internal
MAX_BYTES = 10 * 1024 * 1024
MIME = {"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}


def base_for(webhook: str) -> str:
    """Feishu's API for a robot webhook: Lark's for a larksuite.com hook, else Feishu's."""
    host = (urlsplit(webhook or "").hostname or "").lower()
    return LARK_BASE if host == "larksuite.com" or host.endswith(".larksuite.com") else FEISHU_BASE


class FeishuError(RuntimeError):
    """A call refused or failed. `kind`: credentials (the app id or secret), token, image (Feishu refused the
    picture), network or api (any other code). `code` is Feishu's (or -1); `msg` its own words."""

    def __init__(self, kind: str, code: int, msg: str):
        super().__init__(f"Feishu {kind} error {code}: {msg}")
        self.kind, self.code, self.msg = kind, int(code), str(msg or "")

    @property
    def reason(self) -> str:
        """The SendLog reason (English; sheet/i18n_images.py words it in zh-CN)."""
        if self.kind == "credentials":
            return f"the Feishu app's credentials were refused (code {self.code}): check feishu_app_id and feishu_app_secret"
        if self.kind == "network":
            return f"Feishu's open API could not be reached ({self.msg})"
        return f"Feishu refused the image upload (code {self.code}): {self.msg}"


class FeishuImages:
    """Uploads for one app. `calls` counts the requests by path (tests read it)."""

    def __init__(self, app_id: str, secret: str, *, session: Any, state: Any, base_url: str = FEISHU_BASE,
                 clock: Callable[[], float] = time.time, timeout: tuple[float, float] | float = (5.0, 30.0)):
        self.app_id, self._secret = app_id, secret
        self.session, self.state = session, state
        self.base_url, self.clock, self.timeout = base_url.rstrip("/"), clock, timeout
        self._fingerprint = hashlib.sha256(secret.encode("utf-8")).hexdigest()[:12]
        self.calls: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"FeishuImages(app_id={self.app_id!r}, base_url={self.base_url!r})"

    # ---- the token

    def token(self, stale: str | None = None) -> str:
        """The cached tenant_access_token, or a fresh one. `stale`: one Feishu just refused; never returned again."""
        name = f"feishu_token:{self.app_id}:{self._fingerprint}"
        current = self.state.cached(name, self.clock())
        if current and current != stale:
            return current
        data = self._post(TOKEN_PATH, json={"app_id": self.app_id, "app_secret": self._secret})
        code = _code(data)
        if code:
            kind = "credentials" if code in CREDENTIAL_CODES else "token"
            raise FeishuError(kind, code, str(data.get("msg") or ""))
        token = str(data.get("tenant_access_token") or "")
        if not token:
            raise FeishuError("token", -2, "tenant_access_token/internal answered without a token")
        expire = float(data.get("expire") or 7200)
        self.state.cache(name, token, self.clock() + max(30.0, expire - MARGIN))
        return token

    # ---- images

    def image_key(self, data: bytes, fmt: str = "png", sha256: str | None = None) -> str:
        """The image_key of these bytes: remembered, or uploaded now (once per content)."""
        if not data:
            raise FeishuError("image", -4, "the image is empty (0 bytes)")
        if len(data) > MAX_BYTES:
            raise FeishuError("image", -4, f"the image is {len(data)} bytes, over Feishu's 10 MB")
        digest = sha256 or hashlib.sha256(data).hexdigest()
        name = f"feishu_image:{self.app_id}:{digest}"
        known = self.state.cached(name, self.clock())
        if known:
            return known
        token, refreshed = self.token(), False
        while True:
            reply = self._post(IMAGES_PATH, headers={"Authorization": f"Bearer {token}"},
                               data={"image_type": "message"},
                               files={"image": (f"image.{fmt}", data, MIME.get(fmt, "application/octet-stream"))})
            code = _code(reply)
            if code in TOKEN_CODES and not refreshed:
                token, refreshed = self.token(stale=token), True
                continue
            if code:
                raise FeishuError("image", code, str(reply.get("msg") or ""))
            key = str(((reply.get("data") or {}) if isinstance(reply.get("data"), dict) else {}).get("image_key") or "")
            if not key:
                raise FeishuError("image", -2, "im/v1/images answered without an image_key")
            self.state.cache(name, key, self.clock() + KEY_DAYS * 86400)
            return key

    def _post(self, path: str, **kwargs) -> dict:
        self.calls[path] = self.calls.get(path, 0) + 1
        try:
            reply = self.session.post(self.base_url + path, timeout=self.timeout, **kwargs)
        except Exception as exc:   # its text may carry the URL; never the secret, but say only the kind
            raise FeishuError("network", -3, type(exc).__name__) from None
        try:
            data = reply.json()
        except ValueError:
            raise FeishuError("network", -2, f"HTTP {reply.status_code}, not JSON") from None
        return data if isinstance(data, dict) else {"code": -2, "msg": "not a JSON object"}


def _code(data: dict) -> int:
    try:
        return int(data.get("code") or 0)
    except (TypeError, ValueError):
        return -2
