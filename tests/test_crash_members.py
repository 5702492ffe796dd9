"""kill -9 at random points while newcomers are welcomed with personal coupons (local workbook + SQLite state).

Across 30 killed runs (each followed by a clean one): no member is welcomed twice, no code is bound to two
members, every member whose welcome reached the group has `welcomed_at` in the sheet, and every newcomer's
welcome ends `sent` or `unknown`, never lost.
"""
from __future__ import annotations

import os
import random
import signal
import sqlite3
from collections import Counter
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook as open_book

from helpers import make_raw, write_xlsx
from qunflow.emulator import Emulator
from qunflow.sheet.load import load_workbook
from qunflow.stores.xlsx import XlsxStore
from test_crash import T0, ShiftedClock, _run, crash_groups

GROUPS = 4
SHANGHAI = ZoneInfo("Asia/Shanghai")   # the workbook's default time zone


def _shop(tmp):
    bots, env, groups = crash_groups(GROUPS)
    # min_gap 0: the runs are an hour apart, and the last run's welcome must not be left spread to a later tick
    rows = {"settings": [{"key": "catch_up", "value": "90m"}, {"key": "language", "value": "en"},
                         {"key": "min_gap", "value": "0m"}],
            "groups": groups, "members": [],
            "coupons": [{"code": f"WEL-{i:04d}", "campaign": "welcome50", "kind": "welcome", "value": 50}
                        for i in range(400)],
            "templates": [{"name": "welcome", "content": "Welcome {{ mentions }}! Your coupon: {{ coupon }}"}],
            "sop": [{"rule_id": "W01", "groups": "*", "schedule": "on join", "content": "template:welcome",
                     "mention": "new", "coupon": "welcome50"},
                    {"rule_id": "A", "groups": "*", "schedule": "cron */10 * * * *", "content": "A {{ group_name }} {{ time }}"}]}
    book = tmp / "shop.xlsx"
    write_xlsx(make_raw(rows), book)
    return book, bots, env


def _add_joins(book, joins):
    """The operator types join events into the Events tab (no tick is running)."""
    wb = open_book(book)
    sheet = wb["Events"]
    header = [c.value for c in sheet[1]]
    for join in joins:
        sheet.append([join.get(h, "") for h in header])
    wb.save(book)


@pytest.mark.slow
def test_killed_runs_never_welcome_twice_nor_bind_a_code_to_two_members(tmp_path):
    book, bots, env_extra = _shop(tmp_path)
    clock, rng = ShiftedClock(), random.Random(7)
    joined: dict[str, str] = {}
    with Emulator(bots, clock=clock, wall_clock=clock.real, latency=0.004) as emulator:
        env = dict(os.environ, **env_extra, **{f"QUNFLOW_HOOK_{i}": emulator.webhook_url(b) for i, b in enumerate(bots)})
        env.pop("QUNFLOW_STATE", None)                        # the SQLite file beside the workbook
        kills = 0
        for run in range(30):
            now = T0 + timedelta(hours=run)
            joins = []
            for k in range(3):
                member = f"N{run:02d}{k}"
                group = f"G{rng.randrange(GROUPS):02d}"
                joined[member] = group
                local = (now - timedelta(minutes=2)).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
                joins.append({"event_id": f"J-{member}", "type": "join", "member_id": member, "group_id": group,
                              "at": local, "detail": f"name={member}; user={member.lower()}"})
            _add_joins(book, joins)
            code, out, err = _run(book, now, env, clock, kill_after=rng.uniform(0.05, 0.9))
            kills += code == -signal.SIGKILL
            code, out, err = _run(book, now + timedelta(seconds=61), env, clock)
            assert code in (0, 1), err
        welcomes = [m for m in emulator.messages if "Welcome" in m["text"]]
    # each newcomer's name is their member id: found in the mentions or in the text, whatever the platform
    mentioned = Counter(member.lower() for m in welcomes for member in joined
                        if member.lower() in {str(u).lower() for u in m["mentions"]} or member in m["text"])
    assert kills >= 10, "the kills should land mid-run often"
    assert [u for u, n in mentioned.items() if n > 1] == [], "a member was welcomed twice"
    state = sqlite3.connect(tmp_path / "shop.qunflow-state.sqlite")
    holders = Counter(member for (member,) in state.execute("SELECT value FROM bindings WHERE kind = 'coupon'"))
    assert [m for m, n in holders.items() if n > 1] == [], "a member holds two welcome codes"
    statuses = dict(state.execute("SELECT send_id, status FROM sends WHERE send_id LIKE 'W01:%'"))
    wb = load_workbook(XlsxStore(book).read().raw)
    codes = Counter(m.coupon_code for m in wb.members.values() if m.coupon_code)
    assert [c for c, n in codes.items() if n > 1] == [], "a code is bound to two members in the sheet"
    for member, group in joined.items():
        sends = [s for sid, s in statuses.items() if sid.endswith(":" + member)]
        assert sends and set(sends) <= {"sent", "unknown"}, (member, sends)   # never lost
        if member.lower() in mentioned:
            assert wb.members[member].welcomed_at is not None, member          # the sheet shows the welcome
            assert wb.members[member].coupon_code, member
    print(f"runs 30, kills {kills}, newcomers {len(joined)}, welcomed {len(mentioned)}, "
          f"unknown {sum(1 for s in statuses.values() if s == 'unknown')}")
