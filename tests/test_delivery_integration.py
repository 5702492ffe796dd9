"""Delivery end to end: the real senders and dispatcher post real HTTP to the emulator on 127.0.0.1.

The dispatcher and the emulator share one virtual clock, so rate windows, penalties, backoff and signature
timestamps play out in simulated minutes while the test takes seconds. The emulator is the independent
witness: what it recorded is what a group would have seen.
"""
from __future__ import annotations

import json
import logging
import random
import socket
import struct
import subprocess
import sys
import zlib
from collections import Counter
from datetime import datetime, timezone

import pytest
import requests
from click.testing import CliRunner

from engine_harness import VirtualClock
from helpers import make_raw, write_xlsx
from qunflow.delivery import Delivery, Dispatcher, Masker, MaskingFilter, Mentions, Message, NewsCard, Target
from qunflow.emulator import Bot, Emulator

T0 = 1_700_000_000.0
PLATFORMS = ("wecom", "dingtalk", "feishu", "slack", "discord", "telegram")


def png() -> bytes:
    """A valid 2x2 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    pixels = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(pixels)) + chunk(b"IEND", b""))


TOKENS = {"wecom": "wecom-key-7f3a9c2e5b1d4f60", "dingtalk": "dingtoken0a1b2c3d4e5f60718293",
          "feishu": "feishu-hook-5e6f7a8b9c0d1e2f", "slack": "T0INT001/B0INT001/slackSecret0a1b2c3d",
          "discord": "31415926535/discordToken-0a1b2c3d4e5f", "telegram": "271828:TGsecretToken0a1b2c3d4e"}
SECRETS = {"dingtalk": "SECding0a1b2c3d4e5f60718293a4b5", "feishu": "feishuSecret9f8e7d6c5b4a"}
USER_IDS = {"wecom": "lin.wang", "dingtalk": "ding_user_01", "feishu": "ou_7d8a6e6df7621556ce0d21922b676706",
            "slack": "U024BE7LH", "discord": "80351110224678912", "telegram": "123456789"}
MOBILE = "13800138000"
CHAT = "-1001234567890"


def bot(platform: str, suffix: str = "", **kw) -> Bot:
    token = TOKENS[platform] + suffix
    if platform == "discord" and suffix:
        token = f"{int(token.split('/')[0]) + zlib.crc32(suffix.encode()) % 10**6}/{token.split('/')[1]}{suffix}"
    if platform == "slack" and suffix:
        token = token.replace("/B0INT001/", f"/B{suffix.strip('-').upper() or 'X'}/")
    return Bot(platform, token, group_id=f"g-{platform}{suffix}", **kw)


def target(emu: Emulator, b: Bot, secret: str | None = None) -> Target:
    url = emu.webhook_url(b) + (f"?chat_id={CHAT}" if b.platform == "telegram" else "")
    return Target(b.platform, b.group_id, url, secret)


def dispatcher(clock: VirtualClock, **kw) -> Dispatcher:
    return Dispatcher(requests.Session(), clock, clock.sleep, random.Random(7), **kw)


def recorded(emu: Emulator, marker: str) -> list[dict]:
    return [m for m in emu.messages if marker in json.dumps(m["payload"], ensure_ascii=False)]


@pytest.fixture
def clock():
    return VirtualClock(datetime.fromtimestamp(T0, timezone.utc))   # __call__: epoch seconds; sleep(s) advances


# ---- every kind, every platform ------------------------------------------------------------------------------

def expected_mentions(platform: str, who: str) -> set[str]:
    return {"none": set(),
            "all": set() if platform == "telegram" else {"all"},    # Telegram has no @all: a visible note instead
            "users": {USER_IDS[platform]},
            "mobiles": {MOBILE} if platform in ("wecom", "dingtalk") else set()}[who]  # only these two @ by mobile


def message(platform: str, kind: str, sid: str, mentions: Mentions) -> Message:
    if kind == "image" and platform == "wecom":                # the only webhook that uploads image bytes
        return Message("image", f"Look {sid}", image_bytes=png(), mentions=mentions)
    return Message(kind, mentions=mentions, **{
        "text": dict(text=f"Good morning {sid} 早上好"),
        "markdown": dict(text=f"# Week {sid}\n**New** arrivals: [see](https://shop.example.com/new)"),
        "image": dict(image_url=f"https://shop.example.com/{sid}.png", text=f"Look {sid}"),
        "news": dict(card=NewsCard(f"Sale {sid}", "50% off today", f"https://shop.example.com/sale/{sid}",
                                   "https://shop.example.com/sale.png"))}[kind])


@pytest.mark.parametrize("platform", PLATFORMS)
def test_every_message_kind_with_and_without_mentions_is_accepted(platform, clock):
    b = bot(platform, secret=SECRETS.get(platform))
    with Emulator([b], clock=clock) as emu:
        t = target(emu, b, SECRETS.get(platform))
        mentions = {"none": Mentions(), "all": Mentions(all=True), "mobiles": Mentions(mobiles=(MOBILE,)),
                    "users": Mentions(user_ids=(USER_IDS[platform],), names=("Lin",))}
        deliveries = [Delivery(f"{kind}-{who}", t, message(platform, kind, f"{kind}-{who}", m))
                      for who, m in mentions.items() for kind in ("text", "markdown", "image", "news")]
        seen: dict[str, list[dict]] = {}
        start: dict[str, int] = {}
        d = dispatcher(clock, before_send=lambda dl, n: start.setdefault(dl.send_id, len(emu.messages)),
                       after_send=lambda r: seen.__setitem__(r.send_id, emu.messages[start[r.send_id]:]))
        report = d.dispatch(deliveries)
        assert [r.status for r in report.results] == ["sent"] * len(deliveries), \
            [(r.send_id, r.reason) for r in report.results if r.status != "sent"]
        assert not emu.rejections and not report.disabled
        for r in report.results:
            records = seen[r.send_id]                          # one target: this delivery's parts, in order
            assert len(records) == r.parts >= 1 and all(rec["platform"] == platform for rec in records)
            mentioned = {x for rec in records for x in rec["mentions"]}
            assert mentioned == expected_mentions(platform, r.send_id.split("-")[1]), (r.send_id, records)
            words = f"Sale {r.send_id}" if r.send_id.startswith("news") else r.send_id
            assert any(words in json.dumps(rec["payload"], ensure_ascii=False) for rec in records) \
                or r.send_id.startswith("image")
        if platform == "wecom":
            assert Counter(m["msgtype"] for m in emu.messages)["image"] == 4


# ---- signatures ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("platform,code", [("dingtalk", "310000"), ("feishu", "19021")])
def test_signatures_verify_with_the_right_secret_and_a_wrong_one_disables(platform, code, clock):
    good, bad, unsigned = (bot(platform, s, secret=SECRETS[platform]) for s in ("-good", "-bad", "-unsigned"))
    with Emulator([good, bad, unsigned], clock=clock) as emu:
        targets = [target(emu, good, SECRETS[platform]), target(emu, bad, SECRETS[platform] + "x"),
                   target(emu, unsigned, None)]
        deliveries = [Delivery(f"{t.group_id}-{i}", t, Message("text", f"hello {t.group_id} {i}"))
                      for i in range(3) for t in targets]
        report = dispatcher(clock).dispatch(deliveries)
        status = {r.send_id: (r.status, r.code) for r in report.results}
        assert [status[f"{good.group_id}-{i}"][0] for i in range(3)] == ["sent"] * 3
        for g in (bad.group_id, unsigned.group_id):
            assert status[f"{g}-0"] == ("failed", code)            # DISABLE_TARGET: the group is reported
            assert [status[f"{g}-{i}"][0] for i in (1, 2)] == ["skipped", "skipped"]
        assert set(report.disabled) == {bad.group_id, unsigned.group_id}
        assert [m["group_id"] for m in emu.messages] == [good.group_id] * 3
        assert emu.rejections == Counter({f"{platform}:{code}": 2})   # one request each, never retried


def test_dingtalk_clock_skew_is_retried_not_disabled(clock):
    b = bot("dingtalk", secret=SECRETS["dingtalk"])
    with Emulator([b], clock=clock) as emu:
        skewed = Dispatcher(requests.Session(), clock, clock.sleep, random.Random(1),
                            wall_clock=lambda: clock() + 2 * 3600)             # the signer's clock is 2 h off
        report = skewed.dispatch([Delivery("s1", target(emu, b, SECRETS["dingtalk"]), Message("text", "hi"))])
        result = report.results[0]
        assert (result.status, result.code, result.attempts) == ("retry", "310000", 4)
        assert "clock" in result.reason and not report.disabled
        assert not emu.messages


# ---- rate limits -----------------------------------------------------------------------------------------------

def test_25_wecom_messages_in_one_run_all_delivered_without_a_rate_limit_reply(clock):
    b = bot("wecom")
    with Emulator([b], clock=clock) as emu:
        t = target(emu, b)
        report = dispatcher(clock).dispatch([Delivery(f"s{i}", t, Message("text", f"msg {i}")) for i in range(25)])
        assert report.counts()["sent"] == 25
        assert [m["text"] for m in emu.messages] == [f"msg {i}" for i in range(25)]     # in order, once each
        assert not emu.rejections                                                       # no 45009
        times = [datetime.fromisoformat(m["at"]).timestamp() for m in emu.messages]
        assert times == sorted(times)
        assert all(times[i + 20] - times[i] > 60 for i in range(len(times) - 20))       # never 21 in 60 s
        # the run lasts as long as the limit requires: the 21st message goes right after the first minute
        assert 60 < times[-1] - times[0] <= 60 * 1.1


# ---- dead targets, faults, timeouts ----------------------------------------------------------------------------

def test_a_removed_bot_disables_only_its_group(clock):
    alive = [bot(p, secret=SECRETS.get(p)) for p in PLATFORMS]
    dead = [bot(p, "-dead", dead=True) for p in PLATFORMS]
    with Emulator(alive + dead, clock=clock) as emu:
        targets = [target(emu, b, SECRETS.get(b.platform)) for b in alive] + [target(emu, b) for b in dead]
        deliveries = [Delivery(f"{t.group_id}/{i}", t, Message("text", f"{t.group_id} #{i}"))
                      for i in range(3) for t in targets]
        report = dispatcher(clock).dispatch(deliveries)
        by_group: dict[str, list[str]] = {}
        for r in report.results:
            by_group.setdefault(r.group_id, []).append(r.status)
        for b in alive:
            assert by_group[b.group_id] == ["sent"] * 3
        for b in dead:
            assert by_group[b.group_id] == ["failed", "skipped", "skipped"], b.platform
        assert set(report.disabled) == {b.group_id for b in dead}
        assert sum(emu.rejections.values()) == len(dead)               # one request per dead bot, never retried
        assert Counter(m["platform"] for m in emu.messages) == Counter({p: 3 for p in PLATFORMS})


def many(emu: Emulator, bots: list[Bot], per_group: int) -> list[Delivery]:
    targets = [target(emu, b, SECRETS.get(b.platform)) for b in bots]
    return [Delivery(f"{t.group_id}~{i}", t, Message("text", f"marker {t.group_id}~{i} end"))
            for i in range(per_group) for t in targets]


def test_with_ten_percent_server_errors_everything_arrives_exactly_once(clock):
    bots = [bot(p, s, secret=SECRETS.get(p)) for p in PLATFORMS for s in ("-a", "-b")]
    with Emulator(bots, clock=clock, error_rate=0.10, seed=3) as emu:
        deliveries = many(emu, bots, 5)
        report = dispatcher(clock).dispatch(deliveries)
        assert report.counts()["sent"] == len(deliveries) == 60
        for d in deliveries:
            assert len(recorded(emu, f"marker {d.send_id} end")) == 1, d.send_id
        errors = sum(emu.faults.values())
        assert errors >= 3 and not emu.rejections
        assert sum(r.attempts for r in report.results) == emu.requests_total == len(deliveries) + errors


def test_a_reply_that_never_comes_is_unknown_recorded_once_and_never_resent(clock):
    bots = [bot(p, secret=SECRETS.get(p)) for p in PLATFORMS]
    with Emulator(bots, clock=clock, timeout_rate=0.2, timeout_stall=2.0, seed=5) as emu:
        deliveries = many(emu, bots, 2)
        report = dispatcher(clock, timeout=(2.0, 0.3)).dispatch(deliveries)
        unknown = [r for r in report.results if r.status == "unknown"]
        assert len(unknown) == emu.faults["timeout"] >= 1
        assert {r.status for r in report.results} <= {"sent", "unknown", "retry"}   # retry: after an unknown
        assert all(r.attempts == 1 and "not sent again" in r.reason for r in unknown)
        status = {r.send_id: r for r in report.results}
        for d in deliveries:                                   # sent or unknown: the group saw it exactly once
            seen = 0 if status[d.send_id].status == "retry" else 1  # retry: its lane ended, not tried in this run
            assert len(recorded(emu, f"marker {d.send_id} end")) == seen, d.send_id
        assert emu.requests_total == sum(r.attempts for r in report.results)


# ---- masking ---------------------------------------------------------------------------------------------------

def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_key_token_or_secret_appears_whole_when_sends_fail_in_every_way(clock, caplog):
    dead = [bot(p, "-dead", dead=True) for p in PLATFORMS]
    signed = [bot(p, "-signed", secret=SECRETS[p]) for p in ("dingtalk", "feishu")]
    busy = [bot(p, "-busy") for p in ("wecom", "slack", "discord", "telegram")]
    slow = bot("feishu", "-slow", secret=SECRETS["feishu"])
    wrong = {"dingtalk": "SECwrongDing0a1b2c3d4e5f6a7b", "feishu": "wrongFeishuSecret0a1b2c3d"}
    lines: list[str] = []                                      # the emulators' own log, and the dispatcher's as logged
    main = Emulator(dead + signed, clock=clock, log=lines.append)
    flaky = Emulator(busy, clock=clock, error_rate=1.0, log=lines.append)            # 5xx until we give up
    stalled = Emulator([slow], clock=clock, timeout_rate=1.0, timeout_stall=2.0, log=lines.append)
    raw = logging.Handler(logging.DEBUG)
    raw.emit = lambda record: lines.append(record.getMessage())  # before any handler filter could mask it
    logging.getLogger("qunflow").addHandler(raw)
    caplog.set_level(logging.DEBUG)                            # every logger, urllib3 included
    port, host = closed_port(), "http://127.0.0.1"
    try:
        for emu in (main, flaky, stalled):
            emu.start()
        targets = ([target(main, b) for b in dead] + [target(main, b, wrong[b.platform]) for b in signed]
                   + [target(flaky, b) for b in busy] + [target(stalled, slow, "stalledSecret0a1b2c3d4e")]
                   + [Target("wecom", "g-malformed", f"{host}:99999/cgi-bin/webhook/send?key=malformedKey0a1b2c3d"),
                      Target("wecom", "g-noscheme", "wecom-noscheme-host/cgi-bin/webhook/send?key=noschemeKey0a1b2c"),
                      Target("slack", "g-refused", f"{host}:{port}/services/T1/B1/refusedSecret0a1b2c3d"),
                      Target("dingtalk", "g-refused-ding", f"{host}:{port}/robot/send?access_token=refusedToken0a1b2c",
                             "SECrefusedSigning0a1b2c3d")])
        masker = Masker()
        caplog.handler.addFilter(MaskingFilter(masker))        # as attach_masking() does for the app's handlers
        report = dispatcher(clock, masker=masker, timeout=(2.0, 0.3)).dispatch(
            [Delivery(f"s-{t.group_id}", t, Message("text", "hi", mentions=Mentions(all=True))) for t in targets])
    finally:
        logging.getLogger("qunflow").removeHandler(raw)
        for emu in (main, flaky, stalled):
            emu.stop()
    assert Counter(r.status for r in report.results) == Counter({"failed": len(dead) + len(signed) + 2, "retry": len(busy) + 2, "unknown": 1})
    assert len(report.disabled) == len(dead) + len(signed) + 2           # + malformed and no scheme
    secrets = [b.token.split("/")[-1].split(":")[-1] for b in dead + signed + busy + [slow]]
    secrets += list(SECRETS.values()) + list(wrong.values()) + ["stalledSecret0a1b2c3d4e", "malformedKey0a1b2c3d",
                                                                 "noschemeKey0a1b2c", "refusedSecret0a1b2c3d",
                                                                 "refusedToken0a1b2c", "SECrefusedSigning0a1b2c3d"]
    texts = lines + [r.getMessage() for r in caplog.records] + [r.exc_text or "" for r in caplog.records]
    texts += [caplog.text] + [repr(r) for r in report.results] + list(report.disabled.values())
    texts += [repr(t) for t in targets] + list(main.rejections) + list(flaky.faults)
    assert len(lines) > 30 and any(r.name.startswith("urllib3") for r in caplog.records)
    for text in texts:
        for secret in secrets:
            assert secret not in text, (secret, text)
    reasons = " ".join(r.reason for r in report.results)
    for what in ("malformed", "could not connect", "after 4 failed attempt(s)", "code 310000", "code 19021",
                 "code 93000", "not sent again"):
        assert what in reasons, what


# ---- the `qunflow send` and `qunflow emulator` commands --------------------------------------------------------

CLI_BOTS = [Bot("wecom", "cliWecomKey0a1b2c3d4e5f", group_id="G01"),
            Bot("dingtalk", "cli-ding-token-G02-0000000000002", secret="SEC-cli-ding-G02-00000000002", group_id="G02"),
            Bot("wecom", "cliDeadKey0a1b2c3d4e5f", dead=True, group_id="G03")]
CLI_ROWS = {
    "settings": [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": "en"}],
    "groups": [{"group_id": f"G0{i}", "name": f"Group {i}", "platform": p, "webhook": f"env:QUNFLOW_HOOK_G0{i}",
    # checkov:skip=CKV_SECRET_6: references to environment variables (env:QUNFLOW_…), not secrets
                "kind": "traffic", **({"secret": "env:QUNFLOW_SIGN_G02"} if i == 2 else {})}
               for i, p in enumerate(("wecom", "dingtalk", "wecom", "feishu"), start=1)],
    "members": [{"member_id": "M0001", "name": "Lin", "group_id": "G01", "platform_user_id": "lin"},
                {"member_id": "M0002", "name": "Chen", "group_id": "G02", "mobile": "13900139000"}],
}


@pytest.fixture
def shop(tmp_path):
    """An xlsx workbook whose webhooks are env: references to a running emulator (real clock: the CLI's)."""
    book = tmp_path / "shop.xlsx"
    write_xlsx(make_raw(CLI_ROWS), book)
    with Emulator(CLI_BOTS) as emu:
        env = {f"QUNFLOW_HOOK_{b.group_id}": emu.webhook_url(b) for b in CLI_BOTS}
        env.update(QUNFLOW_SIGN_G02="SEC-cli-ding-G02-00000000002", QUNFLOW_HOOK_G04=None, QUNFLOW_SECRETS_FILE=str(tmp_path / "none"),
                   QUNFLOW_SOURCE=None)
        yield book, emu, env


def qunflow(env, *args):
    from qunflow.cli import cli
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def test_send_delivers_with_mentions_and_exits_0(shop, tmp_path):
    book, emu, env = shop
    result = qunflow(env, "send", book, "--group", "G01", "--text", "Live at 8 tonight", "--mention", "M0001")
    assert result.exit_code == 0, result.output
    assert "Sent to G01" in result.output
    assert (emu.messages[-1]["text"], emu.messages[-1]["mentions"]) == ("Live at 8 tonight", ["lin"])
    note = tmp_path / "note.md"
    note.write_text("# Flash sale\n**50%** off until midnight", encoding="utf-8")
    result = qunflow(env, "send", book, "--group", "G02", "--markdown", note, "--mention", "all,M0002", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"group_id": "G02", "status": "sent", "attempts": 1, "reason": "ok",
                                         "parts": 1}
    last = emu.messages[-1]                                    # signed with the resolved secret, verified
    assert (last["platform"], last["msgtype"], set(last["mentions"])) == ("dingtalk", "markdown",
                                                                          {"all", "13900139000"})


def test_send_to_a_removed_bot_says_so_plainly_and_exits_non_zero(shop):
    book, emu, env = shop
    result = qunflow(env, "send", book, "--group", "G03", "--text", "hello")
    assert result.exit_code == 1
    assert "the robot was removed or its key is invalid: fix the webhook of G03" in result.stderr
    assert "cliDeadKey0a1b2c3d4e5f" not in result.output and "Traceback" not in result.output
    result = qunflow(env, "send", book, "--group", "G03", "--text", "hello", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["status"] == "failed" and emu.rejections["wecom:93000"] == 2


@pytest.mark.parametrize("args,words", [
    (["--group", "G99", "--text", "x"], "no group 'G99' in the Groups tab"),
    (["--group", "G04", "--text", "x"], "env:QUNFLOW_HOOK_G04, which is not set: set the environment variable QUNFLOW_HOOK_G04"),
    (["--group", "G01", "--text", "x", "--mention", "M0002"], "no member M0002 in group G01"),
    (["--group", "G01"], "exactly one of --text or --markdown"),
])
def test_send_refuses_clearly_without_a_traceback(shop, args, words):
    book, emu, env = shop
    result = qunflow(env, "send", book, *args)
    assert result.exit_code == 2 and words in result.stderr, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert emu.requests_total == 0


def test_send_retries_a_busy_platform_only_as_long_as_wait_allows(shop):
    book, _, env = shop
    with Emulator([CLI_BOTS[0]], error_rate=1.0) as busy:
        env = dict(env, QUNFLOW_HOOK_G01=busy.webhook_url(CLI_BOTS[0]))
        result = qunflow(env, "send", book, "--group", "G01", "--text", "hi", "--wait", "0", "--json")
    assert result.exit_code == 1 and busy.requests_total == 1
    assert json.loads(result.stdout)["attempts"] == 1 and "HTTP 50" in result.stderr


def test_the_installed_entry_point_returns_the_commands_exit_code(shop, monkeypatch):
    from qunflow.cli import cli
    from qunflow.cli.app import run_cli
    book, emu, env = shop
    for name, value in env.items():
        monkeypatch.delenv(name, raising=False) if value is None else monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", ["qunflow", "send", str(book), "--group", "G03", "--text", "hi"])
    assert run_cli(cli) == 1
    monkeypatch.setattr(sys, "argv", ["qunflow", "send", str(book), "--group", "G99", "--text", "hi"])
    assert run_cli(cli) == 2


def test_emulator_command_serves_until_stopped_and_writes_the_transcript(tmp_path):
    html, jsonl = tmp_path / "seen.html", tmp_path / "seen.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "qunflow", "emulator", "--port", "0", "--html", str(html),
                             "--transcript", str(jsonl)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first = proc.stdout.readline()
        assert "nothing is posted to real groups" in first, first
        base = first.split(" on ", 1)[1].split()[0]
        reply = requests.post(f"{base}/cgi-bin/webhook/send?key=anykey", timeout=5,
                              json={"msgtype": "text", "text": {"content": "dry run"}})
        assert reply.json() == {"errcode": 0, "errmsg": "ok"}
    finally:
        proc.terminate()                                       # SIGTERM stops it like Ctrl-C
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, out
    assert "Stopped: 1 messages accepted" in out
    assert "dry run" in html.read_text(encoding="utf-8") and "dry run" in jsonl.read_text(encoding="utf-8")


def test_emulator_command_on_a_busy_port_says_so(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = qunflow({}, "emulator", "--port", busy.getsockname()[1])
    assert result.exit_code == 2 and "try another --port" in result.stderr, result.output
