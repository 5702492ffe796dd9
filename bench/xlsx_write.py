"""`python bench/xlsx_write.py`: the local workbook's write, the old writer (openpyxl) against the new (the patcher).

A tick-sized change (50 members' `welcomed_at` spread over the Members tab, 20 SendLog rows, `last_tick`)
written to a generated workbook at 20k and 100k members, by:

- old: today's openpyxl writer, as it was before the patcher (`write_with_openpyxl` below: check the digest,
  read the file again, plan, load the whole workbook with openpyxl, apply, save it whole, rename);
- new: `XlsxStore.write` (the patcher: only the changed sheets' XML is rewritten, the rest copied as bytes);
- new, small: the same store with a change that leaves Members alone (a group status and `last_tick`): what a
  write costs when the big tab is not touched.

Each case runs in a fresh process (`--case MEMBERS WRITER CHANGE FOLDER`), so its peak RSS is its own: the peak
is reset just before the write (Linux: /proc/self/clear_refs; elsewhere it covers the process). The workbook is
generated once per size (bench/workbooks.py, fixed seed) and copied for each case; neither is timed. Every case
reads the workbook back afterwards and checks the change is there.

    python bench/xlsx_write.py                 # prints the table
    python bench/xlsx_write.py --publish       # ... and into docs/PERFORMANCE.md (block "xlsx-write")
    BENCH_QUICK=1 python bench/xlsx_write.py   # 2,000 members only, printed, not published
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "functions"))

from publish import publish, quick, should_publish  # noqa: E402

SIZES, QUICK_SIZES = (20_000, 100_000), (2_000,)
CASES = (("openpyxl", "tick"), ("patch", "tick"), ("patch", "small"))
LABELS = {("openpyxl", "tick"): "old (openpyxl)", ("patch", "tick"): "new (patch)",
          ("patch", "small"): "new, Members untouched"}
GOAL_S = 3.0        # 20k members read and written
TIMEOUT = 900.0


def changes_for(members: int, change: str):
    """The change a tick writes: `tick` touches Members, SendLog and Settings; `small` Groups and Settings."""
    from qunflow.sheet.changes import Changes
    changes = Changes()
    if change == "tick":
        for i in range(0, members, max(1, members // 50)):
            changes.set("members", f"M{i:07d}", "welcomed_at", "2026-12-03 20:01:00")
        changes.append("sendlog", [{"send_id": f"R0001:G{g:04d}:20261203T1201Z", "rule_id": "R0001",
                                    "group_id": f"G{g:04d}", "status": "sent", "attempts": 1,
                                    "sent_at": "2026-12-03 20:01:05", "preview": "Hello group"} for g in range(20)])
    else:
        changes.set("groups", "G0001", "status", "webhook dead since 2026-12-03")
    changes.upsert("settings", [{"key": "last_tick", "value": "2026-12-03 12:01:00+00:00"}])
    return changes


def write_with_openpyxl(store, changes, snapshot, lang: str = "en"):
    """The writer as it was before the patcher (qunflow.stores.xlsx at 33064e6), kept here to compare."""
    from openpyxl import load_workbook
    from qunflow.sheet.problems import ProblemSink
    from qunflow.sheet.schema import load_schemas
    from qunflow.sheet.tables import locate
    from qunflow.stores.base import WriteReport
    from qunflow.stores.writeplan import plan_writes
    from qunflow.stores.xlsx import _digest, apply_plan, read_xlsx, save_atomic
    if snapshot.version is not None and _digest(store.path) != snapshot.version:
        return WriteReport(deferred=True, reason="changed")
    raw = read_xlsx(store.path)
    plan = plan_writes(locate(raw, load_schemas(), ProblemSink(lang)).tables, changes, lang)
    book = load_workbook(store.path)
    apply_plan(book, plan)
    save_atomic(book, store.path)
    return WriteReport(skipped=plan.skipped)


def check(path: Path, members: int, change: str) -> bool:
    """The change reads back (python-calamine, the store's own reader)."""
    from qunflow.sheet.load import load_workbook
    from qunflow.stores.xlsx import XlsxStore
    wb = load_workbook(XlsxStore(path).read().raw)
    if wb.settings.extra.get("last_tick") is None:
        return False
    if change == "tick":
        last = (members - 1) // max(1, members // 50) * max(1, members // 50)
        return (len(wb.sendlog) == 20 and wb.members["M0000000"].welcomed_at is not None
                and wb.members[f"M{last:07d}"].welcomed_at is not None)
    return wb.groups["G0001"].status == "webhook dead since 2026-12-03"


def measure(members: int, writer: str, change: str, folder: Path) -> dict:
    """One case, in this process: read, then write (timed, with its own peak RSS), then check."""
    from tickcell import release_freed_memory, reset_peak_rss, status_kib
    from qunflow.stores.xlsx import XlsxStore
    path = folder / f"case-{writer}-{change}.xlsx"
    shutil.copy(folder / "book.xlsx", path)
    store = XlsxStore(path)
    t0 = time.perf_counter()
    snapshot = store.read()
    read_s = time.perf_counter() - t0
    changes = changes_for(members, change)
    release_freed_memory()
    before = status_kib("VmRSS")
    scope = reset_peak_rss()
    t0 = time.perf_counter()
    if writer == "openpyxl":
        report = write_with_openpyxl(store, changes, snapshot)
    else:
        report = store.write(changes, snapshot, "en")
    write_s = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"members": members, "writer": writer, "change": change, "read_s": round(read_s, 3),
            "write_s": round(write_s, 3), "peak_rss_mib": round(peak, 1), "peak_scope": scope,
            "rss_before_mib": round(before / 1024, 1) if before is not None else None,
            "deferred": report.deferred, "ok": not report.deferred and check(path, members, change),
            "file_mib": round((folder / "book.xlsx").stat().st_size / 2**20, 2)}


def run_case(members: int, writer: str, change: str, folder: Path) -> dict:
    command = [sys.executable, str(BENCH / "xlsx_write.py"), "--case", str(members), writer, change, str(folder)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"error": "timeout"}
    if done.returncode != 0:
        last = next((l for l in reversed(done.stderr.splitlines()) if l.strip()), f"exit {done.returncode}")
        return {"error": last.strip()[:80]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def fmt(cell: dict) -> tuple[str, str, str]:
    """write time, read + write, peak RSS (+ the write's growth)."""
    if "error" in cell:
        return cell["error"].replace("|", "/"), "-", "-"
    if not cell["ok"]:
        return "WRONG: the change did not read back", "-", "-"
    growth = cell["peak_rss_mib"] - (cell["rss_before_mib"] or 0)
    memory = f"{cell['peak_rss_mib']:.0f} MiB" + (f" (+{growth:.0f})" if cell["peak_scope"] == "tick" else "")
    return f"{cell['write_s']:.2f} s", f"{cell['read_s'] + cell['write_s']:.2f} s", memory


def table(results: dict[tuple, dict]) -> str:
    head = "| members | file | writer | write | read + write | peak RSS during the write (+growth) | per member row |"
    lines = [head, "|---:|---:|---|---:|---:|---:|---:|"]
    for (members, writer, change), cell in results.items():
        write, both, memory = fmt(cell)
        per_row = f"{cell['write_s'] / members * 1000:.4f} ms" if "error" not in cell else "-"
        size = f"{cell['file_mib']:.1f} MiB" if "file_mib" in cell else "-"
        lines.append(f"| {members:,} | {size} | {LABELS[(writer, change)]} | {write} | {both} | {memory} | {per_row} |")
    return "\n".join(lines)


def summary(results: dict[tuple, dict], sizes: tuple[int, ...]) -> str:
    out = []
    for members in sizes:
        old, new = results.get((members, "openpyxl", "tick"), {}), results.get((members, "patch", "tick"), {})
        if old.get("ok") and new.get("ok"):
            out.append(f"- {members:,} members: the new writer is {old['write_s'] / new['write_s']:.0f}x faster "
                       f"({old['write_s']:.2f} s → {new['write_s']:.2f} s).")
    small = [results.get((m, "patch", "small"), {}) for m in sizes]
    if len(sizes) > 1 and all(c.get("ok") for c in small):
        out.append(f"- Members untouched: {small[0]['write_s']:.2f} s at {sizes[0]:,} members, "
                   f"{small[-1]['write_s']:.2f} s at {sizes[-1]:,}.")
    goal = results.get((20_000, "patch", "tick"))
    if goal and goal.get("ok"):
        both = goal["read_s"] + goal["write_s"]
        out.append(f"- Goal, 20,000 members read and written in ≤ {GOAL_S:.0f} s: {both:.2f} s, "
                   f"{'met' if both <= GOAL_S else 'NOT met'}.")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", nargs=4, metavar=("MEMBERS", "WRITER", "CHANGE", "FOLDER"),
                        help="measure one case in this process and print its JSON line")
    parser.add_argument("--publish", action="store_true", help="also write the table into docs/PERFORMANCE.md")
    args = parser.parse_args(argv)
    if args.case:
        members, writer, change, folder = args.case
        print(json.dumps(measure(int(members), writer, change, Path(folder))))
        return 0
    from workbooks import raw, write_xlsx_fast
    sizes = QUICK_SIZES if quick() else SIZES
    print(f"qunflow xlsx write: {len(sizes) * len(CASES)} cases, each in a fresh process", flush=True)
    results: dict[tuple, dict] = {}
    for members in sizes:
        with tempfile.TemporaryDirectory(prefix="qunflow-xlsx-write-") as tmp:
            write_xlsx_fast(raw(members), Path(tmp) / "book.xlsx")
            for writer, change in CASES:
                results[(members, writer, change)] = cell = run_case(members, writer, change, Path(tmp))
                print(f"  {members:>7,} {LABELS[(writer, change)]:<24} " + "  ".join(fmt(cell)), flush=True)
    body = f"{table(results)}\n\n{summary(results, sizes)}"
    print(f"\n{body}")
    if should_publish(args.publish):
        publish("xlsx-write", body)
    return 0 if all(c.get("ok") for c in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
