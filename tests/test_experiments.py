"""Group-level A/B tests: reproducible arms, holdouts, and a lift claimed only when the data show one."""
from __future__ import annotations

import random
from collections import Counter

from helpers import make_raw
from qunflow.engine.experiments import arm_of, excluded_by_experiment
from qunflow.metrics.experiments import describe, experiments, lift_test
from qunflow.metrics.facts import build_facts
from qunflow.sheet.records import Group, SopRule
from qunflow.sheet.load import load_workbook


def group(gid: str, holdout: bool = False) -> Group:
    return Group(gid, gid, "wecom", "env:QUNFLOW_X", "traffic", holdout=holdout)


def rule(variant: str | None, phase: str | None = "momentum") -> SopRule:
    return SopRule("R1", ("*",), None, "hi", phase=phase, variant=variant)


def test_arms_are_random_but_reproducible_and_balanced():
    ids = [f"G{i:04d}" for i in range(2000)]
    first = [arm_of(g, "momentum") for g in ids]
    assert first == [arm_of(g, "momentum") for g in ids]                      # the same every time
    assert 900 < Counter(first)["A"] < 1100                                    # about half each
    other = [arm_of(g, "climax") for g in ids]
    assert 800 < sum(a != b for a, b in zip(first, other)) < 1200              # each experiment splits anew


def test_who_is_excluded():
    g = group("G01")
    arm = arm_of("G01", "momentum")
    other = "B" if arm == "A" else "A"
    assert not excluded_by_experiment(rule(None), g) and not excluded_by_experiment(rule(None), group("G01", True))
    assert not excluded_by_experiment(rule(arm), g) and excluded_by_experiment(rule(other), g)
    assert excluded_by_experiment(rule("A"), group("G01", True)) and excluded_by_experiment(rule("B"), group("G01", True))
    assert excluded_by_experiment(rule(arm.lower()), g) is False               # the cell's case does not matter
    assert arm_of("G01", "default") == ("A" if not excluded_by_experiment(rule("A", None), g) else "B")


def units(rng: random.Random, n: int, mean: float) -> list[float]:
    return [max(0.0, rng.gauss(mean, 0.25 * mean)) for _ in range(n)]


def test_a_known_lift_is_found():
    rng = random.Random(11)
    lift = lift_test(units(rng, 30, 1.0), units(rng, 30, 1.3), seed=1)
    assert lift.verdict == "up" and lift.claimed
    assert lift.low > 0 and lift.low < 0.3 < lift.high
    assert describe(lift, "en").startswith("B beats A by ")
    down = lift_test(units(rng, 30, 1.3), units(rng, 30, 1.0), seed=1)
    assert down.verdict == "down" and "does worse than" in describe(down, "en")


def test_no_lift_is_not_claimed():
    rng = random.Random(5)
    claims = 0
    for k in range(40):
        lift = lift_test(units(rng, 20, 1.0), units(rng, 20, 1.0), seed=k, reps=1000)
        claims += lift.claimed
        if not lift.claimed:
            assert lift.low < 0 < lift.high and "no clear difference" in describe(lift, "en")
    assert claims <= 4   # a 95% interval: about 2 in 40 by chance


def test_too_few_groups_is_said_plainly():
    lift = lift_test([1.0, 2.0], [3.0, 4.0, 5.0])
    assert lift.verdict == "too_small" and not lift.claimed and lift.low is None
    assert describe(lift, "en") == "B vs A: too few groups to tell (3 vs 2; at least 3 per arm needed)"
    assert "群太少，无法判断" in describe(lift, "zh-CN")
    zero = lift_test([0.0, 0.0, 0.0], [1.0, 2.0, 3.0])
    assert zero.verdict == "too_small" and "nothing to compare" in describe(zero, "en", "orders")


def shop(rates: dict[str, float], seed: int = 3, groups: int = 40, holdouts: int = 6) -> dict:
    """`groups` groups of 20 members; the variant rules post daily for a week; orders per group and day are
    drawn around rates[arm] (arm: A, B or holdout)."""
    rng = random.Random(seed)
    rows = {"settings": [{"key": "language", "value": "en"}], "groups": [], "members": [], "events": [], "sendlog": [],
            "sop": [{"rule_id": "XA", "groups": "*", "schedule": "daily 10:00", "content": "a", "phase": "exp", "variant": "A"},
                    {"rule_id": "XB", "groups": "*", "schedule": "daily 10:00", "content": "b", "phase": "exp", "variant": "B"}]}
    n = 0
    for i in range(groups + holdouts):
        gid = f"G{i:02d}"
        holdout = i >= groups
        rows["groups"].append({"group_id": gid, "name": gid, "platform": "wecom", "webhook": "env:QUNFLOW_X", "kind": "traffic",
                               "holdout": "yes" if holdout else "no"})
        arm = "holdout" if holdout else arm_of(gid, "exp")
        rows["members"] += [{"member_id": f"{gid}-{k}", "name": "m", "group_id": gid, "joined_at": "2026-11-01 10:00"}
                            for k in range(20)]
        for day in range(1, 8):
            if not holdout:
                rows["sendlog"].append({"send_id": f"X{arm}:{gid}:{day}", "rule_id": f"X{arm}", "group_id": gid,
                                        "status": "sent", "sent_at": f"2026-12-{day:02d} 10:00:00+08:00"})
            for _ in range(rng.choice(range(int(2 * rates[arm]) + 1))):
                n += 1
                rows["events"].append({"event_id": f"O{n}", "type": "order", "member_id": f"{gid}-{n % 20}",
                                       "group_id": gid, "at": f"2026-12-{day:02d} 15:00", "amount": 100})
    return rows


def test_the_experiment_analysis_on_a_shop_finds_a_real_lift():
    wb = load_workbook(make_raw(shop({"A": 2.0, "B": 4.0, "holdout": 1.0})))
    assert wb.errors == []
    [exp] = experiments(build_facts(wb))
    assert exp.name == "exp" and sorted(exp.rules) == ["XA", "XB"] and len(exp.arms["holdout"]) == 6
    assert 12 <= len(exp.arms["A"]) <= 28 and len(exp.arms["A"]) + len(exp.arms["B"]) == 40
    b_vs_a, treated_vs_holdout = exp.comparisons
    assert b_vs_a.verdict == "up" and b_vs_a.low < 1.0 < b_vs_a.high         # B doubled the orders
    assert treated_vs_holdout.verdict == "up" and treated_vs_holdout.control == "holdout"
    assert str(exp.first) == "2026-12-01" and str(exp.last) == "2026-12-09"    # last send + the 48 h window


def test_the_experiment_analysis_claims_nothing_without_a_lift():
    wb = load_workbook(make_raw(shop({"A": 3.0, "B": 3.0, "holdout": 3.0}, seed=8)))
    [exp] = experiments(build_facts(wb))
    assert [c.verdict for c in exp.comparisons] == ["unclear", "unclear"]
    small = load_workbook(make_raw(shop({"A": 2.0, "B": 4.0, "holdout": 1.0}, groups=4, holdouts=1)))
    [exp] = experiments(build_facts(small))
    assert all(c.verdict == "too_small" for c in exp.comparisons)
    assert all("too few groups to tell" in describe(c, "en") for c in exp.comparisons)
