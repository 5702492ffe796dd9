"""events.wxcrypt: WeCom/DingTalk message crypto, against the known vector in ../shared/WECOM.md and hand-built
ciphertexts (the bad ones are built here with `cryptography` directly, not with the module under test)."""
from __future__ import annotations

import base64
import hashlib
import re
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from qunflow.events.wxcrypt import Crypt, CryptoError, aes_key, decrypt, encrypt, signature, unpad

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
VECTOR = Path("/work/shared/WECOM_VECTOR.xml")
CRYPT = Crypt(TOKEN, AES, CORP)


def raw_encrypt(plain: bytes) -> str:
    """AES-256-CBC with IV = key[:16] over `plain` exactly as given (no padding added)."""
    key = base64.b64decode(AES + "=")
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


def sig(encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([TOKEN, TS, NONCE, encrypted])).encode()).hexdigest()


def body(msg: bytes, receiveid: bytes = CORP.encode()) -> bytes:
    return RANDOM + struct.pack(">I", len(msg)) + msg + receiveid


def test_known_vector_echostr_encrypts_and_opens():
    assert encrypt(b"echo-4242", aes_key(AES), CORP, RANDOM) == ECHO_ENC
    assert signature(TOKEN, TS, NONCE, ECHO_ENC) == ECHO_SIG
    assert CRYPT.seal_message(b"echo-4242", TS, NONCE, RANDOM) == (ECHO_ENC, ECHO_SIG)
    assert CRYPT.open_message(ECHO_SIG, TS, NONCE, ECHO_ENC) == b"echo-4242"
    assert CRYPT.open_message(ECHO_SIG.upper(), TS, NONCE, ECHO_ENC) == b"echo-4242"


@pytest.mark.skipif(not VECTOR.exists(), reason="the handbook's vector file is not on this machine")
def test_known_vector_event_xml():
    text = VECTOR.read_text(encoding="utf-8")
    plain = re.search(r"<plain>(.*)</plain>", text, re.S).group(1).encode()
    encrypted = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>", text).group(1)
    assert sig(encrypted) == XML_SIG
    assert CRYPT.open_message(XML_SIG, TS, NONCE, encrypted) == plain
    assert CRYPT.seal_message(plain, TS, NONCE, RANDOM) == (encrypted, XML_SIG)


def test_wrong_signature_is_refused_before_decrypting():
    for bad in ("0" * 40, ECHO_SIG[:-1] + "b", "", ECHO_SIG + "00"):
        with pytest.raises(CryptoError) as err:
            CRYPT.open_message(bad, TS, NONCE, ECHO_ENC)
        assert err.value.what == "signature"
    with pytest.raises(CryptoError) as err:          # the signature covers the timestamp
        CRYPT.open_message(ECHO_SIG, "1764590401", NONCE, ECHO_ENC)
    assert err.value.what == "signature"
    with pytest.raises(CryptoError) as err:          # another token
        Crypt("OtherToken", AES, CORP).open_message(ECHO_SIG, TS, NONCE, ECHO_ENC)
    assert err.value.what == "signature"


@pytest.mark.parametrize("tail", [
    b"\x00" * 32,                        # pad byte 0
    bytes([33]) * 32,                    # pad byte above the block of 32
    b"\x07" * 31 + b"\x05",              # pad bytes that differ
    b"\x01" * 28 + b"\x02\x03\x04\x05",  # last byte 5, the four before it are not 5
])
def test_bad_padding_is_refused(tail):
    plain = body(b"hello")
    plain = plain + b"x" * (-len(plain) % 32)          # whole blocks, then a wrong 32-byte pad block
    encrypted = raw_encrypt(plain + tail)
    with pytest.raises(CryptoError) as err:
        CRYPT.open_message(sig(encrypted), TS, NONCE, encrypted)
    assert err.value.what == "padding"


def test_a_valid_pkcs7_pad_shorter_than_32_is_accepted():
    # padded to 16 only (n <= 16): still a valid PKCS#7 pad of at most 32, as WeCom's own decryptor accepts
    plain = body(b"hi")
    n = 16 - len(plain) % 16
    encrypted = raw_encrypt(plain + bytes([n]) * n)
    assert CRYPT.open_message(sig(encrypted), TS, NONCE, encrypted) == b"hi"


def test_unpad_strict_cases():
    assert unpad(b"a" * 31 + b"\x01") == b"a" * 31
    assert unpad(bytes([32]) * 32) == b""
    with pytest.raises(CryptoError):
        unpad(b"")
    with pytest.raises(CryptoError):
        unpad(b"a" * 15)


def test_wrong_receiveid_is_refused():
    encrypted = raw_encrypt(_padded(body(b"hello", b"wwSOMEONEELSE")))
    with pytest.raises(CryptoError) as err:
        CRYPT.open_message(sig(encrypted), TS, NONCE, encrypted)
    assert err.value.what == "receiveid"
    encrypted = raw_encrypt(_padded(body(b"hello", CORP.encode() + b"x")))   # a longer one that starts right
    with pytest.raises(CryptoError) as err:
        CRYPT.open_message(sig(encrypted), TS, NONCE, encrypted)
    assert err.value.what == "receiveid"


def _padded(data: bytes) -> bytes:
    n = 32 - len(data) % 32
    return data + bytes([n]) * n


def test_length_running_past_the_plaintext_is_refused():
    plain = RANDOM + struct.pack(">I", 1000) + b"short" + CORP.encode()
    encrypted = raw_encrypt(_padded(plain))
    with pytest.raises(CryptoError) as err:
        CRYPT.open_message(sig(encrypted), TS, NONCE, encrypted)
    assert err.value.what == "length"


def test_not_base64_and_not_whole_blocks():
    for bad, what in (("###", "base64"), (base64.b64encode(b"x" * 17).decode(), "length")):
        with pytest.raises(CryptoError) as err:
            CRYPT.open_message(sig(bad), TS, NONCE, bad)
        assert err.value.what == what


def test_bad_encoding_aes_key():
    for bad in ("", "short", AES + "H", "!" * 43):
        with pytest.raises(CryptoError) as err:
            aes_key(bad)
        assert err.value.what == "key"
        assert bad not in str(err.value) or not bad


def test_round_trip_random_and_unicode():
    msg = "<xml><Content>打卡 ✓</Content></xml>".encode()
    a, sa = CRYPT.seal_message(msg, TS, NONCE)
    b, _ = CRYPT.seal_message(msg, TS, NONCE)
    assert a != b                                      # 16 fresh random bytes each time
    assert CRYPT.open_message(sa, TS, NONCE, a) == msg
    assert decrypt(a, aes_key(AES), None) == msg
    for size in range(0, 70):                          # every padding length, 1..32
        enc, s = CRYPT.seal_message(b"m" * size, TS, NONCE)
        assert len(base64.b64decode(enc)) % 32 == 0
        assert CRYPT.open_message(s, TS, NONCE, enc) == b"m" * size


def test_errors_never_carry_secrets():
    encrypted = raw_encrypt(_padded(body(b"secret-plaintext", b"wwOTHER")))
    with pytest.raises(CryptoError) as err:
        CRYPT.open_message(sig(encrypted), TS, NONCE, encrypted)
    for secret in (TOKEN, AES, "secret-plaintext", CORP):
        assert secret not in str(err.value)


def test_a_pad_byte_above_32_is_refused_even_when_the_bytes_agree():
    encrypted = raw_encrypt(b"!" * 64)                  # ends in 64 bytes of 33: consistent, but 33 > 32
    with pytest.raises(CryptoError) as err:
        CRYPT.open_message(sig(encrypted), TS, NONCE, encrypted)
    assert err.value.what == "padding"
