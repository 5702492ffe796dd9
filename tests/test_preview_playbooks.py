"""`qunflow preview` and `qunflow playbook`: what operators check before anything goes out."""
import copy
import json
from datetime import date

from click.testing import CliRunner

from engine_harness import SHOP
from helpers import make_raw, write_xlsx
from qunflow.cli import cli
from qunflow.sop.playbooks import load_playbooks
from qunflow.stores.xlsx import XlsxStore
from qunflow.sheet.load import load_workbook


def _book(tmp_path, rows=None):
    path = tmp_path / "shop.xlsx"
    write_xlsx(make_raw(rows or SHOP), path)
    return path


def test_preview_lists_each_send_with_its_policy(tmp_path):
    rows = copy.deepcopy(SHOP)
    rows["groups"][1]["status"] = "dead since 2026-11-30 10:00: errcode 300001"
    rows["groups"][0]["daily_cap"] = 1
    path = _book(tmp_path, rows)
    out = CliRunner().invoke(cli, ["preview", str(path), "--now", "2026-12-01T00:00:00Z", "--days", "2", "--json",
                                   "--html", str(tmp_path / "plan.html")])
    assert out.exit_code == 0, out.output
    items = json.loads(out.output)
    assert items and set(items[0]) >= {"group_id", "rule_id", "at", "phase", "text", "mentions", "policy", "flags", "posts_at",
                                       "posts"}
    by = {(i["group_id"], i["rule_id"], i["at"][:10]): i for i in items}
    assert by[("G01", "C01", "2026-12-01")]["text"] == "Day 1 tip"
    deferred = [i for i in items if i["group_id"] == "G01" and i["rule_id"] == "R01"]
    assert deferred and all(i["policy"] == "deferred" for i in deferred)  # over G01's cap of 1: moved to the next day
    assert deferred[0]["at"].startswith("2026-12-02T23:00")   # the next day at its own time, never at midnight
    assert by[("G02", "R01", "2026-12-01")]["policy"] == "dead_webhook"
    g03 = by[("G03", "R01", "2026-12-02")]  # 23:00 falls in its quiet hours: it waits until 08:00
    assert g03["policy"] == "due (after quiet hours)" and g03["at"].startswith("2026-12-02T08:00")
    html = (tmp_path / "plan.html").read_text(encoding="utf-8")
    assert html.count("class='group'") == 3 and "Day 1 tip" in html


def test_every_playbook_parses_and_applies_with_unique_rule_ids(tmp_path):
    books = load_playbooks()
    assert {"campaign-30", "weekly-course", "nightly-reading", "new-group-activation", "preheat"} <= set(books)
    path = _book(tmp_path)
    runner = CliRunner()
    listed = runner.invoke(cli, ["playbook", "list"])
    assert listed.exit_code == 0 and "campaign-30" in listed.output
    for name in books:
        out = runner.invoke(cli, ["playbook", "apply", name, str(path), "--groups", "G01,G03", "--start", "2026-12-01"])
        assert out.exit_code == 0, out.output
    again = runner.invoke(cli, ["playbook", "apply", "campaign-30", str(path), "--groups", "G01", "--again",
                                "--start", "2026-12-20"])
    assert again.exit_code == 0, again.output
    wb = load_workbook(XlsxStore(path).read().raw, today=date(2026, 11, 24))
    assert wb.errors == [], wb.errors
    ids = [r.rule_id for r in wb.sop]
    assert len(ids) == len(set(ids)) == 3 + 2 * len(books["campaign-30"]["rules"]) + sum(
        len(b["rules"]) for n, b in books.items() if n != "campaign-30")
    assert {c.start.isoformat() for c in wb.campaigns.values()} == {"2026-12-01", "2026-12-20"}
    phases = {r.phase for r in wb.sop if r.rule_id.startswith("C30")}
    assert {"groundwork", "momentum", "climax", "wrap-up"} <= phases  # the workbook's language is en


def test_playbook_apply_explains_an_unknown_group(tmp_path):
    out = CliRunner().invoke(cli, ["playbook", "apply", "preheat", str(_book(tmp_path)), "--groups", "G99"])
    assert out.exit_code != 0 and "G99" in out.output
