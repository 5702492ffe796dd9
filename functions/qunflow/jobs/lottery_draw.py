"""`qunflow lottery draw` and `verify`: a seeded draw among a group's eligible members, prize coupons bound to
the winners in one write, the result posted through the group's webhook. The draw itself is
`qunflow.members.lottery` (pure).

A draw is identified by (group, prize, time). Drawing it again returns the winners it had and issues
nothing new: the state store remembers each draw (binding kind `lottery`) where one is open; otherwise
the Coupons tab does (its `draw_id` column names the draw that gave each prize code).

A WeCom customer group (`wecom-customer`) has no robot: `--post` to one is refused in plain words before anything
is drawn (a post there is a group-send task its owner confirms); drawing without `--post` works, and the operator
posts the result text in WeCom."""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from ..delivery import Delivery, Dispatcher, Masker, Mentions, Message, Target
from ..delivery.message import MENTION_SLOT
from ..members.lottery import (TooFewEligible, default_seed, draw, draw_id, eligible, eligible_hash, normalized,
                               result_text, verify)
from ..sheet.i18n import message
from ..members.tags import rule_tags
from ..sheet.cells import fold
from ..sheet.changes import Changes
from .errors import Refused
from .reading import read_workbook
from .send import resolve_hook


@dataclass
class Drawn:
    group: Any
    result: Any                                   # members.lottery.DrawResult
    eligible: list[str]
    awarded: dict[str, str] = field(default_factory=dict)   # member_id -> prize code
    names: dict[str, str] = field(default_factory=dict)
    text: str = ""                                # the result message, in the workbook's language
    note: str = ""                                # a write kept for later (the workbook was saved meanwhile)
    wb: Any = None
    hook: tuple[str, str | None] | None = None
    again: bool = False                           # drawn before: its winners, nothing new issued
    draw_id: str = ""


def eligible_in(wb: Any, group_id: str, among: str | None, now: datetime,
                warn: Callable[[str], None] = lambda _: None) -> tuple[Any, list[str]]:
    """(group, sorted eligible member ids); Refused when the group is unknown or --among is malformed."""
    group = next((g for g in wb.groups.values() if fold(g.group_id) == fold(group_id)), None)
    if group is None:
        known = ", ".join(sorted(wb.groups)[:20]) or "none"
        raise Refused(f"no group {group_id!r} in the {wb.title('groups')} tab (groups: {known})")
    tags, bad = rule_tags(wb, now)
    for tag, error in bad:
        if among and fold(tag.tag) in fold(among):
            warn(f"note: the rule of tag {tag.tag} cannot be used ({error.message}); it matches nobody")
    try:
        return group, eligible(wb.members.values(), group.group_id, among,
                               tag_of=lambda m: (*tags.get((m.member_id, m.group_id), m.tags), *m.rule_tags))
    except ValueError as exc:
        raise Refused(str(exc)) from None


def _prize_codes(wb: Any, campaign: str) -> list[str]:
    pool = [c for c in wb.coupons.values() if fold(c.campaign) == fold(campaign)]
    if not pool:
        raise Refused(f"no coupon of campaign {campaign!r} in the {wb.title('coupons')} tab: add its codes first")
    return sorted(c.code for c in pool if c.status == "available" and not c.member_id)


def _earlier(state: Any, wb: Any, the_draw: str) -> dict | None:
    """What a previous run of this draw decided: {winners, awarded, seed, eligible}, from the state store, else
    from the Coupons tab's draw_id column (prize draws only)."""
    if state is not None:
        held = state.bindings("lottery").get(the_draw)
        if held is not None:
            return json.loads(held.value)
    awarded = {c.member_id: c.code for c in sorted(wb.coupons.values(), key=lambda c: c.row)
               if c.member_id and (c.draw_id or "") == the_draw}
    return {"winners": list(awarded), "awarded": awarded} if awarded else None


def run_draw(store: Any, group_id: str, now: datetime, *, prize: str | None, winners: int, among: str | None,
             seed: str | None, post: bool, dry_run: bool, warn: Callable[[str], None] = lambda _: None,
             state: Any = None) -> Drawn:
    """Draw under the store's lease; bind the prize codes unless `dry_run`. With `post`, the webhook is resolved
    before anything is drawn or written, so a missing one stops here. The same draw (group, prize, time) run
    again returns its winners and issues nothing."""
    from ..state.base import Binding
    with store.lease("lottery", 30):
        snapshot, wb = read_workbook(store, now.date())
        group, ids = eligible_in(wb, group_id, among, now, warn)
        if post and not dry_run:
            _postable(group, wb.lang)
        hook = resolve_hook(group) if post and not dry_run else None
        the_draw = draw_id(group.group_id, now, prize)
        earlier = _earlier(state, wb, the_draw)
        if earlier is not None:
            ids = normalized(earlier.get("eligible") or ids)
            result = draw(ids, len(earlier["winners"]), earlier.get("seed") or seed or default_seed(group.group_id, now, prize)) \
                if earlier.get("eligible") else None
            if result is None or list(result.winners) != list(earlier["winners"]):
                from ..members.lottery import Draw
                result = Draw(earlier.get("seed") or seed or default_seed(group.group_id, now, prize), eligible_hash(ids),
                              tuple(earlier["winners"]), len(ids))
            drawn = Drawn(group, result, ids, dict(earlier.get("awarded") or {}), wb=wb, hook=hook, again=True,
                          draw_id=the_draw)
            warn(message("lottery_drawn_before", wb.lang, draw=the_draw))
            return _finish(drawn, wb, group, prize, among)
        if not ids:
            raise Refused(f"nobody in {group.group_id} can win{' ' + among if among else ''}: no active member who "
                          f"is not blacklisted")
        if winners > len(ids):
            raise Refused(message("lottery_too_few_eligible", wb.lang, wanted=winners, eligible=len(ids),
                                  group=group.group_id))
        codes = _prize_codes(wb, prize) if prize else []
        if prize and len(codes) < winners:
            raise Refused(f"campaign {prize!r} has {len(codes)} available code(s) for {winners} "
                          f"winner(s): add codes in the {wb.title('coupons')} tab or lower --winners; nothing was drawn")
        try:
            result = draw(ids, winners, seed or default_seed(group.group_id, now, prize))
        except TooFewEligible as exc:   # pragma: no cover - checked above
            raise Refused(message("lottery_too_few_eligible", wb.lang, wanted=exc.wanted, eligible=exc.eligible,
                                  group=group.group_id)) from None
        drawn = Drawn(group, result, ids, dict(zip(result.winners, codes)), wb=wb, hook=hook, draw_id=the_draw)
        local = now.astimezone(wb.settings.timezone).replace(tzinfo=None, microsecond=0)
        if not dry_run:
            if state is not None:
                state.bind([Binding("lottery", the_draw, json.dumps(
                    {"winners": list(result.winners), "awarded": drawn.awarded, "seed": result.seed,
                     "eligible": ids}, ensure_ascii=False), "", now)])
            if drawn.awarded:
                changes = Changes()
                for member_id, code in drawn.awarded.items():
                    for column, value in (("status", "issued"), ("member_id", member_id), ("issued_at", local),
                                          ("expires_at", local + timedelta(days=wb.settings.coupon_expiry_days)),
                                          ("draw_id", the_draw)):
                        changes.set("coupons", code, column, value)
                report = store.write(changes, snapshot, wb.lang)
                if report.deferred:
                    drawn.note = report.reason
    return _finish(drawn, wb, group, prize, among)


def _finish(drawn: Drawn, wb: Any, group: Any, prize: str | None, among: str | None) -> Drawn:
    drawn.names = {m.member_id: m.name for m in wb.members.values()}
    drawn.text = result_text(drawn.result, drawn.names, group.group_id, wb.lang, prize, among,
                             eligible_ids=drawn.eligible)
    return drawn


def _postable(group: Any, lang: str) -> None:
    """Refused (2) for a WeCom customer group: the result cannot go through a robot there."""
    if group.platform == "wecom-customer":
        raise Refused(message("wecom_lottery_no_post", lang, group=group.group_id))


def post_result(drawn: Drawn, *, session: Any, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
    """The result to the group, through the same dispatcher as `qunflow send`; Refused (1) if not accepted."""
    wb, group = drawn.wb, drawn.group
    _postable(group, wb.lang)
    members = [wb.members[w] for w in drawn.result.winners if w in wb.members]
    users = [m for m in members if m.platform_user_id]
    mentions = Mentions(user_ids=tuple(m.platform_user_id for m in users), names=tuple(m.name for m in users),
                        mobiles=tuple(m.mobile for m in members if not m.platform_user_id and m.mobile))
    # the winners are named once: where the text lists them, the platform writes its own @-mentions
    # (plain @names stay only for winners it cannot @)
    plain = " ".join(f"@{drawn.names.get(w) or w}" for w in drawn.result.winners)
    reachable = {m.member_id for m in users} | {m.member_id for m in members if not m.platform_user_id and m.mobile}
    marks = " ".join([MENTION_SLOT] + [f"@{drawn.names.get(w) or w}" for w in drawn.result.winners if w not in reachable])
    text = drawn.text.replace(plain, marks, 1) if plain and mentions else drawn.text
    webhook, secret = drawn.hook
    masker = Masker([webhook, secret])
    dispatcher = Dispatcher(session, clock, sleep, random.Random(), masker=masker, max_attempts=4,
                            deadline=clock() + 120)
    report = dispatcher.dispatch([Delivery("lottery", Target(group.platform, group.group_id, webhook, secret),
                                           Message("text", text, mentions=mentions))])
    result = report.results[0]
    if result.status != "sent":
        raise Refused(f"the result was not posted to {group.group_id}: {masker.mask(result.reason)} (the coupons are "
                      f"issued; post the text above by hand)", 1)


@dataclass
class Verified:
    eligible: int
    digest: str
    hash_ok: bool                     # the list's hash is the one the draw printed (or none was given)
    ok: bool                          # the seed on this list picks exactly the claimed winners
    picks: tuple[str, ...] = ()       # what the seed picks on this list, when it is not the claimed winners


def verify_draw(store: Any, group_id: str, seed: str, claimed: list[str], now: datetime, *, among: str | None,
                eligible_lines: list[str] | None, expected_hash: str | None) -> Verified:
    """Re-run the draw on the eligible list: the one the draw saved, or the sheet's as it is now."""
    if eligible_lines is not None:
        ids = normalized(eligible_lines)
    else:
        _, wb = read_workbook(store, now.date())
        _, ids = eligible_in(wb, group_id, among, now)
    digest = eligible_hash(ids)
    hash_ok = not expected_hash or expected_hash.strip().lower() == digest
    if verify(ids, seed, claimed):
        return Verified(len(ids), digest, hash_ok, True)
    if not ids or len(claimed) > len(ids):
        return Verified(len(ids), digest, hash_ok, False)
    return Verified(len(ids), digest, hash_ok, False, tuple(draw(ids, max(1, len(claimed)), seed).winners))


def verify_post(text: str, lang: str) -> tuple[int, str]:
    """`lottery verify --text`: (exit code, what to say). 0 OK, 1 the winners are not the draw's, 2 not a post."""
    from ..members.lottery import read_post, verify_posted
    checked = verify_posted(text)
    if checked.reason:
        return 2, message("lottery_post_unreadable", lang, reason=checked.reason)
    posted = read_post(text)
    winners = ", ".join(posted.winners)
    if checked.ok:
        return 0, message("lottery_post_ok", lang, count=checked.eligible, seed=posted.seed, winners=winners)
    return 1, message("lottery_post_mismatch", lang, count=checked.eligible, seed=posted.seed,
                      picks=", ".join(checked.picks), winners=winners)
