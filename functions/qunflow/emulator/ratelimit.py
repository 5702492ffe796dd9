"""Rolling-window rate limits on an injected clock.

A rule (N, W) allows at most N accepted messages in ANY window of W seconds
for one key (a bot, or a bot and chat). Only accepted messages count: a caller
asks `retry_after()` first and calls `hit()` once the message is accepted.
An optional penalty (DingTalk) blocks the key for that many seconds from the
moment it first went over the limit.
"""
from __future__ import annotations

import math
import time
from collections import deque
from typing import Callable, Hashable, Sequence


class Limiter:
    def __init__(self, rules: Sequence[tuple[int, float]], penalty: float = 0.0, clock: Callable[[], float] | None = None):
        if not rules:
            raise ValueError("a limiter needs at least one (count, seconds) rule")
        for count, window in rules:
            if count < 1 or window <= 0:
                raise ValueError(f"bad rule ({count}, {window})")
        self.rules = tuple((int(c), float(w)) for c, w in rules)
        self.penalty = float(penalty)
        self.clock = clock or time.time
        self._hits: dict[Hashable, deque[float]] = {}
        self._blocked_until: dict[Hashable, float] = {}

    def _now(self, now: float | None) -> float:
        return self.clock() if now is None else now

    def _window(self, key: Hashable, now: float) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        longest = max(w for _, w in self.rules)
        while hits and hits[0] <= now - longest:
            hits.popleft()
        return hits

    def penalized_for(self, key: Hashable, now: float | None = None) -> float:
        """Seconds left in the key's penalty, 0.0 when none."""
        now = self._now(now)
        until = self._blocked_until.get(key, 0.0)
        return max(0.0, until - now)

    def retry_after(self, key: Hashable, now: float | None = None) -> float:
        """0.0 when one more message may be accepted now, else the seconds until it may."""
        now = self._now(now)
        wait = self.penalized_for(key, now)
        hits = self._window(key, now)
        for count, window in self.rules:
            inside = [t for t in hits if t > now - window]
            if len(inside) >= count:
                # the oldest hit that must leave the window before one more fits
                wait = max(wait, inside[len(inside) - count] + window - now)
        return wait

    def check(self, key: Hashable, now: float | None = None) -> float:
        """Like retry_after, but going over the limit starts the penalty (if any)."""
        now = self._now(now)
        in_penalty = self.penalized_for(key, now) > 0
        wait = self.retry_after(key, now)
        if wait > 0 and self.penalty and not in_penalty:
            self._blocked_until[key] = now + self.penalty
            wait = max(wait, self.penalty)
        return wait

    def hit(self, key: Hashable, now: float | None = None) -> None:
        now = self._now(now)
        self._window(key, now).append(now)

    def state(self, key: Hashable, now: float | None = None) -> tuple[int, int, float]:
        """(limit, remaining, reset_after) under the tightest rule, for rate-limit headers.

        reset_after is the seconds until the window is empty again (remaining == limit).
        """
        now = self._now(now)
        hits = self._window(key, now)
        best = None
        for count, window in self.rules:
            inside = [t for t in hits if t > now - window]
            remaining = max(0, count - len(inside))
            reset = (inside[-1] + window - now) if inside else 0.0
            if best is None or remaining < best[1]:
                best = (count, remaining, reset)
        return best

    def reset(self) -> None:
        self._hits.clear()
        self._blocked_until.clear()


def whole_seconds(seconds: float) -> int:
    """Retry-After as platforms send it: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(seconds - 1e-9))
