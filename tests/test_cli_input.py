"""Bad input at the CLI gets a plain message and exit code 2, never "internal error" (#15 item 8); a naive
--now is read in the Settings time zone."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from engine_harness import SHOP
from helpers import make_raw, write_xlsx
from qunflow.cli import cli


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "shop.xlsx"
    write_xlsx(make_raw(SHOP), p)       # Settings timezone Asia/Shanghai; C01 "day 1-3 10:00" from 2026-12-01
    return p


def run(*args, lang="en"):
    return CliRunner().invoke(cli, [str(a) for a in args], env={"QUNFLOW_LANG": lang})


def plain_refusal(out, *words):
    assert out.exit_code == 2, out.output
    text = out.output
    assert "internal error" not in text and "Traceback" not in text and "内部错误" not in text
    for word in words:
        assert word in text, text


@pytest.mark.parametrize("moment", ["yesterday", "2026-13-01", "2026-12-01T25:00", "10:00 tomorrow"])
def test_a_now_that_is_not_a_moment_is_refused_plainly(path, moment):
    """Why: "Bad input ends in internal error": `qunflow tick --now yesterday`, `--now 2026-13-01`."""
    plain_refusal(run("tick", path, "--now", moment, "--dry-run"), f"--now '{moment}'", "ISO 8601")
    plain_refusal(run("preview", path, "--now", moment), "ISO 8601")
    plain_refusal(run("tick", path, "--now", moment, "--dry-run", lang="zh-CN"), "不是可识别的时间")


@pytest.mark.parametrize("days", ["-3", "0", "100000"])
def test_preview_refuses_days_that_are_not_a_window(path, days):
    """Why: "`preview --days -3` is accepted"."""
    plain_refusal(run("preview", path, "--days", days), f"--days {days}", "1 to 366")
    plain_refusal(run("preview", path, "--days", days, lang="zh-CN"), "不是可预览的天数")


def test_a_file_that_is_not_a_workbook_is_refused_plainly(tmp_path):
    """Why: "`qunflow validate` on a file that is not a workbook" ended in an internal error."""
    notes = tmp_path / "notes.xlsx"
    notes.write_text("shopping list: milk, eggs", encoding="utf-8")
    text = tmp_path / "notes.txt"
    text.write_text("not a workbook", encoding="utf-8")
    for source in (notes, text):
        for command in (("validate",), ("tick", "--dry-run"), ("preview",)):
            plain_refusal(run(command[0], source, *command[1:]), "cannot be read", ".xlsx")


def test_a_naive_now_is_read_in_the_settings_time_zone(path):
    """Why: "A naive `--now` means UTC, so an operator in Shanghai typing --now "2026-12-10 10:00" is 8 hours
    off"."""
    out = run("preview", path, "--now", "2026-12-01 09:59", "--days", "1", "--json")
    assert out.exit_code == 0, out.output
    first = json.loads(out.output)[0]
    assert (first["rule_id"], first["at"]) == ("C01", "2026-12-01T10:00:00+08:00")
    tick = run("tick", path, "--now", "2026-12-01 10:01", "--dry-run", "--json")
    assert json.loads(tick.output)["due"] == 1                # the 10:00 tip, in Shanghai's morning
    utc = run("tick", path, "--now", "2026-12-01T10:01:00Z", "--dry-run", "--json")
    assert json.loads(utc.output)["due"] == 0                 # 18:01 in Shanghai: past the tip's catch_up


def test_the_help_says_how_a_naive_now_is_read():
    for command in ("tick", "preview", "metrics"):
        out = run(command, "--help")
        assert "Settings time zone" in " ".join(out.output.split()), command
