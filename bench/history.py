"""`python bench/history.py`: a tick with one month of history, before and after the state store (#13).

100,000 members / 1,000 groups / 500 rules, and the month before NOW (2026-12-31 20:01 Shanghai): 500,000
events (messages, check-ins, orders, joins, over the members and their groups), 150,000 sends (5 per group
and day), one Metrics row per group and day. Two cases, each in a fresh process, on the same workbook:

- before: the sheet is qunflow's only memory (no state store). The tick parses the whole SendLog (150,000
  rows), the Events tab and the rest; `last_tick` is the Settings row, 5 minutes before NOW.
- after: a SQLite state file holds the 150,000 sends (final) and the 500,000 events (folded), and the cursors
  `sendlog_imported`, `sendlog_projected` (today) and `last_tick`. The SendLog tab shows the projection
  window only (the last 14 days); the tick locates it but does not parse it, and reads the sends from the
  store. The Events tab still holds the month: events are still read from the sheet in this version.

The workbook is generated once (fixed seed) and settled as the previous tick would have left it: members'
`last_active_at`, layer and review folded from the events, the Metrics rows rolled up from them. None of that,
nor filling the state file, is timed: only `run_tick(store, NOW, deps)` is, delivering over real HTTP to the
local chat emulator on a virtual clock (bench/tickcell.py). Peak RSS is reset just before the tick (Linux:
/proc/self/clear_refs); "before" is what the process held when the tick began.

    python bench/history.py                     # memory store and xlsx store, prints the table
    python bench/history.py --publish           # ... and into docs/PERFORMANCE.md (block "history")
    python bench/history.py --stores memory     # one store only
    BENCH_QUICK=1 python bench/history.py       # 2,000 members, 10,000 events, 3,000 sends: printed only
"""
from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "functions"))

from grid import load_average  # noqa: E402
from publish import publish, quick, should_publish  # noqa: E402

NOW = datetime(2026, 12, 31, 12, 1, tzinfo=timezone.utc)     # 20:01 in Shanghai, a Thursday, day 31
LAST_TICK = NOW - timedelta(minutes=5)
LOCAL = timezone(timedelta(hours=8))                          # Asia/Shanghai, the workbook's zone
DAYS, WINDOW_DAYS = 30, 14                                    # the history; the SendLog projection window
FULL = {"members": 100_000, "groups": 1_000, "rules": 500, "events": 500_000, "sends": 150_000}
QUICK = {"members": 2_000, "groups": 20, "rules": 20, "events": 10_000, "sends": 3_000}
CASES, STORES = ("before", "after"), ("memory", "xlsx")
EVENT_MIX = (("message", 0.70), ("checkin", 0.15), ("order", 0.10), ("join", 0.05))
TIMEOUT = 1800.0


def local_text(at: datetime) -> str:
    return at.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M:%S")


def from_local_text(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=LOCAL).astimezone(timezone.utc)


def history_events(size: dict, member_groups: list[str], rng: random.Random) -> list[dict]:
    """`size["events"]` events over the month before the last tick, in time order; event ids unique."""
    start, span = NOW - timedelta(days=DAYS), int((LAST_TICK - (NOW - timedelta(days=DAYS))).total_seconds())
    kinds, weights = zip(*EVENT_MIX)
    times = sorted(rng.randrange(span) for _ in range(size["events"]))
    events = []
    for n, (offset, kind) in enumerate(zip(times, rng.choices(kinds, weights, k=len(times)))):
        i = rng.randrange(size["members"])
        event = {"event_id": f"E{n:07d}", "type": kind, "member_id": f"M{i:07d}", "group_id": member_groups[i],
                 "at": local_text(start + timedelta(seconds=offset))}
        if kind == "order":
            event.update(amount=rng.randrange(20, 500), detail=f"order {n:07d}")
        events.append(event)
    return events


def history_sends(size: dict) -> list[dict]:
    """`size["sends"]` SendLog rows, `sent`: each group's few sends a day (8:00 to 19:00 local) over the 30
    local days ending today, from the rules that target every group; ids as the engine makes them."""
    from qunflow.engine.ledger import send_id
    groups, per_day = size["groups"], math.ceil(size["sends"] / (DAYS * size["groups"]))
    if per_day > 12:
        raise ValueError(f"{size['sends']:,} sends over {groups:,} groups is more than 12 a group and day")
    everywhere = [r for r in range(size["rules"]) if r % 5 == 0]          # bench/workbooks.py: groups "*"
    today = NOW.astimezone(LOCAL).date()
    rows = []
    for back in range(DAYS - 1, -1, -1):
        day = today - timedelta(days=back)
        for k in range(per_day):
            at = datetime(day.year, day.month, day.day, 8 + k * 11 // per_day, tzinfo=LOCAL).astimezone(timezone.utc)
            for g in range(groups):
                if len(rows) == size["sends"]:
                    return rows
                rule = f"R{everywhere[(g + k) % len(everywhere)]:04d}"
                rows.append({"send_id": send_id(rule, f"G{g:04d}", at), "rule_id": rule, "group_id": f"G{g:04d}",
                             "scheduled_for": local_text(at), "status": "sent", "attempts": 1,
                             "sent_at": local_text(at + timedelta(seconds=2 + g % 50)),
                             "preview": f"Hello group {g}, day {(day - today).days + 31}"})
    return rows


def settle(raw: dict) -> dict:
    """The workbook as the previous tick left it: events folded into Members, the month's Metrics rolled up."""
    from qunflow.members.lifecycle import apply_events
    from qunflow.metrics.rollup import Rollup, metric_rows
    from qunflow.metrics.facts import build_facts
    from qunflow.sheet.changes import Changes
    from qunflow.sheet.load import load_workbook
    from qunflow.sheet.problems import ProblemSink
    from qunflow.stores.memory import MemoryStore
    today = NOW.astimezone(LOCAL).date()
    wb = load_workbook(raw, today=today)
    changes = Changes()
    apply_events(wb, NOW, ProblemSink(wb.lang), changes)
    days = [today - timedelta(days=back) for back in range(DAYS - 1, -1, -1)]
    changes = changes.merge(Rollup(metrics=metric_rows(build_facts(wb), days)).changes())
    changes.fold_into_appends({k: t.schema.key_columns for k, t in wb.tables.items()})
    store = MemoryStore()
    store.raw = raw                   # no copy: the generated workbook is changed in place
    store.write(changes, None, wb.lang)
    return store.raw


def generate(size: dict, seed: int = 1) -> dict:
    """The month's workbook, settled (the before case's sheet; the after case trims its SendLog)."""
    from workbooks import rows
    from helpers import make_raw       # tests/helpers.py, on the path once bench/workbooks.py is imported
    book = rows(size["members"], size["groups"], size["rules"], seed)
    for g, group in enumerate(book["groups"]):
        group["platform"] = "wecom"       # one platform, one rate limit for all (as bench/grid.py)
        group["webhook"] = f"env:QUNFLOW_HOOK_{g}"
    rng = random.Random(seed + 1)
    book["events"] = history_events(size, [m["group_id"] for m in book["members"]], rng)
    book["sendlog"] = history_sends(size)
    book["settings"].append({"key": "last_tick", "value": LAST_TICK.isoformat(sep=" ")})
    return settle(make_raw(book))


def as_dicts(lines: list[list]) -> list[dict]:
    header = lines[0]
    return [{k: v for k, v in zip(header, line) if v not in ("", None)} for line in lines[1:]]


def fill_state(path: Path, raw: dict) -> None:
    """The after case's store: every send final, every event folded, the cursors; the SendLog tab trimmed to
    the projection window (the sends the tick's `sendlog_projection.in_window` keeps), so the tab shows what
    the store holds and the tick has no reason to rewrite it."""
    from qunflow.state.base import SendState, iso
    from qunflow.state.sqlite import SqliteState
    sends = [SendState(r["send_id"], r["status"], r["rule_id"], r["group_id"], from_local_text(r["scheduled_for"]),
                       int(r["attempts"]), None, from_local_text(r["sent_at"]), "", r.get("preview", ""))
             for r in as_dicts(raw["SendLog"])]
    events = as_dicts(raw["Events"])
    state = SqliteState(path)
    try:
        assert state.record(sends, LAST_TICK) == len(sends)
        assert state.put_events(events, LAST_TICK) == len(events)
        state.mark_folded([e["event_id"] for e in events])
        state.advance("sendlog_imported", iso(NOW - timedelta(days=DAYS)))
        state.advance("sendlog_projected", NOW.astimezone(LOCAL).date().isoformat())
        state.advance("last_tick", iso(LAST_TICK))
    finally:
        state.close()
    since, header = NOW - timedelta(days=WINDOW_DAYS), raw["SendLog"][0]
    column = header.index("scheduled_for")
    raw["SendLog"] = [header] + [line for line in raw["SendLog"][1:] if from_local_text(line[column]) >= since]


def watch_the_tick(seen: dict) -> None:
    """Count what the tick parsed and whether it rewrote the SendLog (wraps two of its calls, changes nothing)."""
    import qunflow.jobs.tick as tick
    load, project = tick.load_workbook, tick.sendlog_projection.project

    def counting_load(*args, **kwargs):
        wb = load(*args, **kwargs)
        seen.update(sendlog_rows_parsed=len(wb.sendlog), sendlog_tab_rows=len(wb.tables["sendlog"].rows),
                    events_parsed=len(wb.events))
        return wb

    def watched_project(*args, **kwargs):
        seen["sendlog_rewritten"] = (rewritten := project(*args, **kwargs)) is not None
        return rewritten

    tick.load_workbook = counting_load
    tick.sendlog_projection.project = watched_project


def measure(case: str, kind: str, folder: Path) -> dict:
    """One case, in this process: set up (not timed), then one tick, measured."""
    import requests
    from tickcell import VirtualClock, release_freed_memory, reset_peak_rss, status_kib
    from qunflow.delivery.secrets import SecretResolver
    from qunflow.emulator import Emulator
    from qunflow.jobs.tick import TickDeps, run_tick
    if case not in CASES or kind not in STORES:
        raise ValueError(f"unknown case {case!r} / store {kind!r}; expected {CASES} x {STORES}")
    with open(folder / "book.pickle", "rb") as file:
        raw = pickle.load(file)
    state = None
    if case == "after":
        from qunflow.state.sqlite import SqliteState
        fill_state(folder / f"{kind}.qunflow-state.sqlite", raw)
        state = SqliteState(folder / f"{kind}.qunflow-state.sqlite")      # opened afresh, as a new run would
    groups = len(raw["Groups"]) - 1
    if kind == "memory":
        from qunflow.stores.memory import MemoryStore
        store = MemoryStore()
        store.raw = raw                    # the store's own copy: nobody else holds it
    else:
        from qunflow.stores.xlsx import XlsxStore
        from workbooks import write_xlsx_fast
        write_xlsx_fast(raw, folder / f"{case}.xlsx")
        store = XlsxStore(folder / f"{case}.xlsx")
    del raw
    seen: dict = {}
    watch_the_tick(seen)
    clock = VirtualClock(NOW.timestamp())
    with Emulator(clock=clock, strict=False) as emulator, requests.Session() as session:
        env = {f"QUNFLOW_HOOK_{g}": f"{emulator.base_url}/cgi-bin/webhook/send?key=bench-{g:05d}-key" for g in range(groups)}
        deps = TickDeps(session=session, clock=clock, sleep=clock.sleep, resolver=SecretResolver(env=env), state=state)
        release_freed_memory()
        rss_before, setup_peak = status_kib("VmRSS"), status_kib("VmHWM")
        scope = reset_peak_rss()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        report = run_tick(store, NOW, deps)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        peak_kib = status_kib("VmHWM") if scope == "tick" else None    # the peak since the reset
        if peak_kib is None:     # getrusage also keeps the peak a thread that ended before the reset saw
            peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"case": case, "store": kind, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
            "peak_rss_mib": round(peak_kib / 1024, 1), "peak_scope": scope,
            "rss_before_mib": round(rss_before / 1024, 1) if rss_before is not None else None,
            "setup_peak_mib": round(setup_peak / 1024, 1) if setup_peak is not None else None,
            "due": report.due, "sent": report.sent, "failed": report.failed, "problems": report.problems,
            "sheets_requests": report.sheets_requests, "http_requests": emulator.requests_total,
            "sendlog_rewritten": seen.get("sendlog_rewritten", False), **seen}


def prepare(folder: Path, size: dict) -> dict:
    """Generate and settle the workbook once, into `folder` (each case loads it); a few counts to print."""
    raw = generate(size)
    with open(folder / "book.pickle", "wb") as file:
        pickle.dump(raw, file, protocol=pickle.HIGHEST_PROTOCOL)
    since = NOW - timedelta(days=WINDOW_DAYS)
    column = raw["SendLog"][0].index("scheduled_for")
    return {**size, "metrics": len(raw["Metrics"]) - 1,
            "window": sum(from_local_text(line[column]) >= since for line in raw["SendLog"][1:])}


def run_case(case: str, kind: str, folder: Path, timeout: float = TIMEOUT) -> dict:
    command = [sys.executable, str(BENCH / "history.py"), "--case", case, kind, str(folder)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"case": case, "store": kind, "error": "timeout"}
    if done.returncode != 0:
        if done.returncode < 0:
            return {"case": case, "store": kind, "error": f"killed by signal {-done.returncode}"}
        last = next((l for l in reversed(done.stderr.splitlines()) if l.strip()), f"exit {done.returncode}")
        return {"case": case, "store": kind, "error": last.strip()[:80]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def row(cell: dict) -> str:
    label = {"before": "before: the sheet is the memory", "after": "after: state store, SendLog projected"}
    if "error" in cell:
        return f"| {label[cell['case']]} | {cell['store']} | {cell['error'].replace('|', '/')} |" + " - |" * 8
    requests = f"{cell['sheets_requests']['read']} read, {cell['sheets_requests']['write']} write"
    return (f"| {label[cell['case']]} | {cell['store']} | {cell['wall_s']:.2f} | {cell['cpu_s']:.2f} "
            f"| {cell['peak_rss_mib']:.0f} | {cell['rss_before_mib'] or 0:.0f} | {cell['due']:,} | {cell['sent']:,} "
            f"| {requests} | {cell['sendlog_rows_parsed']:,} of {cell['sendlog_tab_rows']:,} "
            f"| {cell['events_parsed']:,} |")


def table(results: list[dict], counts: dict) -> str:
    lines = [f"{counts['members']:,} members, {counts['groups']:,} groups, {counts['rules']:,} rules; "
             f"{counts['events']:,} events and {counts['sends']:,} sends over the {DAYS} days before the tick, "
             f"{counts['metrics']:,} Metrics rows. After: the SendLog tab shows the last {WINDOW_DAYS} days "
             f"({counts['window']:,} sends), the state file holds all {counts['sends']:,}.", "",
             "| case | store | wall s | CPU s | peak RSS MiB | RSS before MiB | due | sent | Sheets requests "
             "| SendLog rows parsed | Events rows parsed |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    lines += [row(cell) for cell in results] + [""]
    for kind in dict.fromkeys(c["store"] for c in results):
        pair = {c["case"]: c for c in results if c["store"] == kind and "error" not in c}
        if len(pair) == 2:
            old, new = pair["before"], pair["after"]
            outcome = (f"{old['due']:,} / {old['sent']:,} in both" if (old["due"], old["sent"]) == (new["due"], new["sent"])
                       else f"{old['due']:,} / {old['sent']:,} before, {new['due']:,} / {new['sent']:,} after")
            lines.append(f"- {kind}, before → after: wall {old['wall_s']:.2f} → {new['wall_s']:.2f} s, CPU "
                         f"{old['cpu_s']:.2f} → {new['cpu_s']:.2f} s, peak RSS {old['peak_rss_mib']:.0f} → "
                         f"{new['peak_rss_mib']:.0f} MiB; due / sent {outcome}.")
    return "\n".join(lines).strip()


def footer(cases: int, minutes: float, loads: list[float]) -> str:
    text = f"{cases} cases, one at a time; the whole run took {minutes:.1f} min, generating the workbook included."
    if loads:
        text += (f" 1-minute load average after each case: {min(loads):.1f} to {max(loads):.1f} on "
                 f"{os.cpu_count()} cores (the running case is about 1 of it).")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", nargs=3, metavar=("CASE", "STORE", "FOLDER"),
                        help="measure one case in this process (FOLDER holds book.pickle) and print its JSON line")
    parser.add_argument("--stores", type=lambda s: tuple(s.split(",")), default=STORES)
    parser.add_argument("--publish", action="store_true", help="also write the table into docs/PERFORMANCE.md")
    args = parser.parse_args(argv)
    if args.case:
        case, kind, folder = args.case
        print(json.dumps(measure(case, kind, Path(folder))))
        return 0
    size = QUICK if quick() else FULL
    print(f"qunflow tick with a month of history: {size['members']:,} members, {size['events']:,} events, "
          f"{size['sends']:,} sends; {len(CASES) * len(args.stores)} cases, each in a fresh process", flush=True)
    results, loads, started = [], [], time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="qunflow-history-") as tmp:
        t0 = time.perf_counter()
        counts = prepare(Path(tmp), size)
        print(f"  workbook generated and settled in {time.perf_counter() - t0:.0f} s", flush=True)
        for kind in args.stores:
            for case in CASES:
                t0 = time.perf_counter()
                results.append(cell := run_case(case, kind, Path(tmp)))
                loads += [load] if (load := load_average()) is not None else []
                rewrote = "" if "error" in cell else (f", SendLog rewritten: {'yes' if cell['sendlog_rewritten'] else 'no'}"
                                                      f", setup's peak {cell['setup_peak_mib'] or 0:.0f} MiB")
                print(f"  {row(cell)}  ({time.perf_counter() - t0:.0f} s with setup{rewrote})", flush=True)
    body = table(results, counts) + f"\n\n{footer(len(results), (time.perf_counter() - started) / 60, loads)}"
    print(f"\n{body}")
    if should_publish(args.publish):
        publish("history", body)
    return 0 if all("error" not in c for c in results) else 1


if __name__ == "__main__":
    sys.exit(main())
