"""bench/grid.py on one tiny cell per store, bench/history.py at its quick size, and bench/publish.py's block
replacement.

No timing is asserted: only that a cell runs a real tick end to end and reports sane figures, and that
publishing touches its own block and nothing else. The real docs/PERFORMANCE.md is never written.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import grid  # noqa: E402
import history  # noqa: E402
import publish  # noqa: E402


def run_cell(store: str) -> dict:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "grid.py"), "--cell", "200", "5", "10", store],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("store", ["memory", "xlsx"])
def test_one_tiny_cell_runs_a_whole_tick(store):
    cell = run_cell(store)
    assert (cell["members"], cell["groups"], cell["rules"], cell["store"]) == (200, 5, 10, store)
    assert cell["due"] == cell["sent"] > 0 and cell["failed"] == 0
    assert cell["http_requests"] >= cell["sent"]
    assert cell["peak_rss_mib"] > 0 and cell["wall_s"] > 0
    assert cell["store_requests"] == {"read": 1, "write": 1}
    assert (cell["file_mib"] is None) == (store == "memory")
    if cell["peak_scope"] == "tick":
        assert cell["peak_rss_mib"] >= cell["rss_before_mib"] > 0


def test_a_failing_cell_becomes_a_short_error_and_the_table_still_renders():
    failed = grid.run_cell(200, 5, 10, "nosuchstore", timeout=120)
    assert failed["error"].startswith("ValueError: unknown store") and "\n" not in failed["error"]
    assert grid.run_cell(100_000, 10, 50, "xlsx", timeout=0.5) == {"error": "timeout"}
    ok = {"wall_s": 1.234, "cpu_s": 1.1, "peak_rss_mib": 100.0, "rss_before_mib": 60.0, "peak_scope": "tick", "due": 3, "sent": 3}
    text = grid.table({(1000, 10, 50, "memory"): ok, (1000, 10, 50, "xlsx"): {"error": "timeout"}}, ("memory", "xlsx"))
    assert "| 1,000 | 10 | 50 | 1.23 s (CPU 1.10) | 100 MiB (+40) | timeout | - | 3 / 3 |" in text


def test_the_history_bench_runs_both_cases_at_its_quick_size(tmp_path):
    counts = history.prepare(tmp_path, history.QUICK)
    before, after = (history.run_case(case, "memory", tmp_path, timeout=120) for case in history.CASES)
    assert "error" not in before and "error" not in after, (before, after)
    assert before["due"] == after["due"] > 0 and before["sent"] == after["sent"] == before["due"]
    assert before["failed"] == after["failed"] == 0 and before["problems"] == after["problems"] == 0
    # before parses the month's SendLog; after parses none of it, and the tab held the 14-day window only,
    # which matched the store (nothing to rewrite: the bench measures the everyday tick, not the daily rewrite)
    assert before["sendlog_rows_parsed"] == before["sendlog_tab_rows"] == counts["sends"] == 3_000
    assert after["sendlog_rows_parsed"] == 0 and after["sendlog_tab_rows"] == counts["window"] < counts["sends"]
    assert after["sendlog_rewritten"] is False
    assert before["events_parsed"] == after["events_parsed"] == counts["events"]
    assert before["sheets_requests"] == after["sheets_requests"] == {"read": 1, "write": 1}
    text = history.table([before, after], counts)
    assert "| after: state store, SendLog projected | memory |" in text and "0 of 1,400" in text


DOC = """# Title

Hand-written text.

<!-- bench:grid -->
| old | table |
<!-- /bench:grid -->

More prose.

<!-- bench:other -->
keep me
<!-- /bench:other -->
"""


def test_replace_block_swaps_only_that_block():
    out = publish.replace_block(DOC, "grid", "| new | table |\n")
    assert out == DOC.replace("| old | table |", "| new | table |")
    assert publish.replace_block(out, "grid", "| new | table |") == out      # idempotent


def test_a_missing_or_doubled_block_is_a_clear_error():
    with pytest.raises(publish.BlockNotFound, match=r"no '<!-- bench:absent -->'"):
        publish.replace_block(DOC, "absent", "x")
    with pytest.raises(publish.BlockNotFound, match="2"):
        publish.replace_block(DOC + DOC, "grid", "x")


def test_publish_writes_the_machine_line_and_the_body_into_a_temp_file(tmp_path, monkeypatch):
    monkeypatch.delenv("BENCH_QUICK", raising=False)
    doc = tmp_path / "PERFORMANCE.md"
    doc.write_text(DOC, encoding="utf-8")
    publish.publish("other", "| a | b |", doc=doc)
    text = doc.read_text(encoding="utf-8")
    block = text.split("<!-- bench:other -->\n")[1].split("<!-- /bench:other -->")[0]
    machine, _, body = block.partition("\n\n")
    assert machine.startswith("_Measured ") and "cores" in machine and "Python 3." in machine
    assert body == "| a | b |\n"
    assert text.split("<!-- bench:other -->")[0] == DOC.split("<!-- bench:other -->")[0]   # the rest untouched


def test_quick_runs_are_never_published(monkeypatch):
    monkeypatch.setenv("BENCH_QUICK", "1")
    assert publish.should_publish(True) is False
    monkeypatch.delenv("BENCH_QUICK")
    assert publish.should_publish(True) is True and publish.should_publish(False) is False
