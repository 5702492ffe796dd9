"""Campaigns are instances (#15 item 5): several campaigns in one group, each counting its own days; a playbook
applied twice is refused unless asked; duplicate rules flagged; the 30-day offer closes the climax."""
from __future__ import annotations

import copy
import json
from datetime import date

from click.testing import CliRunner

from engine_harness import SHOP
from helpers import make_raw, write_xlsx
from qunflow.cli import cli
from qunflow.sheet.load import load_workbook
from qunflow.sop.playbooks import load_playbooks
from qunflow.stores.xlsx import XlsxStore

TODAY = date(2026, 11, 24)


def book(tmp_path, rows=None, drop_tabs=()):
    raw = make_raw(rows or SHOP)
    for title in drop_tabs:
        raw.pop(title)
    path = tmp_path / "shop.xlsx"
    write_xlsx(raw, path)
    return path


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def preview(path, now: str, days: int) -> list[dict]:
    out = run("preview", path, "--now", now, "--days", days, "--json")
    assert out.exit_code == 0, out.output
    return json.loads(out.output)


def workbook(path):
    return load_workbook(XlsxStore(path).read().raw, today=TODAY)


def test_a_second_campaign_in_a_group_does_not_restart_the_running_one(tmp_path):
    """Why: "One campaign per group": `playbook apply preheat --start 2026-12-20` on a group running campaign-30
    moved the group's campaign_start, so the running campaign restarted at day 1."""
    path = book(tmp_path)                                      # G01's campaign_start is 2026-12-01
    assert run("playbook", "apply", "campaign-30", path, "--groups", "G01").exit_code == 0   # counts from it
    out = run("playbook", "apply", "preheat", path, "--groups", "G01", "--start", "2026-12-20")
    assert out.exit_code == 0, out.output
    items = preview(path, "2026-12-20T00:00:00+08:00", 1)
    c30 = [i["text"] for i in items if i["rule_id"].startswith("C30")]
    assert c30 and not any("Day 1:" in t for t in c30)      # campaign-30 is on day 20, not restarted
    assert not [i for i in items if i["rule_id"] == "C30-01"]   # its days 1-7 are long past
    assert any(i["rule_id"].startswith(load_playbooks()["preheat"]["prefix"]) for i in items)
    wb = workbook(path)
    assert str(wb.groups["G01"].campaign_start) == "2026-12-01"                       # not moved
    [instance] = wb.campaigns.values()
    assert (instance.start, instance.playbook, instance.groups) == (date(2026, 12, 20), "preheat", ("G01",))
    assert {r.campaign for r in wb.sop if r.rule_id.startswith("C30")} == {None}


def test_two_instances_of_one_playbook_count_their_own_days(tmp_path):
    path = book(tmp_path)
    assert run("playbook", "apply", "campaign-30", path, "--groups", "G01", "--start", "2026-12-01").exit_code == 0
    again = run("playbook", "apply", "campaign-30", path, "--groups", "G01", "--again", "--start", "2026-12-05")
    assert again.exit_code == 0, again.output
    wb = workbook(path)
    assert sorted((c.campaign, c.start.isoformat()) for c in wb.campaigns.values()) == [
        ("campaign-30-20261201", "2026-12-01"), ("campaign-30-20261205", "2026-12-05")]
    items = preview(path, "2026-12-06T00:00:00+08:00", 1)
    tips = sorted(i["text"] for i in items if "practical tip" in i["text"])
    assert tips == [t.replace("{{ campaign_day }}", n) for n, t in
                    (("2", "☀️ Day {{ campaign_day }}: one practical tip today. Post your questions here and we'll "
                           "answer each one."),
                     ("6", "☀️ Day {{ campaign_day }}: one practical tip today. Post your questions here and we'll "
                           "answer each one."))]
    assert not [p for p in wb.problems if p.code == "duplicate_rule"]       # different day 1: not duplicates


def test_applying_the_same_playbook_to_the_same_groups_twice_is_refused_unless_again(tmp_path):
    """Why: "Applying a playbook twice doubles every post without a warning"."""
    path = book(tmp_path)
    assert run("playbook", "apply", "weekly-course", path, "--groups", "G01,G02").exit_code == 0
    rules = len(workbook(path).sop)
    twice = run("playbook", "apply", "weekly-course", path, "--groups", "G02,G03")
    assert twice.exit_code == 2
    assert "already applied to G02" in twice.output and "--again" in twice.output
    assert "Traceback" not in twice.output and len(workbook(path).sop) == rules       # nothing written
    days = run("playbook", "apply", "campaign-30", path, "--groups", "G01")
    assert days.exit_code == 0
    no_start = run("playbook", "apply", "campaign-30", path, "--groups", "G01", "--again")
    assert no_start.exit_code == 2 and "--start" in no_start.output
    forced = run("playbook", "apply", "weekly-course", path, "--groups", "G02", "--again")
    assert forced.exit_code == 0
    wb = workbook(path)
    flagged = [p for p in wb.problems if p.code == "duplicate_rule"]
    assert flagged and all(p.severity == "warning" and "G02" in p.message for p in flagged)
    assert len(flagged) == len(load_playbooks()["weekly-course"]["rules"])       # each doubled rule, once


def test_validate_flags_two_rules_with_the_same_schedule_group_and_content(tmp_path):
    rows = copy.deepcopy(SHOP)
    rows["sop"] += [
        {"rule_id": "D1", "groups": "G01", "schedule": "daily 20:00", "content": "Live at 8"},
        {"rule_id": "D2", "groups": "kind:traffic", "schedule": "daily  20:00", "content": "Live  at 8"},
        {"rule_id": "D3", "groups": "G01", "schedule": "daily 21:00", "content": "Live at 8"},     # another time
        {"rule_id": "D4", "groups": "G02", "schedule": "daily 20:00", "content": "Live at 8"},     # another group
    ]
    path = book(tmp_path, rows)
    out = run("validate", path, "--json")
    assert out.exit_code == 0, out.output
    found = [p for p in json.loads(out.output)["problems"] if "twice" in p["message"]]
    assert [(p["row"], p["column"]) for p in found] == [(6, "content")]
    assert "D1" in found[0]["message"] and "row 5" in found[0]["message"]


def test_the_30_day_playbooks_limited_offer_runs_on_days_23_and_24(tmp_path):
    """Why: "The 30-day playbook's 2-day offer runs on days 18-19, not at the end of the climax (days 23-24)"."""
    path = book(tmp_path)
    assert run("playbook", "apply", "campaign-30", path, "--groups", "G01", "--start", "2026-12-01").exit_code == 0
    items = preview(path, "2026-12-01T00:00:00+08:00", 40)
    offer = [i for i in items if "limited offer is on" in i["text"]]
    assert [i["at"][:10] for i in offer] == ["2026-12-23", "2026-12-24"]
    assert [i["text"].split(":")[1].split("day")[0].strip() for i in offer] == ["2", "1"]    # days left
    assert all(i["phase"] == "climax" for i in offer)
    book_rules = load_playbooks()["campaign-30"]["rules"]
    offer_rule = next(r for r in book_rules if "限时优惠进行中" in r["content"]["zh-CN"])
    assert offer_rule["schedule"] == {"zh-CN": "第23-24天 10:00", "en": "day 23-24 10:00"}


def test_a_workbook_without_the_campaigns_tab_keeps_working_and_gets_one_when_needed(tmp_path):
    path = book(tmp_path, drop_tabs=("Campaigns",))
    wb = workbook(path)
    assert wb.errors == [] and not [p for p in wb.problems if p.tab == "Campaigns"]
    assert preview(path, "2026-12-01T00:00:00+08:00", 1)                   # day N counts from campaign_start
    assert run("playbook", "apply", "preheat", path, "--groups", "G02", "--start", "2026-12-03").exit_code == 0
    wb = workbook(path)
    assert "Campaigns" in XlsxStore(path).read().raw and list(wb.campaigns) == ["preheat-20261203"]


def test_a_rule_naming_an_unknown_campaign_is_flagged_at_its_cell_and_never_fires(tmp_path):
    rows = copy.deepcopy(SHOP)
    rows["sop"].append({"rule_id": "X1", "groups": "G01", "schedule": "day 1-9 12:00", "content": "x",
                        "campaign": "spring-sale"})
    path = book(tmp_path, rows)
    wb = workbook(path)
    [problem] = [p for p in wb.problems if p.row == 5 and p.tab == "SOP"]
    assert (problem.code, problem.column, problem.value) == ("unknown_ref", "campaign", "spring-sale")
    assert not [i for i in preview(path, "2026-12-01T00:00:00+08:00", 9) if i["rule_id"] == "X1"]
