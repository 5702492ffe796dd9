"""The emulated platforms' event sources: they POST joins, leaves and messages to a configured URL, as the real
ones do, and keep to each platform's retry rule (../shared/EVENTS.md).

    source = EventSource("http://127.0.0.1:8080", secrets={"slack_signing_secret": "...", ...})
    record = source.emit("slack", "C0123", "join", {"id": "U042", "name": "Ann"}, inviter={"id": "U001"})
    record["attempts"]          # [{"status": 200, "elapsed": 0.01, "retry": 0, "reason": ""}]

Per platform (payload shapes and crypto in events_payloads.py):
- **feishu**: v2 events, encrypted with the Encrypt Key and signed (X-Lark-Signature); `handshake("feishu")`
  sends the encrypted url_verification, unsigned, and checks the challenge comes back within **1 s**. EVENTS.md
  gives Feishu no event retry rule, so an event is sent once and its answer recorded.
- **slack**: Events API envelopes signed with the signing secret (v0). An answer later than **3 s**, or a
  non-2xx, is retried up to 3 times (about at once, after 1 min, after 5 min: the pauses go through the
  injected `sleep`), each re-signed and carrying X-Slack-Retry-Num and X-Slack-Retry-Reason; a non-2xx with
  X-Slack-No-Retry: 1 stops the retries. `handshake("slack")` sends a signed url_verification.
- **telegram**: updates with X-Telegram-Bot-Api-Secret-Token; join/leave as `chat_member` (the bot is an
  admin and allowed_updates lists it), or with `service=True` as message.new_chat_members/left_chat_member. A
  non-2xx answer (or none) is retried "for a while": TELEGRAM_RETRIES pauses, the same update each time.
- **dingtalk**: the HTTP callback, WeCom-style crypto (msg_signature over sorted token/timestamp/nonce/encrypt,
  AES-256-CBC); member events only (chat_add_member, chat_quit: DingTalk sends no message events). The answer
  counts only when it is the encrypted, signed "success" (`acknowledged`). EVENTS.md gives no retry rule.
`replay(record)` sends a recorded delivery's last request again, byte for byte (a replay attack, or a
duplicate delivery). Every delivery is recorded in `deliveries`; secrets are never in a record.
"""
from __future__ import annotations

import hashlib
import random
import threading
import time
from typing import Any, Callable

from . import events_payloads as P

SLACK_DEADLINE = 3.0
SLACK_RETRY_PAUSES = (0.0, 60.0, 300.0)
FEISHU_HANDSHAKE_DEADLINE = 1.0
TELEGRAM_RETRIES = (1.0, 5.0, 30.0, 120.0, 600.0)
TIMEOUT = 10.0                  # seconds the other platforms wait for an answer (none of them says)
SECRETS = ("feishu_encrypt_key", "feishu_verification_token", "slack_signing_secret", "telegram_secret_token",
           "dingtalk_token", "dingtalk_aes_key", "dingtalk_app_key")


class EventSource:
    def __init__(self, url: str, *, secrets: dict[str, str], clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, session: Any = None, seed: int = 0,
                 log: Callable[[str], None] | None = None, app_id: str = "cli_emulated", team: str = "T0EMULATED",
                 corp_id: str = "ding_emulated"):
        unknown = set(secrets) - set(SECRETS)
        if unknown:
            raise ValueError(f"unknown secret names {sorted(unknown)}; use {', '.join(SECRETS)}")
        self.url = url.rstrip("/")
        self.secrets = dict(secrets)
        self.clock, self.sleep, self.log = clock, sleep, log
        if session is None:
            import requests
            session = requests.Session()
        self.session = session
        self.app_id, self.team, self.corp_id = app_id, team, corp_id
        self._rng = random.Random(seed)
        self._seed = seed
        self._n = 0
        self._lock = threading.Lock()
        self.deliveries: list[dict] = []

    # ---- helpers

    def _secret(self, name: str) -> str:
        value = self.secrets.get(name)
        if not value:
            raise ValueError(f"the emulated platform needs {name} to sign or encrypt; give it in secrets")
        return value

    def _next(self) -> int:
        with self._lock:
            self._n += 1
            return self._n

    def _hex(self, n: int, size: int = 32) -> str:
        return hashlib.sha256(f"{self._seed}:{n}".encode()).hexdigest()[:size]

    def _post(self, wire: P.Wire, timeout: float) -> dict:
        started = time.monotonic()
        try:
            reply = self.session.post(self.url + wire.path, data=wire.body, headers=wire.headers,
                                      params=wire.query or None, timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - a timeout or a refused connection is what the platform sees
            return {"status": None, "elapsed": round(time.monotonic() - started, 3),
                    "reason": "http_timeout" if "timeout" in type(exc).__name__.lower() else "connection_failed",
                    "body": b"", "headers": {}}
        return {"status": reply.status_code, "elapsed": round(time.monotonic() - started, 3), "reason": "",
                "body": reply.content, "headers": {k.lower(): v for k, v in reply.headers.items()}}

    def _record(self, platform: str, kind: str, wire: P.Wire, attempts: list[dict], **extra: Any) -> dict:
        record = {"platform": platform, "kind": kind, "event_id": wire.event_id,
                  "attempts": [{k: a[k] for k in ("status", "elapsed", "retry", "reason")} for a in attempts],
                  "ok": bool(attempts) and attempts[-1]["status"] is not None and 200 <= attempts[-1]["status"] < 300,
                  "answer": attempts[-1]["body"] if attempts else b"", "_wire": wire, **extra}
        with self._lock:
            self.deliveries.append(record)
        if self.log:
            codes = ",".join(str(a["status"]) for a in attempts)
            self.log(f"events    {platform} {kind} -> {codes}")
        return record

    # ---- what the platforms send

    def emit(self, platform: str, chat_id: str, kind: str, user: Any, *, text: str = "", inviter: Any = None,
             service: bool = False, title: str = "") -> dict:
        if kind not in P.KINDS:
            raise ValueError(f"kind is one of {', '.join(P.KINDS)}; got {kind!r}")
        person = P.Person.of(user)
        by = P.Person.of(inviter) if inviter is not None else None
        n, now = self._next(), self.clock()
        if platform == "feishu":
            payload = P.feishu_event(kind, chat_id, person, event_id=self._hex(n), now=now, app_id=self.app_id,
                                     token=self._secret("feishu_verification_token"), text=text, inviter=by)
            wire = P.feishu_wire(payload, encrypt_key=self._secret("feishu_encrypt_key"), now=now,
                                 nonce=self._hex(n + 10**6, 16), iv=self._rng.randbytes(16))
            return self._record(platform, kind, wire, [self._attempt(wire, TIMEOUT, 0)])
        if platform == "slack":
            payload = P.slack_event(kind, chat_id, person, event_id="Ev" + self._hex(n, 10).upper(), now=now,
                                    # checkov:skip=CKV_SECRET_6: the emulator's placeholder for an unused verification token, not a secret
                                    token="verification-unused", team=self.team, app_id=self.app_id, text=text,
                                    inviter=by)
            return self._slack(payload, kind)
        if platform == "telegram":
            update = P.telegram_update(kind, chat_id, person, update_id=100000 + n, now=now, text=text,
                                       inviter=by, title=title, message_id=n, service=service)
            return self._telegram(P.telegram_wire(update, secret_token=self._secret("telegram_secret_token")), kind)
        if platform == "dingtalk":
            event = P.dingtalk_event(kind, chat_id, person, now=now, corp_id=self.corp_id, inviter=by)
            return self._dingtalk(event, kind, n, now)
        raise ValueError(f"no event source for {platform!r}: feishu, slack, telegram or dingtalk "
                         "(WeCom's group robots have none)")

    def handshake(self, platform: str) -> dict:
        """The platform's URL check: Feishu/Slack url_verification, DingTalk check_url. `ok`: answered right
        (the challenge back, within Feishu's 1 s; DingTalk's encrypted success)."""
        n, now = self._next(), self.clock()
        challenge = "challenge-" + self._hex(n, 12)
        if platform == "feishu":
            payload = {"type": "url_verification", "challenge": challenge,
                       "token": self._secret("feishu_verification_token")}
            wire = P.feishu_wire(payload, encrypt_key=self._secret("feishu_encrypt_key"), now=now,
                                 nonce=self._hex(n, 16), iv=self._rng.randbytes(16), sign=False)
            attempt = self._attempt(wire, FEISHU_HANDSHAKE_DEADLINE, 0)
            got = _challenge(attempt["body"])
            return self._record(platform, "handshake", wire, [attempt], challenge_ok=got == challenge,
                                in_time=attempt["status"] is not None and attempt["elapsed"] <= FEISHU_HANDSHAKE_DEADLINE)
        if platform == "slack":
            wire = P.slack_wire({"token": "verification-unused", "challenge": challenge, "type": "url_verification"},
                                secret=self._secret("slack_signing_secret"), now=now)
            attempt = self._attempt(wire, SLACK_DEADLINE, 0)
            return self._record(platform, "handshake", wire, [attempt],
                                challenge_ok=_challenge(attempt["body"]) == challenge)
        if platform == "dingtalk":
            return self._dingtalk({"EventType": "check_url"}, "handshake", n, now)
        raise ValueError(f"{platform} has no URL handshake here")

    def replay(self, record: dict) -> dict:
        """The recorded delivery's last request again, unchanged (same signature, timestamp and event id)."""
        wire = record["_wire"]
        attempt = self._attempt(wire, TIMEOUT, 0)
        return self._record(record["platform"], record["kind"], wire, [attempt], replay=True)

    # ---- per-platform delivery rules

    def _attempt(self, wire: P.Wire, timeout: float, retry: int) -> dict:
        return {**self._post(wire, timeout), "retry": retry}

    def _slack(self, payload: dict, kind: str) -> dict:
        secret = self._secret("slack_signing_secret")
        wire = P.slack_wire(payload, secret=secret, now=self.clock())
        attempts = [self._attempt(wire, SLACK_DEADLINE, 0)]
        for retry, pause in enumerate(SLACK_RETRY_PAUSES, start=1):
            last = attempts[-1]
            if last["status"] is not None and 200 <= last["status"] < 300:
                break
            if last["status"] is not None and last["headers"].get("x-slack-no-retry") == "1":
                break
            reason = "http_timeout" if last["status"] is None else "http_error"
            self.sleep(pause)
            wire = P.slack_wire(payload, secret=secret, now=self.clock(), retry=retry, retry_reason=reason)
            attempts.append(self._attempt(wire, SLACK_DEADLINE, retry))
        return self._record("slack", kind, wire, attempts)

    def _telegram(self, wire: P.Wire, kind: str) -> dict:
        attempts = [self._attempt(wire, TIMEOUT, 0)]
        for retry, pause in enumerate(TELEGRAM_RETRIES, start=1):
            last = attempts[-1]
            if last["status"] is not None and 200 <= last["status"] < 300:
                break
            self.sleep(pause)
            attempts.append(self._attempt(wire, TIMEOUT, retry))
        return self._record("telegram", kind, wire, attempts)

    def _dingtalk(self, event: dict, kind: str, n: int, now: float) -> dict:
        keys = {"token": self._secret("dingtalk_token"), "aes_key": self._secret("dingtalk_aes_key"),
                "app_key": self._secret("dingtalk_app_key")}
        wire = P.dingtalk_wire(event, now=now, nonce=self._hex(n, 8), random16=self._rng.randbytes(16), **keys)
        attempt = self._attempt(wire, TIMEOUT, 0)
        return self._record("dingtalk", kind, wire, [attempt],
                            acknowledged=P.dingtalk_acknowledged(attempt["body"], **keys))


def _challenge(body: bytes) -> str | None:
    import json
    try:
        data = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return data.get("challenge") if isinstance(data, dict) else None
