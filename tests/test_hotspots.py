"""The hot spots of #18 item 2, each from an index built once instead of a scan per message, group or rule: the
results are the same as the old way, which this file keeps as the reference (bench/hotspots.py times both)."""
from __future__ import annotations

import copy
import random
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

from helpers import make_raw
from qunflow.engine import guard, outcomes
from qunflow.engine.ledger import Entry, Ledger
from qunflow.engine.leaderboard import index_of, leaderboard
from qunflow.engine.planned import group_tz, quiet_shift
from qunflow.sheet.campaigns import campaign_start
from qunflow.sheet.changes import Changes
from qunflow.sheet.load import load_workbook

# --- the old ways, as they were before (the reference) -----------------------------------------------------


def old_leaderboard(p, wb, top: int = 5) -> str:
    """engine/compose.py's leaderboard before the index: every event, for every message."""
    from qunflow.members.activity import due_events
    from qunflow.members.referral import joined_counts, referrals
    days = int(wb.settings.extra.get("leaderboard_days") or 7)
    local = p.at.astimezone(wb.settings.timezone).replace(tzinfo=None)
    found, _ = referrals(wb.members.values(), due_events(wb, p.at), wb.settings)
    counts = {mid: n for mid, n in joined_counts([r for r in found if r.joined_at <= local],
                                                 since=local - timedelta(days=days)).items()
              if (mid, p.group.group_id) in wb.members}
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return "\n".join(f"{i}. {wb.members[mid].name} {n}" for i, (mid, n) in enumerate(ranked, start=1))


def old_apply_caps(planned, wb, ledger) -> None:
    """engine/guard.py's apply_caps before the index: the SendLog rescanned per group and local day."""
    counts = {}
    for p in planned:
        if p.policy != "due":
            continue
        tz = group_tz(p.group, wb)
        day = p.at.astimezone(tz).date()
        key = (p.group.group_id, day)
        if key not in counts:
            day_start = datetime.combine(day, datetime.min.time(), tzinfo=tz)
            counts[key] = ledger.sent_count(p.group.group_id, day_start, day_start + timedelta(days=1))
        cap = p.group.daily_cap if p.group.daily_cap is not None else wb.settings.daily_cap
        if counts[key] >= cap:
            local = p.at.astimezone(tz)
            next_day = datetime.combine(day + timedelta(days=1), local.time().replace(tzinfo=None), tzinfo=tz)
            later, _ = quiet_shift(next_day.astimezone(timezone.utc), p.group, wb)
            p.cap = cap
            if p.rule.until is not None and later.astimezone(tz).date() > p.rule.until:
                p.policy, p.reason = "past_until", f"daily cap {cap} reached, and the next day is past ({p.rule.until})"
                continue
            p.policy, p.reason = "deferred", f"daily cap {cap} reached; moved to {later.astimezone(tz):%Y-%m-%d %H:%M}"
            p.at = later
            continue
        counts[key] += 1


def old_next_fires(wb, now) -> dict[str, list[datetime]]:
    """engine/outcomes.py's rule statuses before sharing: next_after per rule x group."""
    from qunflow.engine.audience import target_groups
    out = {}
    for rule in wb.sop:
        nexts = []
        for group in target_groups(rule, wb.groups):
            if rule.schedule.member_relative or not group.enabled:
                continue
            tz = group_tz(group, wb)
            t = rule.schedule.next_after(now, tz, campaign_start(rule, group, wb))
            if t is not None and (rule.until is None or t.astimezone(tz).date() <= rule.until):
                nexts.append(t.astimezone(tz))
        out[rule.rule_id] = nexts
    return out


# --- workbooks ---------------------------------------------------------------------------------------------

ZONES = ["", "Asia/Shanghai", "America/New_York", "Europe/London"]


def referral_workbook(seed: int, people: int = 60, groups: int = 4):
    rng = random.Random(seed)
    t0 = datetime(2026, 11, 10, 8, 0)
    group_rows = [{"group_id": f"G{g:02d}", "name": f"g{g}", "platform": "wecom", "webhook": f"env:H{g}", "kind": "traffic",
                   "timezone": ZONES[g % len(ZONES)], "campaign_start": "2026-11-10"} for g in range(groups)]
    members, events = [], []
    for i in range(people):
        g = f"G{rng.randrange(groups):02d}"
        joined = t0 + timedelta(minutes=rng.randrange(30 * 24 * 60))
        if rng.random() < 0.5:    # on the Members tab
            members.append({"member_id": f"M{i:03d}", "name": f"n{i}", "group_id": g, "platform_user_id": f"u{i}",
                            "mobile": f"0139{i:07d}", "joined_at": f"{joined:%Y-%m-%d %H:%M}"})
        if rng.random() < 0.6:    # a join event (some for members, some for people only the events know)
            events.append({"event_id": f"J{i}", "type": "join", "member_id": f"M{i:03d}", "group_id": g,
                           "at": f"{joined:%Y-%m-%d %H:%M}", "detail": f"user=u{i}" if rng.random() < 0.5 else ""})
    for k in range(people * 2):   # invites naming people every way the detail can, some nobody, some oneself
        inviter, invitee = rng.randrange(people), rng.randrange(people)
        how = rng.choice([f"member=M{invitee:03d}", f"user=u{invitee}", f"mobile=0139{invitee:07d}", f"M{invitee:03d}",
                          "", f"member=M{inviter:03d}", "member=ghost"])
        when = t0 + timedelta(minutes=rng.randrange(32 * 24 * 60))
        events.append({"event_id": f"I{k}", "type": "invite", "member_id": f"M{inviter:03d}",
                       "group_id": f"G{rng.randrange(groups):02d}" if rng.random() < 0.8 else "",
                       "at": f"{when:%Y-%m-%d %H:%M}" + ("+00:00" if rng.random() < 0.1 else ""), "detail": how})
    events += [{"event_id": f"X{k}", "type": "message", "member_id": f"M{k % people:03d}", "group_id": "G00",
                "at": "2026-11-20 10:00", "detail": "hi"} for k in range(50)]
    rng.shuffle(events)
    settings = [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": "en"},
                {"key": "leaderboard_days", "value": str(rng.choice([3, 7, 14]))}]
    return load_workbook(make_raw({"settings": settings, "groups": group_rows, "members": members, "events": events}),
                         today=date(2026, 12, 1))


def test_the_leaderboard_from_the_index_is_the_old_one_for_every_group_and_moment():
    boards = 0
    for seed in range(6):
        wb = referral_workbook(seed)
        rng = random.Random(100 + seed)
        moments = [datetime(2026, 11, 12, tzinfo=timezone.utc) + timedelta(minutes=rng.randrange(30 * 24 * 60))
                   for _ in range(25)] + [datetime(2026, 12, 20, tzinfo=timezone.utc)]
        for at in moments:
            for group in wb.groups.values():
                p = SimpleNamespace(group=group, at=at)
                assert leaderboard(p, wb) == old_leaderboard(p, wb), (seed, at, group.group_id)
                boards += bool(old_leaderboard(p, wb))
    assert boards > 50      # the boards compared are mostly not empty


def test_the_leaderboard_index_is_built_once_and_shared_by_sends_that_see_the_same_events():
    wb = referral_workbook(1)
    at = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    first = index_of(wb)
    for group in wb.groups.values():
        for minutes in range(0, 5):
            leaderboard(SimpleNamespace(group=group, at=at + timedelta(minutes=minutes)), wb)
    assert index_of(wb) is first and len(first._by_prefix) <= 2
    wb.events = list(wb.events)[:-10]          # other events: a new index, not a stale one
    p = SimpleNamespace(group=next(iter(wb.groups.values())), at=at)
    assert index_of(wb) is not first and leaderboard(p, wb) == old_leaderboard(p, wb)


# --- the daily cap -----------------------------------------------------------------------------------------

def random_ledger(rng: random.Random, groups: list[str], n: int) -> Ledger:
    zones = [timezone.utc, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5)), None]
    ledger = Ledger()
    t0 = datetime(2026, 11, 25)
    for i in range(n):
        zone = rng.choice(zones)
        sent = t0 + timedelta(minutes=rng.randrange(8 * 24 * 60))
        ledger.add(Entry(f"S{i}", rng.choice(["sent", "sent", "sent", "failed", "deferred"]), 1, sent,
                         sent.replace(tzinfo=zone) if rng.random() < 0.95 else None, rng.choice(groups), "R"))
    return ledger


def test_the_daily_cap_counts_from_the_index_are_the_scans():
    rng = random.Random(7)
    groups = [f"G{g}" for g in range(6)]
    ledger = random_ledger(rng, groups, 3000)
    index = guard.sent_times(ledger)
    tzs = [timezone.utc, timezone(timedelta(hours=8)), timezone(timedelta(hours=-7))]
    checked = 0
    for g in groups + ["nobody"]:
        for day in range(-1, 10):
            for tz in tzs:
                start = datetime(2026, 11, 25, tzinfo=tz) + timedelta(days=day)
                expected = ledger.sent_count(g, start, start + timedelta(days=1))
                assert guard.count_between(index.get(g, []), start, start + timedelta(days=1)) == expected
                checked += expected
    assert checked > 1000


def cap_workbook(groups: int, rules: int):
    group_rows = [{"group_id": f"G{g:03d}", "name": f"g{g}", "platform": "wecom", "webhook": f"env:H{g}", "kind": "traffic",
                   "daily_cap": 2 + g % 3 if g % 4 else "", "timezone": ZONES[g % len(ZONES)],
                   "quiet_hours": "23:00-07:00" if g % 2 else "", "campaign_start": "2026-11-28"} for g in range(groups)]
    sop = [{"rule_id": f"R{r:03d}", "groups": "*" if r % 3 == 0 else f"G{r % groups:03d}",
            "schedule": ["daily 10:00", "daily 10:00, 12:00", "weekly tue,wed 11:00", "day 1-10 10:30"][r % 4],
            "content": f"tip {r}", "until": "2026-12-02" if r % 7 == 0 else ""} for r in range(rules)]
    settings = [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": "en"},
                {"key": "daily_cap", "value": "3"}, {"key": "min_gap", "value": "0"}, {"key": "catch_up", "value": "3d"}]
    return load_workbook(make_raw({"settings": settings, "groups": group_rows, "sop": sop}), today=date(2026, 12, 1))


def test_sends_over_the_cap_are_deferred_as_before():
    from qunflow.engine.plan import plan_sends
    wb = cap_workbook(12, 40)
    rng = random.Random(3)
    ledger = random_ledger(rng, list(wb.groups), 400)
    start, end = datetime(2026, 11, 30, tzinfo=timezone.utc), datetime(2026, 12, 2, tzinfo=timezone.utc)
    planned = plan_sends(wb, ledger, start, end, end)       # the new caps
    again = plan_sends(wb, ledger, start, end, end)
    for p in again:                                            # undo the caps, then apply the old ones
        if p.reason.startswith("daily cap"):
            p.policy, p.reason, p.at, p.cap = "due", "", quiet_shift(p.occurrence, p.group, wb)[0], None
    old_apply_caps(again, wb, ledger)
    assert [(p.send_id, p.policy, p.at, p.cap) for p in planned] == [(p.send_id, p.policy, p.at, p.cap) for p in again]
    assert sum(p.policy == "deferred" for p in planned) > 10 and sum(p.policy == "due" for p in planned) > 10


# --- fire times and rule statuses --------------------------------------------------------------------------

def old_status_texts(wb, now) -> dict[str, str]:
    """The SOP.status text the old rule_statuses wrote for a tick that sent nothing."""
    from qunflow.sheet.i18n import message
    fires = old_next_fires(wb, now)
    out = {}
    for rule in wb.sop:
        if not rule.enabled:
            out[rule.rule_id] = message("sop_status_disabled", wb.lang)
            continue
        nexts = fires[rule.rule_id]
        out[rule.rule_id] = message("sop_status_next", wb.lang, at=f"{min(nexts):%Y-%m-%d %H:%M}") if nexts else \
            message("sop_status_on_events" if rule.schedule.member_relative else "sop_status_no_more", wb.lang)
    return out


def test_rule_statuses_share_fire_times_and_say_what_the_old_way_said():
    wb = cap_workbook(30, 60)
    wb.sop[5].enabled = False
    for now in (datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc), datetime(2026, 12, 3, 2, 30, tzinfo=timezone.utc)):
        changes = Changes()
        outcomes.rule_statuses(wb, [], {}, now, changes)
        said = {c.key[0]: c.value for c in changes.cells if c.tab == "sop"}
        assert said == old_status_texts(wb, now)
        assert len({v for v in said.values()}) > 3


def test_rule_statuses_ask_each_schedule_zone_and_day_one_once(monkeypatch):
    wb = cap_workbook(40, 20)
    calls = []
    for kind in {type(r.schedule) for r in wb.sop}:
        def counted(self, t, tz, start=None, *a, _orig=kind.next_after, **k):
            calls.append((self, str(tz), start))
            return _orig(self, t, tz, start, *a, **k)
        monkeypatch.setattr(kind, "next_after", counted)
    outcomes.rule_statuses(wb, [], {}, datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc), Changes())
    from qunflow.engine.audience import target_groups
    pairs = sum(len(target_groups(r, wb.groups)) for r in wb.sop)
    assert len(calls) == len(set(calls)) and len(calls) < pairs / 3


# --- times read as text: the fast paths against the old parsers ---------------------------------------------

def old_from_iso(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc) if text else None


def old_parse_datetime(raw, today=None):
    """sheet/cells.py's parse_datetime before the fast path, for text."""
    import re
    from qunflow.sheet.cells import CellError, _ISO_OFFSET, norm, parse_date, parse_time
    text = norm(raw)
    if "T" in text or _ISO_OFFSET.search(text):
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
    parts = re.split(r"\s+|(?<=日)|(?<=\d)T(?=\d)", text, maxsplit=1)
    try:
        day = parse_date(parts[0], today)
    except CellError as error:
        raise CellError("impossible_date" if error.code == "impossible_date" else "bad_datetime") from None
    if len(parts) == 1 or not parts[1].strip():
        return datetime.combine(day, datetime.min.time())
    try:
        return datetime.combine(day, parse_time(parts[1]))
    except CellError:
        raise CellError("bad_datetime") from None


def outcome(fn, *args):
    try:
        return fn(*args)
    except Exception as err:     # noqa: BLE001 - the error is part of what must be the same
        return (type(err).__name__, getattr(err, "code", None))


def test_the_fast_time_readers_read_what_the_old_ones_read():
    from hypothesis import given, settings, strategies as st

    from qunflow.sheet.cells import parse_datetime
    from qunflow.state.base import from_iso, iso
    rng = random.Random(18)
    texts = ["2026-11-20 20:00", "2026-11-20 20:00:59", "2026-11-20", "2026-02-30 10:00", "2026-11-20 24:00",
             "2026-11-20 23:60", "2026-13-01", "0001-01-01 00:00", "2026-11-20 7:05", "2026-11-20T20:00",
             "2026-11-20 20:00+08:00", " 2026-11-20 20:00 ", "2026-11-20  20:00", "2026/11/20 20:00",
             "2026-11-20 下午3点", "２０２６-11-20 20:00", "2026-11-20 20:00:60", "2026-1-2 3:04"]
    texts += [f"{rng.randrange(1900, 2100):04d}-{rng.randrange(0, 14):02d}-{rng.randrange(0, 33):02d} "
              f"{rng.randrange(0, 26):02d}:{rng.randrange(0, 62):02d}" for _ in range(3000)]
    for text in texts:
        assert outcome(parse_datetime, text) == outcome(old_parse_datetime, text), text
    stamps = [datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=rng.randrange(10 ** 14))
              for _ in range(3000)]
    for text in [iso(s) for s in stamps] + ["2026-12-01T02:00:00.000000Z", "2026-12-01 02:00:00.000000Z",
                                            "2026-02-30T02:00:00.000000Z", "2026-12-01T02:00:00Z", ""]:
        assert outcome(from_iso, text) == outcome(old_from_iso, text), text

    @settings(max_examples=300, deadline=None)
    @given(st.text(alphabet="0123456789-: T/Z+", max_size=22))
    def same(text):
        assert outcome(parse_datetime, text) == outcome(old_parse_datetime, text)
    same()
