"""WeCom-style message crypto (WXBizMsgCrypt), shared by the WeCom and DingTalk HTTP callbacks. Pure.

The scheme (../shared/WECOM.md, doc 91144; DingTalk's HTTP callback uses the same):
- AES key = base64decode(EncodingAESKey + "="): 43 characters give 32 bytes. AES-256-CBC, IV = key[:16].
- PKCS#7 padding to a multiple of **32** bytes (not AES's 16), checked strictly: a pad byte of 1..32, and every
  pad byte equal to it.
- plaintext = 16 random bytes + msg length (4 bytes, network order) + msg + receiveid (WeCom: the CorpID;
  DingTalk: the app's AppKey / suiteKey / CorpID).
- msg_signature = hex(sha1("".join(sorted([token, timestamp, nonce, encrypt])))), compared in constant time.

`open_message` verifies, then decrypts, then checks the receiveid; `seal_message` is its inverse (DingTalk's
encrypted "success" answer, WeCom's passive replies, and tests). Every failure is a `CryptoError` whose `what`
names the step that failed ("signature", "base64", "padding", "length", "receiveid", "key"); its text never
holds a key, a token or the plaintext.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32                                   # WXBizMsgCrypt pads to 32 bytes, not to the AES block size


class CryptoError(ValueError):
    """A message that does not open. `what`: which check failed (safe to log)."""

    def __init__(self, what: str, message: str) -> None:
        super().__init__(message)
        self.what = what


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key from the 43-character EncodingAESKey."""
    text = (encoding_aes_key or "").strip()
    if len(text) != 43:
        raise CryptoError("key", f"the EncodingAESKey has {len(text)} characters, not 43")
    try:
        key = base64.b64decode(text + "=", validate=True)
    except (binascii.Error, ValueError):
        raise CryptoError("key", "the EncodingAESKey is not base64") from None
    if len(key) != 32:
        raise CryptoError("key", "the EncodingAESKey does not decode to 32 bytes")
    return key


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """msg_signature: hex sha1 over the sorted, concatenated four strings."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode("utf-8")).hexdigest()


def signature_ok(token: str, timestamp: str, nonce: str, encrypt: str, msg_signature: str) -> bool:
    expected = signature(token, timestamp, nonce, encrypt)
    return hmac.compare_digest(expected.encode("ascii"), (msg_signature or "").strip().lower().encode("utf-8"))


def pad(data: bytes, block: int = BLOCK) -> bytes:
    n = block - len(data) % block
    return data + bytes([n]) * n


def unpad(data: bytes, block: int = BLOCK) -> bytes:
    """Strict PKCS#7: the last byte n is 1..block and the last n bytes all equal n."""
    if not data or len(data) % 16:
        raise CryptoError("padding", "the decrypted length is not whole AES blocks")
    n = data[-1]
    if not 1 <= n <= block or n > len(data):
        raise CryptoError("padding", f"bad PKCS#7 pad byte {n}")
    if not hmac.compare_digest(data[-n:], bytes([n]) * n):
        raise CryptoError("padding", "the PKCS#7 pad bytes differ")
    return data[:-n]


def _cipher(key: bytes) -> Cipher:
    return Cipher(algorithms.AES(key), modes.CBC(key[:16]))


def decrypt(encrypt: str, key: bytes, receiveid: str | None) -> bytes:
    """The msg inside `encrypt` (base64). `receiveid` None skips the receiveid check (never do that for a callback)."""
    try:
        raw = base64.b64decode((encrypt or "").strip(), validate=True)
    except (binascii.Error, ValueError):
        raise CryptoError("base64", "the encrypted text is not base64") from None
    if not raw or len(raw) % 16:
        raise CryptoError("length", "the ciphertext is not whole AES blocks")
    decryptor = _cipher(key).decryptor()
    plain = unpad(decryptor.update(raw) + decryptor.finalize())
    if len(plain) < 20:
        raise CryptoError("length", "the plaintext is shorter than its header")
    (size,) = struct.unpack(">I", plain[16:20])
    if 20 + size > len(plain):
        raise CryptoError("length", "the message length runs past the plaintext")
    msg, rest = plain[20:20 + size], plain[20 + size:]
    if receiveid is not None and not hmac.compare_digest(rest, receiveid.encode("utf-8")):
        raise CryptoError("receiveid", "the message is for another receiveid")
    return msg


def encrypt(msg: bytes, key: bytes, receiveid: str, random16: bytes | None = None) -> str:
    """base64 of AES-256-CBC(random16 + len + msg + receiveid), padded to 32. `random16` only for known vectors."""
    random16 = os.urandom(16) if random16 is None else random16
    if len(random16) != 16:
        raise ValueError("random16 must be 16 bytes")
    plain = pad(random16 + struct.pack(">I", len(msg)) + msg + receiveid.encode("utf-8"))
    encryptor = _cipher(key).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")


@dataclass(frozen=True)
class Crypt:
    """One receiver's settings: its token, EncodingAESKey and receiveid."""
    token: str
    encoding_aes_key: str
    receiveid: str

    def open_message(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> bytes:
        """Verify the signature (first), then decrypt and check the receiveid."""
        key = aes_key(self.encoding_aes_key)
        if not signature_ok(self.token, timestamp, nonce, encrypted, msg_signature):
            raise CryptoError("signature", "msg_signature does not match")
        return decrypt(encrypted, key, self.receiveid)

    def seal_message(self, msg: bytes, timestamp: str, nonce: str,
                     random16: bytes | None = None) -> tuple[str, str]:
        """(encrypt, msg_signature) for `msg`."""
        encrypted = encrypt(msg, aes_key(self.encoding_aes_key), self.receiveid, random16)
        return encrypted, signature(self.token, timestamp, nonce, encrypted)
