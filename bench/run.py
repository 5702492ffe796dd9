"""`make bench`: figures for docs/PERFORMANCE.md. Fixed seeds; run on an idle machine.

Prints two tables: the sheet model (parse, xlsx read and write, Google requests) and the tick (plan, one
whole tick). Sizes are kept to what a 2-core machine does in a few minutes. With --publish, each table
also goes into its block of docs/PERFORMANCE.md ("model" and "tick").
"""
from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import sys
import tempfile
import time
import tracemalloc
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from publish import publish, quick, should_publish  # noqa: E402
from workbooks import raw, write_xlsx_fast  # noqa: E402

from qunflow.sheet.changes import Changes  # noqa: E402
from qunflow.stores.xlsx import XlsxStore  # noqa: E402
from qunflow.sheet.load import load_workbook  # noqa: E402

TODAY = date(2026, 11, 24)
ROWS: dict[str, list[tuple[str, str, str, str]]] = {"model": [], "tick": []}  # table -> rows


def measure(fn, repeat_for_memory: bool = True):
    """(result, seconds, peak MiB). Timed without tracemalloc (it slows allocation-heavy code 2-3x);
    the peak of Python allocations comes from a second, traced run."""
    gc.collect()
    t0 = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t0
    if not repeat_for_memory:
        return result, seconds, float("nan")
    gc.collect()
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, seconds, peak / 2**20


def add(what: str, size: str, seconds: float | str, extra: str = "", table: str = "model") -> None:
    row = (what, size, f"{seconds:.2f} s" if isinstance(seconds, float) else seconds, extra)
    ROWS[table].append(row)
    print(f"  {what:<44} {size:<22} {row[2]:>10}  {extra}", flush=True)


def markdown(rows: list[tuple[str, str, str, str]]) -> str:
    return "\n".join(["| what | size | time | notes |", "|---|---|---|---|"] + ["| " + " | ".join(r) + " |" for r in rows])


def bench_parse(sizes):
    for members in sizes:
        book = raw(members)
        wb, s, peak = measure(lambda: load_workbook(book, today=TODAY))
        add("parse + validate (memory store)", f"{members:,} members", s, f"peak {peak:.0f} MiB, {len(wb.problems)} problems")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "b.xlsx"
            write_xlsx_fast(book, path)
            size_mb = path.stat().st_size / 2**20
            store = XlsxStore(path)
            snap, s, peak = measure(store.read)
            add("xlsx read (python-calamine)", f"{members:,} members", s, f"peak {peak:.0f} MiB, file {size_mb:.1f} MiB")
            from openpyxl import load_workbook as ox

            def openpyxl_read():
                b = ox(path, read_only=True, data_only=True)
                out = {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in b.worksheets}
                b.close()
                return out
            _, s, peak = measure(openpyxl_read)
            add("xlsx read (openpyxl read-only), for comparison", f"{members:,} members", s, f"peak {peak:.0f} MiB")
            changes = Changes()
            changes.append("sendlog", [{"send_id": f"S{i}", "status": "sent"} for i in range(1000)])
            # timed once only: a second write would find the file changed since `snap` and defer (a cheap JSON
            # write), so a traced rerun would not measure the write; the grid gives the xlsx tick's RSS instead
            report, s, _ = measure(lambda: store.write(changes, snap, "en"), repeat_for_memory=False)
            add("xlsx write back 1,000 log rows (sheet XML patched in place)", f"{members:,} members", s,
                "deferred!" if report.deferred else "")


def bench_google(members: int):
    from qunflow.stores.gsheets import GoogleSheetsStore
    from sheets_fake import FakeSheetsServer, gspread_session
    with FakeSheetsServer() as server:
        server.create_spreadsheet("B", raw(members))
        store = GoogleSheetsStore("B", session=gspread_session(server.base_url), sleep=lambda s: None, rng=random.Random(0))
        server.reset_counts()
        snap = store.read()
        reads = server.request_count
        changes = Changes()
        changes.set("groups", "G0001", "status", "dead")
        changes.append("sendlog", [{"send_id": f"S{i}", "status": "sent"} for i in range(1000)])
        changes.upsert("metrics", [{"date": "2026-11-24", "group_id": f"G{g:04d}", "members": 1} for g in range(100)])
        server.reset_counts()
        store.write(changes, snap, "en")
        add("Google: read every tab / write back", f"{members:,} members", f"{reads} / {server.request_count} req",
            "1,000 log rows + statuses + 100 metric rows")
        import qunflow.stores.gsheets as gsheets
        merge = gsheets.merge_writes
        for label, limit, merging in (("old: a range a cell, no cap", 10 ** 12, False),
                                      ("new: cells merged, cut at 2 MB", None, True)):
            gsheets.merge_writes = merge if merging else list      # the old writer sent each cell as a range
            try:
                first_write(server, members, label, limit)
            finally:
                gsheets.merge_writes = merge


def first_write(server, members: int, label: str, limit: int | None):
    """A first tick's write at a big shop: every member's welcomed_at, a SendLog row each, half of them as Events."""
    from qunflow.stores.gsheets import GoogleSheetsStore
    from sheets_fake import gspread_session
    name = f"F{members}{limit}"
    server.create_spreadsheet(name, raw(members))
    kw = {} if limit is None else {"max_request_bytes": limit}
    store = GoogleSheetsStore(name, session=gspread_session(server.base_url), sleep=lambda s: None,
                              rng=random.Random(0), **kw)
    snap = store.read()
    wb = load_workbook(snap.raw)
    changes = Changes()
    ids = list(wb.members)
    for member_id in ids:
        changes.set("members", member_id, "welcomed_at", "2026-11-24 10:00:00")
    changes.append("sendlog", [{"send_id": f"W01:G0001:{m}", "rule_id": "W01", "group_id": "G0001", "status": "sent",
                                "preview": f"欢迎 {m} 加入本群，领取新人券"} for m in ids])
    changes.append("events", [{"event_id": f"E{m}", "type": "join", "member_id": m, "group_id": "G0001",
                               "at": "2026-11-24 09:00"} for m in ids[::2]])
    server.reset_counts()
    started = time.perf_counter()
    store.write(changes, snap, "en")
    took = time.perf_counter() - started
    sizes = [r["bytes"] for r in server.requests if r["method"] != "GET"]
    ranges = sum(len((r.get("body") or {}).get("data") or []) for r in server.requests)
    add(f"Google: first write, {label}", f"{members:,} members", f"{len(sizes)} req",
        f"largest {max(sizes) / 1e6:.1f} MB, total {sum(sizes) / 1e6:.1f} MB, {ranges:,} ranges, {took:.1f} s")


def bench_tick(members: int, groups: int, rules: int):
    """A whole tick: parse 100k members, plan 500 rules x 1,000 groups, deliver to the emulator, write back."""
    from datetime import datetime, timezone
    import requests
    from qunflow.emulator import Emulator
    from qunflow.engine.plan import plan_sends
    from qunflow.engine.ledger import Ledger
    from qunflow.delivery.secrets import SecretResolver
    from qunflow.stores.memory import MemoryStore
    from qunflow.jobs.tick import TickDeps, run_tick
    book = raw(members, groups, rules)
    for line in book["Groups"][1:]:
        line[2] = "wecom"  # platform column: one platform, so the bound is simple
    now = datetime(2026, 12, 3, 12, 1, tzinfo=timezone.utc)  # 20:01 in Shanghai, day 3 of the campaign

    class Clock:
        t = now.timestamp()
        def __call__(self):
            return self.t
        def sleep(self, s):
            self.t += max(0.0, s)
    clock = Clock()
    with Emulator(clock=clock, strict=False) as emulator:
        env = {f"QUNFLOW_HOOK_{g}": f"{emulator.base_url}/cgi-bin/webhook/send?key=bench-{g:05d}-key" for g in range(groups)}
        store = MemoryStore(book)
        wb = load_workbook(book, today=TODAY)
        _, s, peak = measure(lambda: plan_sends(wb, Ledger(), now.replace(minute=0), now, now))
        add("plan what is due (pure)", f"{members:,} m / {groups:,} g / {rules} r", s, f"peak {peak:.0f} MiB", "tick")
        deps = TickDeps(session=requests.Session(), clock=clock, sleep=clock.sleep, resolver=SecretResolver(env=env))
        cpu0 = time.process_time()
        report, s, peak = measure(lambda: run_tick(store, now, deps), repeat_for_memory=False)
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        add("tick (memory store, emulator over HTTP)", f"{members:,} m / {groups:,} g / {rules} r", s,
            f"process max RSS {peak:.0f} MiB, CPU {time.process_time() - cpu0:.1f} s, due {report.due}, sent {report.sent}",
            "tick")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--publish", action="store_true", help="also write the tables into docs/PERFORMANCE.md")
    args = parser.parse_args(argv)
    quick_run = quick()
    print(f"qunflow bench · {date.today()} · {platform.machine()} · {os.cpu_count()} cores · Python {platform.python_version()}")
    bench_parse([10_000] if quick_run else [10_000, 100_000])
    bench_google(10_000 if quick_run else 50_000)
    bench_tick(10_000 if quick_run else 100_000, 100 if quick_run else 1000, 50 if quick_run else 500)
    publishing = should_publish(args.publish)
    for name, rows in ROWS.items():
        print(f"\n{markdown(rows)}")
        if publishing:
            publish(name, markdown(rows))


if __name__ == "__main__":
    main()
