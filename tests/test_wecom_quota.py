"""WeCom customer groups' quota as a planner policy (engine/quota.py): per month (days in the month), per week (7),
per day (1), the Setting `wecom_quota`; a send over it is deferred (or skipped past `until`) with a Problem that
says why, before any task exists. Pure: a real workbook parsed from rows, plans over a ledger."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from helpers import make_raw
from qunflow.engine.ledger import Entry, Ledger
from qunflow.engine.plan import plan_sends
from qunflow.engine.quota import period
from qunflow.engine.warnings import quota_warnings
from qunflow.sheet.load import load_workbook
from qunflow.sheet.problems import ProblemSink

UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.fromisoformat(text + "+08:00").astimezone(UTC)


def workbook(rule: str | None, sop, lang="en"):
    settings = [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": lang},
                {"key": "wecom_corp_id", "value": "ww1"}, {"key": "daily_cap", "value": "10"}]
    if rule:
        settings.append({"key": "wecom_quota", "value": rule})
    groups = [{"group_id": "K01", "name": "VIP", "platform": "wecom-customer", "webhook": "env:QUNFLOW_WECOM_APP",
               "kind": "traffic", "owner": "zhangsan", "chat_id": "wrK01"},
              {"group_id": "G01", "name": "Robot", "platform": "wecom", "webhook": "env:QUNFLOW_HOOK", "kind": "traffic"}]
    wb = load_workbook(make_raw({"settings": settings, "groups": groups, "sop": sop}, lang=lang), today=date(2026, 12, 1))
    assert not [p for p in wb.problems if p.severity == "error"], wb.problems
    return wb


def sent(group, when, n=1):
    return [Entry(f"X{i}:{group}:{when:%Y%m%dT%H%M}", "sent", 1, when, when, group, f"X{i}") for i in range(n)]


def test_the_periods_are_days_in_the_month_seven_a_week_one_a_day():
    assert period("month", date(2026, 2, 14)) == (date(2026, 2, 1), date(2026, 3, 1), 28)
    assert period("month", date(2026, 12, 31)) == (date(2026, 12, 1), date(2027, 1, 1), 31)
    assert period("week", date(2026, 12, 3)) == (date(2026, 11, 30), date(2026, 12, 7), 7)     # Monday to Monday
    assert period("day", date(2026, 12, 3)) == (date(2026, 12, 3), date(2026, 12, 4), 1)


def test_a_day_rule_defers_the_second_send_of_a_day_to_the_next_day_with_a_problem_and_leaves_robots_alone():
    sop = [{"rule_id": "A", "groups": "K01, G01", "schedule": "daily 10:00", "content": "morning"},
           {"rule_id": "B", "groups": "K01, G01", "schedule": "daily 20:00", "content": "evening"}]
    wb = workbook("day", sop)
    ledger = Ledger()
    morning = plan_sends(wb, ledger, at("2026-12-01 09:00"), at("2026-12-01 10:05"), at("2026-12-01 10:05"))
    for p in morning:
        ledger.add(Entry(p.send_id, "sent" if p.group.platform == "wecom" else "awaiting_confirmation", 1,
                         p.occurrence, p.at if p.group.platform == "wecom" else None, p.group.group_id, p.rule.rule_id))
    evening = plan_sends(wb, ledger, at("2026-12-01 10:05"), at("2026-12-01 20:05"), at("2026-12-01 20:05"))
    planned = morning + evening
    by = {(p.rule.rule_id, p.group.group_id): p for p in planned}
    assert by[("A", "K01")].policy == "due" and by[("A", "G01")].policy == "due" and by[("B", "G01")].policy == "due"
    late = by[("B", "K01")]
    assert late.policy == "deferred" and late.at == at("2026-12-02 20:00")
    assert late.reason == "WeCom quota 1 per day used; moved to 2026-12-02 20:00"
    sink = ProblemSink("en")
    assert quota_warnings(planned, wb, sink) == 1
    problem = sink.items[0]
    assert problem.code == "wecom_quota_day" and "No task was created" in problem.message
    from qunflow.sheet.vocabulary import say_reason
    assert say_reason(late.reason, "zh-CN") == "企业微信群发次数已用完（每天 1 次）；顺延到 2026-12-02 20:00"


def test_the_month_rule_is_the_default_and_counts_sends_and_tasks_waiting_for_their_owner():
    sop = [{"rule_id": "A", "groups": "K01", "schedule": "daily 20:00", "content": "evening"}]
    wb = workbook(None, sop)
    history = []
    for day in range(1, 30):             # 29 sent, then one still waiting for the owner: 30 of December's 31
        history += sent("K01", at(f"2026-12-{day:02d} 12:00"))
    history.append(Entry("W:K01:20261230T1200Z", "awaiting_confirmation", 1, at("2026-12-30 12:00"), None, "K01", "W"))
    ledger = Ledger(history)
    planned = plan_sends(wb, ledger, at("2026-12-30 19:00"), at("2026-12-30 20:05"), at("2026-12-30 20:05"))
    assert [p.policy for p in planned] == ["due"]                 # the 31st of 31
    ledger.add(Entry(planned[0].send_id, "awaiting_confirmation", 1, planned[0].occurrence, None, "K01", "A"))
    planned = plan_sends(wb, ledger, at("2026-12-31 19:00"), at("2026-12-31 20:05"), at("2026-12-31 20:05"))
    assert planned[0].policy == "deferred" and planned[0].at == at("2027-01-01 20:00")
    assert planned[0].reason == "WeCom quota 31 per month used; moved to 2027-01-01 20:00"


def test_a_week_rule_over_its_seven_past_the_rule_s_end_is_skipped():
    sop = [{"rule_id": "A", "groups": "K01", "schedule": "daily 20:00", "content": "evening", "until": "2026-12-06"}]
    wb = workbook("week", sop)
    ledger = Ledger([e for d in range(1, 5) for e in sent("K01", at(f"2026-12-0{d} 12:00"), n=2)][:7])  # Tue..Fri: 7
    planned = plan_sends(wb, ledger, at("2026-12-05 19:00"), at("2026-12-05 20:05"), at("2026-12-05 20:05"))
    p = planned[0]
    assert p.policy == "past_until" and p.quota == "week"
    assert p.reason == "WeCom quota 7 per week used, and the next week is past its end date (2026-12-06)"
    from qunflow.sheet.vocabulary import say_reason
    assert say_reason(p.reason, "zh-CN").startswith("企业微信群发次数已用完（每周 7 次），下周已超过结束日期")


@pytest.mark.parametrize("rule", ["month", "week", "day"])
def test_no_plan_ever_gives_a_group_more_than_its_quota(rule):
    sop = [{"rule_id": r, "groups": "K01", "schedule": f"daily {h}:00", "content": r} for r, h in
           (("A", "09"), ("B", "12"), ("C", "20"))]
    wb = workbook(rule, sop)
    ledger, t = Ledger(), at("2026-12-01 00:00")
    while t < at("2027-01-10 00:00"):
        for p in plan_sends(wb, ledger, t, t + timedelta(hours=1), t + timedelta(hours=1)):
            status = "sent" if p.policy == "due" else "deferred" if p.policy == "deferred" else "skipped"
            ledger.add(Entry(p.send_id, status, 1, p.at if status == "deferred" else p.occurrence,
                             p.at if status == "sent" else None, "K01", p.rule.rule_id, p.reason))
        t += timedelta(hours=1)
    counts: dict = {}
    for e in ledger.latest.values():
        if e.status == "sent":
            first, _, limit = period(rule, e.sent_at.astimezone(timezone(timedelta(hours=8))).date())
            counts[first] = counts.get(first, 0) + 1
            assert counts[first] <= limit
    assert max(counts.values()) == period(rule, date(2026, 12, 15))[2]     # and the quota is used, not wasted
