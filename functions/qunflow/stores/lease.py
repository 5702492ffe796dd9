"""Leases, so two overlapping runs on one workbook never interleave: in Cloud Storage, or a local lock file.

`GcsLease` (Google Sheets workbooks, in the cloud). Sheets has no compare-and-set, and max-instances = 1 is best effort, not a lock. A Cloud Storage
object created with `ifGenerationMatch=0` is: the create succeeds for exactly one caller (the others
get 412). The object holds its expiry; a holder that died is taken over once the lease has expired,
by deleting that exact generation (`ifGenerationMatch=<generation>`) and creating again.

The lease is longer than the function timeout, so a live holder is never overtaken.

`file_lease` (local .xlsx workbooks): an OS lock on a lock file beside the workbook, through the `filelock`
package (flock on Unix, LockFileEx on Windows; no Unix-only module here). A process that dies releases it,
and the lock file is removed when the run is done, however it ends.
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import quote

from filelock import FileLock, SoftFileLock, Timeout

API = "https://storage.googleapis.com"
POLL_SECONDS = 0.05


class LeaseBusy(RuntimeError):
    pass


class GcsLease:
    def __init__(self, session: Any, bucket: str, clock: Callable[[], float], base_url: str = API):
        self.session, self.bucket, self.clock, self.base = session, bucket, clock, base_url.rstrip("/")

    def _object_url(self, name: str) -> str:
        return f"{self.base}/storage/v1/b/{self.bucket}/o/{quote(name, safe='')}"

    def _create(self, name: str, seconds: float, holder: str) -> str | None:
        body = json.dumps({"holder": holder, "expires": self.clock() + seconds}).encode()
        r = self.session.post(f"{self.base}/upload/storage/v1/b/{self.bucket}/o",
                              params={"uploadType": "media", "name": name, "ifGenerationMatch": "0"},
                              data=body, headers={"Content-Type": "application/json"}, timeout=(5, 20))
        if r.status_code == 412:
            return None
        r.raise_for_status()
        return str(r.json()["generation"])

    def _expired_generation(self, name: str) -> str | None:
        meta = self.session.get(self._object_url(name), timeout=(5, 20))
        if meta.status_code == 404:
            return "gone"
        meta.raise_for_status()
        generation = str(meta.json()["generation"])
        data = self.session.get(self._object_url(name), params={"alt": "media", "generation": generation}, timeout=(5, 20))
        if data.status_code == 404:
            return "gone"
        data.raise_for_status()
        try:
            expires = float(json.loads(data.content)["expires"])
        except (ValueError, KeyError, TypeError):
            expires = 0.0  # unreadable: treat as expired
        return generation if expires <= self.clock() else None

    def acquire(self, name: str, seconds: float, holder: str = "qunflow") -> str:
        generation = self._create(name, seconds, holder)
        if generation:
            return generation
        stale = self._expired_generation(name)
        if stale is None:
            raise LeaseBusy(f"another run holds the lease {name}")
        if stale != "gone":
            self.session.delete(self._object_url(name), params={"ifGenerationMatch": stale}, timeout=(5, 20))
        generation = self._create(name, seconds, holder)
        if not generation:
            raise LeaseBusy(f"another run took the lease {name} first")
        return generation

    def release(self, name: str, generation: str) -> None:
        self.session.delete(self._object_url(name), params={"ifGenerationMatch": generation}, timeout=(5, 20))

    @contextmanager
    def hold(self, name: str, seconds: float) -> Iterator[None]:
        generation = self.acquire(name, seconds)
        try:
            yield
        finally:
            self.release(name, generation)


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
