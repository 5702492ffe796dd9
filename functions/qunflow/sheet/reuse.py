"""Reusing the typed records of rows that did not change since the last load (issue #18: incremental work).

The big tabs (Events, Members, Coupons) are parsed in blocks of BLOCK rows. A block's fingerprint is a blake2b
digest of everything its records and Problems depend on: the parsing code itself (the source of qunflow.sheet and
qunflow.sop), the tab's schema, its title, the header row as located and where it is, the block's first sheet row,
the block's raw cells (by repr: 1, 1.0, True and "1" stay apart, datetimes keep their zone), `today` and the language
of the Problems. Equal fingerprints, equal results: a block whose fingerprint matches what the cache holds takes
the records and Problems stored for it, row numbers included; any other block is parsed and stored again.

Where blocks are kept is injected (`BlockCache(read_all, write)`): the tick backs it by the state store. Each block
has one slot, `parsed:v<VERSION>:<tab>:<block number>`, overwritten when its fingerprint changes, so the store holds
one entry per block however often rows change (a fingerprint in the name would leave an entry behind for every
edit, and neither store deletes expired entries). A slot's value is JSON: the fingerprint, a digest of the payload,
and the payload (JSON, zlib, base64) of plain values with a small tagged codec for the types records hold.
Never pickle: reading the store must not be a way to run code. An entry that is damaged, was edited, or does not
decode is a miss, never an error. Change VERSION when a record's shape or the codec changes.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import zlib
from dataclasses import fields
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

from .problems import Problem
from .records import RECORDS

VERSION = 1
TABS = frozenset({"events", "members", "coupons"})   # the tabs that grow: the others are parsed whole
BLOCK = 2000          # rows per block: a Members block is ~100 KiB compressed, well under Firestore's 1 MiB a document
MAX_SLOT = 900_000    # characters: a block that would not fit a Firestore document is parsed every time instead


class Undecodable(ValueError):
    """A value the codec does not know (a block holding one is parsed every time), or a damaged entry."""


def _code_digest() -> bytes:
    """The parsing code itself: a deploy that parses differently misses every block it did not parse."""
    digest = hashlib.blake2b(digest_size=16)
    root = Path(__file__).resolve().parent
    for path in sorted(list(root.glob("*.py")) + list((root.parent / "sop").glob("*.py"))):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.digest()


_CODE: bytes | None = None


def context(table: Any, today: date | None, lang: str) -> bytes:
    """What every block of `table` shares: computed once a load."""
    global _CODE
    if _CODE is None:
        _CODE = _code_digest()
    shared = (VERSION, table.schema.key, table.title, table.header, sorted(table.columns.items()), table.header_row,
              repr(table.schema), today, lang)
    return _CODE + repr(shared).encode("utf-8", "surrogatepass")


def fingerprint(shared: bytes, first_row: int, rows: list[list[Any]]) -> str:
    digest = hashlib.blake2b(shared, digest_size=20)
    digest.update(repr((first_row, rows)).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


# --- the codec: plain JSON values as they are, the others as [tag, ...] (no record field holds a list) -----------

def _encode(value: Any) -> Any:
    kind = value.__class__
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return value if value == value and value not in (float("inf"), float("-inf")) else ["f", repr(value)]
    if kind is tuple:
        return ["t"] + [_encode(v) for v in value]
    if kind is datetime:
        zone = value.tzinfo
        if zone is None or zone.__class__ is timezone:
            return ["dt", value.isoformat()]
        if zone.__class__ is ZoneInfo and zone.key:
            return ["dz", value.replace(tzinfo=None).isoformat(), zone.key, value.fold]
        raise Undecodable(f"a datetime in {zone!r}")
    if kind is date:
        return ["d", value.isoformat()]
    if kind is time and value.tzinfo is None:
        return ["tm", value.isoformat()]
    if kind is Decimal:
        return ["n", str(value)]
    if kind is timedelta:
        return ["td", value.days, value.seconds, value.microseconds]
    raise Undecodable(f"a {kind.__name__}")


def _decode(value: Any) -> Any:
    if value.__class__ is not list:
        if value is None or value.__class__ in (str, int, bool, float):
            return value
        raise Undecodable("not a value")
    tag = value[0] if value else None
    if tag == "t":
        return tuple(_decode(v) for v in value[1:])
    if tag == "dt" and len(value) == 2:
        return datetime.fromisoformat(value[1])
    if tag == "dz" and len(value) == 4:
        return datetime.fromisoformat(value[1]).replace(tzinfo=ZoneInfo(value[2]), fold=int(value[3]))
    if tag == "d" and len(value) == 2:
        return date.fromisoformat(value[1])
    if tag == "tm" and len(value) == 2:
        return time.fromisoformat(value[1])
    if tag == "n" and len(value) == 2:
        return Decimal(value[1])
    if tag == "f" and len(value) == 2 and value[1] in ("nan", "inf", "-inf"):
        return float(value[1])
    if tag == "td" and len(value) == 4:
        return timedelta(days=value[1], seconds=value[2], microseconds=value[3])
    raise Undecodable(f"tag {tag!r}")


_FIELDS: dict[str, tuple[str, ...]] = {}


def _names(tab: str) -> tuple[str, ...]:
    if tab not in _FIELDS:
        _FIELDS[tab] = tuple(f.name for f in fields(RECORDS[tab]))
    return _FIELDS[tab]


_PLAIN = frozenset({str, int, bool, type(None)})


def _column(values: list[Any]) -> list[Any]:
    """One field of every record in a block, as [kind, values]: most columns hold one type, decoded at once."""
    kinds = {v.__class__ for v in values}
    if kinds <= _PLAIN:
        return ["raw", values]
    kinds.discard(type(None))
    if kinds == {datetime} and all(v.tzinfo is None or v.tzinfo.__class__ is timezone for v in values if v is not None):
        return ["dt", [None if v is None else v.isoformat() for v in values]]
    if kinds == {tuple} and all(x.__class__ is str for v in values if v is not None for x in v):
        return ["t", [None if v is None else list(v) for v in values]]
    if kinds == {Decimal}:
        return ["n", [None if v is None else str(v) for v in values]]
    if kinds == {date}:
        return ["d", [None if v is None else v.isoformat() for v in values]]
    return ["any", [_encode(v) for v in values]]


def _uncolumn(column: Any, count: int) -> list[Any]:
    if column.__class__ is not list or len(column) != 2 or column[1].__class__ is not list or len(column[1]) != count:
        raise Undecodable("a column of another shape")
    kind, values = column
    if kind == "raw":
        return values
    if kind == "dt":
        read = datetime.fromisoformat
        return [None if v is None else read(v) for v in values]
    if kind == "t":
        return [None if v is None else tuple(v) for v in values]
    if kind == "n":
        return [None if v is None else Decimal(v) for v in values]
    if kind == "d":
        read = date.fromisoformat
        return [None if v is None else read(v) for v in values]
    if kind == "any":
        return [_decode(v) for v in values]
    raise Undecodable(f"column kind {kind!r}")


def encode_block(tab: str, fp: str, records: list[Any], problems: list[Problem]) -> str:
    payload = json.dumps({
        "count": len(records),
        "columns": [_column([getattr(r, n) for r in records]) for n in _names(tab)],
        "problems": [[p.tab, p.row, p.column, p.value, p.message, p.severity, p.code] for p in problems],
    }, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
    packed = zlib.compress(payload, 1)
    return json.dumps({"v": VERSION, "tab": tab, "fp": fp, "sum": hashlib.blake2b(packed, digest_size=16).hexdigest(),
                       "z": base64.b64encode(packed).decode("ascii")}, separators=(",", ":"))


def decode_block(tab: str, fp: str, text: str, rows: range) -> tuple[list[Any], list[Problem]]:
    """The records and Problems a slot holds for the block `fp` of sheet rows `rows`; Undecodable if it does not
    hold exactly that, intact. (The digest tells damage, not intent: whoever may write the store may also write
    its bindings.)"""
    try:
        envelope = json.loads(text)
        if not isinstance(envelope, dict) or envelope.get("v") != VERSION or envelope.get("tab") != tab:
            raise Undecodable("another version")
        if envelope.get("fp") != fp:
            raise Undecodable("another block")
        packed = base64.b64decode(envelope["z"], validate=True)
        if hashlib.blake2b(packed, digest_size=16).hexdigest() != envelope.get("sum"):
            raise Undecodable("damaged")
        payload = json.loads(zlib.decompress(packed).decode("utf-8", "surrogatepass"))
        names, count = _names(tab), payload["count"]
        if count.__class__ is not int or payload["columns"].__class__ is not list or \
                len(payload["columns"]) != len(names):
            raise Undecodable("records of another shape")
        columns = [_uncolumn(c, count) for c in payload["columns"]]
        record_type = RECORDS[tab]
        at = columns[names.index("row")]
        if at and ({v.__class__ for v in at} != {int} or min(at) < rows.start or max(at) >= rows.stop):
            raise Undecodable("a row outside its block")
        records = [record_type(*values) for values in zip(*columns)]
        problems = []
        for p in payload["problems"]:
            if p.__class__ is not list or len(p) != 7 or not all(isinstance(v, str) for v in p[2:]) or \
                    not isinstance(p[0], str) or p[1].__class__ is not int or p[1] not in rows:
                raise Undecodable("a Problem of another shape")
            problems.append(Problem(*p))
        return records, problems
    except Undecodable:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError, RecursionError,
            InvalidOperation, binascii.Error, zlib.error) as error:
        raise Undecodable(str(error)) from None


class BlockCache:
    """The `reuse` parse_table takes: blocks kept through `read_all(prefix) -> {name: text}` and
    `write(name, text)`, both injected (the tick: its state store). `hits` and `misses` count blocks."""

    def __init__(self, read_all: Callable[[str], dict[str, str]], write: Callable[[str, str], None]):
        self._read_all, self._write = read_all, write
        self._slots: dict[str, dict[str, str]] = {}
        self.hits = self.misses = 0

    @staticmethod
    def prefix(tab: str) -> str:
        return f"parsed:v{VERSION}:{tab}:"

    def _name(self, tab: str, block: int) -> str:
        return f"{self.prefix(tab)}{block:05d}"

    def get(self, tab: str, block: int, fp: str, rows: range) -> tuple[list[Any], list[Problem]] | None:
        if tab not in self._slots:
            self._slots[tab] = self._read_all(self.prefix(tab))
        text = self._slots[tab].get(self._name(tab, block))
        if text is not None:
            try:
                found = decode_block(tab, fp, text, rows)
                self.hits += 1
                return found
            except Undecodable:
                pass
        self.misses += 1
        return None

    def put(self, tab: str, block: int, fp: str, records: list[Any], problems: list[Problem]) -> None:
        try:
            text = encode_block(tab, fp, records, problems)
        except Undecodable:
            return                     # a value the codec does not know: this block is parsed every time
        if len(text) <= MAX_SLOT:
            self._write(self._name(tab, block), text)
