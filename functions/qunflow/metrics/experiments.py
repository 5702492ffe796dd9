"""Group-level experiments: A/B variants of SOP rules, holdout groups, and the lift they made. Pure.

- A rule with a `variant` (A or B) belongs to the experiment named by its phase (no phase: `default`).
- Each group is in arm A or B of each experiment, at random but always the same:
  sha256("<experiment>/<group_id>"), even → A, odd → B. Nothing to store, nothing to drift.
- A group with `holdout` = yes gets no message from any rule that has a variant: it is the control
  that shows what the experiment's messages did at all.
- `excluded_by_experiment(rule, group)` is what the planner asks before planning a send.

Analysis: the unit is the group (groups, not members, were assigned). Each group's value is its
north-star per member-day over the experiment's window (for a north-star that is already a rate, its
mean daily value). The lift is mean(treatment) / mean(control) − 1, with a 95% bootstrap interval
(groups resampled with replacement within each arm, seeded, 2000 times). A lift is claimed only when
the interval excludes 0; with fewer than 3 groups in an arm the answer is "too few groups to tell".
"""
from __future__ import annotations

import hashlib
import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from ..records import Group, SopRule
from .facts import Facts, attribution_hours, north_star

ARMS = ("A", "B")
MIN_UNITS = 3


def experiment_of(rule: SopRule) -> str:
    return (rule.phase or "").strip() or "default"


def arm_of(group_id: str, experiment: str) -> str:
    digest = hashlib.sha256(f"{experiment}/{group_id}".encode("utf-8")).digest()
    return ARMS[int.from_bytes(digest[:8], "big") % 2]


def variant_of(rule: SopRule) -> str | None:
    value = (rule.variant or "").strip().upper()
    return value or None


def excluded_by_experiment(rule: SopRule, group: Group) -> bool:
    """True when this group must not get this rule: a holdout group, or the other arm of the experiment."""
    variant = variant_of(rule)
    if variant is None:
        return False
    if group.holdout:
        return True
    return arm_of(group.group_id, experiment_of(rule)) != variant


@dataclass
class Lift:
    control: str
    treatment: str
    n_control: int
    n_treatment: int
    control_mean: float
    treatment_mean: float
    lift: float | None = None
    low: float | None = None
    high: float | None = None
    verdict: str = "too_small"      # up | down | unclear | too_small

    @property
    def claimed(self) -> bool:
        return self.verdict in ("up", "down")


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def bootstrap_lift(control: list[float], treatment: list[float], *, control_name: str = "A",
                   treatment_name: str = "B", seed: int = 0, reps: int = 2000, level: float = 0.95,
                   min_units: int = MIN_UNITS) -> Lift:
    out = Lift(control_name, treatment_name, len(control), len(treatment), _mean(control), _mean(treatment))
    if min(len(control), len(treatment)) < min_units or out.control_mean <= 0:
        return out
    out.lift = out.treatment_mean / out.control_mean - 1
    rng = random.Random(seed)
    lifts = []
    for _ in range(reps):
        c = _mean(rng.choices(control, k=len(control)))
        if c > 0:
            lifts.append(_mean(rng.choices(treatment, k=len(treatment))) / c - 1)
    if len(lifts) < 0.9 * reps:  # the control is mostly zeros: a ratio tells nothing
        out.lift = None
        return out
    lifts.sort()
    tail = (1 - level) / 2
    out.low = lifts[int(math.floor(tail * len(lifts)))]
    out.high = lifts[min(len(lifts) - 1, int(math.ceil((1 - tail) * len(lifts))) - 1)]
    out.verdict = "up" if out.low > 0 else "down" if out.high < 0 else "unclear"
    return out


@dataclass
class Experiment:
    name: str
    rules: list[str]
    first: date | None = None
    last: date | None = None
    arms: dict[str, list[str]] = field(default_factory=dict)      # A | B | holdout -> group ids
    values: dict[str, float] = field(default_factory=dict)        # group id -> north-star per member-day
    comparisons: list[Lift] = field(default_factory=list)


def experiments(facts: Facts, *, seed: int = 0) -> list[Experiment]:
    from ..engine.audience import target_groups
    from .rollup import RATE_METRICS, metric_row
    wb = facts.wb
    metric = north_star(wb)
    by_name: dict[str, list[SopRule]] = defaultdict(list)
    for rule in wb.sop:
        if variant_of(rule):
            by_name[experiment_of(rule)].append(rule)
    out = []
    for name, rules in sorted(by_name.items()):
        exp = Experiment(name, [r.rule_id for r in rules])
        ids = set(exp.rules)
        days = [s.at.date() for sends in facts.sends.values() for s in sends if s.rule_id in ids]
        groups = {g.group_id: g for r in rules for g in target_groups(r, wb.groups) if g.enabled}
        for gid, g in sorted(groups.items()):
            exp.arms.setdefault("holdout" if g.holdout else arm_of(gid, name), []).append(gid)
        if not days:
            out.append(exp)
            continue
        exp.first = min(days)
        exp.last = max(days) + timedelta(days=math.ceil(attribution_hours(wb) / 24))
        window = [exp.first + timedelta(days=k) for k in range((exp.last - exp.first).days + 1)]
        for gid in groups:
            rows = [metric_row(facts, gid, d) for d in window]
            if metric in RATE_METRICS:
                daily = [float(r[metric]) for r in rows if r[metric] is not None]
                if daily:
                    exp.values[gid] = _mean(daily)
            elif sum(r["members"] for r in rows):
                exp.values[gid] = float(sum(r[metric] for r in rows)) / sum(r["members"] for r in rows)

        def arm(key: str) -> list[float]:
            return [exp.values[g] for g in exp.arms.get(key, []) if g in exp.values]

        exp.comparisons.append(bootstrap_lift(arm("A"), arm("B"), control_name="A", treatment_name="B", seed=seed))
        if exp.arms.get("holdout"):
            exp.comparisons.append(bootstrap_lift(arm("holdout"), arm("A") + arm("B"), control_name="holdout",
                                                  treatment_name="A+B", seed=seed))
        out.append(exp)
    return out


WORDS = {
    "en": {"up": "{t} beats {c} by {lift} (95% CI {low} to {high})",
           "down": "{t} does worse than {c} by {lift} (95% CI {low} to {high})",
           "unclear": "{t} vs {c}: {lift} (95% CI {low} to {high}): no clear difference yet",
           "too_small": "{t} vs {c}: too few groups to tell ({nt} vs {nc}; at least {k} per arm needed)",
           "zero": "{t} vs {c}: the control has no {metric} yet, so there is nothing to compare"},
    "zh-CN": {"up": "{t} 组比 {c} 组高 {lift}（95% 置信区间 {low} 至 {high}）",
              "down": "{t} 组比 {c} 组低 {lift}（95% 置信区间 {low} 至 {high}）",
              "unclear": "{t} 组对 {c} 组：{lift}（95% 置信区间 {low} 至 {high}），暂时看不出差别",
              "too_small": "{t} 组对 {c} 组：群太少，无法判断（{nt} 对 {nc} 个群，每组至少需要 {k} 个）",
              "zero": "{t} 组对 {c} 组：对照组还没有{metric}，无从比较"},
}


def describe(lift: Lift, lang: str, metric: str = "") -> str:
    words = WORDS["zh-CN" if lang == "zh-CN" else "en"]

    def pct(x: float | None) -> str:
        return "?" if x is None else f"{x:+.0%}"
    if lift.verdict == "too_small" and min(lift.n_control, lift.n_treatment) >= MIN_UNITS:
        return words["zero"].format(t=lift.treatment, c=lift.control, metric=metric)
    key = lift.verdict
    text = words[key].format(t=lift.treatment, c=lift.control, lift=pct(lift.lift), low=pct(lift.low),
                             high=pct(lift.high), nt=lift.n_treatment, nc=lift.n_control, k=MIN_UNITS)
    if key == "down":
        text = text.replace(pct(lift.lift), pct(abs(lift.lift or 0)).lstrip("+"), 1)
    elif key == "up":
        text = text.replace(pct(lift.lift), pct(lift.lift).lstrip("+"), 1)
    return text
