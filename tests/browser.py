"""Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe): no extra package.

`--window-size` cannot make a headless window narrower than 500 px, so a phone is emulated the way DevTools
does it (Emulation.setDeviceMetricsOverride, mobile: the page's viewport meta applies). `Page.open(url, width)`
loads a page at that width; `.eval(js)` returns a value; `.screenshot(path)` writes a PNG. Needs `chromium`
(or `chromium-browser`) on PATH: `make browser` installs it (and fonts-noto-cjk) where it can; without it the
tests that use it are skipped.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

# Which font the page's text resolves to cannot be read from the DOM, so it is drawn: with no CJK font every
# Chinese character falls back to the same "missing glyph" box, so two different characters draw the same
# pixels. The control pair (two private-use code points no font covers) must draw the same pixels, which shows
# the check can tell a box from a glyph.
GLYPHS_JS = """(() => {
  const probe = (font, a, b) => {
    const c = document.createElement('canvas'); c.width = 80; c.height = 80;
    const x = c.getContext('2d');
    const draw = ch => { x.clearRect(0, 0, 80, 80); x.font = font; x.textBaseline = 'top'; x.fillStyle = '#000';
                         x.fillText(ch, 4, 4); return Array.from(x.getImageData(0, 0, 80, 80).data).join(','); };
    return draw(a) !== draw(b);
  };
  const el = document.querySelector(%s) || document.body;
  const font = getComputedStyle(el).font;
  return {font, cjk: probe(font, '\u8fd0', '\u8425') && probe(font, '\u7fa4', '\u6d3b'),
          control: probe(font, '\\ue000', '\\ue001')};
})()"""

LAYOUT_JS = """(() => ({width: innerWidth, scrollWidth: document.documentElement.scrollWidth,
  lang: document.documentElement.lang,
  wide: Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > innerWidth + 1
        && !e.closest('[data-scroll]')).slice(0, 5).map(e => e.tagName + '.' + e.className)}))()"""


def cjk_font_installed() -> bool:
    """fonts-noto-cjk (or any font fontconfig says covers Chinese)."""
    try:
        found = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return bool(found.strip())


def chromium() -> str:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        pytest.skip("chromium is not installed here (make browser, or apt-get install chromium, to run this check)")
    return browser


class Page:
    def __init__(self, browser: str, profile: Path):
        try:
            self._start(browser, profile)
        except (OSError, RuntimeError):
            if hasattr(self, "proc"):
                self.close()
            raise

    def _start(self, browser: str, profile: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def fds():  # chromium reads commands on fd 3 and writes replies on fd 4
            theirs_r, theirs_w = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(theirs_r, 3)
            os.dup2(theirs_w, 4)
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"]
        profile.mkdir(parents=True, exist_ok=True)
        self._stderr = open(profile / "chromium.stderr", "wb")
        self.proc = subprocess.Popen([browser, *flags], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self._stderr, preexec_fn=fds, pass_fds=(3, 4))
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer, self._id, self.events = b"", 0, []
        target = next(t for t in self.send("Target.getTargets")["targetInfos"] if t["type"] == "page")
        self.session = self.send("Target.attachToTarget", targetId=target["targetId"], flatten=True)["sessionId"]
        self.send("Page.enable", session=True)

    def _read(self) -> dict:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(line)

    def send(self, method: str, session: bool = False, **params):
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def open(self, url: str, width: int, height: int = 900) -> "Page":
        self.send("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=width < 600)
        self.events = []
        self.send("Page.navigate", session=True, url=url)
        deadline = time.monotonic() + 30
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(url)
            self.events.append(self._read())
        self.eval("document.fonts.ready.then(() => true)")
        return self

    def eval(self, expression: str):
        result = self.send("Runtime.evaluate", session=True, expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def layout(self) -> dict:
        return self.eval(LAYOUT_JS)

    def glyphs(self, selector: str = "body") -> dict:
        return self.eval(GLYPHS_JS % json.dumps(selector))

    def screenshot(self, path: Path, selector: str | None = None, full: bool = False) -> Path:
        params = {"format": "png"}
        if selector:
            box = self.eval(f"(() => {{const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
                            "return {x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height};})()")
            params.update(clip={**box, "scale": 1}, captureBeyondViewport=True)
        elif full:
            size = self.eval("({w: innerWidth, h: document.documentElement.scrollHeight})")
            params.update(clip={"x": 0, "y": 0, "width": size["w"], "height": min(size["h"], 12000), "scale": 1},
                          captureBeyondViewport=True)
        data = base64.b64decode(self.send("Page.captureScreenshot", session=True, **params)["data"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.send("Browser.close")
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)
        self._stderr.close()

    def __enter__(self) -> "Page":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_browser(tmp_path: Path, attempts: int = 3) -> Page:
    """A started Chromium. Two starting at once on a fresh machine (xdist's two workers building the font and
    NSS caches) can make one exit before it answers; that start is retried with a new profile, and the last
    failure says what Chromium printed."""
    browser = chromium()
    for attempt in range(1, attempts + 1):
        profile = tmp_path / f"profile{attempt}"
        try:
            return Page(browser, profile)
        except (OSError, RuntimeError) as failure:
            page_error = failure
            time.sleep(attempt)
    printed = (profile / "chromium.stderr").read_bytes()[-2000:].decode(errors="replace")
    raise RuntimeError(f"chromium did not start in {attempts} attempts ({page_error!r}); it printed:\n{printed}")


def png_is_not_blank(data: bytes) -> bool:
    """Decode the PNG's image data (zlib) and check it holds more than one colour's worth of bytes."""
    import zlib
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        if data[pos + 4:pos + 8] == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    return len(set(zlib.decompress(idat))) > 16
