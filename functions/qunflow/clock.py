"""The one place qunflow reads the wall clock. Everything below the entry points takes `now` as an argument."""
from __future__ import annotations

from datetime import datetime, timezone


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def parse_now(text: str | None) -> datetime:
    """`--now` for replaying a moment: ISO 8601; without an offset it is read as UTC."""
    if not text:
        return utc_now()
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
