"""The emulator's Feishu open API (open.feishu.cn/open-apis/...): a self-built app's tenant_access_token and image
uploads for an image_key, which the custom bot's `image` message then names. Written from Feishu's open platform
pages (and PLATFORMS.md's Feishu row), not from qunflow's client; imports nothing of qunflow.

- `POST /open-apis/auth/v3/tenant_access_token/internal` JSON `{app_id, app_secret}` →
  `{code 0, msg "ok", tenant_access_token "t-...", expire 7200}`. An unknown app_id → 10003, a wrong secret →
  10014. While the app's token has more than 30 minutes left the same token comes back with its remaining
  `expire` (Feishu's behaviour); else a new one.
- `POST /open-apis/im/v1/images`, `Authorization: Bearer <token>`, multipart/form-data `image_type=message` and
  `image` (the file) → `{code 0, data {image_key "img_v2_..."}}`. No or malformed bearer → 99991661; an unknown,
  invalidated or expired token → 99991663. Not multipart, or no `image_type=message` / `image` → 234001; 0 bytes
  or over 10 MB → 234006; bytes that are not JPG, PNG, WEBP, GIF, BMP, ICO, TIFF or HEIC → 234011; a GIF over
  2000×2000 or another image over 12000×12000 (read when Pillow is installed) → 234007.
- `images[image_key]` is the uploaded image's record (emulator/images.py `describe`): the Feishu bot module
  accepts an `image` message only for a key issued here and shows that picture in the transcript.

Admin (`/_emulator/feishu/...`, JSON): POST apps `{app_id, app_secret}`; POST invalidate (every token issued so far
is refused from now on); GET state (calls counted, tokens masked, image keys).
"""
from __future__ import annotations

import email.parser
import email.policy
import secrets as _random
import threading
from typing import Callable

from .base import Reply, Request, admin_body, json_reply, mask
from .images import describe

EXPIRE = 7200
REUSE_ABOVE = 1800          # a token with more left than this is returned again
PREFIX = "/open-apis/"
TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
IMAGES_PATH = "/open-apis/im/v1/images"
ADMIN = "/_emulator/feishu/"
MAX_BYTES = 10 * 1024 * 1024
MAGIC = (("png", b"\x89PNG\r\n\x1a\n"), ("jpg", b"\xff\xd8\xff"), ("gif", b"GIF87a"), ("gif", b"GIF89a"),
         ("bmp", b"BM"), ("ico", b"\x00\x00\x01\x00"), ("tiff", b"II*\x00"), ("tiff", b"MM\x00*"))


def reply(code: int, msg: str, **extra) -> Reply:
    return json_reply(400 if code else 200, {"code": code, "msg": msg, **extra})


def image_format(raw: bytes) -> str | None:
    for name, magic in MAGIC:
        if raw.startswith(magic):
            return name
    if len(raw) >= 12 and raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return "webp"
    if len(raw) >= 12 and raw[4:8] == b"ftyp" and raw[8:12] in (b"heic", b"heix", b"mif1", b"msf1"):
        return "heic"
    return None


def form_fields(req: Request) -> dict[str, bytes] | None:
    """The multipart/form-data fields by name (a file's bytes, a field's value as bytes); None when not multipart."""
    ctype = req.headers.get("content-type", "")
    if not ctype.lower().startswith("multipart/form-data") or "boundary=" not in ctype:
        return None
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + req.body)
    if not message.is_multipart():
        return None
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[str(name)] = part.get_payload(decode=True) or b""
    return fields


class FeishuApi:
    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self.lock = threading.RLock()
        self.apps: dict[str, str] = {}                   # app_id -> app_secret
        self.tokens: dict[str, tuple[str, float]] = {}   # token -> (app_id, expires at)
        self.images: dict[str, dict] = {}                # image_key -> the image's record
        self.calls: dict[str, int] = {}

    def add_app(self, app_id: str, app_secret: str) -> None:
        with self.lock:
            self.apps[app_id] = app_secret

    def invalidate(self) -> None:
        """Tokens can be invalidated early (the app's secret reset, ...): every token issued so far is refused."""
        with self.lock:
            self.tokens.clear()

    def owns(self, path: str) -> bool:
        return path in (TOKEN_PATH, IMAGES_PATH)

    def handle(self, req: Request, now: float) -> Reply:
        with self.lock:
            self.calls[req.path] = self.calls.get(req.path, 0) + 1
            if req.method != "POST":
                return reply(99991400, f"{req.method} is not allowed: POST")
            if req.path == TOKEN_PATH:
                return self._token(req, now)
            return self._upload(req, now)

    def _token(self, req: Request, now: float) -> Reply:
        data, problem = req.json()
        if problem or not isinstance(data, dict):
            return reply(9499, f"Bad Request: {problem or 'body must be a JSON object'}")
        app_id, secret = data.get("app_id"), data.get("app_secret")
        if not isinstance(app_id, str) or not isinstance(secret, str) or not app_id or not secret:
            return reply(10003, "invalid param: app_id and app_secret are required")
        if app_id not in self.apps:
            return reply(10003, "invalid param: app_id not found")
        if self.apps[app_id] != secret:
            return reply(10014, "app secret invalid")
        for token, (owner, expires) in self.tokens.items():
            if owner == app_id and expires - now > REUSE_ABOVE:
                return reply(0, "ok", tenant_access_token=token, expire=int(expires - now))
        token = "t-emu" + _random.token_hex(20)
        self.tokens[token] = (app_id, now + EXPIRE)
        return reply(0, "ok", tenant_access_token=token, expire=EXPIRE)

    def _upload(self, req: Request, now: float) -> Reply:
        auth = req.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            return reply(99991661, "Missing access token for authorization. Please make a request with token attached.")
        found = self.tokens.get(auth[7:].strip())
        if found is None or now >= found[1]:
            return reply(99991663, "Invalid access token for authorization. Please make a request with token attached.")
        fields = form_fields(req)
        if fields is None:
            return reply(234001, "Invalid request param: the body must be multipart/form-data")
        if fields.get("image_type") != b"message":
            return reply(234001, "Invalid request param: image_type must be message (or avatar)")
        raw = fields.get("image")
        if raw is None:
            return reply(234001, "Invalid request param: the image field is required")
        if not raw or len(raw) > MAX_BYTES:
            return reply(234006, f"The image size is invalid: {len(raw)} bytes (1 byte to 10 MB)")
        fmt = image_format(raw)
        if fmt is None:
            return reply(234011, "Can't recognize the image format: JPG, JPEG, PNG, WEBP, GIF, BMP, ICO, TIFF or HEIC")
        record = describe(raw)
        record["format"] = fmt
        side = 2000 if fmt == "gif" else 12000
        if record.get("width", 0) > side or record.get("height", 0) > side:
            return reply(234007, f"The image is {record['width']}x{record['height']}: at most {side}x{side} for {fmt}")
        key = "img_v2_emu" + _random.token_hex(12)
        self.images[key] = record
        return reply(0, "success", data={"image_key": key})

    def admin(self, method: str, path: str, body: bytes) -> Reply:
        data, bad = admin_body(body)
        if bad is not None:
            return bad
        name = path[len(ADMIN):]
        if (method, name) == ("POST", "apps"):
            self.add_app(str(data["app_id"]), str(data["app_secret"]))
            return json_reply(201, {"ok": True})
        if (method, name) == ("POST", "invalidate"):
            self.invalidate()
            return json_reply(200, {"ok": True})
        if (method, name) == ("GET", "state"):
            with self.lock:
                return json_reply(200, {"calls": dict(self.calls), "tokens": [mask(t) for t in self.tokens],
                                        "images": sorted(self.images)})
        return json_reply(404, {"ok": False, "error": f"no feishu admin endpoint {method} {path}"})
