"""The cloud lease: exactly one holder; a dead holder is taken over only after expiry."""
import threading

import pytest
import requests

from gcs_fake import FakeGcs
from qunflow.stores.lease import GcsLease, LeaseBusy


class Clock:
    def __init__(self):
        self.t = 1_000_000.0

    def __call__(self):
        return self.t


def test_only_one_of_many_concurrent_callers_gets_the_lease():
    with FakeGcs() as gcs:
        clock = Clock()
        winners, losers = [], []

        def grab():
            lease = GcsLease(requests.Session(), "b", clock, gcs.base_url)
            try:
                winners.append(lease.acquire("tick.lease", 900))
            except LeaseBusy:
                losers.append(1)
        threads = [threading.Thread(target=grab) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(winners) == 1 and len(losers) == 7


def test_an_expired_lease_is_taken_over_and_a_live_one_is_not():
    with FakeGcs() as gcs:
        clock = Clock()
        a = GcsLease(requests.Session(), "b", clock, gcs.base_url)
        b = GcsLease(requests.Session(), "b", clock, gcs.base_url)
        a.acquire("tick.lease", 900)
        clock.t += 899
        with pytest.raises(LeaseBusy):
            b.acquire("tick.lease", 900)
        clock.t += 2
        generation = b.acquire("tick.lease", 900)  # a died; its lease expired
        b.release("tick.lease", generation)
        with a.hold("tick.lease", 900):
            pass
        with b.hold("tick.lease", 900):
            pass
