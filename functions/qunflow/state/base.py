"""The state store's interface and its records: plain values, no I/O.

What the contract promises (tests/test_state_contract.py runs it on every backend):

- **Sends.** One record per send id. `claim` marks sends in flight, and binds what the send decides about
  members, in one transaction, before the POST; it raises `Conflict` (and changes nothing) when a send is
  already claimed or final, or when a binding's key is already held with another value (a coupon bound to
  someone else). `settle` records the outcome of a claimed send, or of one `awaiting_confirmation` (a WeCom
  task the owner confirms later: settled as awaiting, then as sent, not_sent or quota). `record` writes the states the planner
  decides without posting (skipped, missed, deferred, retry); it never touches a final or claimed send.
  A final state never changes.
- **Bindings.** (kind, key) → value, each at most once: `coupon` code → member id, `welcome`
  "member@group" → when, `reward` "member:campaign" → code.
- **Inbox.** Events by `event_id`, each kept once however often it is put; `known_events` says which ids it
  holds (folded or not); `pending_events` lists those not yet folded, in arrival order; `mark_folded` takes
  them off that list. Folding drops a message's `text` (`scrubbed`): what people wrote is read once, for the
  check-in keyword, and not kept. `forget_events(before)` deletes folded events received before `before`
  (at most `limit`), so the inbox holds what the platforms may still retry, not a chat's history.
- **Activity.** What chat messages leave behind: per key (a membership "member@group", or an unknown chat) and
  day, how many messages and the last one's time. `add_activity` counts each hit once, and only while its event
  is pending in the inbox: in one transaction it adds the hits of pending events and marks those events folded,
  so a tick that dies and runs again never counts a message twice. `activity(since)` lists the days from `since`.
- **Cursors.** Named values (`last_tick`); `advance` never moves one back.
- **Leases.** `acquire` succeeds for one holder until it releases or its TTL passes.
- **Cache.** Named text values with an expiry (epoch seconds): `cache` writes one (over what was there),
  `cached(name, now)` reads it while `now < expires_at`, else None; `cached_under(prefix, now)` lists the live
  ones whose name starts with `prefix`; `forget_cached(now)` deletes those expired by `now` (at most `limit`),
  which no read returns any more. A platform's access token lives here (delivery/wecom_token.py), a WeCom
  group-send task's record (delivery/wecom_customer.py), and the parsed blocks of the big tabs (sheet/reuse.py).

There is no outbox to the sheet: what the sheet shows of qunflow's memory is a projection, computed again from
the store by every tick (a write that failed is simply made by the next one), and a local workbook that
could not be written keeps its changes in the pending file beside it (stores/xlsx.py).
"""
from __future__ import annotations

import json
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Callable, Iterable, Iterator, Protocol

CLAIMED = "claimed"
AWAITING = "awaiting_confirmation"   # a WeCom customer-group task the owner has not confirmed: settled again later
FINAL = frozenset({"sent", "failed", "skipped", "missed", "unknown", "not_sent", "quota"})
WAITING = frozenset({"retry", "deferred"})          # planned again by later ticks
STATUSES = FINAL | WAITING | {CLAIMED, AWAITING}


class Conflict(Exception):
    """A claim or binding the store refused; nothing was written."""


class LeaseBusy(RuntimeError):
    """Another holder has the lease, and it did not come free within the wait."""


class StoreBusy(Exception):
    """The store kept refusing a step for contention (a run that died may hold its locks until they expire);
    nothing of that step was written. A later run goes on where this one stopped."""


@dataclass(frozen=True)
class SendState:
    send_id: str
    status: str
    rule_id: str = ""
    group_id: str = ""
    scheduled_for: datetime | None = None      # aware, UTC
    attempts: int = 0
    claimed_at: datetime | None = None
    sent_at: datetime | None = None
    reason: str = ""
    preview: str = ""
    holder: str = ""                           # the run that claimed it
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Binding:
    kind: str                                  # coupon | welcome | reward | lottery (a draw's result)
    key: str
    value: str
    send_id: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class ActivityHit:
    """One message event, counted under `key` on `day` (its group's local date, "YYYY-MM-DD")."""
    event_id: str
    key: str
    day: str
    at: datetime


@dataclass(frozen=True)
class ActivityDay:
    key: str
    day: str
    messages: int
    last_at: datetime | None = None


class StateStore(Protocol):
    kind: str

    def sends(self, since: datetime | None = None) -> list[SendState]: ...
    def get_sends(self, send_ids: Iterable[str]) -> dict[str, SendState]: ...
    def record(self, states: Iterable[SendState], at: datetime) -> int: ...
    def claim(self, send_ids: list[str], *, rule_id: str, group_id: str, scheduled_for: datetime | None,
              holder: str, at: datetime, bindings: Iterable[Binding] = ()) -> None: ...
    def settle(self, send_ids: list[str], status: str, *, at: datetime, attempts: int = 0,
               sent_at: datetime | None = None, reason: str = "", preview: str = "") -> None: ...
    def bindings(self, kind: str) -> dict[str, Binding]: ...
    def bind(self, bindings: Iterable[Binding]) -> None: ...
    def put_events(self, events: Iterable[dict], at: datetime) -> int: ...
    def known_events(self, event_ids: Iterable[str]) -> set[str]: ...
    def pending_events(self, limit: int | None = None) -> list[dict]: ...
    def mark_folded(self, event_ids: Iterable[str]) -> None: ...
    def forget_events(self, before: datetime, limit: int = 5000) -> int: ...
    def add_activity(self, hits: Iterable[ActivityHit], at: datetime) -> int: ...
    def activity(self, since: str | None = None) -> list[ActivityDay]: ...
    def cursor(self, name: str) -> str | None: ...
    def advance(self, name: str, value: str) -> str: ...
    def acquire(self, name: str, holder: str, ttl: float, now: float) -> bool: ...
    def release(self, name: str, holder: str) -> None: ...
    def cache(self, name: str, value: str, expires_at: float) -> None: ...
    def cached(self, name: str, now: float) -> str | None: ...
    def cached_under(self, prefix: str, now: float) -> dict[str, str]: ...
    def forget_cached(self, now: float, limit: int = 5000) -> int: ...


@contextmanager
def lease(state: StateStore, name: str, holder: str, ttl: float, *, wait: float = 0.0,
          clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
          poll: float = 0.25) -> Iterator[None]:
    """Hold `name` for at most `ttl` seconds; wait up to `wait` seconds for it to come free, then LeaseBusy."""
    deadline = clock() + wait
    while not state.acquire(name, holder, ttl, clock()):
        if clock() >= deadline:
            raise LeaseBusy(f"{name} is held by another run; try again in a moment")
        sleep(min(poll, max(0.0, deadline - clock())))
    try:
        yield
    finally:
        state.release(name, holder)


# --- helpers both backends share -------------------------------------------------------------------------

def utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def iso(value: datetime | None) -> str | None:
    """Fixed-width UTC text, so text order is time order."""
    v = utc(value)
    return v.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if v else None


def from_iso(text: str | None) -> datetime | None:
    """`iso`'s text back (datetime.fromisoformat reads the fixed-width form, Z included, about 20x faster than
    strptime: a tick reads 150,000 sends' times); anything else as strptime would, or its ValueError."""
    if not text:
        return None
    if len(text) == 27 and text[-1] == "Z" and text[10] == "T":
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def check_status(status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown send status {status!r}")


def check_recordable(states: list[SendState]) -> None:
    """What `record` takes: known statuses, never a claim (claims go through `claim`)."""
    for s in states:
        check_status(s.status)
        if s.status == CLAIMED:
            raise ValueError("claims go through claim(), not record()")


def may_record(current: SendState | None) -> bool:
    """`record` may write over nothing, a retry or a deferral; never over a claimed or final send."""
    return current is None or current.status in WAITING


def claimable(current: SendState | None) -> bool:
    return current is None or current.status in WAITING


def settled(current: SendState, status: str, at: datetime, attempts: int, sent_at: datetime | None,
            reason: str, preview: str) -> SendState:
    if current.status not in (CLAIMED, AWAITING):
        raise Conflict(f"{current.send_id} is {current.status}, not claimed")
    return replace(current, status=status, attempts=attempts, sent_at=utc(sent_at), reason=reason,
                   preview=preview or current.preview, updated_at=utc(at))


def event_id_of(event: dict) -> str:
    event_id = str(event.get("event_id") or "").strip()
    if not event_id:
        raise ValueError("every event needs an event_id (the inbox keeps each once)")
    return event_id


def scrubbed(body: str) -> str:
    """An inbox body without the message's text (kept only until the fold has looked for a check-in keyword)."""
    try:
        event = json.loads(body)
    except ValueError:
        return body
    if not isinstance(event, dict) or "text" not in event:
        return body
    event.pop("text")
    return json.dumps(event, ensure_ascii=False, default=str)


def activity_key(key: str, day: str) -> str:
    return f"{key}|{day}"


def check_day(day: str) -> str:
    datetime.strptime(day, "%Y-%m-%d")      # raises ValueError on anything else: day order is text order
    return day


@dataclass
class Counter:
    """How many backend operations a test or bench saw (reads, writes, transactions)."""
    reads: int = 0
    writes: int = 0
    transactions: int = 0
    extra: dict[str, int] = field(default_factory=dict)
