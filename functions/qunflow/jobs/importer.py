"""`qunflow import events`: events from a CSV or .xlsx export into the Events tab, idempotently.

Three mappings (the first row of the file holds the column names; names match ignoring case, spaces and
full-width forms; other columns are ignored):

- `events`: the Events tab's own columns, by key or zh-CN header: event_id/事件ID, type/类型 (join or 入群…),
  member_id/成员ID, at/时间 (required), group_id/群ID, amount/金额, coupon_code/券码, detail/详情.
- `wecom-members`, a WeCom group-member export. Each row becomes a `join` event with the id
  `wecom-join:<group_id>:<member>:<YYYY-MM-DDTHH:MM>` and the detail `name=<name>; channel=<how they joined>`:
    member id   成员ID | UserID | 用户ID | 外部联系人ID | member_id     (required)
    name        群成员 | 成员名称 | 成员 | 昵称 | name
    joined      入群时间 | 加入时间 | joined_at                        (required)
    channel     入群方式 | 来源 | channel
    group       所在群 | 群名称 | 群名 | 群ID | group | group_id      (required: a group_id or a group name of
                                                                       the Groups tab)
- `orders`, a shop's order export. Each row becomes an `order` event with the id `order:<order_id>` and the
  detail `order=<order_id>`:
    order       订单号 | 订单编号 | order_id                          (required)
    member      会员ID | 成员ID | 买家ID | member_id                   (required)
    paid at     下单时间 | 支付时间 | 付款时间 | paid_at | at          (required)
    amount      实付金额 | 实付款 | 金额 | amount
    coupon      优惠券码 | 券码 | coupon_code
    group       群ID | 所在群 | group_id

Rows whose event_id is already in the Events tab (or earlier in the file) are duplicates, skipped. A bad
row is reported with its row number (the header is row 1) and skipped; the other rows are imported. Text no
workbook can hold (control characters but tab and line breaks, lone surrogates, U+FFFE, U+FFFF) is imported
as U+FFFD, with a warning at its row and column; times must lie between the years 1900 and 2999. CSV
files may be UTF-8 (with or without BOM) or GB18030/GBK, as Excel saves them in China; .xlsx files are
read from their first sheet. At most 50,000 rows per file. Pure, except `read_rows`.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any, Callable

from ..sheet.cells import (CellError, fold, is_blank, parse_datetime, parse_decimal, parse_id, parse_text, storable,
                           unstorable)
from ..sheet.i18n import message
from .ingest import FIRST_YEAR, LAST_YEAR, storable_time
from ..sheet.parse import allowed_values, parser_for
from ..sheet.schema import load_schemas

MAPPINGS = ("events", "wecom-members", "orders")
MAX_ROWS = 50_000

WECOM = {
    "member_id": ("成员ID", "UserID", "用户ID", "外部联系人ID", "member_id"),
    "name": ("群成员", "成员名称", "成员", "昵称", "name"),
    "joined_at": ("入群时间", "加入时间", "joined_at"),
    "channel": ("入群方式", "来源", "channel"),
    "group": ("所在群", "群名称", "群名", "群ID", "group", "group_id"),
}
ORDERS = {
    "order_id": ("订单号", "订单编号", "order_id"),
    "member_id": ("会员ID", "成员ID", "买家ID", "member_id"),
    "at": ("下单时间", "支付时间", "付款时间", "paid_at", "at"),
    "amount": ("实付金额", "实付款", "金额", "amount"),
    "coupon_code": ("优惠券码", "券码", "coupon_code"),
    "group": ("群ID", "所在群", "group_id"),
}
REQUIRED = {"wecom-members": ("member_id", "joined_at", "group"), "orders": ("order_id", "member_id", "at")}


class ImportRefused(ValueError):
    """The whole file cannot be imported (unreadable, a required column missing, too many rows)."""


@dataclass
class BadRow:
    row: int
    reason: str


@dataclass
class ImportResult:
    read: int = 0
    new: list[dict[str, Any]] = field(default_factory=list)     # rows for the Events tab
    duplicates: int = 0
    bad: list[BadRow] = field(default_factory=list)
    warnings: list[BadRow] = field(default_factory=list)       # imported, with something to fix in the file

    def summary(self) -> dict[str, Any]:
        return {"read": self.read, "new": len(self.new), "duplicates": self.duplicates,
                "bad": [{"row": b.row, "reason": b.reason} for b in self.bad],
                "warnings": [{"row": w.row, "reason": w.reason} for w in self.warnings]}


class _Bad(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --- reading files ---------------------------------------------------------------------------------------

def read_rows(path: str | Path) -> tuple[list[Any], list[list[Any]]]:
    """(header, data rows) of a .csv or .xlsx file; rows keep their position (blank rows stay, as [])."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls"):
        import python_calamine
        book = python_calamine.CalamineWorkbook.from_path(str(path))
        try:
            rows = book.get_sheet_by_index(0).to_python(skip_empty_area=False)
        finally:
            book.close()
        rows = [[None if v == "" else v for v in row] for row in rows]
    elif suffix in (".csv", ".txt"):
        data = path.read_bytes()
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise ImportRefused(f"{path.name} is neither UTF-8 nor GB18030 text; save it as CSV UTF-8")
        rows = list(csv.reader(io.StringIO(text, newline="")))
    else:
        raise ImportRefused(f"{path.name}: import reads .csv or .xlsx files")
    if not rows:
        raise ImportRefused(f"{path.name} is empty")
    if len(rows) - 1 > MAX_ROWS:
        raise ImportRefused(f"{path.name} has {len(rows) - 1} rows; import at most {MAX_ROWS} at a time")
    return list(rows[0]), [list(r) for r in rows[1:]]


# --- mapping rows to events -----------------------------------------------------------------------------

def _columns(header: list[Any], names: dict[str, tuple[str, ...]], required: tuple[str, ...], lang: str) -> dict[str, int]:
    folded = {fold(h): i for i, h in reversed(list(enumerate(header))) if not is_blank(h)}
    found = {}
    for key, aliases in names.items():
        index = next((folded[fold(a)] for a in aliases if fold(a) in folded), None)
        if index is not None:
            found[key] = index
        elif key in required:
            raise ImportRefused(message("import_missing_columns", lang, column=aliases[0],
                                        headers=" / ".join(aliases)))
    return found


def _cell(row: list[Any], columns: dict[str, int], key: str) -> Any:
    index = columns.get(key)
    value = row[index] if index is not None and index < len(row) else None
    return None if is_blank(value) else value


def _detail_value(value: Any) -> str:
    """A value inside `key=value; …` details: no separators inside it."""
    return re.sub(r"[;；|\n]", " ", parse_text(value)).strip()


class _Mapper:
    def __init__(self, mapping: str, header: list[Any], groups: dict[str, str], lang: str, tz: tzinfo | None,
                 today: date | None):
        self.mapping, self.groups, self.lang, self.tz, self.today = mapping, groups, lang, tz, today
        if mapping == "events":
            schema = load_schemas()["events"]
            self.schema_columns = schema.columns
            names = {c.key: tuple(c.headers.values()) for c in schema.columns}
            required = tuple(c.key for c in schema.columns if c.required)
            self.parsers = {c.key: parser_for(c, today) for c in schema.columns}
        elif mapping in ("wecom-members", "orders"):
            names = WECOM if mapping == "wecom-members" else ORDERS
            required = REQUIRED[mapping]
        else:
            raise ImportRefused(f"unknown mapping {mapping!r}; use one of {', '.join(MAPPINGS)}")
        self.names = names
        self.columns = _columns(header, names, required, lang)
        self.header = header

    def shown(self, key: str) -> str:
        return str(self.header[self.columns[key]]).strip() if key in self.columns else self.names[key][0]

    def bad(self, code: str, key: str, value: Any = "", **params: Any) -> _Bad:
        shown = "" if value is None else str(value)
        text = message(code, self.lang, value=shown, column=self.shown(key), **params)
        return _Bad(text if code == "required" else f"{self.shown(key)}{'：' if self.lang == 'zh-CN' else ': '}{text}")

    def need(self, row: list[Any], key: str, example: str) -> Any:
        value = _cell(row, self.columns, key)
        if value is None:
            raise self.bad("required", key, example=example)
        return value

    def group(self, value: Any, key: str) -> str:
        gid = self.groups.get(fold(parse_text(value)))
        if gid is None:
            raise self.bad("import_unknown_group", key, parse_text(value))
        return gid

    def id_(self, value: Any, key: str, example: str) -> str:
        try:
            return parse_id(value)
        except CellError as error:
            raise self.bad(error.code, key, value, example=example) from None

    def when(self, value: Any, key: str) -> datetime:
        try:
            return self.kept_time(parse_datetime(value, self.today), key, value)
        except CellError as error:
            raise self.bad(error.code, key, value, example="2026-12-01 20:00") from None

    def kept_time(self, when: datetime, key: str, value: Any) -> datetime:
        try:
            return storable_time(when, self.tz)
        except ValueError:
            raise self.bad("time_out_of_range", key, value, example="2026-12-01 20:00", first=FIRST_YEAR,
                           last=LAST_YEAR) from None

    def scrubbed(self, row: list[Any]) -> tuple[list[Any], list[str]]:
        """The row with text no workbook can hold as U+FFFD, and a warning for each such cell."""
        warnings = []
        for index, value in enumerate(row):
            if isinstance(value, str) and (chars := unstorable(value)):
                if not warnings:
                    row = list(row)          # the caller's rows are left as they were read
                row[index] = storable(value)
                column = storable(str(self.header[index])).strip() if index < len(self.header) else f"#{index + 1}"
                text = message("unstorable_text", self.lang, value=row[index][:200], chars=chars)
                warnings.append(f"{column}{'：' if self.lang == 'zh-CN' else ': '}{text}")
        return row, warnings

    def event(self, row: list[Any]) -> dict[str, Any]:
        return getattr(self, self.mapping.replace("-", "_"))(row)

    def events(self, row: list[Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for column in self.schema_columns:
            value = _cell(row, self.columns, column.key)
            if value is None:
                if column.required:
                    raise self.bad("required", column.key, example=column.example)
                out[column.key] = None
                continue
            try:
                out[column.key] = self.parsers[column.key](value)
            except CellError as error:
                params = {"example": column.example, "allowed": allowed_values(column, self.lang), **error.params}
                raise self.bad(error.code, column.key, value, **params) from None
        if out["group_id"] is not None:
            out["group_id"] = self.group(out["group_id"], "group_id")
        out["at"] = self.kept_time(out["at"], "at", _cell(row, self.columns, "at"))
        return out

    def wecom_members(self, row: list[Any]) -> dict[str, Any]:
        member = self.id_(self.need(row, "member_id", "wm-0001"), "member_id", "wm-0001")
        at = self.when(self.need(row, "joined_at", "2026-12-01 20:00"), "joined_at")
        group = self.group(self.need(row, "group", "G01"), "group")
        details = [f"{key}={_detail_value(_cell(row, self.columns, key))}" for key in ("name", "channel")
                   if _cell(row, self.columns, key) is not None]
        return {"event_id": f"wecom-join:{group}:{member}:{at:%Y-%m-%dT%H:%M}", "type": "join", "member_id": member,
                "group_id": group, "at": at, "amount": None, "coupon_code": None, "detail": "; ".join(details) or None}

    def orders(self, row: list[Any]) -> dict[str, Any]:
        order = self.id_(self.need(row, "order_id", "20261203001"), "order_id", "20261203001")
        member = self.id_(self.need(row, "member_id", "M0001"), "member_id", "M0001")
        at = self.when(self.need(row, "at", "2026-12-01 20:00"), "at")
        amount, coupon, group = (_cell(row, self.columns, k) for k in ("amount", "coupon_code", "group"))
        if amount is not None:
            try:
                amount = parse_decimal(amount)
            except CellError:
                raise self.bad("bad_decimal", "amount", amount, example="199") from None
        return {"event_id": f"order:{order}", "type": "order", "member_id": member,
                "group_id": self.group(group, "group") if group is not None else None, "at": at, "amount": amount,
                "coupon_code": self.id_(coupon, "coupon_code", "WEL-0001") if coupon is not None else None,
                "detail": f"order={_detail_value(order)}"}


def plan_import(header: list[Any], rows: list[list[Any]], mapping: str, *, groups: dict[str, str], seen: set[str],
                lang: str = "en", tz: tzinfo | None = None, today: date | None = None,
                progress: Callable[[int], None] | None = None) -> ImportResult:
    """Map every row; `groups`: {folded group id or name: group_id}; `seen`: folded event ids already known.

    Raises ImportRefused when the file as a whole cannot be read (a required column is missing)."""
    mapper = _Mapper(mapping, header, groups, lang, tz, today)
    result, known = ImportResult(), set(seen)
    for index, row in enumerate(rows):
        if progress:
            progress(1)
        if all(is_blank(v) for v in row):
            continue
        result.read += 1
        row, warnings = mapper.scrubbed(row)
        result.warnings += [BadRow(index + 2, w) for w in warnings]
        try:
            event = mapper.event(row)
        except _Bad as bad:
            result.bad.append(BadRow(index + 2, bad.reason))
            continue
        if fold(event["event_id"]) in known:
            result.duplicates += 1
            continue
        known.add(fold(event["event_id"]))
        result.new.append(event)
    return result


def import_into(store: Any, header: list[Any], rows: list[list[Any]], mapping: str, now: datetime, *,
                dry_run: bool = False, progress: Callable[[int], None] = lambda n: None) -> tuple[ImportResult, Any, str]:
    """(result, workbook, note): the file's new events appended to the Events tab in one write, under the
    store's lease (nothing with `dry_run`); `note` says when the write was kept for the next run."""
    from ..sheet.changes import Changes
    from .ingest import existing_event_ids, group_lookup
    from .reading import read_workbook
    note = ""
    with store.lease("import", 30):
        snapshot, wb = read_workbook(store, now.date())
        result = plan_import(header, rows, mapping, groups=group_lookup(wb, names=True), seen=existing_event_ids(wb),
                             lang=wb.lang, tz=wb.settings.timezone, today=now.astimezone(wb.settings.timezone).date(),
                             progress=progress)
        if result.new and not dry_run:
            changes = Changes()
            changes.append("events", result.new)
            report = store.write(changes, snapshot, wb.lang)
            note = report.reason if report.deferred else ""
    return result, wb, note
