"""A write plan in Google-sized pieces: cells merged into ranges, requests under MAX_REQUEST_BYTES. Pure.

- `merge_writes`: single-row writes of one tab (a member's `welcomed_at`, a rule's status, one cell each) become
  the fewest rectangles that cover exactly the cells written: a run of adjacent cells in a row is one range,
  and rows whose runs start and end in the same columns stack into one block. A later write of a cell wins, as
  it would applied in order. Multi-row blocks (a SendLog page, the Problems tab) stay as they are; when a
  single-row write falls inside one, nothing of that tab is merged (the order then matters and is kept).
- `split_writes` / `split_rows`: the batch write and each append in requests whose JSON body stays under
  MAX_REQUEST_BYTES (SHEETS.md: keep payloads under about 2 MB; a request past 180 s times out), a block too
  big for one request cut between rows. A steady-state tick writes a few kilobytes: one request, as before.
Sizes are counted as the wire carries them: requests' JSON, ASCII-escaped (a Chinese character is 6 bytes).
"""
from __future__ import annotations

import json
from typing import Any, Callable, Iterable

from .writeplan import RangeWrite

MAX_REQUEST_BYTES = 2_000_000
ENVELOPE = 200          # the range's A1 text and the JSON around one entry of `data`
HEADROOM = 0.95         # the body is counted row by row; this covers what the client's encoder adds around them


def _size(value: Any) -> int:
    return len(json.dumps(value, default=str))


def merge_writes(writes: list[RangeWrite]) -> list[RangeWrite]:
    by_title: dict[str, list[RangeWrite]] = {}
    for w in writes:
        by_title.setdefault(w.title, []).append(w)
    out: list[RangeWrite] = []
    for title, group in by_title.items():
        blocks = [w for w in group if len(w.values) > 1]
        cells: dict[tuple[int, int], Any] = {}
        for w in group:
            if len(w.values) == 1:
                for j, value in enumerate(w.values[0]):
                    cells[(w.row, w.col + j)] = value
        if any(_inside(cells, b) for b in blocks):
            out += group                   # a cell under a block: keep every write, in order
            continue
        out += blocks + _rectangles(title, cells)
    return out


def _inside(cells: dict[tuple[int, int], Any], block: RangeWrite) -> bool:
    width = max((len(r) for r in block.values), default=0)
    return any(block.row <= r <= block.last_row and block.col <= c < block.col + width for r, c in cells)


def _rectangles(title: str, cells: dict[tuple[int, int], Any]) -> list[RangeWrite]:
    runs: list[tuple[int, int, list[Any]]] = []          # (row, first column, values), rows then columns in order
    for (r, c) in sorted(cells):
        if runs and runs[-1][0] == r and runs[-1][1] + len(runs[-1][2]) == c:
            runs[-1][2].append(cells[(r, c)])
        else:
            runs.append((r, c, [cells[(r, c)]]))
    open_blocks: dict[tuple[int, int], RangeWrite] = {}     # (first column, width) -> the block its last row ends
    out: list[RangeWrite] = []
    for r, c, values in runs:
        shape = (c, len(values))
        block = open_blocks.get(shape)
        if block is not None and block.last_row + 1 == r:
            block.values.append(values)
            continue
        block = RangeWrite(title, r, c, [values])
        open_blocks[shape] = block
        out.append(block)
    return out


def split_writes(writes: Iterable[RangeWrite], limit: int = MAX_REQUEST_BYTES) -> list[list[RangeWrite]]:
    """The writes in batches of at most `limit` bytes each (a block bigger than that cut between rows)."""
    limit = int(limit * HEADROOM)
    batches: list[list[RangeWrite]] = [[]]
    used = 0
    for w in writes:
        for piece, size in _pieces(w, limit):
            if batches[-1] and used + size > limit:
                batches.append([])
                used = 0
            batches[-1].append(piece)
            used += size
    return [b for b in batches if b]


def _pieces(w: RangeWrite, limit: int) -> list[tuple[RangeWrite, int]]:
    sizes = [_size(row) + 2 for row in w.values]
    total = sum(sizes) + ENVELOPE
    if total <= limit:
        return [(w, total)]
    out, start, used = [], 0, ENVELOPE
    for i, size in enumerate(sizes):
        if i > start and used + size > limit:
            out.append((RangeWrite(w.title, w.row + start, w.col, w.values[start:i]), used))
            start, used = i, ENVELOPE
        used += size
    out.append((RangeWrite(w.title, w.row + start, w.col, w.values[start:]), used))
    return out


def split_rows(rows: list[list[Any]], limit: int = MAX_REQUEST_BYTES,
               size: Callable[[Any], int] = _size) -> list[list[list[Any]]]:
    """An append's rows in consecutive chunks of at most `limit` bytes (a single row bigger than that alone)."""
    limit = int(limit * HEADROOM)
    chunks: list[list[list[Any]]] = [[]]
    used = ENVELOPE
    for row in rows:
        n = size(row) + 2
        if chunks[-1] and used + n > limit:
            chunks.append([])
            used = ENVELOPE
        chunks[-1].append(row)
        used += n
    return [c for c in chunks if c]
