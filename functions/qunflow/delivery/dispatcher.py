"""Sending many messages to many groups: order within a group, every platform's rate limit, bounded retries, and
an honest report (sent, failed, skipped, unknown) with the webhooks that must be disabled.

One event loop, one thread of decisions: each target (webhook) is a lane with a queue and a `ready_at`; the loop
always serves the lane that is ready first, sleeping through the injected `sleep` only when none is. Lanes wait
and send in parallel (the HTTP calls in a bounded pool of worker threads, delivery/lanes.py), so a run lasts
about as long as its busiest target, with a virtual clock or the real one, and a slow webhook costs only its
own lane: a send that gets no answer (`unknown`) ends that lane for the run. A run deadline (`run_budget`)
keeps the whole run inside the function's timeout.
"""
from __future__ import annotations

import heapq
import logging
import random
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from ..clock import VirtualClock
from .lanes import HttpWorkers, Job, Lane, Reply
from .limiter import BAD_URL, RollingWindowLimiter, request_never_left
from .masking import Masker, mask_url
from .message import Message, Target
from .platforms import PLATFORMS
from .platforms.base import (DISABLE_TARGET, OK, RETRY, UNKNOWN, HttpRequest, MessageRejected, Outcome, Platform,
                             settle_signature)

STATUSES = ("sent", "failed", "skipped", "unknown", "retry")
VETOED = "not-claimed"   # the code of a delivery whose before_send hook said no (returned False): never posted
WORKERS = 64             # HTTP calls in flight at once, each to a different webhook (bench/delivery.py)
RUN_BUDGET = 240.0       # seconds from the start of a dispatch after which no attempt starts: the Cloud Function
                         # times out at 300 s, and a request started at the deadline may take (5 + 15) s more
MIN_WAIT = 0.01          # the shortest wait for replies while a lane waits for its time (no busy loop)
NOT_TRIED = "not tried in this run"


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
    cause: str = ""                # what the refusal means, when the platform says (platforms.base: KEYWORD, CLOCK...)


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


class Dispatcher:
    def __init__(self, session: Any, clock: Callable[[], float], sleep: Callable[[float], None], rng: random.Random,
                 max_attempts: int = 4, timeout: tuple[float, float] = (5, 15), masker: Masker | None = None,
                 logger: logging.Logger | None = None, before_send: Callable[[Delivery, int], bool | None] | None = None,
                 after_send: Callable[[DeliveryResult], None] | None = None, *, deadline: float | None = None,
                 run_budget: float | None = RUN_BUDGET, workers: int = WORKERS, backoff_base: float = 2.0,
                 backoff_cap: float = 120.0, rate_margin: float = 0.02, max_hold: float = 90.0,
                 platforms: Mapping[str, type[Platform]] | None = None,
                 wall_clock: Callable[[], float] | None = None):
        """`deadline` (a clock value) and `run_budget` (seconds from the start of each dispatch; None: no limit):
        no attempt starts after the earlier of the two; what is left comes back as "retry" (never sent) or
        "failed" (partly sent). `workers`: HTTP calls in flight at once, each to a different webhook, in threads
        (1: no thread); decisions and the before/after hooks stay in the caller's thread. `max_hold`: a platform
        that asks for a longer pause (DingTalk's 10-minute throttle) is left to the next run instead of holding
        this one. `wall_clock` (epoch seconds) dates signatures (DingTalk, Feishu), which the platform checks
        against the real time, so it is time.time even when `clock` replays another moment (`--now`); only a
        VirtualClock, the clock of a simulated world whose emulator reads it too, signs by itself. Everything that
        talks to the world (session, clock, sleep, rng, wall_clock) is injected."""
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if run_budget is not None and run_budget < 0:
            raise ValueError("run_budget is seconds >= 0, or None")
        self.session, self.clock, self.sleep, self.rng = session, clock, sleep, rng
        self.wall_clock = wall_clock or (clock if isinstance(clock, VirtualClock) else time.time)
        self.max_attempts, self.timeout = max_attempts, timeout
        self.masker = masker if masker is not None else Masker()
        self.log = logger or logging.getLogger("qunflow.delivery")
        self.before_send, self.after_send = before_send, after_send
        self.deadline, self.run_budget, self.workers = deadline, run_budget, max(1, int(workers))
        self.backoff_base, self.backoff_cap, self.max_hold = backoff_base, backoff_cap, max_hold
        self.platforms = dict(platforms or PLATFORMS)
        self.limiter = RollingWindowLimiter(rate_margin)
        self._hold: dict[str, float] = {}       # webhook -> no send before (retry waits, penalties, buckets)
        self._t = float("-inf")
        self._stop_at: float | None = None      # this dispatch's deadline: the earlier of deadline and the budget
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

    def _ready_at(self, lane: Lane) -> float:
        return max(self._hold.get(lane.webhook, float("-inf")), self.limiter.next_free(lane.keys))

    def _hold_until(self, lane: Lane, t: float) -> None:
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
        ends = [t for t in (self.deadline, None if self.run_budget is None else started + self.run_budget)
                if t is not None]
        self._stop_at = min(ends) if ends else None
        signed_at = self.wall_clock()
        lanes: dict[str, Lane] = {}
        for i, d in enumerate(deliveries):
            self.masker.add(d.target.webhook)
            self.masker.add(d.target.secret)
            platform = self.platforms.get(d.target.platform)
            if platform is None:
                self._record(i, d, "failed", 0, "platform", f"unknown platform {d.target.platform!r}")
                continue
            try:
                parts = len(platform.build_requests(d.message, d.target, signed_at))
            except MessageRejected as exc:
                self._record(i, d, "failed", 0, "rejected", f"message rejected before sending: {exc.reason}")
                continue
            except Exception as exc:  # a bug must not sink the other deliveries
                self._record(i, d, "failed", 0, "build", f"could not build the request: {type(exc).__name__}: {exc}")
                continue
            lane = lanes.get(d.target.webhook)
            if lane is None:
                lane = lanes[d.target.webhook] = Lane(len(lanes), d.target.webhook, platform,
                                                       platform.rate_keys(d.target))
            lane.jobs.append(Job(i, d, parts))
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
        """`heap`: lanes by the time they may send next. Lanes whose time has come wait in `ready`, the one with the
        longest rate-limited road ahead first (`_urgency`: a Slack channel's 5 messages take 4 s whatever happens,
        50 WeCom groups' 5 messages each take no wait at all), so a free worker never goes to a lane that can wait
        while one that cannot waits behind it. Equal ones go in lane order."""
        inflight: dict[Future, tuple[Lane, Job, HttpRequest]] = {}
        ready: list = []
        http = HttpWorkers(self.session, self.workers, self.timeout)
        try:
            while heap or ready or inflight:
                now = self._now()
                while heap and heap[0][0] <= now:
                    _, seq, lane = heapq.heappop(heap)
                    heapq.heappush(ready, (-self._urgency(lane), seq, lane))
                while ready and len(inflight) < self.workers:
                    _, seq, lane = heapq.heappop(ready)
                    at = self._ready_at(lane)
                    if self._stop_at is not None and max(at, self._now()) > self._stop_at:
                        self._expire(lane)
                    elif at > self._now():      # a shared bucket moved on since this lane was queued
                        heapq.heappush(heap, (at, seq, lane))
                    else:
                        self._start(lane, http, heap, inflight)
                if inflight:
                    self._collect(heap, inflight, waiting=bool(ready))
                elif heap and not ready:
                    at, seq, lane = heap[0]
                    due = self._ready_at(lane)
                    if due > at:                # a shared bucket moved on since this lane was queued
                        heapq.heapreplace(heap, (due, seq, lane))
                    elif self._stop_at is not None and max(due, self._now()) > self._stop_at:
                        heapq.heappop(heap)
                        self._expire(lane)
                    else:
                        self._sleep_until(due)  # nothing in flight: the next lane's time
        finally:
            http.close()

    def _start(self, lane: Lane, http: HttpWorkers, heap: list, inflight: dict) -> None:
        job = lane.jobs[0]
        request = self._prepare(lane, job)
        if request is None:
            self._requeue(heap, lane)
        elif not http.parallel:
            self._settle(lane, job, request, http.post(request))
            self._requeue(heap, lane)
        else:
            inflight[http.submit(request)] = (lane, job, request)

    @staticmethod
    def _urgency(lane: Lane) -> float:
        """The least time the lane's remaining requests need under its limits: max over windows of
        floor((left - 1) / n) * W."""
        left = sum(job.parts - job.part for job in lane.jobs)
        return max((((left - 1) // n) * w for _, windows in lane.keys for n, w in windows if left > 0), default=0.0)

    def _collect(self, heap: list, inflight: dict, waiting: bool = False) -> None:
        """Settle the replies that came. While a worker is free and a lane waits for its time, wait for replies
        only until that time: a webhook that takes long to answer holds its own lane, never the others. (A clock
        that does not move by itself, a test's virtual one, moves only through `sleep`, once nothing is in flight.)
        `waiting`: lanes are ready and every worker is busy, so the first reply is what to wait for."""
        timeout = None
        if heap and len(inflight) < self.workers and not waiting:
            timeout = max(heap[0][0] - self._now(), MIN_WAIT)
        done, _ = wait(list(inflight), timeout=timeout, return_when=FIRST_COMPLETED)
        for future in sorted(done, key=lambda f: inflight[f][0].seq):
            lane, job, request = inflight.pop(future)
            self._settle(lane, job, request, future.result())
            self._requeue(heap, lane)

    def _requeue(self, heap: list, lane: Lane) -> None:
        if lane.jobs and not lane.disabled:
            heapq.heappush(heap, (self._ready_at(lane), lane.seq, lane))

    # ---- one attempt ------------------------------------------------------------------------------------------
    def _prepare(self, lane: Lane, job: Job) -> HttpRequest | None:
        """Build the part afresh (a fresh signature, dated by the wall clock), journal the attempt, count it against
        the limits."""
        d, now = job.delivery, self._now()
        try:
            signed_at = self.wall_clock()
            requests_ = lane.platform.build_requests(d.message, d.target, signed_at)
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
        job.signed_at = signed_at
        self.limiter.record(lane.keys, now)
        self._say(logging.DEBUG, f"{d.send_id} → {d.target.group_id} ({lane.platform.name}) part "
                                 f"{job.part + 1}/{job.parts} attempt {job.part_attempts}: "
                                 f"{request.method} {mask_url(request.url)}")
        return request

    def _settle(self, lane: Lane, job: Job, request: HttpRequest, reply: Reply) -> None:
        now = self._now()
        if reply.error is not None:
            exc = reply.error
            what = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, BAD_URL):
                outcome = Outcome(DISABLE_TARGET, None, "bad-url", f"the webhook address is malformed ({what})")
            elif request_never_left(exc):
                outcome = Outcome(RETRY, None, "network", f"could not connect ({what})")
            else:
                outcome = Outcome(UNKNOWN, None, "network", f"no reply after sending ({what})")
        else:
            try:
                outcome = settle_signature(lane.platform.classify(reply.status, reply.headers, reply.body),
                                           reply.headers, job.signed_at)
            except Exception as exc:
                outcome = Outcome(UNKNOWN, None, str(reply.status), f"the reply could not be read "
                                                                    f"({type(exc).__name__}: {exc})")
        if outcome.kind is UNKNOWN:
            self._unknown(lane, job, outcome)
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
            self._finish(lane, job, "failed", outcome.code, outcome.reason, cause=outcome.cause)
            self._disable(lane, outcome.reason)
        else:
            self._finish(lane, job, "failed", outcome.code, outcome.reason, cause=outcome.cause)

    # ---- endings ----------------------------------------------------------------------------------------------
    def _finish(self, lane: Lane, job: Job, status: str, code: str, reason: str,
                sent_at: float | None = None, cause: str = "") -> None:
        assert lane.jobs and lane.jobs[0] is job
        lane.jobs.popleft()
        if status != "sent" and job.part > 0:
            reason = f"part {job.part + 1} of {job.parts}: {reason} ({job.part} part(s) already delivered)"
        self._record(job.index, job.delivery, status, job.attempts, code, reason, sent_at, job.parts, job.part, cause)

    def _record(self, index: int, d: Delivery, status: str, attempts: int, code: str, reason: str,
                sent_at: float | None = None, parts: int = 0, parts_sent: int = 0, cause: str = "") -> None:
        result = DeliveryResult(d.send_id, d.target.group_id, status, attempts, sent_at, code,
                                self.masker.mask(reason), parts, parts_sent, cause)
        self._results[index] = result
        level = logging.INFO if status == "sent" else logging.WARNING
        self._say(level, f"{d.send_id} → {d.target.group_id} ({d.target.platform}): {status} after {attempts} "
                         f"attempt(s) [{code}] {result.reason}")
        if self.after_send is not None:
            self.after_send(result)

    def _disable(self, lane: Lane, reason: str) -> None:
        lane.disabled = self.masker.mask(reason)
        for group_id in lane.groups:
            self._disabled[group_id] = lane.disabled
        self._say(logging.WARNING, f"target disabled for group(s) {', '.join(lane.groups)}: {lane.disabled} "
                                   f"({mask_url(lane.webhook)})")
        while lane.jobs:
            self._finish(lane, lane.jobs[0], "skipped", "disabled", f"target disabled: {lane.disabled}")

    def _give_up(self, lane: Lane, job: Job, outcome: Outcome) -> None:
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
                                                        f"the next run tries again", cause=outcome.cause)
        while lane.jobs:
            self._finish(lane, lane.jobs[0], "retry", outcome.code, f"{NOT_TRIED}: this webhook gave up after {why} "
                                                                    f"({outcome.reason}); the next run tries again")

    def _unknown(self, lane: Lane, job: Job, outcome: Outcome) -> None:
        """The request left and no verdict came back (a read timeout, a reset, a gateway's 504): the platform may
        have posted it, so it is "unknown" and never sent again. A webhook that does not answer is not given the
        rest of its queue in this run (each would cost a full read timeout, and could overtake this one): that
        is "retry", for the next run."""
        self._finish(lane, job, "unknown", outcome.code, f"{outcome.reason}; it may have reached the group, so it "
                                                         f"is not sent again", sent_at=job.last_attempt_at)
        while lane.jobs:
            self._finish(lane, lane.jobs[0], "retry", "not-tried", f"{NOT_TRIED}: the message before it got no "
                                                                   f"verdict from this webhook ({outcome.reason}); "
                                                                   f"the next run tries again")

    def _expire(self, lane: Lane) -> None:
        """The deadline passed before this lane could go on: what never left is "retry", a partial send "failed"."""
        while lane.jobs:
            job = lane.jobs[0]
            if job.part > 0:
                self._finish(lane, job, "failed", "deadline", "the run's deadline came before the rest could be sent")
            else:
                note = f", after {job.attempts} failed attempt(s)" if job.attempts else ""
                self._finish(lane, job, "retry", "deadline", f"{NOT_TRIED}{note}: the run's deadline came first; "
                                                             f"the next run tries again")
