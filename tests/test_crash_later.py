"""The second half of the fault suite's 50 kill runs (tests/test_crash.py has the first, and the checks): runs
25-49, on a fresh shop, so the two halves run side by side on pytest-xdist's two workers."""
from __future__ import annotations

import pytest

from test_crash import kill_runs


@pytest.mark.slow
def test_sigkill_at_random_points_in_runs_25_to_49_loses_nothing_and_doubles_nothing(tmp_path):
    kill_runs(tmp_path, first=25, runs=25, seed=2052)
