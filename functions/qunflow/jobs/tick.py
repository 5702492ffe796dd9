"""`qunflow tick`: the main job. The thin shell around the pure engine.

read (1 request) → check → plan what is due in (last tick, now] → deliver → write back (≤ 2 requests).
Clock, HTTP session, store, secrets and journal are injected.
"""
from __future__ import annotations

import logging
import random
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from ..sheet.changes import Changes
from ..engine.compose import compose, preview_of
from ..members.lifecycle import apply_events
from ..metrics.rollup import today_so_far_changes
from ..engine.outcomes import SendOutcome, record, rule_statuses, sendlog_rows
from ..engine.plan import plan_sends
from ..engine.warnings import cap_warnings, no_campaign_start, quota_warnings
from .card_checks import card_problems
from ..engine.customer import link_warnings
from ..engine.planned import PlannedSend
from . import sendlog_projection, tick_state, wecom_tick
from .journal import NullJournal, merge_into
from ..engine.ledger import from_sendlog
from ..sheet.problems import ProblemSink
from ..sop.render import TemplateProblem
from ..delivery.secrets import SecretResolver, UnresolvedSecret
from ..sheet.load import load_workbook
from ..sheet.tables import tab_errors
from ..sheet.workbook import Workbook
from ..sheet.writeback import problems_changes

log = logging.getLogger("qunflow.tick")
# tabs only qunflow writes and the tick never reads back (located for the write, never parsed)
PROJECTIONS = ("metrics", "cohorts", "rules_report")


@dataclass
class TickReport:
    due: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    missed: int = 0
    unknown: int = 0
    deferred: int = 0
    retry: int = 0               # the platform never took them; the next tick tries again
    awaiting_confirmation: int = 0   # WeCom customer-group tasks created, waiting for their owners
    problems: int = 0
    sheets_requests: dict[str, int] = field(default_factory=lambda: {"read": 0, "write": 0})
    window: list[str] = field(default_factory=list)
    note: str = ""
    blocked: list[str] = field(default_factory=list)   # tabs or columns qunflow cannot use: the CLI exits 2
    lang: str = "en"                                   # the workbook's language, which the CLI answers in

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _image_fetcher():
    from ..delivery.fetch import ImageFetcher
    return ImageFetcher()


@dataclass
class TickDeps:
    session: Any                                  # requests.Session (the dispatcher's HTTP)
    clock: Callable[[], float]                    # epoch seconds, consistent with `now`
    sleep: Callable[[float], None]
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    resolver: SecretResolver = field(default_factory=SecretResolver.from_environment)
    journal: Any = field(default_factory=NullJournal)
    masker: Any = None                            # a delivery.masking.Masker the log handlers share; secrets get added
    state: Any = None                             # a state.base.StateStore: qunflow's memory (None: the sheet only)
    timeout: tuple[float, float] = (5.0, 15.0)    # (connect, read) seconds for each webhook request
    wecom_base: str = "https://qyapi.weixin.qq.com"   # WeCom's server API (customer groups); the emulator in tests
    feishu_base: str | None = None                # Feishu's open API (image uploads); None: open.feishu.cn, or
                                                  # open.larksuite.com for a Lark webhook; the emulator in tests
    fetcher: Callable[[], Any] = field(default=_image_fetcher)  # makes the tick's ImageFetcher (jobs/images.py);
                                                  # tests and the demo: ImageFetcher(allow_loopback_http=True)


def window_start(wb: Workbook, now: datetime, state: Any = None) -> datetime:
    last = wb.settings.extra.get("last_tick")
    remembered = tick_state.last_tick(state) if state is not None else None
    if remembered is not None:   # the store's cursor: an operator's stale save cannot move it back
        last = remembered if last is None else max(remembered, last if last.tzinfo else last.replace(tzinfo=timezone.utc))
    if last is None:
        return now - wb.settings.catch_up  # the first tick: open the window catch_up before now
    last = last if last.tzinfo else last.replace(tzinfo=timezone.utc)
    return min(last, now)  # a clock that jumped back sends nothing twice: the window is empty


def run_tick(store: Any, now: datetime, deps: TickDeps, *, dry_run: bool = False) -> TickReport:
    from .collector import roomy_gc
    report = TickReport()
    read0, write0 = store.requests.read, store.requests.write
    with store.lease("tick", 0), roomy_gc():
        snapshot = store.read()
        today = now.astimezone(timezone(timedelta(hours=8))).date()
        state = deps.state
        # with a store that holds the history, the SendLog tab is its projection: located, never parsed
        projected = state is not None and bool(state.cursor(tick_state.IMPORTED))
        wb = load_workbook(snapshot.raw, today=today, grid_rows=snapshot.grid_rows, shared_sheet=store.kind == "google",
                           unparsed=PROJECTIONS + (("sendlog",) if projected else ()), merged=snapshot.merged,
                           reuse=tick_state.parsed_blocks(state, deps.clock) if state is not None else None)
        sink = ProblemSink(wb.lang, list(wb.problems))
        report.lang = wb.lang
        report.blocked = [f"{p.tab}: {p.message}" for p in tab_errors(wb.problems)]
        ledger = from_sendlog(wb.sendlog, lambda gid: (wb.groups[gid].timezone if gid in wb.groups and wb.groups[gid].timezone else wb.settings.timezone))
        recovered = deps.journal.recover()
        merge_into(ledger, recovered)
        changes = Changes()
        rewritten = None
        if state is not None:
            recovered = {}        # the store, not the journal, says what a run that died had done
            if not dry_run:
                tick_state.import_sendlog(state, ledger, now)
            if not dry_run:
                wecom_tick.poll(wb, deps, sink, now)       # customer-group tasks the owners confirmed (or not)
            sends = state.sends()                        # read once: the claims to recover, then the ledger
            if not dry_run:
                sends = tick_state.recover_claims(state, now, sends)
            tick_state.ledger_from_state(sends, ledger)
            window = sendlog_projection.in_window(sends, wb, now)
            wb.sendlog = sendlog_projection.records(window)     # the engine's recent sends: the store's
            tick_state.restore_bindings(state, wb, changes)
            inbox = tick_state.drain_inbox(state, wb, sink, today, changes, now=now)
            from .events_inbox import apply_chat_activity
            apply_chat_activity(state, wb, now, sink)      # messages counted in the store; chats no group claims
        start = window_start(wb, now, state)
        report.window = [start.isoformat(), now.isoformat()]
        if not (wb.tables["members"].unreadable or wb.tables["events"].unreadable):  # else they would be re-created
            apply_events(wb, now, sink, changes)
        if state is not None:      # again: members the events just created may have been welcomed by a run that died
            tick_state.restore_bindings(state, wb, changes)
        planned = plan_sends(wb, ledger, start, now, now)
        cap_warnings(planned, wb, sink)
        quota_warnings(planned, wb, sink)
        link_warnings(planned, wb, sink)          # customer groups' coupon links without coupon_link_base
        from .images import feishu_link_warnings
        feishu_link_warnings(wb, sink)            # Feishu image rows go as links: no app to upload an image_key
        no_campaign_start(wb, sink)
        card_problems(wb, now, sink)              # cards a platform they go to would cut or refuse
        _recovered_rows(recovered, wb, changes)
        _stale_pending(wb, changes)
        positions = {}
        if not dry_run and state is None and hasattr(store, "write_ahead") and any(p.policy == "due" for p in planned):
            rows = sendlog_rows(planned, wb)  # the cloud's write-ahead: every row, before anything is posted
            first = store.write_ahead("sendlog", rows, snapshot, wb.lang)
            positions = {row["send_id"]: first + i for i, row in enumerate(rows)}
        outcomes, disabled = ({}, {}) if dry_run else _deliver(planned, wb, deps, sink)
        counts = record(planned, outcomes, disabled, wb, now, sink, changes, positions)
        for key, value in counts.items():
            setattr(report, key, value)
        if dry_run:
            report.note = "dry run: nothing sent, nothing written"
            report.problems = len(sink.items)
            report.sheets_requests = {"read": store.requests.read - read0, "write": 0}
            return report
        if state is not None:
            tick_state.record_policies(state, planned, outcomes, now)
            tick_state.advance_last_tick(state, now)
            rewritten = sendlog_projection.project(state, wb, window, changes, now)
        rule_statuses(wb, planned, outcomes, now, changes)
        previous = wb.settings.extra.get("last_tick")
        previous = (previous if previous.tzinfo else previous.replace(tzinfo=timezone.utc)) if previous else now
        last = max(previous, now)  # never moves back, even when the clock did
        changes.upsert("settings", [{"key": "last_tick", "value": last.astimezone(timezone.utc).replace(microsecond=0)}])
        local = now.astimezone(wb.settings.timezone).replace(tzinfo=None)
        problems_changes(sink.items, wb.previous_problems, local, changes)
        changes = changes.merge(today_so_far_changes(wb, now))  # the Metrics rows of today, so far
        changes.fold_into_appends({k: t.schema.key_columns for k, t in wb.tables.items()})
        written = store.write(changes, snapshot, wb.lang)
        if state is not None and rewritten:
            state.advance(sendlog_projection.CURSOR, rewritten)
        if not written.deferred:
            deps.journal.clear()
        if state is not None and inbox:
            state.mark_folded(inbox)       # in the Events tab now, or in the write kept for the next run
        if state is not None:
            from .events_inbox import forget_old
            forget_old(state, now)         # once a day: folded events older than INBOX_DAYS
        report.note = written.reason or report.note   # a write kept for later says why, inbox or not
        report.problems = len(sink.items)
    report.sheets_requests = {"read": store.requests.read - read0, "write": store.requests.write - write0}
    return report


def _stale_pending(wb: Workbook, changes: Changes) -> None:
    """A `pending` row left by a run that stopped mid-way may have been posted: it becomes `unknown`, never resent."""
    latest = {}
    for r in wb.sendlog:
        latest[r.send_id] = r.status
    for send_id, status in latest.items():
        if status == "pending":
            changes.set("sendlog", send_id, "status", "unknown")
            changes.set("sendlog", send_id, "outcome", "the run stopped after the write-ahead; it may have been delivered")


def _recovered_rows(recovered: dict[str, dict], wb: Workbook, changes: Changes) -> None:
    """Results a crashed run left in the journal reach the SendLog now."""
    known = {r.send_id: r.status for r in wb.sendlog}
    rows = []
    for sid, record in recovered.items():
        if known.get(sid) == record["state"]:
            continue
        rows.append({"send_id": sid, "rule_id": record.get("rule_id"), "group_id": record.get("group_id"),
                     "status": record["state"], "attempts": record.get("attempts", 0),
                     "sent_at": record.get("sent_at"), "outcome": record.get("reason", "")})
    if rows:
        changes.append("sendlog", rows)


def _deliver(planned: list[PlannedSend], wb: Workbook, deps: TickDeps, sink: ProblemSink):
    from ..delivery.dispatcher import Delivery, Dispatcher
    from ..delivery.masking import Masker
    from ..delivery.message import Target
    outcomes: dict[str, SendOutcome] = wecom_tick.deliver(planned, wb, deps, sink)   # customer groups: tasks
    deliveries, by_id = [], {}
    targets: dict[str, Any] = {}
    masker = deps.masker if deps.masker is not None else Masker()
    groups_table = wb.tables["groups"]
    for p in planned:
        if p.policy != "due" or p.send_id in outcomes:
            continue
        group = p.group
        if group.group_id not in targets:
            try:
                webhook, secret = deps.resolver.resolve(group.webhook), deps.resolver.resolve(group.secret)
                masker.add(webhook)
                if secret:
                    masker.add(secret)
                targets[group.group_id] = Target(group.platform, group.group_id, webhook, secret)
            except UnresolvedSecret as exc:
                targets[group.group_id] = exc
                sink.add("unresolved_webhook", tab=groups_table.title, row=group.row,
                         column=groups_table.header_of("webhook" if exc.reference == group.webhook else "secret", wb.lang),
                         value=exc.reference, where=exc.where)
        target = targets[group.group_id]
        if isinstance(target, UnresolvedSecret):
            outcomes[p.send_id] = SendOutcome("failed", reason=f"{target.reference} is not set")
            continue
        try:
            message = compose(p, wb)
        except TemplateProblem as problem:
            outcomes[p.send_id] = SendOutcome("failed", reason=f"template:{problem.detail}")
            continue
        outcomes[p.send_id] = SendOutcome("failed", preview=preview_of(message), reason="not attempted")
        deliveries.append(Delivery(p.send_id, target, message))
        by_id[p.send_id] = p
    from .images import Images
    from .feishu_images import FeishuUploads
    deliveries = Images(deps.fetcher, wb, sink, FeishuUploads(wb, deps)).prepare(deliveries, by_id, outcomes)
    if not deliveries:
        return outcomes, {}

    if deps.state is not None:
        claims = tick_state.Claims(deps.state, by_id, deps.clock, deps.journal)
        before, after = claims.before_send, claims.after_send
    else:
        def before(delivery, attempt):
            p = by_id[delivery.send_id]
            deps.journal.attempt(p.sends, p.group.group_id, p.rule.rule_id)

        def after(result):
            p = by_id[result.send_id]
            sent_at = datetime.fromtimestamp(result.sent_at, timezone.utc) if result.sent_at else None
            deps.journal.result(p.sends, result.status, result.attempts, sent_at, result.reason, p.group.group_id,
                                p.rule.rule_id)

    dispatcher = Dispatcher(deps.session, deps.clock, deps.sleep, deps.rng, masker=masker, before_send=before,
                            after_send=after, timeout=deps.timeout)
    dispatch = dispatcher.dispatch(deliveries)
    for result in dispatch.results:
        o = outcomes[result.send_id]
        o.status, o.attempts, o.reason, o.cause = result.status, result.attempts, result.reason, result.cause
        o.sent_at = datetime.fromtimestamp(result.sent_at, timezone.utc) if result.sent_at else None
    return outcomes, dict(dispatch.disabled)
