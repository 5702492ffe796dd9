"""A lease in Cloud Storage, so two overlapping cloud ticks can never both send.

Sheets has no compare-and-set, and max-instances = 1 is best effort, not a lock. A Cloud Storage
object created with `ifGenerationMatch=0` is: the create succeeds for exactly one caller (the others
get 412). The object holds its expiry; a holder that died is taken over once the lease has expired,
by deleting that exact generation (`ifGenerationMatch=<generation>`) and creating again.

The lease is longer than the function timeout, so a live holder is never overtaken.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Any, Callable, Iterator
from urllib.parse import quote

API = "https://storage.googleapis.com"


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
