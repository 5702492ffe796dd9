"""`python bench/delivery.py`: the dispatcher against the local emulator over real HTTP, on a virtual clock.

Each scenario posts every message to the emulator on 127.0.0.1; the dispatcher and the emulator share one
virtual clock, so rate-limit waits cost simulated time, not wall time. For each scenario it prints:

- simulated time: from the first send to the last reply, on the virtual clock;
- the bound: the least time the platforms' declared limits allow. For N sends counted against one
  rate-limit key allowing n per W seconds, the last send cannot go before floor((N-1)/n)*W; the bound
  is the largest over every key and window (the busiest group, or a bot shared by several chats);
- ratio = simulated / bound (it must stay <= 1.1: the run lasts about as long as its busiest group);
- the wall-clock rows run on the real clock (every rate-limit wait a real sleep) with a real delay per request
  in the emulator (150 ms: a far platform), so "simulated" is the wall time of the whole dispatch; the old
  default of 16 workers is shown beside the new 64 for comparison (1,000 requests x 150 ms / 16 workers cannot
  take less than 9.4 s);
- CPU seconds (time.process_time: the dispatcher and the emulator's threads, one process), wall
  seconds, and HTTP requests per wall second.

Exits 1 if a ratio exceeds 1.1. Fixed seeds; the same arguments give the same simulated figures.
With --publish the table also goes into docs/PERFORMANCE.md (block "delivery").
"""
from __future__ import annotations

import argparse
import math
import os
import platform as host
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))
sys.path.insert(0, str(ROOT / "bench"))

import requests  # noqa: E402

from qunflow.delivery.dispatcher import WORKERS  # noqa: E402
from qunflow.delivery import PLATFORMS, Delivery, Dispatcher, Mentions, Message, NewsCard, Target  # noqa: E402
from qunflow.emulator import Bot, Emulator  # noqa: E402
from publish import publish, should_publish  # noqa: E402

T0 = 1_764_547_200.0            # 2025-12-01 00:00 UTC
MAX_RATIO = 1.1
COMPARISON = "the old default, for comparison"   # a row shown beside the others, not held to MAX_RATIO
# mostly WeCom, DingTalk and Feishu (9 in 12), then one each of the others
MIX = ("wecom", "dingtalk", "feishu", "wecom", "dingtalk", "feishu", "wecom", "dingtalk", "feishu",
       "slack", "discord", "telegram")
TELEGRAM_BOT = "424242:benchTelegramBotToken"   # one Telegram bot in every Telegram group, as shops do


class VirtualClock:
    def __init__(self, t: float = T0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)


@dataclass
class Row:
    scenario: str
    groups: int
    deliveries: int
    requests: int
    sent: int
    simulated: float
    bound: float
    cpu: float
    wall: float
    rejections: int

    @property
    def ratio(self) -> float:
        if self.bound > 0:
            return self.simulated / self.bound
        return 1.0 if self.simulated < 1e-9 else math.inf

    @property
    def per_second(self) -> float:
        return self.requests / self.wall if self.wall > 0 else math.inf


def bots_for(groups: int, platforms: tuple[str, ...]) -> list[Bot]:
    bots = []
    for g in range(groups):
        p = platforms[g % len(platforms)]
        token = {"wecom": f"bench-wecom-{g:04d}", "dingtalk": f"bench-ding-{g:04d}", "feishu": f"bench-feishu-{g:04d}",
                 "slack": f"TBENCH/B{g:04d}/benchSlack{g:04d}", "discord": f"{900000 + g}/benchDiscord{g:04d}",
                 "telegram": TELEGRAM_BOT}[p]
        secret = f"SECbench{g:04d}" if p in ("dingtalk", "feishu") else None
        bots.append(Bot(p, token, secret=secret, group_id=f"G{g:04d}"))
    return bots


def message(g: int, i: int) -> Message:
    """The i-th message to group g, cycling through what a shop posts: text, markdown, a news card, an image,
    and text mentioning everyone."""
    kind = i % 5
    if kind == 0:
        return Message("text", f"G{g:04d} 早上好，今天的新品已经上架 #{i}")
    if kind == 1:
        return Message("markdown", f"## 本周活动 #{i}\n**满 199 减 50**，[去看看](https://shop.example.com/w/{g})")
    if kind == 2:
        return Message("news", card=NewsCard(f"限时秒杀 #{i}", "今晚 8 点开抢", f"https://shop.example.com/s/{g}",
                                             "https://shop.example.com/s.png"))
    if kind == 3:
        return Message("image", f"新品图 #{i}", image_url=f"https://shop.example.com/img/{g}.png")
    return Message("text", f"直播马上开始 #{i}", mentions=Mentions(all=True))


def rate_bound(deliveries: list[Delivery], at: float) -> float:
    """The least simulated time the declared limits allow: max over rate keys of floor((N-1)/n)*W."""
    sends: Counter = Counter()
    windows: dict = {}
    for d in deliveries:
        platform = PLATFORMS[d.target.platform]
        parts = len(platform.build_requests(d.message, d.target, at))
        for key, wins in platform.rate_keys(d.target):
            sends[key] += parts
            windows[key] = wins
    return max((((sends[k] - 1) // n) * w for k in sends for n, w in windows[k] if sends[k] > 0), default=0.0)


class RealClock:
    """The wall clock: rate-limit waits are real sleeps, so `simulated` is the wall time of the dispatch."""
    def __call__(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


def run(name: str, groups: int, per_group: int, platforms: tuple[str, ...] = MIX, workers: int = 1,
        latency: float = 0.0, real: bool = False) -> Row:
    """One scenario; `latency` (real seconds per request, in the emulator) stands in for the network. `real`:
    on the wall clock (each wait a real sleep), else on a virtual one."""
    clock = RealClock() if real else VirtualClock()
    bots = bots_for(groups, platforms)
    with Emulator(bots, clock=clock, latency=latency) as emu:
        deliveries = []
        for i in range(per_group):          # interleaved, as a tick hands them over: every group's first, ...
            for g, b in enumerate(bots):
                url = emu.webhook_url(b) + (f"?chat_id=-100{g:06d}" if b.platform == "telegram" else "")
                target = Target(b.platform, b.group_id, url, b.secret)
                deliveries.append(Delivery(f"{b.group_id}-{i}", target, message(g, i)))
        bound = rate_bound(deliveries, clock())
        session = requests.Session()
        dispatcher = Dispatcher(session, clock, clock.sleep, random.Random(1), workers=workers,
                                wall_clock=clock)   # the simulated world signs and checks on one clock
        cpu, wall = time.process_time(), time.perf_counter()
        report = dispatcher.dispatch(deliveries)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        session.close()
        return Row(name, groups, len(deliveries), emu.requests_total, report.counts()["sent"],
                   report.finished_at - report.started_at, bound, cpu, wall, sum(emu.rejections.values()))


def scenarios(groups: int = 200, per_group: int = 5, latency: float = 0.01, wall_latency: float = 0.15) -> list[Row]:
    size = f"{groups} groups x {per_group}"
    rows = [run(f"{size}, mixed platforms", groups, per_group),
            run("1 WeCom group x 25", 1, 25, ("wecom",))]
    if latency:
        ms = f"{latency * 1000:g} ms"
        rows += [run(f"{size}, {ms} per request, 1 worker", groups, per_group, latency=latency),
                 run(f"{size}, {ms} per request, 4 workers", groups, per_group, workers=4, latency=latency)]
    if wall_latency:
        ms = f"{wall_latency * 1000:g} ms"
        rows += [run(f"{size}, {ms} per request, wall clock, 16 workers ({COMPARISON})", groups, per_group,
                     workers=16, latency=wall_latency, real=True),
                 run(f"{size}, {ms} per request, wall clock, {WORKERS} workers (the default)", groups, per_group,
                     workers=WORKERS, latency=wall_latency, real=True)]
    return rows


def table(rows: list[Row]) -> str:
    head = ("scenario", "deliveries", "HTTP requests", "sent", "simulated s", "bound s", "ratio", "CPU s", "wall s",
            "requests/s", "rate-limit replies")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append(f"| {r.scenario} | {r.deliveries} | {r.requests} | {r.sent} | {r.simulated:.2f} | {r.bound:.2f} "
                     f"| {r.ratio:.3f} | {r.cpu:.2f} | {r.wall:.2f} | {r.per_second:.0f} | {r.rejections} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--per-group", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.01,
                        help="real seconds each request takes in the latency scenarios (0: skip them)")
    parser.add_argument("--wall-latency", type=float, default=0.15,
                        help="real seconds each request takes in the wall-clock scenarios (0: skip them)")
    parser.add_argument("--publish", action="store_true", help="also write the table into docs/PERFORMANCE.md")
    args = parser.parse_args(argv)
    print(f"qunflow delivery bench · {host.machine()} · {os.cpu_count()} cores · Python {host.python_version()}")
    rows = scenarios(args.groups, args.per_group, args.latency, args.wall_latency)
    print(table(rows))
    if should_publish(args.publish):
        publish("delivery", table(rows))
    bad = [r for r in rows if (r.ratio > MAX_RATIO and COMPARISON not in r.scenario) or r.sent != r.deliveries]
    for r in bad:
        print(f"FAIL {r.scenario}: ratio {r.ratio:.3f} (limit {MAX_RATIO}), sent {r.sent} of {r.deliveries}",
              file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
