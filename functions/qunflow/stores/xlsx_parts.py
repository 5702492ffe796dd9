"""The .xlsx package (a zip of XML parts) at the byte level, for the surgical writer (xlsx_patch.py).

- `Package` reads the source: its members, each member's compressed bytes as they are, and which worksheet
  part holds which tab (xl/workbook.xml + its .rels, resolved like Excel does).
- `PackageWriter` writes the new zip in the source's member order: a member copied keeps its compressed
  bytes, CRC and sizes exactly (nothing is inflated or deflated again); a changed member was deflated as it
  streamed into a temporary file (`deflate`) and is put in its place. No data descriptors, no ZIP64: a member
  or an offset past 4 GiB raises PatchUnsupported (the caller falls back to openpyxl).
- `without_part` edits the small XML of [Content_Types].xml or a .rels as bytes, removing one element and
  leaving every other byte as it was (used to drop xl/calcChain.xml).
"""
from __future__ import annotations

import posixpath
import re
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Iterator
from xml.etree import ElementTree as ET

LOCAL = struct.Struct("<4sHHHHHLLLHH")          # local file header, 30 bytes
CENTRAL = struct.Struct("<4sBBHHHHHLLLHHHHHLL")  # central directory record, 46 bytes
END = struct.Struct("<4sHHHHLLH")               # end of central directory, 22 bytes
LIMIT = 0xFFFFFFFF
CHUNK = 1 << 20
UTF8_NAME = 0x800
DESCRIPTOR = 0x08
OFFICE_DOCUMENT = "/officeDocument"
CALC_CHAIN = "/calcChain"


class PatchUnsupported(Exception):
    """The workbook has something the surgical writer does not handle; the caller writes it with openpyxl."""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _attr(element: ET.Element, name: str) -> str | None:
    """An attribute by its local name, whatever its namespace (transitional or strict OOXML)."""
    for key, value in element.attrib.items():
        if _local(key) == name:
            return value
    return None


def _resolve(base_part: str, target: str) -> str:
    """A relationship target as a member name: absolute ("/xl/x.xml") or relative to the source part's folder."""
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(posixpath.dirname(base_part), target))


def rels_name(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


class Package:
    """A source .xlsx, read from an open binary file (the very file whose digest was checked)."""

    def __init__(self, f: BinaryIO):
        self.f = f
        try:
            self.zip = zipfile.ZipFile(f)
        except zipfile.BadZipFile as exc:
            raise PatchUnsupported(f"not a zip package: {exc}") from exc
        self.infos = self.zip.infolist()
        self.names = {i.filename for i in self.infos}
        for info in self.infos:
            if info.flag_bits & 0x1:
                raise PatchUnsupported(f"{info.filename} is encrypted")
            if max(info.file_size, info.compress_size, info.header_offset) >= LIMIT:
                raise PatchUnsupported("a ZIP64 package")
        self.workbook = self._workbook_part()

    def read(self, name: str) -> bytes:
        return self.zip.read(name)

    def chunks(self, name: str) -> Iterator[bytes]:
        """A member's content, inflated, in chunks of about a MiB."""
        with self.zip.open(name) as member:
            while block := member.read(CHUNK):
                yield block

    def raw(self, info: zipfile.ZipInfo) -> Iterator[bytes]:
        """A member's compressed bytes, exactly as stored."""
        self.f.seek(info.header_offset)
        head = self.f.read(LOCAL.size)
        fields = LOCAL.unpack(head)
        if fields[0] != b"PK\x03\x04":
            raise PatchUnsupported(f"{info.filename}: bad local header")
        self.f.seek(info.header_offset + LOCAL.size + fields[9] + fields[10])
        left = info.compress_size
        while left:
            block = self.f.read(min(CHUNK, left))
            if not block:
                raise PatchUnsupported(f"{info.filename}: truncated")
            left -= len(block)
            yield block

    def rels(self, part: str) -> list[tuple[str, str, str]]:
        """(Id, Type, member name) of each relationship of `part`."""
        name = rels_name(part)
        if name not in self.names:
            return []
        out = []
        for element in ET.fromstring(self.read(name)):
            if _local(element.tag) == "Relationship" and element.get("TargetMode") != "External":
                out.append((element.get("Id", ""), element.get("Type", ""), _resolve(part, element.get("Target", ""))))
        return out

    def _workbook_part(self) -> str:
        for _, kind, name in self.rels(""):
            if kind.endswith(OFFICE_DOCUMENT) and name in self.names:
                return name
        if "xl/workbook.xml" in self.names:
            return "xl/workbook.xml"
        raise PatchUnsupported("no workbook part")

    def sheet_parts(self) -> dict[str, str]:
        """Tab title -> its worksheet member (chartsheets and missing parts are left out)."""
        targets = {rid: name for rid, kind, name in self.rels(self.workbook) if kind.endswith("/worksheet")}
        out = {}
        for element in ET.fromstring(self.read(self.workbook)).iter():
            if _local(element.tag) == "sheet":
                name, rid = element.get("name"), _attr(element, "id")
                if name is not None and targets.get(rid or "") in self.names:
                    out[name] = targets[rid]
        return out

    def calc_chain(self) -> tuple[str, str] | None:
        """(relationship Id, member name) of xl/calcChain.xml, if the workbook has one."""
        for rid, kind, name in self.rels(self.workbook):
            if kind.endswith(CALC_CHAIN):
                return rid, name
        return None


def without_part(xml: bytes, element: str, attribute: str, value: str) -> bytes:
    """`xml` without the `element` whose `attribute` is `value` (self-closing or empty); all else byte for byte."""
    pattern = re.compile(rb"<(?:[\w.-]+:)?" + element.encode() + rb"\s[^>]*?\b" + attribute.encode()
                         + rb"\s*=\s*[\"']" + re.escape(value.encode()) + rb"[\"'][^>]*?(?:/>|>\s*</(?:[\w.-]+:)?"
                         + element.encode() + rb">)")
    return pattern.sub(b"", xml, count=1)


def _dos(date_time: tuple[int, ...]) -> tuple[int, int]:
    year, month, day, hour, minute, second = date_time
    return (hour << 11) | (minute << 5) | (second // 2), (max(year, 1980) - 1980) << 9 | (month << 5) | day


def _encoded_name(info: zipfile.ZipInfo) -> tuple[bytes, int]:
    try:
        return info.filename.encode("ascii"), info.flag_bits & ~UTF8_NAME
    except UnicodeEncodeError:
        return info.filename.encode("utf-8"), info.flag_bits | UTF8_NAME


def _without_zip64(extra: bytes) -> bytes:
    """The central extra field without a ZIP64 entry (id 1): the sizes and offsets written here are 32-bit."""
    out, at = b"", 0
    while at + 4 <= len(extra):
        kind, size = struct.unpack("<HH", extra[at:at + 4])
        if kind != 1:
            out += extra[at:at + 4 + size]
        at += 4 + size
    return out


@dataclass
class Deflated:
    """A member's new content, already deflated into a temporary file."""
    file: BinaryIO
    crc: int
    csize: int
    size: int


def deflate(data: Iterable[bytes], level: int = 6) -> Deflated:
    """Deflate `data` as it streams (raw deflate, as zip stores it) into a temporary file."""
    out = tempfile.TemporaryFile()
    try:
        squeeze = zlib.compressobj(level, zlib.DEFLATED, -15)
        crc = size = 0
        for block in data:
            crc, size = zlib.crc32(block, crc), size + len(block)
            out.write(squeeze.compress(block))
        out.write(squeeze.flush())
        if max(size, out.tell()) >= LIMIT:
            raise PatchUnsupported("a member would need ZIP64")
        return Deflated(out, crc, out.tell(), size)
    except BaseException:
        out.close()
        raise


class PackageWriter:
    """Writes a zip member by member, in the order given; `close` adds the central directory."""

    def __init__(self, out: BinaryIO):
        self.out = out
        self.records: list[bytes] = []

    def _member(self, info: zipfile.ZipInfo, method: int, crc: int, csize: int, size: int,
                data: Iterable[bytes]) -> None:
        offset = self.out.tell()
        if max(offset, csize, size) >= LIMIT or len(self.records) >= 0xFFFF:
            raise PatchUnsupported("the new package would need ZIP64")
        name, flags = _encoded_name(info)
        flags &= ~DESCRIPTOR                  # sizes and CRC are in the local header: no data descriptor
        time, date = _dos(info.date_time)
        version = max(info.extract_version, 20)
        self.out.write(LOCAL.pack(b"PK\x03\x04", version, flags, method, time, date, crc, csize, size, len(name), 0)
                       + name)
        for block in data:
            self.out.write(block)
        extra, comment = _without_zip64(info.extra), info.comment or b""
        self.records.append(CENTRAL.pack(b"PK\x01\x02", info.create_version, info.create_system, version, flags,
                                         method, time, date, crc, csize, size, len(name), len(extra), len(comment),
                                         0, info.internal_attr, info.external_attr, offset) + name + extra + comment)

    def copy(self, package: Package, info: zipfile.ZipInfo) -> None:
        """The member exactly as stored: the same compressed bytes, CRC and sizes."""
        self._member(info, info.compress_type, info.CRC, info.compress_size, info.file_size, package.raw(info))

    def put(self, info: zipfile.ZipInfo, new: Deflated) -> None:
        """`info`'s member with a new content (its name, time and attributes kept)."""
        try:
            new.file.seek(0)
            self._member(info, zipfile.ZIP_DEFLATED, new.crc, new.csize, new.size,
                         iter(lambda: new.file.read(CHUNK), b""))
        finally:
            new.file.close()

    def put_bytes(self, info: zipfile.ZipInfo, data: bytes) -> None:
        self.put(info, deflate([data]))

    def close(self) -> None:
        start = self.out.tell()
        for record in self.records:
            self.out.write(record)
        size = self.out.tell() - start
        if max(start, size) >= LIMIT:
            raise PatchUnsupported("the new package would need ZIP64")
        self.out.write(END.pack(b"PK\x05\x06", 0, 0, len(self.records), len(self.records), size, start, 0))
        self.out.flush()
