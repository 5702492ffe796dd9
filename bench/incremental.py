"""`python bench/incremental.py`: load_workbook parsing everything, against load_workbook reusing the blocks the
last load kept in the state store (#18 item 1, sheet/reuse.py), on the month's workbook of bench/history.py
(100,000 members, 500,000 events; BENCH_QUICK=1: 2,000 and 10,000; --members/--events: any size).

The loads are those of a tick with a state store (the SendLog and the projections located, not parsed), in one
process, gc as the tick has it, the blocks in a real SQLite state file. Rows, each timed once (wall seconds):
- full: no reuse (today's tick without a store);
- first: reuse, nothing kept yet (every block parsed and written);
- again: reuse, nothing changed (every block read);
- one edit: a cell of an Events row in the middle changed (one block parsed again);
- appended: 500 Events rows more (the last block, and one new).
Each reusing load's workbook is compared with a full load of the same cells. "parse" is parse_table's share
(Events, Members, Coupons); the rest of the load (locating, the checks across rows) is not cached.
"""
from __future__ import annotations

import argparse
import copy
import gc
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "functions"))

from publish import publish, should_publish  # noqa: E402

import history  # noqa: E402

from qunflow.jobs import tick_state  # noqa: E402
from qunflow.jobs.collector import roomy_gc  # noqa: E402
from qunflow.jobs.tick import PROJECTIONS  # noqa: E402
from qunflow.sheet import load as load_module  # noqa: E402
from qunflow.sheet.load import load_workbook  # noqa: E402
from qunflow.state.sqlite import SqliteState  # noqa: E402

TODAY = date(2026, 12, 31)
BIG = ("events", "members", "coupons")


def timed_load(raw: dict, reuse) -> tuple[object, float, float]:
    """(workbook, seconds in load_workbook, seconds in parse_table for the big tabs)."""
    spent = [0.0]
    parse_table = load_module.parse_table

    def timed(table, sink, today, reuse=None):
        t0 = time.perf_counter()
        try:
            return parse_table(table, sink, today, reuse)
        finally:
            if table.schema.key in BIG:
                spent[0] += time.perf_counter() - t0
    load_module.parse_table = timed
    gc.collect()
    try:
        with roomy_gc():
            t0 = time.perf_counter()
            wb = load_workbook(raw, today=TODAY, unparsed=PROJECTIONS + ("sendlog",), reuse=reuse)
            return wb, time.perf_counter() - t0, spent[0]
    finally:
        load_module.parse_table = parse_table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int)
    parser.add_argument("--events", type=int)
    parser.add_argument("--publish", action="store_true", help="also write the table into docs/PERFORMANCE.md")
    args = parser.parse_args(argv)
    size = dict(history.QUICK if os.environ.get("BENCH_QUICK") else history.FULL)
    size.update({k: v for k, v in (("members", args.members), ("events", args.events)) if v})
    t0 = time.perf_counter()
    raw = history.generate(size)
    print(f"generated {size['members']:,} members, {size['events']:,} events in {time.perf_counter() - t0:.0f} s",
          flush=True)
    folder = Path(tempfile.mkdtemp(prefix="qunflow-incremental-"))
    state = SqliteState(folder / "state.sqlite")
    rows = ["| load | load_workbook | parse (Events, Members, Coupons) | blocks read / parsed |",
            "|---|---|---|---|"]

    def case(label: str, book: dict, reusing: bool) -> None:
        reuse = tick_state.parsed_blocks(state, time.time) if reusing else None
        wb, total, parsing = timed_load(book, reuse)
        blocks = f"{reuse.hits} / {reuse.misses}" if reuse else "-"
        if reusing:
            full, _, _ = timed_load(book, None)
            assert wb == full, f"{label}: the reusing load differs from a full one"
        rows.append(f"| {label} | {total:.2f} s | {parsing:.2f} s | {blocks} |")
        print(rows[-1], flush=True)

    case("full (no reuse)", raw, False)
    case("first (nothing kept)", raw, True)
    case("again (nothing changed)", raw, True)
    edited = copy.copy(raw)
    edited["Events"] = list(raw["Events"])
    middle = len(edited["Events"]) // 2
    edited["Events"][middle] = list(edited["Events"][middle])
    edited["Events"][middle][-1] = "edited by hand"
    case("one edit (an Events cell)", edited, True)
    appended = copy.copy(edited)
    appended["Events"] = edited["Events"] + [[f"{line[0]}-again"] + list(line[1:]) for line in edited["Events"][1:501]]
    case("appended (500 Events rows)", appended, True)
    slots = state.cached_under("parsed:", time.time())
    sizes = sorted(len(v) for v in slots.values())
    state.close()
    footer = (f"{size['members']:,} members, {size['events']:,} events. {len(slots)} slots, largest "
              f"{sizes[-1] / 1024:.0f} KiB, all {sum(sizes) / 2 ** 20:.1f} MiB; state file "
              f"{(folder / 'state.sqlite').stat().st_size / 2 ** 20:.1f} MiB.")
    print("\n".join(rows))
    print("\n" + footer)
    if should_publish(args.publish):
        publish("incremental", "\n".join(rows) + "\n\n" + footer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
