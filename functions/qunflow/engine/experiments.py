"""Experiment arms: which group gets which variant of an SOP rule. Pure.

A rule with a `variant` (A or B) belongs to the experiment named by its phase (no phase: `default`). Each
group is in arm A or B of each experiment, at random but always the same: sha256("<experiment>/<group_id>"),
even → A, odd → B. A `holdout` group gets no message from any rule that has a variant. The lift the arms
made is measured in `qunflow.metrics.experiments`.
"""
from __future__ import annotations

import hashlib

from ..sheet.records import Group, SopRule

ARMS = ("A", "B")


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
