"""Images as the platforms see them: the format from the bytes, and what a transcript shows (a small thumbnail).

A platform that takes an image by URL fetches it itself (Telegram's sendPhoto, Slack's image block). The emulator
does the same only for addresses on this machine (127.0.0.1 or localhost: the tests' and the demo's image
servers); any other address is recorded unfetched, with a warning, and nothing leaves the machine.
Pillow, when installed, reads the size and makes the thumbnail; without it the record says the format and bytes.
"""
from __future__ import annotations

import base64
import hashlib
import io
import urllib.error
import urllib.request
from urllib.parse import urlsplit

LOCAL_HOSTS = ("127.0.0.1", "localhost")
THUMB = 160          # the thumbnail's longest side, in pixels
FETCH_MAX = 20 * 1024 * 1024


def sniff(raw: bytes) -> str | None:
    if raw.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if raw.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if raw[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if len(raw) >= 12 and raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return "webp"
    return None


def fetch_local(url: str, limit: int = FETCH_MAX) -> tuple[bytes | None, str]:
    """(the bytes at `url`, "") when it is on this machine and answers 200; (None, why) otherwise. `why` is
    "remote" for an address the emulator does not fetch."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None, "invalid"
    if parts.scheme not in ("http", "https") or (parts.hostname or "") not in LOCAL_HOSTS:
        return None, "remote"
    try:
        with urllib.request.urlopen(url, timeout=3) as reply:  # noqa: S310 - loopback only, checked above
            data = reply.read(limit + 1)
    except urllib.error.HTTPError as exc:
        return None, f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return None, type(exc).__name__
    if len(data) > limit:
        return None, "too large"
    return data, ""


def describe(raw: bytes, url: str = "") -> dict:
    """What the transcript records about an image: format, bytes, md5, and (with Pillow) size and a thumbnail."""
    info = {"format": sniff(raw) or "unknown", "bytes": len(raw), "md5": hashlib.md5(raw).hexdigest()}
    if url:
        info["url"] = url
    try:
        from PIL import Image
        with Image.open(io.BytesIO(raw)) as picture:
            info["width"], info["height"] = picture.size
            picture.seek(0)
            small = picture.convert("RGB")
            small.thumbnail((THUMB, THUMB))
            buffer = io.BytesIO()
            small.save(buffer, "JPEG", quality=70)
        info["thumb"] = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    except Exception:  # noqa: BLE001 - no Pillow, or bytes it cannot read: the record says what it can
        pass
    return info


def unfetched(url: str) -> dict:
    return {"format": "unknown", "url": url}


NOT_IMAGE = "the address does not lead to an image"
REMOTE_WARNING = "the emulator does not fetch images from other machines: not checked that it is a picture"


def by_url(url: str, formats: tuple[str, ...] = ("jpg", "png", "gif", "webp"),
           limit: int = FETCH_MAX) -> tuple[dict | None, str]:
    """The image a platform would fetch from `url`: (its record, "") when it is a picture in `formats`;
    (a record, REMOTE_WARNING) for an address not on this machine; (None, why) when it is not a picture."""
    raw, why = fetch_local(url, limit)
    if why == "remote":
        return unfetched(url), REMOTE_WARNING
    if raw is None:
        return None, f"downloading the image failed ({why})"
    if sniff(raw) not in formats:
        return None, NOT_IMAGE
    return describe(raw, url), ""


def shown(url: str | None, warnings: list[str], what: str) -> dict:
    """`extra` for a message whose platform shows the picture at `url` and accepts it whatever it is (DingTalk
    markdown, Discord embeds): the image's record, and a warning when it would not show."""
    if not isinstance(url, str) or not url.strip():
        return {}
    info, why = by_url(url.strip())
    if why:
        warnings.append(f"{what}: {why}" if info is None else why)
    return {"image": info or unfetched(url.strip())}


def linked(url) -> dict:
    """`extra` for a plain link that leads to a picture (a Feishu post without an image_key): members see a link,
    so the record has no thumbnail, only what the link leads to."""
    if not isinstance(url, str):
        return {}
    info, why = by_url(url.strip())
    if info is None or why:
        return {}
    return {"image": {**{k: v for k, v in info.items() if k != "thumb"}, "link": True}}
