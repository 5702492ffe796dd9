"""WeCom customer-group (客户群) callback receiver: the GET echostr check, and `change_external_chat` as hints.

    receive(request: Inbound, keys: Keys, now: float) -> Answer

Needs WECOM_TOKEN, WECOM_AES_KEY (the 43-character EncodingAESKey) and WECOM_CORP_ID (the receiveid of a
self-built app's callback). The crypto is `wxcrypt` (../shared/WECOM.md, doc 91144): the signature first, in
constant time, then AES-256-CBC, strict PKCS#7 of 32, and the receiveid.

- **GET** `?msg_signature&timestamp&nonce&echostr` (the URL check): verify over the echostr, decrypt it, and
  answer its plaintext as the whole body (text/plain, no quotes, BOM or newline). Nothing is kept. Pure and
  quick: well inside WeCom's 1 s.
- **POST** `?msg_signature&timestamp&nonce` with `<xml><ToUserName/><Encrypt/><AgentID/></xml>`: verify over
  Encrypt, check the timestamp is within 5 minutes, decrypt, parse the inner XML. `change_external_chat` is a
  **hint**, never a membership fact: WeCom's callbacks may be lost or come out of order, so the answer carries
  `hints=[ChatId]` and no events; the sync (jobs/wecom_sync.py) reads groupchat/get and is the truth. WeCom's
  retries of one callback give the same hint (`hint_id`: FromUserName + CreateTime, plus the chat and the
  change, because FromUserName is "sys" for every customer-change callback); hints are kept by chat, so a
  retry is absorbed. Other events (a 1:1 contact change, a message) are `ignored`. The answer is an empty 200,
  which stops WeCom's retries.

XML: WeCom's bodies never carry a DTD, so any `<!DOCTYPE` / `<!ENTITY` (or a processing instruction other than
the XML declaration) is refused before parsing: no entity is ever expanded, internal or external. What is
left is parsed by xml.etree (expat), which resolves no external resource. The body's size is capped by the route.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from .answers import ignored, missing_key, poison, refused, stale, text_of
from .base import Answer, Inbound, Keys
from .wxcrypt import Crypt, CryptoError

PLATFORM = "wecom"
TOKEN, AES_KEY, CORP_ID = "WECOM_TOKEN", "WECOM_AES_KEY", "WECOM_CORP_ID"
DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST)|<\?(?!xml[\s?])", re.IGNORECASE)


class BadXml(ValueError):
    pass


def parse_xml(raw: bytes | str) -> dict[str, str]:
    """The child elements of WeCom's flat `<xml>` as {tag: text}. Refuses DTDs and entities (BadXml)."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    if DTD.search(data):
        raise BadXml("a DTD or entity declaration (WeCom sends none)")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as err:
        raise BadXml(f"not XML ({str(err)[:60]})") from None
    out: dict[str, str] = {}
    for child in root:
        if len(child):
            out[child.tag] = ET.tostring(child, encoding="unicode")   # MemChangeList keeps its items as XML
        else:
            out[child.tag] = (child.text or "").strip()
    return out


def hint_id(event: dict[str, str]) -> str:
    """The dedup key of one callback: FromUserName + CreateTime (WECOM.md), with the chat and the change."""
    parts = [event.get(k, "") for k in ("FromUserName", "CreateTime", "ChatId", "ChangeType", "UpdateDetail")]
    return f"{PLATFORM}:" + ":".join(p.replace(":", "_") for p in parts)


def _crypt(keys: Keys) -> tuple[Crypt | None, str]:
    found, absent = missing_key(keys, TOKEN, AES_KEY, CORP_ID)
    if absent:
        return None, absent
    return Crypt(found[TOKEN], found[AES_KEY], found[CORP_ID]), ""


def _open(crypt: Crypt, request: Inbound, encrypted: str) -> tuple[bytes | None, str]:
    q = request.query
    given = text_of(q.get("msg_signature"))
    if not given:
        return None, "the msg_signature parameter is missing"
    try:
        return crypt.open_message(given, text_of(q.get("timestamp")), text_of(q.get("nonce")), encrypted), ""
    except CryptoError as err:
        if err.what == "signature":
            return None, "msg_signature does not match"
        if err.what == "key":
            return None, f"WECOM_AES_KEY is not a 43-character EncodingAESKey ({err})"
        if err.what == "receiveid":
            return None, "the message is for another corp (receiveid is not WECOM_CORP_ID)"
        return None, f"could not decrypt ({err.what}): is WECOM_AES_KEY right?"


def receive(request: Inbound, keys: Keys, now: float) -> Answer:
    crypt, absent = _crypt(keys)
    if crypt is None:
        return refused(absent)
    if request.method.upper() == "GET":
        echostr = text_of(request.query.get("echostr"))
        if not echostr:
            return refused("the echostr parameter is missing")
        plain, why = _open(crypt, request, echostr)
        if plain is None:
            return refused(why)
        return Answer(status=200, body=plain, content_type="text/plain; charset=utf-8",
                      reason="handshake: wecom echostr")
    try:
        outer = parse_xml(request.body)
    except BadXml as err:
        return refused(f"the body cannot be verified: {err}", status=400)
    encrypted = outer.get("Encrypt", "")
    if not encrypted:
        return refused("the body has no Encrypt to verify")
    plain, why = _open(crypt, request, encrypted)
    if plain is None:
        return refused(why)
    late = stale(text_of(request.query.get("timestamp")), now, "timestamp")
    if late:
        return refused(late)
    try:
        event = parse_xml(plain)
    except BadXml as err:
        return poison(f"the decrypted event: {err}", body=b"")
    kind = event.get("Event", "")
    if event.get("MsgType") != "event" or kind != "change_external_chat":
        return ignored(f"wecom {event.get('MsgType', '')[:20]} {kind[:40]}".rstrip(), body=b"")
    chat = event.get("ChatId", "")
    if not chat:
        return poison("change_external_chat without a ChatId", body=b"")
    change = "/".join(p for p in (event.get("ChangeType", ""), event.get("UpdateDetail", "")) if p)
    return Answer(status=200, body=b"", content_type="text/plain; charset=utf-8", hints=[chat],
                  reason=f"hint: {hint_id(event)[:160]} ({change[:40]})")
