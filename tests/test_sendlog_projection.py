"""The SendLog tab as a projection of the state store (jobs/sendlog_projection.py): it shows the last
`sendlog_days`, is rewritten from the store when it does not show what the store holds, and is never parsed
by a tick once the store holds the history. Run against SQLite and the Firestore emulator (the `state` fixture).
"""
from __future__ import annotations

import copy
from datetime import datetime, timedelta

from engine_harness import SHOP, Shop
from qunflow.sheet.load import load_workbook
from qunflow.sheet.schema import load_schemas
from zoneinfo import ZoneInfo

SH = ZoneInfo("Asia/Shanghai")
SENDLOG = load_schemas()["sendlog"].title("en")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def _rows(days: int) -> dict:
    rows = copy.deepcopy(SHOP)
    rows["settings"].append({"key": "sendlog_days", "value": str(days)})
    return rows


def _shown(shop) -> list[str]:
    return [r.send_id for r in load_workbook(shop.store.raw).sendlog]


def test_the_tab_shows_the_window_while_the_store_keeps_every_send(state):
    shop = Shop(at("2026-12-01 22:55"), rows=_rows(3), state=state)
    try:
        start = at("2026-12-01 23:05")
        for day in range(7):                              # the good-night rule, 3 groups, one week
            shop.tick(start + timedelta(days=day))
        preview = load_workbook(shop.store.raw).tables["sendlog"].columns["preview"]
        shop.store.raw[SENDLOG][1][preview] = "an operator's note"
        shop.tick(start + timedelta(days=6, minutes=5))   # a second tick on the last day: appends, no rewrite
        assert shop.store.raw[SENDLOG][1][preview] == "an operator's note"
        sent = {s.send_id: s for s in state.sends() if s.status == "sent" and s.rule_id == "R01"}
        assert len(sent) == 14                            # every night, G01 and G02 (G03 is in its quiet hours)
        shown = _shown(shop)
        assert len(shown) == len(set(shown))              # rewritten whole, not appended to: one row per send
        newest = {sid for sid, s in sent.items() if s.scheduled_for >= start + timedelta(days=6) - timedelta(days=3)}
        assert newest <= set(shown)
        oldest = {sid for sid, s in sent.items() if s.scheduled_for < start + timedelta(days=2)}
        assert oldest and not oldest & set(shown)         # older than the window: off the tab, still in the store
        assert len(shop.emulator.messages) == sum(s.status == "sent" for s in state.sends())   # nothing twice
    finally:
        shop.close()


def test_a_sendlog_the_operator_emptied_is_projected_again_and_nothing_is_resent(state):
    shop = Shop(at("2026-12-01 09:55"), rows=_rows(14), state=state)
    try:
        shop.tick(at("2026-12-01 09:55"))
        shop.tick(at("2026-12-01 10:05"))                 # day 1's tip
        shop.tick(at("2026-12-01 23:05"))                 # good night (G03 is in its quiet hours)
        before = set(_shown(shop))
        assert len(before) == 3                         # the tip, good night in G01 and G02
        posted = len(shop.emulator.messages)
        shop.store.raw[SENDLOG] = shop.store.raw[SENDLOG][:1]     # the operator clears the tab (or a stale save)
        shop.tick(at("2026-12-01 23:10"))
        assert set(_shown(shop)) == before
        assert len(shop.emulator.messages) == posted
    finally:
        shop.close()


def test_once_the_store_holds_the_history_the_tab_is_not_parsed(state):
    """A cell the operator broke in the SendLog costs nothing: the tick reads sends from the store, and the
    next rewrite puts the row right. (Without a store, the same cell is a Problem: the sheet is the memory.)"""
    shop = Shop(at("2026-12-01 09:55"), rows=_rows(14), state=state)
    try:
        shop.tick(at("2026-12-01 09:55"))
        shop.tick(at("2026-12-01 10:05"))
        table = load_workbook(shop.store.raw).tables["sendlog"]
        sheet = shop.store.raw[SENDLOG]
        sheet[1][table.columns["attempts"]] = "lots"
        report = shop.tick(at("2026-12-01 10:10"))
        problems = load_workbook(shop.store.raw).previous_problems
        assert not [p for p in problems if p.tab == SENDLOG], problems
        assert report.problems == len(problems)
        assert "lots" in [r[table.columns["attempts"]] for r in shop.store.raw[SENDLOG]]   # not rewritten yet today
        shop.tick(at("2026-12-02 09:00"))                # the day's first tick rewrites the tab from the store
        assert "lots" not in [r[table.columns["attempts"]] for r in shop.store.raw[SENDLOG]]
    finally:
        shop.close()


def test_without_a_store_the_broken_sendlog_cell_is_a_problem():
    shop = Shop(at("2026-12-01 09:55"), rows=_rows(14))
    try:
        shop.tick(at("2026-12-01 09:55"))
        shop.tick(at("2026-12-01 10:05"))
        table = load_workbook(shop.store.raw).tables["sendlog"]
        shop.store.raw[SENDLOG][1][table.columns["attempts"]] = "lots"
        shop.tick(at("2026-12-01 10:10"))
        assert [p for p in load_workbook(shop.store.raw).previous_problems if p.tab == SENDLOG]
    finally:
        shop.close()


def _report_shop():
    from helpers import make_raw
    from qunflow.stores.memory import MemoryStore
    rows = {"settings": [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": "en"},
                         {"key": "ops_group", "value": "OPS"}],
            "groups": [{"group_id": "OPS", "name": "Team", "platform": "wecom", "webhook": "env:QUNFLOW_OPS_HOOK",
                        "kind": "content"}]}
    return MemoryStore(make_raw(rows))


def _post_report(store, state, emulator, now):
    import random

    import requests

    from qunflow.delivery.secrets import SecretResolver
    from qunflow.emulator import Bot
    from qunflow.jobs.metrics_job import run_metrics
    from qunflow.jobs.tick import TickDeps
    hook = emulator.webhook_url(Bot("wecom", "report-ops-key-0123456789abcdef"))
    deps = TickDeps(session=requests.Session(), clock=now.timestamp, sleep=lambda s: None, rng=random.Random(1),
                    resolver=SecretResolver(env={"QUNFLOW_OPS_HOOK": hook}), state=state)
    return run_metrics(store, now, deps, post=True, chart=False)


def test_the_daily_report_is_posted_once_even_after_the_sendlog_lost_its_row(state):
    from qunflow.emulator import Emulator
    store, now = _report_shop(), at("2026-12-02 09:00")
    with Emulator(strict=False) as emulator:
        assert _post_report(store, state, emulator, now).posted == "sent"
        store.raw[SENDLOG] = store.raw[SENDLOG][:1]        # the tab is a window: a rewrite or a stale save
        again = _post_report(store, state, emulator, now + timedelta(hours=1))
        assert again.posted == "skipped" and len(emulator.messages) == 1
    assert state.get_sends(["daily_report:OPS:20261201"])["daily_report:OPS:20261201"].status == "sent"


def test_without_a_store_the_report_goes_out_again_once_its_row_is_gone():
    from qunflow.emulator import Emulator
    store, now = _report_shop(), at("2026-12-02 09:00")
    with Emulator(strict=False) as emulator:
        _post_report(store, None, emulator, now)
        store.raw[SENDLOG] = store.raw[SENDLOG][:1]
        _post_report(store, None, emulator, now + timedelta(hours=1))
        assert len(emulator.messages) == 2


def test_a_sendlog_qunflow_cannot_read_is_not_counted_as_rewritten(state):
    """The tab's header gone: the tab is never written, and the day's rewrite waits until it can be."""
    shop = Shop(at("2026-12-01 09:55"), rows=_rows(14), state=state)
    try:
        shop.tick(at("2026-12-01 09:55"))
        shop.store.raw[SENDLOG] = [["something else"], ["an operator's note"]]
        shop.tick(at("2026-12-02 09:00"))
        assert state.cursor("sendlog_projected") != "2026-12-02"
        assert shop.store.raw[SENDLOG] == [["something else"], ["an operator's note"]]
    finally:
        shop.close()
