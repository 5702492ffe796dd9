"""`python bench/grid.py`: one whole tick at every size, on the memory store and the xlsx store.

The grid: 1k / 10k / 100k members x 10 / 100 / 1,000 groups x 50 / 500 rules x {memory, xlsx} = 36 cells.
Each cell runs in a fresh process (`--cell MEMBERS GROUPS RULES STORE`, see bench/tickcell.py), one at
a time (cells side by side on a 2-core machine would distort each other's timings), so every peak RSS
is that cell's own. A cell that fails or runs past --timeout shows as such in the table; the grid goes on.

    python bench/grid.py                        # the full grid, then a markdown table
    python bench/grid.py --publish              # ... and into docs/PERFORMANCE.md (block "grid")
    BENCH_QUICK=1 python bench/grid.py          # 1k x 10 x 50 only
    python bench/grid.py --members 1000,10000 --groups 10 --rules 50 --stores xlsx
    python bench/grid.py --cell 200 5 10 memory # one cell, in this process: prints one JSON line
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from publish import publish, quick, should_publish  # noqa: E402

MEMBERS, GROUPS, RULES, STORES = (1_000, 10_000, 100_000), (10, 100, 1_000), (50, 500), ("memory", "xlsx")
QUICK = ((1_000,), (10,), (50,), STORES)
TIMEOUT = 600.0


def run_cell(members: int, groups: int, rules: int, store: str, timeout: float = TIMEOUT) -> dict:
    """One cell in a fresh process: its JSON result, or {"error": short reason}. The cell's files go in a
    folder made here, so they are removed even when the cell is killed at the timeout."""
    with tempfile.TemporaryDirectory(prefix="qunflow-grid-") as folder:
        command = [sys.executable, str(BENCH / "grid.py"), "--cell", str(members), str(groups), str(rules), store,
                   "--folder", folder]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": "timeout"}
    if done.returncode != 0:
        return {"error": failure_reason(done.returncode, done.stderr)}
    lines = done.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        return {"error": "no result printed"}


def failure_reason(returncode: int, stderr: str) -> str:
    """The last line of the child's stderr (the exception), or the signal that killed it; short."""
    if returncode < 0:
        return f"killed by signal {-returncode}" + (" (out of memory?)" if returncode == -9 else "")
    last = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), f"exit {returncode}")
    return last[:80]


def fmt_time(cell: dict) -> str:
    """Wall seconds of the tick, and its CPU seconds (less sensitive to a busy machine)."""
    if "error" in cell:
        return cell["error"].replace("|", "/")
    return f"{cell['wall_s']:.2f} s (CPU {cell['cpu_s']:.2f})"


def fmt_memory(cell: dict) -> str:
    """Peak RSS during the tick, and in brackets how much it grew over what the process held before."""
    if "error" in cell:
        return "-"
    peak, before = cell["peak_rss_mib"], cell.get("rss_before_mib")
    growth = f" (+{peak - before:.0f})" if before is not None and cell.get("peak_scope") == "tick" else ""
    return f"{peak:.0f} MiB{growth}"


def fmt_outcome(cells: list[dict]) -> str:
    """due / sent, once if the stores agree (they should: the same workbook, the same tick)."""
    seen = [f"{c['due']:,} / {c['sent']:,}" for c in cells if "error" not in c]
    return " vs ".join(dict.fromkeys(seen)) or "-"


def table(results: dict[tuple, dict], stores: tuple[str, ...]) -> str:
    head = ["members", "groups", "rules"]
    for store in stores:
        head += [f"{store}: tick (CPU s)", f"{store}: peak RSS (+tick's growth)"]
    head += ["due / sent"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * 3 + "---|" * (len(head) - 3)]
    sizes = list(dict.fromkeys(key[:3] for key in results))
    for members, groups, rules in sizes:
        cells = [results[(members, groups, rules, store)] for store in stores if (members, groups, rules, store) in results]
        row = [f"{members:,}", f"{groups:,}", f"{rules:,}"]
        for store in stores:
            cell = results.get((members, groups, rules, store), {"error": "not run"})
            row += [fmt_time(cell), fmt_memory(cell)]
        lines.append("| " + " | ".join(row + [fmt_outcome(cells)]) + " |")
    return "\n".join(lines)


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def footer(cells: int, minutes: float, loads: list[float]) -> str:
    """How long the grid took, and how busy the machine was (this grid's own cell counts for about 1)."""
    text = f"{cells} cells; the whole grid took {minutes:.1f} min, generating the workbooks included."
    if loads:
        text += (f" 1-minute load average while it ran: {min(loads):.1f} to {max(loads):.1f} "
                 f"on {os.cpu_count()} cores (the running cell is about 1 of it).")
    return text


def progress(key: tuple, cell: dict, seconds: float) -> str:
    members, groups, rules, store = key
    size = f"{members:>7,} m {groups:>5,} g {rules:>3} r {store:<6}"
    if "error" in cell:
        return f"  {size}  {cell['error']}  ({seconds:.0f} s in all)"
    return (f"  {size}  tick {cell['wall_s']:7.2f} s  CPU {cell['cpu_s']:7.2f} s  peak {cell['peak_rss_mib']:6.0f} MiB"
            f"  before {cell['rss_before_mib'] or 0:6.0f} MiB  due {cell['due']:>5}  sent {cell['sent']:>5}"
            f"  store requests {cell['store_requests']}  ({seconds:.0f} s with setup)")


def sizes(text: str) -> tuple[int, ...]:
    return tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", nargs=4, metavar=("MEMBERS", "GROUPS", "RULES", "STORE"),
                        help="measure one cell in this process and print its JSON line")
    parser.add_argument("--folder", type=Path, help="with --cell: where the cell's files go (default: a temp folder)")
    members, groups, rules, stores = QUICK if quick() else (MEMBERS, GROUPS, RULES, STORES)
    parser.add_argument("--members", type=sizes, default=members, help="comma-separated, e.g. 1000,10000")
    parser.add_argument("--groups", type=sizes, default=groups)
    parser.add_argument("--rules", type=sizes, default=rules)
    parser.add_argument("--stores", type=lambda s: tuple(s.split(",")), default=stores)
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds per cell (default 600)")
    parser.add_argument("--publish", action="store_true", help="also write the table into docs/PERFORMANCE.md")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.cell:
        from tickcell import measure
        members, groups, rules, store = args.cell
        print(json.dumps(measure(int(members), int(groups), int(rules), store, args.folder)))
        return 0
    keys = [(m, g, r, s) for m in args.members for g in args.groups for r in args.rules for s in args.stores]
    print(f"qunflow tick grid: {len(keys)} cells, one at a time, each in a fresh process (timeout {args.timeout:.0f} s)",
          flush=True)
    results, loads, started = {}, [], time.perf_counter()
    for key in keys:
        t0 = time.perf_counter()
        results[key] = run_cell(*key, timeout=args.timeout)
        loads += [load] if (load := load_average()) is not None else []
        print(progress(key, results[key], time.perf_counter() - t0), flush=True)
    body = f"{table(results, args.stores)}\n\n{footer(len(keys), (time.perf_counter() - started) / 60, loads)}"
    print(f"\n{body}")
    if should_publish(args.publish):
        publish("grid", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
