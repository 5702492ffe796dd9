"""SOP schedules as pure triggers: `parse_schedule(text)` → a Schedule that answers "when does
it fire in (after, until]?" for a time zone. No wall clock anywhere: every instant is an argument
(the APScheduler trigger idea, see docs STYLE.md).

Forms (English or Chinese; canonical English in `Schedule.text`):
    once          2026-12-01 20:00 · 2026/12/1 8pm · 2026年12月1日 晚上8点
    daily         daily 23:00 · every day 9:00,21:00 · 每天 23:00 · 每天 9:00、21:00
    weekly        weekly mon,thu 20:00 · every fri-mon 8pm · 每周一、四 20:00 · 每周一,周四 20:00 · 每个工作日 9点
    campaign_day  day 3 20:00 · day 17-18 10:00 · 第3天 20:00 · 第17-18天 10:00 · 第17至18天 10:00
    on_join       on join · 入群时                      (member-relative)
    join_offset   join+2d 10:00 · join+3h · join+30m · 入群后2天 10:00 · 入群后3小时   (member-relative)
    cron          cron 0 23 * * *                     (5 fields, local wall time of the group's zone)
Times: 20:00, 8:05, 8pm, 8:30pm, 20点, 20点30, 8点半, 晚上8点, 上午10点 (下午/晚上 add 12 to 1-11;
晚上12点 is refused as ambiguous). Errors: ScheduleError(code, value, example), codes in ERROR_CODES.

Time decisions (one rule, `resolve`, used by every kind, cron included):
- Schedules are wall-clock times in the group's zone; results are aware datetimes in UTC.
- Windows are half-open on the left: `occurrences(a, b)` returns every t with a < t <= b, in order,
  so consecutive ticks (a,b], (b,c] never drop or double-count a send.
- Spring forward (a wall time that does not exist, e.g. 02:30 in New York on 2026-03-08): it fires
  once, at the first valid instant after the gap (03:00 local). Several times in the same gap
  (02:15 and 02:45, or 02:30 and 03:00) collapse into that one instant: each instant fires once.
- Fall back (a wall time that happens twice, e.g. 01:30 in New York on 2026-11-01): it fires once,
  at the first instant (fold=0, still on summer time). The repeated hour never fires again.
- Day counting uses local dates: campaign day 1 is `campaign_start`; day N is start + N-1 days.
  A campaign_day schedule without a campaign_start has no occurrences (the caller reports it).
- Dates are validated when parsed: 2026-04-31 or 2026-02-30 are errors (impossible_date), never
  rolled over or skipped. Month ends, Feb 29 and year ends are plain calendar arithmetic.
- Member-relative kinds have no group occurrences (`occurrences` → [], `next_after` → None);
  `member_occurrence(joined_at, tz)` gives the one instant for a member: on_join → joined_at;
  join+Nd HH:MM → the local join date + N days at HH:MM (DST rules above); join+Nd (no clock
  time) → the same local clock time N calendar days later; join+Nh / join+Nm → elapsed time.
- `next_after(t)` searches a bounded horizon (400 days); None when nothing fires in it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import ClassVar, Iterable, Iterator
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, croniter

from .schedule_parse import ERROR_CODES, EXAMPLES, ScheduleError, normalize, parse_spec

__all__ = ["parse_schedule", "Schedule", "ScheduleError", "ERROR_CODES", "EXAMPLES", "Once", "Daily", "Weekly",
           "CampaignDay", "OnJoin", "JoinOffset", "Cron", "resolve", "normalize", "HORIZON"]

UTC = timezone.utc
HORIZON = timedelta(days=400)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_LAST_DAY = date.max - timedelta(days=2)


def parse_schedule(text: str) -> "Schedule":
    """The Schedule a SOP cell describes, or ScheduleError(code, value, example)."""
    kind, fields = parse_spec(text)
    return KINDS[kind](**fields)


def resolve(wall: datetime, tz: ZoneInfo) -> datetime:
    """A naive local wall time in tz → the UTC instant it fires at (see the DST rules above)."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first  # exists; when ambiguous, fold=0 is the first of the two instants
    # In a gap: fold=0 used the offset before the change (an instant after the gap), fold=1 the
    # offset after it (an instant before). The change is between: find its first second.
    lo = int(wall.replace(tzinfo=tz, fold=1).astimezone(UTC).timestamp())
    hi = int(first.timestamp())
    target = first.astimezone(tz).utcoffset()
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).utcoffset() == target:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def _aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


def _hhmm(times: Iterable[time]) -> str:
    return ",".join(f"{t:%H:%M}" for t in times)


def _day_walls(days: Iterable[date], times: tuple[time, ...], after_wall: datetime) -> Iterator[datetime]:
    for day in days:
        for t in times:
            wall = datetime.combine(day, t)
            if wall > after_wall:
                yield wall


def _days_from(day: date) -> Iterator[date]:
    while day < _LAST_DAY:
        yield day
        day += timedelta(days=1)


@dataclass(frozen=True)
class Schedule:
    """Common base. Subclasses give `text` and either `_walls` (group-level) or `member_occurrence`."""

    kind: ClassVar[str] = ""
    member_relative: ClassVar[bool] = False

    @property
    def text(self) -> str:  # pragma: no cover - every kind overrides it
        raise NotImplementedError

    def __str__(self) -> str:
        return self.text

    def _walls(self, after_wall: datetime, campaign_start: date | None) -> Iterator[datetime]:
        """Naive local wall times strictly after `after_wall`, ascending."""
        return iter(())

    def iter_after(self, after: datetime, tz: ZoneInfo, campaign_start: date | None = None) -> Iterator[datetime]:
        """Fire instants (UTC) strictly after `after`, ascending, each once. May be endless."""
        _aware(after, "after")
        after_wall = after.astimezone(tz).replace(tzinfo=None)
        # resolve() is non-decreasing in the wall time and resolve(after_wall) <= after, so walls
        # at or before after_wall can never fire after `after`: start the walk there.
        last = None
        for wall in self._walls(after_wall, campaign_start):
            t = resolve(wall, tz)
            if t > after and t != last:
                last = t
                yield t

    def occurrences(self, after: datetime, until: datetime, tz: ZoneInfo,
                    campaign_start: date | None = None) -> list[datetime]:
        """Every fire instant t with after < t <= until, ascending, in UTC."""
        _aware(after, "after")
        _aware(until, "until")
        out: list[datetime] = []
        if until <= after:
            return out
        for t in self.iter_after(after, tz, campaign_start):
            if t > until:
                break
            out.append(t)
        return out

    def next_after(self, t: datetime, tz: ZoneInfo, campaign_start: date | None = None,
                   horizon: timedelta = HORIZON) -> datetime | None:
        """The first fire instant strictly after t, or None if none within `horizon`."""
        for u in self.iter_after(t, tz, campaign_start):
            return u if u <= t + horizon else None
        return None

    def member_occurrence(self, joined_at: datetime, tz: ZoneInfo) -> datetime:
        raise TypeError(f"a {self.kind} schedule fires for the group, not per member")


@dataclass(frozen=True)
class Once(Schedule):
    day: date
    times: tuple[time, ...]
    kind: ClassVar[str] = "once"

    @property
    def text(self) -> str:
        return f"{self.day:%Y-%m-%d} {_hhmm(self.times)}"

    def _walls(self, after_wall, campaign_start):
        return _day_walls((self.day,), self.times, after_wall)


@dataclass(frozen=True)
class Daily(Schedule):
    times: tuple[time, ...]
    kind: ClassVar[str] = "daily"

    @property
    def text(self) -> str:
        return f"daily {_hhmm(self.times)}"

    def _walls(self, after_wall, campaign_start):
        return _day_walls(_days_from(after_wall.date()), self.times, after_wall)


@dataclass(frozen=True)
class Weekly(Schedule):
    weekdays: tuple[int, ...]  # 0 = Monday … 6 = Sunday
    times: tuple[time, ...]
    kind: ClassVar[str] = "weekly"

    @property
    def text(self) -> str:
        return f"weekly {','.join(WEEKDAYS[d] for d in self.weekdays)} {_hhmm(self.times)}"

    def _walls(self, after_wall, campaign_start):
        days = (d for d in _days_from(after_wall.date()) if d.weekday() in self.weekdays)
        return _day_walls(days, self.times, after_wall)


@dataclass(frozen=True)
class CampaignDay(Schedule):
    first_day: int  # day 1 is the group's campaign_start
    last_day: int
    times: tuple[time, ...]
    kind: ClassVar[str] = "campaign_day"

    @property
    def text(self) -> str:
        days = str(self.first_day) if self.first_day == self.last_day else f"{self.first_day}-{self.last_day}"
        return f"day {days} {_hhmm(self.times)}"

    def day_dates(self, campaign_start: date) -> tuple[date, date]:
        """The local dates of the first and last day."""
        return (campaign_start + timedelta(days=self.first_day - 1), campaign_start + timedelta(days=self.last_day - 1))

    def _walls(self, after_wall, campaign_start):
        if campaign_start is None:
            return iter(())
        first, last = self.day_dates(campaign_start)
        start = max(first, after_wall.date())
        days = (start + timedelta(days=i) for i in range((last - start).days + 1))
        return _day_walls(days, self.times, after_wall)


@dataclass(frozen=True)
class Cron(Schedule):
    expr: str  # 5 fields, validated by croniter when parsed
    kind: ClassVar[str] = "cron"

    @property
    def text(self) -> str:
        return f"cron {self.expr}"

    def _walls(self, after_wall, campaign_start):
        # croniter walks naive wall times (pure calendar arithmetic, no DST); resolve() applies the
        # DST rules afterwards, so cron agrees with every other kind.
        it = croniter(self.expr, after_wall)
        while True:
            try:
                wall = it.get_next(datetime)
            except (CroniterBadDateError, OverflowError, ValueError):
                return
            yield wall


@dataclass(frozen=True)
class OnJoin(Schedule):
    kind: ClassVar[str] = "on_join"
    member_relative: ClassVar[bool] = True

    @property
    def text(self) -> str:
        return "on join"

    def member_occurrence(self, joined_at: datetime, tz: ZoneInfo) -> datetime:
        """The join instant itself: the next tick after a member joins sends it."""
        _aware(joined_at, "joined_at")
        return joined_at.astimezone(UTC)


@dataclass(frozen=True)
class JoinOffset(Schedule):
    amount: int
    unit: str            # "d" (calendar days), "h" or "m" (elapsed time)
    at: time | None = None  # clock time on the target day; only with unit "d"
    kind: ClassVar[str] = "join_offset"
    member_relative: ClassVar[bool] = True

    @property
    def text(self) -> str:
        return f"join+{self.amount}{self.unit}" + (f" {self.at:%H:%M}" if self.at else "")

    def member_occurrence(self, joined_at: datetime, tz: ZoneInfo) -> datetime:
        _aware(joined_at, "joined_at")
        if self.unit == "h":
            return joined_at.astimezone(UTC) + timedelta(hours=self.amount)  # in UTC: real elapsed time
        if self.unit == "m":
            return joined_at.astimezone(UTC) + timedelta(minutes=self.amount)
        local = joined_at.astimezone(tz).replace(tzinfo=None)
        day = local.date() + timedelta(days=self.amount)
        return resolve(datetime.combine(day, self.at or local.time()), tz)


KINDS: dict[str, type[Schedule]] = {cls.kind: cls for cls in (Once, Daily, Weekly, CampaignDay, OnJoin, JoinOffset, Cron)}
