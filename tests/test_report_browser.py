"""The HTML report after the 30-day demo, as headless Chromium renders it: every plot drawn, none blank.

Needs `chromium` (or `chromium-browser`) on PATH; `make browser` installs it where it can. Without it the
test is skipped: it installs nothing. The report embeds plotly.js, so the page loads nothing from outside.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from metrics_demo import demo_result
from qunflow.metrics.report_html import write_report
from qunflow.stores.xlsx import read_xlsx
from qunflow.sheet.load import load_workbook

FIGURES = ("northstar", "funnel", "cohorts", "rules", "timeline")


def chromium() -> str:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        pytest.skip("chromium is not installed here (make browser, or apt-get install chromium, to run this check)")
    return browser


def run_chromium(browser: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]
    return subprocess.run([browser, *flags, *args], capture_output=True, text=True, timeout=120)


class Plots(HTMLParser):
    """For each plotly plot (a div.js-plotly-plot), what it drew: svg roots, trace groups and their marks."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str | None, list]] = []       # (tag, the plot it is in, its classes)
        self.plots: dict[str, dict] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        plot = self.stack[-1][1] if self.stack else None
        parent = self.stack[-1][2] if self.stack else []
        if tag == "div" and "js-plotly-plot" in classes:
            plot = attrs.get("id")
            self.plots[plot] = {"svg": 0, "traces": 0, "marks": 0, "images": 0}
        if plot is not None:
            found = self.plots[plot]
            found["svg"] += tag == "svg" and "main-svg" in classes
            found["traces"] += tag == "g" and bool({"trace", "hm"} & set(classes))
            d = attrs.get("d") or ""
            found["marks"] += tag == "path" and len(d) > 8 and bool({"point", "js-line"} & set(classes + parent)
                                                                    or "region" in parent)
            href = attrs.get("href") or attrs.get("xlink:href") or ""
            found["images"] += tag == "image" and href.startswith("data:image/png") and len(href) > 200
        if tag not in ("br", "img", "meta", "link", "input", "hr", "path", "image", "rect", "circle", "line", "use", "stop"):
            self.stack.append((tag, plot, classes))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if self.stack and self.stack[-1][0] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    wb = load_workbook(read_xlsx(demo_result().workbook))
    path = write_report(wb, tmp_path_factory.mktemp("report") / "report.html")
    return path, wb


def test_the_report_is_one_offline_file(report):
    path, wb = report
    text = path.read_text(encoding="utf-8")
    assert text.count("<script") >= len(FIGURES) and len(text) > 3_000_000   # plotly.js itself is in the file
    assert not re.search(r"<script[^>]+src=", text)      # plotly.js is inline, nothing is fetched
    assert "运营报告" in text and "还没有带“实验组”" in text    # in the sheet's language; the demo has no A/B rule


def test_every_plot_renders_in_chromium_and_none_is_blank(report, tmp_path):
    browser = chromium()
    path, wb = report
    done = run_chromium(browser, tmp_path, "--dump-dom", path.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    plots = Plots()
    plots.feed(done.stdout)
    assert set(plots.plots) == {f"fig-{name}" for name in FIGURES}, plots.plots
    for name, found in plots.plots.items():
        assert found["svg"] >= 1 and found["traces"] >= 1, (name, found)
        if name == "fig-cohorts":
            assert found["images"] == 1, found             # a heatmap is drawn as one PNG image
        else:
            assert found["marks"] >= 3, (name, found)     # points, bars, funnel stages, lines
    groups = len(wb.groups)
    assert plots.plots["fig-funnel"]["traces"] == groups and plots.plots["fig-rules"]["traces"] == groups
    shot = tmp_path / "report.png"
    done = run_chromium(browser, tmp_path, "--window-size=1200,2800", f"--screenshot={shot}", path.as_uri())
    assert done.returncode == 0 and shot.stat().st_size > 30_000    # a blank page compresses to a few KB
