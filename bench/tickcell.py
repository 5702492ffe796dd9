"""One grid cell: a whole tick on a generated workbook, measured in this process (run by bench/grid.py).

The workbook is generated (fixed seed) and, for the xlsx store, written to a temporary .xlsx; none of
that is timed. Then ONE tick runs end to end: read, parse, plan, deliver over real HTTP to the local chat
emulator on a virtual clock (rate-limit waits cost simulated time, not wall time), write back.

Memory: the process's peak RSS is reset just before the tick (Linux: /proc/self/clear_refs), so
`peak_rss_mib` is the peak *during* the tick, including what the process already held; `rss_before_mib`
is what it held when the tick began. Where the reset is not possible the peak covers the whole process
and `peak_scope` says "process".
"""
from __future__ import annotations

import ctypes
import gc
import resource
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from workbooks import raw, write_xlsx_fast  # noqa: E402

NOW = datetime(2026, 12, 3, 12, 1, tzinfo=timezone.utc)  # 20:01 in Shanghai, day 3 of the campaign
STORES = ("memory", "xlsx")


class VirtualClock:
    """Shared by the dispatcher and the emulator: sleeping moves the clock instead of waiting."""

    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)


def status_kib(field: str) -> int | None:
    """A field of /proc/self/status in KiB (VmRSS, VmHWM), or None off Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def release_freed_memory() -> None:
    """Give memory freed by the (untimed) setup back to the OS, so RSS before the tick is honest."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def reset_peak_rss() -> str:
    """Restart the peak-RSS count here; returns what the peak will cover: "tick" or "process"."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
        return "tick"
    except OSError:
        return "process"


def wecom_everywhere(book: dict) -> None:
    """Every group on one platform, so the rate limits are the same for all."""
    lines = book["Groups"]
    column = lines[0].index("platform")
    for line in lines[1:]:
        line[column] = "wecom"


def open_store(kind: str, book: dict, folder: Path):
    """The store under test, and the workbook file's size in MiB (None for memory)."""
    if kind == "memory":
        from qunflow.stores.memory import MemoryStore
        return MemoryStore(book), None
    if kind == "xlsx":
        from qunflow.stores.xlsx import XlsxStore
        path = folder / "bench.xlsx"       # the lock and pending files go next to it, in the same temp folder
        write_xlsx_fast(book, path)
        return XlsxStore(path), path.stat().st_size / 2**20
    raise ValueError(f"unknown store {kind!r}; expected one of {', '.join(STORES)}")


def measure(members: int, groups: int, rules: int, kind: str, folder: Path | None = None) -> dict:
    """One tick, measured; the .xlsx (and its lock) go in `folder`, else in a temporary folder."""
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="qunflow-grid-") as tmp:
            return measure(members, groups, rules, kind, Path(tmp))
    import requests
    from qunflow.emulator import Emulator
    from qunflow.delivery.secrets import SecretResolver
    from qunflow.jobs.tick import TickDeps, run_tick

    book = raw(members, groups, rules)
    wecom_everywhere(book)
    store, file_mib = open_store(kind, book, folder)
    del book                                # the memory store keeps its own copy
    clock = VirtualClock(NOW.timestamp())
    with Emulator(clock=clock, strict=False) as emulator, requests.Session() as session:
        env = {f"QUNFLOW_HOOK_{g}": f"{emulator.base_url}/cgi-bin/webhook/send?key=bench-{g:05d}-key" for g in range(groups)}
        deps = TickDeps(session=session, clock=clock, sleep=clock.sleep, resolver=SecretResolver(env=env))
        release_freed_memory()
        rss_before = status_kib("VmRSS")
        scope = reset_peak_rss()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        report = run_tick(store, NOW, deps)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        http_requests = emulator.requests_total
    return {"members": members, "groups": groups, "rules": rules, "store": kind,
            "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
            "peak_rss_mib": round(peak_kib / 1024, 1), "peak_scope": scope,
            "rss_before_mib": round(rss_before / 1024, 1) if rss_before is not None else None,
            "due": report.due, "sent": report.sent, "failed": report.failed, "problems": report.problems,
            "store_requests": report.sheets_requests, "http_requests": http_requests,
            "file_mib": round(file_mib, 2) if file_mib is not None else None}
