"""The 30-day demo, run once per test session and shared by the metrics tests (it takes a few seconds)."""
from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from qunflow.jobs.demo import run_demo


@functools.cache
def demo_result():
    out = Path(tempfile.mkdtemp(prefix="qunflow-metrics-demo-"))
    atexit.register(shutil.rmtree, out, True)
    return run_demo(out, seed=7, days=30)


def demo_copy(tmp_path: Path) -> Path:
    """A private copy of the demo's final workbook, for a test that writes to it."""
    target = tmp_path / "demo.xlsx"
    shutil.copy(demo_result().workbook, target)
    return target
