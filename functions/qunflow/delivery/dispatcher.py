"""Sending many messages to many groups: order within a group, every platform's rate limit, bounded retries, and
an honest report (sent, failed, skipped, unknown) with the webhooks that must be disabled.

One event loop, one thread of decisions: each target (webhook) is a lane with a queue and a `ready_at`; the loop
always serves the lane that is ready first, sleeping through the injected `sleep` only when none is. Lanes wait
in parallel, so a run lasts about as long as its busiest target, with a virtual clock or the real one.
"""
from __future__ import annotations

import heapq
import logging
import random
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from .limiter import BAD_URL, RollingWindowLimiter, request_never_left
from .masking import Masker, mask_url
from .message import Message, Target
from .platforms import PLATFORMS
from .platforms.base import DISABLE_TARGET, OK, RETRY, HttpRequest, MessageRejected, Outcome, Platform

STATUSES = ("sent", "failed", "skipped", "unknown", "retry")
VETOED = "not-claimed"   # the code of a delivery whose before_send hook said no (returned False): never posted


@dataclass(frozen=True)
class Delivery:
    send_id: str
    target: Target
    message: Message


@dataclass
class DeliveryResult:
    send_id: str
    group_id: str
    status: str                    # sent | failed | skipped | unknown | retry (never sent; a later run may try again)
    attempts: int = 0              # HTTP requests made for this delivery, all parts together
    sent_at: float | None = None   # clock value: the last part accepted (unknown: the start of the last attempt)
    code: str = ""                 # the platform's code or HTTP status of the last reply; "network", "build", ...
    reason: str = ""               # masked
    parts: int = 0                 # HTTP requests the message needs (more than one when it was split)
    parts_sent: int = 0            # of those, accepted by the platform


@dataclass
class DispatchReport:
    results: list[DeliveryResult]                          # in the order of the deliveries
    disabled: dict[str, str] = field(default_factory=dict)  # group_id -> why its target must be disabled (masked)
    started_at: float = 0.0
    finished_at: float = 0.0

    def counts(self) -> dict[str, int]:
        counts = {s: 0 for s in STATUSES}
        for r in self.results:
            counts[r.status] = counts.get(r.status, 0) + 1
        return counts


@dataclass
class _Reply:
    status: int | None
    headers: Mapping[str, str]
    body: bytes
    error: BaseException | None = None


@dataclass(eq=False)
class _Job:
    index: int
    delivery: Delivery
    parts: int
    part: int = 0               # the next part to send
    part_attempts: int = 0      # attempts at that part
    attempts: int = 0
    last_attempt_at: float | None = None


@dataclass(eq=False)
class _Lane:
    seq: int
    webhook: str
    platform: type[Platform]
    keys: list
    jobs: deque = field(default_factory=deque)
    groups: list[str] = field(default_factory=list)
    disabled: str | None = None


class Dispatcher:
    def __init__(self, session: Any, clock: Callable[[], float], sleep: Callable[[float], None], rng: random.Random,
                 max_attempts: int = 4, timeout: tuple[float, float] = (5, 15), masker: Masker | None = None,
                 logger: logging.Logger | None = None, before_send: Callable[[Delivery, int], bool | None] | None = None,
                 after_send: Callable[[DeliveryResult], None] | None = None, *, deadline: float | None = None,
                 workers: int = 1, backoff_base: float = 2.0, backoff_cap: float = 120.0, rate_margin: float = 0.02,
                 max_hold: float = 90.0,
                 platforms: Mapping[str, type[Platform]] | None = None):
        """`deadline` (a clock value): no attempt starts after it; what is left comes back as "retry" (never sent)
        or "failed" (partly sent). `workers` > 1 overlaps HTTP calls of different targets in threads; decisions
        stay in one thread. `max_hold`: a platform that asks for a longer pause (DingTalk's 10-minute throttle) is
        left to the next run instead of holding this one. Everything that talks to the world (session, clock,
        sleep, rng) is injected."""
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.session, self.clock, self.sleep, self.rng = session, clock, sleep, rng
        self.max_attempts, self.timeout = max_attempts, timeout
        self.masker = masker if masker is not None else Masker()
        self.log = logger or logging.getLogger("qunflow.delivery")
        self.before_send, self.after_send = before_send, after_send
        self.deadline, self.workers = deadline, max(1, int(workers))
        self.backoff_base, self.backoff_cap, self.max_hold = backoff_base, backoff_cap, max_hold
        self.platforms = dict(platforms or PLATFORMS)
        self.limiter = RollingWindowLimiter(rate_margin)
        self._hold: dict[str, float] = {}       # webhook -> no send before (retry waits, penalties, buckets)
        self._t = float("-inf")
        self._results: list[DeliveryResult | None] = []
        self._disabled: dict[str, str] = {}

    # ---- time -------------------------------------------------------------------------------------------------
    def _now(self) -> float:
        """The clock, never going backwards; after a sleep, at least the time we slept until (so a frozen test
        clock cannot stall the loop)."""
        self._t = max(self._t, self.clock())
        return self._t

    def _sleep_until(self, t: float) -> None:
        now = self._now()
        if t > now:
            self.sleep(t - now)
            self._t = max(self._t, t)

    def _ready_at(self, lane: _Lane) -> float:
        return max(self._hold.get(lane.webhook, float("-inf")), self.limiter.next_free(lane.keys))

    def _hold_until(self, lane: _Lane, t: float) -> None:
        self._hold[lane.webhook] = max(self._hold.get(lane.webhook, float("-inf")), t)

    def _backoff(self, failures: int, retry_after: float | None) -> float:
        step = min(self.backoff_cap, self.backoff_base * 2 ** (failures - 1))
        return max(retry_after or 0.0, step) + self.rng.uniform(0, step / 2)

    # ---- logging: every line masked -------------------------------------------------------------------------
    def _say(self, level: int, text: str) -> None:
        if self.log.isEnabledFor(level):
            self.log.log(level, "%s", self.masker.mask(text))

    # ---- the run ----------------------------------------------------------------------------------------------
    def dispatch(self, deliveries: Iterable[Delivery]) -> DispatchReport:
        deliveries = list(deliveries)
        self._results, self._disabled = [None] * len(deliveries), {}
        started = self._now()
        lanes: dict[str, _Lane] = {}
        for i, d in enumerate(deliveries):
            self.masker.add(d.target.webhook)
            self.masker.add(d.target.secret)
            platform = self.platforms.get(d.target.platform)
            if platform is None:
                self._record(i, d, "failed", 0, "platform", f"unknown platform {d.target.platform!r}")
                continue
            try:
                parts = len(platform.build_requests(d.message, d.target, started))
            except MessageRejected as exc:
                self._record(i, d, "failed", 0, "rejected", f"message rejected before sending: {exc.reason}")
                continue
            except Exception as exc:  # a bug must not sink the other deliveries
                self._record(i, d, "failed", 0, "build", f"could not build the request: {type(exc).__name__}: {exc}")
                continue
            lane = lanes.get(d.target.webhook)
            if lane is None:
                lane = lanes[d.target.webhook] = _Lane(len(lanes), d.target.webhook, platform,
                                                       platform.rate_keys(d.target))
            lane.jobs.append(_Job(i, d, parts))
            if d.target.group_id not in lane.groups:
                lane.groups.append(d.target.group_id)
        heap = [(self._ready_at(lane), lane.seq, lane) for lane in lanes.values() if lane.jobs]
        heapq.heapify(heap)
        self._say(logging.INFO, f"dispatch: {len(deliveries)} deliveries to {len(lanes)} targets")
        self._run(heap)
        finished = self._now()
        results = [r for r in self._results if r is not None]
        assert len(results) == len(deliveries), "every delivery has a result"
        return DispatchReport(results, dict(self._disabled), started, finished)

    def _run(self, heap: list) -> None:
        inflight: dict = {}
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="qunflow-send") if self.workers > 1 else None
        try:
            while heap or inflight:
                while heap and len(inflight) < self.workers:
                    at, seq, lane = heap[0]
                    ready = self._ready_at(lane)
                    if ready > at:              # a shared bucket moved on since this lane was queued
                        heapq.heapreplace(heap, (ready, seq, lane))
                        continue
                    if self.deadline is not None and max(ready, self._now()) > self.deadline:
                        heapq.heappop(heap)
                        self._expire(lane)
                        continue
                    if ready > self._now():
                        if inflight:
                            break               # a reply may come first; sleep only when nothing is in flight
                        self._sleep_until(ready)
                        continue
                    heapq.heappop(heap)
                    job = lane.jobs[0]
                    request = self._prepare(lane, job)
                    if request is None:
                        self._requeue(heap, lane)
                    elif pool is None:
                        self._settle(lane, job, request, self._http(request))
                        self._requeue(heap, lane)
                    else:
                        inflight[pool.submit(self._http, request)] = (lane, job, request)
                if inflight:
                    done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
                    for future in sorted(done, key=lambda f: inflight[f][0].seq):
                        lane, job, request = inflight.pop(future)
                        self._settle(lane, job, request, future.result())
                        self._requeue(heap, lane)
        finally:
            if pool is not None:
                pool.shutdown(wait=True)

    def _requeue(self, heap: list, lane: _Lane) -> None:
        if lane.jobs and not lane.disabled:
            heapq.heappush(heap, (self._ready_at(lane), lane.seq, lane))

    # ---- one attempt ------------------------------------------------------------------------------------------
    def _prepare(self, lane: _Lane, job: _Job) -> HttpRequest | None:
        """Build the part afresh (a fresh signature timestamp), journal the attempt, count it against the limits."""
        d, now = job.delivery, self._now()
        try:
            requests_ = lane.platform.build_requests(d.message, d.target, now)
            if len(requests_) != job.parts:
                raise RuntimeError(f"the message split into {len(requests_)} parts, not {job.parts} as before")
            request = requests_[job.part]
        except Exception as exc:
            reason = exc.reason if isinstance(exc, MessageRejected) else f"{type(exc).__name__}: {exc}"
            self._finish(lane, job, "failed", "build", f"could not build the request: {reason}")
            return None
        if self.before_send is not None and self.before_send(d, job.attempts + 1) is False:
            self._finish(lane, job, "skipped", VETOED, "not sent: the run could not claim it (another run holds it, "
                                                      "or it is already done)")
            return None
        job.attempts += 1
        job.part_attempts += 1
        job.last_attempt_at = now
        self.limiter.record(lane.keys, now)
        self._say(logging.DEBUG, f"{d.send_id} → {d.target.group_id} ({lane.platform.name}) part "
                                 f"{job.part + 1}/{job.parts} attempt {job.part_attempts}: "
                                 f"{request.method} {mask_url(request.url)}")
        return request

    def _http(self, request: HttpRequest) -> _Reply:
        """The only place that talks to the network (runs in a worker thread when workers > 1)."""
        try:
            response = self.session.post(request.url, data=request.body(), headers=dict(request.headers),
                                         timeout=self.timeout)
            return _Reply(response.status_code, response.headers or {}, response.content or b"")
        except Exception as exc:
            return _Reply(None, {}, b"", exc)

    def _settle(self, lane: _Lane, job: _Job, request: HttpRequest, reply: _Reply) -> None:
        now = self._now()
        if reply.error is not None:
            exc = reply.error
            what = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, BAD_URL):
                outcome = Outcome(DISABLE_TARGET, None, "bad-url", f"the webhook address is malformed ({what})")
            elif request_never_left(exc):
                outcome = Outcome(RETRY, None, "network", f"could not connect ({what})")
            else:
                self._finish(lane, job, "unknown", "network", f"no reply after sending ({what}); it may have reached "
                                                              f"the group, so it is not sent again",
                             sent_at=job.last_attempt_at)
                return
        else:
            try:
                outcome = lane.platform.classify(reply.status, reply.headers, reply.body)
            except Exception as exc:
                self._finish(lane, job, "unknown", str(reply.status), f"the reply could not be read "
                                                                      f"({type(exc).__name__}: {exc})",
                             sent_at=job.last_attempt_at)
                return
        self._say(logging.DEBUG, f"{job.delivery.send_id} part {job.part + 1}/{job.parts}: {outcome.kind.value} "
                                 f"{outcome.code} {outcome.reason}")
        if outcome.retry_after:
            self._hold_until(lane, now + outcome.retry_after)  # a throttled target waits, whatever the message
        if outcome.kind is OK:
            job.part += 1
            job.part_attempts = 0
            if job.part >= job.parts:
                self._finish(lane, job, "sent", outcome.code, "ok", sent_at=now)
        elif outcome.kind is RETRY:
            if job.part_attempts >= self.max_attempts or (outcome.retry_after or 0) > self.max_hold:
                self._give_up(lane, job, outcome)
            else:
                self._hold_until(lane, now + self._backoff(job.part_attempts, outcome.retry_after))
        elif outcome.kind is DISABLE_TARGET:
            self._finish(lane, job, "failed", outcome.code, outcome.reason)
            self._disable(lane, outcome.reason)
        else:
            self._finish(lane, job, "failed", outcome.code, outcome.reason)

    # ---- endings ----------------------------------------------------------------------------------------------
    def _finish(self, lane: _Lane, job: _Job, status: str, code: str, reason: str,
                sent_at: float | None = None) -> None:
        assert lane.jobs and lane.jobs[0] is job
        lane.jobs.popleft()
        if status != "sent" and job.part > 0:
            reason = f"part {job.part + 1} of {job.parts}: {reason} ({job.part} part(s) already delivered)"
        self._record(job.index, job.delivery, status, job.attempts, code, reason, sent_at, job.parts, job.part)

    def _record(self, index: int, d: Delivery, status: str, attempts: int, code: str, reason: str,
                sent_at: float | None = None, parts: int = 0, parts_sent: int = 0) -> None:
        result = DeliveryResult(d.send_id, d.target.group_id, status, attempts, sent_at, code,
                                self.masker.mask(reason), parts, parts_sent)
        self._results[index] = result
        level = logging.INFO if status == "sent" else logging.WARNING
        self._say(level, f"{d.send_id} → {d.target.group_id} ({d.target.platform}): {status} after {attempts} "
                         f"attempt(s) [{code}] {result.reason}")
        if self.after_send is not None:
            self.after_send(result)

    def _disable(self, lane: _Lane, reason: str) -> None:
        lane.disabled = self.masker.mask(reason)
        for group_id in lane.groups:
            self._disabled[group_id] = lane.disabled
        self._say(logging.WARNING, f"target disabled for group(s) {', '.join(lane.groups)}: {lane.disabled} "
                                   f"({mask_url(lane.webhook)})")
        while lane.jobs:
            self._finish(lane, lane.jobs[0], "skipped", "disabled", f"target disabled: {lane.disabled}")

    def _give_up(self, lane: _Lane, job: _Job, outcome: Outcome) -> None:
        """Attempts used up on a passing failure (5xx, throttling, no connection): the platform never took the
        message, so it is "retry" (a later run may send it, within catch_up), and the rest of this webhook's queue
        waits for that run too instead of spending this one on a target that is down. A message of which some
        parts went out is "failed": sending it again would repeat those parts."""
        if job.part > 0:
            self._finish(lane, job, "failed", outcome.code, f"gave up after {job.part_attempts} attempts: {outcome.reason}")
            return
        why = (f"the platform asks for a {outcome.retry_after:g} s pause" if (outcome.retry_after or 0) > self.max_hold
               else f"{job.part_attempts} failed attempt(s) in a row")
        self._finish(lane, job, "retry", outcome.code, f"gave up in this run after {why}: {outcome.reason}; "
                                                        f"the next run tries again")
        while lane.jobs:
            self._finish(lane, lane.jobs[0], "retry", outcome.code, f"not tried in this run: this webhook gave "
                                                                    f"up after {why} ({outcome.reason}); the next "
                                                                    f"run tries again")

    def _expire(self, lane: _Lane) -> None:
        """The deadline passed before this lane could go on: what never left is "retry", a partial send "failed"."""
        while lane.jobs:
            job = lane.jobs[0]
            if job.part > 0:
                self._finish(lane, job, "failed", "deadline", "the run's deadline came before the rest could be sent")
            else:
                note = f" after {job.attempts} failed attempt(s)" if job.attempts else ""
                self._finish(lane, job, "retry", "deadline", f"not sent{note}: the run's deadline came first; "
                                                             f"it can go in the next run")
