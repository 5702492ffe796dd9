"""The scans that were worse than linear (#18 item 2), the old way against the new, side by side in one run.

- the leaderboard: {{ leaderboard }} in 100 sends of one tick over a month of events (500,000);
- the daily cap: the sends of 1,000 groups counted against a month of SendLog (150,000 sends);
- rule statuses: SOP.status for 2,000 rules over 1,000 groups (400 of the rules target every group);
- times read from text: 700,000 sheet cells, and 150,000 sends' four times from the state file.

The old ways are kept in tests/test_hotspots.py, which asserts that both give the same result; here each is
timed (wall seconds, one run, gc as the tick has it) and its result compared again. An old way that would take
minutes is timed on a sample and scaled, and the row says so. Fixed seeds. With --publish the table goes into
docs/PERFORMANCE.md (block "hotspots"); BENCH_QUICK=1 runs small sizes, printed only.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from publish import publish, quick, should_publish  # noqa: E402
from workbooks import raw  # noqa: E402

from qunflow.sheet.load import load_workbook  # noqa: E402
from test_hotspots import (old_apply_caps, old_from_iso, old_leaderboard, old_parse_datetime,  # noqa: E402
                           old_status_texts)

NOW = datetime(2026, 12, 31, 12, 1, tzinfo=timezone.utc)    # 20:01 in Shanghai
ROWS: list[str] = []


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def row(what: str, size: str, old: float, new: float, note: str = "") -> None:
    ratio = f"{old / new:,.0f}x" if new > 0 else "-"
    ROWS.append(f"| {what} | {size} | {old:.2f} s | {new:.3f} s | {ratio} | {note} |")
    print(ROWS[-1], flush=True)


def month_of_events(wb, n: int, seed: int = 1) -> None:
    """`n` events over the 30 days before NOW on the workbook's members: messages, check-ins, orders, and some
    joins and invites (5% each: the referrals the board counts)."""
    from qunflow.sheet.records import Event
    rng = random.Random(seed)
    people = [m for m in wb.members.values()]
    start = (NOW - timedelta(days=30)).replace(tzinfo=None) + timedelta(hours=8)
    events = []
    for i in range(n):
        m = people[rng.randrange(len(people))]
        at = start + timedelta(seconds=rng.randrange(30 * 86400))
        roll = rng.random()
        if roll < 0.05:
            friend = people[rng.randrange(len(people))]
            events.append(Event(f"E{i}", "invite", m.member_id, at, m.group_id, detail=f"member={friend.member_id}", row=i + 2))
        elif roll < 0.10:
            events.append(Event(f"E{i}", "join", f"N{i:07d}", at, m.group_id, row=i + 2))
        else:
            events.append(Event(f"E{i}", rng.choice(["message", "checkin", "order"]), m.member_id, at, m.group_id,
                                detail="hi", row=i + 2))
    wb.events = events


def bench_leaderboard(members: int, events: int, sends: int, sample: int) -> None:
    from types import SimpleNamespace
    from qunflow.engine.leaderboard import leaderboard
    wb = load_workbook(raw(members, 1000, 50), today=date(2026, 12, 31))
    month_of_events(wb, events)
    groups = list(wb.groups.values())
    # one tick's sends: most at 20:00, a catch-up few at 19:55 (their own moment, their own prefix of events)
    ps = [SimpleNamespace(group=groups[i % len(groups)], at=NOW - timedelta(minutes=1 if i % 10 else 6))
          for i in range(sends)]
    new, t_new = timed(lambda: [leaderboard(p, wb) for p in ps])
    old, t_old = timed(lambda: [old_leaderboard(p, wb) for p in ps[:sample]])
    assert old == new[:sample], "the index's board differs from the old one"
    scale = sends / sample
    note = f"old timed on {sample} sends, x{scale:.0f}" if sample < sends else ""
    row("leaderboard ({{ leaderboard }} in every send)", f"{sends} sends x {events:,} events, {members:,} members",
        t_old * scale, t_new, note)


def bench_caps(groups: int, sends_logged: int) -> None:
    from qunflow.engine import guard
    from qunflow.engine.ledger import Entry, Ledger
    from qunflow.engine.planned import PlannedSend
    wb = load_workbook(raw(1000, groups, 1), today=date(2026, 12, 31))
    rng = random.Random(2)
    ledger = Ledger()
    gids = list(wb.groups)
    for i in range(sends_logged):
        sent = NOW - timedelta(seconds=rng.randrange(30 * 86400))
        ledger.add(Entry(f"S{i}", "sent", 1, sent, sent, gids[rng.randrange(len(gids))], "R"))
    rule = wb.sop[0]

    def planned():      # two sends per group due now, one tomorrow: two (group, local day) counts per group
        return [PlannedSend(f"P{g}:{k}", rule, wb.groups[g], NOW + timedelta(days=k // 2), NOW + timedelta(days=k // 2))
                for g in gids for k in range(3)]
    a, b = planned(), planned()
    _, t_new = timed(lambda: guard.apply_caps(a, wb, ledger))
    _, t_old = timed(lambda: old_apply_caps(b, wb, ledger))
    assert [(p.policy, p.at) for p in a] == [(p.policy, p.at) for p in b], "the capped sends differ"
    row("daily-cap counts", f"{groups:,} groups x 2 days, {sends_logged:,} sends logged", t_old, t_new,
        f"{sum(p.policy == 'deferred' for p in a):,} of {len(a):,} deferred in both")


def bench_statuses(groups: int, rules: int) -> None:
    from qunflow.engine.outcomes import rule_statuses
    from qunflow.sheet.changes import Changes
    wb = load_workbook(raw(1000, groups, rules), today=date(2026, 12, 31))
    changes = Changes()
    _, t_new = timed(lambda: rule_statuses(wb, [], {}, NOW, changes))
    old, t_old = timed(lambda: old_status_texts(wb, NOW))
    assert {c.key[0]: c.value for c in changes.cells} == {k: v for k, v in old.items()
                                                         if v != (next(r for r in wb.sop if r.rule_id == k).status or "")}
    from qunflow.engine.audience import target_groups
    pairs = sum(len(target_groups(r, wb.groups)) for r in wb.sop)
    row("rule statuses (next fire time per rule)", f"{rules:,} rules x {groups:,} groups ({pairs:,} pairs)", t_old, t_new)


def bench_times(cells: int, sends: int) -> None:
    """Reading times from text: the sheet's cells ("2026-12-01 20:15", each event's and member's times) and the
    state file's fixed-width UTC (each send's scheduled, claimed, sent and updated times)."""
    from qunflow.sheet.cells import parse_datetime
    from qunflow.state.base import from_iso, iso
    rng = random.Random(7)
    start = datetime(2026, 12, 1)
    texts = [(start + timedelta(minutes=rng.randrange(43_200))).strftime("%Y-%m-%d %H:%M") for _ in range(cells)]
    new, t_new = timed(lambda: [parse_datetime(t) for t in texts])
    old, t_old = timed(lambda: [old_parse_datetime(t) for t in texts])
    assert new == old
    row("a sheet cell's date and time", f"{cells:,} cells", t_old, t_new, "datetime.fromisoformat first")
    stamps = [iso(start.replace(tzinfo=timezone.utc) + timedelta(microseconds=rng.randrange(10 ** 12)))
              for _ in range(sends * 4)]
    new, t_new = timed(lambda: [from_iso(t) for t in stamps])
    old, t_old = timed(lambda: [old_from_iso(t) for t in stamps])
    assert new == old
    row("a send's times from the state file", f"{sends:,} sends (4 times each)", t_old, t_new,
        "datetime.fromisoformat, not strptime")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--publish", action="store_true", help="also write the table into docs/PERFORMANCE.md")
    args = parser.parse_args(argv)
    small = quick()
    ROWS[:] = ["| hot spot | size | old | new | old / new | notes |", "|---|---|---:|---:|---:|---|"]
    print("\n".join(ROWS))
    bench_leaderboard(2_000 if small else 100_000, 20_000 if small else 500_000, 100, 10 if small else 3)
    bench_caps(100 if small else 1_000, 15_000 if small else 150_000)
    bench_statuses(100 if small else 1_000, 200 if small else 2_000)
    bench_times(70_000 if small else 700_000, 15_000 if small else 150_000)
    body = "\n".join(ROWS)
    if should_publish(args.publish):
        publish("hotspots", body)


if __name__ == "__main__":
    main()
