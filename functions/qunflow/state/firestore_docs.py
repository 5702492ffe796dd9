"""Firestore documents: ids, send records, chunks, and whether a transaction was aborted. Pure but for the
google library's exception types (state/firestore.py's module docstring says why the ids look as they do)."""
from __future__ import annotations

import hashlib
from typing import Iterable

from google.api_core import exceptions as gexc

from .base import SendState, from_iso, iso

COLUMNS = ("send_id", "status", "rule_id", "group_id", "scheduled_for", "attempts", "claimed_at", "sent_at",
           "reason", "preview", "holder", "updated_at")
TIMES = {"scheduled_for", "claimed_at", "sent_at", "updated_at"}
CHUNK = 400          # documents per transaction where a method may split (Firestore: 500 writes a commit)
ATTEMPTS = 10        # attempts in _tx at a transaction Firestore aborts (each a new transaction)


def _esc(text: str, extra: str = "") -> str:
    out = str(text).replace("%", "%25").replace("/", "%2F")
    for ch in extra:
        out = out.replace(ch, "%" + format(ord(ch), "02X"))
    return out


def _id(*parts: str) -> str:
    """A valid, injective Firestore document id for these parts (see the module docstring)."""
    doc = ":".join(_esc(p, ":") for p in parts[:-1]) + (":" if len(parts) > 1 else "") + _esc(parts[-1])
    if doc in ("", ".", "..") or (len(doc) >= 4 and doc.startswith("__") and doc.endswith("__")):
        doc = "%" + (format(ord(doc[0]), "02X") + doc[1:] if doc else "")
    if len(doc.encode("utf-8")) > 1500:
        doc = "%H" + hashlib.sha256(doc.encode("utf-8")).hexdigest()
    return doc


def _doc(state: SendState) -> dict:
    return {c: (iso(getattr(state, c)) if c in TIMES else getattr(state, c)) for c in COLUMNS}


def _state(data: dict) -> SendState:
    return SendState(**{c: (from_iso(data.get(c)) if c in TIMES else data.get(c)) for c in COLUMNS})


def _aborted(exc: BaseException | None) -> bool:
    """Whether Firestore aborted the transaction (contention): the library wraps it, rollback may chain it."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, gexc.Aborted):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
