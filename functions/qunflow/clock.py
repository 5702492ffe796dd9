"""The one place qunflow reads the wall clock. Everything below the entry points takes `now` as an argument."""
from __future__ import annotations

from datetime import datetime, timezone, tzinfo


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class BadMoment(ValueError):
    """A `--now` that is not a moment: the operator's typo, not a bug. `.text` is what was written."""

    def __init__(self, text: str):
        super().__init__(f"{text!r} is not an ISO 8601 moment")
        self.text = text


def parse_now(text: str | None, zone: tzinfo | None = None) -> datetime:
    """`--now` for replaying a moment: ISO 8601; without an offset it is read in `zone` (the CLI passes the
    Settings time zone: `jobs.reading.replay_moment`), UTC when none is given."""
    if not text:
        return utc_now()
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadMoment(text) from None
    return value if value.tzinfo else value.replace(tzinfo=zone or timezone.utc)


def names_its_offset(text: str | None) -> bool:
    """Whether a `--now` says its own offset (or Z); no `--now` is the wall clock, which does. BadMoment when it
    is not a moment at all."""
    if not text:
        return True
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).tzinfo is not None
    except ValueError:
        raise BadMoment(text) from None


class VirtualClock:
    """Epoch seconds that move only when told: `sleep` advances them. For the demo and tests, so a
    30-day campaign runs in seconds; the dispatcher and the emulator can share one."""

    def __init__(self, start: datetime):
        self.t = start.timestamp()

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.t, timezone.utc)

    def set(self, moment: datetime) -> None:
        """Move to `moment`, never backwards."""
        self.t = max(self.t, moment.timestamp())
