"""The garbage collector around a tick: fewer generation-0 passes while a workbook is turned into records.

A tick makes millions of small objects that live as long as it does (a record per member, event and send). With
CPython's default threshold (700 allocations between generation-0 passes), building them triggers thousands of
passes that each find nothing to free, and generation-2 passes that walk everything made so far: about a quarter
of the time of reading a 100k-member workbook with a month of events (bench/history.py, docs/PERFORMANCE.md).
Reference counting still frees almost all garbage at once; the collector only finds cycles, which a tick rarely
makes, so they are found a little later. The old thresholds come back when the tick ends.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

TICK_THRESHOLD = (100_000, 50, 100)


@contextmanager
def roomy_gc(threshold: tuple[int, int, int] = TICK_THRESHOLD) -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(*threshold)
    try:
        yield
    finally:
        gc.set_threshold(*before)
