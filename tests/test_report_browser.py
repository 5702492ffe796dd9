"""The demo's pages as a person sees them (#17 item 5): the report, the transcript and the preview, rendered
by headless Chromium (tests/browser.py) at a phone's 375 px and at 1280 px.

The checks are on the DOM as laid out: nothing wider than the screen, the headline numbers on the first
screen, Chinese drawn in a CJK font (not boxes), the page in the workbook's language, charts and text at a
readable size. Screenshots go to the test's temporary folder. Without chromium the tests are skipped.
"""
from __future__ import annotations

import pytest

from browser import cjk_font_installed, open_browser, png_is_not_blank
from metrics_demo import demo_result

WIDTHS = (375, 1280)
PAGES = ("report", "transcript", "preview")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    page = open_browser(tmp_path_factory.mktemp("chromium"))
    yield page
    page.close()


def _url(name: str) -> str:
    result = demo_result()
    return {"report": result.workbook.parent / "report.html", "transcript": result.transcript,
            "preview": result.preview}[name].as_uri()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", PAGES)
def test_each_page_fits_the_screen(browser, tmp_path, name, width):
    browser.open(_url(name), width)
    layout = browser.layout()
    assert layout["width"] == width
    assert layout["scrollWidth"] <= width and not layout["wide"], layout      # no sideways scrolling, nothing cut
    assert layout["lang"] == "zh-CN"                                            # the workbook's language
    shot = browser.screenshot(tmp_path / f"{name}-{width}.png", full=True)
    assert shot.stat().st_size > 10_000 and png_is_not_blank(shot.read_bytes())


@pytest.mark.parametrize("name", PAGES)
def test_chinese_is_drawn_in_a_cjk_font(browser, name):
    if not cjk_font_installed():
        pytest.skip("no CJK font here (make browser installs fonts-noto-cjk, or apt-get install fonts-noto-cjk)")
    browser.open(_url(name), 375)
    glyphs = browser.glyphs("h1" if name != "transcript" else ".bubble")
    assert glyphs["cjk"] and not glyphs["control"], glyphs                      # glyphs, not missing-glyph boxes


def test_the_report_headline_is_on_a_phones_first_screen(browser, tmp_path):
    browser.open(_url("report"), 375, 800)
    head = browser.eval("""(() => { const h = document.querySelector('#headline'); if (!h) return null;
      const num = h.querySelector('.num'); const r = num.getBoundingClientRect();
      return {value: num.textContent, top: r.top, right: r.right, size: parseFloat(getComputedStyle(num).fontSize),
              words: h.querySelector('[data-words]').textContent, groups: h.querySelectorAll('li[data-group]').length,
              bottom: h.getBoundingClientRect().bottom}; })()""")
    assert head is not None, "the report has no headline section"
    assert head["value"].isdigit() and head["size"] >= 32 and head["top"] < 300 and head["right"] <= 375, head
    assert "比前7天平均" in head["words"] and head["groups"] == 4
    shot = browser.screenshot(tmp_path / "report-headline-375.png", selector="#headline")
    assert shot.stat().st_size > 10_000 and png_is_not_blank(shot.read_bytes())


def test_report_charts_and_labels_stay_readable_on_a_phone(browser):
    browser.open(_url("report"), 375)
    sizes = browser.eval("""(() => ({
      charts: Array.from(document.querySelectorAll('svg.chart')).map(s => s.getBoundingClientRect().width),
      axis: Math.min(...Array.from(document.querySelectorAll('svg.chart text')).map(t => t.getBoundingClientRect().height)),
      bars: Array.from(document.querySelectorAll('.funnel .bar')).map(b => b.getBoundingClientRect().width)}))()""")
    assert len(sizes["charts"]) >= 2 and all(300 <= w <= 375 for w in sizes["charts"]), sizes
    assert sizes["axis"] >= 9, sizes                   # axis labels of at least 9 px once scaled to the phone
    assert sizes["bars"] and min(sizes["bars"]) >= 300, sizes


def test_the_preview_is_readable_at_phone_width(browser):
    browser.open(_url("preview"), 375)
    widths = browser.eval("Array.from(document.querySelectorAll('.send')).map(e => e.getBoundingClientRect().width)")
    assert widths and min(widths) >= 280, widths[:5]    # a send in a day box as wide as the phone, not an 8th of it
    browser.open(_url("preview"), 1280)
    tops = browser.eval("Array.from(document.querySelector('section.group').querySelectorAll('.day'))"
                        ".map(e => Math.round(e.getBoundingClientRect().top))")
    assert len(set(tops)) == 1 and len(tops) >= 7       # on a desktop the days sit side by side


def test_the_transcript_shows_local_times_on_a_phone(browser):
    browser.open(_url("transcript"), 375)
    first = browser.eval("""(() => { const s = document.querySelector("section.group[data-group='G04']");
      return {time: s.querySelector('time').textContent, day: s.querySelector('div.day').textContent,
              width: s.getBoundingClientRect().width}; })()""")
    assert first["time"] == "07:00" and first["day"].startswith("2026年12月1日"), first   # 早安 at 07:00 local
    assert first["width"] >= 340, first
