"""The emulator's HTML transcript as a browser renders it: headless Chromium's DOM and a screenshot.

Needs `chromium` (or `chromium-browser`) on PATH; `make browser` installs it where it can. Without it the
test is skipped: it installs nothing.
"""
from __future__ import annotations

import random
import shutil
import subprocess
import zlib
from html.parser import HTMLParser

import pytest
import requests

from qunflow.delivery import Delivery, Dispatcher, Mentions, Message, NewsCard, Target
from qunflow.emulator import Bot, Emulator

T0 = 1_700_000_000.0
SCRIPT = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>'


class Clock:
    def __init__(self):
        self.t = T0

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)


def chromium() -> str:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        pytest.skip("chromium is not installed here (make browser, or apt-get install chromium, to run this check)")
    return browser


class Dom(HTMLParser):
    """Elements as Chromium serialised them: (tag, attributes, text inside)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict, list[str]]] = []
        self._open: list[list[str]] = []

    def handle_starttag(self, tag, attrs):
        texts: list[str] = []
        self.elements.append((tag, dict(attrs), texts))
        if tag not in ("br", "img", "meta", "link", "input", "hr"):
            self._open.append(texts)

    def handle_endtag(self, tag):
        if self._open:
            self._open.pop()

    def handle_data(self, data):
        for texts in self._open:
            texts.append(data)

    def find(self, tag: str, cls: str | None = None) -> list[tuple[dict, str]]:
        return [(attrs, "".join(texts)) for t, attrs, texts in self.elements
                if t == tag and (cls is None or cls in (attrs.get("class") or "").split())]


def transcript(tmp_path):
    """Three groups' messages, through the real senders, with mentions and a hostile text."""
    clock = Clock()
    bots = [Bot("wecom", "browserWecomKey0001", name="春装福利群", group_id="G01"),
            Bot("dingtalk", "browser-ding-0000000002", secret="SEC-browser-00000000002", name="Flash sale", group_id="G02"),
            Bot("slack", "T01/B02/browserSlack0003", name="Style lab", group_id="G03")]
    with Emulator(bots, clock=clock) as emu:
        hooks = {b.group_id: Target(b.platform, b.group_id, emu.webhook_url(b), b.secret) for b in bots}
        messages = [
            ("G01", Message("text", "早上好！今天上新 🎉", mentions=Mentions(all=True))),
            ("G01", Message("text", SCRIPT)),
            ("G01", Message("markdown", "## 本周活动\n**满 199 减 50**", mentions=Mentions(user_ids=("lin",)))),
            ("G02", Message("text", "Flash sale starts at 20:00", mentions=Mentions(mobiles=("13900139000",)))),
            ("G02", Message("news", card=NewsCard("50% off", "tonight only", "https://shop.example.com/sale"))),
            ("G03", Message("markdown", "New *looks* for the week", mentions=Mentions(user_ids=("U024BE7LH",)))),
        ]
        report = Dispatcher(requests.Session(), clock, clock.sleep, random.Random(1), wall_clock=clock).dispatch(
            [Delivery(f"s{i}", hooks[g], m) for i, (g, m) in enumerate(messages)])
        assert report.counts()["sent"] == len(messages)
        return emu.write_html(tmp_path / "transcript.html", title="qunflow transcript <b>test</b>"), len(emu.messages)


def run_chromium(browser: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}"]
    return subprocess.run([browser, *flags, *args], capture_output=True, text=True, timeout=90)


def png_is_not_blank(data: bytes) -> bool:
    """Decode the PNG's image data (zlib) and check it holds more than one colour's worth of bytes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    return len(set(zlib.decompress(idat))) > 16


def test_the_transcript_renders_in_headless_chromium(tmp_path):
    browser = chromium()
    page, count = transcript(tmp_path)
    done = run_chromium(browser, tmp_path, "--dump-dom", page.as_uri())
    assert done.returncode == 0 and "<main>" in done.stdout, done.stderr[-2000:]
    dom = Dom()
    dom.feed(done.stdout)
    groups = {attrs["data-group"]: text for attrs, text in dom.find("section", "group")}
    assert set(groups) == {"G01", "G02", "G03"}
    assert "春装福利群" in groups["G01"] and "Flash sale" in groups["G02"] and "Style lab" in groups["G03"]
    assert len(dom.find("div", "msg")) == count
    mentions = [text for _, text in dom.find("span", "mention")]
    assert "@13900139000" in mentions and "<@U024BE7LH>" in mentions
    assert not dom.find("script") and not dom.find("img")     # the hostile text stayed text
    bubbles = [text for _, text in dom.find("div", "bubble")]
    assert SCRIPT in bubbles
    assert [text for _, text in dom.find("title")] == ["qunflow transcript <b>test</b>"]

    shot = tmp_path / "shot.png"
    done = run_chromium(browser, tmp_path, f"--screenshot={shot}", "--window-size=1000,1400", page.as_uri())
    assert shot.exists(), done.stderr[-2000:]
    assert shot.stat().st_size > 10_000 and png_is_not_blank(shot.read_bytes())
