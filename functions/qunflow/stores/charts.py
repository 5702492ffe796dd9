"""The north-star chart drawn into each kind of store: a Google batchUpdate once, an openpyxl chart tab
redrawn on every run. What to draw (titles, formulas, the pivot, the requests) is `qunflow.sheet.chart`."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..sheet.cells import fold
from ..sheet.chart import (DROP_FILL_HEX, DROP_MARK, chart_title, drop_formula, google_requests, metrics_columns,
                           pivot)
from ..sheet.problems import ProblemSink
from ..sheet.schema import load_schemas
from ..sheet.tables import column_letter, locate
from .xlsx import _put, read_xlsx, save_atomic


def apply_google(store: Any, wb: Any, metric: str, metric_label: str) -> bool:
    """Send the chart requests once. False when the chart tab is already there (delete it to redraw)."""
    title = chart_title(wb.lang)
    titles = store.tab_titles()
    if fold(title) in {fold(t) for t in titles}:
        return False
    table = wb.tables["metrics"]
    ids = getattr(store, "_sheet_ids", {})
    if table.title not in ids:
        return False
    requests = google_requests(metrics_sheet_id=ids[table.title], metrics_title=table.title,
                               columns=metrics_columns(table), metric=metric, groups=len(wb.groups), lang=wb.lang,
                               metric_label=metric_label)
    store._call("write", lambda: store.http.batch_update(store.spreadsheet_id, {"requests": requests}))
    store._titles = None
    return True


def decorate_xlsx(path: Path, lang: str, metric: str, metric_label: str) -> bool:
    """Redraw the chart tab and (once) add the drop rule to the Metrics tab. False if there is no Metrics data."""
    from openpyxl import load_workbook
    from openpyxl.chart import LineChart, Reference
    from openpyxl.formatting.formatting import ConditionalFormattingList
    from openpyxl.formatting.rule import FormulaRule
    from openpyxl.styles import Font, PatternFill

    table = locate(read_xlsx(path), load_schemas(), ProblemSink(lang)).tables["metrics"]
    if table.missing or metric not in table.columns:
        return False
    columns = metrics_columns(table)
    dates, groups, values = pivot(table.rows, columns, metric)
    if not dates:
        return False
    book = load_workbook(path)
    title = chart_title(lang)
    for name in list(book.sheetnames):
        if fold(name) == fold(title):
            del book[name]
    sheet = book.create_sheet(title)
    _put(sheet, 1, 1, "日期" if lang == "zh-CN" else "date")
    sheet.cell(row=1, column=1).font = Font(bold=True)
    for c, gid in enumerate(groups, start=2):
        _put(sheet, 1, c, gid)
        sheet.cell(row=1, column=c).font = Font(bold=True)
    for r, day in enumerate(dates, start=2):
        _put(sheet, r, 1, day)
        for c, gid in enumerate(groups, start=2):
            value = values.get((day, gid))
            if value is not None:
                sheet.cell(row=r, column=c).value = value
    chart = LineChart()
    chart.title = f"{metric_label} · {'每个群' if lang == 'zh-CN' else 'per group'}"
    chart.y_axis.title, chart.x_axis.title = metric_label, ("日期" if lang == "zh-CN" else "date")
    chart.height, chart.width = 9, 22
    chart.add_data(Reference(sheet, min_col=2, min_row=1, max_col=1 + len(groups), max_row=1 + len(dates)),
                   titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=1 + len(dates)))
    for series in chart.series:      # a plain line: straight segments, which never dip below zero between days
        series.smooth = False
    chart.y_axis.scaling.min = 0
    chart.x_axis.delete = chart.y_axis.delete = False   # openpyxl hides both axes unless told
    sheet.add_chart(chart, f"{column_letter(len(groups) + 2)}2")
    fill = PatternFill("solid", start_color=DROP_FILL_HEX, end_color=DROP_FILL_HEX)
    if len(dates) > 1:                   # a drop needs a day before it (one day: B3:…2 is no range at all)
        sheet.conditional_formatting.add(f"B3:{column_letter(len(groups))}{len(dates) + 1}",
                                         FormulaRule(formula=["AND(ISNUMBER(B3),ISNUMBER(B2),B2>0,B3<0.8*B2)"],
                                                     fill=fill))
    metrics_sheet = book[table.title]
    value_l, date_l, group_l = (column_letter(columns[k]) for k in (metric, "date", "group_id"))
    last_row = max(5000, 2 * (len(table.rows) + 1))
    kept = ConditionalFormattingList()   # our previous rule (another column or length) is replaced
    for cf in metrics_sheet.conditional_formatting:
        for rule in cf.rules:
            if not any(DROP_MARK in f for f in (rule.formula or [])):
                kept.add(str(cf.sqref), rule)
    kept.add(f"{value_l}2:{value_l}{last_row}", FormulaRule(formula=[drop_formula(value_l, date_l, group_l, last_row)[1:]],
                                                            fill=fill, font=Font(bold=True)))
    metrics_sheet.conditional_formatting = kept
    save_atomic(book, path)
    return True
