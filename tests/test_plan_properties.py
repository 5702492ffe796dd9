"""Property: the sends of consecutive ticks add up to the sends of one tick over the whole span.

No gap, no duplicate, for random rules, time zones (with daylight-saving changes), quiet hours and
tick boundaries across month ends (the collision guard off: it posts one slot per group per tick, so a
single tick over a long span cannot equal many ticks). With the guard on and joins that reach qunflow late,
the second property: every send is accounted for exactly once, welcomes missed only beyond `welcome_window`,
nothing missed by spreading, and two slots of one group never posted less than `min_gap` apart.
"""
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import make_raw
from qunflow.engine.carried import DEFERRED_REASON
from qunflow.engine.guard import OVERDUE
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
    settings_rows = [{"key": "catch_up", "value": "3650d"}, {"key": "language", "value": "en"},
                     {"key": "min_gap", "value": "0m"}]
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


GAP = timedelta(minutes=2)
WINDOW = timedelta(hours=6)


def guarded_workbook(rules, zone, joins):
    """Two groups, the rules on both, a welcome and a next-day follow-up; `joins`: (member, group, joined)."""
    groups = [{"group_id": "G1", "name": "one", "platform": "wecom", "webhook": "env:QUNFLOW_H", "kind": "traffic",
               "timezone": zone, "campaign_start": "2027-01-01", "daily_cap": 1000},
              {"group_id": "G2", "name": "two", "platform": "slack", "webhook": "env:QUNFLOW_H", "kind": "flash",
               "campaign_start": "2027-01-01", "daily_cap": 1000}]
    sop = [{"rule_id": f"R{i}", "groups": "*", "schedule": s, "content": "hi"} for i, s in enumerate(rules)]
    sop += [{"rule_id": "W", "groups": "*", "schedule": "on join", "content": "welcome {{ mentions }}"},
            {"rule_id": "F", "groups": "*", "schedule": "join+1d 10:00", "content": "day two {{ mentions }}"}]
    members = [{"member_id": m, "name": m, "group_id": g, "joined_at": j.isoformat(), "status": "active"}
               for m, g, j in joins]
    settings_rows = [{"key": "catch_up", "value": "3650d"}, {"key": "language", "value": "en"}]
    return load_workbook(make_raw({"settings": settings_rows, "groups": groups, "sop": sop, "members": members}))


def guarded_run(rules, zone, joins, bounds):
    """Ticks at `bounds`, each seeing the members whose join has arrived by then; then every 5 minutes until
    nothing waits. Returns {ledger id: [final states]}, [(group, slot time, sent at)], and the first tick that
    saw each member."""
    ledger, finals, posts, first_seen, books = Ledger(), {}, [], {}, {}
    drain = [bounds[-1] + timedelta(minutes=5 * k) for k in range(1, 400)]
    ticks = bounds + drain
    for a, b in zip(ticks, ticks[1:]):
        arrived = [(m, g, j) for m, g, j, seen in joins if seen <= b]
        if b > bounds[-1] and not ledger.deferred() and len(arrived) == len(joins):
            break
        for m, _, _ in arrived:
            first_seen.setdefault(m, b)
        key = frozenset(m for m, _, _ in arrived)
        if key not in books:
            books[key] = guarded_workbook(rules, zone, arrived)
        wb = books[key]
        for p in plan_sends(wb, ledger, a, b, b):
            status = {"due": "sent", "deferred": "deferred", "missed": "missed"}.get(p.policy, "skipped")
            assert p.policy != "missed" or p.rule.rule_id == "W", (p.send_id, p.reason)  # spreading never misses
            if status == "sent" and not (p.reason == DEFERRED_REASON and b - p.at > OVERDUE):
                posts.append((p.group.group_id, p.at, b))   # (a send back more than two ticks late is not spread again)
            for sid in p.sends:
                assert ledger.status(sid) in (None, "deferred"), sid                         # never planned twice
                ledger.add(Entry(sid, status, group_id=p.group.group_id, rule_id=p.rule.rule_id,
                                 sent_at=b if status == "sent" else None,
                                 scheduled_for=p.at if status == "deferred" else None))
                if status != "deferred":
                    finals.setdefault(sid, []).append(status)
    return finals, posts, first_seen, ledger


GROUP_SCHEDULES = st.sampled_from(["daily 10:00", "daily 10:01", "daily 10:00", "cron 0 */3 * * *",
                                   "cron */20 9-11 * * *", "daily 23:59"])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=st.lists(GROUP_SCHEDULES, min_size=1, max_size=4), zone=st.sampled_from(ZONES),
       joins=st.lists(st.tuples(st.integers(0, 60 * 36), st.integers(0, 60 * 10), st.booleans()), max_size=8),
       cuts=st.lists(st.integers(1, 60 * 48), min_size=1, max_size=20))
def test_late_joins_and_the_collision_guard_account_for_every_send_once(rules, zone, joins, cuts):
    t0 = datetime(2027, 1, 4, tzinfo=UTC)
    bounds = [t0] + sorted({t0 + timedelta(minutes=c) for c in cuts})
    members = [(f"M{i}", "G1" if g1 else "G2", t0 + timedelta(minutes=j), t0 + timedelta(minutes=j + delay))
               for i, (j, delay, g1) in enumerate(joins)]
    finals, posts, first_seen, ledger = guarded_run(rules, zone, members, bounds)
    assert all(len(states) == 1 for states in finals.values())                      # no duplicate
    assert not ledger.deferred()                                                     # everything spread went out
    wb = guarded_workbook(rules, zone, [])
    for rule in wb.sop[:-2]:                                                         # no gap: every slot accounted
        for group in wb.groups.values():
            for t in rule.schedule.occurrences(t0, bounds[-1], group.timezone or wb.settings.timezone):
                sid = f"{rule.rule_id}:{group.group_id}:{t:%Y%m%dT%H%MZ}"
                assert finals.get(sid) == ["sent"], sid
    for member, group, joined, _ in members:
        if member not in first_seen:
            continue                                                                 # arrived after the last tick
        welcome = finals.get(f"W:{group}:{joined:%Y%m%dT%H%MZ}:{member}")
        late = first_seen[member] - joined > WINDOW
        assert welcome == (["missed"] if late else ["sent"]), (member, welcome, first_seen[member] - joined)
    by_group: dict = {}
    for group, slot, sent_at in posts:
        by_group.setdefault(group, {}).setdefault(slot, sent_at)
    for group, slots in by_group.items():                                            # min_gap between slots
        times = sorted(slots.values())
        sequences = {}
        for slot, sent_at in slots.items():
            sequences.setdefault(sent_at, set()).add(slot)
        assert all(b - a >= GAP for a, b in zip(times, times[1:]) if a != b)
        assert all(len(s) == 1 for s in sequences.values()), sequences             # one slot per group per tick
