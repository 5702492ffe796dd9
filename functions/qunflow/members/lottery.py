"""Lotteries anyone can check. Pure.

A draw is reproducible from two public values:
- the eligible list's hash: sha256 of the sorted, de-duplicated member ids joined by newlines (hex), so
  nobody can add or drop a member after the fact without the hash changing;
- the seed: given by the operator (best: announced before the draw, e.g. the closing price of a
  public index), or by default derived from public, logged inputs: the group, the prize and the draw
  time (`default_seed`).
Winners are `random.Random(f"{seed}:{hash}").sample(sorted_ids, k)`: the same inputs give the same
winners on any machine running CPython 3.11+. `verify` re-runs the draw.

The post publishes the seed, the hash and the eligible list masked (`M***07`), in draw order. `sample`
picks positions that depend only on the list's length and the generator, so the masked list is enough to
recompute which positions win: `verify_posted` re-runs the draw from the posted text alone, without the
workbook. A draw is identified by (group, prize, time): `draw_id`.

Who may win (`eligible`): active members of the group who have not left, and never anyone on the
blacklist, whichever group they were blacklisted in (matched by member id, platform user id or mobile).
"""
from __future__ import annotations

import hashlib
import random
import shlex
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from ..sheet.cells import fold
from ..sheet.i18n import message


@dataclass(frozen=True)
class Draw:
    seed: str
    eligible_hash: str
    winners: tuple[str, ...]
    eligible_count: int = 0


def normalized(member_ids: Iterable[str]) -> list[str]:
    """The eligible list as it is hashed and drawn from: trimmed, de-duplicated, sorted."""
    return sorted({str(m).strip() for m in member_ids if str(m).strip()})


def eligible_hash(member_ids: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(normalized(member_ids)).encode("utf-8")).hexdigest()


def default_seed(group_id: str, at: datetime, prize: str | None = None) -> str:
    """A seed from public, logged inputs: group, prize and the draw time in UTC, e.g. G01:welcome50:20261201T120000Z."""
    stamp = at.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return ":".join(part for part in (group_id, prize or "", stamp) if part)


class TooFewEligible(ValueError):
    def __init__(self, wanted: int, eligible: int):
        super().__init__(f"{wanted} winners asked for, {eligible} eligible")
        self.wanted, self.eligible = wanted, eligible


def draw_id(group_id: str, at: datetime, prize: str | None = None) -> str:
    """What identifies a draw: its group, prize and time (the default seed is made of the same)."""
    return default_seed(group_id, at, prize)


def draw(eligible_member_ids: Iterable[str], winners: int, seed: str) -> Draw:
    """Choose `winners` members; TooFewEligible when fewer are eligible (nothing is drawn)."""
    if winners < 1:
        raise ValueError("a draw needs at least 1 winner")
    if winners > len(normalized(eligible_member_ids)):
        raise TooFewEligible(winners, len(normalized(eligible_member_ids)))
    pool = normalized(eligible_member_ids)
    digest = hashlib.sha256("\n".join(pool).encode("utf-8")).hexdigest()
    chosen = random.Random(f"{seed}:{digest}").sample(pool, min(winners, len(pool)))
    return Draw(str(seed), digest, tuple(chosen), len(pool))


def verify(eligible_member_ids: Iterable[str], seed: str, claimed_winners: Iterable[str]) -> bool:
    """True when re-drawing from the same list and seed picks exactly the claimed winners (in any order)."""
    claimed = [str(c).strip() for c in claimed_winners if str(c).strip()]
    if not claimed or len(set(claimed)) != len(claimed):
        return False
    if len(claimed) > len(normalized(eligible_member_ids)):
        return False
    again = draw(eligible_member_ids, len(claimed), seed)
    return len(again.winners) == len(claimed) and set(again.winners) == set(claimed)


# --- who may win ----------------------------------------------------------------------------------------

from .blacklist import blacklist  # noqa: E402  (one definition of the cross-group blacklist)


def eligible(members: Iterable[Any], group_id: str, among: str | None = None,
             tag_of: Callable[[Any], Iterable[str]] = lambda m: m.tags) -> list[str]:
    """Member ids who may win in `group_id`, sorted. `among`: "tag:NAME" or "layer:core" narrows the pool.

    `tag_of(member)` gives a member's tags (default: the Members tab's column; pass rule tags too)."""
    members = list(members)
    ids, users, mobiles = blacklist(members)
    kind, _, wanted = (among or "").partition(":")
    kind, wanted = fold(kind), fold(wanted)
    if among and (kind not in ("tag", "layer", "标签", "分层") or not wanted):
        raise ValueError(f"--among {among!r}: write tag:NAME or layer:core")
    out = []
    for m in members:
        if fold(m.group_id) != fold(group_id) or m.status != "active" or m.left_at is not None:
            continue
        if m.member_id in ids or (m.platform_user_id and m.platform_user_id in users) or \
                (m.mobile and m.mobile in mobiles):
            continue
        if kind in ("tag", "标签") and wanted not in {fold(t) for t in tag_of(m)}:
            continue
        if kind in ("layer", "分层") and fold(m.layer or "") != wanted:
            continue
        out.append(m.member_id)
    return normalized(out)


# --- what the group sees ----------------------------------------------------------------------------------

def mask(member_id: str) -> str:
    """A member id as the group sees it: first character and last two, `M***07` (short ids: `M*`)."""
    text = str(member_id)
    if len(text) <= 2:
        return text[:1] + "*"
    if len(text) <= 4:
        return text[:1] + "*" * (len(text) - 2) + text[-1]
    return text[:1] + "***" + text[-2:]


def verify_command(result: Draw, group_id: str, among: str | None = None) -> str:
    parts = ["qunflow", "lottery", "verify", "--group", group_id, "--seed", result.seed, "--hash", result.eligible_hash]
    if among:
        parts += ["--among", among]
    parts += ["--winners-list", ",".join(result.winners)]
    return " ".join(shlex.quote(p) for p in parts)


def result_text(result: Draw, names: dict[str, str], group_id: str, lang: str, prize: str | None = None,
                among: str | None = None, eligible_ids: Iterable[str] | None = None) -> str:
    """The announcement: winners @-mentioned by name, the seed, the hash, the masked eligible list and how
    to check the draw from this text alone."""
    mentions = " ".join(f"@{names.get(w) or w}" for w in result.winners)
    listed = normalized(eligible_ids) if eligible_ids is not None else []
    return message("lottery_result_posted", lang, prize=message("lottery_prize", lang, prize=prize) if prize else "",
                   mentions=mentions, count=result.eligible_count, seed=result.seed, hash=result.eligible_hash,
                   winners=", ".join(mask(w) for w in result.winners),
                   eligible=" ".join(mask(m) for m in listed))


_LINES = {
    "seed": r"^\s*(?:Seed|随机种子)\s*[:：]\s*(?P<v>.+?)\s*$",
    "hash": r"(?:sha256)\)?\s*[）)]?\s*[:：]\s*(?P<v>[0-9a-fA-F]{64})",
    "winners": r"^\s*(?:Winners|中奖编号)\s*[:：]\s*(?P<v>.+?)\s*$",
    "eligible": r"^\s*(?:Eligible[^:：]*|参与名单[^:：]*)[:：]\s*(?P<v>.*?)\s*$",
    "count": r"(?:Drawn from|共)\s*(?P<v>\d+)",
}


@dataclass(frozen=True)
class Posted:
    seed: str
    eligible_hash: str
    winners: tuple[str, ...]       # masked, in draw order
    eligible: tuple[str, ...]      # masked, in list order
    count: int | None = None


@dataclass(frozen=True)
class PostCheck:
    ok: bool
    eligible: int
    picks: tuple[str, ...] = ()
    reason: str = ""               # why the text cannot be checked (a line missing), else ""


def read_post(text: str) -> Posted | None:
    """The draw's public values from the posted text (either language); None when a line is missing."""
    import re
    found = {}
    for key, pattern in _LINES.items():
        hit = re.search(pattern, text or "", re.MULTILINE)
        if hit:
            found[key] = hit.group("v")
    if not all(k in found for k in ("seed", "hash", "winners", "eligible")):
        return None
    split = lambda v: tuple(x for x in re.split(r"[,，、\s]+", v) if x)  # noqa: E731
    return Posted(found["seed"], found["hash"].lower(), split(found["winners"]), split(found["eligible"]),
                  int(found["count"]) if "count" in found else None)


def verify_posted(text: str) -> PostCheck:
    """Re-run the draw from the posted text alone: the same seed and hash on a list of that length pick the
    same positions; the masked ids there must be the posted winners."""
    posted = read_post(text)
    if posted is None:
        return PostCheck(False, 0, reason="missing")
    n, k = len(posted.eligible), len(posted.winners)
    if posted.count is not None and posted.count != n:
        return PostCheck(False, n, reason="count")
    if not k or k > n:
        return PostCheck(False, n, reason="winners")
    positions = random.Random(f"{posted.seed}:{posted.eligible_hash}").sample(range(n), k)
    picks = tuple(posted.eligible[i] for i in positions)
    return PostCheck(picks == posted.winners, n, picks)
