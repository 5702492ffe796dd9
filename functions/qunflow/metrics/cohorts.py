"""Retention by join cohort: the members of one group who joined on one day. Pure.

Day-n retention (d1, d7, d30) is the share of the cohort who spoke or checked in on the n-th day after
their join day (day 0 is the join day), in the group's time zone: the classic "came back on day n".
A value is empty until day n has begun (as of the day the rollup runs for).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from .facts import Facts, Person, day_start, ratio

COHORT_DAYS = (1, 7, 30)


def cohorts(facts: Facts, days: set[date] | None = None) -> dict[tuple[date, str], list[Person]]:
    out: dict[tuple[date, str], list[Person]] = defaultdict(list)
    for gid, people in facts.people.items():
        for p in people:
            if p.joined is not None and not p.gone and (days is None or p.joined.date() in days):
                out[(p.joined.date(), gid)].append(p)
    return out


def active_on(p: Person, day: date) -> bool:
    start = day_start(day)
    return p.active_between(start, start + timedelta(days=1))


def cohort_rows(facts: Facts, days: list[date], as_of: date) -> list[dict]:
    wanted = set(days)
    end = day_start(as_of) + timedelta(days=1)
    rows = []
    for (day, gid), people in sorted(cohorts(facts, wanted).items()):
        if day not in wanted or day > as_of:
            continue
        row = {"cohort_date": day, "group_id": gid, "size": len(people),
               "activated": sum(1 for p in people if (p.activation() or end) < end)}
        for n in COHORT_DAYS:
            target = day + timedelta(days=n)
            row[f"d{n}"] = ratio(sum(active_on(p, target) for p in people), len(people)) if target <= as_of else None
        row["still_in"] = ratio(sum(p.present(end) for p in people), len(people))
        rows.append(row)
    return rows


def retention_matrix(facts: Facts, first: date, as_of: date, max_day: int = 30) -> tuple[list[date], list[list]]:
    """All groups together, for the heatmap: cohort day -> share active on day n (None: not reached yet)."""
    by_day: dict[date, list[Person]] = defaultdict(list)
    for (day, _), people in cohorts(facts).items():
        if first <= day <= as_of:
            by_day[day] += people
    days = sorted(by_day)
    matrix = []
    for day in days:
        people = by_day[day]
        matrix.append([float(ratio(sum(active_on(p, day + timedelta(days=n)) for p in people), len(people)))
                       if day + timedelta(days=n) <= as_of else None for n in range(max_day + 1)])
    return days, matrix
