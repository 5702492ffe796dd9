"""The dispatcher's lanes and its HTTP shell: one lane per webhook (its queue, in order), and a bounded pool of
worker threads that make the requests, each with a session of its own.

Decisions (what to send next, what a reply means, the before/after hooks that touch the state store) stay in
the dispatcher's one thread; only `HttpWorkers.post` runs in the workers. So a webhook that takes its time
holds one worker and its own lane, never the others.
"""
from __future__ import annotations

import copy
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Mapping

import requests

from .platforms.base import HttpRequest, Platform

_SESSION_SETTINGS = ("headers", "auth", "proxies", "hooks", "params", "stream", "verify", "cert", "max_redirects",
                     "trust_env")


@dataclass
class Reply:
    status: int | None
    headers: Mapping[str, str]
    body: bytes
    error: BaseException | None = None   # the request raised instead of answering


@dataclass(eq=False)
class Job:
    index: int
    delivery: Any               # a dispatcher.Delivery
    parts: int
    part: int = 0               # the next part to send
    part_attempts: int = 0      # attempts at that part
    attempts: int = 0
    last_attempt_at: float | None = None
    signed_at: float | None = None   # the wall-clock time the last attempt was signed with (DingTalk, Feishu)


@dataclass(eq=False)
class Lane:
    """One webhook's queue: its messages leave one at a time, in order; lanes run side by side."""
    seq: int
    webhook: str
    platform: type[Platform]
    keys: list
    jobs: deque = field(default_factory=deque)
    groups: list[str] = field(default_factory=list)
    disabled: str | None = None


def worker_session(session: Any) -> Any:
    """A session of one worker thread's own. A requests.Session is not safe to share between threads (its
    cookie jar and the per-request merging of settings), so each worker gets a new one with the same settings
    and the same transport adapters (urllib3's connection pools are made for threads). Anything else, such as
    a test's fake, is used as given: whoever injects it vouches for it."""
    if type(session) is not requests.Session:
        return session
    own = requests.Session()
    for name in _SESSION_SETTINGS:
        setattr(own, name, copy.copy(getattr(session, name)))
    own.cookies = session.cookies.copy()
    for prefix, adapter in session.adapters.items():
        own.mount(prefix, adapter)
    return own


class HttpWorkers:
    """`size` threads posting requests (size 1: no thread, the caller posts). Each thread has its own session."""

    def __init__(self, session: Any, size: int, timeout: Any):
        self.session, self.timeout = session, timeout
        self.parallel = size > 1
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(size, thread_name_prefix="qunflow-send") if self.parallel else None

    def _session(self) -> Any:
        if not self.parallel:
            return self.session
        own = getattr(self._local, "session", None)
        if own is None:
            own = self._local.session = worker_session(self.session)
        return own

    def post(self, request: HttpRequest) -> Reply:
        """The only place that talks to the network."""
        try:
            response = self._session().post(request.url, data=request.body(), headers=dict(request.headers),
                                            timeout=self.timeout)
            return Reply(response.status_code, response.headers or {}, response.content or b"")
        except Exception as exc:
            return Reply(None, {}, b"", exc)

    def submit(self, request: HttpRequest) -> Future:
        assert self._pool is not None, "submit() needs workers; with one, call post()"
        return self._pool.submit(self.post, request)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
