"""The north-star chart and the drop highlight, in an .xlsx (openpyxl) and a Google sheet (the Sheets fake);
`qunflow metrics` and `qunflow report` from the command line."""
from __future__ import annotations

import json
import random
from datetime import datetime, timezone

from click.testing import CliRunner
from openpyxl import load_workbook as open_xlsx

from helpers import BASE, make_raw
from metrics_demo import demo_copy
from qunflow.cli import cli
from qunflow.jobs.metrics_job import run_metrics
from qunflow.sheet.chart import drop_formula
from qunflow.stores.gsheets import GoogleSheetsStore
from qunflow.stores.xlsx import read_xlsx
from qunflow.sheet.load import load_workbook
from sheets_fake import FakeSheetsServer, gspread_session


def test_metrics_command_draws_the_chart_and_the_drop_rule_in_the_xlsx(tmp_path):
    path = demo_copy(tmp_path)
    for _ in range(2):   # the second run redraws: still one chart, one rule, no new rows
        out = CliRunner().invoke(cli, ["metrics", str(path), "--date", "2026-12-30", "--days", "30", "--json"])
        assert out.exit_code == 0, out.output
    summary = json.loads(out.output)
    assert summary["chart"] is True and summary["metrics"] == 120 and summary["north_star"] == "orders"
    book = open_xlsx(path)
    chart_tab = book["北极星图表"]
    [chart] = chart_tab._charts
    assert len(chart.series) == 4 and chart.title is not None
    wb = load_workbook(read_xlsx(path))
    orders = {(r.date.isoformat(), r.group_id): r.orders for r in wb.metrics}
    header = [c.value for c in chart_tab[1]]
    assert header == ["日期", "G01", "G02", "G03", "G04"] and chart_tab.max_row == 31
    for row in chart_tab.iter_rows(min_row=2, values_only=True):
        assert [orders[(row[0], g)] for g in header[1:]] == list(row[1:])
    metrics_tab = book["运营数据"]
    rules = [(str(cf.sqref), rule) for cf in metrics_tab.conditional_formatting for rule in cf.rules]
    assert len(rules) == 1
    where, rule = rules[0]
    assert where == "O2:O5000" and rule.formula == [drop_formula("O", "A", "B", 5000)[1:]]
    assert metrics_tab["O1"].value == "订单" and len(wb.metrics) == 120


def test_the_drop_formula_compares_with_the_same_groups_day_before():
    assert drop_formula("O", "A", "B") == (
        '=IFERROR(AND(ISNUMBER(O2),SUMPRODUCT(($B$2:$B=$B2)*($A$2:$A=TEXT(DATEVALUE($A2)-1,"yyyy-mm-dd")),$O$2:$O)>0,'
        'O2<0.8*SUMPRODUCT(($B$2:$B=$B2)*($A$2:$A=TEXT(DATEVALUE($A2)-1,"yyyy-mm-dd")),$O$2:$O)),FALSE)')


def test_report_command_writes_the_html(tmp_path):
    path = demo_copy(tmp_path)
    out = CliRunner().invoke(cli, ["report", str(path), "--html", str(tmp_path / "r.html"), "--days", "7"])
    assert out.exit_code == 0, out.output
    assert "works offline" in out.output and 10_000 < (tmp_path / "r.html").stat().st_size < 1_000_000
    bad = CliRunner().invoke(cli, ["metrics", str(path), "--date", "2026-13-01"])
    assert bad.exit_code == 2 and "is not a date" in bad.output


def test_the_google_chart_is_one_batch_update_sent_once():
    rows = dict(BASE, events=BASE["events"] + [
        {"event_id": "O1", "type": "order", "member_id": "M0001", "group_id": "G01", "at": "2026-12-01 12:00", "amount": 99}])
    with FakeSheetsServer() as server:
        server.create_spreadsheet("SHOP", make_raw(rows))
        store = GoogleSheetsStore("SHOP", session=gspread_session(server.base_url), sleep=lambda s: None,
                                  rng=random.Random(0), attempts=3)
        now = datetime(2026, 12, 2, 1, 0, tzinfo=timezone.utc)
        first = run_metrics(store, now, day=None)
        assert first.chart is True
        requests = server.structural_requests("SHOP")
        kinds = [next(iter(r)) for r in requests]
        assert kinds == ["addSheet", "updateCells", "addChart", "addConditionalFormatRule"]
        sheets = {p["title"]: p["sheetId"] for p in server.sheet_properties("SHOP")}
        chart_id = sheets["NorthStar chart"]
        spec = requests[2]["addChart"]["chart"]["spec"]["basicChart"]
        assert spec["chartType"] == "LINE" and spec["headerCount"] == 1 and len(spec["series"]) == 2
        assert {s["series"]["sourceRange"]["sources"][0]["sheetId"] for s in spec["series"]} == {chart_id}
        [(where, query)] = server.formulas("SHOP")
        assert where.startswith("'NorthStar chart'!A1") and query.startswith("=QUERY('Metrics'!A1:")
        assert "pivot B" in query and "group by A" in query
        rule = requests[3]["addConditionalFormatRule"]["rule"]
        assert rule["ranges"][0]["sheetId"] == sheets["Metrics"]
        assert rule["booleanRule"]["condition"]["type"] == "CUSTOM_FORMULA"
        server.reset_counts()
        again = run_metrics(store, now)
        assert again.chart is False and len(server.structural_requests("SHOP")) == 4   # drawn once
        assert server.count("spreadsheets.batchUpdate") == 0
        values = server.sheet_values("SHOP", "Metrics")
        assert len(values) == 1 + 2 * 2          # yesterday and today, two groups: replaced, not added
        assert values[0][:2] == ["date", "group_id"]


def test_the_drop_formula_evaluates_right_in_libreoffice(tmp_path):
    """The conditional-format formula as a spreadsheet engine computes it (LibreOffice, when installed)."""
    import shutil
    import subprocess

    from openpyxl import Workbook
    from openpyxl.formula.translate import Translator
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice:
        import pytest
        pytest.skip("LibreOffice is not installed here (apt-get install libreoffice-calc-nogui to run this check)")
    series = {"G1": [10, 7, 7, 6, 0, 5], "G2": [4, 4, 3, None, 2, 1]}
    want = {"G1": [False, True, False, False, True, False], "G2": [False, False, True, False, False, True]}
    book = Workbook()
    sheet = book.active
    sheet.append(["date", "group_id", "orders", "drop"])
    formula = drop_formula("C", "A", "B", 5000)
    for day in range(6):   # the groups' rows interleaved, as the rollup appends them
        for gid, values in series.items():
            sheet.append([f"2026-12-{day + 1:02d}", gid, values[day]])
            row = sheet.max_row
            sheet.cell(row=row, column=4).value = Translator(formula, origin="D2").translate_formula(f"D{row}")
    book.save(tmp_path / "drops.xlsx")
    done = subprocess.run([soffice, f"-env:UserInstallation={(tmp_path / 'lo').as_uri()}", "--headless",
                           "--convert-to", "csv", "--outdir", str(tmp_path), str(tmp_path / "drops.xlsx")],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    lines = (tmp_path / "drops.csv").read_text().splitlines()[1:]
    got: dict[str, list[bool]] = {}
    for line in lines:
        day, gid, _, flag = line.split(",")
        got.setdefault(gid, []).append(flag.strip().upper() == "TRUE")
    assert got == want
