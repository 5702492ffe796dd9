"""The state store in SQLite: the embedded default, one file beside the workbook (or $QUNFLOW_STATE).

stdlib sqlite3, WAL mode, `synchronous=FULL` (a committed claim survives a power cut), and every change in
one `BEGIN IMMEDIATE` transaction, so two processes never interleave a claim. Times are fixed-width UTC text.
"""
from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterable, Iterator

from .base import (CLAIMED, ActivityDay, ActivityHit, Binding, Conflict, SendState, check_day, check_recordable,
                   check_status, claimable, event_id_of, from_iso, iso, may_record, settled, utc)

SCHEMA = """
CREATE TABLE IF NOT EXISTS sends (
    send_id TEXT PRIMARY KEY, status TEXT NOT NULL, rule_id TEXT, group_id TEXT, scheduled_for TEXT,
    attempts INTEGER NOT NULL DEFAULT 0, claimed_at TEXT, sent_at TEXT, reason TEXT, preview TEXT, holder TEXT,
    updated_at TEXT);
CREATE INDEX IF NOT EXISTS sends_updated ON sends(updated_at);
CREATE INDEX IF NOT EXISTS sends_status ON sends(status);
CREATE TABLE IF NOT EXISTS bindings (
    kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, send_id TEXT, at TEXT, PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS inbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE, received_at TEXT, body TEXT NOT NULL,
    folded INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS inbox_pending ON inbox(folded, seq);
CREATE INDEX IF NOT EXISTS inbox_received ON inbox(received_at);
CREATE TABLE IF NOT EXISTS activity (
    key TEXT NOT NULL, day TEXT NOT NULL, messages INTEGER NOT NULL DEFAULT 0, last_at TEXT, PRIMARY KEY (key, day));
CREATE INDEX IF NOT EXISTS activity_day ON activity(day);
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS cache (name TEXT PRIMARY KEY, value TEXT NOT NULL, expires REAL NOT NULL);
"""
SCRUB = "body = json_remove(body, '$.text')"     # base.scrubbed, in SQL: a message's text is not kept once folded
COLUMNS = ("send_id", "status", "rule_id", "group_id", "scheduled_for", "attempts", "claimed_at", "sent_at",
           "reason", "preview", "holder", "updated_at")
TIMES = {"scheduled_for", "claimed_at", "sent_at", "updated_at"}


def _row(state: SendState) -> tuple:
    values = []
    for column in COLUMNS:
        value = getattr(state, column)
        values.append(iso(value) if column in TIMES else value)
    return tuple(values)


_AT = tuple(c in TIMES for c in COLUMNS)          # COLUMNS is SendState's field order
SELECTED = ", ".join(COLUMNS)                     # named, so _state's positions hold whatever the table's order


def _state(row: sqlite3.Row) -> SendState:
    """A row as a SendState, positionally (150,000 of them a tick at a big shop: no dict per row)."""
    return SendState(*[from_iso(v) if at else v for v, at in zip(tuple(row), _AT)])


class SqliteState:
    kind = "sqlite"

    def __init__(self, path: str | Path, *, timeout: float = 30.0):
        self.path = Path(path)
        self._db = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- sends ---------------------------------------------------------------------------------------------

    def sends(self, since: datetime | None = None) -> list[SendState]:
        if since is None:
            rows = self._db.execute(f"SELECT {SELECTED} FROM sends ORDER BY send_id").fetchall()
        else:
            rows = self._db.execute(f"SELECT {SELECTED} FROM sends WHERE updated_at >= ? ORDER BY send_id", (iso(since),))
        return [_state(r) for r in rows]

    def get_sends(self, send_ids: Iterable[str]) -> dict[str, SendState]:
        return self._get(self._db, list(send_ids))

    @staticmethod
    def _get(db: sqlite3.Connection, ids: list[str]) -> dict[str, SendState]:
        out: dict[str, SendState] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for row in db.execute(f"SELECT {SELECTED} FROM sends WHERE send_id IN ({marks})", chunk):
                out[row["send_id"]] = _state(row)
        return out

    def _put(self, db: sqlite3.Connection, states: Iterable[SendState]) -> None:
        db.executemany(f"INSERT OR REPLACE INTO sends ({','.join(COLUMNS)}) VALUES ({','.join('?' * len(COLUMNS))})",
                       [_row(s) for s in states])

    def record(self, states: Iterable[SendState], at: datetime) -> int:
        states = list(states)
        check_recordable(states)
        with self._tx() as db:
            current = self._get(db, [s.send_id for s in states])
            fresh = [SendState(**{**s.__dict__, "scheduled_for": utc(s.scheduled_for), "updated_at": utc(at)})
                     for s in states if may_record(current.get(s.send_id))]
            self._put(db, fresh)
        return len(fresh)

    def claim(self, send_ids: list[str], *, rule_id: str, group_id: str, scheduled_for: datetime | None,
              holder: str, at: datetime, bindings: Iterable[Binding] = ()) -> None:
        bindings = list(bindings)
        with self._tx() as db:
            current = self._get(db, list(send_ids))
            for sid in send_ids:
                if not claimable(current.get(sid)):
                    raise Conflict(f"{sid} is already {current[sid].status}")
            self._bind(db, bindings)
            self._put(db, [SendState(sid, CLAIMED, rule_id, group_id, utc(scheduled_for),
                                     current[sid].attempts if sid in current else 0, utc(at), None, "", "",
                                     holder, utc(at)) for sid in send_ids])

    def settle(self, send_ids: list[str], status: str, *, at: datetime, attempts: int = 0,
               sent_at: datetime | None = None, reason: str = "", preview: str = "") -> None:
        check_status(status)
        with self._tx() as db:
            current = self._get(db, list(send_ids))
            missing = [sid for sid in send_ids if sid not in current]
            if missing:
                raise Conflict(f"{', '.join(missing)} was never claimed")
            self._put(db, [settled(current[sid], status, at, attempts, sent_at, reason, preview) for sid in send_ids])

    # --- bindings ------------------------------------------------------------------------------------------

    def bindings(self, kind: str) -> dict[str, Binding]:
        rows = self._db.execute("SELECT * FROM bindings WHERE kind = ?", (kind,))
        return {r["key"]: Binding(r["kind"], r["key"], r["value"], r["send_id"] or "", from_iso(r["at"])) for r in rows}

    def bind(self, bindings: Iterable[Binding]) -> None:
        with self._tx() as db:
            self._bind(db, list(bindings))

    @staticmethod
    def _bind(db: sqlite3.Connection, bindings: list[Binding]) -> None:
        for b in bindings:
            row = db.execute("SELECT value FROM bindings WHERE kind = ? AND key = ?", (b.kind, b.key)).fetchone()
            if row is not None:
                if row["value"] != b.value:
                    raise Conflict(f"{b.kind} {b.key} is already bound to {row['value']}")
                continue
            db.execute("INSERT INTO bindings (kind, key, value, send_id, at) VALUES (?, ?, ?, ?, ?)",
                       (b.kind, b.key, b.value, b.send_id, iso(b.at)))

    # --- inbox ---------------------------------------------------------------------------------------------

    def put_events(self, events: Iterable[dict], at: datetime) -> int:
        rows = [(event_id_of(e), iso(at), json.dumps(e, ensure_ascii=False, default=str)) for e in events]
        with self._tx() as db:
            before = db.total_changes
            db.executemany("INSERT OR IGNORE INTO inbox (event_id, received_at, body) VALUES (?, ?, ?)", rows)
            return db.total_changes - before

    def known_events(self, event_ids: Iterable[str]) -> set[str]:
        ids, found = list(dict.fromkeys(event_ids)), set()
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            rows = self._db.execute(f"SELECT event_id FROM inbox WHERE event_id IN ({','.join('?' * len(chunk))})", chunk)
            found |= {r["event_id"] for r in rows}
        return found

    def pending_events(self, limit: int | None = None) -> list[dict]:
        sql = "SELECT body FROM inbox WHERE folded = 0 ORDER BY seq" + (f" LIMIT {int(limit)}" if limit else "")
        return [json.loads(r["body"]) for r in self._db.execute(sql)]

    def mark_folded(self, event_ids: Iterable[str]) -> None:
        with self._tx() as db:
            db.executemany(f"UPDATE inbox SET folded = 1, {SCRUB} WHERE event_id = ?", [(e,) for e in event_ids])

    def forget_events(self, before: datetime, limit: int = 5000) -> int:
        with self._tx() as db:
            return db.execute("DELETE FROM inbox WHERE seq IN (SELECT seq FROM inbox WHERE received_at < ? "
                              "AND folded = 1 LIMIT ?)", (iso(before), int(limit))).rowcount

    # --- activity -------------------------------------------------------------------------------------------

    def add_activity(self, hits: Iterable[ActivityHit], at: datetime) -> int:
        hits = [h for h in hits if check_day(h.day)]
        ids = list(dict.fromkeys(h.event_id for h in hits))
        with self._tx() as db:
            pending = set()
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                rows = db.execute(f"SELECT event_id FROM inbox WHERE folded = 0 AND event_id IN "
                                  f"({','.join('?' * len(chunk))})", chunk)
                pending |= {r["event_id"] for r in rows}
            counted = 0
            for h in hits:
                if h.event_id not in pending:
                    continue
                pending.discard(h.event_id)          # one hit per event, however often it is given
                stamp = iso(h.at)
                db.execute("INSERT INTO activity (key, day, messages, last_at) VALUES (?, ?, 1, ?) "
                           "ON CONFLICT(key, day) DO UPDATE SET messages = messages + 1, "
                           "last_at = MAX(COALESCE(last_at, ''), excluded.last_at)", (h.key, h.day, stamp))
                db.execute(f"UPDATE inbox SET folded = 1, {SCRUB} WHERE event_id = ?", (h.event_id,))
                counted += 1
            return counted

    def activity(self, since: str | None = None) -> list[ActivityDay]:
        rows = self._db.execute("SELECT * FROM activity WHERE day >= ? ORDER BY key, day", (since or "",))
        return [ActivityDay(r["key"], r["day"], r["messages"], from_iso(r["last_at"])) for r in rows]

    # --- cursors and leases --------------------------------------------------------------------------------

    def cursor(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM cursors WHERE name = ?", (name,)).fetchone()
        return row["value"] if row else None

    def advance(self, name: str, value: str) -> str:
        with self._tx() as db:
            row = db.execute("SELECT value FROM cursors WHERE name = ?", (name,)).fetchone()
            if row is not None and row["value"] >= value:
                return row["value"]
            db.execute("INSERT OR REPLACE INTO cursors (name, value) VALUES (?, ?)", (name, value))
            return value

    def acquire(self, name: str, holder: str, ttl: float, now: float) -> bool:
        with self._tx() as db:
            row = db.execute("SELECT holder, expires FROM leases WHERE name = ?", (name,)).fetchone()
            if row is not None and row["expires"] > now and row["holder"] != holder:
                return False
            db.execute("INSERT OR REPLACE INTO leases (name, holder, expires) VALUES (?, ?, ?)", (name, holder, now + ttl))
            return True

    def release(self, name: str, holder: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    # --- cache ---------------------------------------------------------------------------------------------

    def cache(self, name: str, value: str, expires_at: float) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO cache (name, value, expires) VALUES (?, ?, ?)",
                       (name, str(value), float(expires_at)))

    def cached(self, name: str, now: float) -> str | None:
        row = self._db.execute("SELECT value FROM cache WHERE name = ? AND expires > ?", (name, float(now))).fetchone()
        return row["value"] if row else None

    def cached_under(self, prefix: str, now: float) -> dict[str, str]:
        rows = self._db.execute("SELECT name, value FROM cache WHERE substr(name, 1, ?) = ? AND expires > ? "
                                "ORDER BY name", (len(prefix), prefix, float(now)))
        return {r["name"]: r["value"] for r in rows}

    def forget_cached(self, now: float, limit: int = 5000) -> int:
        with self._tx() as db:
            return db.execute("DELETE FROM cache WHERE name IN (SELECT name FROM cache WHERE expires <= ? LIMIT ?)",
                              (float(now), int(limit))).rowcount
