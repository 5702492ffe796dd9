"""Policies compose (issue #15, item 4): the collision guard, the daily cap with `until`, the warnings.

The tick end to end: MemoryStore + the emulator over real HTTP, on a virtual clock."""
import copy
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner

from engine_harness import SHOP, Shop
from helpers import make_raw
from qunflow.cli.app import cli
from qunflow.sheet.load import load_workbook
from qunflow.stores.xlsx import XlsxStore

UTC = timezone.utc


def at(text: str) -> datetime:  # Asia/Shanghai wall time → UTC
    return datetime.fromisoformat(text + "+08:00").astimezone(UTC)


def posted(shop, platform="wecom"):
    return [(datetime.fromisoformat(m["at"].replace("Z", "+00:00")), m["text"]) for m in shop.emulator.messages
            if m["platform"] == platform]


def latest_rows(wb):
    out = {}
    for r in wb.sendlog:
        out[r.send_id] = r
    return out


def burst_rows():
    rows = copy.deepcopy(SHOP)
    rows["sop"] = [  # a poster and its text at 10:00 (one sequence), then four more slots a minute apart
        {"rule_id": "P01", "groups": "G01", "schedule": "daily 10:00", "content": "poster"},
        {"rule_id": "P02", "groups": "G01", "schedule": "daily 10:00", "content": "poster text"},
    ] + [{"rule_id": f"S0{i}", "groups": "G01", "schedule": f"daily 10:0{i}", "content": f"slot {i}"} for i in range(1, 5)]
    rows["groups"][0]["daily_cap"] = 20
    return rows


def test_a_catch_up_after_an_outage_spreads_over_the_following_ticks_and_misses_nothing():
    shop = Shop(at("2026-12-01 09:55"), rows=burst_rows())
    try:
        shop.tick(at("2026-12-01 09:55"))
        # no tick ran from 09:55 to 10:25 (Google or the scheduler was down); catch_up is 30 minutes
        t = at("2026-12-01 10:25")
        while t <= at("2026-12-01 11:00"):
            shop.tick(t)
            t += timedelta(minutes=5)
        sends = posted(shop)
        texts = [text for _, text in sends]
        assert sorted(texts) == sorted(["poster", "poster text", "slot 1", "slot 2", "slot 3", "slot 4"])  # each once
        assert texts[:2] == ["poster", "poster text"]                      # the sequence, back to back, in row order
        assert sends[1][0] - sends[0][0] < timedelta(minutes=1)
        slot_times = [when for when, text in sends if text != "poster text"]
        assert all(b - a >= timedelta(minutes=2) for a, b in zip(slot_times, slot_times[1:]))   # min_gap between slots
        assert len({when.replace(second=0, microsecond=0) for when in slot_times}) == 5           # one slot per tick
        statuses = {r.rule_id: r.status for r in latest_rows(load_workbook(shop.store.raw)).values()}
        assert set(statuses.values()) == {"sent"}                          # spreading never turns a send into missed
        assert max(slot_times) - at("2026-12-01 10:04") > timedelta(minutes=30)   # slot 4 went out later than catch_up
    finally:
        shop.close()


def test_the_daily_cap_defers_to_the_next_day_at_its_own_time_and_skips_past_until():
    rows = copy.deepcopy(SHOP)
    rows["groups"][0]["daily_cap"] = 1
    rows["sop"] = [{"rule_id": "A01", "groups": "G01", "schedule": "daily 19:00", "content": "evening news"},
                   {"rule_id": "F01", "groups": "G01", "schedule": "daily 20:00", "content": "限时秒杀 今天有效",
                    "until": "2026-12-02"}]
    shop = Shop(at("2026-12-01 18:55"), rows=rows)
    try:
        for moment in ("2026-12-01 18:55", "2026-12-01 19:00", "2026-12-01 20:00", "2026-12-02 00:05",
                       "2026-12-02 08:00", "2026-12-02 19:00", "2026-12-02 20:00", "2026-12-03 00:05",
                       "2026-12-03 20:00"):
            shop.tick(at(moment))
            problems = [p for p in load_workbook(shop.store.raw).previous_problems if "daily cap" in (p.message or "")]
            if moment == "2026-12-01 20:00":                                      # cap_reached, at the group's cap
                assert [(p.tab, p.row, p.column) for p in problems] == [("Groups", 2, "daily_cap")]
                assert "F01" in problems[0].message and "2026-12-02 20:00" in problems[0].message
            if moment == "2026-12-02 00:05":
                assert [text for _, text in posted(shop)] == ["evening news"]      # never at midnight
            if moment == "2026-12-02 20:00":
                assert problems and all("end date 2026-12-02" in p.message for p in problems)
        assert [text for _, text in posted(shop)] == ["evening news", "evening news"]
        wb = load_workbook(shop.store.raw)
        rows_f = [r for r in wb.sendlog if r.rule_id == "F01"]
        deferred = [r for r in rows_f if r.status == "deferred"]
        assert deferred and deferred[0].scheduled_for.replace(tzinfo=None) == datetime(2026, 12, 2, 20, 0)
        final = latest_rows(wb)
        f01 = [r for r in final.values() if r.rule_id == "F01"]
        assert len(f01) == 2 and all(r.status == "skipped" and "past its end date" in r.outcome for r in f01)
    finally:
        shop.close()


def test_a_day_n_rule_on_a_group_without_campaign_start_raises_no_campaign_start():
    rows = copy.deepcopy(SHOP)
    rows["sop"][1]["groups"] = "G01, G03"                       # C01 counts campaign days; G03 has no start
    shop = Shop(at("2026-12-01 09:55"), rows=rows)
    try:
        shop.tick(at("2026-12-01 10:00"))
        wb = load_workbook(shop.store.raw)
        found = [p for p in wb.previous_problems if "campaign_start" in (p.message or "")]
        assert len(found) == 1 and found[0].tab == "SOP" and found[0].row == 3 and "G03" in found[0].message
    finally:
        shop.close()


def test_validate_flags_a_text_the_platform_will_receive_as_several_posts(tmp_path):
    from qunflow.jobs.initbook import export_xlsx
    rows = copy.deepcopy(SHOP)
    rows["sop"].append({"rule_id": "L01", "groups": "G01", "schedule": "daily 12:00",
                        "content": "\n\n".join("第{}段：".format(i) + "好物推荐" * 120 for i in range(4))})
    path = tmp_path / "shop.xlsx"
    export_xlsx(make_raw(rows), path, "en")
    out = CliRunner().invoke(cli, ["validate", str(path)])
    wb = load_workbook(XlsxStore(path).read().raw)
    flagged = [p for p in wb.previous_problems if "posts" in (p.message or "")]
    assert len(flagged) == 1 and flagged[0].row == 5 and flagged[0].column == "content", out.output
    assert "G01" in flagged[0].message and "posts" in flagged[0].message
    shown = CliRunner().invoke(cli, ["preview", str(path), "--now", "2026-12-01T03:00:00Z", "--days", "1", "--json"])
    import json
    items = [i for i in json.loads(shown.output) if i["rule_id"] == "L01"]
    assert items and items[0]["posts"] >= 2


def test_ticks_run_an_hour_apart_never_grow_a_backlog():
    rows = copy.deepcopy(SHOP)
    rows["settings"].append({"key": "catch_up", "value": "90m"})
    rows["groups"][0]["daily_cap"] = 500
    rows["sop"] = [{"rule_id": "A01", "groups": "G01", "schedule": "cron */10 * * * *", "content": "A {{ time }}"}]
    shop = Shop(at("2026-12-01 09:00"), rows=rows)
    try:
        for hour in range(9, 15):
            shop.tick(at(f"2026-12-01 {hour:02d}:00"))
        wb = load_workbook(shop.store.raw)
        final = latest_rows(wb)
        waiting = [r for r in final.values() if r.status == "deferred"]
        assert len(waiting) <= 6                                  # at most the last tick's spread: one hour of slots
        assert all(r.status == "sent" for r in final.values() if r.status != "deferred")
        assert len([r for r in final.values() if r.status == "sent"]) >= 5 * 6 - 6
    finally:
        shop.close()
