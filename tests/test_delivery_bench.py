"""bench/delivery.py, reduced: the run lasts about as long as its busiest group's rate limit requires.

The ratio compares simulated (virtual-clock) time with the bound computed from the platforms' declared
limits; nothing here measures wall time.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_delivery", ROOT / "bench" / "delivery.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module            # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_twenty_groups_by_five_messages_stay_within_ten_percent_of_the_rate_limit_bound():
    bench = load_bench()
    row = bench.run("20 groups x 5", 20, 5)
    assert row.sent == row.deliveries == 100 and row.rejections == 0
    assert row.bound == 4.0                    # Slack and Telegram: 1 a second per chat, 5 messages
    assert row.bound <= row.simulated <= bench.MAX_RATIO * row.bound


def test_one_wecom_group_by_25_and_the_bound_formula():
    bench = load_bench()
    row = bench.run("1 WeCom group x 25", 1, 25, ("wecom",))
    assert (row.sent, row.rejections, row.bound) == (25, 0, 60.0)      # floor(24 / 20) * 60
    assert row.ratio <= bench.MAX_RATIO
    assert bench.main(["--groups", "12", "--per-group", "3", "--latency", "0", "--wall-latency", "0"]) == 0
