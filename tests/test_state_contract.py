"""One contract for every state store: SQLite (a real file) and Firestore (the real emulator on 127.0.0.1).

The Firestore half skips with a message where the emulator cannot start (tests/firestore_emulator.py).
"""
from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta, timezone

import pytest

from qunflow.state.base import ActivityDay, ActivityHit, Binding, Conflict, LeaseBusy, SendState, lease
from qunflow.state.sqlite import SqliteState

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def claim(state, ids, at=T0, holder="run-1", bindings=()):
    state.claim(list(ids), rule_id="R01", group_id="G01", scheduled_for=at, holder=holder, at=at, bindings=bindings)


def test_a_claim_is_in_flight_then_settled_and_a_final_send_never_changes(state):
    claim(state, ["R01:G01:1"])
    assert state.get_sends(["R01:G01:1"])["R01:G01:1"].status == "claimed"
    state.settle(["R01:G01:1"], "sent", at=T0 + timedelta(seconds=2), attempts=1, sent_at=T0, preview="hi")
    got = state.get_sends(["R01:G01:1"])["R01:G01:1"]
    assert (got.status, got.attempts, got.sent_at, got.preview, got.holder) == ("sent", 1, T0, "hi", "run-1")
    with pytest.raises(Conflict):
        claim(state, ["R01:G01:1"], holder="run-2")
    with pytest.raises(Conflict):
        state.settle(["R01:G01:1"], "failed", at=T0)
    assert state.record([SendState("R01:G01:1", "missed")], T0) == 0
    assert state.get_sends(["R01:G01:1"])["R01:G01:1"].status == "sent"


def test_a_claimed_send_cannot_be_claimed_twice_by_overlapping_runs(state):
    claim(state, ["a", "b"])
    with pytest.raises(Conflict):
        claim(state, ["c", "b"], holder="run-2")
    assert set(state.get_sends(["a", "b", "c"])) == {"a", "b"}      # the refused claim wrote nothing


def test_settling_a_send_that_was_never_claimed_is_refused(state):
    with pytest.raises(Conflict):
        state.settle(["never"], "sent", at=T0)


def test_retry_and_deferred_sends_can_be_claimed_again_and_keep_their_attempts(state):
    assert state.record([SendState("d", "deferred", "R01", "G01", T0), SendState("r", "retry", attempts=4)], T0) == 2
    claim(state, ["d", "r"])
    got = state.get_sends(["d", "r"])
    assert (got["d"].status, got["r"].status, got["r"].attempts) == ("claimed", "claimed", 4)


def test_bindings_are_made_with_the_claim_and_a_code_goes_to_one_member_only(state):
    claim(state, ["W01:G01:M1"], bindings=[Binding("coupon", "WEL-1", "M1", "W01:G01:M1", T0),
                                           Binding("welcome", "M1@G01", "2026-12-01T20:00:00", "W01:G01:M1", T0)])
    assert state.bindings("coupon")["WEL-1"].value == "M1"
    with pytest.raises(Conflict):       # WEL-1 is M1's: another member's claim fails whole, nothing is bound
        claim(state, ["W01:G01:M2"], bindings=[Binding("welcome", "M2@G01", "x"), Binding("coupon", "WEL-1", "M2")])
    assert "M2@G01" not in state.bindings("welcome") and state.get_sends(["W01:G01:M2"]) == {}
    state.bind([Binding("coupon", "WEL-1", "M1")])                  # the same binding again is no change
    with pytest.raises(Conflict):
        state.bind([Binding("coupon", "WEL-1", "M9")])


def test_the_inbox_keeps_each_event_once_in_arrival_order(state):
    assert state.put_events([{"event_id": "e1", "type": "join"}, {"event_id": "e2", "type": "message"}], T0) == 2
    assert state.put_events([{"event_id": "e2", "type": "message"}, {"event_id": "e3", "type": "leave"}], T0) == 1
    assert [e["event_id"] for e in state.pending_events()] == ["e1", "e2", "e3"]
    state.mark_folded(["e1", "e3"])
    assert [e["event_id"] for e in state.pending_events()] == ["e2"]
    assert state.put_events([{"event_id": "e1", "type": "join"}], T0) == 0      # folded is still seen
    assert state.known_events(["e1", "e2", "e9", "e1"]) == {"e1", "e2"}
    with pytest.raises(ValueError):
        state.put_events([{"type": "join"}], T0)


def test_activity_counts_each_pending_message_once_and_folds_it(state):
    at = T0 + timedelta(minutes=3)
    state.put_events([{"event_id": f"m{i}", "type": "message"} for i in range(4)], T0)
    hits = [ActivityHit("m0", "M1@G01", "2026-12-01", T0), ActivityHit("m1", "M1@G01", "2026-12-01", at),
            ActivityHit("m2", "M1@G01", "2026-12-02", at), ActivityHit("m3", "M2@G01", "2026-12-01", T0),
            ActivityHit("m1", "M1@G01", "2026-12-01", at), ActivityHit("nowhere", "M9@G01", "2026-12-01", T0)]
    assert state.add_activity(hits, at) == 4          # m1 twice counts once; an event not in the inbox not at all
    assert state.pending_events() == []               # the counted messages are folded with the count
    assert state.add_activity(hits, at) == 0          # a tick that runs again counts nothing twice
    assert state.activity() == [ActivityDay("M1@G01", "2026-12-01", 2, at), ActivityDay("M1@G01", "2026-12-02", 1, at),
                                ActivityDay("M2@G01", "2026-12-01", 1, T0)]
    assert [(a.key, a.day) for a in state.activity(since="2026-12-02")] == [("M1@G01", "2026-12-02")]
    state.put_events([{"event_id": "m4", "type": "message"}], at)
    assert state.add_activity([ActivityHit("m4", "M1@G01", "2026-12-01", T0)], at) == 1
    assert state.activity()[0] == ActivityDay("M1@G01", "2026-12-01", 3, at)     # the latest time stays
    with pytest.raises(ValueError):
        state.add_activity([ActivityHit("m4", "M1@G01", "1 Dec", T0)], at)


def stored_bodies(state) -> dict[str, dict]:
    """What the store holds in its inbox, folded or not, read past the interface (what is on disk)."""
    import json
    if state.kind == "sqlite":
        rows = state._db.execute("SELECT event_id, body FROM inbox")
        return {r["event_id"]: json.loads(r["body"]) for r in rows}
    return {d.get("event_id"): json.loads(d.get("body")) for d in state._inbox.stream()}


def test_folding_drops_what_people_wrote_and_old_folded_events_are_forgotten(state):
    state.put_events([{"event_id": f"m{i}", "type": "message", "user_id": "U1", "text": f"打卡 day {i}"}
                      for i in range(3)], T0)
    state.put_events([{"event_id": "m3", "type": "message", "user_id": "U1", "text": "still pending"}],
                     T0 + timedelta(days=40))
    state.add_activity([ActivityHit("m0", "M1@G01", "2026-12-01", T0)], T0)     # counted: folded with the count
    state.mark_folded(["m1"])                                                  # a check-in row: folded after the write
    held = stored_bodies(state)
    assert "text" not in held["m0"] and "text" not in held["m1"] and held["m0"]["user_id"] == "U1"
    assert held["m2"]["text"] == "打卡 day 2" and held["m3"]["text"] == "still pending"   # not folded yet
    assert state.forget_events(T0 + timedelta(days=30)) == 2                   # m0, m1: folded and old
    assert set(stored_bodies(state)) == {"m2", "m3"}                           # pending ones stay, however old
    assert state.forget_events(T0 + timedelta(days=30)) == 0
    assert [e["event_id"] for e in state.pending_events()] == ["m2", "m3"]


def test_cursors_never_move_back(state):
    assert state.cursor("last_tick") is None
    assert state.advance("last_tick", "2026-12-01T12:00:00Z") == "2026-12-01T12:00:00Z"
    assert state.advance("last_tick", "2026-12-01T11:00:00Z") == "2026-12-01T12:00:00Z"
    assert state.advance("last_tick", "2026-12-01T12:05:00Z") == "2026-12-01T12:05:00Z"
    assert state.cursor("last_tick") == "2026-12-01T12:05:00Z"


def test_a_lease_has_one_holder_until_released_or_expired(state):
    assert state.acquire("tick", "a", 60, now=1000.0)
    assert not state.acquire("tick", "b", 60, now=1030.0)
    assert state.acquire("tick", "a", 60, now=1030.0)             # its holder renews it
    assert state.acquire("tick", "b", 60, now=1091.0)             # expired: taken over
    state.release("tick", "a")                                    # not a's any more: no effect
    assert not state.acquire("tick", "a", 60, now=1100.0)
    state.release("tick", "b")
    assert state.acquire("tick", "a", 60, now=1100.0)


def test_lease_waits_within_its_bound_then_says_busy(state):
    now = [0.0]
    state.acquire("ingest", "other", 5, now=0.0)
    with lease(state, "ingest", "me", 60, wait=10, clock=lambda: now[0],
               sleep=lambda s: now.__setitem__(0, now[0] + s)):
        assert now[0] >= 5                                        # waited for the other's TTL to pass
    state.acquire("ingest", "other", 600, now=now[0])
    with pytest.raises(LeaseBusy):
        with lease(state, "ingest", "me", 60, wait=3, clock=lambda: now[0],
                   sleep=lambda s: now.__setitem__(0, now[0] + s)):
            pass


def test_sends_since_lists_what_changed(state):
    state.record([SendState("old", "skipped")], T0)
    state.record([SendState("new", "missed")], T0 + timedelta(days=20))
    assert [s.send_id for s in state.sends(since=T0 + timedelta(days=10))] == ["new"]
    assert {s.send_id for s in state.sends()} == {"old", "new"}


def test_concurrent_claims_of_one_send_let_exactly_one_through(state, tmp_path):
    """Two threads (SQLite: two connections to one file) race for the same send and the same coupon."""
    if state.kind == "sqlite":
        others = [SqliteState(state.path) for _ in range(4)]
    else:
        others = [state] * 4
    won, lost = [], []

    def race(i, store):
        try:
            claim(store, ["W01:G01:race"], holder=f"run-{i}", bindings=[Binding("coupon", "RACE-1", f"M{i}")])
            won.append(i)
        except Conflict:
            lost.append(i)

    threads = [threading.Thread(target=race, args=(i, s)) for i, s in enumerate(others)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(won) == 1 and len(lost) == 3
    assert state.bindings("coupon")["RACE-1"].value == f"M{won[0]}"
    if state.kind == "sqlite":
        for s in others:
            s.close()


def test_the_store_comes_from_settings_or_sits_beside_the_workbook(tmp_path):
    from qunflow.state.open import open_state, state_spec
    assert state_spec(tmp_path / "shop.xlsx", {}) == str(tmp_path / "shop.qunflow-state.sqlite")
    assert state_spec(tmp_path / "shop.xlsx", {"QUNFLOW_STATE": "firestore:qunflow"}) == "firestore:qunflow"
    with pytest.raises(ValueError, match="QUNFLOW_STATE"):
        state_spec(None, {})
    store = open_state(state_spec(tmp_path / "shop.xlsx", {}))
    store.advance("last_tick", "2026-12-01T00:00:00Z")
    store.close()
    assert open_state(str(tmp_path / "shop.qunflow-state.sqlite")).cursor("last_tick") == "2026-12-01T00:00:00Z"


def test_firestore_spec_opens_that_database(firestore_emulator):
    from qunflow.state.open import open_state
    store = open_state("firestore:(default)", client=firestore_emulator.client())
    assert store.kind == "firestore"
    store.advance("opened", "yes")
    assert store.cursor("opened") == "yes"


def test_firestore_that_keeps_aborting_is_busy_and_nothing_is_written(firestore_emulator, monkeypatch):
    """A run that died holding a transaction's locks makes Firestore abort whoever reads those documents until
    the locks expire: after its bounded, growing pauses the step is `StoreBusy` (the function answers 503 and
    Cloud Scheduler runs it again), never a half-written step."""
    from google.api_core import exceptions as gexc

    from qunflow.state import firestore as fs
    from qunflow.state.base import StoreBusy
    pauses: list[float] = []
    store = fs.FirestoreState(firestore_emulator.client(), prefix="busy", sleep=pauses.append, rng=random.Random(1))
    real = fs.firestore.transactional

    def aborting(body):
        def run(transaction, *args):                # what the library raises when its commit was aborted
            raise ValueError("Failed to commit transaction in 1 attempts.") from gexc.Aborted("contention")
        return run

    monkeypatch.setattr(fs.firestore, "transactional", aborting)
    with pytest.raises(StoreBusy, match="nothing of it was written"):
        store.advance("last_tick", "2026-12-01T00:00:00Z")
    assert len(pauses) == fs.ATTEMPTS - 1 and all(0 <= p <= 2.0 for p in pauses)
    assert sum(pauses) > 1.0                      # paced, growing pauses: the locks get time to expire
    monkeypatch.setattr(fs.firestore, "transactional", real)
    assert store.cursor("last_tick") is None
    store.advance("last_tick", "2026-12-01T00:00:00Z")    # once the locks are gone, the step goes through
    assert store.cursor("last_tick") == "2026-12-01T00:00:00Z"


def test_the_cache_keeps_a_value_until_it_expires_and_a_new_one_replaces_it(state):
    assert state.cached("wecom_token:ww1", now=1000.0) is None
    state.cache("wecom_token:ww1", "tok-1", expires_at=8200.0)
    assert state.cached("wecom_token:ww1", now=1000.0) == "tok-1"
    assert state.cached("wecom_token:ww1", now=8199.9) == "tok-1"
    assert state.cached("wecom_token:ww1", now=8200.0) is None          # expired at its expiry
    state.cache("wecom_token:ww1", "tok-2", expires_at=9000.0)          # a refresh writes over it
    assert state.cached("wecom_token:ww1", now=8300.0) == "tok-2"


def test_expired_cache_entries_are_forgotten_and_live_ones_kept(state):
    state.cache("token:a", "t-a", 100.0)
    state.cache("token:b", "t-b", 200.0)
    state.cache("parsed:v1:events:0", "{}", 300.0)
    assert state.forget_cached(200.0) == 2                     # expired at or before now: a and b
    assert state.cached_under("", 0.0) == {"parsed:v1:events:0": "{}"}
    assert state.forget_cached(200.0) == 0


def test_the_cache_lists_live_values_under_a_prefix(state):
    state.cache("wecom_task:m1", '{"a": 1}', expires_at=5000.0)
    state.cache("wecom_task:m2", '{"a": 2}', expires_at=100.0)
    state.cache("wecom_task:m3/x", '{"a": 3}', expires_at=5000.0)
    state.cache("wecom_tasks", "other", expires_at=5000.0)
    state.cache("wecom_token:ww1", "tok", expires_at=5000.0)
    assert state.cached_under("wecom_task:", now=1000.0) == {"wecom_task:m1": '{"a": 1}', "wecom_task:m3/x": '{"a": 3}'}
    assert state.cached_under("nothing:", now=1000.0) == {}


def test_an_awaiting_confirmation_send_is_settled_again_and_never_claimed_or_recorded_over(state):
    claim(state, ["C01:G01:1"])
    state.settle(["C01:G01:1"], "awaiting_confirmation", at=T0, attempts=1, reason="task msg1", preview="hi")
    with pytest.raises(Conflict):
        claim(state, ["C01:G01:1"], holder="run-2")                 # a task waits: no second task
    assert state.record([SendState("C01:G01:1", "missed")], T0) == 0
    state.settle(["C01:G01:1"], "awaiting_confirmation", at=T0 + timedelta(hours=2), attempts=1, reason="reminded")
    state.settle(["C01:G01:1"], "sent", at=T0 + timedelta(hours=3), attempts=1, sent_at=T0 + timedelta(hours=2, minutes=30))
    got = state.get_sends(["C01:G01:1"])["C01:G01:1"]
    assert (got.status, got.sent_at, got.preview) == ("sent", T0 + timedelta(hours=2, minutes=30), "hi")
    with pytest.raises(Conflict):
        state.settle(["C01:G01:1"], "not_sent", at=T0)              # final now
    claim(state, ["C01:G01:2"])
    state.settle(["C01:G01:2"], "not_sent", at=T0, reason="cancelled")
    assert state.get_sends(["C01:G01:2"])["C01:G01:2"].status == "not_sent"
