"""Generated workbooks for benchmarks: fixed seed, any size."""
from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers import make_raw  # noqa: E402

PLATFORMS = ["wecom", "dingtalk", "feishu", "slack", "discord", "telegram"]
KINDS = ["traffic", "flash", "content", "checkin"]
SCHEDULES = ["daily 23:00", "weekly mon,thu 20:00", "day 3 20:00", "day 8-16 20:00", "every day 9:00", "on join",
             "join+2d 10:00", "cron 0 12 * * *", "每天 07:00", "第17-18天 10:00"]


def rows(members: int, groups: int, rules: int, seed: int = 1) -> dict:
    rng = random.Random(seed)
    group_rows = [{"group_id": f"G{g:04d}", "name": f"group {g}", "platform": PLATFORMS[g % 6],
                   "webhook": f"env:QUNFLOW_HOOK_{g}", "kind": KINDS[g % 4], "campaign_start": "2026-12-01",
                   "daily_cap": 10, "enabled": "yes"} for g in range(groups)]
    member_rows = [{"member_id": f"M{i:07d}", "name": f"member {i}", "group_id": f"G{rng.randrange(groups):04d}",
                    "platform_user_id": f"u{i}", "mobile": f"0{13800000000 + i}",
                    "joined_at": f"2026-11-{1 + i % 28:02d} {8 + i % 12}:{i % 60:02d}", "source": "store",
                    "tags": "VIP" if i % 10 == 0 else "", "status": "active"} for i in range(members)]
    rule_rows = [{"rule_id": f"R{r:04d}", "groups": f"G{r % groups:04d}" if r % 5 else "*",
                  "schedule": SCHEDULES[r % len(SCHEDULES)].replace("every day", "daily"),
                  "content": f"Hello {{{{ group_name }}}}, day {{{{ campaign_day }}}} (tip {r})", "mention": "none"}
                 for r in range(rules)]  # distinct texts: two rules with one schedule and text are a duplicate_rule
    coupons = [{"code": f"WEL-{i:06d}", "campaign": "welcome50", "kind": "welcome", "value": 50} for i in range(max(100, members // 10))]
    return {"settings": [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": "en"}],
            "groups": group_rows, "members": member_rows, "sop": rule_rows, "coupons": coupons,
            "templates": [{"name": "welcome", "content": "Welcome {{ mentions }}"}]}


def raw(members: int, groups: int = 100, rules: int = 50, seed: int = 1) -> dict:
    return make_raw(rows(members, groups, rules, seed))


def write_xlsx_fast(raw_book: dict, path: Path) -> None:
    """openpyxl write-only mode: the fastest way to produce a large real .xlsx."""
    from openpyxl import Workbook
    book = Workbook(write_only=True)
    for title, lines in raw_book.items():
        sheet = book.create_sheet(title)
        for line in lines:
            sheet.append([None if v == "" else v for v in line])
    book.save(path)
