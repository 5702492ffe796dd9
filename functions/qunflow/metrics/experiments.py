"""Group-level experiments: A/B variants of SOP rules, holdout groups, and the lift they made. Pure.

- A rule with a `variant` (A or B) belongs to the experiment named by its phase (no phase: `default`).
- Each group is in arm A or B of each experiment, at random but always the same:
  sha256("<experiment>/<group_id>"), even → A, odd → B. Nothing to store, nothing to drift.
- A group with `holdout` = yes gets no message from any rule that has a variant: it is the control
  that shows what the experiment's messages did at all.
- `qunflow.engine.experiments.excluded_by_experiment(rule, group)` is what the planner asks before planning a send.

Analysis: the unit is the group (groups, not members, were assigned). Each group's value is its
north-star per member-day over the experiment's window (for a north-star that is already a rate, its
mean daily value). The lift is mean(treatment) / mean(control) − 1. Its 95% interval and the verdict come
from randomization inference, an exact test: the arms were drawn at random, so every other way they could
have been drawn shows what chance alone does (all of them when there are at most 2000, else 2000 seeded
draws). A lift is claimed only when "no effect" is rejected; with fewer than 3 groups in an arm, or so few
that no split could be told from chance, the answer is "too few groups to tell".
"""
from __future__ import annotations

import itertools
import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from ..engine.experiments import arm_of, experiment_of, variant_of
from ..sheet.records import SopRule
from .facts import Facts, attribution_hours, north_star

MIN_UNITS = 3


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


class _Randomization:
    """Every way the groups could have been split between the arms (or `reps` seeded draws of them), each kept
    as (sum of the control values, sum of the treatment values) that land in the treatment arm, so the test can
    be repeated for any multiplicative effect without touching the groups again."""

    def __init__(self, control: list[float], treatment: list[float], reps: int, seed: int):
        n_c, n_t = len(control), len(treatment)
        self.n_c, self.n_t = n_c, n_t
        self.c_total, self.t_total = sum(control), sum(treatment)
        units = [(x, 0.0) for x in control] + [(0.0, y) for y in treatment]
        total = math.comb(n_c + n_t, n_t)
        self.exact = total <= reps
        if self.exact:
            splits = itertools.combinations(range(n_c + n_t), n_t)
        else:
            rng = random.Random(seed)
            splits = (rng.sample(range(n_c + n_t), n_t) for _ in range(reps))
        self.sums = [(sum(units[i][0] for i in idx), sum(units[i][1] for i in idx)) for idx in splits]
        self.smallest_p = 2 / total if self.exact else 1 / (reps + 1)

    def p_value(self, scale: float) -> float:
        """Two-sided p-value of "the treatment is `scale` times the control" (scale 1: no effect)."""
        total = self.c_total + self.t_total / scale

        def stat(c_part: float, t_part: float) -> float:
            treated = (c_part + t_part / scale) / self.n_t
            return treated - (total - c_part - t_part / scale) / self.n_c
        observed = abs(stat(0.0, self.t_total)) - 1e-12 * max(1.0, abs(total))
        extreme = sum(1 for c_part, t_part in self.sums if abs(stat(c_part, t_part)) >= observed)
        return extreme / len(self.sums) if self.exact else (extreme + 1) / (len(self.sums) + 1)


def lift_test(control: list[float], treatment: list[float], *, control_name: str = "A", treatment_name: str = "B",
              seed: int = 0, reps: int = 2000, level: float = 0.95, min_units: int = MIN_UNITS) -> Lift:
    """The lift of treatment over control, by randomization inference: the groups were assigned at random, so
    re-assigning them at random shows what chance alone does. Exact (every split) when there are at most
    `reps` splits, else `reps` seeded random ones. The interval holds the effects the test does not reject."""
    out = Lift(control_name, treatment_name, len(control), len(treatment), _mean(control), _mean(treatment))
    if min(len(control), len(treatment)) < min_units or out.control_mean <= 0 or out.treatment_mean <= 0:
        return out
    alpha = 1 - level
    test = _Randomization(control, treatment, reps, seed)
    out.lift = out.treatment_mean / out.control_mean - 1
    if test.smallest_p >= alpha:   # so few groups that no result could be told from chance
        return out
    middle = 1 + out.lift

    def bound(far: float) -> float | None:
        if test.p_value(far) >= alpha:
            return None                      # not bounded within a 1000-fold effect
        near = middle
        for _ in range(30):                  # bisection on log(scale)
            mid = math.sqrt(near * far)
            near, far = (mid, far) if test.p_value(mid) >= alpha else (near, mid)
        return near - 1
    out.low, out.high = bound(middle / 1000), bound(middle * 1000)
    # claimed only when the whole interval is on one side of "no effect"
    out.verdict = "up" if (out.low or 0) > 0 else "down" if (out.high or 0) < 0 else "unclear"
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
    from .report_md import ops_group
    from .rollup import RATE_METRICS, metric_row
    wb = facts.wb
    ops = ops_group(wb)
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
        groups = {g.group_id: g for r in rules for g in target_groups(r, wb.groups) if g.enabled and g.group_id != ops}
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

        exp.comparisons.append(lift_test(arm("A"), arm("B"), control_name="A", treatment_name="B", seed=seed))
        if exp.arms.get("holdout"):
            exp.comparisons.append(lift_test(arm("holdout"), arm("A") + arm("B"), control_name="holdout",
                                                  treatment_name="A+B", seed=seed))
        out.append(exp)
    return out


WORDS = {
    "en": {"up": "{t} beats {c} by {lift} (95% CI {low} to {high})",
           "down": "{t} does worse than {c} by {lift} (95% CI {low} to {high})",
           "unclear": "{t} vs {c}: {lift} (95% CI {low} to {high}): no clear difference yet",
           "too_small": "{t} vs {c}: too few groups to tell ({nt} vs {nc}; at least {k} per arm needed)",
           "zero": "{t} vs {c}: one arm has no {metric} yet, so there is nothing to compare"},
    "zh-CN": {"up": "{t} 组比 {c} 组高 {lift}（95% 置信区间 {low} 至 {high}）",
              "down": "{t} 组比 {c} 组低 {lift}（95% 置信区间 {low} 至 {high}）",
              "unclear": "{t} 组对 {c} 组：{lift}（95% 置信区间 {low} 至 {high}），暂时看不出差别",
              "too_small": "{t} 组对 {c} 组：群太少，无法判断（{nt} 对 {nc} 个群，每组至少需要 {k} 个）",
              "zero": "{t} 组对 {c} 组：有一组还没有{metric}，无从比较"},
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
