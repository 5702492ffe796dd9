"""Posters (#21): an SOP row with msg_type image, delivered by the tick through the real emulator over HTTP, the
image served by a small HTTP server on 127.0.0.1 and fetched by the tick's ImageFetcher (allow_loopback_http)."""
from __future__ import annotations

import base64
import copy
import hashlib
import io
import os
import random
from datetime import datetime, timezone

import pytest
import requests
from PIL import Image

from helpers import make_raw
from qunflow.clock import VirtualClock
from qunflow.delivery.fetch import ImageFetcher
from qunflow.delivery.secrets import SecretResolver
from qunflow.emulator import Bot, Emulator
from qunflow.jobs.demo_poster import ImageHost
from qunflow.jobs.tick import TickDeps, run_tick
from qunflow.sheet.load import load_workbook
from qunflow.stores.memory import MemoryStore

UTC = timezone.utc
SIX = [
    ("wecom", Bot("wecom", "wecom-key-img-0000000000000001")),
    # checkov:skip=CKV_SECRET_6: a made-up signing secret the local emulator checks
    ("dingtalk", Bot("dingtalk", "ding-token-img-000000000000001", secret="SEC-ding-img-0000000000000001")),
    # checkov:skip=CKV_SECRET_6: a made-up signing secret the local emulator checks
    ("feishu", Bot("feishu", "feishu-hook-img-000000000001", secret="feishu-sign-img-000000000001")),
    ("slack", Bot("slack", "T0IMG0001/B0IMG0001/XIMG00000000000000000001")),
    ("discord", Bot("discord", "112233445566778800/img-webhook-token-0001")),
    ("telegram", Bot("telegram", "123456:IMG-token_00000000001")),
]


def at(text: str) -> datetime:  # Asia/Shanghai wall time → UTC
    return datetime.fromisoformat(text + "+08:00").astimezone(UTC)


def png(width: int, height: int, noise: bool = False) -> bytes:
    if noise:   # random pixels do not compress: a big file
        picture = Image.frombytes("RGB", (width, height), random.Random(7).randbytes(width * height * 3))
    else:
        picture = Image.new("RGB", (width, height), (220, 60, 40))
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()


POSTER = png(320, 200)


class Shop:
    """Six groups, one per platform, and the image host; `run(sop)` is one tick at 10:00 with those SOP rows."""

    def __init__(self, files: dict, lang: str = "en"):
        self.clock = VirtualClock(at("2026-12-01 09:55"))
        self.emulator = Emulator([b for _, b in SIX], clock=self.clock)
        self.emulator.start()
        self.files = ImageHost(files)
        self.lang = lang
        self.env, self.groups = {}, []
        for i, (platform, bot) in enumerate(SIX, start=1):
            self.env[f"QUNFLOW_HOOK_P{i}"] = self.emulator.webhook_url(bot) + (
                "?chat_id=-100200300" if platform == "telegram" else "")
            group = {"group_id": f"P{i}", "name": f"Course {platform}", "platform": platform,
                     "webhook": f"env:QUNFLOW_HOOK_P{i}", "kind": "traffic"}
            if bot.secret:
                self.env[f"QUNFLOW_SIGN_P{i}"] = bot.secret
                group["secret"] = f"env:QUNFLOW_SIGN_P{i}"
            self.groups.append(group)
        self.fetchers: list[ImageFetcher] = []

    def fetcher(self) -> ImageFetcher:
        made = ImageFetcher(allow_loopback_http=True)
        self.fetchers.append(made)
        return made

    def run(self, sop: list[dict], members: list[dict] = ()):
        rows = {"settings": [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": self.lang}],
                "groups": self.groups, "members": list(members), "sop": sop}
        self.store = MemoryStore(make_raw(copy.deepcopy(rows), lang=self.lang))
        deps = TickDeps(session=requests.Session(), clock=self.clock, sleep=self.clock.sleep, rng=random.Random(1),
                        resolver=SecretResolver(env=self.env), fetcher=self.fetcher)
        self.clock.set(at("2026-12-01 10:00"))
        return run_tick(self.store, self.clock.now(), deps)

    def workbook(self):
        return load_workbook(self.store.raw)

    def close(self):
        self.emulator.stop()
        self.files.close()


@pytest.fixture
def shop():
    made = []

    def make(files: dict, lang: str = "en") -> Shop:
        made.append(Shop(files, lang))
        return made[-1]

    yield make
    for s in made:
        s.close()


def poster_rule(url: str, rule_id: str = "P01", groups: str = "*", caption: str = "本周课程预告：周一晚 8 点") -> dict:
    return {"rule_id": rule_id, "groups": groups, "schedule": "daily 10:00", "msg_type": "image",
            "content": f"{url}\n{caption}" if caption else url}


def by_platform(emulator: Emulator) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for m in emulator.messages:
        out.setdefault(m["platform"], []).append(m)
    return out


def test_a_poster_reaches_every_platform_as_a_real_image(shop):
    s = shop({"/poster.png": (200, "image/png", POSTER)})
    report = s.run([poster_rule(s.files.base + "/poster.png")])
    assert (report.sent, report.failed) == (6, 0), s.workbook().sendlog
    got = by_platform(s.emulator)
    wecom = got["wecom"]
    assert [m["msgtype"] for m in wecom] == ["image", "text"]           # the caption follows the picture
    assert wecom[0]["image"]["md5"] == hashlib.md5(POSTER).hexdigest() and wecom[0]["image"]["format"] == "png"
    assert wecom[0]["image"]["thumb"].startswith("data:image/jpeg;base64,")
    assert wecom[1]["text"] == "本周课程预告：周一晚 8 点"
    telegram = got["telegram"]
    assert [m["msgtype"] for m in telegram] == ["photo"]
    assert telegram[0]["text"] == "本周课程预告：周一晚 8 点"              # the caption, on the photo itself
    assert telegram[0]["image"]["width"] == 320 and telegram[0]["payload"]["photo"].endswith("/poster.png")
    slack = got["slack"][0]
    assert any(b["type"] == "image" for b in slack["payload"]["blocks"]) and slack["image"]["format"] == "png"
    discord = got["discord"][0]
    assert discord["payload"]["embeds"][0]["image"]["url"].endswith("/poster.png") and discord["image"]["bytes"] == len(POSTER)
    dingtalk = got["dingtalk"][0]
    assert dingtalk["msgtype"] == "markdown" and "![" in dingtalk["payload"]["markdown"]["text"]
    assert dingtalk["image"]["format"] == "png" and not dingtalk["warnings"]
    feishu = got["feishu"][0]
    assert feishu["msgtype"] == "post" and "本周课程预告" in feishu["text"]
    link = feishu["payload"]["content"]["post"]["zh_cn"]["content"][-1][0]
    assert link["tag"] == "a" and link["href"].endswith("/poster.png")
    # one download for the whole tick: WeCom fetched through the tick's fetcher once; the platforms that take a URL
    # fetched it themselves (the emulator, as Telegram, Slack, DingTalk and Discord would)
    assert len(s.fetchers) == 1 and s.fetchers[0].downloads == 1
    statuses = {r.group_id: r.status for r in s.workbook().sendlog}
    assert set(statuses.values()) == {"sent"}


def test_feishu_without_app_credentials_warns_once_at_its_groups_row(shop):
    s = shop({"/poster.png": (200, "image/png", POSTER), "/b.png": (200, "image/png", POSTER)})
    s.run([poster_rule(s.files.base + "/poster.png"), poster_rule(s.files.base + "/b.png", "P02", "P3")])
    feishu = [p for p in _problems(s) if "image_key" in p["message"]]
    assert len(feishu) == 1 and feishu[0]["tab"] == "Groups" and feishu[0]["row"] == 4   # P3, two images
    assert "App ID" in feishu[0]["message"] and feishu[0]["severity"] == "warning"


def _problems(s: Shop) -> list[dict]:
    """The Problems tab as dicts (header -> value)."""
    wb = s.workbook()
    rows = s.store.raw[wb.tables["problems"].title]
    english = make_raw({})["Problems"][0]       # the same columns in the same order, headed in English
    assert len(rows[0]) == len(english)
    return [dict(zip(english, row)) for row in rows[1:]]


def test_a_poster_too_large_for_wecom_is_downscaled_and_still_accepted(shop):
    big = png(1200, 1200, noise=True)
    assert len(big) > 2 * 1024 * 1024
    s = shop({"/big.png": (200, "image/png", big)})
    report = s.run([poster_rule(s.files.base + "/big.png", groups="P1", caption="")])
    assert (report.sent, report.failed) == (1, 0)
    [message] = s.emulator.messages
    assert message["msgtype"] == "image" and message["image"]["bytes"] <= 2 * 1024 * 1024
    assert message["image"]["format"] in ("jpg", "png") and message["image"]["md5"] != hashlib.md5(big).hexdigest()


def test_a_webp_poster_is_converted_for_wecom(shop):
    buffer = io.BytesIO()
    Image.new("RGBA", (64, 64), (10, 200, 90, 128)).save(buffer, "WEBP")
    s = shop({"/p.webp": (200, "image/webp", buffer.getvalue())})
    assert s.run([poster_rule(s.files.base + "/p.webp", groups="P1", caption="")]).sent == 1
    [message] = s.emulator.messages
    assert message["image"]["format"] == "png"      # it has transparency, which jpg has not


@pytest.mark.parametrize("path, files, words", [
    ("/missing.png", {}, "answered HTTP 404"),
    ("/page.png", {"/page.png": (200, "image/png", b"<html>a page about the poster</html>")}, "is not a png"),
])
def test_a_poster_that_cannot_be_fetched_is_a_problem_and_a_failed_send_and_the_rest_go(shop, path, files, words):
    s = shop({**files, "/ok.png": (200, "image/png", POSTER)})
    report = s.run([poster_rule(s.files.base + path, "P01", "P1"),
                    poster_rule(s.files.base + "/ok.png", "P02", "P1"),
                    {"rule_id": "T01", "groups": "*", "schedule": "daily 10:00", "content": "早上好"}])
    assert report.failed == 1 and report.sent == 7
    sendlog = {(r.rule_id, r.group_id): r for r in s.workbook().sendlog}
    failed = sendlog[("P01", "P1")]
    assert failed.status == "failed" and failed.outcome.startswith("image not fetched:") and words in failed.outcome
    assert sendlog[("P02", "P1")].status == "sent" and sendlog[("T01", "P1")].status == "sent"
    [problem] = [p for p in _problems(s) if "could not be fetched" in p["message"]]
    assert problem["tab"] == "SOP" and problem["row"] == 2 and problem["column"] == "content"
    assert "127.0.0.1" in problem["message"] and words in problem["message"]
    assert [m["msgtype"] for m in s.emulator.messages if m["platform"] == "wecom"].count("image") == 1


def test_the_problem_and_the_sendlog_speak_chinese_in_a_chinese_workbook(shop):
    s = shop({}, lang="zh-CN")
    s.run([poster_rule(s.files.base + "/missing.png", groups="P1")])
    [problem] = [p for p in _problems(s) if "图片" in str(p)]
    text = " ".join(str(v) for v in problem.values())
    assert "无法从 127.0.0.1 获取" in text and "返回 HTTP 404" in text and "浏览器" in text
    [row] = s.workbook().sendlog
    assert row.status == "failed" and row.outcome.startswith("图片未获取：")


def test_an_address_on_a_private_network_is_refused_without_a_request(shop):
    s = shop({})
    report = s.run([poster_rule("https://169.254.169.254/latest/meta-data/poster.png", groups="P1")])
    assert report.failed == 1 and s.emulator.messages == []
    [row] = s.workbook().sendlog
    assert "metadata server" in row.outcome and "public addresses" in row.outcome


def test_the_emulator_refuses_what_wecom_refuses():
    emulator = Emulator([SIX[0][1]])
    emulator.start()
    try:
        url = emulator.webhook_url(SIX[0][1])
        gif = b"GIF89a" + os.urandom(20)

        def send(raw: bytes, md5: str | None = None) -> dict:
            body = {"msgtype": "image", "image": {"base64": base64.b64encode(raw).decode(),
                                                  "md5": md5 or hashlib.md5(raw).hexdigest()}}
            return requests.post(url, json=body, timeout=5).json()

        assert send(POSTER)["errcode"] == 0
        assert send(POSTER, "0" * 32)["errcode"] == 301019
        assert send(gif)["errcode"] == 40058
        assert send(png(1200, 1200, noise=True))["errcode"] == 45002
    finally:
        emulator.stop()


def test_telegram_photo_with_a_long_caption_goes_as_photo_then_text(shop):
    s = shop({"/poster.png": (200, "image/png", POSTER)})
    long = "课程安排 " * 150 + "\n" + "更多内容 " * 100     # 1250 characters: over the caption's 1024
    report = s.run([poster_rule(s.files.base + "/poster.png", groups="P6", caption=long)])
    assert report.sent == 1
    kinds = [m["msgtype"] for m in s.emulator.messages]
    assert kinds[0] == "photo" and kinds[1:] and set(kinds[1:]) == {"html"}
    assert "caption" not in s.emulator.messages[0]["payload"]


def test_slack_refuses_an_image_block_whose_picture_does_not_load(shop):
    s = shop({"/page.png": (200, "text/html", b"<html></html>")})
    report = s.run([poster_rule(s.files.base + "/page.png", groups="P4")])
    assert report.failed == 1 and s.emulator.messages == []
    [row] = s.workbook().sendlog
    assert "invalid_blocks" in row.outcome


def test_a_refused_address_is_said_in_chinese_too():
    from qunflow.sheet.vocabulary import say_reason
    reason = ("169.254.169.254 is a link-local (the metadata server lives there) address (169.254.169.254): images "
              "are fetched only from public addresses")
    said = say_reason(f"image not fetched: {reason}", "zh-CN")
    assert said == "图片未获取：169.254.169.254 是链路本地（云上的元数据服务器就在这里）地址（169.254.169.254）：只从公网地址获取图片"


def test_the_preview_calendar_shows_the_poster_and_the_form_each_platform_gets(shop):
    from qunflow.jobs.preview import calendar_html, preview
    s = shop({"/poster.png": (200, "image/png", POSTER)}, lang="zh-CN")
    s.run([poster_rule(s.files.base + "/poster.png")])
    wb = s.workbook()
    items = preview(wb, at("2026-12-01 10:05"), 2)
    assert {i["image"] for i in items if i["rule_id"] == "P01"} == {s.files.base + "/poster.png"}
    html = calendar_html(wb, items, at("2026-12-01 10:05"), 2)
    assert html.count(f"<img src='{s.files.base}/poster.png'") == 12      # six groups, two days
    for words in ("企业微信：图片本身", "钉钉：markdown 图片", "飞书：富文本消息中的图片链接", "Telegram：图片，文字作为图片说明",
                  "Slack：图片块", "Discord：嵌入图片"):
        assert words in html
    assert "referrerpolicy='no-referrer'" in html


# ---- the payloads, built (pure) ---------------------------------------------------------------------------------

def _build(platform: str, message):
    from qunflow.delivery.message import Target
    from qunflow.delivery.platforms import PLATFORMS
    hooks = {"telegram": "https://api.telegram.org/bot1:x/sendMessage?chat_id=-100200300",
             "feishu": "https://open.feishu.cn/open-apis/bot/v2/hook/t"}
    return PLATFORMS[platform].build_requests(message, Target(platform, "g", hooks.get(platform, "https://e.com/h")), 0.0)


def test_telegram_sends_a_photo_with_its_caption_and_mentions():
    from qunflow.delivery.message import Mentions, Message
    [req] = _build("telegram", Message("image", "海报 <新>", image_url="https://e.com/p.png",
                                       mentions=Mentions(user_ids=("7001",), names=("小林",))))
    assert req.url == "https://api.telegram.org/bot1:x/sendPhoto"
    assert req.json == {"chat_id": -100200300, "photo": "https://e.com/p.png", "parse_mode": "HTML",
                        "caption": '<a href="tg://user?id=7001">小林</a> 海报 &lt;新&gt;'}


def test_telegram_photo_without_text_has_no_caption():
    from qunflow.delivery.message import Message
    [req] = _build("telegram", Message("image", image_url="https://e.com/p.png"))
    assert req.json == {"chat_id": -100200300, "photo": "https://e.com/p.png"}


def test_feishu_sends_a_post_with_the_link_and_the_mentions():
    from qunflow.delivery.message import Mentions, Message
    [req] = _build("feishu", Message("image", "第一行\n第二行", image_url="https://e.com/p.png",
                                     mentions=Mentions(all=True)))
    assert req.json["msg_type"] == "post"
    paragraphs = req.json["content"]["post"]["zh_cn"]["content"]
    assert paragraphs[0][0] == {"tag": "at", "user_id": "all", "user_name": "所有人"}
    assert [p[0]["text"] for p in paragraphs[1:3]] == ["第一行", "第二行"]
    assert paragraphs[-1] == [{"tag": "a", "text": "🖼 查看图片", "href": "https://e.com/p.png"}]


def test_wecom_sends_the_caption_after_the_picture_with_the_mentions():
    from qunflow.delivery.message import Mentions, Message
    reqs = _build("wecom", Message("image", "本周海报", image_url="https://e.com/p.png", image_bytes=POSTER,
                                   mentions=Mentions(user_ids=("lin",))))
    assert [r.json["msgtype"] for r in reqs] == ["image", "text"]
    assert reqs[0].json["image"]["md5"] == hashlib.md5(POSTER).hexdigest()
    assert reqs[1].json["text"] == {"content": "本周海报", "mentioned_list": ["lin"]}


def test_an_image_row_is_its_address_and_a_caption():
    from qunflow.engine.compose import image_parts
    assert image_parts("https://e.com/p.png\n本周海报") == ("https://e.com/p.png", "本周海报")
    assert image_parts("本周海报\n  https://e.com/p.png  \n周三见") == ("https://e.com/p.png", "本周海报\n周三见")
    assert image_parts("https://e.com/p.png") == ("https://e.com/p.png", "")
    assert image_parts("not an address") == ("not an address", "")


# ---- fitting an image for WeCom ---------------------------------------------------------------------------------

def test_an_image_that_fits_goes_byte_for_byte():
    from qunflow.delivery.image_fit import fit
    assert fit(POSTER, 2 * 1024 * 1024) is POSTER


def test_an_animated_gif_becomes_its_first_frame_as_jpg():
    from qunflow.delivery.image_fit import fit
    frames = [Image.new("RGB", (40, 30), c) for c in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    out = fit(buffer.getvalue(), 2 * 1024 * 1024)
    assert out.startswith(b"\xff\xd8\xff")
    with Image.open(io.BytesIO(out)) as picture:
        red, green, blue = picture.convert("RGB").getpixel((20, 15))
        assert picture.size == (40, 30) and red > 200 and blue < 60


@pytest.mark.parametrize("data, words", [(b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "could not be read"),
                                         (b"GIF89a" + b"\0" * 40, "could not be read")])
def test_bytes_pillow_cannot_read_are_unfit(data, words):
    from qunflow.delivery.image_fit import ImageUnfit, fit
    with pytest.raises(ImageUnfit, match=words):
        fit(data, 10)


def test_a_picture_of_too_many_pixels_is_refused_before_it_is_decoded(monkeypatch):
    from qunflow.delivery import image_fit
    monkeypatch.setattr(image_fit, "MAX_PIXELS", 100)
    with pytest.raises(image_fit.ImageUnfit, match="320 x 200 pixels"):
        image_fit.fit(POSTER, 10)


def test_preview_counts_wecom_posters_as_the_picture_and_its_caption():
    from qunflow.delivery.message import Message
    from qunflow.jobs.splits import post_count
    assert post_count(Message("image", "本周海报", image_url="https://e.com/p.png"), "wecom") == 2
    assert post_count(Message("image", image_url="https://e.com/p.png"), "wecom") == 1
    assert post_count(Message("image", "本周海报", image_url="https://e.com/p.png"), "telegram") == 1


def test_the_emulator_judges_a_telegram_photo_as_telegram_does():
    bot = SIX[5][1]
    host = ImageHost({"/p.png": (200, "image/png", POSTER), "/page": (200, "text/html", b"<html></html>")})
    emulator = Emulator([bot])
    emulator.start()
    try:
        url = emulator.webhook_url(bot).rsplit("/", 1)[0] + "/sendPhoto"

        def send(**fields) -> dict:
            return requests.post(url, json={"chat_id": -100200300, **fields}, timeout=5).json()

        ok = send(photo=host.url("/p.png"), caption="<b>周一</b> 海报", parse_mode="HTML")
        assert ok["ok"] and ok["result"]["caption"] == "周一 海报" and ok["result"]["photo"][0]["width"] == 320
        assert send(photo=host.url("/p.png"), caption="字" * 1025)["description"] == \
            "Bad Request: message caption is too long"
        assert send(photo=host.url("/page"))["description"] == "Bad Request: wrong type of the web page content"
        assert send(photo=host.url("/gone.png"))["description"] == "Bad Request: failed to get HTTP URL content"
        assert send(photo="not-a-file-id")["description"] == "Bad Request: wrong file identifier/HTTP URL specified"
        assert send()["description"] == "Bad Request: there is no photo in the request"
        remote = send(photo="https://cdn.example.com/p.png")
        assert remote["ok"] and "does not fetch" in emulator.messages[-1]["warnings"][0]
        assert [m["msgtype"] for m in emulator.messages] == ["photo", "photo"]
    finally:
        emulator.stop()
        host.close()
