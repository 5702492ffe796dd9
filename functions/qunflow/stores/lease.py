"""Leases, so two overlapping runs on one workbook never interleave: in the state store, or a local lock file.

`StateLease` (Google Sheets workbooks, in the cloud). Sheets has no compare-and-set, and max-instances = 1 is
best effort, not a lock. The lease is a record in qunflow's state store (Firestore in the cloud), taken in a
transaction: one holder at a time, until it releases or its TTL passes. The TTL is longer than the function
timeout, so a live holder is never overtaken, and a holder that died is taken over once it expired. One
database holds the ledger and the lease, so the cloud needs no lease bucket.

`file_lease` (local .xlsx workbooks): an OS lock on a lock file beside the workbook, through the `filelock`
package (flock on Unix, LockFileEx on Windows; no Unix-only module here). A process that dies releases it,
and the lock file is removed when the run is done, however it ends.
"""
from __future__ import annotations

import os
import socket
import time
import uuid
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Callable, Iterator

from filelock import FileLock, SoftFileLock, Timeout

from ..state.base import LeaseBusy, lease

POLL_SECONDS = 0.05

__all__ = ["LeaseBusy", "StateLease", "file_lease"]


class StateLease:
    """`hold(name, ttl)` on a state store's lease records; LeaseBusy at once when another run holds it."""

    def __init__(self, state: Any, clock: Callable[[], float] = time.time):
        self.state, self.clock = state, clock

    @contextmanager
    def hold(self, name: str, seconds: float) -> Iterator[None]:
        holder = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:12]}"  # this run, and only this run
        with lease(self.state, name, holder, seconds, clock=self.clock):
            yield


@contextmanager
def file_lease(lock_path: Path, seconds: float, busy: str, *, sleep: Callable[[float], None],
               monotonic: Callable[[], float]) -> Iterator[None]:
    """Hold an exclusive lock on `lock_path`, trying every 0.05 s for up to `seconds` (0: one try), else raise
    LeaseBusy(busy). Each try is non-blocking, so `sleep` and `monotonic` (injectable) decide the waiting.

    filelock's FileLock is an OS lock (flock on Unix, LockFileEx on Windows), released if the process dies;
    only where neither exists is it a SoftFileLock (the file's existence is the lock; a dead holder's is
    taken over). The lock file is removed when the block ends, however it ends. On Unix it is unlinked
    while still held: a waiter that had opened the same file finds it unlinked once it gets the lock
    (filelock checks) and tries again on a fresh file, so two holders never meet. On Windows a held file
    cannot be removed; filelock removes it right after the release instead.
    """
    lock = FileLock(lock_path)
    deadline = monotonic() + seconds
    while True:
        try:
            lock.acquire(blocking=False)
            break
        except Timeout:
            if monotonic() >= deadline:
                raise LeaseBusy(busy) from None
            sleep(POLL_SECONDS)
    # Held: no other qunflow run unlinks the file now (each does so only while holding it), so the path names
    # the very file we locked. A soft lock (no OS lock on this platform or filesystem) removes its own file.
    own = None if isinstance(lock, SoftFileLock) else _stat(lock_path)
    try:
        yield
    finally:
        try:
            if own is not None:
                _remove_own(lock_path, own)
        finally:
            lock.release()


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _remove_own(path: Path, own: os.stat_result) -> None:
    """Unlink `path` if it still names the file we hold (never another run's fresh lock file)."""
    with suppress(OSError):  # gone already, or Windows refusing to remove an open file (filelock does it)
        if os.path.samestat(os.lstat(path), own):
            os.unlink(path)
