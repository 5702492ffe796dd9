"""Property: the sends of consecutive ticks add up to the sends of one tick over the whole span.

No gap, no duplicate, for random rules, time zones (with daylight-saving changes), quiet hours and
tick boundaries across month ends.
"""
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import make_raw
from qunflow.engine.plan import plan_sends
from qunflow.engine.ledger import Entry, Ledger
from qunflow.sheet.load import load_workbook

ZONES = ["Asia/Shanghai", "America/New_York", "Europe/Berlin", "Australia/Sydney", "UTC"]
UTC = timezone.utc

times = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 5, 30, 59]))
schedules = st.one_of(
    times.map(lambda t: f"daily {t}"),
    st.tuples(st.sets(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]), min_size=1), times)
      .map(lambda x: f"weekly {','.join(sorted(x[0]))} {x[1]}"),
    st.tuples(st.integers(1, 40), st.integers(0, 5), times).map(lambda x: f"day {x[0]}-{x[0] + x[1]} {x[2]}"),
    st.sampled_from(["cron 0 */3 * * *", "cron 30 2 * * *", "cron 15 1 * * 0", "cron 0 0 1 * *"]),
    st.tuples(st.integers(0, 40), times).map(lambda x: (datetime(2027, 1, 1) + timedelta(days=x[0])).strftime("%Y-%m-%d ") + x[1]),
)


def workbook(rules, zone, quiet):
    groups = [{"group_id": "G1", "name": "one", "platform": "wecom", "webhook": "env:QUNFLOW_H", "kind": "traffic",
               "timezone": zone, "campaign_start": "2027-01-01", "daily_cap": 1000, "quiet_hours": quiet},
              {"group_id": "G2", "name": "two", "platform": "slack", "webhook": "env:QUNFLOW_H", "kind": "flash",
               "campaign_start": "2027-01-20", "daily_cap": 1000}]
    sop = [{"rule_id": f"R{i}", "groups": "*" if i % 2 else "G1", "schedule": s, "content": "hi {{ group_name }}",
            "quiet": "wait" if i % 3 else "skip"} for i, s in enumerate(rules)]
    settings_rows = [{"key": "catch_up", "value": "3650d"}, {"key": "language", "value": "en"}]
    return load_workbook(make_raw({"settings": settings_rows, "groups": groups, "sop": sop}))


def run(wb, bounds):
    ledger, seen = Ledger(), []
    for a, b in zip(bounds, bounds[1:]):
        for p in plan_sends(wb, ledger, a, b, b):
            assert a < p.at <= b
            seen.append((p.send_id, p.policy))
            ledger.add(Entry(p.send_id, "sent" if p.policy == "due" else "skipped", group_id=p.group.group_id,
                             sent_at=p.at))
    return seen


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=st.lists(schedules, min_size=1, max_size=4), zone=st.sampled_from(ZONES),
       quiet=st.sampled_from(["", "22:00-08:00", "12:00-13:30"]),
       start_day=st.integers(0, 80), cuts=st.lists(st.integers(1, 60 * 24 * 70), min_size=1, max_size=25))
def test_consecutive_ticks_equal_one_tick_over_the_span(rules, zone, quiet, start_day, cuts):
    wb = workbook(rules, zone, quiet)
    assert not wb.errors
    t0 = datetime(2026, 12, 20, tzinfo=UTC) + timedelta(days=start_day)
    bounds = [t0] + sorted({t0 + timedelta(minutes=c) for c in cuts})
    pieces = run(wb, bounds)
    whole = run(wb, [bounds[0], bounds[-1]])
    assert len(pieces) == len({sid for sid, _ in pieces})  # no duplicate
    assert sorted(pieces) == sorted(whole)                  # no gap


def test_a_dst_spring_forward_day_fires_once_at_the_first_valid_minute():
    wb = workbook(["daily 02:30"], "America/New_York", "")
    bounds = [datetime(2027, 3, 13, 12, tzinfo=UTC) + timedelta(minutes=5 * i) for i in range(12 * 24 * 2)]
    sends = [p for p in run(wb, bounds) if p[0].startswith("R0:G1")]
    assert len(sends) == 2  # 2027-03-14 (02:30 does not exist: fires at 03:00) and 2027-03-15
    assert sends[0][0] == "R0:G1:20270314T0700Z"
