"""`qunflow demo`: the sample shop's 30-day campaign, on a virtual clock, against the local emulator.

Simulated members join, talk, check in and are invited through the emulated platforms' event sources, and
order and redeem through the shop's signed ingest (jobs/demo_events.py: none typed into Events), the tick runs every
5 minutes of virtual time, and every message lands in the emulator's transcript. Ticks in which nothing
can be due are skipped: such a tick only moves `last_tick`, and tests/test_demo.py checks that skipping
them gives the same SendLog as ticking every 5 minutes.
"""
from __future__ import annotations

import math
import zlib
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from ..sheet.vocabulary import cell_value
from ..clock import VirtualClock
from .demo_data import GIVEN, GROUPS, REFERRAL_SOURCE, SOURCES, SURNAMES, demo_rows
from ..engine.plan import plan_sends
from ..engine.ledger import Ledger
from ..delivery.secrets import SecretResolver
from ..stores.memory import MemoryStore
from ..sheet.tables import locate
from ..sheet.problems import ProblemSink
from ..sheet.schema import load_schemas
from ..sheet.load import load_workbook

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEMO_LANG = "zh-CN"                # the sample shop is Chinese: its workbook, and what the demo prints, are zh-CN
START = date(2026, 12, 1)          # a fixed day 1, so the same seed gives the same result on any day
TICK = timedelta(minutes=5)


@dataclass
class DemoResult:
    workbook: Path
    transcript: Path
    preview: Path
    ticks: int
    summary: list[dict] = field(default_factory=list)
    totals: Counter = field(default_factory=Counter)
    lottery: dict = field(default_factory=dict)     # the lottery drawn twice (jobs/demo_featured.py)


def _bots():
    from ..emulator import Bot
    bots, env = [], {}
    for g in GROUPS:
        token = f"demo-{g['platform']}-{g['group_id']}-{'0' * 12}{g['group_id'][-2:]}"
        secret = f"demo-sign-{g['group_id']}" if g.get("secret") else None
        bots.append(Bot(g["platform"], token, secret=secret, name=g["name"], group_id=g["group_id"]))
        if secret:
            env[g["secret"].split(":", 1)[1]] = secret
    return bots, env


def _joins(rng: random.Random, days: int) -> list[dict]:
    """Simulated newcomers: a burst on day 1, then a trickle, some invited by earlier members."""
    joins = []
    n = 1000
    for day in range(days):
        count = 12 if day == 0 else rng.choice([0, 1, 2, 3, 4])
        for _ in range(count):
            n += 1
            group = rng.choice(GROUPS)["group_id"]
            when = datetime.combine(START + timedelta(days=day), time(rng.randint(9, 21), rng.randint(0, 59)), SHANGHAI)
            joins.append({"member_id": f"M{n:04d}", "name": rng.choice(SURNAMES) + rng.choice(GIVEN), "group_id": group,
                          "platform_user_id": f"u{n:04d}", "joined_at": when,
                          "source": rng.choice(SOURCES), "status": "active"})
    return sorted(joins, key=lambda j: j["joined_at"])


def _events(rng: random.Random, joins: list[dict], members: list[dict], days: int) -> list[dict]:
    events, k = [], 0
    everyone = members + joins
    for j in joins:
        k += 1
        events.append({"event_id": f"E{k:05d}", "type": "join", "member_id": j["member_id"], "group_id": j["group_id"],
                       "at": j["joined_at"].replace(tzinfo=None),
                       "detail": f"name={j['name']}; channel={j['source']}; user={j['platform_user_id']}"})
        if j["source"] == REFERRAL_SOURCE and members:
            inviter = rng.choice(members[:6])  # a few enthusiastic members bring most friends
            k += 1
            events.append({"event_id": f"E{k:05d}", "type": "invite", "member_id": inviter["member_id"],
                           "group_id": inviter["group_id"], "at": j["joined_at"].replace(tzinfo=None),
                           "detail": f"member={j['member_id']}"})
    for day in range(days):
        for m in rng.sample(everyone, k=min(len(everyone), 8)):
            joined = m["joined_at"] if isinstance(m["joined_at"], datetime) else datetime.combine(START, time())
            when = datetime.combine(START + timedelta(days=day), time(rng.randint(8, 22), rng.randint(0, 59)))
            if when < joined.replace(tzinfo=None):
                continue
            k += 1
            kind = rng.choices(["message", "order", "checkin"], weights=[8, 1, 2])[0]
            events.append({"event_id": f"E{k:05d}", "type": kind, "member_id": m["member_id"], "group_id": m["group_id"],
                           "at": when, "amount": rng.choice([199, 299, 399, 899]) if kind == "order" else None})
    # the check-in group's regulars post 打卡 most mornings (a message with the keyword is a check-in)
    for i, m in enumerate([m for m in members if m["group_id"] == "G04"][:3]):
        for day in range(days):
            if (day + 1) % (6 + 4 * i) == 0:
                continue  # now and then someone forgets, and their streak starts again
            k += 1
            events.append({"event_id": f"E{k:05d}", "type": "message", "member_id": m["member_id"], "group_id": "G04",
                           "at": datetime.combine(START + timedelta(days=day), time(7, 10 + i)),
                           "detail": "打卡 今日穿搭：风衣 + 阔腿裤"})
    return sorted(events, key=lambda e: e["at"])


def _append_rows(store: MemoryStore, tab: str, rows: list[dict]) -> None:
    table = locate(store.raw, load_schemas(), ProblemSink("zh-CN")).tables[tab]
    width = max(table.columns.values()) + 1
    for row in rows:
        line = [""] * width
        for key, value in row.items():
            if key in table.columns:
                value = value.replace(tzinfo=None) if isinstance(value, datetime) else value
                line[table.columns[key]] = cell_value(table.schema.column(key), value, "zh-CN")
        store.raw[table.title].append(line)


def _on_tick(start: datetime, t: datetime) -> datetime:
    """The first 5-minute tick at or after t."""
    return start + math.ceil((t - start) / TICK) * TICK


def _tick_slots(store: MemoryStore, start: datetime, end: datetime, joins: list[dict]) -> list[datetime]:
    """The 5-minute tick times at which something may be due (each send's time, rounded up to a tick)."""
    wb = load_workbook(store.raw, today=START)
    slots = set()

    def slot(t: datetime) -> datetime:
        k = math.ceil((t - start) / TICK)
        return start + k * TICK

    for p in plan_sends(wb, Ledger(), start, end, start, preview=True):
        slots.add(slot(p.at))
        if p.policy == "deferred":
            slots.add(slot(p.at + timedelta(days=1)))
    for j in joins:
        slots.add(slot(j["joined_at"].astimezone(timezone.utc)))
    # a daily cap can push a send to the next morning: tick every morning just after quiet hours end
    for day in range((end - start).days + 2):
        for hh, mm in ((8, 0), (7, 30), (0, 0)):
            slots.add(slot(datetime.combine(START + timedelta(days=day), time(hh, mm), SHANGHAI).astimezone(timezone.utc)))
    return sorted(s for s in slots if start < s <= end)


def run_demo(out_dir: Path, seed: int = 7, days: int = 30, every_tick: bool = False, progress=None) -> DemoResult:
    import requests

    from ..delivery.fetch import ImageFetcher
    from ..emulator import Emulator
    from .initbook import export_xlsx, settings_in
    from .preview import calendar_html, preview
    from .tick import TickDeps, run_tick
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    rows = demo_rows(START, seed=seed)
    # the demo's workbook shows the whole campaign in its SendLog (a shop's default window is 14 days)
    rows["settings"] = settings_in("zh-CN", list(rows["settings"]) + [{"key": "sendlog_days", "value": str(days + 1)}])
    joins = _joins(rng, days)
    rows["events"] = _events(rng, joins, rows["members"], days)
    from .demo_featured import featured, lottery_twice
    extra_joins, extra_events = featured(joins, rows["members"], START, days)
    joins = sorted(joins + extra_joins, key=lambda j: j["joined_at"])
    rows["events"] = sorted(rows["events"] + extra_events, key=lambda e: e["at"])
    start = datetime.combine(START, time(), SHANGHAI).astimezone(timezone.utc) - TICK
    end = start + timedelta(days=days)  # the last tick is 23:55 on the last day
    clock = VirtualClock(start)
    bots, env = _bots()
    transcript = out_dir / "transcript.jsonl"
    transcript.unlink(missing_ok=True)
    emulator = Emulator(bots, clock=clock, transcript_path=transcript)
    emulator.start()
    from .demo_poster import feishu_app, poster_host, with_posters
    posters = poster_host()                       # the posters, on 127.0.0.1 while the demo runs (#21)
    rows["sop"] = with_posters(rows["sop"], posters)
    rows["settings"] = list(rows["settings"]) + feishu_app(emulator, env)   # Feishu posters by image_key
    try:
        for bot, g in zip(bots, GROUPS):
            env[g["webhook"].split(":", 1)[1]] = emulator.webhook_url(bot)
        from ..sheet.layout import workbook_layout
        raw = {}
        for layout in workbook_layout("zh-CN"):
            raw[layout.title] = [layout.header] + [[c.value(r.get(c.key), "zh-CN") for c in layout.columns]
                                                   for r in rows.get(layout.key, []) if layout.key != "events"]
        store = MemoryStore(raw)
        pending_events = list(rows["events"])
        from ..state.sqlite import SqliteState
        deps = TickDeps(session=requests.Session(), clock=clock, sleep=clock.sleep, rng=random.Random(seed),
                        resolver=SecretResolver(env=env), state=SqliteState(":memory:"),
                        fetcher=lambda: ImageFetcher(allow_loopback_http=True), feishu_base=emulator.base_url)
        slots = [start + TICK * i for i in range(1, int((end - start) / TICK) + 1)] if every_tick else \
            _tick_slots(MemoryStore(_with(raw, joins)), start, end, joins)
        totals: Counter = Counter()
        scheduled: set[str] = set()
        from .demo_events import Arrivals
        people = {m["member_id"]: (m["platform_user_id"], m["name"]) for m in rows["members"] + joins}
        arrivals = Arrivals(store, deps.state, clock, rows["groups"], people, seed=seed).__enter__()
        inviters = _inviters(rows["events"], people)
        import heapq
        heapq.heapify(slots)
        done: set[datetime] = set()
        n = 0
        while slots:
            moment = heapq.heappop(slots)
            if moment in done:
                continue
            done.add(moment)
            n += 1
            clock.t = max(clock.t, moment.timestamp())
            now = datetime.fromtimestamp(clock.t, timezone.utc)
            happened = [e for e in pending_events if e["at"].replace(tzinfo=SHANGHAI) <= now]
            if happened:
                pending_events = pending_events[len(happened):]
                arrivals.deliver(happened, inviters)
                clock.t = max(clock.t, moment.timestamp())
            report = run_tick(store, now, deps)
            if report.sent:
                pending_events = _redemptions(store, rng, pending_events, now, scheduled)
            for key in ("sent", "failed", "skipped", "missed", "unknown", "deferred", "retry"):
                totals[key] += getattr(report, key)
            if report.deferred and not every_tick:   # spread by the collision guard: its tick is now a slot too
                for s in deps.state.sends(since=now):
                    if s.status == "deferred" and s.scheduled_for is not None:
                        later = _on_tick(start, s.scheduled_for)
                        if now < later <= end and later not in done:
                            heapq.heappush(slots, later)
            if progress:
                progress(n, n + len(slots))
        result = DemoResult(out_dir / "qunflow-demo.xlsx", out_dir / "transcript.html", out_dir / "preview.html",
                            n, totals=totals)
        g04 = next(g for g in GROUPS if g["group_id"] == "G04")
        draw_at = datetime.combine(START + timedelta(days=days - 1), time(20, 0), SHANGHAI).astimezone(timezone.utc)
        clock.t = max(clock.t, draw_at.timestamp())
        result.lottery = lottery_twice(store, deps.state, draw_at, (env[g04["webhook"].split(":", 1)[1]], None),
                                       session=deps.session, clock=clock, sleep=clock.sleep)
        wb = load_workbook(store.raw, today=START)
        from ..engine.planned import group_tz
        emulator.write_html(result.transcript, title="qunflow demo · 衣橱小馆", lang=wb.lang,
                            zones={gid: group_tz(g, wb) for gid, g in wb.groups.items()})
        items = preview(wb, start, 7)
        posters.save(out_dir)           # DIR/posters/*.png: the saved calendar shows them once the host is gone
        result.preview.write_text(calendar_html(wb, items, start, 7).replace(posters.base + "/", ""),
                                  encoding="utf-8")
        export_xlsx(store.raw, result.workbook, "zh-CN")
        from .metrics_job import finish_demo
        finish_demo(result.workbook, out_dir / "report.html", START, days, state=deps.state)  # Metrics, Cohorts, rule report, chart, HTML
        result.summary = summarize(wb)
        return result
    finally:
        if "arrivals" in locals():
            arrivals.__exit__(None, None, None)
        emulator.stop()
        posters.close()


def _inviters(events: list[dict], people: dict[str, tuple[str, str]]) -> dict[str, str]:
    """Invitee member id -> inviter member id, from the demo's invites (`member=…` or `user=…`)."""
    by_user = {uid: mid for mid, (uid, _) in people.items()}
    out = {}
    for e in events:
        if e["type"] != "invite":
            continue
        key, _, value = (e.get("detail") or "").partition("=")
        invitee = value if key == "member" else by_user.get(value)
        if invitee:
            out.setdefault(invitee, e["member_id"])
    return out


def _redemptions(store: MemoryStore, rng: random.Random, pending: list[dict], now: datetime,
                 scheduled: set[str]) -> list[dict]:
    """Some members who got a coupon come back and buy with it within a few days."""
    wb = load_workbook(store.raw, today=START)
    for code, coupon in sorted(wb.coupons.items()):
        if not coupon.member_id or code in scheduled or coupon.status != "issued":
            continue
        scheduled.add(code)
        if rng.random() < 0.45:
            when = (now.astimezone(SHANGHAI) + timedelta(days=rng.randint(1, 5))).replace(
                hour=rng.randint(10, 22), minute=rng.randint(0, 59), tzinfo=None)
            pending.append({"event_id": f"O-{code}", "type": "order", "member_id": coupon.member_id,
                            "group_id": wb.members[coupon.member_id].group_id if coupon.member_id in wb.members else None,
                            "at": when, "amount": rng.choice([199, 299, 399]), "coupon_code": code,
                            "detail": f"order=D{zlib.crc32(code.encode()) % 10**8:08d}"})
    return sorted(pending, key=lambda e: e["at"])


def _with(raw: dict, joins: list[dict]) -> dict:
    """The workbook with every simulated member already in it, to find when their welcomes fall due."""
    import copy
    store = MemoryStore(copy.deepcopy(raw))
    _append_rows(store, "members", joins)
    return store.raw


def summarize(wb) -> list[dict]:
    phases = {r.rule_id: (r.phase or "") for r in wb.sop}
    per = defaultdict(lambda: {"sent": Counter(), "failed": 0, "missed": 0, "deferred": 0, "skipped": 0, "coupons": 0,
                               "missed_late_join": 0})
    for r in wb.sendlog:
        g = per[r.group_id]
        if r.status == "sent":
            g["sent"][phases.get(r.rule_id, "")] += 1
        elif r.status in ("failed", "missed", "deferred", "skipped"):
            g[r.status] += 1
            if r.status == "missed" and "welcome_window" in (r.outcome or ""):
                g["missed_late_join"] += 1         # a join that reached qunflow later than welcome_window
    for c in wb.coupons.values():
        if c.member_id and c.status in ("issued", "redeemed"):
            m = wb.members.get(c.member_id)
            if m:
                per[m.group_id]["coupons"] += 1
    out = []
    for gid, group in wb.groups.items():
        g = per[gid]
        out.append({"group_id": gid, "name": group.name, "platform": group.platform, "sent": dict(g["sent"]),
                    "sent_total": sum(g["sent"].values()), "failed": g["failed"], "missed": g["missed"],
                    "deferred": g["deferred"], "skipped": g["skipped"], "coupons": g["coupons"],
                    "missed_late_join": g["missed_late_join"]})
    return out
