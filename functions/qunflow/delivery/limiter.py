"""Rolling-window rate limits and what a failed HTTP call means. Pure: times are arguments, never read here."""
from __future__ import annotations

from collections import deque
from typing import Iterable

import requests

Windows = tuple[tuple[int, float], ...]


class RollingWindowLimiter:
    """At most N sends in ANY interval of W seconds, for every (N, W) of every key a send counts against.

    A send is allowed at t only if the N-th most recent send of the key happened at least W·(1 + margin) before t.
    Unlike a token bucket (which can put 21 sends in a 60-second window after an idle spell), this holds for every
    window. The margin absorbs the difference between when we send and when the platform counts.
    """

    def __init__(self, margin: float = 0.02):
        self.margin = margin
        self._sends: dict[str, deque[float]] = {}

    def next_free(self, keys: Iterable[tuple[str, Windows]]) -> float:
        """The earliest time a send counting against all `keys` is allowed (-inf: now)."""
        at = float("-inf")
        for key, windows in keys:
            times = self._sends.get(key)
            if not times:
                continue
            for n, w in windows:
                if len(times) >= n:
                    at = max(at, times[-n] + w * (1 + self.margin))
        return at

    def record(self, keys: Iterable[tuple[str, Windows]], at: float) -> None:
        for key, windows in keys:
            if not windows:
                continue
            times = self._sends.get(key)
            if times is None:
                times = self._sends[key] = deque(maxlen=max(n for n, _ in windows))
            times.append(at)

    def sends(self, key: str) -> list[float]:
        return list(self._sends.get(key, ()))


# ---- network errors --------------------------------------------------------------------------------------------

def _chain(exc: BaseException):
    """The exception, what it wraps (requests → urllib3 MaxRetryError.reason → socket errors), its causes."""
    seen, todo = set(), [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen or not isinstance(e, BaseException):
            continue
        seen.add(id(e))
        yield e
        todo.extend([getattr(e, "reason", None), e.__cause__, e.__context__])
        todo.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))


def _is_connect_failure(e: BaseException) -> bool:
    try:
        from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, NameResolutionError
        urllib3_connect = (ConnectTimeoutError, NewConnectionError, NameResolutionError)
    except ImportError:  # pragma: no cover - urllib3 1.x
        from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
        urllib3_connect = (ConnectTimeoutError, NewConnectionError)
    import socket
    return isinstance(e, urllib3_connect + (ConnectionRefusedError, socket.gaierror))


BAD_URL = (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema,
           requests.exceptions.URLRequired)


def request_never_left(exc: BaseException) -> bool:
    """True when the request certainly did not reach the platform (safe to retry): a connect timeout, a refused
    connection, a DNS failure, a TLS handshake or proxy failure. False when it may have arrived: a read timeout,
    a connection reset or closed after sending, anything we do not recognise."""
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return False
    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError,
                        requests.exceptions.ProxyError) + BAD_URL):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        return any(_is_connect_failure(e) for e in _chain(exc))
    return False
