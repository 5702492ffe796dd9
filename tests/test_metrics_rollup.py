"""The rollup's definitions on a small shop whose every number is worked out by hand, in two time zones;
last-touch attribution; the daily report; posting it once to the ops group through the emulator."""
from __future__ import annotations

import copy
import random
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
import requests

from helpers import make_raw
from qunflow.clock import VirtualClock
from qunflow.emulator import Bot, Emulator
from qunflow.jobs.metrics_job import run_metrics
from qunflow.metrics.report_md import daily_report
from qunflow.metrics.rollup import rollup
from qunflow.metrics.facts import build_facts
from qunflow.delivery.secrets import SecretResolver
from qunflow.stores.memory import MemoryStore
from qunflow.jobs.tick import TickDeps
from qunflow.sheet.load import load_workbook

D = date.fromisoformat
SHOP = {
    "settings": [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": "en"},
                 {"key": "lurker_days", "value": "3"}, {"key": "attribution_hours", "value": "24"}],
    "groups": [
        {"group_id": "G01", "name": "Deals", "platform": "wecom", "webhook": "env:QUNFLOW_HOOK_G01", "kind": "traffic"},
        {"group_id": "G02", "name": "New York", "platform": "wecom", "webhook": "env:QUNFLOW_HOOK_G02", "kind": "content",
         "timezone": "America/New_York"},
        {"group_id": "OPS", "name": "Team", "platform": "wecom", "webhook": "env:QUNFLOW_HOOK_OPS", "kind": "content"},
    ],
    "members": [
        {"member_id": "A", "name": "A", "group_id": "G01", "joined_at": "2026-12-01 10:00"},
        {"member_id": "B", "name": "B", "group_id": "G01", "joined_at": "2026-12-01 12:00", "left_at": "2026-12-03 08:00",
         "status": "left"},
        {"member_id": "C", "name": "C", "group_id": "G01", "last_active_at": "2026-11-20 10:00"},   # an old member
        {"member_id": "D", "name": "D", "group_id": "G01", "status": "left"},                       # left, no date
        {"member_id": "E", "name": "E", "group_id": "G01", "joined_at": "2026-12-02 20:00", "referred_by": "A"},
        {"member_id": "F", "name": "F", "group_id": "G02", "joined_at": "2026-12-02 23:30", "referred_by": "A"},
    ],
    "events": [
        {"event_id": "E1", "type": "message", "member_id": "A", "group_id": "G01", "at": "2026-12-02 09:00"},
        {"event_id": "E2", "type": "order", "member_id": "A", "group_id": "G01", "at": "2026-12-02 12:00", "amount": 199},
        {"event_id": "E3", "type": "invite", "member_id": "A", "group_id": "G01", "at": "2026-12-02 20:00", "detail": "member=E"},
        {"event_id": "E4", "type": "order", "member_id": "E", "group_id": "G01", "at": "2026-12-03 09:00", "amount": 100},
        {"event_id": "E5", "type": "message", "member_id": "A", "group_id": "G01", "at": "2026-12-05 10:00"},
        {"event_id": "E6", "type": "checkin", "member_id": "E", "group_id": "G01", "at": "2026-12-06 08:00"},
    ],
    "coupons": [
        {"code": "C1", "campaign": "w", "kind": "welcome", "status": "redeemed", "member_id": "A",
         "issued_at": "2026-12-01 12:05", "redeemed_at": "2026-12-02 12:00"},
        {"code": "C2", "campaign": "w", "kind": "welcome", "status": "issued", "member_id": "E", "issued_at": "2026-12-02 20:05"},
    ],
    "sop": [{"rule_id": "W01", "groups": "*", "schedule": "on join", "content": "hi", "phase": "activation"},
            {"rule_id": "R01", "groups": "G01", "schedule": "daily 11:00", "content": "deal", "phase": "momentum"}],
    "sendlog": [  # one welcome to A and B (two rows, one message), a deal, a post in New York's evening
        {"send_id": "W01:G01:x:A", "rule_id": "W01", "group_id": "G01", "member_id": "A", "status": "sent",
         "sent_at": "2026-12-01 12:05:00+08:00"},
        {"send_id": "W01:G01:x:B", "rule_id": "W01", "group_id": "G01", "member_id": "B", "status": "sent",
         "sent_at": "2026-12-01 12:05:00+08:00"},
        {"send_id": "R01:G01:y", "rule_id": "R01", "group_id": "G01", "status": "sent", "sent_at": "2026-12-02 11:00:00+08:00"},
        {"send_id": "R01:G01:z", "rule_id": "R01", "group_id": "G01", "status": "failed", "sent_at": "2026-12-03 11:00:00+08:00"},
        {"send_id": "W01:G02:q", "rule_id": "W01", "group_id": "G02", "status": "sent", "sent_at": "2026-12-02 02:00:00+00:00"},
    ],
}
NONE = dict(left=0, net=None, activated=0, active_7d=0, lurkers=0, messages_sent=0, messages_by_members=0,
            coupons_issued=0, coupons_redeemed=0, orders=0, buyers=0, revenue=0, referrals=0)
EXPECTED = {  # (group, day) -> the numbers, worked out by hand from SHOP above
    ("G01", "2026-12-01"): dict(members=3, joined=2, left=0, activated=0, active_7d=0, lurkers=1, messages_sent=1,
                                coupons_issued=1, coupons_redeemed=0, redemption_rate="0", orders=0,
                                conversion_rate="0", k_factor="0"),
    ("G01", "2026-12-02"): dict(members=4, joined=1, activated=1, active_7d=1, lurkers=1, messages_sent=1,
                                messages_by_members=1, coupons_issued=1, coupons_redeemed=1, redemption_rate="0.5",
                                orders=1, buyers=1, revenue=199, conversion_rate="0.25", referrals=1, k_factor="0.5"),
    ("G01", "2026-12-03"): dict(members=3, joined=0, left=1, net=-1, active_7d=1, lurkers=1, messages_sent=0,
                                orders=1, revenue=100, conversion_rate="0.3333", redemption_rate="0.5"),
    ("G01", "2026-12-05"): dict(members=3, active_7d=1, lurkers=2),
    ("G01", "2026-12-06"): dict(members=3, activated=0, active_7d=2, lurkers=1, messages_by_members=1),
    ("G02", "2026-12-01"): dict(members=0, messages_sent=1, conversion_rate=None, k_factor=None, redemption_rate=None),
    ("G02", "2026-12-02"): dict(members=1, joined=1, messages_sent=0),
}


def wb_of(rows=SHOP, **settings):
    rows = copy.deepcopy(rows)
    rows["settings"] = [s for s in rows["settings"] if s["key"] not in settings]
    rows["settings"] += [{"key": k, "value": v} for k, v in settings.items()]
    return load_workbook(make_raw(rows))


def test_every_definition_on_a_shop_worked_out_by_hand():
    wb = wb_of()
    assert wb.errors == []
    result = rollup(wb, [D("2026-12-0%d" % d) for d in range(1, 7)])
    rows = {(r["group_id"], r["date"].isoformat()): r for r in result.metrics}
    for key, want in EXPECTED.items():
        for column, value in want.items():
            got = rows[key][column]
            value = Decimal(value) if isinstance(value, str) else value
            assert got == value, (key, column, got, value)


def test_cohorts_and_last_touch_attribution():
    wb = wb_of()
    result = rollup(wb, [D("2026-12-0%d" % d) for d in range(1, 7)])
    cohorts = {(r["cohort_date"].isoformat(), r["group_id"]): r for r in result.cohorts}
    assert cohorts[("2026-12-01", "G01")] == {"cohort_date": D("2026-12-01"), "group_id": "G01", "size": 2, "activated": 1,
                                              "d1": Decimal("0.5"), "d7": None, "d30": None, "still_in": Decimal("0.5")}
    assert cohorts[("2026-12-02", "G01")]["size"] == 1 and cohorts[("2026-12-02", "G01")]["activated"] == 0
    assert cohorts[("2026-12-02", "G02")]["size"] == 1
    rules = {(r["rule_id"], r["date"].isoformat()): r for r in result.rules}
    # both orders came within 24 h of R01's 11:00 post (12:00 the same day, 09:00 the next), after the welcome
    r01 = rules[("R01", "2026-12-02")]
    assert (r01["sends"], r01["reach"], r01["conversions"], r01["revenue"], r01["conversion_rate"], r01["phase"]) == \
        (1, 3, 2, Decimal(299), Decimal("0.6667"), "momentum")
    assert rules[("W01", "2026-12-01")]["sends"] == 1 and rules[("W01", "2026-12-01")]["conversions"] == 0
    shorter = rollup(wb_of(attribution_hours="12"), [D("2026-12-02")])
    r01 = next(r for r in shorter.rules if r["rule_id"] == "R01")
    assert r01["conversions"] == 1 and r01["revenue"] == 199   # the next morning's order is now too late


def test_the_daily_report_leads_with_the_north_star():
    wb = wb_of(ops_group="OPS")
    text = daily_report(wb, D("2026-12-02"))
    lines = text.splitlines()
    assert lines[0] == "**Daily report · Wed Dec 2**"
    assert lines[1] == "- orders: **1** · day before 0 · 7-day average 0"
    assert lines[2] == "- orders up from 0 in the 7 days before"
    assert "  - G01 Deals: 1 (up from 0 in the 7 days before)" in lines and "OPS" not in text   # not the ops group
    assert "Rules that converted: momentum · deal 1 orders ¥199" in text and "Problems waiting: none" in text
    assert "R01" not in text                               # a rule is named by its phase and first words
    later = daily_report(wb, D("2026-12-03"))
    assert "- orders: **1** · day before 1 · 7-day average 0.5" in later   # Dec 1 and 2: 0 and 1 orders
    assert "Changed most: Whole shop · joined 0, 2 less than the 7-day average" in later
    drop = daily_report(wb, D("2026-12-04"))
    assert "Down more" not in drop and "Rules that converted: none" in drop   # 1 → 0 orders is no alert
    revenue = daily_report(wb_of(north_star="revenue", language="zh-CN"), D("2026-12-03"))
    assert revenue.splitlines()[0] == "**运营日报 · 12月3日 周四**"
    assert revenue.splitlines()[1] == "- 成交额：**¥100** · 前一天 ¥199 · 前7天平均 ¥99.5"


def test_the_report_is_posted_once_to_the_ops_group():
    clock = VirtualClock(datetime(2026, 12, 7, 1, 0, tzinfo=timezone.utc))
    bot = Bot("wecom", "ops-key-0000000000000000001", name="Team", group_id="OPS")
    store = MemoryStore(make_raw(dict(SHOP, settings=SHOP["settings"] + [{"key": "ops_group", "value": "OPS"}])))
    with Emulator([bot], clock=clock) as emulator:
        deps = TickDeps(session=requests.Session(), clock=clock, sleep=clock.sleep, rng=random.Random(0),
                        resolver=SecretResolver(env={"QUNFLOW_HOOK_OPS": emulator.webhook_url(bot)}))
        first = run_metrics(store, clock.now(), deps, post=True)
        again = run_metrics(store, clock.now(), deps, post=True)
        messages = list(emulator.messages)
    assert first.posted == "sent" and again.posted == "skipped" and "already posted" in again.post_note
    assert len(messages) == 1 and "Daily report · Sun Dec 6" in str(messages[0])
    wb = load_workbook(store.raw)
    assert [r.send_id for r in wb.sendlog if r.rule_id == "daily_report"] == ["daily_report:OPS:20261206"]
    assert first.days == ["2026-12-06", "2026-12-07"] and first.sheets_requests == {"read": 1, "write": 1}


def test_without_an_ops_group_nothing_is_posted():
    store = MemoryStore(make_raw(SHOP))
    deps = TickDeps(session=requests.Session(), clock=lambda: 0.0, sleep=lambda s: None)
    report = run_metrics(store, datetime(2026, 12, 7, 1, 0, tzinfo=timezone.utc), deps, post=True)
    assert report.posted == "skipped" and "ops_group" in report.post_note


@pytest.mark.parametrize("metric", ["orders", "conversion_rate", "members"])
def test_the_north_star_setting_is_checked_and_used(metric):
    wb = wb_of(north_star=metric)
    assert wb.errors == [] and build_facts(wb) is not None
    assert daily_report(wb, D("2026-12-02")).splitlines()[1].startswith(f"- {metric.replace('_', ' ')}: **")
    bad = wb_of(north_star="likes")
    assert any(p.column == "value" or "likes" in (p.value or "") for p in bad.problems)


def test_the_tick_hook_upserts_only_todays_metrics():
    from qunflow.metrics.rollup import today_so_far_changes
    changes = today_so_far_changes(wb_of(), datetime(2026, 12, 2, 6, 0, tzinfo=timezone.utc))
    assert set(changes.upserts) == {"metrics"} and not changes.cells and not changes.appends
    assert {(r["group_id"], r["date"]) for r in changes.upserts["metrics"]} == \
        {(g, D("2026-12-02")) for g in ("G01", "G02", "OPS")}
