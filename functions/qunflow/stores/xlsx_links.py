"""Cell hyperlinks inside an .xlsx worksheet, for the surgical writer (`stores.xlsx_patch`) and openpyxl.

Each Problem row links to the cell it is about. The links are internal (`location="'社群'!K3"`), so they need no
relationship part: only the worksheet's `<hyperlinks>` element changes. It is replaced whole (a worksheet written
by qunflow holds only qunflow's links) at its place in the schema's order (after the validations, before the page
setup, drawings and extensions).
"""
from __future__ import annotations

import re
from typing import Any, Iterator

from .xlsx_parts import PatchUnsupported

Links = dict[tuple[int, int], tuple[str, str]]     # (sheet row, column) -> (tab title, A1 cell)
_AFTER = (b"printOptions", b"pageMargins", b"pageSetup", b"headerFooter", b"rowBreaks", b"colBreaks",
          b"customProperties", b"cellWatches", b"ignoredErrors", b"smartTags", b"drawing", b"legacyDrawing",
          b"legacyDrawingHF", b"drawingHF", b"picture", b"oleObjects", b"controls", b"webPublishItems",
          b"tableParts", b"extLst")
MAX_LINKS = 65530   # Excel keeps at most 65,530 links a worksheet


def location(title: str, cell: str) -> str:
    return "'" + title.replace("'", "''") + "'!" + cell


def _letters(n: int) -> str:
    return _letters((n - 1) // 26) + chr(65 + (n - 1) % 26) if n else ""


def _escape(text: str) -> bytes:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
            .encode("utf-8"))


def hyperlinks_xml(p: bytes, links: Links) -> bytes:
    items = sorted(links.items())[:MAX_LINKS]
    if not items:
        return b""
    body = b"".join(b"<" + p + b"hyperlink ref=\"" + f"{_letters(c)}{r}".encode("ascii") + b"\" location=\""
                    + _escape(location(*target)) + b"\"/>" for (r, c), target in items)
    return b"<" + p + b"hyperlinks>" + body + b"</" + p + b"hyperlinks>"


def with_links(stream: Iterator[bytes], links: Links) -> Iterator[bytes]:
    """The worksheet's bytes as they stream, with its `<hyperlinks>` replaced by `links` (none: removed)."""
    ending = re.compile(rb"</(?:([\w.-]+):)?sheetData>|<(?:([\w.-]+):)?sheetData\s*/>")
    tail = None
    for chunk in stream:
        if tail is not None:
            tail += chunk
            continue
        m = ending.search(chunk)
        if m is None:
            yield chunk
            continue
        yield chunk[:m.end()]
        tail, prefix = chunk[m.end():], (m.group(1) or m.group(2) or b"")
    if tail is None:
        raise PatchUnsupported("the worksheet's sheetData does not end")
    p = prefix + b":" if prefix else b""
    q = re.escape(p)
    tail = re.sub(rb"<" + q + rb"hyperlinks\b[^>]*?(/>|>.*?</" + q + rb"hyperlinks>)", b"", tail, flags=re.S)
    new = hyperlinks_xml(p, links)
    place = re.search(rb"<" + q + rb"(?:" + b"|".join(_AFTER) + rb")\b", tail) or \
        re.search(rb"</" + q + rb"worksheet>", tail)
    if place is None:
        raise PatchUnsupported("the worksheet does not end")
    yield tail[:place.start()] + new + tail[place.start():]


def set_links(sheet: Any, links: Links) -> None:
    """The same with openpyxl: the tab's old links go, the new ones are set."""
    from openpyxl.worksheet.hyperlink import Hyperlink
    for row in sheet.iter_rows():
        for cell in row:
            if cell.hyperlink is not None:
                cell.hyperlink = None
    for (r, c), (title, cell) in sorted(links.items()):
        target = sheet.cell(row=r, column=c)
        target.hyperlink = Hyperlink(ref=target.coordinate, location=location(title, cell))
