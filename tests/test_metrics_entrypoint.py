"""functions/main.py `metrics` as Cloud Functions runs it: Cloud Scheduler's request, a Google sheet (the
Sheets fake), the daily report posted once to the ops group (the chat emulator)."""
from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import functions_framework

from helpers import make_raw
from qunflow.metrics.dates import day_words
from qunflow.emulator import Bot, Emulator
from sheets_fake import FakeSheetsServer

MAIN = str(Path(__file__).resolve().parents[1] / "functions" / "main.py")
OPS = Bot("wecom", "metrics-ops-key-0123456789abcdef")
SHOP = {
    "settings": [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": "en"},
                 {"key": "ops_group", "value": "OPS"}],
    "groups": [{"group_id": "G01", "name": "Deals", "platform": "wecom", "webhook": "env:QUNFLOW_NOT_USED", "kind": "traffic"},
               {"group_id": "OPS", "name": "Team", "platform": "wecom", "webhook": "env:QUNFLOW_METRICS_OPS_HOOK", "kind": "content"}],
    "members": [{"member_id": "M1", "name": "Lin", "group_id": "G01", "joined_at": "2026-11-01 10:00"}],
}


def test_the_daily_job_rolls_up_and_posts_the_report_once(monkeypatch):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    yesterday = (now.astimezone(timezone(timedelta(hours=8))) - timedelta(days=1)).date()
    with FakeSheetsServer() as sheets, Emulator(strict=False) as emulator:
        sheets.create_spreadsheet("METRICS", make_raw(SHOP))
        for name in ("QUNFLOW_STATE", "QUNFLOW_SERVICE_ACCOUNT_FILE", "QUNFLOW_SECRETS_DIR"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("QUNFLOW_SOURCE", "gsheets:METRICS")
        monkeypatch.setenv("QUNFLOW_SHEETS_API", sheets.base_url)
        monkeypatch.setenv("QUNFLOW_SECRETS_FILE", "/nonexistent/.qunflow-secrets")
        monkeypatch.setenv("QUNFLOW_METRICS_OPS_HOOK", emulator.webhook_url(OPS))
        replies = []
        for _ in range(2):
            app = functions_framework.create_app("metrics", MAIN)
            sys.modules["main"]._CLIENTS.clear()
            replies.append(app.test_client().post("/", data=b"{}", headers={
                "Content-Type": "application/json", "X-CloudScheduler": "true",
                "X-CloudScheduler-JobName": "qunflow-metrics",
                "X-CloudScheduler-ScheduleTime": now.strftime("%Y-%m-%dT%H:%M:%SZ")}))
        assert [r.status_code for r in replies] == [200, 200]
        first, second = (r.get_json() for r in replies)
        assert first["posted"] == "sent" and second["posted"] == "skipped", (first, second)
        assert first["metrics"] == 4 and "report" not in first     # two groups × yesterday and today
        assert len(emulator.messages) == 1 and f"Daily report · {day_words(yesterday, 'en', weekday=True)}" in emulator.messages[0]["text"]
        metrics = sheets.sheet_values("METRICS", "Metrics")
        assert len(metrics) == 1 + 4 and {row[1] for row in metrics[1:]} == {"G01", "OPS"}
        assert "NorthStar chart" in [p["title"] for p in sheets.sheet_properties("METRICS")]
