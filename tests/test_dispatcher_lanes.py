"""A slow platform costs only its own groups; what a reply means when it may have been posted; signatures dated
by the real clock under `--now`.

Real HTTP on 127.0.0.1: the emulator (the independent witness of what groups saw), and a small server that
answers each POST with the status a test scripts (504, 502, 503) and counts what reached it.
"""
from __future__ import annotations

import json
import random
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote_plus, urlsplit

import pytest
import requests
from click.testing import CliRunner

from helpers import make_raw, write_xlsx
from qunflow.clock import VirtualClock
from qunflow.delivery import Delivery, Dispatcher, Message, Target
from qunflow.delivery.dispatcher import RUN_BUDGET
from qunflow.delivery.platforms import sign_dingtalk, sign_feishu
from qunflow.emulator import Bot, Emulator
from qunflow.stores.memory import MemoryStore

START = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)
READ = 1.0                                   # the read timeout here: the slow webhook answers after 30 s
HEALTHY = [Bot("wecom", "lanes-wecom-ok-00000001", group_id="g-wecom"),
           Bot("feishu", "lanes-feishu-ok-0000002", secret="lanesFeishuSecret0a1b2c", group_id="g-feishu"),
           # checkov:skip=CKV_SECRET_6: a made-up test key or secret for the emulator, not a real one
           Bot("dingtalk", "lanesdingtalkok00000003", secret="SEClanesDingSecret0a1b2c", group_id="g-ding")]
# checkov:skip=CKV_SECRET_6: a made-up test key or secret for the emulator, not a real one
SLOW = Bot("wecom", "lanes-wecom-slow-000004", group_id="g-slow")
HOOKS = {"wecom": "/cgi-bin/webhook/send?key=lanes-scripted-key-01", "dingtalk": "/robot/send?access_token=lanestok01",
         "feishu": "/open-apis/bot/v2/hook/lanes-scripted-01", "slack": "/services/T1/B1/lanesScripted01",
         "discord": "/api/webhooks/42/lanesScripted01", "telegram": "/bot42:lanesScripted01/sendMessage?chat_id=-7"}
OK_BODY = {"wecom": b'{"errcode":0,"errmsg":"ok"}', "dingtalk": b'{"errcode":0,"errmsg":"ok"}',
           "feishu": b'{"code":0,"msg":"success"}', "slack": b"ok", "discord": b"", "telegram": b'{"ok":true}'}


class Scripted:
    """A webhook on 127.0.0.1 answering the n-th POST with script[n] (then the last status again)."""

    def __init__(self, *script: int, ok_body: bytes = OK_BODY["wecom"]):
        self.script, self.ok_body, self.posts = list(script), ok_body, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.posts.append((self.path, body))
                status = outer.script[min(len(outer.posts), len(outer.script)) - 1]
                reply = outer.ok_body if status in (200, 204) else f"{status} from the gateway".encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "Scripted":
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def target(emu: Emulator, b: Bot) -> Target:
    return Target(b.platform, b.group_id, emu.webhook_url(b), b.secret)


def messages(targets: list[Target], per_group: int) -> list[Delivery]:
    return [Delivery(f"{t.group_id}-{i}", t, Message("text", f"{t.group_id} #{i}"))
            for i in range(per_group) for t in targets]


def virtual() -> VirtualClock:
    return VirtualClock(START)


class Capture:
    """A session that answers DingTalk's and Feishu's ok and keeps what was posted."""

    def __init__(self):
        self.calls = []

    def post(self, url, data=None, headers=None, timeout=None, **_):
        self.calls.append((url, json.loads(data)))
        return type("R", (), {"status_code": 200, "headers": {}, "content": OK_BODY["dingtalk"]
                              if "robot" in url else OK_BODY["feishu"]})()


# ---- a slow platform costs only its own groups -------------------------------------------------------------------

def test_a_webhook_that_answers_after_30_s_costs_only_its_own_lane():
    """Real clock: the hung webhook is first in line, and the healthy groups are served as if it were absent."""
    with Emulator(HEALTHY) as emu, Emulator([SLOW], timeout_rate=1.0, timeout_stall=30.0) as hung:
        healthy = [target(emu, b) for b in HEALTHY]
        items = messages([target(hung, SLOW)] + healthy, 5)
        done_at: dict[str, float] = {}
        start = time.monotonic()
        dispatcher = Dispatcher(requests.Session(), time.time, time.sleep, random.Random(0), timeout=(2.0, READ),
                                after_send=lambda r: done_at.__setitem__(r.send_id, time.monotonic() - start))
        report = dispatcher.dispatch(items)
        elapsed = time.monotonic() - start
        by_id = {r.send_id: r for r in report.results}
        for t in healthy:
            assert [by_id[f"{t.group_id}-{i}"].status for i in range(5)] == ["sent"] * 5, t.group_id
            assert [m["text"] for m in emu.messages if m["group_id"] == t.group_id] == \
                [f"{t.group_id} #{i}" for i in range(5)]
        served = max(done_at[f"{t.group_id}-{i}"] for t in healthy for i in range(5))
        assert served < READ * 0.9, f"the healthy groups waited for the hung one: done after {served:.2f} s"
        first = by_id["g-slow-0"]
        assert (first.status, first.attempts) == ("unknown", 1) and "not sent again" in first.reason
        for i in range(1, 5):
            rest = by_id[f"g-slow-{i}"]
            assert (rest.status, rest.attempts) == ("retry", 0) and "not tried in this run" in rest.reason
        assert hung.requests_total == 1 and len(hung.messages) == 1     # one read timeout, not five
        assert elapsed < READ + 1.5, f"the run took {elapsed:.2f} s"
        assert not emu.rejections


def test_on_a_virtual_clock_the_healthy_lanes_keep_every_time_they_had_without_the_hung_webhook():
    """25 WeCom messages wait for the rolling window while the hung request is out; nothing moves."""
    def run(with_slow: bool):
        clock = virtual()
        with Emulator(HEALTHY, clock=clock) as emu, \
                Emulator([SLOW], clock=clock, timeout_rate=1.0, timeout_stall=30.0) as hung:
            healthy = messages([target(emu, HEALTHY[0])], 25) + messages([target(emu, b) for b in HEALTHY[1:]], 8)
            stuck = messages([target(hung, SLOW)], 3) if with_slow else []
            report = Dispatcher(requests.Session(), clock, clock.sleep, random.Random(0),
                                timeout=(2.0, 0.3)).dispatch(stuck + healthy)
            outcome = {r.send_id: (r.status, r.attempts, r.sent_at) for r in report.results}
            seen = sorted((m["group_id"], m["text"], m["at"]) for m in emu.messages)
            return outcome, seen, hung.requests_total

    alone, seen_alone, _ = run(False)
    beside, seen_beside, hung_requests = run(True)
    assert {k: v for k, v in beside.items() if not k.startswith("g-slow")} == alone
    assert seen_beside == seen_alone and len(seen_alone) == 41
    assert [beside[f"g-slow-{i}"][0] for i in range(3)] == ["unknown", "retry", "retry"] and hung_requests == 1
    assert max(v[2] for v in alone.values()) - START.timestamp() > 60       # the 21st WeCom message waited


def test_the_run_deadline_is_below_the_function_timeout_and_leaves_the_rest_for_the_next_run():
    clock = virtual()
    with Emulator([HEALTHY[0]], clock=clock) as emu:
        t = target(emu, HEALTHY[0])
        items = [Delivery(f"m{i}", t, Message("text", f"m{i}")) for i in range(100)]   # 20 a minute: 5 minutes
        report = Dispatcher(requests.Session(), clock, clock.sleep, random.Random(0)).dispatch(items)
        assert RUN_BUDGET + 5 + 15 < 300                      # a request started at the deadline still fits
        assert report.counts()["sent"] == 80 and report.counts()["retry"] == 20
        assert all("not tried in this run" in r.reason and "deadline" in r.reason for r in report.results[80:])
        assert report.finished_at - report.started_at <= RUN_BUDGET and len(emu.messages) == 80
        clock.sleep(120)                                      # the next run, once the window is clear
        more = items[80:] + [Delivery(f"n{i}", t, Message("text", f"n{i}")) for i in range(5)]
        again = Dispatcher(requests.Session(), clock, clock.sleep, random.Random(0), run_budget=30,
                           deadline=clock() + 3600).dispatch(more)                    # the earlier one counts
        assert [r.status for r in again.results] == ["sent"] * 20 + ["retry"] * 5 and len(emu.messages) == 100


# ---- each worker posts through a session of its own --------------------------------------------------------

class RecordingAdapter(requests.adapters.BaseAdapter):
    """A transport mounted on the caller's session: answers WeCom's ok, notes the thread and the headers."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def send(self, request, **kw):
        self.seen.append((threading.current_thread().name, request.headers.get("User-Agent")))
        response = requests.Response()
        response.status_code, response._content, response.request = 200, OK_BODY["wecom"], request
        return response

    def close(self):
        pass


def test_each_worker_posts_through_a_session_of_its_own_with_the_callers_settings_and_transport():
    from qunflow.delivery.lanes import worker_session
    session, adapter = requests.Session(), RecordingAdapter()
    session.headers["User-Agent"] = "qunflow-lanes-test"
    session.mount("https://", adapter)
    own = worker_session(session)
    assert own is not session and own.headers == session.headers and own.headers is not session.headers
    assert own.get_adapter("https://example.com/") is adapter
    fake = Capture()
    assert worker_session(fake) is fake                        # a test's fake is used as given
    clock = virtual()
    targets = [Target("wecom", f"g{i}", f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=lanes-adapter-{i}")
               for i in range(4)]
    report = Dispatcher(session, clock, clock.sleep, random.Random(0), workers=4).dispatch(messages(targets, 3))
    assert report.counts()["sent"] == 12 and len(adapter.seen) == 12
    assert all(name.startswith("qunflow-send") and agent == "qunflow-lanes-test" for name, agent in adapter.seen)


# ---- what a reply means: 504 may have been posted; 502, 503, refused, DNS were not -------------------------------

@pytest.mark.parametrize("platform", list(HOOKS))
def test_a_504_after_the_request_left_is_unknown_posted_once_and_ends_the_lane(platform):
    clock = virtual()
    with Scripted(504) as gateway, Emulator([HEALTHY[0]], clock=clock) as emu:
        t = Target(platform, "g-504", gateway.base + HOOKS[platform])
        items = messages([t, target(emu, HEALTHY[0])], 2)
        report = Dispatcher(requests.Session(), clock, clock.sleep, random.Random(0)).dispatch(items)
        by_id = {r.send_id: r for r in report.results}
        assert len(gateway.posts) == 1                          # never resent
        assert (by_id["g-504-0"].status, by_id["g-504-0"].code) == ("unknown", "504")
        assert "504" in by_id["g-504-0"].reason and "not sent again" in by_id["g-504-0"].reason
        assert by_id["g-504-1"].status == "retry" and "not tried in this run" in by_id["g-504-1"].reason
        assert [by_id[f"g-wecom-{i}"].status for i in range(2)] == ["sent", "sent"] and not report.disabled


@pytest.mark.parametrize("platform", ["wecom", "dingtalk", "feishu", "slack", "discord", "telegram"])
@pytest.mark.parametrize("status", [502, 503])
def test_502_and_503_mean_not_taken_and_are_retried(platform, status):
    clock = virtual()
    with Scripted(status, 200, ok_body=OK_BODY[platform]) as gateway:
        t = Target(platform, "g-busy", gateway.base + HOOKS[platform])
        result = Dispatcher(requests.Session(), clock, clock.sleep, random.Random(0)).dispatch(
            messages([t], 1)).results[0]
        assert (result.status, result.attempts, len(gateway.posts)) == ("sent", 2, 2)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_refused_connection_and_a_dns_failure_are_retried_and_never_unknown(monkeypatch):
    real = socket.getaddrinfo

    def resolve(host, *args, **kw):
        if host == "hooks.qunflow-test.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    clock = virtual()
    items = [Delivery("refused", Target("wecom", "g-refused", f"http://127.0.0.1:{closed_port()}{HOOKS['wecom']}"),
                      Message("text", "hi")),
             Delivery("dns", Target("wecom", "g-dns", f"http://hooks.qunflow-test.invalid{HOOKS['wecom']}"),
                      Message("text", "hi"))]
    report = Dispatcher(requests.Session(), clock, clock.sleep, random.Random(0)).dispatch(items)
    assert [(r.status, r.attempts, r.code) for r in report.results] == [("retry", 4, "network")] * 2
    assert all("could not connect" in r.reason for r in report.results)


# ---- `qunflow send` follows the same rule --------------------------------------------------------------------

def send_rows(platform: str = "wecom") -> dict:
    return {"settings": [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": "en"}],
            "groups": [{"group_id": "G01", "name": "Group 1", "platform": platform, "kind": "traffic",
                        "webhook": "env:QUNFLOW_LANES_HOOK_G01"}]}


def cli_env(tmp_path, **env) -> dict:
    return {"QUNFLOW_SECRETS_FILE": str(tmp_path / "none"), "QUNFLOW_SOURCE": None, "QUNFLOW_STATE": None, **env}


def test_qunflow_send_posts_a_504_once_and_says_it_may_have_arrived(tmp_path):
    from qunflow.cli import cli
    book = tmp_path / "shop.xlsx"
    write_xlsx(make_raw(send_rows()), book)
    with Scripted(504) as gateway:
        env = cli_env(tmp_path, QUNFLOW_LANES_HOOK_G01=gateway.base + HOOKS["wecom"])
        result = CliRunner().invoke(cli, ["send", str(book), "--group", "G01", "--text", "hi", "--wait", "5", "--json"],
                                    env=env)
    assert len(gateway.posts) == 1, f"{len(gateway.posts)} copies posted"
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["status"] == "unknown"
    assert "HTTP 504" in result.stderr and "it may have reached the group, so it is not sent again" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("script,status,posts", [((503, 200), "sent", 2), ((502, 502, 200), "sent", 3),
                                                 ((504, 200), "unknown", 1)])
def test_send_message_retries_502_and_503_but_never_a_504(monkeypatch, tmp_path, script, status, posts):
    from qunflow.jobs.send import NotSent, send_message
    clock = virtual()
    with Scripted(*script) as gateway:
        monkeypatch.setenv("QUNFLOW_LANES_HOOK_G01", gateway.base + HOOKS["wecom"])
        monkeypatch.setenv("QUNFLOW_SECRETS_FILE", str(tmp_path / "none"))
        try:
            sent = send_message(MemoryStore(make_raw(send_rows())), "G01", "text", "hi", None,
                                session=requests.Session(), clock=clock, sleep=clock.sleep, today=START.date(),
                                wait=120)
        except NotSent as exc:
            sent = exc.sent
    assert (sent.status, len(gateway.posts)) == (status, posts)


# ---- signatures are dated by the real clock, whatever --now says -------------------------------------------------

def test_the_signer_reads_the_wall_clock_not_the_run_clock():
    replay = START.timestamp() + 3 * 86400                     # the run replays a moment three days later
    capture = Capture()
    ding = Target("dingtalk", "D", "https://oapi.dingtalk.com/robot/send?access_token=lanesSignTok01", "SEClanesD01")
    feishu = Target("feishu", "F", "https://open.feishu.cn/open-apis/bot/v2/hook/lanes-sign-01", "lanesFeishuS01")
    wall = 1_800_000_000.25
    report = Dispatcher(capture, lambda: replay, lambda s: None, random.Random(0), wall_clock=lambda: wall).dispatch(
        [Delivery("d", ding, Message("text", "hi")), Delivery("f", feishu, Message("text", "hi"))])
    assert [r.status for r in report.results] == ["sent", "sent"]
    assert all(r.sent_at == replay for r in report.results)   # the run's own records keep its clock
    (ding_url, _), (_, feishu_body) = sorted(capture.calls, key=lambda c: "feishu" in c[0])
    query = parse_qs(urlsplit(ding_url).query)
    assert query["timestamp"] == ["1800000000250"]
    assert query["sign"] == [unquote_plus(sign_dingtalk("SEClanesD01", 1800000000250))]
    assert (feishu_body["timestamp"], feishu_body["sign"]) == ("1800000000", sign_feishu("lanesFeishuS01", 1800000000))
    assert Dispatcher(capture, time.time, time.sleep, random.Random(0)).wall_clock is time.time
    simulated = virtual()                                      # the demo's world: its emulator reads this clock
    assert Dispatcher(capture, simulated, simulated.sleep, random.Random(0)).wall_clock is simulated


def test_qunflow_tick_under_a_virtual_now_signs_what_a_real_platform_accepts(tmp_path):
    """The emulator here keeps the real time, as DingTalk and Feishu do; the tick replays a moment 3 days ahead."""
    from qunflow.cli import cli
    day = (datetime.now(timezone.utc) + timedelta(days=3)).date()
    now = datetime(day.year, day.month, day.day, 15, 5, tzinfo=timezone.utc)         # 23:05 in Shanghai
    rows = {"settings": [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": "en"},
                         {"key": "catch_up", "value": "30m"}],
            "groups": [{"group_id": b.group_id, "name": b.group_id, "platform": b.platform, "kind": "traffic",
                        "webhook": f"env:QUNFLOW_LANES_HOOK_{i}", "secret": f"env:QUNFLOW_LANES_SIGN_{i}"}
                       for i, b in enumerate(HEALTHY[1:])],
            "sop": [{"rule_id": "R01", "groups": "*", "schedule": "daily 23:00",
                     "content": "Good night {{ group_name }}"}]}
    book = tmp_path / "shop.xlsx"
    write_xlsx(make_raw(rows), book)
    with Emulator(HEALTHY[1:]) as emu:                         # the real clock
        env = cli_env(tmp_path)
        for i, b in enumerate(HEALTHY[1:]):
            env.update({f"QUNFLOW_LANES_HOOK_{i}": emu.webhook_url(b), f"QUNFLOW_LANES_SIGN_{i}": b.secret})
        result = CliRunner().invoke(cli, ["tick", str(book), "--now", now.isoformat(), "--json"], env=env)
        assert not emu.rejections, dict(emu.rejections)
        assert sorted(m["group_id"] for m in emu.messages) == ["g-ding", "g-feishu"]
    summary = json.loads(result.stdout)
    assert (result.exit_code, summary["sent"], summary["retry"], summary["failed"]) == (0, 2, 0, 0), result.output
