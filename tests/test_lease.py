"""The cloud lease: a record in the state store. Exactly one holder; a dead holder is taken over only after expiry.

The state contract (tests/test_state_contract.py) runs `acquire`/`release` on SQLite and the Firestore emulator;
here the lease the Google store holds (`StateLease`), many runs at once, and the Cloud Function that meets it.
"""
import threading

import pytest

from qunflow.state.sqlite import SqliteState
from qunflow.stores.lease import LeaseBusy, StateLease


class Clock:
    def __init__(self):
        self.t = 1_000_000.0

    def __call__(self):
        return self.t


def test_only_one_of_many_concurrent_runs_gets_the_lease(tmp_path):
    clock, path = Clock(), tmp_path / "state.sqlite"
    SqliteState(path).close()
    winners, losers, inside, release = [], [], threading.Barrier(8), threading.Event()

    def run():
        lease = StateLease(SqliteState(path), clock)  # each run has its own connection, as instances do
        try:
            with lease.hold("tick.lease", 900):
                winners.append(1)
                inside.wait(timeout=10)  # hold it until every other run has tried
        except LeaseBusy:
            losers.append(1)
            inside.wait(timeout=10)
    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1 and len(losers) == 7


def test_an_expired_lease_is_taken_over_and_a_live_one_is_not(tmp_path):
    clock, path = Clock(), tmp_path / "state.sqlite"
    a, b = StateLease(SqliteState(path), clock), StateLease(SqliteState(path), clock)
    dying = a.hold("tick.lease", 900)
    dying.__enter__()                      # a run that is killed inside its lease never releases it
    clock.t += 899
    with pytest.raises(LeaseBusy, match="held by another run"):
        with b.hold("tick.lease", 900):
            pass
    clock.t += 2                           # past its TTL: the next run takes over
    with b.hold("tick.lease", 900):
        with pytest.raises(LeaseBusy):     # and while it holds it, nobody else gets in
            with a.hold("tick.lease", 900):
                pass
    with a.hold("tick.lease", 900):        # released: free again
        pass


def test_the_lease_outlasts_every_function_timeout():
    """A live holder is never overtaken: the Google store holds its lease longer than any function may run."""
    from pathlib import Path

    import yaml

    from qunflow.stores.gsheets import LEASE_TTL_SECONDS
    jobs = yaml.safe_load((Path(__file__).resolve().parents[1] / "workflows" / "jobs.yaml").read_text())
    timeouts = [fn["timeout_seconds"] for fn in jobs["functions"].values()]
    assert len(timeouts) >= 4 and max(timeouts) < LEASE_TTL_SECONDS
