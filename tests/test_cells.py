"""What operators really type, parsed."""
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest

from qunflow.sheet import cells
from qunflow.sheet.cells import CellError

TODAY = date(2026, 11, 24)


@pytest.mark.parametrize("raw, want", [
    ("2026-12-01", date(2026, 12, 1)), ("2026/12/1", date(2026, 12, 1)), ("12月1日", date(2026, 12, 1)),
    ("2026年12月1日", date(2026, 12, 1)), (46357, date(2026, 12, 1)), (46357.0, date(2026, 12, 1)),
    (datetime(2026, 12, 1, 8), date(2026, 12, 1)), (date(2026, 12, 1), date(2026, 12, 1)),
    ("２０２６－１２－０１", date(2026, 12, 1)),
])
def test_dates(raw, want):
    assert cells.parse_date(raw, TODAY) == want


@pytest.mark.parametrize("raw, code", [("2026-02-30", "impossible_date"), ("2026-04-31", "impossible_date"),
                                       ("tomorrow", "bad_date"), (0, "bad_date")])
def test_bad_dates(raw, code):
    with pytest.raises(CellError) as err:
        cells.parse_date(raw, TODAY)
    assert err.value.code == code


@pytest.mark.parametrize("raw, want", [
    ("20:00", time(20)), ("8pm", time(20)), ("8:30 pm", time(20, 30)), ("20点", time(20)), ("20点30分", time(20, 30)),
    ("晚上8点", time(20)), ("上午10点", time(10)), ("２０：００", time(20)), (0.5, time(12)), (time(7, 5), time(7, 5)),
])
def test_times(raw, want):
    assert cells.parse_time(raw) == want


@pytest.mark.parametrize("raw", ["25:00", "13pm", "noon-ish", "20:61"])
def test_bad_times(raw):
    with pytest.raises(CellError):
        cells.parse_time(raw)


@pytest.mark.parametrize("raw, want", [("yes", True), ("no", False), ("是", True), ("否", False), ("✓", True),
                                       ("TRUE", True), (True, True), ("FALSE", False), (1, True)])
def test_bools(raw, want):
    assert cells.parse_bool(raw) is want


def test_full_width_numbers_and_lists():
    assert cells.parse_int("１２") == 12
    assert cells.parse_decimal("¥５０") == Decimal(50)
    assert cells.parse_list("G01，G02、G03, G04") == ("G01", "G02", "G03", "G04")


@pytest.mark.parametrize("raw, want", [("0123", "0123"), ("+8613800138000", "+8613800138000"), (123, "123"),
                                       (13800138000.0, "13800138000"), ("WEL-0001", "WEL-0001")])
def test_ids_stay_text_exactly_as_typed(raw, want):
    assert cells.parse_id(raw) == want


@pytest.mark.parametrize("raw", ["1.38E+10", "1.38e10", 1.5, 1e17, 1.38e10, 13800000000.5, 138000000000, 1.2e14,
                                 float("nan"), float("inf")])
def test_ids_that_lost_digits_are_problems_not_numbers(raw):
    with pytest.raises(CellError) as err:
        cells.parse_id(raw)
    assert err.value.code == "lost_digits"
    with pytest.raises(CellError):
        cells.parse_phone(raw)


@pytest.mark.parametrize("raw, want", [(13812345678.0, "13812345678"), (1000.0, "1000"), (10000000, "10000000"),
                                       (20261203001.0, "20261203001"), (12345678901234, "12345678901234")])
def test_exact_integers_with_their_digits_stay_ids(raw, want):
    assert cells.parse_id(raw) == want


def test_text_no_workbook_can_hold_reads_as_ufffd_and_folds_as_it_will_read():
    assert cells.unstorable("a\x00b\x0bc\ud800\ufffe\uffff\x0b") == "U+0000, U+000B, U+D800, U+FFFE, U+FFFF"
    assert cells.unstorable("tab\tnew\nline\rok 🎉 \x7f \u2028 \ufffd") == ""
    assert cells.storable("a\x00b\udfffc") == "a\ufffdb\ufffdc"
    assert cells.fold("M\x0b1") == cells.fold("M\ufffd1") != cells.fold("M 1")   # a key matches once written back
    raw = {"T": [["h"], ["ok"], ["bad\x0c"]], "U": [["fine", 1]]}
    scrubbed, spots = cells.scrub_workbook(raw)
    assert scrubbed["T"] == [["h"], ["ok"], ["bad\ufffd"]] and spots == [("T", 2, 0, "bad\x0c")]
    assert raw["T"][2] == ["bad\x0c"] and scrubbed["U"] is raw["U"] and scrubbed["T"][1] is raw["T"][1]
    clean = {"U": raw["U"]}
    assert cells.scrub_workbook(clean) == (clean, []) and cells.scrub_workbook(clean)[0] is clean   # nothing copied
    with pytest.raises(CellError):
        cells.parse_decimal(float("inf"))


def test_datetimes_and_durations():
    assert cells.parse_datetime("2026/12/1 8pm") == datetime(2026, 12, 1, 20)
    assert cells.parse_datetime("2026-12-01") == datetime(2026, 12, 1)
    assert cells.parse_datetime(46357.75) == datetime(2026, 12, 1, 18)
    assert cells.parse_duration("30分钟") == timedelta(minutes=30)
    assert cells.parse_duration("2h") == timedelta(hours=2)
    assert cells.parse_duration(45) == timedelta(minutes=45)
    for absurd in (1_440_000_000_000, float("inf"), float("nan"), "99999999999 days"):  # found by the fuzz
        with pytest.raises(cells.CellError):
            cells.parse_duration(absurd)
    assert str(cells.parse_time_range("22点-8点")) == "22:00-08:00"
    assert cells.parse_time_range("22:00-08:00").contains(time(23)) and not cells.parse_time_range("22:00-08:00").contains(time(12))
