"""events/wecom.py through the route: the URL check and change_external_chat, with the known vector of
../shared/WECOM.md, and the refusals (signature, padding, receiveid, DTDs). Bad ciphertexts are built here with
`cryptography` directly, not with the module under test."""
from __future__ import annotations

import base64
import hashlib
import re
import struct
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from qunflow.events.base import Inbound
from qunflow.events.route import receive
from qunflow.events.wecom import hint_id, parse_xml

# checkov:skip=CKV_SECRET_6: a made-up test key or a published test vector for the emulator, not a real secret
TOKEN = "QunflowToken1"
AES = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
CORP = "ww1234567890abcdef"
TS, NONCE = "1764590400", "1372623149"
RANDOM = b"0123456789abcdef"
# checkov:skip=CKV_SECRET_6: a made-up test key or a published test vector for the emulator, not a real secret
ECHO_ENC = "Q3stYC6hdFzMh9T8HCvyDAONkKNN/4m6yqKdl3PuX2Q8jIgyWGAmEU4EE32tVqtB5xeiTMhJAluLvv/UBfC5xg=="
ECHO_SIG = "904fda282e6374492810214b5bc9738cd4ceaaaa"
XML_SIG = "038e9448082ace94822f579b777a3d8900341364"
VECTOR = Path("/work/shared/WECOM_VECTOR.xml").read_text(encoding="utf-8")
POST_BODY = re.search(r"<body>(.*)</body>", VECTOR, re.S).group(1).encode()
CHAT = "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA"
NOW = float(TS) + 3
KEYS = {"WECOM_TOKEN": TOKEN, "WECOM_AES_KEY": AES, "WECOM_CORP_ID": CORP}


def keys(overrides=None):
    table = {**KEYS, **(overrides or {})}
    return lambda name: table.get(name)


def get(query, k=None, now=NOW):
    return receive(Inbound("GET", "/wecom", {}, query, b""), k or keys(), now)


def post(body, signature, k=None, now=NOW, ts=TS):
    query = {"msg_signature": signature, "timestamp": ts, "nonce": NONCE}
    return receive(Inbound("POST", "/wecom/", {"content-type": "text/xml"}, query, body), k or keys(), now)


def raw_encrypt(plain: bytes) -> str:
    key = base64.b64decode(AES + "=")
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


def sig(encrypted: str, ts: str = TS) -> str:
    return hashlib.sha1("".join(sorted([TOKEN, ts, NONCE, encrypted])).encode()).hexdigest()


def padded(msg: bytes, receiveid: bytes = CORP.encode()) -> bytes:
    plain = RANDOM + struct.pack(">I", len(msg)) + msg + receiveid
    n = 32 - len(plain) % 32
    return plain + bytes([n]) * n


def envelope(encrypted: str) -> bytes:
    return (f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            "<AgentID><![CDATA[]]></AgentID></xml>").encode()


def test_the_url_check_answers_the_known_echostr_plaintext_and_nothing_else():
    answer = get({"msg_signature": ECHO_SIG, "timestamp": TS, "nonce": NONCE, "echostr": ECHO_ENC})
    assert answer.status == 200 and answer.body == b"echo-4242"
    assert answer.content_type.startswith("text/plain") and not answer.events and not answer.hints
    assert answer.reason.startswith("handshake:")


def test_the_url_check_refuses_a_wrong_signature_and_missing_keys():
    bad = get({"msg_signature": "0" * 40, "timestamp": TS, "nonce": NONCE, "echostr": ECHO_ENC})
    assert bad.status == 401 and b"echo-4242" not in bad.body and "msg_signature" in bad.reason
    none = get({"msg_signature": ECHO_SIG, "timestamp": TS, "nonce": NONCE, "echostr": ECHO_ENC},
               k=keys({"WECOM_AES_KEY": None}))
    assert none.status == 401 and "WECOM_AES_KEY is not configured" in none.reason


def test_the_known_change_external_chat_is_a_hint_for_its_chat_with_an_empty_200():
    answer = post(POST_BODY, XML_SIG)
    assert answer.status == 200 and answer.body == b""
    assert answer.hints == [CHAT] and answer.events == []
    assert "wecom:sys:1764590400:" + CHAT in answer.reason
    again = post(POST_BODY, XML_SIG, now=NOW + 10)                 # WeCom's retry 5 s later: the same hint
    assert again.hints == [CHAT]


def test_a_wrong_signature_refuses_before_decrypting():
    answer = post(POST_BODY, XML_SIG[:-1] + ("0" if XML_SIG[-1] != "0" else "1"))
    assert answer.status == 401 and answer.hints == [] and "msg_signature does not match" in answer.reason


def test_bad_padding_is_refused():
    plain = padded(b"<xml><MsgType>event</MsgType></xml>")
    broken = plain[:-2] + bytes([plain[-1] ^ 1, plain[-1]])      # the pad bytes differ
    encrypted = raw_encrypt(broken)
    answer = post(envelope(encrypted), sig(encrypted))
    assert answer.status == 401 and "padding" in answer.reason and answer.hints == []
    over = plain[:-1] + bytes([33])                               # a pad byte above the 32-byte block
    encrypted = raw_encrypt(over)
    assert post(envelope(encrypted), sig(encrypted)).status == 401


def test_a_message_for_another_corp_is_refused():
    msg = b"<xml><MsgType>event</MsgType><Event>change_external_chat</Event><ChatId>wrX</ChatId></xml>"
    encrypted = raw_encrypt(padded(msg, b"wwSOMEBODYELSE0000"))
    answer = post(envelope(encrypted), sig(encrypted))
    assert answer.status == 401 and "receiveid" in answer.reason and answer.hints == []


def test_a_good_message_built_here_gives_its_hint_and_a_stale_one_is_refused():
    msg = (b"<xml><ToUserName>ww</ToUserName><FromUserName>sys</FromUserName><CreateTime>1764590401</CreateTime>"
           b"<MsgType>event</MsgType><Event>change_external_chat</Event><ChatId>wrB</ChatId>"
           b"<ChangeType>update</ChangeType><UpdateDetail>del_member</UpdateDetail><QuitScene>0</QuitScene></xml>")
    encrypted = raw_encrypt(padded(msg))
    assert post(envelope(encrypted), sig(encrypted)).hints == ["wrB"]
    late = post(envelope(encrypted), sig(encrypted), now=NOW + 3600)
    assert late.status == 401 and "stale" in late.reason


def test_other_events_are_ignored_and_a_dtd_is_refused_unparsed():
    msg = b"<xml><MsgType>event</MsgType><Event>change_external_contact</Event></xml>"
    encrypted = raw_encrypt(padded(msg))
    ignored = post(envelope(encrypted), sig(encrypted))
    assert ignored.status == 200 and ignored.reason.startswith("ignored:") and not ignored.hints
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            b"<xml><Encrypt>&b;</Encrypt></xml>")
    answer = post(bomb, sig("aaaa"))
    assert answer.status == 400 and "DTD" in answer.reason
    inner = b'<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><MsgType>&e;</MsgType></xml>'
    encrypted = raw_encrypt(padded(inner))
    poisoned = post(envelope(encrypted), sig(encrypted))
    assert poisoned.status == 200 and poisoned.reason.startswith("poison:") and not poisoned.hints


def test_parse_xml_reads_cdata_and_hint_id_is_from_and_create_time():
    event = parse_xml(re.search(r"<plain>(.*)</plain>", VECTOR, re.S).group(1))
    assert event["ChatId"] == CHAT and event["FromUserName"] == "sys" and event["JoinScene"] == "3"
    assert hint_id(event) == f"wecom:sys:1764590400:{CHAT}:update:add_member"


def test_the_route_takes_get_and_post_at_wecom_only():
    assert receive(Inbound("PUT", "/wecom", {}, {}, b""), keys(), NOW).status == 405
