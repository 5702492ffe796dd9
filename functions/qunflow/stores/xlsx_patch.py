"""The surgical local writer: a WritePlan applied to an .xlsx by patching only the changed worksheets' XML.

- Every zip member but the changed worksheets (and styles.xml when a date style is added) is copied byte for byte, compressed bytes included (styles,
  shared strings, notes, validations, charts, drawings, docProps, the other tabs). Inside a changed worksheet
  only the rows it writes are re-encoded; every other row (with the cached `<v>` of its formulas) and all
  around sheetData (columns, merged cells, validations, conditional formats, hyperlinks) stay as bytes.
- Cells are RAW. Text is an inline string (`t="inlineStr"`), never a formula, so sharedStrings.xml is not
  touched (appending to it would rewrite the whole table, the other tabs' text included; Excel turns inline
  strings into shared ones on its next save). Numbers are `<v>`, booleans `t="b"`, and a date or datetime is a real
  date cell: a serial `<v>` with a date style (`stores.xlsx_styles`; `sheet.vocabulary.date_cell`). Blank
  clears the cell. An overwritten cell keeps its style `s=`; a new cell takes its row's or column's style.
- Characters XML 1.0 forbids become U+FFFD (the last line of defence: the file always opens), `\\r` becomes
  `&#13;` and a literal `_xHHHH_` is escaped as Excel does (`_x005F_`), so text reads back as written (Excel,
  LibreOffice and calamine decode `_xHHHH_`; openpyxl leaves an inline string's escapes as they are).
- A formula overwritten by a value makes xl/calcChain.xml stale (Excel would "repair" the file): it is dropped
  with its relationship and content type, and Excel rebuilds it.
- Rows and cells stay in order; `<dimension ref>` grows to cover what is written. Time and memory follow the
  changed worksheets only: they stream through in chunks of a MiB.

Not handled (PatchUnsupported; XlsxStore then writes with openpyxl): writing into an array formula or a data
table, overwriting the anchor of a shared formula, a tab without a worksheet part, rows out of order, ZIP64.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, BinaryIO, Iterator

from ..sheet.cells import is_blank, storable
from ..sheet.changes import to_cell
from ..sheet.tables import RawWorkbook
from .writeplan import WritePlan
from .xlsx_parts import Package, PackageWriter, PatchUnsupported, deflate, rels_name, without_part
from .xlsx_styles import DateStyles, date_styles, kind_of, serial

Cells = dict[str, dict[int, dict[int, Any]]]     # tab title -> sheet row -> column -> value (1-based)
FLUSH = 1 << 18
MAX_TEXT = 32767
LEVEL = 3        # zlib level of a changed worksheet: ~3x faster than 6 for ~7% more bytes (the bench's 100k Members)
_XESCAPE = re.compile("_(x[0-9A-Fa-f]{4}_)")
_ATTR = re.compile(rb"([\w:.-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_REF = re.compile(rb"\$?([A-Za-z]{1,3})\$?(\d+)")
_SPACE = re.compile(rb"\s*")
_AREA = re.compile(rb"\$?[A-Za-z]{1,3}\$?\d+(:\$?[A-Za-z]{1,3}\$?\d+)?")


def place(plan: WritePlan, raw: RawWorkbook) -> Cells:
    """The plan as cells. Later writes win; each append goes after the tab's last row with a value (as
    `apply_to_raw` shows it), and fills only its non-blank values (a prefilled style or formula stays)."""
    cells: Cells = {}
    for write in plan.writes:
        tab = cells.setdefault(write.title, {})
        for r, values in enumerate(write.values):
            row = tab.setdefault(write.row + r, {})
            for c, value in enumerate(values):
                row[write.col + c] = value
    for append in plan.appends:
        tab = cells.setdefault(append.title, {})
        start = _last_row(raw.get(append.title, []), tab) + 1
        for r, values in enumerate(append.rows):
            row = tab.setdefault(start + r, {})
            for c, value in enumerate(values, start=1):
                if value not in ("", None):
                    row[c] = value
    return cells


def _last_row(rows: list[list[Any]], written: dict[int, dict[int, Any]]) -> int:
    for n in range(max([len(rows)] + list(written)), 1, -1):
        line, over = rows[n - 1] if n <= len(rows) else [], written.get(n, {})
        width = max([len(line)] + list(over))
        values = [over.get(c, line[c - 1] if c <= len(line) else None) for c in range(1, width + 1)]
        if not all(is_blank(v) for v in values):
            return n
    return 1 if rows or written.get(1) else 0


def patch_xlsx(src: BinaryIO, dst: BinaryIO, cells: Cells, level: int = LEVEL, links: dict | None = None) -> bool:
    """Write to `dst` the package read from `src` with `cells` written; True if calcChain.xml was dropped.
    `links`: tab title -> its cell hyperlinks, replacing the tab's own (`stores.xlsx_links`)."""
    from .xlsx_links import with_links
    package = Package(src)
    parts = package.sheet_parts()
    targets = {}
    for title, rows in cells.items():
        if title not in parts:
            raise PatchUnsupported(f"no worksheet part for the tab {title!r}")
        if rows:
            targets[parts[title]] = rows
    new, dropped = {}, False
    styles = date_styles(package, targets)
    try:
        linked = {parts[title]: kept for title, kept in (links or {}).items() if title in parts}
        for name, rows in targets.items():
            sheet = _Sheet(rows, styles)
            stream = sheet.patch(package.chunks(name))
            new[name] = deflate(with_links(stream, linked[name]) if name in linked else stream, level)
            dropped |= sheet.formula_dropped
        if styles is not None and styles.changed:   # styles.xml gained a date style
            new[styles.name] = deflate([styles.xml])
        chain = package.calc_chain() if dropped else None
        if chain is not None:
            rid, chain_part = chain
            for name, element, key, value in (("[Content_Types].xml", "Override", "PartName", "/" + chain_part),
                                              (rels_name(package.workbook), "Relationship", "Id", rid)):
                if name in package.names:
                    new[name] = deflate([without_part(package.read(name), element, key, value)])
        writer = PackageWriter(dst)
        for info in package.infos:
            if chain is not None and info.filename == chain[1]:
                continue
            if info.filename in new:
                writer.put(info, new.pop(info.filename))
            else:
                writer.copy(package, info)
        writer.close()
    finally:
        for left in new.values():
            left.file.close()
    return chain is not None


def column_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


def column_letters(n: int) -> str:
    out = ""
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


def clean_text(text: str) -> str:
    """Text a cell can hold: each character XML 1.0 forbids replaced by U+FFFD, at most 32,767 characters
    (Excel's limit, where openpyxl cuts too)."""
    return storable(text)[:MAX_TEXT]


def escaped_text(text: str) -> str:
    """Text as an .xlsx cell stores it: cleaned, and a literal `_xHHHH_` escaped as Excel does (`_x005F_xHHHH_`),
    so that it does not read back as the character HHHH."""
    return _XESCAPE.sub(r"_x005F_\1", clean_text(text))


def text_xml(text: str) -> bytes:
    """Text as XML character data: cleaned, `_xHHHH_` kept literal, `\\r` kept."""
    text = escaped_text(text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;").encode("utf-8")


def cell_xml(p: bytes, ref: str, style: bytes | None, value: Any) -> bytes | None:
    """One `<c>`, RAW; None for a blank cell without a style (no element at all)."""
    if kind_of(value):
        value = serial(value)          # a date cell: its style (the caller's) shows it as a date
    elif not isinstance(value, (str, bool, int, float)):
        value = to_cell(value)         # times as ISO text, Decimal as a number: as everywhere else
    head = b"<" + p + b"c r=\"" + ref.encode("ascii") + b"\"" + (b" s=\"" + style + b"\"" if style else b"")
    if isinstance(value, bool):
        return head + b" t=\"b\"><" + p + b"v>" + (b"1" if value else b"0") + b"</" + p + b"v></" + p + b"c>"
    if isinstance(value, (int, float)) and value == value and value not in (float("inf"), float("-inf")):
        number = str(value) if isinstance(value, int) else repr(value)
        return head + b"><" + p + b"v>" + number.encode("ascii") + b"</" + p + b"v></" + p + b"c>"
    if isinstance(value, str) and value != "":
        return (head + b" t=\"inlineStr\"><" + p + b"is><" + p + b"t xml:space=\"preserve\">" + text_xml(value)
                + b"</" + p + b"t></" + p + b"is></" + p + b"c>")
    return head + b"/>" if style and style != b"0" else None


def _attrs(data: bytes | None) -> dict[bytes, bytes]:
    return {m.group(1): m.group(2) if m.group(2) is not None else m.group(3) for m in _ATTR.finditer(data or b"")}


def _with_attr(attrs: bytes, name: bytes, value: bytes) -> bytes:
    """The attribute text with `name` set to `value` (replaced where it is, else added at the front)."""
    pattern = re.compile(rb"(\s" + re.escape(name) + rb"\s*=\s*)(?:\"[^\"]*\"|'[^']*')")
    if pattern.search(attrs):
        return pattern.sub(lambda m: m.group(1) + b"\"" + value + b"\"", attrs, count=1)
    return b" " + name + b"=\"" + value + b"\"" + attrs


class _Patterns:
    def __init__(self, p: bytes):
        q = re.escape(p)
        self.p = p
        self.sheet_data = re.compile(rb"<" + q + rb"sheetData(\s[^>]*?)?(/?)>")
        self.dimension = re.compile(rb"(<" + q + rb"dimension\s[^>]*?\bref\s*=\s*[\"'])([^\"']*)([\"'])")
        self.col = re.compile(rb"<" + q + rb"col(\s[^>]*?)/?>")
        self.item = re.compile(rb"<" + q + rb"row(?P<attrs>(?=[\s/>])(?:[^>]*?\sr\s*=\s*[\"'](?P<r>\d+)[\"'])?[^>]*?)"
                               rb"(?P<close>/?)>|(?P<end></" + q + rb"sheetData>)")
        self.row_end = b"</" + p + b"row>"
        self.cell = re.compile(rb"<" + q + rb"c(\s[^>]*?)?(/?)>")
        self.cell_end = b"</" + p + b"c>"
        self.formula = re.compile(rb"<" + q + rb"f(\s[^>]*?)?/?>")
        self.array = re.compile(rb"<" + q + rb"f\s[^>]*?\bt\s*=\s*[\"'](?:array|dataTable)[\"'][^>]*>")


@lru_cache(maxsize=8)
def _patterns(p: bytes) -> _Patterns:
    return _Patterns(p)


def _ranges(text: bytes) -> tuple[int, int, int, int] | None:
    refs = _REF.findall(text)
    if not refs:
        return None
    rows, cols = [int(r) for _, r in refs], [column_number(c) for c, _ in refs]
    return min(rows), min(cols), max(rows), max(cols)


class _Sheet:
    """One worksheet part streamed through with its cells written."""

    def __init__(self, rows: dict[int, dict[int, Any]], dates: DateStyles | None = None):
        self.rows, self.order, self.next, self.dates = rows, sorted(rows), 0, dates
        self.formula_dropped = False
        self.arrays: set[tuple[int, int, int, int]] = set()
        self.columns: list[tuple[int, int, bytes]] = []        # min, max, style of <col> elements
        filled = [(r, c) for r, row in rows.items() for c, v in row.items() if v not in ("", None)]
        self.box = (min(r for r, _ in filled), min(c for _, c in filled),
                    max(r for r, _ in filled), max(c for _, c in filled)) if filled else None

    def patch(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        buf = b""
        for chunk in chunks:
            buf += chunk
            root = re.search(rb"<(?:([\w.-]+):)?worksheet[\s/>]", buf)
            if root and (found := _patterns(root.group(1) + b":" if root.group(1) else b"").sheet_data.search(buf)):
                break
        else:
            raise PatchUnsupported("not a worksheet with sheetData")
        pat = _patterns(root.group(1) + b":" if root.group(1) else b"")
        yield self._head(pat, buf[:found.start()]) + b"<" + pat.p + b"sheetData" + (found.group(1) or b"") + b">"
        rest = buf[found.end():]
        if found.group(2):                                    # <sheetData/>: no rows at all
            yield b"".join(self._new_rows(pat, None)) + b"</" + pat.p + b"sheetData>" + rest
        else:
            yield from self._body(pat, rest, chunks)
        yield from chunks

    def _head(self, pat: _Patterns, head: bytes) -> bytes:
        for m in pat.col.finditer(head):
            a = _attrs(m.group(1))
            if a.get(b"style") and a.get(b"min", b"").isdigit() and a.get(b"max", b"").isdigit():
                self.columns.append((int(a[b"min"]), int(a[b"max"]), a[b"style"]))
        if self.box is None:
            return head

        def grow(m: re.Match) -> bytes:
            old = _ranges(m.group(2)) if _AREA.fullmatch(m.group(2)) else None
            r1, c1, r2, c2 = self.box
            if old:
                r1, c1, r2, c2 = min(r1, old[0]), min(c1, old[1]), max(r2, old[2]), max(c2, old[3])
            return m.group(1) + f"{column_letters(c1)}{r1}:{column_letters(c2)}{r2}".encode("ascii") + m.group(3)
        return pat.dimension.sub(grow, head, count=1)

    def _body(self, pat: _Patterns, buf: bytes, chunks: Iterator[bytes]) -> Iterator[bytes]:
        out: list[bytes] = []
        pos = kept = 0          # kept: where the bytes not yet emitted start (rows copied as they are)
        last = 0
        self._scan(pat, buf, 0)
        while True:
            m = pat.item.search(buf, pos)
            end = None
            if m is not None and m.group("end"):
                out.append(buf[kept:m.start()])
                out.extend(self._new_rows(pat, None))
                out.append(buf[m.start():])
                yield b"".join(out)
                return
            if m is not None:
                if m.group("close"):
                    end = m.end()
                elif (e := buf.find(pat.row_end, m.end())) >= 0:
                    end = e + len(pat.row_end)
            if end is None:
                more = next(chunks, None)
                if more is None:
                    raise PatchUnsupported("the worksheet's sheetData does not end")
                out.append(buf[kept:pos])
                buf, pos, kept = buf[pos:] + more, 0, 0
                self._scan(pat, buf, max(0, len(buf) - len(more) - 512))
                if sum(map(len, out)) > FLUSH:
                    yield b"".join(out)
                    out.clear()
                continue
            number = int(m.group("r")) if m.group("r") else last + 1
            if number <= last:
                raise PatchUnsupported("rows out of order")
            last = number
            before = self.next < len(self.order) and self.order[self.next] <= number
            if before or not m.group("r"):
                out.append(buf[kept:m.start()])
                out.extend(self._new_rows(pat, number))
                row = buf[m.start():end]
                if self.next < len(self.order) and self.order[self.next] == number:
                    row = self._rewrite(pat, row, number, self.rows[number])
                    self.next += 1
                elif not m.group("r"):
                    row = self._rewrite(pat, row, number, {})
                out.append(row)
                kept = end
            pos = end

    def _scan(self, pat: _Patterns, buf: bytes, start: int) -> None:
        """Remember the ranges of array formulas and data tables (their anchor comes before their cells)."""
        for m in pat.array.finditer(buf, start):
            ref = _attrs(m.group(0)).get(b"ref")
            box = _ranges(ref) if ref else None
            if box:
                self.arrays.add(box)

    def _new_rows(self, pat: _Patterns, before: int | None) -> list[bytes]:
        """Rows to write that the sheet does not have yet, numbered below `before` (None: all that are left)."""
        out = []
        while self.next < len(self.order) and (before is None or self.order[self.next] < before):
            number = self.order[self.next]
            self.next += 1
            cells = [cell_xml(pat.p, f"{column_letters(c)}{number}", self._dated(self._style(None, c), v), v)
                     for c, v in sorted(self.rows[number].items()) if v not in ("", None)]
            body = b"".join(c for c in cells if c)
            if body:
                out.append(b"<" + pat.p + b"row r=\"" + str(number).encode() + b"\">" + body + pat.row_end)
        return out

    def _style(self, row_attrs: dict[bytes, bytes] | None, col: int) -> bytes | None:
        """The style a new cell takes: its row's (if the row is formatted), else its column's."""
        if row_attrs and row_attrs.get(b"customFormat") in (b"1", b"true") and row_attrs.get(b"s"):
            return row_attrs[b"s"]
        return next((style for lo, hi, style in self.columns if lo <= col <= hi), None)

    def _dated(self, style: bytes | None, value: Any) -> bytes | None:
        return self.dates.style(style, value) if self.dates is not None and kind_of(value) else style
    def _rewrite(self, pat: _Patterns, row: bytes, number: int, writes: dict[int, Any]) -> bytes:
        m = pat.item.match(row)
        attrs = m.group("attrs") or b""
        inner = b"" if m.group("close") else row[m.end():len(row) - len(pat.row_end)]
        row_attrs = _attrs(attrs)
        cells: dict[int, bytes] = {}
        styles: dict[int, bytes | None] = {}
        at, col = 0, 0
        while True:
            at = _SPACE.match(inner, at).end()
            c = pat.cell.match(inner, at)
            if c is None:
                break
            if c.group(2):
                end, content = c.end(), b""
            else:
                e = inner.find(pat.cell_end, c.end())
                if e < 0:
                    raise PatchUnsupported(f"row {number}: a cell does not end")
                end, content = e + len(pat.cell_end), inner[c.end():e]
            a = _attrs(c.group(1))
            ref = _REF.fullmatch(a.get(b"r", b""))
            col = column_number(ref.group(1)) if ref else col + 1
            whole = inner[at:end]
            if not ref:                        # a cell without r=: given one, since cells may now come before it
                given = _with_attr(c.group(1) or b"", b"r", f"{column_letters(col)}{number}".encode())
                whole = b"<" + pat.p + b"c" + given + whole[len(pat.p) + 2 + len(c.group(1) or b""):]
            if col in writes:
                self._check_formula(pat, content, number, col)
            cells[col], styles[col] = whole, a.get(b"s")
            at = end
        tail = inner[at:]                      # whitespace, or the row's <extLst>
        if pat.cell.search(tail):
            raise PatchUnsupported(f"row {number}: something other than cells among its cells")
        for col, value in writes.items():
            if col not in cells and value in ("", None):
                continue
            if any(r1 <= number <= r2 and c1 <= col <= c2 for r1, c1, r2, c2 in self.arrays):
                raise PatchUnsupported(f"row {number}: the cell is part of an array formula")
            style = styles[col] if col in cells else self._style(row_attrs, col)
            new = cell_xml(pat.p, f"{column_letters(col)}{number}", self._dated(style, value), value)
            if new is None:
                cells.pop(col, None)
            else:
                cells[col] = new
        if not m.group("r"):
            attrs = _with_attr(attrs, b"r", str(number).encode())
        if b"spans" in row_attrs and cells:
            attrs = _with_attr(attrs, b"spans", f"{min(cells)}:{max(cells)}".encode())
        body = b"".join(cells[c] for c in sorted(cells)) + tail
        head = b"<" + pat.p + b"row" + attrs
        return head + b">" + body + pat.row_end if body.strip() else head + b"/>"

    def _check_formula(self, pat: _Patterns, content: bytes, number: int, col: int) -> None:
        f = pat.formula.search(content)
        if f is None:
            return
        a = _attrs(f.group(1))
        if a.get(b"t") == b"shared" and b"ref" in a:
            raise PatchUnsupported(f"row {number}: the cell anchors a shared formula")
        if a.get(b"t") in (b"array", b"dataTable"):
            raise PatchUnsupported(f"row {number}: the cell holds an array formula")
        self.formula_dropped = True
