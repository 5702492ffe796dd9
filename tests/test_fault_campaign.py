"""Three days of ticks with every fault at once, on a Google sheet (the project's Sheets fake) and the emulator.

Platform side: 10% 5xx, 5% replies that never come, a WeCom 45009 storm and a DingTalk 130101 storm (another
sender filling the robot's window), and a Feishu robot removed on day 3. Sheets side: 429 storms and 500s on
reads and writes, and a write-back that fails after the sends. Compared with the same three days run without
faults:
- nothing lost: every send the clean run planned is in the SendLog, with a final state;
- nothing doubled: a group saw each message at most once, and exactly once when the SendLog says `sent`;
- every failure explained: a reason on its SendLog row, a warning in the log, and a Problem for the dead robot.
"""
import copy
import logging
import random
from collections import Counter
from datetime import datetime, timedelta, timezone

from engine_harness import SHOP, Shop
from helpers import make_raw
from qunflow.stores.gsheets import GoogleSheetsStore
from qunflow.sheet.load import load_workbook
from sheets_fake import FakeSheetsServer, gspread_session

UTC = timezone.utc
START = datetime(2026, 12, 1, 9, 55, tzinfo=timezone(timedelta(hours=8))).astimezone(UTC)
TICKS = [START + timedelta(minutes=m) for m in range(0, 3 * 24 * 60, 10)]
TIMES = [f"{h}:{m:02d}" for h in (10, 11, 20) for m in range(0, 60, 10)]      # 18 posts a day per group


def rows() -> dict:
    shop = copy.deepcopy(SHOP)
    shop["settings"] += [{"key": "daily_cap", "value": 100}]
    for group in shop["groups"]:
        group["daily_cap"], group["quiet_hours"] = 100, ""
    shop["sop"] = [{"rule_id": f"T{i:02d}", "groups": "G01, G02, G03", "schedule": f"daily {t}",
                    "content": "{{ rule_id }} for {{ group_name }} on {{ date }}"} for i, t in enumerate(TIMES)]
    return shop


def run(faults: bool):
    """The three days; returns (final SendLog rows by id, Problems rows, messages seen, fault counts)."""
    counts = Counter()
    rng = random.Random(8)
    with FakeSheetsServer() as server:
        server.create_spreadsheet("CAMPAIGN", make_raw(rows()))
        store = GoogleSheetsStore("CAMPAIGN", session=gspread_session(server.base_url), sleep=lambda s: None,
                                  rng=random.Random(0), attempts=4)
        options = {"error_rate": 0.10, "timeout_rate": 0.05, "timeout_stall": 0.4, "seed": 11} if faults else {}
        shop = Shop(START, store=store, emulator_options=options, timeout=(2.0, 0.2))
        bots = {b.platform: b for b in shop.emulator.bots}
        try:
            for n, moment in enumerate(TICKS):
                local = moment.astimezone(timezone(timedelta(hours=8)))
                if faults:
                    if rng.random() < 0.05:                          # a 429 storm or a 500, shorter than retries
                        server.inject(rng.choice([429, 500]), count=rng.randint(1, 3))
                        counts["sheets storms"] += 1
                    if (local.day, local.hour, local.minute) in ((2, 10, 5), (3, 20, 5)):
                        for _ in range(20):                            # someone else fills WeCom's window: 45009
                            shop.emulator.limiters["wecom"].hit(bots["wecom"].token, moment.timestamp())
                        for _ in range(21):                            # and DingTalk's: 130101, 10-minute penalty
                            shop.emulator.limiters["dingtalk"].check(bots["dingtalk"].token, moment.timestamp())
                            shop.emulator.limiters["dingtalk"].hit(bots["dingtalk"].token, moment.timestamp())
                        counts["platform storms"] += 1
                    if (local.day, local.hour, local.minute) == (3, 10, 55):
                        bots["feishu"].dead = True                     # the Feishu robot is removed from G03
                    if (local.day, local.hour, local.minute) == (2, 20, 5):
                        server.inject(500, count=10, kind="values.batchUpdate")  # the write-back fails after sends
                        counts["failed write-backs"] += 1
                try:
                    shop.tick(moment)
                except Exception as exc:                               # main.py logs it and answers 503
                    assert faults and "500" in str(exc), exc
                    counts["ticks failed"] += 1
                finally:
                    server.inject(500, count=0, kind="values.batchUpdate")
            server.inject(500, count=0)
            wb = load_workbook(store.read().raw)
            final = {}
            for row in wb.sendlog:
                final[row.send_id] = row
            counts.update({f"emulator {k}": v for k, v in shop.emulator.faults.items()})
            counts.update({f"rejected {k}": v for k, v in shop.emulator.rejections.items()})
            return final, wb.previous_problems, list(shop.emulator.messages), counts
        finally:
            shop.close()


def test_three_days_of_every_fault_lose_nothing_and_double_nothing(caplog, capsys):
    clean, _, clean_messages, _ = run(faults=False)
    assert {r.status for r in clean.values()} == {"sent"} and len(clean) == 3 * 3 * len(TIMES) == 162
    caplog.set_level(logging.WARNING, logger="qunflow")
    final, problems, messages, counts = run(faults=True)

    assert set(final) == set(clean)                                     # nothing lost
    assert {r.status for r in final.values()} <= {"sent", "unknown", "missed", "skipped", "failed"}, \
        Counter(r.status for r in final.values())                       # every send final at the end
    seen = Counter(m["text"] for m in messages)
    names = {"G01": "Spring deals", "G02": "Flash sale", "G03": "Style lab"}
    for sid, row in final.items():
        occurrence = datetime.strptime(sid.split(":")[2], "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
        local_day = occurrence.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%d")
        text = f"{row.rule_id} for {names[row.group_id]} on {local_day}"
        allowed = {"sent": {1}, "unknown": {0, 1}, "missed": {0}, "skipped": {0}, "failed": {0}}[row.status]
        assert seen[text] in allowed, (sid, row.status, seen[text])      # nothing doubled
        if row.status != "sent":
            assert row.outcome, sid                                      # and every failure explained
    assert max(seen.values()) == 1 and len(messages) <= len(clean_messages)
    warned = " ".join(r.getMessage() for r in caplog.records)
    for sid, row in final.items():
        if row.status in ("unknown", "skipped", "failed") and "write-ahead" not in row.outcome:
            assert sid in warned or "disabled" in warned, sid
    dead = [p for p in problems if p.tab == "Groups" and p.row == 4]    # G03's row: what to fix, in the sheet
    assert dead and "dead since 2026-12-03" in dead[0].value and "clear this cell" in dead[0].message, problems

    fate = Counter(r.status for r in final.values())
    assert fate["skipped"] >= 1 and fate["unknown"] >= 1 and counts["ticks failed"] >= 1
    assert counts["emulator timeout"] >= 1 and counts["sheets storms"] >= 10
    assert counts["rejected wecom:45009"] >= 1 and counts["rejected dingtalk:130101"] >= 1
    with capsys.disabled():
        print(f"\nfault campaign: {len(final)} sends over {len(TICKS)} ticks · {dict(fate)} · "
              f"faults {dict(counts)} · lost 0 · doubled 0")
