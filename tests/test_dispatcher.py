"""The dispatcher against a virtual clock and a fake session with canned replies: order, rolling windows,
parallel targets, bounded retries, disabling, never resending what may have arrived, and masking."""
from __future__ import annotations

import json
import logging
import random
import socket
import threading
from dataclasses import dataclass

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from qunflow.delivery import Delivery, Dispatcher, Masker, Mentions, Message, Target

T0 = 1_700_000_000.0
KEY = "fakekey1-test-only-not-real-wecomkey00"


def wecom(group: str) -> Target:
    return Target("wecom", group, f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}-{group}")


class Clock:
    def __init__(self, t: float = T0):
        self.t, self.sleeps = t, []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.t += seconds


@dataclass
class Resp:
    status_code: int = 200
    content: bytes = b'{"errcode":0,"errmsg":"ok"}'
    headers: dict | None = None


@dataclass
class Call:
    at: float
    url: str
    body: dict


def errcode(code: int, msg: str = "x") -> Resp:
    return Resp(content=json.dumps({"errcode": code, "errmsg": msg}).encode())


class FakeSession:
    """post/request like requests.Session; `reply(call, n)` returns a Resp or an exception to raise."""

    def __init__(self, clock: Clock, reply=None, latency: float = 0.0):
        self.clock, self.reply, self.latency = clock, reply or (lambda call, n: Resp()), latency
        self.calls: list[Call] = []
        self.lock = threading.Lock()

    def post(self, url, data=None, headers=None, timeout=None, **_):
        assert timeout == (5, 15)
        with self.lock:
            call = Call(self.clock(), url, json.loads(data))
            self.calls.append(call)
            n = len(self.calls)
            self.clock.t += self.latency
        result = self.reply(call, n)
        if isinstance(result, BaseException):
            raise result
        return result

    def request(self, method, url, **kw):
        return self.post(url, **kw)

    def texts(self, group: str) -> list[str]:
        return [c.body["text"]["content"] for c in self.calls if c.url.endswith(f"-{group}")]


def make(clock: Clock, session: FakeSession, **kw) -> Dispatcher:
    return Dispatcher(session, clock, clock.sleep, random.Random(7), **kw)


def deliveries(groups, per_group: int, target=wecom, interleave=True):
    if interleave:
        return [Delivery(f"{g}-{i}", target(g), Message("text", f"{g} #{i}")) for i in range(per_group) for g in groups]
    return [Delivery(f"{g}-{i}", target(g), Message("text", f"{g} #{i}")) for g in groups for i in range(per_group)]


def assert_rolling(times: list[float], n: int, window: float) -> None:
    """No n+1 sends inside any window of `window` seconds."""
    times = sorted(times)
    for i in range(len(times) - n):
        assert times[i + n] - times[i] > window, (i, times[i], times[i + n])


# ---- order and rate limits ---------------------------------------------------------------------------------------
def test_order_within_a_group_is_kept_even_across_a_retry():
    clock = Clock()

    def reply(call, n):
        return errcode(45009) if call.body["text"]["content"] == "A #1" and n < 6 else Resp()

    session = FakeSession(clock, reply)
    report = make(clock, session).dispatch(deliveries(["A", "B", "C"], 5))
    assert [r.status for r in report.results] == ["sent"] * 15
    assert session.texts("A") == ["A #0", "A #1", "A #1", "A #2", "A #3", "A #4"]
    for g in "BC":
        assert session.texts(g) == [f"{g} #{i}" for i in range(5)]
    a1 = [c.at for c in session.calls if c.body["text"]["content"] == "A #1"]
    assert a1[1] - a1[0] >= 60                                 # 45009: at least 60 s
    assert next(r for r in report.results if r.send_id == "A-1").attempts == 2


def test_25_wecom_messages_never_put_21_in_any_60_seconds():
    clock = Clock()
    session = FakeSession(clock)
    report = make(clock, session).dispatch(deliveries(["A"], 25))
    assert report.counts()["sent"] == 25 and len(session.calls) == 25
    times = [c.at for c in session.calls]
    assert_rolling(times, 20, 60.0)
    assert times[19] == T0 and 60 < times[20] - T0 < 62       # the 21st waits for the window, not much more


def test_the_limit_holds_for_every_window_not_just_from_the_start():
    """A token bucket refilled during an idle spell could burst; a rolling window cannot."""
    clock = Clock()
    session = FakeSession(clock)
    dispatcher = make(clock, session)
    dispatcher.dispatch(deliveries(["A"], 10))
    clock.t += 45
    dispatcher.dispatch([Delivery(f"late-{i}", wecom("A"), Message("text", f"late {i}")) for i in range(15)])
    assert_rolling([c.at for c in session.calls], 20, 60.0)


def test_feishu_five_a_second_and_a_hundred_a_minute():
    clock = Clock()
    session = FakeSession(clock, lambda c, n: Resp(content=b'{"code":0,"msg":"success"}'))
    target = Target("feishu", "F", "https://open.feishu.cn/open-apis/bot/v2/hook/abc-123-def")
    report = make(clock, session).dispatch([Delivery(f"f{i}", target, Message("text", f"m{i}")) for i in range(120)])
    assert report.counts()["sent"] == 120
    times = [c.at for c in session.calls]
    assert_rolling(times, 5, 1.0)
    assert_rolling(times, 100, 60.0)


def test_targets_wait_in_parallel_so_the_run_lasts_as_long_as_the_busiest():
    clock = Clock()
    session = FakeSession(clock)
    groups = [f"G{i:03}" for i in range(100)]
    items = deliveries(groups, 3) + deliveries(["BUSY"], 25)
    report = make(clock, session).dispatch(items)
    assert report.counts()["sent"] == 325
    assert report.finished_at - report.started_at < 65        # one group's 25 messages: ~61 s, not 100 × anything
    for g in groups[:5] + ["BUSY"]:
        assert session.texts(g) == [f"{g} #{i}" for i in range(25 if g == "BUSY" else 3)]
    assert_rolling([c.at for c in session.calls if c.url.endswith("-BUSY")], 20, 60.0)


def test_a_split_message_sends_its_parts_in_order_and_each_counts_against_the_limit():
    clock = Clock()
    session = FakeSession(clock)
    long = "\n\n".join(f"段落{i}" + "字" * 600 for i in range(6))   # 6 × ~1800 bytes: 6 parts of ≤ 2048
    items = [Delivery(f"s{i}", wecom("A"), Message("text", long)) for i in range(4)]
    report = make(clock, session).dispatch(items)
    assert [r.parts for r in report.results] == [6] * 4 and all(r.status == "sent" for r in report.results)
    assert [r.parts_sent for r in report.results] == [6] * 4
    assert len(session.calls) == 24
    assert session.texts("A")[:6] == [f"段落{i}" + "字" * 600 for i in range(6)]
    assert_rolling([c.at for c in session.calls], 20, 60.0)


# ---- retries -----------------------------------------------------------------------------------------------------
def test_retries_are_bounded_with_exponential_backoff_and_jitter():
    def run(seed):
        clock = Clock()
        session = FakeSession(clock, lambda c, n: errcode(-1, "system busy"))
        report = Dispatcher(session, clock, clock.sleep, random.Random(seed)).dispatch(deliveries(["A"], 1))
        return report.results[0], [b.at - a.at for a, b in zip(session.calls, session.calls[1:])]

    result, gaps = run(1)
    assert result.status == "retry" and result.attempts == 4 and "after 4 failed attempt(s)" in result.reason
    assert result.code == "-1"
    assert [2 <= gaps[0] <= 3, 4 <= gaps[1] <= 6, 8 <= gaps[2] <= 12] == [True] * 3
    assert run(1)[1] == gaps                                   # deterministic for a seed
    assert run(2)[1] != gaps                                   # and jittered


def test_a_target_that_stays_down_leaves_its_queue_to_the_next_run_and_the_others_go_on():
    clock = Clock()
    session = FakeSession(clock, lambda c, n: Resp(status_code=503, content=b"down") if c.url.endswith("-A") else Resp())
    report = make(clock, session).dispatch(deliveries(["A", "B"], 3))
    by_id = {r.send_id: r for r in report.results}
    assert [by_id[f"A-{i}"].status for i in range(3)] == ["retry"] * 3     # never taken: the next run tries again
    assert [by_id[f"A-{i}"].attempts for i in range(3)] == [4, 0, 0]       # one message's retries, not three
    assert "not tried in this run" in by_id["A-1"].reason and "503" in by_id["A-1"].reason
    assert [by_id[f"B-{i}"].status for i in range(3)] == ["sent"] * 3
    assert sum(c.url.endswith("-A") for c in session.calls) == 4 and not report.disabled


def test_a_long_message_cut_off_halfway_is_failed_not_retried():
    clock = Clock()
    session = FakeSession(clock, lambda c, n: Resp() if n <= 2 else Resp(status_code=503, content=b"down"))
    long = Message("text", "\n\n".join(f"段落{i}" + "字" * 600 for i in range(6)))
    result = make(clock, session).dispatch([Delivery("L", wecom("A"), long)]).results[0]
    assert result.status == "failed" and result.parts_sent == 2 and "2 part(s) already delivered" in result.reason


def test_dingtalk_throttle_holds_the_robot_for_ten_minutes_even_after_giving_up():
    clock = Clock()
    target = Target("dingtalk", "D", "https://oapi.dingtalk.com/robot/send?access_token=tok0123456789abcdef")

    def reply(call, n):
        return errcode(130101, "send too fast") if n == 1 else errcode(0, "ok")

    session = FakeSession(clock, reply)
    items = [Delivery(f"d{i}", target, Message("text", f"m{i}")) for i in range(2)]
    report = make(clock, session, max_attempts=2, max_hold=900, run_budget=None).dispatch(items)   # waits 600 s
    assert [r.status for r in report.results] == ["sent", "sent"]
    assert session.calls[1].at - session.calls[0].at >= 600


def test_a_pause_longer_than_max_hold_leaves_the_robot_to_the_next_run():
    clock = Clock()
    target = Target("dingtalk", "D", "https://oapi.dingtalk.com/robot/send?access_token=tok0123456789abcdef")
    session = FakeSession(clock, lambda c, n: errcode(130101, "send too fast") if n == 1 else errcode(0, "ok"))
    items = [Delivery(f"d{i}", target, Message("text", f"m{i}")) for i in range(2)]
    report = make(clock, session).dispatch(items)                      # max_hold 90 s < DingTalk's 600 s
    assert [r.status for r in report.results] == ["retry", "retry"] and len(session.calls) == 1
    assert "600 s pause" in report.results[0].reason and clock.t - T0 < 90


def test_reject_fails_only_that_message():
    clock = Clock()
    session = FakeSession(clock, lambda c, n: errcode(45002, "too large") if "#1" in c.body["text"]["content"]
                          else Resp())
    report = make(clock, session).dispatch(deliveries(["A"], 3))
    assert [r.status for r in report.results] == ["sent", "failed", "sent"]
    assert report.results[1].attempts == 1 and "45002" in report.results[1].reason


def test_a_message_the_platform_cannot_take_fails_before_any_http():
    clock = Clock()
    session = FakeSession(clock)
    items = [Delivery("img", Target("slack", "S", "https://hooks.slack.com/services/T/B/XXXXXXXXXXXXXXXX"),
                      Message("image", image_bytes=b"\x89PNG\r\n\x1a\n")),
             *deliveries(["A"], 1)]
    report = make(clock, session).dispatch(items)
    assert [(r.status, r.attempts) for r in report.results] == [("failed", 0), ("sent", 1)]
    assert "image_url" in report.results[0].reason and len(session.calls) == 1


# ---- disabling -------------------------------------------------------------------------------------------------
def test_disable_stops_only_that_group():
    clock = Clock()
    session = FakeSession(clock, lambda c, n: errcode(93000, "invalid webhook url") if c.url.endswith("-A") else Resp())
    report = make(clock, session).dispatch(deliveries(["A", "B"], 4))
    by_group = {g: [r for r in report.results if r.group_id == g] for g in "AB"}
    assert [r.status for r in by_group["A"]] == ["failed", "skipped", "skipped", "skipped"]
    assert all(r.reason.startswith("target disabled: ") and r.attempts == 0 for r in by_group["A"][1:])
    assert [r.status for r in by_group["B"]] == ["sent"] * 4
    assert list(report.disabled) == ["A"] and "93000" in report.disabled["A"]
    assert len(session.texts("A")) == 1


def test_telegram_migration_disables_with_the_new_chat_id():
    clock = Clock()
    target = Target("telegram", "T", "https://api.telegram.org/bot123456:SECRETtoken/sendMessage?chat_id=-42")
    body = json.dumps({"ok": False, "error_code": 400, "description": "Bad Request: group chat was upgraded",
                       "parameters": {"migrate_to_chat_id": -100777}}).encode()
    session = FakeSession(clock, lambda c, n: Resp(400, body))
    report = make(clock, session).dispatch([Delivery("t", target, Message("text", "hi"))])
    assert report.results[0].status == "failed" and "-100777" in report.disabled["T"]
    assert session.calls[0].body["chat_id"] == -42


# ---- network errors ----------------------------------------------------------------------------------------------
def refused(url="https://x/"):
    return requests.exceptions.ConnectionError(MaxRetryError(None, url, NewConnectionError(None, "Connection refused")))


def reset():
    return requests.exceptions.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104, "reset")))


@pytest.mark.parametrize("error", [lambda: requests.exceptions.ReadTimeout("read timed out"), reset],
                         ids=["read-timeout", "connection-reset"])
def test_no_reply_after_sending_is_unknown_never_resent_and_ends_the_lane(error):
    clock = Clock()
    session = FakeSession(clock, lambda c, n: error() if c.body["text"]["content"] == "A #0" else Resp())
    report = make(clock, session).dispatch(deliveries(["A", "B"], 3))
    by_id = {r.send_id: r for r in report.results}
    first = by_id["A-0"]
    assert (first.status, first.attempts, first.code) == ("unknown", 1, "network")
    assert first.sent_at == T0 and "not sent again" in first.reason
    assert [(by_id[f"A-{i}"].status, by_id[f"A-{i}"].attempts) for i in (1, 2)] == [("retry", 0), ("retry", 0)]
    assert all("not tried in this run" in by_id[f"A-{i}"].reason for i in (1, 2))
    assert session.texts("A") == ["A #0"]                      # A #0 went once; the rest waits for the next run
    assert [by_id[f"B-{i}"].status for i in range(3)] == ["sent"] * 3


@pytest.mark.parametrize("error", [refused, lambda: requests.exceptions.ConnectTimeout("connect timed out")],
                         ids=["refused", "connect-timeout"])
def test_a_connect_error_is_retried(error):
    clock = Clock()
    session = FakeSession(clock, lambda c, n: error() if n == 1 else Resp())
    report = make(clock, session).dispatch(deliveries(["A"], 1))
    assert (report.results[0].status, report.results[0].attempts) == ("sent", 2)


def test_real_sockets_refused_is_retried_and_a_dropped_reply_is_unknown():
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port_closed = closed.getsockname()[1]
    closed.close()                                             # nothing listens here: connection refused
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port_drop = server.getsockname()[1]

    def drop_after_reading():
        conn, _ = server.accept()
        conn.recv(65536)                                       # the request arrived...
        conn.close()                                           # ...and no reply ever comes

    threading.Thread(target=drop_after_reading, daemon=True).start()
    clock = Clock()
    items = [Delivery("refused", Target("slack", "R", f"http://127.0.0.1:{port_closed}/services/T/B/XXXXXXXXXXXXXXXX"),
                      Message("text", "hi")),
             Delivery("dropped", Target("slack", "D", f"http://127.0.0.1:{port_drop}/services/T/B/YYYYYYYYYYYYYYYY"),
                      Message("text", "hi"))]
    with requests.Session() as session:
        report = Dispatcher(session, clock, clock.sleep, random.Random(0), max_attempts=2).dispatch(items)
    server.close()
    assert [(r.status, r.attempts) for r in report.results] == [("retry", 2), ("unknown", 1)]
    assert "could not connect" in report.results[0].reason


# ---- callbacks, deadline, frozen clock, workers ------------------------------------------------------------------
def test_before_send_precedes_every_attempt_and_after_send_follows_every_result():
    clock = Clock()
    events = []
    session = FakeSession(clock, lambda c, n: (events.append(("http", c.body["text"]["content"])),
                                               errcode(-1) if n == 1 else Resp())[1])
    d = make(clock, session, before_send=lambda dl, a: events.append(("before", dl.send_id, a)),
             after_send=lambda r: events.append(("after", r.send_id, r.status)))
    d.dispatch(deliveries(["A"], 2))
    assert events == [("before", "A-0", 1), ("http", "A #0"), ("before", "A-0", 2), ("http", "A #0"),
                      ("after", "A-0", "sent"), ("before", "A-1", 1), ("http", "A #1"), ("after", "A-1", "sent")]


def test_a_delivery_its_before_send_refuses_is_never_posted_and_the_queue_goes_on():
    """The tick's claim: when the state store will not let a run claim a send, nothing leaves for it."""
    clock = Clock()
    posted = []
    session = FakeSession(clock, lambda c, n: (posted.append(c.body["text"]["content"]), Resp())[1])
    seen = []
    d = make(clock, session, before_send=lambda dl, a: dl.send_id != "A-1",
             after_send=lambda r: seen.append((r.send_id, r.status, r.code, r.attempts)))
    report = d.dispatch(deliveries(["A"], 3))
    assert posted == ["A #0", "A #2"]
    assert seen == [("A-0", "sent", seen[0][2], 1), ("A-1", "skipped", "not-claimed", 0), ("A-2", "sent", seen[2][2], 1)]
    assert report.counts()["skipped"] == 1


def test_a_deadline_returns_what_never_left_as_retry():
    clock = Clock()
    session = FakeSession(clock)
    report = make(clock, session, deadline=T0 + 30).dispatch(deliveries(["A"], 25))
    assert report.counts()["sent"] == 20 and report.counts()["retry"] == 5
    assert all("deadline" in r.reason for r in report.results[20:])
    assert clock.t < T0 + 30


def test_a_frozen_clock_with_a_no_op_sleep_cannot_hang_the_loop():
    session = FakeSession(Clock())
    report = Dispatcher(session, lambda: T0, lambda s: None, random.Random(0)).dispatch(deliveries(["A"], 25))
    assert report.counts()["sent"] == 25


def test_discord_exhausted_bucket_is_honoured():
    clock = Clock()
    target = Target("discord", "X", "https://discord.com/api/webhooks/1234/tokentokentoken")
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "2.5"}
    session = FakeSession(clock, lambda c, n: Resp(204, b"", headers if n == 1 else {}))
    make(clock, session).dispatch([Delivery(f"x{i}", target, Message("text", f"m{i}")) for i in range(2)])
    assert session.calls[1].at - session.calls[0].at >= 2.5


def test_workers_overlap_http_but_keep_order_and_limits():
    clock = Clock()
    session = FakeSession(clock)
    report = make(clock, session, workers=4).dispatch(deliveries([f"G{i}" for i in range(8)], 22))
    assert report.counts()["sent"] == 176
    for i in range(8):
        assert session.texts(f"G{i}") == [f"G{i} #{k}" for k in range(22)]
        assert_rolling([c.at for c in session.calls if c.url.endswith(f"-G{i}")], 20, 60.0)


# ---- masking -----------------------------------------------------------------------------------------------------
def test_keys_tokens_and_secrets_never_appear_whole(caplog):
    clock = Clock()
    secrets = {
        "wecom": (f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}", None),
        "dingtalk": ("https://oapi.dingtalk.com/robot/send?access_token=dt0123456789abcdef0123", "SECdingtalksecret99"),
        "feishu": ("https://open.feishu.cn/open-apis/bot/v2/hook/fs-0123-4567-89ab-cdef", "feishusigningsecret"),
        "telegram": ("https://api.telegram.org/bot987654:TGtokenTGtokenTG/sendMessage?chat_id=-5", None),
        "discord": ("https://discord.com/api/webhooks/55/DCtokenDCtokenDC", None),
        # checkov:skip=CKV_SECRET_14: a fake Slack webhook; the real host is the point (masking)
        "slack": ("https://hooks.slack.com/services/T1/B1/SLsecretSLsecret", None),
    }

    def reply(call, n):  # the worst case: errors that echo the URL back
        if "qyapi" in call.url:
            return errcode(93000, f"invalid webhook url {call.url}")
        if "dingtalk" in call.url:
            return errcode(310000, f"sign not match, url={call.url}")
        if "telegram" in call.url:
            return requests.exceptions.ReadTimeout(f"HTTPSConnectionPool: Read timed out. (url: {call.url})")
        if "discord" in call.url:
            return refused(call.url)
        if "slack" in call.url:
            return Resp(404, f"no_service {call.url}".encode())
        return Resp(content=json.dumps({"code": 19021, "msg": f"sign {call.body.get('sign')} failed"}).encode())

    session = FakeSession(clock, reply)
    items = [Delivery(f"{p}-1", Target(p, f"g-{p}", url, secret), Message("text", "hi", mentions=Mentions(all=True)))
             for p, (url, secret) in secrets.items()]
    caplog.set_level(logging.DEBUG, logger="qunflow.delivery")
    report = make(clock, session, masker=Masker()).dispatch(items)
    assert {r.status for r in report.results} == {"failed", "retry", "unknown"}
    whole = [KEY, "dt0123456789abcdef0123", "SECdingtalksecret99", "fs-0123-4567-89ab-cdef", "feishusigningsecret",
             "TGtokenTGtokenTG", "DCtokenDCtokenDC", "SLsecretSLsecret"]
    texts = [r.getMessage() for r in caplog.records] + [r.reason for r in report.results]
    texts += list(report.disabled.values())
    assert len(caplog.records) > 10
    for text in texts:
        for secret in whole:
            assert secret not in text, (secret, text)
    assert any("fake…" in t for t in texts)                    # masked, still recognisable


def test_a_deadline_already_passed_sends_nothing_more():
    clock = Clock()
    session = FakeSession(clock, latency=10.0)                 # each reply takes 10 s, one at a time
    report = make(clock, session, deadline=T0 + 25, workers=1).dispatch(deliveries([f"G{i}" for i in range(5)], 1))
    assert [r.status for r in report.results] == ["sent", "sent", "sent", "retry", "retry"]


@pytest.mark.parametrize("url,masked", [
    (f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}",
     "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=fake…"),
    ("https://oapi.dingtalk.com/robot/send?access_token=abcdef0123456789&timestamp=1&sign=XYZ%2Babcdefgh",
     "https://oapi.dingtalk.com/robot/send?access_token=abcd…&timestamp=1&sign=XYZ%…"),
    ("https://open.feishu.cn/open-apis/bot/v2/hook/tok1", "https://open.feishu.cn/open-apis/bot/v2/hook/…"),
    # checkov:skip=CKV_SECRET_14: a fake Slack webhook; the real host is the point (masking)
    ("https://hooks.slack.com/services/T00/B00/XXXXXXXXXXXX", "https://hooks.slack.com/services/T00/B00/XXXX…"),
    ("https://discord.com/api/webhooks/1234567/tokentokentoken", "https://discord.com/api/webhooks/1234567/toke…"),
    ("https://api.telegram.org/bot123456:tg-fake-0000/sendMessage?chat_id=-1",
     "https://api.telegram.org/bot1234…/sendMessage?chat_id=-1"),
    ("http://127.0.0.1:8080/cgi-bin/webhook/send?key=k1", "http://127.0.0.1:8080/cgi-bin/webhook/send?key=…"),
    ("SECabcdefghijk", "SECa…"),
    ("short", "…"),
])
def test_mask_url(url, masked):
    from qunflow.delivery import mask_url
    assert mask_url(url) == masked
    assert mask_url(masked) == masked                          # masking twice changes nothing


def test_masking_filter_masks_arguments_and_tracebacks():
    from qunflow.delivery import MaskingFilter
    masker = Masker(["SECverysecretvalue", f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}"])
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    handler = Keep()
    handler.addFilter(MaskingFilter(masker))
    log = logging.getLogger("test.masking")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("posting to %s with %s", f"/cgi-bin/webhook/send?key={KEY}", "SECverysecretvalue")
        try:
            raise RuntimeError(f"boom {KEY}")
        except RuntimeError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
    assert len(records) == 2
    for text in records:
        assert KEY not in text and "SECverysecretvalue" not in text
    assert "SECv…" in records[0] and "fake…" in records[1]
