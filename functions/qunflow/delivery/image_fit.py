"""An image made to fit what a platform takes: WeCom's robot takes jpg or png of at most 2 MB, so a larger poster,
or a gif or webp one, is converted and downscaled with Pillow (PLATFORMS.md).

- An image that already fits goes as it is, byte for byte (its md5 is the md5 of what was fetched).
- Otherwise: png when the picture has transparency (jpg has none), else jpg; each try halves the excess by
  scaling both sides down, and jpg steps its quality down, until the bytes fit or MAX_TRIES say it cannot.
- An animated gif or webp keeps its first frame. A picture of more than MAX_PIXELS pixels is refused before it
  is decoded (a small file can unpack to gigabytes).
"""
from __future__ import annotations

import io
import math

MAX_PIXELS = 40_000_000          # about 6300 x 6300: more than any poster needs
MAX_TRIES = 8
QUALITIES = (88, 82, 76, 70, 64)


class ImageUnfit(Exception):
    """The image cannot be made to fit; `reason` says why in plain words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def magic_format(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    return None


def fit(data: bytes, max_bytes: int, formats: tuple[str, ...] = ("png", "jpeg")) -> bytes:
    """`data` itself when it is in `formats` and at most `max_bytes`; else the picture re-encoded (png or jpg)
    and scaled down until it is. ImageUnfit when Pillow cannot read it or it cannot be made small enough."""
    if magic_format(data) in formats and len(data) <= max_bytes:
        return data
    picture = _open(data)
    alpha = _has_alpha(picture)
    width, height = picture.size
    scale, quality = 1.0, 0
    best = len(data)
    for _ in range(MAX_TRIES):
        size = (max(1, int(width * scale)), max(1, int(height * scale)))
        frame = picture if size == picture.size else picture.resize(size, _lanczos())
        out = _encode(frame, "png" if alpha and "png" in formats else "jpeg", QUALITIES[min(quality, len(QUALITIES) - 1)])
        if len(out) <= max_bytes:
            return out
        best = len(out)
        scale *= max(0.3, min(0.9, math.sqrt(max_bytes / best) * 0.95))
        quality += 1
    amount = f"{max_bytes // (1024 * 1024)} MB" if max_bytes >= 1024 * 1024 else f"{max_bytes} bytes"
    raise ImageUnfit(f"the image could not be made smaller than {amount} (the last try was {best} bytes)")


def _open(data: bytes):
    from PIL import Image
    try:
        picture = Image.open(io.BytesIO(data))
        if picture.width * picture.height > MAX_PIXELS:
            raise ImageUnfit(f"the image is {picture.width} x {picture.height} pixels, more than "
                             f"{MAX_PIXELS // 1_000_000} million: make it smaller")
        picture.seek(0)               # the first frame of an animation
        picture.load()
    except ImageUnfit:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for a broken file
        raise ImageUnfit(f"the image could not be read ({type(exc).__name__})") from None
    if picture.mode not in ("RGB", "RGBA", "L", "LA"):
        picture = picture.convert("RGBA" if _has_alpha(picture) else "RGB")
    return picture


def _has_alpha(picture) -> bool:
    return picture.mode in ("RGBA", "LA", "PA") or (picture.mode == "P" and "transparency" in picture.info)


def _lanczos():
    from PIL import Image
    return Image.Resampling.LANCZOS


def _encode(picture, fmt: str, quality: int) -> bytes:
    from PIL import Image
    buffer = io.BytesIO()
    if fmt == "png":
        picture.save(buffer, "PNG", optimize=True)
        return buffer.getvalue()
    if picture.mode in ("RGBA", "LA"):         # jpg has no transparency: on white, as a chat shows it
        ground = Image.new("RGB", picture.size, (255, 255, 255))
        ground.paste(picture, mask=picture.getchannel("A"))
        picture = ground
    elif picture.mode != "RGB" and picture.mode != "L":
        picture = picture.convert("RGB")
    picture.save(buffer, "JPEG", quality=quality, optimize=True, progressive=True)
    return buffer.getvalue()
