"""Dates as the owner reads them, in the workbook's language: 12月6日 周日 / Sun Dec 6. Pure."""
from __future__ import annotations

from datetime import date

ZH_WEEKDAYS = "一二三四五六日"
EN_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def day_words(day: date, lang: str, weekday: bool = False, year: bool = False) -> str:
    if lang == "zh-CN":
        text = (f"{day.year}年" if year else "") + f"{day.month}月{day.day}日"
        return text + (f" 周{ZH_WEEKDAYS[day.weekday()]}" if weekday else "")
    text = f"{EN_MONTHS[day.month - 1]} {day.day}" + (f", {day.year}" if year else "")
    return (f"{EN_WEEKDAYS[day.weekday()]} " if weekday else "") + text


def short_day(day: date, lang: str) -> str:
    """For a chart axis: 12/6 in both languages would be ambiguous in en, so 12月6日 / Dec 6."""
    return day_words(day, lang)


def span_words(first: date, last: date, lang: str) -> str:
    if lang == "zh-CN":
        return f"{day_words(first, lang, year=True)} 至 {day_words(last, lang, year=first.year != last.year)}"
    return f"{day_words(first, lang)} – {day_words(last, lang, year=True)}"
