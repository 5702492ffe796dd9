"""Signed member events from a shop, a bot or a form, appended to the Events tab.

The request (POST, the body is JSON):
    X-Qunflow-Timestamp: 1764590400                       unix seconds, within 5 minutes of our clock
    X-Qunflow-Signature: sha256=<hex HMAC-SHA256 of f"{timestamp}.".encode() + body, with the shared secret>
    {"events": [{"event_id": "E1001", "type": "join", "member_id": "M0001", "at": "2026-12-01T20:00:00+08:00",
                 "group_id": "G01", "detail": "name=小林; channel=store"}]}
The body may also be one event object, or a list of them. Fields: event_id, type (join, leave, message,
order, redeem, invite, checkin), member_id and at (ISO 8601) are required; group_id (a group of the Groups
tab), amount (a number), coupon_code and detail are optional; other fields are ignored. Times with an offset
are stored with it (`2026-12-01 20:00:00+08:00`: one moment, read the same way by every part of qunflow),
times without one as given (wall-clock time in the event's group's zone); either way between the years 1900
and 2999. Text fields are strings (ids may be integers); text no workbook can hold is refused: NUL
and the other control characters but tab, line feed and carriage return, lone surrogates, U+FFFE and U+FFFF.

A bad request is refused whole, with its reason, and nothing is written: 413 body over 256 KiB or more than
1000 events; 401 missing or bad signature, or a timestamp outside the window; 400 malformed JSON, a missing
or malformed field (named in the reason), an unknown type or group: any input that could not be stored. Events whose event_id is already in the Events tab, or
repeated in the request, are skipped and counted as duplicates: a retried delivery is harmless.
Values are written as text, RAW: `=HYPERLINK(...)`, `+cmd` or `@SUM(1)` stay exactly that text.

`verify_and_parse` is pure (the clock is an argument); `ingest_into` reads and writes a store.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from ..sheet.cells import CellError, fold, is_blank, parse_id, storable, unstorable

TIMESTAMP_HEADER = "X-Qunflow-Timestamp"
SIGNATURE_HEADER = "X-Qunflow-Signature"
MAX_BODY = 256 * 1024
MAX_EVENTS = 1000
MAX_FIELD = 2000          # characters in one text field
WINDOW = 300              # seconds either side of now
TYPES = ("join", "leave", "message", "order", "redeem", "invite", "checkin")
REQUIRED = ("event_id", "type", "member_id", "at")
COLUMNS = ("event_id", "type", "member_id", "group_id", "at", "amount", "coupon_code", "detail")
FIRST_YEAR, LAST_YEAR = 1900, 2999   # event times outside are typos; they leave the tick's date arithmetic room


@dataclass
class IngestResult:
    status: int = 200
    error: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)   # new rows for the Events tab, in request order
    duplicates: list[str] = field(default_factory=list)          # event ids skipped as already known

    @property
    def ok(self) -> bool:
        return self.status == 200

    def body(self) -> dict[str, Any]:
        if not self.ok:
            return {"error": self.error}
        return {"accepted": len(self.events), "duplicates": len(self.duplicates)}


def _refuse(status: int, error: str) -> IngestResult:
    return IngestResult(status, storable(error))


def sign(body: bytes, secret: str, timestamp: int | str) -> str:
    """The X-Qunflow-Signature value for a body (what senders compute)."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _header(headers: Mapping[str, str] | Any, name: str) -> str:
    items = headers.items() if hasattr(headers, "items") else headers
    return next((str(v).strip() for k, v in items if str(k).lower() == name.lower()), "")


def authenticate(headers: Any, body: bytes, secret: str, now: float) -> IngestResult | None:
    """The checks that need no sheet: size, signature, replay window. None when they pass."""
    if not secret:
        return _refuse(500, "ingest is not configured: INGEST_HMAC_SECRET is empty")
    if len(body) > MAX_BODY:
        return _refuse(413, f"body too large: {len(body)} bytes, the limit is {MAX_BODY} (256 KiB); send fewer events per request")
    stamp, signature = _header(headers, TIMESTAMP_HEADER), _header(headers, SIGNATURE_HEADER)
    if not signature:
        return _refuse(401, f"missing signature: send {SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256 of \"<timestamp>.<body>\">")
    if not re.fullmatch(r"\d{1,12}", stamp):
        return _refuse(401, f"missing or malformed timestamp: send {TIMESTAMP_HEADER} as unix seconds")
    expected = sign(body, secret, stamp)
    if not hmac.compare_digest(signature.lower().encode("ascii", "replace"), expected.encode("ascii")):
        return _refuse(401, "bad signature: HMAC-SHA256 over \"<timestamp>.\" + body with the shared secret does not match")
    if abs(now - int(stamp)) > WINDOW:
        return _refuse(401, f"stale timestamp: {stamp} is more than {WINDOW} s from the server's clock ({int(now)}); "
                            "sign each request when you send it")
    return None


def storable_time(value: datetime, tz: tzinfo | None = None) -> datetime:
    """A time as the sheet keeps it: with its offset when it has one (written `2026-12-01 20:00:00+08:00`, the
    same moment whatever zone reads it), as given when it has none (wall-clock time in its group's zone). A
    ValueError for a time the workbook should not keep: before FIRST_YEAR or after LAST_YEAR (year 1 or 9999
    would overflow the moment it moves to another time zone). `tz` is unused: kept for callers."""
    try:
        if value.tzinfo is not None:
            value.astimezone(timezone.utc)
            shown = value.astimezone(tz) if tz else value
        else:
            shown = value
    except OverflowError:
        raise ValueError("out of range") from None
    if not FIRST_YEAR <= shown.year <= LAST_YEAR or not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError("out of range")
    return value.replace(microsecond=0)


def _shown(value: Any, limit: int = 60) -> str:
    """A value inside a reason: short, and storable (so the answer and the log line can always be written)."""
    return storable(str(value)[:limit])


def _text(event: dict, key: str, where: str) -> str | None:
    value = event.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"{where}: {key} must be text (a JSON string), not {type(value).__name__}")
    text = str(value).strip()  # ids stay exactly as sent: no number guessing
    if len(text) > MAX_FIELD:
        raise ValueError(f"{where}: {key} is longer than {MAX_FIELD} characters")
    _check_storable(text, key, where)
    return text


def _check_storable(text: str, key: str, where: str) -> None:
    if chars := unstorable(text):
        raise ValueError(f"{where}: {key} holds characters no workbook can keep ({chars}); send valid Unicode "
                         "text without control characters (tab and line breaks are fine)")


def _event(raw: Any, index: int, known_groups: dict[str, str], tz: tzinfo | None) -> dict[str, Any]:
    where = f"event {index + 1}"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: each event must be a JSON object")
    if isinstance(raw.get("event_id"), (str, int)) and not isinstance(raw.get("event_id"), bool):
        where += f" ({_shown(raw['event_id'])})"
    for key in REQUIRED:
        if is_blank(raw.get(key)):
            raise ValueError(f"{where}: missing field {key}")
    row = {key: _text(raw, key, where) for key in ("event_id", "member_id", "group_id", "coupon_code", "detail")}
    kind = raw["type"]
    if not isinstance(kind, str) or kind.strip().lower() not in TYPES:
        raise ValueError(f"{where}: unknown type {_shown(kind, 40)!r}; use one of {', '.join(TYPES)}")
    row["type"] = kind.strip().lower()
    if row["group_id"] is not None:
        if fold(row["group_id"]) not in known_groups:
            raise ValueError(f"{where}: unknown group {_shown(row['group_id'])!r}; it must be a group_id of the Groups tab")
        row["group_id"] = known_groups[fold(row["group_id"])]
    at = raw["at"]
    try:
        when = datetime.fromisoformat(at.strip().replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        raise ValueError(f"{where}: at {_shown(at, 40)!r} is not an ISO 8601 time like 2026-12-01T20:00:00+08:00") from None
    try:
        row["at"] = storable_time(when, tz)
    except ValueError:
        raise ValueError(f"{where}: at {_shown(at, 40)!r} is not between the years {FIRST_YEAR} and {LAST_YEAR}") from None
    amount = raw.get("amount")
    row["amount"] = None
    if not is_blank(amount):
        try:
            row["amount"] = Decimal(str(amount).strip()) if not isinstance(amount, bool) else None
        except InvalidOperation:
            row["amount"] = None
        if row["amount"] is None or not row["amount"].is_finite() or abs(row["amount"]) >= 10 ** 12:
            raise ValueError(f"{where}: amount {_shown(amount, 40)!r} is not a number")
    return {key: row[key] for key in COLUMNS}


def verify_and_parse(headers: Any, body: bytes, secret: str, now: float, known_groups: set[str] | dict[str, str],
                     seen_event_ids: set[str], *, tz: tzinfo | None = None) -> IngestResult:
    """Check a request and turn it into new Events rows. Pure: `now` is unix seconds.

    known_groups: group ids (or {folded id: id}); seen_event_ids: ids already in the Events tab."""
    refused = authenticate(headers, body, secret, now)
    if refused:
        return refused
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return _refuse(400, f"malformed JSON: {str(exc)[:120] or 'nested too deeply'}")
    if isinstance(data, dict) and "events" in data:
        data = data["events"]
    items = data if isinstance(data, list) else [data]
    if not items:
        return _refuse(400, "no events in the request")
    if len(items) > MAX_EVENTS:
        return _refuse(413, f"{len(items)} events in one request; the limit is {MAX_EVENTS}")
    groups = known_groups if isinstance(known_groups, dict) else {fold(g): g for g in known_groups}
    seen = {fold(e) for e in seen_event_ids}
    result = IngestResult()
    for index, raw in enumerate(items):
        try:
            row = _event(raw, index, groups, tz)
        except (ValueError, CellError) as exc:
            reason = str(exc) if not isinstance(exc, CellError) else f"event {index + 1}: an id has lost digits"
            return _refuse(400, reason)
        if fold(row["event_id"]) in seen:
            result.duplicates.append(row["event_id"])
            continue
        seen.add(fold(row["event_id"]))
        result.events.append(row)
    return result


# --- against a workbook ---------------------------------------------------------------------------------

def existing_event_ids(wb: Any) -> set[str]:
    """Every event_id in the Events tab, including rows that have other errors."""
    return _ids(wb.tables["events"], "event_id")


def group_lookup(wb: Any, names: bool = False) -> dict[str, str]:
    """{folded group id: group id} for every row of the Groups tab; with names, group names too."""
    table, out = wb.tables["groups"], {}
    for gid in _ids(table, "group_id", folded=False):
        out.setdefault(fold(gid), gid)
    if names and "name" in table.columns:
        for row in table.rows:
            gid, name = table.cell(row, "group_id"), table.cell(row, "name")
            if not is_blank(gid) and not is_blank(name):
                try:
                    out.setdefault(fold(name), parse_id(gid))
                except CellError:
                    continue
    return out


def _ids(table: Any, column: str, folded: bool = True) -> set[str]:
    out = set()
    for row in table.rows:
        value = table.cell(row, column)
        if is_blank(value):
            continue
        try:
            text = parse_id(value)
        except CellError:
            continue
        out.add(fold(text) if folded else text)
    return out


def ingest_into(store: Any, headers: Any, body: bytes, secret: str, now: float, state: Any = None) -> IngestResult:
    """Authenticate (before touching anything), read the sheet, check every event, keep the new ones.

    With a state store the events go to its inbox in one transaction and the request is answered at once: the
    sheet is only read (its groups and event ids), never locked or written; the next tick appends them to the
    Events tab. Without one they are appended to the Events tab (RAW) under the sheet's lease."""
    from ..sheet.changes import Changes
    from ..sheet.load import load_workbook
    refused = authenticate(headers, body, secret, now)
    if refused:
        return refused
    if state is not None:
        snapshot = store.read()
        wb = load_workbook(snapshot.raw, grid_rows=snapshot.grid_rows)
        result = verify_and_parse(headers, body, secret, now, group_lookup(wb), existing_event_ids(wb),
                                  tz=wb.settings.timezone)
        if result.ok and result.events:
            known = state.known_events(e["event_id"] for e in result.events)   # a retried delivery: duplicates
            result.duplicates += [e["event_id"] for e in result.events if e["event_id"] in known]
            result.events = [e for e in result.events if e["event_id"] not in known]
            state.put_events(result.events, datetime.fromtimestamp(now, timezone.utc))
        return result
    with store.lease("ingest", 30):
        snapshot = store.read()
        wb = load_workbook(snapshot.raw, grid_rows=snapshot.grid_rows)
        result = verify_and_parse(headers, body, secret, now, group_lookup(wb), existing_event_ids(wb),
                                  tz=wb.settings.timezone)
        if result.ok and result.events:
            changes = Changes()
            changes.append("events", result.events)
            store.write(changes, snapshot, wb.lang)
    return result
