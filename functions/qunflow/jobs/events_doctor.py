"""`qunflow doctor --events-url URL`: each event platform's setup, as far as it can be seen from outside.

For each platform the `events` function has a path for (feishu, slack, telegram, dingtalk; wecom for
wecom-customer groups) whose enabled groups name their chat (`chat_id`: that group wants events), one check:
1. **the keys exist**: each key the receiver needs resolves the way the function resolves it
   (`$QUNFLOW_NAME`, else Secret Manager's `qunflow-NAME` in $QUNFLOW_SECRET_PROJECT). A missing key names the
   command that sets it and where its value comes from; a Secret Manager that refuses names why. Values are
   never shown.
2. **the URL answers the handshake** (with --events-url): the platform's own URL check, made with those keys,
   exactly as the platform makes it (Feishu's encrypted url_verification, within Feishu's 1 s; Slack's signed
   url_verification; DingTalk's encrypted check_url, whose answer must be the encrypted, signed "success";
   WeCom's GET with echostr). Telegram has no URL check: an update of a kind qunflow ignores, with the
   secret token, must get a 2xx.
3. **the URL refuses a forgery**: the same request with a wrong key must get a 4xx, or anyone could post.
Every request is a handshake or an ignored update: nothing is kept in the inbox, nothing is sent to a group.
The checks speak English: they are the engineer's.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets as random_source
import time
from typing import Any, Callable, Mapping

from ..events import dingtalk, feishu, slack, telegram, wecom
from ..events.base import Keys
from ..events.wxcrypt import Crypt, CryptoError, pad

FAIL, OK, WARN, SKIP = "fail", "ok", "warn", "skip"
KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "feishu": ((feishu.ENCRYPT_KEY, "the app's Events and callbacks page, Encrypt Key"),
               (feishu.TOKEN, "the same page, Verification Token")),
    "slack": ((slack.SECRET, "the app's Basic Information, Signing Secret"),),
    "telegram": ((telegram.SECRET, "the secret_token you give setWebhook (1-256 of A-Za-z0-9_-)"),),
    "dingtalk": ((dingtalk.TOKEN, "the app's event subscription, token"),
                 (dingtalk.AES_KEY, "the app's event subscription, aes_key"),
                 (dingtalk.APP_KEY, "the app's ClientID (AppKey)")),
    "wecom": ((wecom.TOKEN, "the app's 接收消息 settings, Token"),
              (wecom.AES_KEY, "the app's 接收消息 settings, EncodingAESKey"),
              (wecom.CORP_ID, "the corp id (企业ID)")),
}
PLATFORM_OF_GROUP = {"feishu": "feishu", "slack": "slack", "telegram": "telegram",
                     "dingtalk": "dingtalk", "wecom-customer": "wecom"}
DEADLINE = {"feishu": 1.0, "slack": 3.0}          # EVENTS.md: the platforms' answer deadlines
TIMEOUT = 10.0
Check = tuple[str, str, str, str]                 # (name, status, detail, fix): doctor makes it a Check


def event_platforms(groups: Any) -> list[str]:
    """The event platforms of the enabled groups that name their chat (`chat_id`: events are wanted), in order."""
    found = {PLATFORM_OF_GROUP.get(g.platform) for g in groups if g.enabled and getattr(g, "chat_id", None)}
    return [p for p in KEYS if p in found]


def event_checks(platforms: list[str], keys: Keys, url: str | None, session: Any = None,
                 clock: Callable[[], float] = time.time) -> list[Check]:
    return [_check(p, keys, url, session, clock) for p in platforms]


def _check(platform: str, keys: Keys, url: str | None, session: Any, clock: Callable[[], float]) -> Check:
    name = f"events: {platform}"
    found, missing, fixes = {}, [], []
    for key, origin in KEYS[platform]:
        try:
            value = keys(key)
        except Exception as err:  # noqa: BLE001 - Secret Manager's refusal, said without the value
            return name, FAIL, f"{key} cannot be read: {err}", "fix the access above, then run doctor again"
        if value:
            found[key] = value
        else:
            missing.append(key)
            fixes.append(f"`qunflow secrets set {key}` ({origin})")
    if missing:
        return name, FAIL, f"not set: {', '.join(missing)}", "; ".join(fixes)
    said = f"{', '.join(found)} set"
    if not url:
        return name, OK, said + "; the URL not checked (add --events-url, from `terraform output -raw events_url`)", ""
    target = url.rstrip("/") + "/" + platform
    try:
        answered, why = PROBES[platform](session or _session(), target, found, clock, honest=True)
        forged, forged_why = PROBES[platform](session or _session(), target, found, clock, honest=False)
    except OSError as err:             # requests' ConnectionError, Timeout ... are OSErrors
        return name, FAIL, f"{said}; {target} does not answer ({type(err).__name__})", \
            "check the URL (terraform output -raw events_url) and that the events function is deployed"
    if not answered:
        return name, FAIL, f"{said}; {target}: {why}", _fix_answer(platform)
    if not forged:
        return name, FAIL, f"{said}; {target} answers, but {forged_why}", \
            "redeploy the events function: it must verify every request"
    return name, OK, f"{said}; {target} {why}, and refuses a forged one", ""


def _fix_answer(platform: str) -> str:
    names = ", ".join(k for k, _ in KEYS[platform])
    return (f"list \"{platform}\" in event_platforms (infra/terraform.tfvars) and `terraform apply`; check that "
            f"{names} hold the values the platform shows")


def _session() -> Any:
    import requests
    return requests.Session()


def _post(session: Any, url: str, body: bytes, headers: dict[str, str], timeout: float, params=None):
    started = time.monotonic()
    reply = session.post(url, data=body, headers={"Content-Type": "application/json", **headers},
                         params=params, timeout=timeout)
    return reply, time.monotonic() - started


def _challenge(reply: Any) -> str:
    try:
        data = json.loads(reply.content)
    except ValueError:
        return ""
    return str(data.get("challenge", "")) if isinstance(data, dict) else ""


def _refused(reply: Any) -> tuple[bool, str]:
    if 400 <= reply.status_code < 500:
        return True, ""
    return False, f"a request with a wrong key got {reply.status_code}, not a refusal"


def _wrong(value: str) -> str:
    return "x" + value[1:] if value[:1] != "x" else "y" + value[1:]


def _feishu_seal(plain: bytes, encrypt_key: str) -> str:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    iv = os.urandom(16)
    key = hashlib.sha256(encrypt_key.encode("utf-8")).digest()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(pad(plain, 16)) + encryptor.finalize()).decode("ascii")


def _url_verification(reply: Any, took: float, challenge: str, platform: str, honest: bool) -> tuple[bool, str]:
    """Feishu's and Slack's URL check answered: the challenge back, within the platform's deadline."""
    if not honest:
        return _refused(reply)
    if reply.status_code != 200 or _challenge(reply) != challenge:
        return False, f"the url_verification got {reply.status_code} without its challenge"
    if took > DEADLINE[platform]:
        return False, (f"the url_verification took {took:.1f} s, more than {platform.capitalize()}'s "
                       f"{DEADLINE[platform]:.0f} s")
    return True, f"answers the url_verification in {took * 1000:.0f} ms"


def _probe_feishu(session, url, found, clock, honest):
    challenge = "doctor-" + random_source.token_hex(8)
    token = found[feishu.TOKEN] if honest else _wrong(found[feishu.TOKEN])
    plain = json.dumps({"type": "url_verification", "challenge": challenge, "token": token}).encode("utf-8")
    body = json.dumps({"encrypt": _feishu_seal(plain, found[feishu.ENCRYPT_KEY])}).encode("utf-8")
    reply, took = _post(session, url, body, {}, TIMEOUT)
    return _url_verification(reply, took, challenge, "feishu", honest)


def _probe_slack(session, url, found, clock, honest):
    challenge = "doctor-" + random_source.token_hex(8)
    body = json.dumps({"token": "unused", "challenge": challenge, "type": "url_verification"}).encode("utf-8")
    secret = found[slack.SECRET] if honest else _wrong(found[slack.SECRET])
    stamp = str(int(clock()))
    headers = {"X-Slack-Request-Timestamp": stamp,
               "X-Slack-Signature": slack.expected_signature(secret, stamp, body)}
    reply, took = _post(session, url, body, headers, TIMEOUT)
    return _url_verification(reply, took, challenge, "slack", honest)


def _probe_telegram(session, url, found, clock, honest):
    token = found[telegram.SECRET] if honest else _wrong(found[telegram.SECRET])
    body = json.dumps({"update_id": 0, "poll_answer": {"poll_id": "doctor"}}).encode("utf-8")
    reply, took = _post(session, url, body, {"X-Telegram-Bot-Api-Secret-Token": token}, TIMEOUT)
    if not honest:
        return _refused(reply)
    if not 200 <= reply.status_code < 300:
        return False, f"an update with the secret token got {reply.status_code}; Telegram would retry it"
    return True, f"accepts an update with the secret token ({took * 1000:.0f} ms)"


def _probe_dingtalk(session, url, found, clock, honest):
    crypt = Crypt(found[dingtalk.TOKEN], found[dingtalk.AES_KEY], found[dingtalk.APP_KEY])
    stamp, nonce = str(int(clock() * 1000)), random_source.token_hex(4)
    encrypted, signature = crypt.seal_message(b'{"EventType":"check_url"}', stamp, nonce)
    if not honest:
        signature = _wrong(signature)
    reply, took = _post(session, url, json.dumps({"encrypt": encrypted}).encode("utf-8"), {}, TIMEOUT,
                        params={"msg_signature": signature, "timestamp": stamp, "nonce": nonce})
    if not honest:
        return _refused(reply)
    try:
        data = json.loads(reply.content)
        said = crypt.open_message(data["msg_signature"], str(data["timeStamp"]), data["nonce"], data["encrypt"])
    except (ValueError, KeyError, TypeError, CryptoError):
        said = b""
    if reply.status_code != 200 or said != b"success":
        return False, f"the check_url got {reply.status_code} without the encrypted \"success\""
    return True, f"answers the check_url in {took * 1000:.0f} ms"


def _probe_wecom(session, url, found, clock, honest):
    crypt = Crypt(found[wecom.TOKEN], found[wecom.AES_KEY], found[wecom.CORP_ID])
    stamp, nonce, echo = str(int(clock())), random_source.token_hex(4), random_source.token_hex(8)
    encrypted, signature = crypt.seal_message(echo.encode("ascii"), stamp, nonce)
    if not honest:
        signature = _wrong(signature)
    started = time.monotonic()
    reply = session.get(url, params={"msg_signature": signature, "timestamp": stamp, "nonce": nonce,
                                     "echostr": encrypted}, timeout=TIMEOUT)
    took = time.monotonic() - started
    if not honest:
        return _refused(reply)
    if reply.status_code != 200 or reply.content != echo.encode("ascii"):
        return False, f"the URL check (echostr) got {reply.status_code} without the echo"
    return True, f"answers the URL check in {took * 1000:.0f} ms"


PROBES = {"feishu": _probe_feishu, "slack": _probe_slack, "telegram": _probe_telegram,
          "dingtalk": _probe_dingtalk, "wecom": _probe_wecom}


def keys_for(env: Mapping[str, str], project: str | None) -> Keys:
    """The keys as the events function finds them, with --project standing in for $QUNFLOW_SECRET_PROJECT."""
    from ..delivery.secrets import SECRET_PROJECT
    from .cloud_secrets import platform_keys
    if project and not env.get(SECRET_PROJECT):
        env = {**env, SECRET_PROJECT: project}
    return platform_keys(env)
