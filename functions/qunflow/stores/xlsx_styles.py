"""Date cells for the surgical writer: a date or datetime is a serial number with a date number format.

A cell's number format lives in xl/styles.xml: the cell's `s=` is an index into `<cellXfs>`, whose `numFmtId`
is a built-in format (14-22, 45-47 are dates) or one of `<numFmts>`. A date cell takes the style it would have had
(its own, its row's or its column's) when that style already shows a date of its kind; else a copy of that style
(font, fill, borders kept) with the column type's format (`sheet.layout.NUMBER_FORMATS`: `yyyy-mm-dd hh:mm`,
`yyyy-mm-dd`), added to styles.xml once. styles.xml is then the one other part rewritten (it is small).

The serial counts days since 1899-12-30 (Excel's 1900 system; a 1904-system workbook is left to openpyxl),
with the time of day as the fraction, to the second.
"""
from __future__ import annotations

import re
from datetime import date, datetime

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format

from ..sheet.cells import to_serial as serial
from ..sheet.layout import NUMBER_FORMATS
from .xlsx_parts import Package, PatchUnsupported

_XFS = re.compile(rb"<((?:[\w.-]+:)?)cellXfs(\s[^>]*?)?(?:/>|>(.*?)</(?:[\w.-]+:)?cellXfs>)", re.S)
_XF = re.compile(rb"<(?:[\w.-]+:)?xf(?=[\s/>])[^>]*?(?:/>|>.*?</(?:[\w.-]+:)?xf>)", re.S)
_NUMFMTS = re.compile(rb"<((?:[\w.-]+:)?)numFmts(\s[^>]*?)?(?:/>|>(.*?)</(?:[\w.-]+:)?numFmts>)", re.S)
_NUMFMT = re.compile(rb"<(?:[\w.-]+:)?numFmt\s[^>]*?/?>")
_ID = re.compile(rb"\bnumFmtId\s*=\s*[\"'](\d+)[\"']")
_CODE = re.compile(rb"\bformatCode\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_COUNT = re.compile(rb"\bcount\s*=\s*[\"']\d+[\"']")
_DATE_1904 = re.compile(rb"<(?:[\w.-]+:)?workbookPr\s[^>]*\bdate1904\s*=\s*[\"'](?:1|true)[\"']")


def kind_of(value) -> str | None:
    if isinstance(value, datetime):
        return "datetime"
    return "date" if isinstance(value, date) else None


def date_styles(package: Package, targets: dict) -> DateStyles | None:
    """The styles, when the cells to write (part -> row -> column -> value) hold a date; else None (untouched)."""
    if any(kind_of(v) for rows in targets.values() for row in rows.values() for v in row.values()):
        return DateStyles(package)
    return None


def _unescape(text: bytes) -> str:
    return (text.decode("utf-8").replace("&quot;", '"').replace("&apos;", "'").replace("&lt;", "<")
            .replace("&gt;", ">").replace("&amp;", "&"))


def _escape(text: str) -> bytes:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;").encode()


class DateStyles:
    """The workbook's cell styles, and the date styles the written cells need (added on first use)."""

    def __init__(self, package: Package):
        self.name = next((n for n in package.names if n.lower() == "xl/styles.xml"), None)
        self.xml = package.read(self.name) if self.name else b""
        if _DATE_1904.search(package.read(package.workbook)):
            raise PatchUnsupported("a workbook in the 1904 date system")
        self.changed = False
        self._cache: dict[tuple[bytes | None, str], bytes] = {}
        self._load()

    def _load(self) -> None:
        xfs = _XFS.search(self.xml)
        if xfs is None:
            raise PatchUnsupported("styles.xml without cellXfs: cannot give a date cell its format")
        self.xfs = [m.group(0) for m in _XF.finditer(xfs.group(3) or b"")]
        self.codes = dict(BUILTIN_FORMATS)
        if fmts := _NUMFMTS.search(self.xml):
            for m in _NUMFMT.finditer(fmts.group(3) or b""):
                i, code = _ID.search(m.group(0)), _CODE.search(m.group(0))
                if i and code:
                    self.codes[int(i.group(1))] = _unescape(code.group(1) if code.group(1) is not None else code.group(2))

    def _fits(self, index: int, kind: str) -> bool:
        if not 0 <= index < len(self.xfs):
            return False
        m = _ID.search(self.xfs[index].split(b">", 1)[0])
        code = self.codes.get(int(m.group(1)) if m else 0, "General")
        return is_date_format(code) and ("h" in code.lower()) == (kind == "datetime")

    def style(self, base: bytes | None, value) -> bytes | None:
        """The `s=` for a cell holding `value`: `base` unless the value is a date the base style does not show."""
        kind = kind_of(value)
        if kind is None:
            return base
        index = int(base) if base and base.isdigit() else 0
        if self._fits(index, kind):
            return base
        if (base, kind) not in self._cache:
            self._cache[(base, kind)] = str(self._add(index, kind)).encode()
        return self._cache[(base, kind)]

    def _format_id(self, code: str) -> int:
        for i, known in self.codes.items():
            if known == code:
                return i
        new = max([163] + [i for i in self.codes if i >= 164]) + 1
        element = b'<numFmt numFmtId="' + str(new).encode() + b'" formatCode="' + _escape(code) + b'"/>'
        if fmts := _NUMFMTS.search(self.xml):
            p = fmts.group(1)
            element = element.replace(b"<numFmt", b"<" + p + b"numFmt")
            inner = (fmts.group(3) or b"") + element
            attrs = _COUNT.sub(b'count="' + str(len(_NUMFMT.findall(inner))).encode() + b'"', fmts.group(2) or b"")
            self.xml = (self.xml[:fmts.start()] + b"<" + p + b"numFmts" + attrs + b">" + inner + b"</" + p
                        + b"numFmts>" + self.xml[fmts.end():])
        else:
            root = re.search(rb"<((?:[\w.-]+:)?)styleSheet(?=[\s>])[^>]*>", self.xml)
            if root is None:
                raise PatchUnsupported("styles.xml without a styleSheet")
            p = root.group(1)
            element = element.replace(b"<numFmt", b"<" + p + b"numFmt")
            self.xml = (self.xml[:root.end()] + b"<" + p + b'numFmts count="1">' + element + b"</" + p + b"numFmts>"
                        + self.xml[root.end():])
        self.codes[new] = code
        return new

    def _add(self, index: int, kind: str) -> int:
        fmt = self._format_id(NUMBER_FORMATS[kind][0])
        base = self.xfs[index] if 0 <= index < len(self.xfs) else b'<xf numFmtId="0" fontId="0" fillId="0" ' \
                                                                     b'borderId="0" xfId="0"/>'
        start = re.match(rb"<[^>]*?(/?)>", base)
        head, sep, rest = (base[:start.end() - 2], b"/>", b"") if start.group(1) else \
            (base[:start.end() - 1], b">", base[start.end():])
        head = _ID.sub(b'numFmtId="' + str(fmt).encode() + b'"', head) if _ID.search(head) else \
            head + b' numFmtId="' + str(fmt).encode() + b'"'
        if b"applyNumberFormat" in head:
            head = re.sub(rb"applyNumberFormat\s*=\s*[\"'][^\"']*[\"']", b'applyNumberFormat="1"', head)
        else:
            head += b' applyNumberFormat="1"'
        new = head + sep + rest
        xfs = _XFS.search(self.xml)
        p = xfs.group(1)
        inner = (xfs.group(3) or b"") + new
        count = len(self.xfs) + 1
        attrs = _COUNT.sub(b'count="' + str(count).encode() + b'"', xfs.group(2) or b"")
        self.xml = self.xml[:xfs.start()] + b"<" + p + b"cellXfs" + attrs + b">" + inner + b"</" + p + b"cellXfs>" \
            + self.xml[xfs.end():]
        self.changed = True
        self._load()
        return len(self.xfs) - 1
