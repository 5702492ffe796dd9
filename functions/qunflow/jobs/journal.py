"""The write-ahead journal of a local run: a line before each HTTP attempt, a line with each result.

If the process dies between sending and writing the SendLog back, the next run reads the journal:
a result found there is written back (and never sent again); an attempt with no result becomes
`unknown` (it may have reached the group), never sent twice silently. The journal is emptied once
the SendLog holds everything it says.
"""
from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Iterable

from ..engine.ledger import Entry, Ledger


class FileJournal:
    def __init__(self, path: Path):
        self.path = Path(path)

    def _write(self, record: dict) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def attempt(self, sends: Iterable[str], group_id: str, rule_id: str) -> None:
        self._write({"state": "sending", "sends": list(sends), "group_id": group_id, "rule_id": rule_id})

    def result(self, sends: Iterable[str], status: str, attempts: int, sent_at: datetime | None, reason: str,
               group_id: str, rule_id: str) -> None:
        self._write({"state": status, "sends": list(sends), "attempts": attempts,
                     "sent_at": sent_at.isoformat() if sent_at else None, "reason": reason,
                     "group_id": group_id, "rule_id": rule_id})

    def records(self) -> list[dict]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line torn by a crash mid-write: its send stays `sending` → unknown
        return out

    def recover(self) -> dict[str, dict]:
        """send id -> its last journal record; `sending` with no result becomes `unknown`."""
        latest: dict[str, dict] = {}
        for record in self.records():
            for sid in record.get("sends", []):
                latest[sid] = record
        out = {}
        for sid, record in latest.items():
            record = dict(record)
            if record["state"] == "sending":
                record.update(state="unknown", reason="the run stopped after sending began; it may have been delivered")
            out[sid] = record
        return out

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


class NullJournal:
    """For dry runs and stores whose write-ahead is elsewhere."""

    def attempt(self, *args, **kwargs) -> None: ...

    def result(self, *args, **kwargs) -> None: ...

    def recover(self) -> dict[str, dict]:
        return {}

    def clear(self) -> None: ...


def merge_into(ledger: Ledger, recovered: dict[str, dict]) -> None:
    for sid, record in recovered.items():
        sent_at = datetime.fromisoformat(record["sent_at"]) if record.get("sent_at") else None
        ledger.add(Entry(sid, record["state"], record.get("attempts", 0), None, sent_at,
                         record.get("group_id"), record.get("rule_id")))
