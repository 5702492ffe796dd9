"""An hour without a platform, an hour without Google: what goes out late, what is missed, nothing twice.

The shop posts 12 rules (10:00, 10:10 ... 11:50) into 3 groups on three platforms; a tick every 5 minutes from
09:55 to 12:00 on a virtual clock; catch_up is 30 minutes. The outage runs from 10:00 to 11:00. The figures
asserted here are the ones docs/RELIABILITY.md quotes (`pytest tests/test_outages.py -s` prints them).
"""
import copy
import random
import re
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from engine_harness import SHOP, Shop
from helpers import make_raw
from qunflow.stores.gsheets import GoogleSheetsStore
from qunflow.sheet.load import load_workbook
from sheets_fake import FakeSheetsServer, gspread_session

UTC = timezone.utc
TIMES = [f"{10 + m // 60}:{m % 60:02d}" for m in range(0, 120, 10)]      # 10:00 ... 11:50
CATCH_UP = timedelta(minutes=30)


def at(text: str) -> datetime:  # Asia/Shanghai wall time → UTC
    return datetime.fromisoformat(text + "+08:00").astimezone(UTC)


START, DOWN_FROM, DOWN_TO = at("2026-12-01 09:55"), at("2026-12-01 10:00"), at("2026-12-01 11:00")
TICKS = [START + timedelta(minutes=m) for m in range(0, 130, 5)]         # 09:55 ... 12:00


def rows() -> dict:
    shop = copy.deepcopy(SHOP)
    shop["settings"].append({"key": "daily_cap", "value": 100})
    # the collision guard off: these figures are about retries and catch-up alone (the guard's own outage
    # figures: tests/test_collision_guard.py)
    shop["settings"].append({"key": "min_gap", "value": "0m"})
    for group in shop["groups"]:
        group["daily_cap"] = 100
    shop["sop"] += [{"rule_id": f"T{i:02d}", "groups": "G01, G02, G03", "schedule": f"daily {t}",
                     "content": "{{ rule_id }} for {{ group_name }} on {{ date }}"} for i, t in enumerate(TIMES)]
    return shop


def latest(wb) -> dict:
    out = {}
    for row in wb.sendlog:
        out[row.send_id] = row
    return out


def account(wb, messages) -> dict:
    """Every T-rule send's fate, checked against what the groups actually saw."""
    final = {sid: r for sid, r in latest(wb).items() if r.rule_id.startswith("T")}
    seen = Counter(m["text"] for m in messages)
    names = {g.group_id: g.name for g in wb.groups.values()}
    fate = Counter()
    delays = []
    for sid, row in final.items():
        text = f"{row.rule_id} for {names[row.group_id]} on 2026-12-01"
        fate[row.status] += 1
        assert seen[text] == (1 if row.status == "sent" else 0), (sid, row.status, seen[text])   # never twice
        assert row.outcome, sid                                                                  # always a reason
        if row.status == "sent":                                   # SendLog times are the group's wall clock
            delays.append(row.sent_at.replace(tzinfo=None) - datetime.fromisoformat(f"2026-12-01 {TIMES[int(row.rule_id[1:])]}"))
    assert len(final) == len(TIMES) * 3                                  # nothing lost: every send is in the SendLog
    late = [d for d in delays if d > timedelta(minutes=1)]
    return {"sends": len(final), "fate": dict(fate), "late": len(late), "max_delay": max(late, default=timedelta(0))}


def expected_fate() -> dict:
    """Due before the outage ended: missed if more than catch_up old when it ends, else late."""
    outage = [t for t in TIMES if DOWN_FROM <= at(f"2026-12-01 {t}") < DOWN_TO]
    missed = [t for t in outage if DOWN_TO - at(f"2026-12-01 {t}") > CATCH_UP]
    return {"missed": 3 * len(missed), "late": 3 * (len(outage) - len(missed)), "sent": 3 * (len(TIMES) - len(missed))}


def test_a_platform_down_for_an_hour_sends_late_within_catch_up_and_records_the_rest_missed(capsys):
    shop = Shop(START, rows=rows(), timeout=(2.0, 0.5))
    try:
        during = 0
        for moment in TICKS:
            down = DOWN_FROM <= moment < DOWN_TO
            shop.emulator.error_rate = 1.0 if down else 0.0        # every platform answers 5xx for an hour
            before = shop.emulator.requests_total
            report = shop.tick(moment)
            waiting = [p for p in load_workbook(shop.store.raw).previous_problems if "did not take" in p.message]
            if down:
                during += shop.emulator.requests_total - before
                assert report.sent == 0 and report.retry >= 1
                if moment.minute % 10 == 5:                         # a post is waiting: each group says so
                    assert sorted(p.row for p in waiting) == [2, 3, 4], waiting
                    assert all(p.tab == "Groups" and p.column == "webhook" and re.search(r"HTTP 50[023]", p.message)
                               for p in waiting), waiting
            elif moment > DOWN_TO:
                assert not waiting                                  # gone once the platform answers again
        wb = load_workbook(shop.store.raw)
        figures = account(wb, shop.emulator.messages)
        want = expected_fate()
        assert figures["fate"] == {"sent": want["sent"], "missed": want["missed"]}
        assert figures["late"] == want["late"] and figures["max_delay"] <= CATCH_UP + timedelta(minutes=1)
        missed = [r for r in latest(wb).values() if r.status == "missed" and r.rule_id.startswith("T")]
        assert all("still not delivered" in r.outcome for r in missed)
        retried = [r for r in wb.sendlog if r.status == "retry"]
        assert retried and all("the next run tries again" in r.outcome for r in retried)
        ticks_down = sum(DOWN_FROM <= t < DOWN_TO for t in TICKS)
        assert during <= ticks_down * 3 * 4                         # per tick, each webhook: one send's 4 attempts
        print(f"\nplatform down 1 h: {figures['sends']} sends, {want['late'] + want['missed']} due in the outage, "
              f"{figures['late']} sent late (max {figures['max_delay']}), {figures['fate']['missed']} missed, "
              f"doubled 0, {during} webhook requests during the outage over {ticks_down} ticks")
    finally:
        shop.close()


def test_google_down_for_an_hour_posts_nothing_blind_then_catches_up(capsys):
    with FakeSheetsServer() as server:
        server.create_spreadsheet("SHOP", make_raw(rows()))
        store = GoogleSheetsStore("SHOP", session=gspread_session(server.base_url), sleep=lambda s: None,
                                  rng=random.Random(0), attempts=3)
        shop = Shop(START, store=store, timeout=(2.0, 0.5))
        try:
            failed_ticks = 0
            for moment in TICKS:
                down = DOWN_FROM <= moment < DOWN_TO
                server.inject(503, count=10**6 if down else 0)    # every Sheets request: 503 for an hour
                posted = len(shop.emulator.messages)
                try:
                    shop.tick(moment)
                except Exception as exc:                          # the entry point logs it and answers 500
                    assert down, exc
                    assert "503" in str(exc)
                    failed_ticks += 1
                    assert len(shop.emulator.messages) == posted   # nothing read, so nothing posted blind
            server.inject(503, count=0)
            wb = load_workbook(store.read().raw)
            figures = account(wb, shop.emulator.messages)
            want = expected_fate()
            assert figures["fate"] == {"sent": want["sent"], "missed": want["missed"]}
            assert figures["late"] == want["late"] and figures["max_delay"] <= CATCH_UP + timedelta(minutes=1)
            assert failed_ticks == sum(DOWN_FROM <= t < DOWN_TO for t in TICKS)
            assert not [r for r in wb.sendlog if r.status in ("pending", "retry")]
            print(f"\nGoogle down 1 h: {failed_ticks} ticks failed before sending; {figures['sends']} sends, "
                  f"{figures['late']} sent late (max {figures['max_delay']}), {figures['fate']['missed']} missed, "
                  f"doubled 0")
        finally:
            shop.close()


@pytest.mark.parametrize("minutes_down", [20, 35])
def test_a_short_outage_loses_nothing(minutes_down):
    shop = Shop(START, rows=rows(), timeout=(2.0, 0.5))
    try:
        for moment in TICKS:
            shop.emulator.error_rate = 1.0 if DOWN_FROM <= moment < DOWN_FROM + timedelta(minutes=minutes_down) else 0.0
            shop.tick(moment)
        figures = account(load_workbook(shop.store.raw), shop.emulator.messages)
        lost = figures["fate"].get("missed", 0)
        assert lost == (0 if minutes_down <= 30 else 3)             # 35 min: only the 10:00 sends are past catch_up
    finally:
        shop.close()


def test_a_welcome_that_waited_for_the_platform_goes_out_once_with_each_coupon_bound_once():
    shop = Shop(START, rows=rows(), timeout=(2.0, 0.5))
    try:
        shop.tick(at("2026-12-01 09:55"))
        header = shop.store.raw["Members"][0]
        for i in range(6):
            row = {"member_id": f"N{i:03d}", "name": f"New{i}", "group_id": "G01" if i % 2 else "G02",
                   "platform_user_id": f"new{i}", "joined_at": "2026-12-01 09:57"}
            shop.store.raw["Members"].append([row.get(h, "") for h in header])
        shop.emulator.error_rate = 1.0
        for moment in ("10:00", "10:05", "10:10"):                    # down: the welcomes wait
            report = shop.tick(at(f"2026-12-01 {moment}"))
            assert report.sent == 0
        shop.emulator.error_rate = 0.0
        shop.tick(at("2026-12-01 10:15"))
        shop.tick(at("2026-12-01 10:20"))
        welcomes = [m for m in shop.emulator.messages if "Welcome" in m["text"]]
        assert len(welcomes) == 2                                     # one per group, once
        assert sorted(len(m["mentions"]) for m in welcomes) == [3, 3]
        wb = load_workbook(shop.store.raw)
        new = [m for m in wb.members.values() if m.member_id.startswith("N")]
        assert all(m.welcomed_at is not None for m in new)
        codes = [m.coupon_code for m in new]
        assert len(set(codes)) == 6 and all(wb.coupons[c].member_id == m.member_id for m, c in zip(new, codes))
        final = latest(wb)
        assert {final[sid].status for sid in final if sid.startswith("W01:")} == {"sent"}
        assert any(r.status == "retry" and r.send_id.startswith("W01:") for r in wb.sendlog)
    finally:
        shop.close()
