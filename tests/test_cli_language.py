"""#17 item 1: the CLI speaks the workbook's language for what an operator reads; `qunflow --lang` and
$QUNFLOW_LANG override it; the engineer-facing --help stays English."""
from __future__ import annotations

import copy
import re

from click.testing import CliRunner

from helpers import BASE, make_raw, write_xlsx
from qunflow.cli import cli

CJK = re.compile(r"[\u4e00-\u9fff]")


def _zh_workbook(tmp_path):
    rows = copy.deepcopy(BASE)
    rows["settings"] = [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": "zh-CN"}]
    rows["groups"][0]["daily_cap"] = "lots"                       # one bad cell: a Problem to show
    path = tmp_path / "shop.xlsx"
    write_xlsx(make_raw(rows, lang="zh-CN"), path)
    return path


def test_validate_answers_in_the_workbook_language_and_lang_overrides_it(tmp_path, monkeypatch):
    monkeypatch.delenv("QUNFLOW_LANG", raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")                    # the machine's locale does not win over the workbook
    path = _zh_workbook(tmp_path)
    zh = CliRunner().invoke(cli, ["validate", str(path), "--no-write"])
    assert "1 个错误，0 个警告" in zh.output and "待处理问题" in zh.output and "错误" in zh.output, zh.output
    assert "error(s)" not in zh.output
    en = CliRunner().invoke(cli, ["--lang", "en", "validate", str(path), "--no-write"])
    assert "1 error(s), 0 warning(s)" in en.output and "is not a whole number" in en.output, en.output
    monkeypatch.setenv("QUNFLOW_LANG", "en")
    env = CliRunner().invoke(cli, ["validate", str(path), "--no-write"])
    assert "1 error(s), 0 warning(s)" in env.output, env.output
    again = CliRunner().invoke(cli, ["--lang", "zh", "validate", str(path)])
    assert "1 个错误" in again.output                              # --lang beats $QUNFLOW_LANG
    from qunflow.stores.xlsx import read_xlsx
    [problem] = read_xlsx(path)["待处理问题"][1:]
    assert CJK.search(problem[4]) and problem[5] == "错误"        # the Problems tab keeps the workbook's language


def test_tick_and_preview_answer_in_the_workbook_language(tmp_path, monkeypatch):
    monkeypatch.delenv("QUNFLOW_LANG", raising=False)
    path = _zh_workbook(tmp_path)
    tick = CliRunner().invoke(cli, ["tick", str(path), "--now", "2026-12-01T02:00:00Z", "--dry-run"])
    assert tick.output.startswith("到期 ") and "试运行：没有发送，也没有写入" in tick.output, tick.output
    en = CliRunner().invoke(cli, ["--lang", "en", "tick", str(path), "--now", "2026-12-01T02:00:00Z", "--dry-run"])
    assert en.output.startswith("due ") and "dry run: nothing sent" in en.output, en.output
    preview = CliRunner().invoke(cli, ["preview", str(path), "--now", "2026-12-01T00:00:00Z", "--days", "2"])
    assert "未来 2 天共" in preview.output and "按时发送" in preview.output, preview.output


def test_the_help_stays_english():
    for args in (["--help"], ["validate", "--help"], ["tick", "--help"], ["doctor", "--help"]):
        out = CliRunner().invoke(cli, args, prog_name="qunflow")
        assert out.exit_code == 0 and out.output.startswith("Usage: qunflow"), out.output
        assert not CJK.search(out.output.replace("衣橱小馆", "")), out.output
    assert "--lang [zh|zh-CN|en]" in CliRunner().invoke(cli, ["--help"]).output


def test_doctor_advises_in_the_workbook_language(tmp_path, monkeypatch):
    """doctor's checks of the workbook and its advice are the operator's: in the workbook's language. The checks
    of the cloud (credentials, scheduler jobs) are the engineer's and stay English."""
    monkeypatch.delenv("QUNFLOW_LANG", raising=False)
    path = _zh_workbook(tmp_path)
    zh = CliRunner().invoke(cli, ["doctor", str(path)])
    assert "表和列标题" in zh.output and "群 G02" in zh.output and "(钉钉)" in zh.output, zh.output
    assert "解决：请设置环境变量 QUNFLOW_HOOK_G02" in zh.output and "项检查未通过" in zh.output, zh.output
    assert "credentials" in zh.output                                   # the engineer's check, in English
    en = CliRunner().invoke(cli, ["--lang", "en", "doctor", str(path)])
    assert "tabs and headers" in en.output and "fix: set the environment variable QUNFLOW_HOOK_G02" in en.output
