"""Parsing only the rows that changed (#18, sheet/reuse.py): a load that reuses the blocks of the last one gives the
same records and the same Problems as a load that parses everything, whatever was edited in between."""
from __future__ import annotations

import base64
import copy
import hashlib
import json
import zlib
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from engine_harness import SHOP, Shop
from helpers import add_events, make_raw
from qunflow.jobs import tick_state
from qunflow.sheet import parse, reuse
from qunflow.sheet.load import load_workbook
from qunflow.sheet.reuse import BlockCache
from zoneinfo import ZoneInfo

TODAY = date(2026, 12, 3)
SH = ZoneInfo("Asia/Shanghai")
TYPES = ("message", "checkin", "order", "join")


def shop_rows(members: int, events: int, bad_every: int = 0) -> dict:
    """SHOP's groups, rules and coupons with `members` Members rows and `events` Events rows; every
    `bad_every`-th row has a bad cell (a date that cannot be, a type nobody knows, an amount that is not one...)."""
    rows = copy.deepcopy(SHOP)
    bad = (lambda i: bad_every and i % bad_every == bad_every - 1)
    rows["members"] = [{
        "member_id": f"M{i:05d}" if not (bad(i) and i % 3 == 0) else "", "name": f"member {i}",
        "group_id": ("G01", "G02", "G03")[i % 3], "platform_user_id": f"u{i}",
        "joined_at": "2026-11-31 10:00" if bad(i) else f"2026-11-{1 + i % 28:02d} 10:{i % 60:02d}",
        "tags": "vip, early" if i % 5 == 0 else "", "status": "lurking" if bad(i) else "active",
        "last_active_at": f"2026-12-0{1 + i % 2}T09:{i % 60:02d}:00+08:00" if i % 7 == 0 else None,
        "mobile": "1390013" if bad(i) and i % 2 else None,
    } for i in range(members)]
    rows["events"] = [{
        "event_id": f"E{i:06d}", "type": "wave" if bad(i) else TYPES[i % 4], "member_id": f"M{i % max(members, 1):05d}",
        "group_id": ("G01", "G02", "G03")[i % 3], "at": f"2026-12-0{1 + i % 3} {8 + i % 12:02d}:{i % 60:02d}",
        "amount": ("12.5x" if bad(i) else 10 + i % 90) if i % 4 == 2 else None,
        "detail": f"order {i}" if i % 4 == 2 else None,
    } for i in range(events)]
    rows["events"] += [dict(rows["events"][0], detail="the same id twice")]   # a duplicate: checked across rows
    return rows


class DictCache(BlockCache):
    """The blocks kept in a dict, as the state store would keep them."""

    def __init__(self, slots: dict[str, str]):
        super().__init__(lambda prefix: {k: v for k, v in slots.items() if k.startswith(prefix)}, slots.__setitem__)


def assert_same(incremental, full) -> None:
    assert incremental.events == full.events
    assert list(incremental.members.values()) == list(full.members.values())
    assert incremental.coupons == full.coupons
    assert incremental.problems == full.problems
    assert incremental == full


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(parse, "BLOCK", 7)


def test_a_second_load_takes_every_block_from_the_cache_and_gives_what_a_full_load_gives():
    raw = make_raw(shop_rows(members=2_500, events=4_500, bad_every=37))
    full = load_workbook(raw, today=TODAY)
    assert sum(p.tab == "Events" for p in full.problems) > 100 and sum(p.tab == "Members" for p in full.problems) > 50
    slots: dict[str, str] = {}
    first = DictCache(slots)
    assert_same(load_workbook(raw, today=TODAY, reuse=first), full)
    assert (first.hits, first.misses) == (0, 2 + 3 + 1)          # Members, Events (4,501 rows), Coupons
    second = DictCache(slots)
    assert_same(load_workbook(raw, today=TODAY, reuse=second), full)
    assert (second.hits, second.misses) == (6, 0)
    assert max(len(v) for v in slots.values()) < 300_000           # Firestore keeps a document under 1 MiB


def test_an_edit_parses_only_its_block_again(small_blocks):
    raw = make_raw(shop_rows(members=30, events=70, bad_every=9))
    slots: dict[str, str] = {}
    load_workbook(raw, today=TODAY, reuse=DictCache(slots))
    raw["Events"][40][1] = "wave"                                  # one bad cell in the 6th block of Events
    again = DictCache(slots)
    assert_same(load_workbook(raw, today=TODAY, reuse=again), load_workbook(raw, today=TODAY))
    assert again.misses == 1 and again.hits > 10


# --- random edits between two loads -------------------------------------------------------------------------

CELLS = st.one_of(st.none(), st.sampled_from(["", " ", "order", "wave", "M00003", "2026-02-30", "2026-12-01 10:00",
                                               "12.5", "x", "G02", "active", "vip, new", "２０２６年12月1日",
                                               "12-01 10:00", "2月29日", "02-29"]),
                  st.integers(-5, 50_000), st.floats(allow_nan=False, allow_infinity=False, width=32),
                  st.booleans(), st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 1, 1)),
                  st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 1, 1),
                               timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=8)), SH])),
                  st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 1, 1)))
EDIT = st.tuples(st.sampled_from(["cell", "bad", "insert", "delete", "append", "today", "title"]),
                 st.sampled_from(["Events", "Members", "Coupons"]), st.integers(0, 10_000), st.integers(0, 40), CELLS)


def edited(raw: dict, today: date, edits: list) -> tuple[dict, date]:
    raw = copy.deepcopy(raw)
    for kind, title, at, column, value in edits:
        rows = raw[title]
        top = 1 if len(rows[0]) > 1 else 2               # the first data row, below a title row if there is one
        body = len(rows) - top
        index = top + at % max(body, 1)
        width = len(rows[top - 1])
        if kind == "cell" and body:
            rows[index][column % width] = value
        elif kind == "bad" and body:
            rows[index][column % width] = "2026-13-45" if column % 2 else "??"
        elif kind == "insert":
            like = rows[index if body else top - 1]
            rows.insert(index, [value if i == column % width else c for i, c in enumerate(like)])
        elif kind == "delete" and body:
            del rows[index:index + 1 + column % 12]
        elif kind == "append":
            rows.extend(copy.deepcopy(rows[-1 - i % max(body, 1)]) for i in range(1 + column % 9))
        elif kind == "today":                      # a date without its year is in today's: 2月29日 may not be
            today = today + timedelta(days=1 + column % 3 + 365 * (column % 2))
        elif kind == "title" and len(rows[0]) > 1:   # a title row above the header: every row moves down one
            rows.insert(0, [f"{title} of the shop"])
    return raw, today


BASE = make_raw(shop_rows(members=25, events=60, bad_every=11))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rounds=st.lists(st.lists(EDIT, min_size=1, max_size=6), min_size=1, max_size=3))
# 2月29日: none in 2026, one in 2028
@example(rounds=[[("cell", "Events", 9, 4, "2月29日")], [("today", "Events", 0, 1, None)] * 2])
@example(rounds=[[("title", "Members", 0, 0, None)], [("title", "Events", 0, 0, None)]])  # every row one lower
def test_after_random_edits_an_incremental_load_equals_a_full_load(small_blocks, rounds):
    slots: dict[str, str] = {}
    raw, today = BASE, TODAY
    assert_same(load_workbook(raw, today=today, reuse=DictCache(slots)), load_workbook(raw, today=today))
    for edits in rounds:
        raw, today = edited(raw, today, edits)
        assert_same(load_workbook(raw, today=today, reuse=DictCache(slots)), load_workbook(raw, today=today))


# --- the state stores -------------------------------------------------------------------------------------

def test_blocks_kept_in_each_state_store_give_the_same_workbook(state):
    raw = make_raw(shop_rows(members=2_100, events=2_500, bad_every=23))
    full = load_workbook(raw, today=TODAY)
    now = [1_800_000_000.0]
    first = tick_state.parsed_blocks(state, lambda: now[0])
    assert_same(load_workbook(raw, today=TODAY, reuse=first), full)
    second = tick_state.parsed_blocks(state, lambda: now[0] + 3600)
    assert_same(load_workbook(raw, today=TODAY, reuse=second), full)
    assert (second.hits, second.misses) == (first.misses, 0) and first.misses == 5
    later = tick_state.parsed_blocks(state, lambda: now[0] + tick_state.PARSED_DAYS * 86400 + 1)
    assert_same(load_workbook(raw, today=TODAY, reuse=later), full)
    assert later.hits == 0                                         # expired: parsed, and kept again


# --- what the cache holds is never trusted to be well formed -------------------------------------------------

def _forged(slot: str, payload: dict) -> str:
    """A slot that passes the digest but holds `payload`: what a damaged or hand-edited store could hold."""
    envelope = json.loads(slot)
    packed = zlib.compress(json.dumps(payload).encode())
    envelope.update(z=base64.b64encode(packed).decode(), sum=hashlib.blake2b(packed, digest_size=16).hexdigest())
    return json.dumps(envelope)


def _flipped(slot: str) -> str:
    envelope = json.loads(slot)
    z = envelope["z"]
    envelope["z"] = z[:20] + ("B" if z[20] != "B" else "C") + z[21:]
    return json.dumps(envelope)


def _payload(slot: str) -> dict:
    return json.loads(zlib.decompress(base64.b64decode(json.loads(slot)["z"])))


TAMPERINGS = {
    "not json": lambda s, other: "{not json",
    "a list": lambda s, other: "[1, 2]",
    "another version": lambda s, other: s.replace('"v":1', '"v":0'),
    "a flipped byte": lambda s, other: _flipped(s),
    "not base64": lambda s, other: s.replace('"z":"', '"z":"!!', 1),
    "a wrong digest": lambda s, other: s.replace('"sum":"', '"sum":"0', 1),
    "another block's entry": lambda s, other: other,
    "a column too short": lambda s, other: _forged(s, {**_payload(s), "count": _payload(s)["count"] + 1}),
    "an unknown column kind": lambda s, other: _forged(s, {**_payload(s), "columns": [["pickle", []]] * 18}),
    "a row outside its block": lambda s, other: _forged(s, {**_payload(s), "columns": _payload(s)["columns"][:-1]
                                                        + [["raw", [10 ** 9] * _payload(s)["count"]]]}),
    "a bad date": lambda s, other: _forged(s, {**_payload(s), "columns": [
        ["dt", ["2026-99-99"] * _payload(s)["count"]] if c[0] == "dt" else c for c in _payload(s)["columns"]]}),
    "a bad tag": lambda s, other: _forged(s, {**_payload(s), "columns": [
        ["any", [["exec", "print(1)"]] * _payload(s)["count"]] if c[0] == "dt" else c
        for c in _payload(s)["columns"]]}),
    "a Problem of another shape": lambda s, other: _forged(s, {**_payload(s), "problems": [["Events", "x"]]}),
    "no payload": lambda s, other: _forged(s, {}),
}


@pytest.mark.parametrize("how", sorted(TAMPERINGS))
def test_a_damaged_or_edited_entry_is_a_miss_never_an_error(small_blocks, how):
    raw = make_raw(shop_rows(members=10, events=30, bad_every=4))
    slots: dict[str, str] = {}
    load_workbook(raw, today=TODAY, reuse=DictCache(slots))
    name, other = f"{BlockCache.prefix('events')}00001", f"{BlockCache.prefix('events')}00002"
    slots[name] = TAMPERINGS[how](slots[name], slots[other])
    again = DictCache(slots)
    assert_same(load_workbook(raw, today=TODAY, reuse=again), load_workbook(raw, today=TODAY))
    assert again.misses == 1
    assert reuse.decode_block("events", json.loads(slots[name])["fp"], slots[name], range(1, 10 ** 6))  # kept again


def test_a_value_the_codec_does_not_know_leaves_its_block_unkept():
    with pytest.raises(reuse.Undecodable):
        reuse.encode_block("events", "fp", [type("Odd", (), {"__getattr__": lambda self, n: object()})()], [])


# --- a tick that reuses is the same tick ----------------------------------------------------------------------

def _ticks(state, monkeypatch, reusing: bool, caches: list | None = None):
    made = tick_state.parsed_blocks
    monkeypatch.setattr(tick_state, "parsed_blocks",
                        lambda state, clock: caches.append(made(state, clock)) or caches[-1] if reusing else None)
    rows = shop_rows(members=40, events=50, bad_every=13)
    shop = Shop(datetime(2026, 12, 1, 9, 55, tzinfo=SH), rows=rows, state=state)
    seen = []
    try:
        for minute, joins in ((55, []), (60, ["N1", "N2"]), (65, []), (70, ["N3"])):
            add_events(shop.store, [{"event_id": f"J-{n}", "type": "join", "member_id": n, "group_id": "G01",
                                     "at": "2026-12-01 09:58", "detail": f"name={n}"} for n in joins])
            report = shop.tick(datetime(2026, 12, 1, 9, 0, tzinfo=SH) + timedelta(minutes=minute))
            seen.append((report.as_json(), copy.deepcopy(shop.store.raw), [m["text"] for m in shop.emulator.messages]))
    finally:
        shop.close()
    return seen


def test_a_tick_that_reuses_blocks_reports_and_writes_what_a_tick_that_parses_everything_does(tmp_path, monkeypatch,
                                                                                            small_blocks):
    from qunflow.state.sqlite import SqliteState
    stores = [SqliteState(tmp_path / "reusing.sqlite"), SqliteState(tmp_path / "parsing.sqlite")]
    try:
        caches: list[BlockCache] = []
        reusing = _ticks(stores[0], monkeypatch, True, caches)
        assert len(caches) == 4 and caches[0].hits == 0 and all(c.hits for c in caches[1:])
        then = datetime(2026, 12, 1, 10, tzinfo=SH).timestamp()
        assert stores[0].cached_under(BlockCache.prefix("events"), then)
        parsing = _ticks(stores[1], monkeypatch, False)
        assert not stores[1].cached_under("parsed:", then)
    finally:
        for store in stores:
            store.close()
    assert reusing == parsing
    assert any(texts for _, _, texts in reusing)


def test_a_block_too_big_for_a_document_is_not_kept_and_the_load_is_the_same(monkeypatch):
    monkeypatch.setattr(reuse, "MAX_SLOT", 100)
    raw = make_raw(shop_rows(members=50, events=50, bad_every=7))
    slots: dict[str, str] = {}
    assert_same(load_workbook(raw, today=TODAY, reuse=DictCache(slots)), load_workbook(raw, today=TODAY))
    assert slots == {}
