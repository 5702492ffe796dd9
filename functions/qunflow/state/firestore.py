"""The state store in Firestore (Native mode): the cloud backend, same contract as `SqliteState`.

Layout. Every store lives under one root document, so a prefix (a deployment, a test) is one subtree and
the collection ids stay fixed (any index is declared once per collection id, not once per prefix):

    qunflow/{prefix}/sends/{send_id}          the SendState fields; times as fixed-width ISO text
    qunflow/{prefix}/bindings/{kind}:{key}    kind, key, value, send_id, at
    qunflow/{prefix}/inbox/{event_id}         event_id, received_at, body (JSON text), seq, folded, pending
    qunflow/{prefix}/meta/inbox               seq: the last inbox number handed out
    qunflow/{prefix}/activity/{key}:{day}     key, day, messages, last_at (a chat's messages, counted per day)
    qunflow/{prefix}/cursors/{name}           name, value
    qunflow/{prefix}/leases/{name}            name, holder, expires (float seconds)
    qunflow/{prefix}/cache/{name}             name, value, expires (float seconds)

Document ids (`_id`): `%` and `/` are escaped as %25 and %2F (and `:` in the parts of a compound id, as
%3A), so each id is injective and never contains `/`; `.`, `..`, `__x__` and the empty id get their first
character escaped instead (an escape `_esc` never makes, so still injective); an id over 1500 bytes becomes
`%H` + sha256. The original strings are stored as fields, and reads use the fields, never the ids.

Inbox order. Firestore has no autoincrement, so `put_events` reads `meta/inbox` in its transaction and
numbers the new events after it: `seq` is commit order, exactly SQLite's AUTOINCREMENT (the receive time
alone would not do: two puts at one `at` would tie). An unfolded event also carries `pending = seq`;
`mark_folded` sets `folded` and deletes `pending`, so `pending_events` is `order_by("pending")`, which
lists only documents that have the field, on the automatic single-field index. The price: concurrent
`put_events` serialize on one document (fine for batched webhook ingest, not for thousands of puts/s).

Transactions. Every method that SqliteState runs in one `BEGIN IMMEDIATE` runs in one Firestore
transaction (`client.transaction()` + `@firestore.transactional`): all reads first (`get_all`), then the
checks, then the writes; a `Conflict` raised before any write rolls back with nothing written. `claim` and
`settle` are one transaction whatever their size, because they must be all-or-nothing (Firestore's
quotas page gives 500 writes a commit: sends plus new bindings; the emulator does not enforce it). `record`, `put_events`, `mark_folded`, `outbox_put` and `outbox_done` act per
document, so big inputs are split into transactions of `CHUNK` documents (all states of one send id in one
chunk); each document is still checked and written atomically. Firestore aborts a transaction that loses
a race (on commit, or on a read under contention). `_tx` runs each attempt as a new transaction with the
library's own retry off (`max_attempts=1`: it retries at once, so racers that deadlocked, as in the
emulator, which times out lock waits after ~2 s, meet again) and retries an abort after a jittered,
growing pause, up to `ATTEMPTS` times. Queries: `sends(since)` is `updated_at >= iso(since)`
and `bindings(kind)` is `kind ==`, both on automatic indexes; no composite index is needed.
"""
from __future__ import annotations

import json
import random
import time
from datetime import datetime
from typing import Any, Callable, Iterable

try:
    from google.cloud import firestore
except ImportError as exc:  # pragma: no cover - only where the package is missing
    raise ImportError("FirestoreState needs google-cloud-firestore: "
                      "pip install 'google-cloud-firestore==2.34.1'") from exc

from .base import (CLAIMED, ActivityDay, ActivityHit, Binding, Conflict, SendState, StoreBusy, check_day,
                   check_recordable, check_status, claimable, event_id_of, from_iso, iso, may_record, scrubbed,
                   settled, utc)
from .firestore_docs import ATTEMPTS, CHUNK, _aborted, _chunks, _doc, _id, _state

class FirestoreState:
    kind = "firestore"

    def __init__(self, client: firestore.Client, *, prefix: str = "default",
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None):
        """`sleep` and `rng` pace the retries of an aborted transaction (injected, like every clock here)."""
        self.client = client
        self.prefix = prefix
        self._sleep, self._rng = sleep, rng or random.Random()
        root = client.collection("qunflow").document(_id(prefix))
        self._sends = root.collection("sends")
        self._bindings = root.collection("bindings")
        self._inbox = root.collection("inbox")
        self._inbox_seq = root.collection("meta").document("inbox")
        self._cursors = root.collection("cursors")
        self._activity = root.collection("activity")
        self._leases = root.collection("leases")
        self._cache = root.collection("cache")

    def close(self) -> None:
        """The client is the caller's: nothing of ours to close."""

    def _tx(self, body: Callable[..., Any], *args: Any) -> Any:
        """Run `body(transaction, *args)` in a fresh transaction; again, after a jittered pause, if aborted."""
        run = firestore.transactional(body)
        for attempt in range(ATTEMPTS):
            try:
                return run(self.client.transaction(max_attempts=1), *args)
            except Exception as exc:
                if not _aborted(exc):
                    raise
                if attempt == ATTEMPTS - 1:
                    raise StoreBusy(f"Firestore aborted this step {ATTEMPTS} times for contention; "
                                    "nothing of it was written") from exc
            self._sleep(self._rng.uniform(0.0, min(2.0, 0.1 * 2 ** attempt)))
        raise AssertionError("unreachable")

    @staticmethod
    def _read(transaction: Any, refs: list) -> dict[str, dict]:
        """doc id -> data of those that exist, read inside `transaction` (so locked until it ends)."""
        if not refs:
            return {}
        return {s.id: s.to_dict() for s in transaction.get_all(refs) if s.exists}

    # --- sends ---------------------------------------------------------------------------------------------

    def sends(self, since: datetime | None = None) -> list[SendState]:
        query = self._sends if since is None else self._sends.where(
            filter=firestore.FieldFilter("updated_at", ">=", iso(since)))
        return sorted((_state(s.to_dict()) for s in query.stream()), key=lambda s: s.send_id)

    def get_sends(self, send_ids: Iterable[str]) -> dict[str, SendState]:
        ids = list(dict.fromkeys(send_ids))
        out: dict[str, SendState] = {}
        for chunk in _chunks(ids, 500):
            for snap in self.client.get_all([self._sends.document(_id(sid)) for sid in chunk]):
                if snap.exists:
                    state = _state(snap.to_dict())
                    out[state.send_id] = state
        return out

    def _current(self, transaction: Any, send_ids: Iterable[str]) -> dict[str, SendState]:
        ids = list(dict.fromkeys(send_ids))
        found = self._read(transaction, [self._sends.document(_id(sid)) for sid in ids])
        return {sid: _state(found[_id(sid)]) for sid in ids if _id(sid) in found}

    def _put(self, transaction: Any, states: Iterable[SendState]) -> None:
        latest = {s.send_id: s for s in states}         # the last of one id wins, as INSERT OR REPLACE
        for sid, state in latest.items():
            transaction.set(self._sends.document(_id(sid)), _doc(state))

    def record(self, states: Iterable[SendState], at: datetime) -> int:
        states = list(states)
        check_recordable(states)
        by_id: dict[str, list[SendState]] = {}
        for s in states:
            by_id.setdefault(s.send_id, []).append(
                SendState(**{**s.__dict__, "scheduled_for": utc(s.scheduled_for), "updated_at": utc(at)}))

        def body(transaction: Any, ids: list[str]) -> int:
            current = self._current(transaction, ids)
            fresh = [s for sid in ids if may_record(current.get(sid)) for s in by_id[sid]]
            self._put(transaction, fresh)
            return len(fresh)
        return sum(self._tx(body, ids) for ids in _chunks(list(by_id)))

    def claim(self, send_ids: list[str], *, rule_id: str, group_id: str, scheduled_for: datetime | None,
              holder: str, at: datetime, bindings: Iterable[Binding] = ()) -> None:
        bindings, send_ids = list(bindings), list(send_ids)

        def body(transaction: Any) -> None:
            bound = self._read(transaction, [self._bindings.document(_id(b.kind, b.key)) for b in bindings])
            current = self._current(transaction, send_ids)
            for sid in send_ids:
                if not claimable(current.get(sid)):
                    raise Conflict(f"{sid} is already {current[sid].status}")
            new = self._check_bindings(bound, bindings)
            for b in new:
                transaction.set(self._bindings.document(_id(b.kind, b.key)), self._binding_doc(b))
            self._put(transaction, [SendState(sid, CLAIMED, rule_id, group_id, utc(scheduled_for),
                                              current[sid].attempts if sid in current else 0, utc(at), None, "",
                                              "", holder, utc(at)) for sid in send_ids])
        self._tx(body)

    def settle(self, send_ids: list[str], status: str, *, at: datetime, attempts: int = 0,
               sent_at: datetime | None = None, reason: str = "", preview: str = "") -> None:
        check_status(status)
        send_ids = list(send_ids)

        def body(transaction: Any) -> None:
            current = self._current(transaction, send_ids)
            missing = [sid for sid in send_ids if sid not in current]
            if missing:
                raise Conflict(f"{', '.join(missing)} was never claimed")
            self._put(transaction, [settled(current[sid], status, at, attempts, sent_at, reason, preview)
                                    for sid in send_ids])
        self._tx(body)

    # --- bindings ------------------------------------------------------------------------------------------

    def bindings(self, kind: str) -> dict[str, Binding]:
        query = self._bindings.where(filter=firestore.FieldFilter("kind", "==", kind))
        return {d["key"]: Binding(d["kind"], d["key"], d["value"], d.get("send_id") or "", from_iso(d.get("at")))
                for d in (s.to_dict() for s in query.stream())}

    def bind(self, bindings: Iterable[Binding]) -> None:
        bindings = list(bindings)

        def body(transaction: Any) -> None:
            bound = self._read(transaction, [self._bindings.document(_id(b.kind, b.key)) for b in bindings])
            for b in self._check_bindings(bound, bindings):
                transaction.set(self._bindings.document(_id(b.kind, b.key)), self._binding_doc(b))
        self._tx(body)

    @staticmethod
    def _binding_doc(b: Binding) -> dict:
        return {"kind": b.kind, "key": b.key, "value": b.value, "send_id": b.send_id, "at": iso(b.at)}

    @staticmethod
    def _check_bindings(bound: dict[str, dict], bindings: list[Binding]) -> list[Binding]:
        """The bindings to write, checked in order against what is stored and what came before; or Conflict."""
        held = {doc_id: d["value"] for doc_id, d in bound.items()}
        new = []
        for b in bindings:
            doc_id = _id(b.kind, b.key)
            if doc_id in held:
                if held[doc_id] != b.value:
                    raise Conflict(f"{b.kind} {b.key} is already bound to {held[doc_id]}")
                continue
            held[doc_id] = b.value
            new.append(b)
        return new

    # --- inbox ---------------------------------------------------------------------------------------------

    def put_events(self, events: Iterable[dict], at: datetime) -> int:
        rows: dict[str, tuple[str, str]] = {}
        for e in events:
            rows.setdefault(event_id_of(e), (iso(at), json.dumps(e, ensure_ascii=False, default=str)))

        def body(transaction: Any, ids: list[str]) -> int:
            snaps = list(transaction.get_all([self._inbox_seq] + [self._inbox.document(_id(e)) for e in ids]))
            seen = {s.id for s in snaps if s.exists and s.reference.path != self._inbox_seq.path}
            meta = next((s.to_dict() for s in snaps if s.exists and s.reference.path == self._inbox_seq.path), {})
            seq = int(meta.get("seq", 0))
            new = [e for e in ids if _id(e) not in seen]
            for event_id in new:
                seq += 1
                received_at, body_text = rows[event_id]
                transaction.set(self._inbox.document(_id(event_id)), {
                    "event_id": event_id, "received_at": received_at, "body": body_text, "seq": seq,
                    "folded": False, "pending": seq})
            if new:
                transaction.set(self._inbox_seq, {"seq": seq})
            return len(new)
        return sum(self._tx(body, ids) for ids in _chunks(list(rows)))

    def known_events(self, event_ids: Iterable[str]) -> set[str]:
        ids = list(dict.fromkeys(event_ids))
        found: set[str] = set()
        for chunk in _chunks(ids):
            snaps = self.client.get_all([self._inbox.document(_id(e)) for e in chunk])
            found |= {s.get("event_id") for s in snaps if s.exists}
        return found

    def pending_events(self, limit: int | None = None) -> list[dict]:
        query = self._inbox.order_by("pending")
        if limit and int(limit) > 0:                    # SQLite: no LIMIT for None or 0, and LIMIT -n is none
            query = query.limit(int(limit))
        return [json.loads(s.get("body")) for s in query.stream()]

    def mark_folded(self, event_ids: Iterable[str]) -> None:
        def body(transaction: Any, ids: list[str]) -> None:
            found = self._read(transaction, [self._inbox.document(_id(e)) for e in ids])
            for doc_id, data in found.items():
                transaction.update(self._inbox.document(doc_id), {"folded": True, "pending": firestore.DELETE_FIELD,
                                                                  "body": scrubbed(data.get("body") or "{}")})
        for ids in _chunks(list(dict.fromkeys(event_ids))):
            self._tx(body, ids)

    def forget_events(self, before: datetime, limit: int = 5000) -> int:
        query = self._inbox.where(filter=firestore.FieldFilter("received_at", "<", iso(before)))
        old = [s.reference for s in query.limit(limit).stream() if s.get("folded")]   # one field: no composite index
        return self._delete(old)

    # --- activity -------------------------------------------------------------------------------------------

    def add_activity(self, hits: Iterable[ActivityHit], at: datetime) -> int:
        by_event: dict[str, ActivityHit] = {}
        for h in hits:
            check_day(h.day)
            by_event.setdefault(h.event_id, h)

        def body(transaction: Any, ids: list[str]) -> int:
            days = list(dict.fromkeys(_id(by_event[e].key, by_event[e].day) for e in ids))
            found = self._read(transaction, [self._inbox.document(_id(e)) for e in ids] +
                               [self._activity.document(d) for d in days])
            pending = [e for e in ids if _id(e) in found and not found[_id(e)].get("folded")]
            counts: dict[str, dict] = {}
            for event_id in pending:
                h = by_event[event_id]
                doc = _id(h.key, h.day)
                row = counts.get(doc) or dict(found.get(doc) or {"key": h.key, "day": h.day, "messages": 0,
                                                                  "last_at": None})
                row["messages"] = int(row["messages"]) + 1
                row["last_at"] = max(row.get("last_at") or "", iso(h.at))
                counts[doc] = row
                transaction.update(self._inbox.document(_id(event_id)), {
                    "folded": True, "pending": firestore.DELETE_FIELD,
                    "body": scrubbed(found[_id(event_id)].get("body") or "{}")})
            for doc, row in counts.items():
                transaction.set(self._activity.document(doc), row)
            return len(pending)
        return sum(self._tx(body, ids) for ids in _chunks(list(by_event), CHUNK // 2))

    def activity(self, since: str | None = None) -> list[ActivityDay]:
        query = self._activity.where(filter=firestore.FieldFilter("day", ">=", since or ""))
        rows = [s.to_dict() for s in query.stream()]
        return sorted((ActivityDay(d["key"], d["day"], int(d["messages"]), from_iso(d.get("last_at"))) for d in rows),
                      key=lambda a: (a.key, a.day))

    # --- cursors and leases --------------------------------------------------------------------------------

    def cursor(self, name: str) -> str | None:
        snap = self._cursors.document(_id(name)).get()
        return snap.get("value") if snap.exists else None

    def advance(self, name: str, value: str) -> str:
        ref = self._cursors.document(_id(name))

        def body(transaction: Any) -> str:
            row = self._read(transaction, [ref]).get(ref.id)
            if row is not None and row["value"] >= value:
                return row["value"]
            transaction.set(ref, {"name": name, "value": value})
            return value
        return self._tx(body)

    def acquire(self, name: str, holder: str, ttl: float, now: float) -> bool:
        ref = self._leases.document(_id(name))

        def body(transaction: Any) -> bool:
            row = self._read(transaction, [ref]).get(ref.id)
            if row is not None and row["expires"] > now and row["holder"] != holder:
                return False
            transaction.set(ref, {"name": name, "holder": holder, "expires": float(now + ttl)})
            return True
        return self._tx(body)

    def release(self, name: str, holder: str) -> None:
        ref = self._leases.document(_id(name))

        def body(transaction: Any) -> None:
            row = self._read(transaction, [ref]).get(ref.id)
            if row is not None and row["holder"] == holder:
                transaction.delete(ref)
        self._tx(body)

    # --- cache ---------------------------------------------------------------------------------------------

    def cache(self, name: str, value: str, expires_at: float) -> None:
        self._cache.document(_id(name)).set({"name": name, "value": str(value), "expires": float(expires_at)})

    def cached(self, name: str, now: float) -> str | None:
        snap = self._cache.document(_id(name)).get()
        if not snap.exists or float(snap.get("expires")) <= now:
            return None
        return snap.get("value")

    def _delete(self, refs: list) -> int:
        """Delete these documents in batches (Firestore: 500 writes a commit). How many."""
        for chunk in _chunks(refs):
            batch = self.client.batch()
            for ref in chunk:
                batch.delete(ref)
            batch.commit()
        return len(refs)

    def forget_cached(self, now: float, limit: int = 5000) -> int:
        query = self._cache.where(filter=firestore.FieldFilter("expires", "<=", float(now))).limit(limit)
        old = [snap.reference for snap in query.stream()]
        return self._delete(old)

    def cached_under(self, prefix: str, now: float) -> dict[str, str]:
        """A range on the `name` field (its automatic index); expiry is checked here, not in the query."""
        query = self._cache.where(filter=firestore.FieldFilter("name", ">=", prefix)).where(
            filter=firestore.FieldFilter("name", "<", prefix + "\U0010ffff"))
        found = {}
        for snap in query.stream():
            data = snap.to_dict()
            if data["name"].startswith(prefix) and float(data["expires"]) > now:
                found[data["name"]] = data["value"]
        return dict(sorted(found.items()))
