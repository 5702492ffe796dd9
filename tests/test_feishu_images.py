"""Feishu's native images (#21): with Settings feishu_app_id and feishu_app_secret, the tick fetches a poster once,
uploads it once through the workbook's Feishu app (the emulator's open API over HTTP on 127.0.0.1), and each
Feishu group's robot sends msg_type image with the image_key. The token and the key are cached in the state store."""
from __future__ import annotations

import copy
import json
import hashlib
import io
import random
from datetime import datetime, timedelta, timezone

import pytest
import requests
from PIL import Image

from helpers import make_raw
from qunflow.clock import VirtualClock
from qunflow.delivery.feishu_images import FeishuError, FeishuImages
from qunflow.delivery.fetch import ImageFetcher
from qunflow.delivery.secrets import SecretResolver
from qunflow.emulator import Bot, Emulator
from qunflow.emulator.feishu_api import IMAGES_PATH, TOKEN_PATH
from qunflow.jobs.demo_poster import ImageHost
from qunflow.jobs.tick import TickDeps, run_tick
from qunflow.sheet.load import load_workbook
from qunflow.state.sqlite import SqliteState
from qunflow.stores.memory import MemoryStore

UTC = timezone.utc
APP_ID = "cli_emu0feishu0app01"
# checkov:skip=CKV_SECRET_6: a made-up Feishu App Secret the local emulator checks
APP_SECRET = "feishu-app-secret-emu-0000000001"
BOTS = [
    Bot("feishu", "feishu-hook-native-000000000001", name="Course 1"),
    # checkov:skip=CKV_SECRET_6: a made-up signing secret the local emulator checks
    Bot("feishu", "feishu-hook-native-000000000002", secret="feishu-sign-native-00000002", name="Course 2"),
    Bot("feishu", "feishu-hook-native-000000000003", name="Course 3"),
]


def at(text: str) -> datetime:  # Asia/Shanghai wall time → UTC
    return datetime.fromisoformat(text + "+08:00").astimezone(UTC)


def png(width: int, height: int, color=(40, 90, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


POSTER, OTHER = png(300, 400), png(200, 200, (200, 40, 40))


class Shop:
    """Three Feishu groups and the image host; `run(sop, day)` is one tick at 10:00 that day, one state store."""

    def __init__(self, settings: list[dict], emulated_secret: str = APP_SECRET, lang: str = "en"):
        self.clock = VirtualClock(at("2026-12-01 09:55"))
        self.emulator = Emulator(BOTS, clock=self.clock)
        self.emulator.start()
        self.emulator.feishu_api.add_app(APP_ID, emulated_secret)
        self.files = ImageHost({"/poster.png": (200, "image/png", POSTER), "/other.png": (200, "image/png", OTHER)})
        self.settings, self.lang = settings, lang
        self.env = {"QUNFLOW_FEISHU_APP_SECRET": APP_SECRET}
        self.groups = []
        for i, bot in enumerate(BOTS, start=1):
            self.env[f"QUNFLOW_HOOK_F{i}"] = self.emulator.webhook_url(bot)
            group = {"group_id": f"F{i}", "name": f"Course {i}", "platform": "feishu",
                     "webhook": f"env:QUNFLOW_HOOK_F{i}", "kind": "traffic"}
            if bot.secret:
                self.env[f"QUNFLOW_SIGN_F{i}"] = bot.secret
                group["secret"] = f"env:QUNFLOW_SIGN_F{i}"
            self.groups.append(group)
        self.state = SqliteState(":memory:")
        self.fetchers: list[ImageFetcher] = []

    def fetcher(self) -> ImageFetcher:
        self.fetchers.append(ImageFetcher(allow_loopback_http=True))
        return self.fetchers[-1]

    def run(self, sop: list[dict], day: str = "2026-12-01", time: str = "10:00"):
        rows = {"settings": [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": self.lang},
                             *self.settings], "groups": self.groups, "sop": sop}
        self.store = MemoryStore(make_raw(copy.deepcopy(rows), lang=self.lang))
        deps = TickDeps(session=requests.Session(), clock=self.clock, sleep=self.clock.sleep, rng=random.Random(1),
                        resolver=SecretResolver(env=self.env), fetcher=self.fetcher, state=self.state,
                        feishu_base=self.emulator.base_url)
        self.clock.set(at(f"{day} {time}"))
        return run_tick(self.store, self.clock.now(), deps)

    def calls(self, path: str) -> int:
        return self.emulator.feishu_api.calls.get(path, 0)

    def problems(self) -> list[dict]:
        wb = load_workbook(self.store.raw)
        rows = self.store.raw[wb.tables["problems"].title]
        return [dict(zip(make_raw({})["Problems"][0], row)) for row in rows[1:]]

    def sendlog(self):
        return load_workbook(self.store.raw).sendlog

    def close(self):
        self.emulator.stop()
        self.files.close()


APP = [{"key": "feishu_app_id", "value": APP_ID}, {"key": "feishu_app_secret", "value": "env:QUNFLOW_FEISHU_APP_SECRET"}]


@pytest.fixture
def shop():
    made = []

    def make(settings=APP, **kwargs) -> Shop:
        made.append(Shop(settings, **kwargs))
        return made[-1]

    yield make
    for s in made:
        s.close()


def poster(url: str, rule_id: str = "K01", caption: str = "本周课程预告：周一晚 8 点", time: str = "10:00") -> dict:
    return {"rule_id": rule_id, "groups": "*", "schedule": f"daily {time}", "msg_type": "image",
            "content": f"{url}\n{caption}" if caption else url}


def test_a_poster_to_three_groups_is_fetched_once_uploaded_once_and_each_group_gets_an_image(shop, tmp_path):
    s = shop()
    report = s.run([poster(s.files.url("/poster.png"))])
    assert (report.sent, report.failed) == (3, 0), s.sendlog()
    assert s.files.hits == {"/poster.png": 1} and s.fetchers[0].downloads == 1
    assert (s.calls(TOKEN_PATH), s.calls(IMAGES_PATH)) == (1, 1)
    [key] = s.emulator.feishu_api.images
    for group in ("Course 1", "Course 2", "Course 3"):
        got = [m for m in s.emulator.messages if m["name"] == group]
        assert [m["msgtype"] for m in got] == ["image", "text"], got       # the caption follows the picture
        assert got[0]["payload"]["content"] == {"image_key": key}
        assert got[0]["image"]["md5"] == hashlib.md5(POSTER).hexdigest() and got[0]["image"]["width"] == 300
        assert got[1]["text"] == "本周课程预告：周一晚 8 点"
    assert not [p for p in s.problems() if "image_key" in p["message"]]   # no link warning: the app is there
    html = s.emulator.write_html(tmp_path / "transcript.html").read_text("utf-8")
    assert html.count('<figure class="image">') == 3 and "data:image/jpeg;base64," in html


def test_the_same_poster_on_the_next_tick_is_not_uploaded_again(shop):
    s = shop()
    s.run([poster(s.files.url("/poster.png"))])
    report = s.run([poster(s.files.url("/poster.png"))], day="2026-12-02")
    assert report.sent == 3
    assert (s.calls(TOKEN_PATH), s.calls(IMAGES_PATH)) == (1, 1)        # token and key from the state store
    assert len(s.emulator.feishu_api.images) == 1 and len(s.emulator.messages) == 12


def test_a_token_invalidated_early_is_refreshed_once(shop):
    s = shop()
    s.run([poster(s.files.url("/poster.png"))])
    s.emulator.feishu_api.invalidate()
    report = s.run([poster(s.files.url("/other.png"), "K02", caption="", time="10:30")], time="10:30")
    assert (report.sent, report.failed) == (3, 0), s.sendlog()
    # one refused upload (99991663), one new token, the upload again; then the key serves all three groups
    assert (s.calls(TOKEN_PATH), s.calls(IMAGES_PATH)) == (2, 3)
    assert [m["msgtype"] for m in s.emulator.messages[6:]] == ["image"] * 3


def test_a_token_past_its_expiry_is_fetched_again(shop):
    s = shop()
    s.run([poster(s.files.url("/poster.png"))])
    s.run([poster(s.files.url("/other.png"))], day="2026-12-02")         # a day later: the 2 h token is gone
    assert (s.calls(TOKEN_PATH), s.calls(IMAGES_PATH)) == (2, 2)


@pytest.mark.parametrize("lang, words", [
    ("en", ["could not be uploaded to Feishu by the app cli_emu0feishu0app01", "code 10014", "feishu_app_id (row"]),
    ("zh-CN", ["无法通过飞书应用 cli_emu0feishu0app01 上传", "错误码 10014", "请检查设置 feishu_app_id"]),
])
def test_a_wrong_app_secret_is_a_problem_at_the_sop_row_and_the_sends_fail_and_the_rest_go(shop, lang, words):
    # checkov:skip=CKV_SECRET_6: a made-up secret the emulated app has instead of the workbook's
    s = shop(emulated_secret="feishu-app-secret-emu-other-0002", lang=lang)
    text = {"rule_id": "T01", "groups": "F1", "schedule": "daily 10:00", "msg_type": "text", "content": "早上好"}
    report = s.run([poster(s.files.url("/poster.png")), text])
    assert (report.sent, report.failed) == (1, 3)
    assert s.calls(TOKEN_PATH) == 1 and s.calls(IMAGES_PATH) == 0       # refused once, not asked again per group
    [problem] = [p for p in s.problems() if "10014" in p["message"]]
    assert problem["row"] == 2 and problem["value"].endswith("/poster.png")
    for word in words:
        assert word in problem["message"], problem["message"]
    failed = [r for r in s.sendlog() if r.status == "failed"]
    assert len(failed) == 3 and all("10014" in r.outcome for r in failed)
    assert [m["text"] for m in s.emulator.messages] == ["早上好"]


def test_an_unset_secret_reference_is_a_problem_naming_it(shop):
    s = shop(settings=[APP[0], {"key": "feishu_app_secret", "value": "env:QUNFLOW_FEISHU_OTHER"}])
    report = s.run([poster(s.files.url("/poster.png"))])
    assert (report.sent, report.failed) == (0, 3)
    [problem] = [p for p in s.problems() if "QUNFLOW_FEISHU_OTHER" in p["message"]]
    assert "set the environment variable QUNFLOW_FEISHU_OTHER" in problem["message"]
    assert s.calls(TOKEN_PATH) == 0


def test_without_the_app_the_poster_goes_as_a_link_and_each_group_row_is_warned(shop):
    s = shop(settings=[])
    report = s.run([poster(s.files.url("/poster.png"))])
    assert report.sent == 3 and {m["msgtype"] for m in s.emulator.messages} == {"post"}
    warned = [p for p in s.problems() if "image_key" in p["message"]]
    assert sorted(p["row"] for p in warned) == [2, 3, 4] and "feishu_app_id" in warned[0]["message"]
    assert s.calls(TOKEN_PATH) == 0


@pytest.mark.parametrize("settings, code_words, row", [
    ([APP[0]], "has feishu_app_id but not feishu_app_secret", 4),
    ([APP[0], {"key": "feishu_app_secret", "value": APP_SECRET}], "must be a reference", 5),
])
def test_a_half_set_app_or_a_secret_written_whole_is_said_at_settings_and_links_go(shop, settings, code_words, row):
    s = shop(settings=settings)
    report = s.run([poster(s.files.url("/poster.png"))])
    assert report.sent == 3 and {m["msgtype"] for m in s.emulator.messages} == {"post"}
    [problem] = [p for p in s.problems() if code_words in p["message"]]
    assert problem["tab"] == "Settings" and problem["row"] == row and problem["value"] != APP_SECRET
    assert APP_SECRET not in str(s.problems())


# ---- the emulator's open API, directly over HTTP

def _token(emu: Emulator, secret: str = APP_SECRET) -> dict:
    return requests.post(emu.base_url + TOKEN_PATH, json={"app_id": APP_ID, "app_secret": secret}, timeout=5).json()


def _upload(emu: Emulator, token: str, files: dict | None, data: dict | None = None) -> dict:
    return requests.post(emu.base_url + IMAGES_PATH, headers={"Authorization": f"Bearer {token}"},
                         data={"image_type": "message"} if data is None else data, files=files, timeout=5).json()


@pytest.fixture
def emu():
    e = Emulator(BOTS, clock=VirtualClock(at("2026-12-01 09:00")))
    e.start()
    e.feishu_api.add_app(APP_ID, APP_SECRET)
    yield e
    e.stop()


def test_the_emulated_open_api_checks_the_app_the_token_and_the_image(emu):
    # checkov:skip=CKV_SECRET_6: a made-up wrong secret
    assert _token(emu, "not-the-app-secret-000")["code"] == 10014
    first = _token(emu)
    assert first["code"] == 0 and first["expire"] == 7200 and first["tenant_access_token"].startswith("t-")
    token = first["tenant_access_token"]
    assert _token(emu)["tenant_access_token"] == token                   # the same while it has time left
    assert _upload(emu, "t-unknown", {"image": ("p.png", POSTER, "image/png")})["code"] == 99991663
    assert requests.post(emu.base_url + IMAGES_PATH, timeout=5).json()["code"] == 99991661
    assert _upload(emu, token, {"image": ("p.png", POSTER, "image/png")}, data={"image_type": "avatarx"})["code"] == 234001
    assert _upload(emu, token, {"image": ("p.png", b"", "image/png")})["code"] == 234006
    assert _upload(emu, token, {"image": ("p.png", b"<html>not</html>", "image/png")})["code"] == 234011
    big_gif = io.BytesIO()
    Image.new("P", (2100, 10)).save(big_gif, "GIF")
    assert _upload(emu, token, {"image": ("p.gif", big_gif.getvalue(), "image/gif")})["code"] == 234007
    done = _upload(emu, token, {"image": ("p.png", POSTER, "image/png")})
    assert done["code"] == 0 and done["data"]["image_key"].startswith("img_v2_")
    hook = emu.webhook_url(BOTS[0])
    refused = requests.post(hook, json={"msg_type": "image", "content": {"image_key": "img_v2_never_issued"}}, timeout=5)
    assert refused.json()["code"] == 9499 and "image_key not found" in refused.json()["msg"]
    sent = requests.post(hook, json={"msg_type": "image", "content": {"image_key": done["data"]["image_key"]}}, timeout=5)
    assert sent.json()["code"] == 0 and emu.messages[-1]["image"]["format"] == "png"


def test_the_client_refreshes_a_token_once_and_says_a_refused_picture(emu):
    clock = emu.clock
    client = FeishuImages(APP_ID, APP_SECRET, session=requests.Session(), state=SqliteState(":memory:"),
                          base_url=emu.base_url, clock=clock)
    key = client.image_key(POSTER, "png")
    assert key in emu.feishu_api.images and client.image_key(POSTER, "png") == key   # remembered by content
    clock.set(clock.now() + timedelta(seconds=7200 - 200))                           # inside the margin
    client.image_key(OTHER, "png")
    assert client.calls == {TOKEN_PATH: 2, IMAGES_PATH: 2}
    with pytest.raises(FeishuError) as refused:
        client.image_key(b"RIFF0000NOPE, not a picture", "webp")
    assert refused.value.kind == "image" and "code 234" in refused.value.reason
    with pytest.raises(FeishuError) as empty:
        client.image_key(b"", "png")
    assert empty.value.kind == "image" and emu.feishu_api.calls[IMAGES_PATH] == 3
    # checkov:skip=CKV_SECRET_6: a made-up wrong secret
    wrong = FeishuImages(APP_ID, "not-the-app-secret-000", session=requests.Session(), state=SqliteState(":memory:"),
                         base_url=emu.base_url, clock=clock)
    with pytest.raises(FeishuError) as bad:
        wrong.image_key(POSTER)
    assert bad.value.kind == "credentials" and "not-the-app-secret" not in str(bad.value)


# ---- qunflow doctor

def _doctor(emu: Emulator, settings: list[dict], env: dict, lang: str = "en"):
    from qunflow.jobs.doctor import DoctorDeps, format_checks, run_doctor
    groups = [{"group_id": "F1", "name": "Course", "platform": "feishu", "webhook": "env:QUNFLOW_HOOK_F1", "kind": "traffic"}]
    raw = make_raw({"settings": [{"key": "language", "value": lang}, *settings], "groups": groups,
                    "sop": [poster("https://img.example.cn/p.png")]}, lang=lang)
    env = {"QUNFLOW_HOOK_F1": emu.webhook_url(BOTS[0]), **env}
    deps = DoctorDeps(env={"QUNFLOW_FEISHU_API": emu.base_url, **env}, resolver=SecretResolver(env=env),
                      open_store=lambda source: MemoryStore(raw), session=requests.Session())
    checks = run_doctor("shop.xlsx", at("2026-12-01 09:00"), deps)
    return {c.name: c for c in checks}, format_checks(checks)


@pytest.mark.parametrize("settings, env, status, words", [
    (APP, {"QUNFLOW_FEISHU_APP_SECRET": APP_SECRET}, "ok", "Feishu accepts the app's credentials"),
    ([], {}, "warn", "go as links"),
    ([APP[0]], {}, "fail", "write feishu_app_secret in Settings too"),
    (APP, {}, "fail", "QUNFLOW_FEISHU_APP_SECRET"),
    # checkov:skip=CKV_SECRET_6: a made-up wrong secret
    (APP, {"QUNFLOW_FEISHU_APP_SECRET": "not-the-app-secret-000"}, "fail", "code 10014"),
])
def test_doctor_says_whether_the_feishu_app_is_set_and_accepted(emu, settings, env, status, words):
    checks, text = _doctor(emu, settings, env)
    check = checks["Feishu images"]
    assert check.status == status and words in check.detail + check.fix, check
    assert APP_SECRET not in text and "not-the-app-secret-000" not in text


def test_doctor_speaks_chinese_and_never_shows_a_secret_written_whole(emu):
    checks, text = _doctor(emu, [APP[0], {"key": "feishu_app_secret", "value": APP_SECRET}], {}, lang="zh-CN")
    check = checks["飞书图片"]
    assert check.status == "fail" and "直接写了密钥本身" in check.detail and APP_SECRET not in text


# ---- what the robot is sent, validate and preview

def test_feishu_sends_the_image_by_key_then_the_caption_with_the_mentions_signed():
    from qunflow.delivery.message import Mentions, Message, Target
    from qunflow.delivery.platforms import PLATFORMS
    # checkov:skip=CKV_SECRET_6: a made-up signing secret for a request that is only built, never sent
    target = Target("feishu", "g", "https://open.feishu.cn/open-apis/bot/v2/hook/t", "sign-secret-unit-01")
    message = Message("image", "周一晚 8 点", image_url="https://e.com/p.png", image_key="img_v2_x",
                      mentions=Mentions(all=True))
    image, caption = PLATFORMS["feishu"].build_requests(message, target, 1_700_000_000.0)
    assert image.json["msg_type"] == "image" and image.json["content"] == {"image_key": "img_v2_x"}
    assert image.json["timestamp"] == "1700000000" and image.json["sign"]
    assert caption.json["content"]["text"] == '<at user_id="all">所有人</at> 周一晚 8 点'
    [alone] = PLATFORMS["feishu"].build_requests(Message("image", image_url="https://e.com/p.png",
                                                         image_key="img_v2_x"), target, 0.0)
    assert alone.json["msg_type"] == "image"                            # no caption, nobody to notify: one post


@pytest.mark.parametrize("settings, form", [
    (APP, "Feishu: the picture itself (uploaded by the Settings app)"),
    ([], "Feishu: a link in a post (no app to upload an image_key)"),
])
def test_preview_says_which_form_feishu_gets(settings, form):
    from qunflow.jobs.preview import calendar_html, preview
    groups = [{"group_id": "F1", "name": "Course", "platform": "feishu", "webhook": "env:QUNFLOW_HOOK_F1", "kind": "traffic"}]
    wb = load_workbook(make_raw({"settings": list(settings), "groups": groups,
                                 "sop": [poster("https://img.example.cn/p.png")]}))
    now = at("2026-12-01 09:00")
    html = calendar_html(wb, preview(wb, now, 2), now, 2)
    assert form in html


def test_validate_says_a_secret_written_whole_at_settings_without_showing_it():
    from qunflow.jobs.validate import validate_store
    groups = [{"group_id": "F1", "name": "Course", "platform": "feishu", "webhook": "env:QUNFLOW_HOOK_F1", "kind": "traffic"}]
    store = MemoryStore(make_raw({"settings": [APP[0], {"key": "feishu_app_secret", "value": APP_SECRET}],
                                  "groups": groups, "sop": [poster("https://img.example.cn/p.png")]}))
    wb = validate_store(store, at("2026-12-01 09:00"))
    [problem] = [p for p in wb.problems if p.code == "feishu_secret_not_reference"]
    assert problem.tab == "Settings" and problem.row == 3 and APP_SECRET not in problem.message + problem.value
    assert [p.row for p in wb.problems if p.code == "feishu_image_link"] == [2]


def test_the_emulated_apps_are_set_up_and_read_over_its_admin_endpoints(emu):
    # checkov:skip=CKV_SECRET_6: a made-up App Secret for a second emulated app
    added = requests.post(emu.base_url + "/_emulator/feishu/apps", json={"app_id": "cli_two", "app_secret": "second-app-secret-01"},
                          timeout=5)
    assert added.status_code == 201
    token = _token(emu)["tenant_access_token"]
    assert requests.post(emu.base_url + TOKEN_PATH, json={"app_id": "cli_two", "app_secret": "second-app-secret-01"},
                         timeout=5).json()["code"] == 0
    assert requests.post(emu.base_url + "/_emulator/feishu/invalidate", timeout=5).json() == {"ok": True}
    assert _upload(emu, token, {"image": ("p.png", POSTER, "image/png")})["code"] == 99991663
    state = requests.get(emu.base_url + "/_emulator/feishu/state", timeout=5).json()
    assert state["calls"] == {TOKEN_PATH: 2, IMAGES_PATH: 1} and state["tokens"] == [] and state["images"] == []
    assert "second-app-secret-01" not in json.dumps(state) and token not in json.dumps(state)
