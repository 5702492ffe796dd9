"""The SOP schedule language: parsing (English, Chinese, full-width), errors, and pure occurrences.

Fire times are checked as UTC instants: spring-forward gaps fire once at the first valid instant
after the gap, fall-back repeats fire once at the first (fold=0) instant.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from qunflow.sop import schedule as sched
from qunflow.sop.schedule import (
    ERROR_CODES, EXAMPLES, CampaignDay, Cron, Daily, JoinOffset, OnJoin, Once, ScheduleError, Weekly,
    parse_schedule, resolve,
)

UTC = timezone.utc
NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(tz: ZoneInfo, *args, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=tz, fold=fold)


# --- parsing: every form, English and Chinese ------------------------------------------------

VALID = [
    # once
    ("2026-12-01 20:00", "once", "2026-12-01 20:00"),
    ("2026/12/1 20:00", "once", "2026-12-01 20:00"),
    ("2026-12-01 8pm", "once", "2026-12-01 20:00"),
    ("2026.12.01 8:30 PM", "once", "2026-12-01 20:30"),
    ("2026年12月1日 晚上8点", "once", "2026-12-01 20:00"),
    ("2026-12-01T20:00:00", "once", "2026-12-01 20:00"),  # a spreadsheet datetime, str()-ed
    ("2028-02-29 10:00", "once", "2028-02-29 10:00"),
    ("2026-12-01 09:00,21:00", "once", "2026-12-01 09:00,21:00"),
    # daily
    ("daily 23:00", "daily", "daily 23:00"),
    ("Daily 23:00.", "daily", "daily 23:00"),
    ("  every day   at 8:05 ", "daily", "daily 08:05"),
    ("每天 23:00", "daily", "daily 23:00"),
    ("每天２３：００", "daily", "daily 23:00"),
    ("每日　２３：００", "daily", "daily 23:00"),
    ("daily 09:00,21:00", "daily", "daily 09:00,21:00"),
    ("daily 21:00, 9:00, 21:00", "daily", "daily 09:00,21:00"),
    ("daily 9:00 21:00", "daily", "daily 09:00,21:00"),
    ("每天 9:00、21:00", "daily", "daily 09:00,21:00"),
    ("每天 9:00，21:00", "daily", "daily 09:00,21:00"),
    ("每天９：００，２１：００", "daily", "daily 09:00,21:00"),
    ("daily 8pm", "daily", "daily 20:00"),
    ("daily 8:30pm", "daily", "daily 20:30"),
    ("daily 12am", "daily", "daily 00:00"),
    ("daily 12pm", "daily", "daily 12:00"),
    ("每天 20点", "daily", "daily 20:00"),
    ("每天 20点30", "daily", "daily 20:30"),
    ("每天 20点30分", "daily", "daily 20:30"),
    ("每天 8点半", "daily", "daily 08:30"),
    ("每天晚上8点", "daily", "daily 20:00"),
    ("每天 上午10点", "daily", "daily 10:00"),
    ("每天下午3点", "daily", "daily 15:00"),
    ("每天 中午12点", "daily", "daily 12:00"),
    ("每天 晚上20点", "daily", "daily 20:00"),
    # weekly
    ("weekly mon,thu 20:00", "weekly", "weekly mon,thu 20:00"),
    ("Weekly Monday, Thursday 8pm", "weekly", "weekly mon,thu 20:00"),
    ("weekly mondays and thursdays at 8 PM", "weekly", "weekly mon,thu 20:00"),
    ("every mon-fri 09:00", "weekly", "weekly mon,tue,wed,thu,fri 09:00"),
    ("weekly fri-mon 09:00", "weekly", "weekly mon,fri,sat,sun 09:00"),
    ("weekly sun 9:00", "weekly", "weekly sun 09:00"),
    ("每周一、四 20:00", "weekly", "weekly mon,thu 20:00"),
    ("每周一,周四 20:00", "weekly", "weekly mon,thu 20:00"),
    ("每周一，周四 20:00", "weekly", "weekly mon,thu 20:00"),
    ("每周一 周四 20:00", "weekly", "weekly mon,thu 20:00"),
    ("每周一 20:00", "weekly", "weekly mon 20:00"),
    ("每周日晚上8点", "weekly", "weekly sun 20:00"),
    ("每周天 10:00", "weekly", "weekly sun 10:00"),
    ("每星期六 10:00", "weekly", "weekly sat 10:00"),
    ("每周一至周五 9点", "weekly", "weekly mon,tue,wed,thu,fri 09:00"),
    ("每个工作日 9:00", "weekly", "weekly mon,tue,wed,thu,fri 09:00"),
    ("每周末 10:00", "weekly", "weekly sat,sun 10:00"),
    ("每周二 19:00、21:30", "weekly", "weekly tue 19:00,21:30"),
    # campaign day
    ("day 3 20:00", "campaign_day", "day 3 20:00"),
    ("Day 17-18 10:00", "campaign_day", "day 17-18 10:00"),
    ("days 17 - 18 10:00", "campaign_day", "day 17-18 10:00"),
    ("第3天 20:00", "campaign_day", "day 3 20:00"),
    ("第３天　２０：００", "campaign_day", "day 3 20:00"),
    ("第17-18天 10:00", "campaign_day", "day 17-18 10:00"),
    ("第17至18天 10:00", "campaign_day", "day 17-18 10:00"),
    ("第17到18天 10:00", "campaign_day", "day 17-18 10:00"),
    ("第17天-第18天 10:00", "campaign_day", "day 17-18 10:00"),
    ("第1-7天 上午10点", "campaign_day", "day 1-7 10:00"),
    # member-relative
    ("on join", "on_join", "on join"),
    ("On Join", "on_join", "on join"),
    ("入群时", "on_join", "on join"),
    ("进群时", "on_join", "on join"),
    ("join+2d 10:00", "join_offset", "join+2d 10:00"),
    ("join + 2 days 10:00", "join_offset", "join+2d 10:00"),
    ("入群后2天 10:00", "join_offset", "join+2d 10:00"),
    ("入群后２天 上午10点", "join_offset", "join+2d 10:00"),
    ("join+3h", "join_offset", "join+3h"),
    ("join+3 hours", "join_offset", "join+3h"),
    ("入群后3小时", "join_offset", "join+3h"),
    ("入群后3个小时", "join_offset", "join+3h"),
    ("入群后30分钟", "join_offset", "join+30m"),
    ("join+1d", "join_offset", "join+1d"),
    # cron
    ("cron 0 23 * * *", "cron", "cron 0 23 * * *"),
    ("CRON  0  23  *  *  *", "cron", "cron 0 23 * * *"),
    ("cron */15 9-17 * * mon-fri", "cron", "cron */15 9-17 * * mon-fri"),
    ("0 23 * * *", "cron", "cron 0 23 * * *"),
]


@pytest.mark.parametrize("text, kind, canonical", VALID)
def test_parses_every_form(text, kind, canonical):
    s = parse_schedule(text)
    assert (s.kind, s.text) == (kind, canonical)
    assert s.member_relative == (kind in ("on_join", "join_offset"))
    assert parse_schedule(s.text) == s  # the canonical form reads back as the same schedule
    assert str(s) == s.text


def test_schedules_are_frozen_value_objects():
    s = parse_schedule("每天 23:00")
    assert s == Daily(times=(time(23, 0),)) and hash(s) == hash(parse_schedule("daily 23:00"))
    with pytest.raises(AttributeError):
        s.times = ()  # type: ignore[misc]
    assert parse_schedule("第17-18天 10:00") == CampaignDay(17, 18, (time(10, 0),))
    assert parse_schedule("每周一、四 20:00") == Weekly((0, 3), (time(20, 0),))
    assert parse_schedule("2026-12-01 8pm") == Once(date(2026, 12, 1), (time(20, 0),))
    assert parse_schedule("入群后2天 10:00") == JoinOffset(2, "d", time(10, 0))
    assert parse_schedule("入群时") == OnJoin()
    assert parse_schedule("cron 0 23 * * *") == Cron("0 23 * * *")


ERRORS = [
    ("", "empty", ""),
    ("   ", "empty", ""),
    ("whenever you like", "unknown_form", "whenever you like"),
    ("asdf qwer", "unknown_form", "asdf qwer"),
    ("20:00", "unknown_form", "20:00"),
    ("2026-04-31 10:00", "impossible_date", "2026-04-31"),
    ("2026-02-30", "impossible_date", "2026-02-30"),
    ("2027-02-29 10:00", "impossible_date", "2027-02-29"),
    ("2026年2月30日 10:00", "impossible_date", "2026年2月30日"),
    ("2026-13-01 10:00", "bad_date", "2026-13-01"),
    ("2026-12-32 10:00", "bad_date", "2026-12-32"),
    ("12-01 20:00", "bad_date", "12-01 20:00"),
    ("2026-12-01", "missing_time", "2026-12-01"),
    ("daily 25:00", "bad_time", "25:00"),
    ("daily 23:60", "bad_time", "23:60"),
    ("daily 24:00", "bad_time", "24:00"),
    ("daily 13pm", "bad_time", "13pm"),
    ("daily 8", "bad_time", "8"),
    ("daily 20:00abc", "bad_time", "20:00abc"),
    ("每天 晚上12点", "bad_time", "晚上12点"),
    ("每天 上午15点", "bad_time", "上午15点"),
    ("每天", "missing_time", "每天"),
    ("weekly xyz 10:00", "bad_weekday", "xyz"),
    ("weekly 10:00", "bad_weekday", ""),
    ("每周八 10:00", "bad_weekday", "八"),
    ("day 0 10:00", "bad_day_range", "0"),
    ("day 18-17 10:00", "bad_day_range", "18-17"),
    ("第0天 10:00", "bad_day_range", "0"),
    ("第18-17天 10:00", "bad_day_range", "18-17"),
    ("day x 10:00", "bad_day_range", "day x 10:00"),
    ("day 3", "missing_time", "day 3"),
    ("join+0d 10:00", "bad_offset", "0d"),
    ("join+2w", "bad_offset", "2w"),
    ("入群后", "bad_offset", "入群后"),
    ("join+3h 10:00", "bad_time", "10:00"),
    ("join+2d 10:00,20:00", "bad_time", "10:00,20:00"),
    ("cron 99 * * * *", "bad_cron", "99 * * * *"),
    ("cron 0 23 * *", "bad_cron", "0 23 * *"),
    ("cron 0 0 23 * * *", "bad_cron", "0 0 23 * * *"),
    ("cron H 0 * * *", "bad_cron", "h 0 * * *"),
    ("cron 0 0 30 2 *", "impossible_date", "0 0 30 2 *"),
]


@pytest.mark.parametrize("text, code, value", ERRORS)
def test_every_error_code(text, code, value):
    with pytest.raises(ScheduleError) as info:
        parse_schedule(text)
    error = info.value
    assert (error.code, error.value) == (code, value)
    assert error.code in ERROR_CODES
    assert parse_schedule(error.example)  # the suggestion is itself a valid schedule
    assert isinstance(error, ValueError) and code in str(error)


def test_every_error_code_is_exercised():
    assert {code for _, code, _ in ERRORS} == set(ERROR_CODES)


@pytest.mark.parametrize("text, example", [
    ("每周八 10:00", "每周一、四 20:00"), ("weekly xyz 10:00", "weekly mon,thu 20:00"),
    ("每天 25:00", "每天 23:00"), ("第0天 10:00", "第3天 20:00"), ("随便什么时候", "每天 23:00"),
    ("礼拜几都行", "每周一、四 20:00"), ("join whenever", "join+2d 10:00"), ("2026-02-30 10:00", "2026-12-01 20:00"),
])
def test_example_is_in_the_operators_language_and_form(text, example):
    with pytest.raises(ScheduleError) as info:
        parse_schedule(text)
    assert info.value.example == example


def test_all_examples_parse_to_their_kind():
    for kind, pair in EXAMPLES.items():
        assert {parse_schedule(text).kind for text in pair} == {kind}


# --- occurrences: plain cases, month ends, windows ------------------------------------------

def test_daily_in_shanghai_and_half_open_window():
    s = parse_schedule("每天 23:00")  # 23:00 +08:00 = 15:00 UTC
    assert s.occurrences(utc(2026, 1, 1, 15), utc(2026, 1, 3, 15), SHANGHAI) == [utc(2026, 1, 2, 15), utc(2026, 1, 3, 15)]
    assert s.occurrences(utc(2026, 1, 1, 15), utc(2026, 1, 1, 15), SHANGHAI) == []
    assert s.occurrences(utc(2026, 1, 2), utc(2026, 1, 1), SHANGHAI) == []
    assert all(t.tzinfo is UTC for t in s.occurrences(utc(2026, 1, 1), utc(2026, 2, 1), SHANGHAI))


def test_several_times_a_day_in_order():
    s = parse_schedule("每天 21:00、9:00")
    got = s.occurrences(local(SHANGHAI, 2026, 5, 1), local(SHANGHAI, 2026, 5, 2, 23), SHANGHAI)
    assert [t.astimezone(SHANGHAI).strftime("%d %H:%M") for t in got] == ["01 09:00", "01 21:00", "02 09:00", "02 21:00"]


def test_weekly_days():
    s = parse_schedule("weekly mon,thu 20:00")
    got = s.occurrences(local(SHANGHAI, 2026, 6, 1), local(SHANGHAI, 2026, 6, 15), SHANGHAI)  # Mon Jun 1
    assert [t.astimezone(SHANGHAI).date().day for t in got] == [1, 4, 8, 11]


def test_once_and_next_after():
    s = parse_schedule("2026-12-01 20:00")
    fire = local(SHANGHAI, 2026, 12, 1, 20).astimezone(UTC)
    assert s.occurrences(utc(2026, 1, 1), utc(2027, 1, 1), SHANGHAI) == [fire]
    assert s.next_after(utc(2026, 6, 1), SHANGHAI) == fire
    assert s.next_after(fire, SHANGHAI) is None  # past: nothing more
    assert s.next_after(utc(2025, 1, 1), SHANGHAI) is None  # beyond the 400-day horizon


def test_campaign_days_count_from_start_as_day_one():
    s = parse_schedule("第17-18天 10:00")
    start = date(2026, 3, 1)
    got = s.occurrences(utc(2026, 1, 1), utc(2026, 12, 1), SHANGHAI, start)
    assert [t.astimezone(SHANGHAI) for t in got] == [local(SHANGHAI, 2026, 3, 17, 10), local(SHANGHAI, 2026, 3, 18, 10)]
    assert s.occurrences(utc(2026, 1, 1), utc(2026, 12, 1), SHANGHAI) == []  # no campaign_start
    assert s.next_after(utc(2026, 1, 1), SHANGHAI) is None
    assert s.next_after(utc(2026, 1, 1), SHANGHAI, start) == got[0]
    assert parse_schedule("day 1 09:00").occurrences(utc(2026, 2, 28), utc(2026, 3, 2), SHANGHAI, start) == [
        local(SHANGHAI, 2026, 3, 1, 9).astimezone(UTC)]


@pytest.mark.parametrize("text, start, expected", [
    ("day 1-3 09:00", date(2026, 12, 30), [date(2026, 12, 30), date(2026, 12, 31), date(2027, 1, 1)]),  # year end
    ("day 29-30 09:00", date(2028, 2, 1), [date(2028, 2, 29), date(2028, 3, 1)]),  # leap year
    ("day 29-30 09:00", date(2026, 2, 1), [date(2026, 3, 1), date(2026, 3, 2)]),
    ("day 2 09:00", date(2026, 1, 31), [date(2026, 2, 1)]),  # month end
])
def test_campaign_day_calendar_edges(text, start, expected):
    got = parse_schedule(text).occurrences(utc(2026, 1, 1), utc(2029, 1, 1), SHANGHAI, start)
    assert [t.astimezone(SHANGHAI).date() for t in got] == expected


@pytest.mark.parametrize("text, after, until, expected_days", [
    ("daily 00:00", date(2026, 12, 30), date(2027, 1, 2), ["2026-12-31", "2027-01-01", "2027-01-02"]),
    ("cron 0 9 31 * *", date(2026, 1, 1), date(2026, 8, 1), ["2026-01-31", "2026-03-31", "2026-05-31", "2026-07-31"]),
    ("cron 0 9 l * *", date(2028, 1, 15), date(2028, 4, 1), ["2028-01-31", "2028-02-29", "2028-03-31"]),
    ("cron 0 9 29 2 *", date(2026, 1, 1), date(2029, 1, 1), ["2028-02-29"]),
    ("weekly sat,sun 09:00", date(2026, 2, 26), date(2026, 3, 3), ["2026-02-28", "2026-03-01"]),
])
def test_month_and_year_ends(text, after, until, expected_days):
    tz = SHANGHAI
    got = parse_schedule(text).occurrences(datetime.combine(after, time(), tz), datetime.combine(until, time(), tz), tz)
    assert [f"{t.astimezone(tz):%Y-%m-%d}" for t in got] == expected_days


def test_cron_is_local_wall_time():
    s = parse_schedule("cron 0 23 * * *")
    assert s.occurrences(utc(2026, 1, 1), utc(2026, 1, 3), SHANGHAI) == [utc(2026, 1, 1, 15), utc(2026, 1, 2, 15)]
    assert s.next_after(utc(2026, 1, 1, 15), SHANGHAI) == utc(2026, 1, 2, 15)
    assert parse_schedule("cron 0 0 29 2 *").next_after(utc(2026, 3, 1), SHANGHAI) is None  # 2028 is > 400 days off
    assert parse_schedule("cron 0 0 29 2 *").next_after(utc(2027, 6, 1), SHANGHAI) == local(SHANGHAI, 2028, 2, 29).astimezone(UTC)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        parse_schedule("daily 10:00").occurrences(datetime(2026, 1, 1), utc(2026, 1, 2), SHANGHAI)
    with pytest.raises(ValueError):
        parse_schedule("入群时").member_occurrence(datetime(2026, 1, 1), SHANGHAI)


@pytest.mark.parametrize("text", ["daily 10:00", "cron * * * * *", "weekly mon,tue,wed,thu,fri,sat,sun 10:00,22:00",
                                  "day 1-3650 10:00"])
def test_a_short_window_only_looks_at_its_own_days(monkeypatch, text):
    calls = []
    real = sched.resolve
    monkeypatch.setattr(sched, "resolve", lambda wall, tz: calls.append(wall) or real(wall, tz))
    s = parse_schedule(text)
    after = utc(2190, 6, 1, 2, 0)
    s.occurrences(after, after + timedelta(minutes=5), NY, date(2180, 1, 1))
    assert len(calls) <= 8


# --- member-relative ---------------------------------------------------------------------

def test_member_occurrences():
    joined = local(SHANGHAI, 2026, 5, 1, 23, 30).astimezone(UTC)
    assert parse_schedule("入群时").member_occurrence(joined, SHANGHAI) == joined
    assert parse_schedule("入群后2天 10:00").member_occurrence(joined, SHANGHAI) == local(SHANGHAI, 2026, 5, 3, 10).astimezone(UTC)
    assert parse_schedule("join+3h").member_occurrence(joined, SHANGHAI) == joined + timedelta(hours=3)
    assert parse_schedule("入群后30分钟").member_occurrence(joined, SHANGHAI) == joined + timedelta(minutes=30)
    # the local join date counts, not the UTC one: 2026-05-01 23:30 Shanghai is 15:30 UTC the same day
    late = local(SHANGHAI, 2026, 5, 2, 1, 0).astimezone(UTC)  # 2026-05-01 17:00 UTC
    assert parse_schedule("join+1d 10:00").member_occurrence(late, SHANGHAI) == local(SHANGHAI, 2026, 5, 3, 10).astimezone(UTC)
    # member-relative rules have no group occurrences, group rules have no member ones
    for text in ("on join", "join+2d 10:00", "join+3h"):
        s = parse_schedule(text)
        assert s.occurrences(utc(2026, 1, 1), utc(2026, 2, 1), SHANGHAI) == []
        assert s.next_after(utc(2026, 1, 1), SHANGHAI) is None
    with pytest.raises(TypeError):
        parse_schedule("daily 10:00").member_occurrence(joined, SHANGHAI)


def test_member_occurrence_across_dst():
    joined = local(NY, 2026, 3, 7, 10, 0)  # EST
    assert parse_schedule("join+1d 02:30").member_occurrence(joined, NY) == utc(2026, 3, 8, 7, 0)  # gap → 03:00 EDT
    assert parse_schedule("join+1d").member_occurrence(joined, NY) == utc(2026, 3, 8, 14, 0)  # 10:00 EDT next day
    assert parse_schedule("join+24h").member_occurrence(joined, NY) == utc(2026, 3, 8, 15, 0)  # elapsed time
    assert parse_schedule("join+1d 01:30").member_occurrence(local(NY, 2026, 10, 31, 9), NY) == utc(2026, 11, 1, 5, 30)


# --- daylight saving ---------------------------------------------------------------------

def _ticks(s, start, end, tz, step=timedelta(minutes=5), campaign_start=None):
    out, t = [], start
    while t < end:
        out += s.occurrences(t, t + step, tz, campaign_start)
        t += step
    return out


@pytest.mark.parametrize("text, expected", [
    ("daily 02:30", [utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 30)]),    # gap → 03:00 EDT, then normal
    ("daily 01:30", [utc(2026, 3, 8, 6, 30), utc(2026, 3, 9, 5, 30)]),   # before the gap: EST, then EDT
    ("daily 03:00", [utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 7, 0)]),
    ("daily 02:30,03:00", [utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 30), utc(2026, 3, 9, 7, 0)]),  # one instant fires once
    ("cron 30 2 * * *", [utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 30)]),
    ("weekly sun 02:30", [utc(2026, 3, 8, 7, 0)]),
    ("2026-03-08 02:30", [utc(2026, 3, 8, 7, 0)]),
    ("day 1 02:30", [utc(2026, 3, 8, 7, 0)]),
])
def test_new_york_spring_forward_2026_03_08(text, expected):
    s = parse_schedule(text)
    after, until = local(NY, 2026, 3, 7, 12), local(NY, 2026, 3, 9, 12)
    assert s.occurrences(after, until, NY, date(2026, 3, 8)) == expected
    assert _ticks(s, after, until, NY, campaign_start=date(2026, 3, 8)) == expected


@pytest.mark.parametrize("text, expected", [
    ("daily 01:30", [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]),  # first 01:30 (EDT) only
    ("cron 30 1 * * *", [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]),
    ("daily 02:30", [utc(2026, 11, 1, 7, 30), utc(2026, 11, 2, 7, 30)]),
    ("daily 00:30", [utc(2026, 11, 1, 4, 30), utc(2026, 11, 2, 5, 30)]),
    ("2026-11-01 01:30", [utc(2026, 11, 1, 5, 30)]),
    ("cron 0,30 0-2 1 11 *", [utc(2026, 11, 1, h, m) for h, m in ((4, 0), (4, 30), (5, 0), (5, 30), (7, 0), (7, 30))]),
])
def test_new_york_fall_back_2026_11_01(text, expected):
    s = parse_schedule(text)
    after, until = local(NY, 2026, 10, 31, 12), local(NY, 2026, 11, 2, 12)
    assert s.occurrences(after, until, NY) == expected
    assert _ticks(s, after, until, NY) == expected
    # a tick inside the repeated hour (01:10 EST, the second pass) sees nothing new for 01:30
    second_pass = local(NY, 2026, 11, 1, 1, 10, fold=1)
    assert all(t > second_pass for t in s.occurrences(second_pass, until, NY))
    assert s.occurrences(second_pass, until, NY) == [t for t in expected if t > second_pass]


def test_berlin_both_changes():
    s = parse_schedule("每天 02:30")
    spring = s.occurrences(local(BERLIN, 2026, 3, 28, 12), local(BERLIN, 2026, 3, 29, 12), BERLIN)
    assert spring == [utc(2026, 3, 29, 1, 0)]  # 03:00 CEST
    fall = s.occurrences(local(BERLIN, 2026, 10, 24, 12), local(BERLIN, 2026, 10, 25, 12), BERLIN)
    assert fall == [utc(2026, 10, 25, 0, 30)]  # 02:30 CEST, the first of the two
    assert _ticks(s, local(BERLIN, 2026, 10, 24, 12), local(BERLIN, 2026, 10, 25, 12), BERLIN) == fall
    assert s.next_after(utc(2026, 3, 28, 12), BERLIN) == utc(2026, 3, 29, 1, 0)


def test_resolve_rules():
    assert resolve(datetime(2026, 3, 8, 2, 30), NY) == utc(2026, 3, 8, 7, 0)
    assert resolve(datetime(2026, 11, 1, 1, 30), NY) == utc(2026, 11, 1, 5, 30)
    assert resolve(datetime(2026, 7, 1, 12, 0), SHANGHAI) == utc(2026, 7, 1, 4, 0)
    # Lord Howe shifts by 30 minutes; Apia skipped all of 2011-12-30
    assert resolve(datetime(2026, 10, 4, 2, 15), ZoneInfo("Australia/Lord_Howe")) == local(
        ZoneInfo("Australia/Lord_Howe"), 2026, 10, 4, 2, 30).astimezone(UTC)
    assert resolve(datetime(2011, 12, 30, 12, 0), ZoneInfo("Pacific/Apia")) == utc(2011, 12, 30, 10, 0)


# --- properties ---------------------------------------------------------------------------

ZONES = ["UTC", "Asia/Shanghai", "America/New_York", "Europe/Berlin", "Australia/Sydney",
         "Australia/Lord_Howe", "America/St_Johns", "Asia/Kolkata", "America/Santiago"]
ANCHORS = [  # DST changes, month ends, leap day, year end (UTC)
    utc(2026, 3, 8, 7), utc(2026, 11, 1, 6), utc(2026, 3, 29, 1), utc(2026, 10, 25, 1), utc(2026, 4, 4, 16),
    utc(2026, 10, 3, 16), utc(2026, 4, 5, 3), utc(2026, 9, 6, 4), utc(2026, 1, 31), utc(2026, 2, 28, 12),
    utc(2028, 2, 29), utc(2026, 12, 31, 16), utc(2027, 6, 30),
]
EN_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
CN_DAYS = "一二三四五六日"

times_st = st.lists(st.builds(time, st.integers(0, 23), st.sampled_from([0, 1, 15, 30, 45, 59])),
                    min_size=1, max_size=3, unique=True)


def fmt_time(t: time, style: int) -> str:
    h, m = t.hour, t.minute
    if style == 1:
        return f"{h % 12 or 12}" + (f":{m:02d}" if m else "") + ("pm" if h >= 12 else "am")
    if style == 2:
        return f"{h}点" + (f"{m}" if m else "")
    if style == 3 and 13 <= h <= 23:
        return f"晚上{h - 12}点" + ("半" if m == 30 else f"{m}分" if m else "")
    return f"{h}:{m:02d}"


KINDS = ["daily", "weekly", "campaign", "once", "cron"]


@st.composite
def schedule_texts(draw, kind: str | None = None) -> str:
    times = draw(times_st)
    style = draw(st.integers(0, 3))
    zh = draw(st.booleans())
    ts = ("、" if zh else ",").join(fmt_time(t, style) for t in times)
    kind = kind or draw(st.sampled_from(KINDS))
    if kind == "daily":
        return f"每天 {ts}" if zh else f"daily {ts}"
    if kind == "weekly":
        days = draw(st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True))
        return f"每周{'、'.join(CN_DAYS[d] for d in days)} {ts}" if zh else f"weekly {','.join(EN_DAYS[d] for d in days)} {ts}"
    if kind == "campaign":
        a = draw(st.integers(1, 40))
        b = draw(st.integers(a, a + 20))
        return f"第{a}-{b}天 {ts}" if zh else f"day {a}-{b} {ts}"
    if kind == "once":
        d = draw(st.sampled_from(ANCHORS)).date() + timedelta(days=draw(st.integers(-45, 5)))
        return f"{d.year}年{d.month}月{d.day}日 {ts}" if zh else f"{d:%Y-%m-%d} {ts}"
    fields = [draw(st.sampled_from(["0", "30", "0,30", "15,45", "59"])),
              draw(st.sampled_from(["*", "*/3", "0-3", "1", "2", "2,3", "23"])),
              draw(st.sampled_from(["*", "*", "1", "15", "28-31", "l"])),
              draw(st.sampled_from(["*", "*", "*", "3", "10,11", "*/2", "2"])),
              draw(st.sampled_from(["*", "*", "0", "1-5", "sun", "6"]))]
    return "cron " + " ".join(fields)


@st.composite
def windows(draw):
    """Tick boundaries t0 < t1 < ... < tn spanning 10 minutes to 70 days near a DST change or month end."""
    anchor = draw(st.sampled_from(ANCHORS))
    offset = draw(st.one_of(st.integers(-6 * 3600, 6 * 3600), st.integers(-40 * 86400, 2 * 86400)))
    t0 = anchor + timedelta(seconds=offset, microseconds=draw(st.sampled_from([0, 0, 1, 999_999])))
    span = draw(st.sampled_from([70 * 86400, 20 * 86400, 3 * 86400, 6 * 3600, 600]))
    cuts = draw(st.lists(st.integers(1, span - 1), max_size=12, unique=True))
    bounds = [t0] + [t0 + timedelta(seconds=c) for c in sorted(cuts)] + [t0 + timedelta(seconds=span)]
    start = draw(st.one_of(st.none(), st.integers(-45, 5).map(lambda d: t0.date() + timedelta(days=d))))
    return bounds, ZoneInfo(draw(st.sampled_from(ZONES))), start


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), window=windows())
def test_consecutive_windows_never_drop_or_repeat(kind, data, window):
    text = data.draw(schedule_texts(kind), label="schedule")
    bounds, tz, start = window
    s = parse_schedule(text)
    assert parse_schedule(s.text) == s
    whole = s.occurrences(bounds[0], bounds[-1], tz, start)
    pieces = []
    for a, b in zip(bounds, bounds[1:]):
        part = s.occurrences(a, b, tz, start)
        assert all(a < t <= b and t.tzinfo is UTC for t in part)
        pieces += part
    assert pieces == whole
    event(f"{s.kind}: {'none' if not whole else 'few' if len(whole) < 5 else 'many'}")
    assert all(x < y for x, y in zip(whole, whole[1:]))  # strictly increasing: no duplicates
    if s.kind == "campaign_day" and start is None:
        assert whole == []
    for t in bounds:
        horizon = timedelta(days=2)
        assert s.next_after(t, tz, start, horizon=horizon) == next(iter(s.occurrences(t, t + horizon, tz, start)), None)
    nxt = s.next_after(bounds[0], tz, start)
    if nxt is not None:
        assert bounds[0] < nxt <= bounds[0] + sched.HORIZON
        assert s.occurrences(bounds[0], nxt, tz, start) == [nxt]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(text=st.sampled_from(KINDS[:4]).flatmap(schedule_texts), window=windows())
def test_day_based_kinds_match_a_brute_force_walk(text, window):
    """Every local day of the window, every time, resolved and deduplicated: the same list."""
    bounds, tz, start = window
    s = parse_schedule(text)
    a, b = bounds[0], bounds[-1]
    day, last = a.astimezone(tz).date() - timedelta(days=1), b.astimezone(tz).date() + timedelta(days=1)
    expected = set()
    while day <= last:
        fires = {
            "daily": True,
            "weekly": s.kind == "weekly" and day.weekday() in s.weekdays,
            "once": s.kind == "once" and day == s.day,
            "campaign_day": s.kind == "campaign_day" and start is not None
            and s.first_day <= (day - start).days + 1 <= s.last_day,
        }[s.kind]
        if fires:
            expected |= {resolve(datetime.combine(day, t), tz) for t in s.times}
        day += timedelta(days=1)
    assert s.occurrences(a, b, tz, start) == sorted(t for t in expected if a < t <= b)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(times=times_st, days=st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True), window=windows())
def test_cron_agrees_with_the_same_weekly_schedule(times, days, window):
    bounds, tz, _ = window
    t = times[0]
    weekly = parse_schedule(f"weekly {','.join(EN_DAYS[d] for d in days)} {t:%H:%M}")
    cron = parse_schedule(f"cron {t.minute} {t.hour} * * {','.join(str((d + 1) % 7) for d in days)}")
    assert cron.occurrences(bounds[0], bounds[-1], tz) == weekly.occurrences(bounds[0], bounds[-1], tz)


def _first_local_at_or_after(wall: datetime, tz: ZoneInfo) -> datetime:
    """Oracle, by brute force over minutes: the first instant whose local clock reads >= wall."""
    u = wall.replace(tzinfo=UTC) - timedelta(hours=15)
    while u.astimezone(tz).replace(tzinfo=None) < wall:
        u += timedelta(minutes=1)
    return u


@settings(max_examples=200, deadline=None, derandomize=True)
@given(anchor=st.sampled_from(ANCHORS), minutes=st.integers(-36 * 60, 36 * 60), zone=st.sampled_from(ZONES))
def test_resolve_is_the_first_instant_the_clock_reaches_the_wall_time(anchor, minutes, zone):
    tz = ZoneInfo(zone)
    wall = (anchor.astimezone(tz) + timedelta(minutes=minutes)).replace(tzinfo=None, fold=0)
    assert resolve(wall, tz) == _first_local_at_or_after(wall, tz)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(t=st.builds(time, st.integers(0, 23), st.integers(0, 59)), style=st.integers(0, 3), fullwidth=st.booleans(),
       prefix=st.sampled_from(["daily ", "每天", "每天 ", "every day at ", "每日　"]))
def test_any_spelling_of_a_time_reads_back(t, style, fullwidth, prefix):
    spelled = fmt_time(t, style)
    if style == 2 and t.minute and t.minute < 10:
        spelled = f"{t.hour}点{t.minute:02d}分"
    text = prefix + spelled
    if fullwidth:
        text = text.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789:,"})
    assert parse_schedule(text) == Daily((t,))
