"""qunflow's Google store against a naive gspread script, through the same Sheets fake with 150 ms latency.

The naive way most scripts do it: open the sheet, `worksheet(title).get_all_records()` per tab,
`update_cell` per status, `append_row` per log row. Same process, same fake, same workload.
Also: cold import time of functions/main.py, and `preview --days 30` for 1,000 groups.
With --publish the figures also go into docs/PERFORMANCE.md (block "baseline").
"""
from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from publish import publish, should_publish  # noqa: E402
from workbooks import raw  # noqa: E402

from qunflow.sheet.changes import Changes  # noqa: E402
from qunflow.stores.gsheets import GoogleSheetsStore  # noqa: E402
from sheets_fake import FakeSheetsServer, gspread_client, gspread_session  # noqa: E402

MEMBERS, LOG_ROWS, STATUSES, LATENCY = 1_000, 100, 20, 0.150


def naive(server, sheet_id: str) -> None:
    gc = gspread_client(server.base_url)
    sh = gc.open_by_key(sheet_id)
    for title in ("Settings", "Groups", "Members", "Tags", "Coupons", "Templates", "SOP", "Events", "SendLog"):
        sh.worksheet(title).get_all_records()
    groups = sh.worksheet("Groups")
    for i in range(STATUSES):
        groups.update_cell(2 + i % 10, 12, "dead since today")
    log = sh.worksheet("SendLog")
    for i in range(LOG_ROWS):
        log.append_row([f"R01:G{i:04d}:20261201T1200Z", "R01", f"G{i:04d}", "", "", "sent", 1, "", "ok", "hi"],
                       value_input_option="RAW")


def qunflow(server, sheet_id: str) -> None:
    store = GoogleSheetsStore(sheet_id, session=gspread_session(server.base_url), sleep=lambda s: None, rng=random.Random(0))
    snapshot = store.read()
    changes = Changes()
    for i in range(STATUSES):
        changes.set("groups", f"G{i % 10:04d}", "status", "dead since today")
    changes.append("sendlog", [{"send_id": f"R01:G{i:04d}:20261201T1200Z", "rule_id": "R01", "group_id": f"G{i:04d}",
                                "status": "sent", "attempts": 1, "outcome": "ok", "preview": "hi"} for i in range(LOG_ROWS)])
    store.write(changes, snapshot, "en")


def compare() -> list[str]:
    rows = []
    with FakeSheetsServer() as server:
        results = {}
        for name, fn in (("naive gspread", naive), ("qunflow", qunflow)):
            server.create_spreadsheet(name, raw(MEMBERS))
            server.latency_seconds = LATENCY
            server.reset_counts()
            t0 = time.perf_counter()
            fn(server, name)
            results[name] = (server.request_count, time.perf_counter() - t0)
            server.latency_seconds = 0
        (nr, nt), (qr, qt) = results["naive gspread"], results["qunflow"]
        rows.append(f"| naive gspread | {nr} | {nt:.1f} s |")
        rows.append(f"| qunflow | {qr} | {qt:.1f} s |")
        rows.append(f"| ratio | {nr / qr:.0f}x fewer requests | {nt / qt:.0f}x faster |")
    return rows


def cold_import() -> float:
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import main"], cwd=ROOT / "functions", check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def preview_30_days() -> tuple[float, int]:
    from qunflow.jobs.preview import preview
    from qunflow.sheet.load import load_workbook
    wb = load_workbook(raw(10_000, 1_000, 50), today=date(2026, 11, 24))
    t0 = time.perf_counter()
    items = preview(wb, datetime(2026, 12, 1, tzinfo=timezone.utc), 30)
    return time.perf_counter() - t0, len(items)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--publish", action="store_true", help="also write the figures into docs/PERFORMANCE.md")
    args = parser.parse_args(argv)
    print(f"Workload: {MEMBERS:,} members, read every tab, {STATUSES} status updates, {LOG_ROWS} log rows; "
          f"the fake answers each request after {LATENCY * 1000:.0f} ms.\n")
    lines = ["| | Sheets requests | time |", "|---|---|---|", *compare(), ""]
    seconds, n = preview_30_days()
    lines += [f"- cold import of functions/main.py (median of 5, including the interpreter's start): {cold_import():.2f} s",
              f"- preview --days 30, 1,000 groups / 10,000 members / 50 rules: {seconds:.1f} s for {n:,} sends"]
    body = "\n".join(lines)
    print(body)
    if should_publish(args.publish):
        publish("baseline", body)


if __name__ == "__main__":
    main()
