"""The CLI as operators meet it: init, validate, and errors that are sentences, not tracebacks."""
import json
import subprocess
import sys

from click.testing import CliRunner
from openpyxl import load_workbook as open_xlsx

from qunflow.cli import cli
from sheets_fake import FakeSheetsServer

QUNFLOW = [sys.executable, "-m", "qunflow"]


def test_init_demo_then_validate_exits_0(tmp_path):
    path = tmp_path / "x.xlsx"
    assert subprocess.run(QUNFLOW + ["init", str(path), "--demo"], capture_output=True).returncode == 0
    done = subprocess.run(QUNFLOW + ["validate", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    book = open_xlsx(path)
    assert book.sheetnames[:3] == ["设置", "社群", "成员"]
    groups = book["社群"]
    assert groups.freeze_panes == "A2"
    assert groups["A1"].comment and "群ID" == groups["A1"].value
    assert any("企业微信" in (dv.formula1 or "") for dv in groups.data_validations.dataValidation)
    assert book["成员"].column_dimensions["E"].number_format == "@"  # mobile: TEXT, so 0138… stays


def test_validate_json_and_exit_code_on_an_error(tmp_path):
    path = tmp_path / "x.xlsx"
    CliRunner().invoke(cli, ["init", str(path), "--lang", "en", "--demo"])
    book = open_xlsx(path)
    book["Groups"]["H2"] = "2026-02-30"  # campaign_start of the first group
    book.save(path)
    out = CliRunner().invoke(cli, ["validate", str(path), "--json"])
    assert out.exit_code == 1
    problems = json.loads(out.output)["problems"]
    assert [(p["tab"], p["row"], p["column"], p["value"], p["severity"]) for p in problems] == \
        [("Groups", 2, "campaign_start", "2026-02-30", "error")]
    assert set(problems[0]) == {"tab", "row", "column", "value", "message", "severity"}
    written = open_xlsx(path)["Problems"]
    assert written["A2"].value == "Groups" and written["B2"].value == 2


def test_errors_are_sentences_not_tracebacks(tmp_path):
    for args in (["validate", str(tmp_path / "missing.xlsx")], ["tick", str(tmp_path / "missing.xlsx")],
                 ["preview", str(tmp_path / "missing.xlsx")]):
        done = subprocess.run(QUNFLOW + args, capture_output=True, text=True)
        assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
        assert "qunflow init" in done.stderr


def test_init_on_a_google_sheet_sets_notes_dropdowns_formats_and_warning_protection(monkeypatch):
    with FakeSheetsServer() as server:
        server.create_spreadsheet("NEW", {"Sheet1": []})
        monkeypatch.setenv("QUNFLOW_SHEETS_API", server.base_url)
        out = CliRunner().invoke(cli, ["init", "gsheets:NEW", "--lang", "zh", "--demo"])
        assert out.exit_code == 0, out.output
        kinds = [next(iter(r)) for r in server.structural_requests("NEW")]
        assert {"addSheet", "updateCells", "setDataValidation", "repeatCell", "addProtectedRange"} <= set(kinds)
        protected = [r["addProtectedRange"]["protectedRange"] for r in server.structural_requests("NEW") if "addProtectedRange" in r]
        assert protected and all(p["warningOnly"] for p in protected)
        done = CliRunner().invoke(cli, ["validate", "gsheets:NEW"])
        assert done.exit_code == 0, done.output
        for request in server.requests:
            assert request.get("valueInputOption") in (None, "RAW")
