"""`qunflow demo --wecom-customer` (jobs/demo_wecom.py): 30 days, the tick every 2 hours, the emulator's customer-contact
API over real HTTP, the emulated owners played through its control endpoint. The SendLog ends with the true state
of each send; reminders and cancellations as specified; no group over its quota (7 a week)."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta, timezone

import pytest

from qunflow.jobs.demo_wecom import run_wecom_demo
from qunflow.sheet.load import load_workbook
from qunflow.stores.xlsx import XlsxStore

BEIJING = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return run_wecom_demo(tmp_path_factory.mktemp("wecom-demo"), days=30)


def test_the_sendlog_ends_with_the_true_state_of_each_send(demo):
    assert demo.mismatches == []
    assert demo.states["sent"] > 70 and demo.states["not_sent"] >= 10
    assert set(demo.states) <= {"sent", "not_sent", "awaiting_confirmation", "deferred", "quota", "skipped"}
    assert Counter(demo.plans.values()) == demo.owner and demo.owner["late"] == 1 and demo.owner["after_cancel"] == 1


def test_reminders_and_cancellations_happen_as_specified(demo):
    for task in demo.tasks:
        kind = demo.plans[task["msgid"]]
        reminds = task["reminds"]
        for t in reminds:          # at most 3 in any 24 h, none before 2 h of waiting, each 2 h after the last
            assert sum(1 for u in reminds if t <= u < t + 86400) <= 3
        assert all(b - a >= 7200 for a, b in zip([task["created"]] + reminds, reminds))
        if kind in ("ignore", "after_cancel"):
            assert task["cancelled"] and task["status"] == 0 and task["results"] == {}
            assert 24 * 3600 <= task["cancelled_at"] - task["created"] <= 26 * 3600
            assert len(reminds) == 3
        elif kind == "late":
            assert not task["cancelled"] and task["status"] == 2 and len(reminds) == 3
            assert task["send_time"] - task["created"] >= 20 * 3600
        else:
            assert not task["cancelled"] and task["status"] == 2 and reminds == []


def test_no_group_exceeds_its_quota_and_the_quota_deferred_sends(demo):
    assert demo.max_per_week and max(demo.max_per_week.values()) <= 7
    assert demo.deferred > 0


def test_the_workbook_shows_the_states_in_the_operator_s_words(demo):
    wb = load_workbook(XlsxStore(demo.workbook).read().raw)
    statuses = Counter(r.status for r in wb.sendlog)
    assert statuses["sent"] == demo.states["sent"] and statuses["not_sent"] == demo.states["not_sent"]
    from openpyxl import load_workbook as xl
    sheet = xl(demo.workbook)["发送记录"]
    cells = {str(c.value) for row in sheet.iter_rows(min_row=2) for c in row if c.value}
    assert {"已发送", "未发出"} <= cells
    assert any("群主未在时限内确认" in c for c in cells)       # the reason, in zh-CN
