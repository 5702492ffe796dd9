"""The demo's posters (#21): drawn with Pillow at demo time and served on 127.0.0.1 while the demo runs, so the
tick fetches them as it would a shop's image host (its ImageFetcher allows http to 127.0.0.1 in the demo only).

- The weekly-course group (G03, on Feishu) posts its Monday preview poster: rule K01 becomes an image row. The
  demo's Settings name an emulated Feishu app (`feishu_app`), which uploads the poster once for an image_key, so
  it goes as a native image, its caption after it.
- The flash group (G02, on DingTalk) posts its sale poster with the day-1 preheat: a markdown image, which the
  transcript shows as the picture itself.
"""
from __future__ import annotations

import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FEISHU_APP_ID = "cli_demo0wardrobe0001"
FEISHU_SECRET_ENV = "QUNFLOW_DEMO_FEISHU_APP_SECRET"
# checkov:skip=CKV_SECRET_6: a made-up App Secret the demo's local emulator checks, not a real credential
FEISHU_APP_SECRET = "demo-feishu-app-secret-wardrobe-01"
COURSE = "📢 本周三晚 8 点穿搭课预告：冬季叠穿。先收藏，周三见！"
SALE = "双十二快闪 · 冬季大衣老客价 399，海报先睹为快 👇"


def draw(title: str, subtitle: str, colors: tuple[tuple[int, int, int], tuple[int, int, int]],
         size: tuple[int, int] = (600, 800)) -> bytes:
    """A plain poster: two colour bands, a frame and two lines of Latin text (Pillow's built-in font)."""
    from PIL import Image, ImageDraw, ImageFont
    width, height = size
    picture = Image.new("RGB", size, colors[0])
    pen = ImageDraw.Draw(picture)
    pen.rectangle((0, height * 2 // 3, width, height), fill=colors[1])
    pen.rectangle((20, 20, width - 20, height - 20), outline=(255, 255, 255), width=6)
    font = ImageFont.load_default(size=44)
    small = ImageFont.load_default(size=28)
    pen.text((width // 2, height // 3), title, fill=(255, 255, 255), font=font, anchor="mm")
    pen.text((width // 2, height * 5 // 6), subtitle, fill=(255, 255, 255), font=small, anchor="mm")
    buffer = io.BytesIO()
    picture.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


POSTERS = {
    "/posters/course.png": lambda: draw("WINTER LAYERING", "Wed 20:00 · live class", ((96, 72, 160), (236, 112, 99))),
    "/posters/sale.png": lambda: draw("12.12 FLASH SALE", "coats 899 -> 399", ((200, 40, 60), (40, 40, 40))),
}


class ImageHost:
    """A small HTTP server on 127.0.0.1: path -> (status, content type, body), anything else 404; `hits` counts
    the requests per path. The demo's posters live on one, and tests serve their images from one."""

    def __init__(self, files: dict[str, tuple[int, str, bytes]]):
        self.files, self.hits = files, {}
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                host.hits[self.path] = host.hits.get(self.path, 0) + 1
                status, ctype, body = host.files.get(self.path, (404, "text/plain", b"not found"))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def url(self, path: str) -> str:
        return self.base + path

    def save(self, folder) -> None:
        """Write the files it serves under `folder` (paths as served), so a page saved there can show them."""
        from pathlib import Path
        for path, (status, _, body) in self.files.items():
            if status == 200:
                target = Path(folder) / path.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(body)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def poster_host() -> ImageHost:
    """The demo's posters, drawn now, on 127.0.0.1."""
    return ImageHost({path: (200, "image/png", make()) for path, make in POSTERS.items()})


def with_posters(sop: list[dict], host: ImageHost) -> list[dict]:
    """The demo's SOP rows with its two posters: K01 an image row, and F02 the flash group's sale poster."""
    rows = [dict(r, msg_type="image", content=f"{host.url('/posters/course.png')}\n{COURSE}")
            if r["rule_id"] == "K01" else r for r in sop]
    preheat = next(r for r in rows if r["rule_id"] == "F01")
    rows.insert(rows.index(preheat) + 1, dict(preheat, rule_id="F02", msg_type="image",
                                              content=f"{host.url('/posters/sale.png')}\n{SALE}"))
    return rows


def feishu_app(emulator, env: dict) -> list[dict]:
    """The demo's Feishu app: registered with the emulator's open API, its secret in the demo's environment; the
    Settings rows that name it (the secret as a reference)."""
    emulator.feishu_api.add_app(FEISHU_APP_ID, FEISHU_APP_SECRET)
    env[FEISHU_SECRET_ENV] = FEISHU_APP_SECRET
    return [{"key": "feishu_app_id", "value": FEISHU_APP_ID},
            {"key": "feishu_app_secret", "value": f"env:{FEISHU_SECRET_ENV}"}]
