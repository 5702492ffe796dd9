"""The north-star in the sheet: a line chart per group, and drops highlighted.

Google Sheets: one spreadsheets.batchUpdate, sent once (when the chart tab does not exist yet; delete the
tab to redraw it): a chart tab whose A1 holds a QUERY that pivots the Metrics tab (date × group → the
north-star), a line chart over it, and a conditional-format rule on the Metrics tab's north-star column
that colours a day more than 20% below the same group's day before. Both follow the Metrics tab as it
grows. `google_requests` builds the requests; `qunflow.stores.charts.apply_google` sends them.

.xlsx: `qunflow.stores.charts.decorate_xlsx` writes the same pivot as values into a chart tab with an
openpyxl LineChart and the same rule on the Metrics tab (and a simpler one on the pivot). `qunflow metrics`
redraws it on each run. This module is the pure part both share: titles, formulas, the pivot, the requests.
"""
from __future__ import annotations

import zlib
from typing import Any

from .tables import column_letter

CHART_TITLES = {"en": "NorthStar chart", "zh-CN": "北极星图表"}
DROP_FILL = {"red": 0.98, "green": 0.78, "blue": 0.78}
DROP_FILL_HEX = "F9C7C7"
DROP_MARK = '-1,"yyyy-mm-dd")'      # in every drop formula qunflow writes: how a re-run finds its own rule


def chart_title(lang: str) -> str:
    return CHART_TITLES["zh-CN" if lang == "zh-CN" else "en"]


def drop_formula(value: str, day: str, group: str, last_row: int | None = None) -> str:
    """A custom formula for the range starting at row 2 of `value`'s column: true when that day's value is
    below 80% of the same group's value on the day before (dates are ISO text, as qunflow writes them)."""
    end = f"${last_row}" if last_row else ""      # open-ended ranges (A2:A) for Google Sheets
    previous = (f'SUMPRODUCT((${group}$2:${group}{end}=${group}2)*'
                f'(${day}$2:${day}{end}=TEXT(DATEVALUE(${day}2)-1,"yyyy-mm-dd")),${value}$2:${value}{end})')
    return f"=IFERROR(AND(ISNUMBER({value}2),{previous}>0,{value}2<0.8*{previous}),FALSE)"


def metrics_columns(table: Any) -> dict[str, int]:
    """0-based column positions of the Metrics tab: as found, or the schema's order for a new tab."""
    if getattr(table, "missing", False) or not table.columns:
        return {c.key: i for i, c in enumerate(table.schema.columns)}
    return dict(table.columns)


def chart_sheet_id(title: str) -> int:
    return zlib.crc32(title.encode("utf-8")) & 0x3FFFFFFF


def google_requests(*, metrics_sheet_id: int, metrics_title: str, columns: dict[str, int], metric: str,
                    groups: int, lang: str, metric_label: str) -> list[dict]:
    title = chart_title(lang)
    sheet_id = chart_sheet_id(title)
    date_l, group_l, value_l = (column_letter(columns[k]) for k in ("date", "group_id", metric))
    last_l = column_letter(max(columns.values()))
    source = "'" + metrics_title.replace("'", "''") + "'"
    query = (f'=QUERY({source}!A1:{last_l}, "select {date_l}, sum({value_l}) where {group_l} <> \'\' '
             f'group by {date_l} pivot {group_l}", 1)')
    width = max(groups, 1)

    def column(i: int) -> dict:
        return {"sourceRange": {"sources": [{"sheetId": sheet_id, "startRowIndex": 0, "endRowIndex": 1000,
                                             "startColumnIndex": i, "endColumnIndex": i + 1}]}}
    chart_name = f"{metric_label} · {'每个群' if lang == 'zh-CN' else 'per group'}"
    return [
        {"addSheet": {"properties": {"sheetId": sheet_id, "title": title,
                                     "gridProperties": {"rowCount": 1000, "columnCount": max(26, width + 12),
                                                        "frozenRowCount": 1}}}},
        {"updateCells": {"start": {"sheetId": sheet_id, "rowIndex": 0, "columnIndex": 0},
                         "rows": [{"values": [{"userEnteredValue": {"formulaValue": query}}]}],
                         "fields": "userEnteredValue"}},
        {"addChart": {"chart": {
            "spec": {"title": chart_name,
                     # a plain line chart: straight segments (a smoothed curve dips below zero between days)
                     # and a value axis that starts at zero
                     "basicChart": {"chartType": "LINE", "legendPosition": "BOTTOM_LEGEND", "headerCount": 1,
                                    "lineSmoothing": False,
                                    "axis": [{"position": "BOTTOM_AXIS", "title": "日期" if lang == "zh-CN" else "date"},
                                             {"position": "LEFT_AXIS", "title": metric_label,
                                              "viewWindowOptions": {"viewWindowMode": "EXPLICIT", "viewWindowMin": 0}}],
                                    "domains": [{"domain": column(0)}],
                                    "series": [{"series": column(i), "targetAxis": "LEFT_AXIS"}
                                               for i in range(1, width + 1)]}},
            "position": {"overlayPosition": {"anchorCell": {"sheetId": sheet_id, "rowIndex": 0,
                                                            "columnIndex": width + 2},
                                             "widthPixels": 900, "heightPixels": 420}}}}},
        {"addConditionalFormatRule": {"index": 0, "rule": {
            "ranges": [{"sheetId": metrics_sheet_id, "startRowIndex": 1, "startColumnIndex": columns[metric],
                        "endColumnIndex": columns[metric] + 1}],
            "booleanRule": {"condition": {"type": "CUSTOM_FORMULA",
                                          "values": [{"userEnteredValue": drop_formula(value_l, date_l, group_l)}]},
                            "format": {"backgroundColor": DROP_FILL, "textFormat": {"bold": True}}}}}},
    ]


def pivot(raw_rows: list[list], columns: dict[str, int], metric: str) -> tuple[list[str], list[str], dict]:
    """(dates, group ids, {(date, group): value}) from the Metrics tab's rows."""
    from .cells import is_blank
    values: dict[tuple[str, str], float] = {}
    width = max(columns.values()) + 1
    for row in raw_rows:
        row = list(row) + [None] * (width - len(row))
        day, gid, value = row[columns["date"]], row[columns["group_id"]], row[columns[metric]]
        if is_blank(day) or is_blank(gid):
            continue
        day = str(day)[:10]
        try:
            values[(day, str(gid))] = float(value) if not is_blank(value) else None
        except (TypeError, ValueError):
            continue
    return sorted({d for d, _ in values}), sorted({g for _, g in values}), values
