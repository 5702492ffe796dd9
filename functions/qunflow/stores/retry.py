"""Bounded retries with full jitter for Google API calls (gspread's own back-off never gives up)."""
from __future__ import annotations

import random
from typing import Callable, TypeVar

import requests

T = TypeVar("T")
RETRY_STATUS = {408, 429, 500, 502, 503, 504}


class RetriesExhausted(RuntimeError):
    pass


def status_of(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    return getattr(response, "status_code", None)


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return True
    status = status_of(exc)
    if status == 403:  # per-user rate limits are sometimes 403 usageLimits
        text = str(getattr(getattr(exc, "response", None), "text", "") or exc)
        return "rateLimitExceeded" in text or "userRateLimitExceeded" in text or "RESOURCE_EXHAUSTED" in text
    return status in RETRY_STATUS


def with_retries(call: Callable[[], T], *, sleep: Callable[[float], None], rng: random.Random,
                 attempts: int = 7, base: float = 1.0, cap: float = 32.0,
                 on_retry: Callable[[int, BaseException, float], None] | None = None) -> T:
    """Call, retrying 429/5xx/network errors: waits uniform(0, min(cap, base * 2**n)) + 1 s, `attempts` at most."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - we classify and re-raise
            if not is_retryable(exc) or attempt == attempts:
                raise
            wait = 1.0 + rng.uniform(0, min(cap, base * 2 ** (attempt - 1)))
            if on_retry:
                on_retry(attempt, exc, wait)
            sleep(wait)
    raise RetriesExhausted("unreachable")
