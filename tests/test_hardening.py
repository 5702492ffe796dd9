"""Issue #14, items 5 and 6: errors a machine can act on, and the smaller holes.

One test (or two) per finding of the issue's hostile test; each failed on the code before the fix:
- an ERROR line carries the exception's type and stack trace in the form Cloud Error Reporting groups, masked;
- the CLI says an expected failure (a bad --now, Sheets' quota used up, an unreadable or missing workbook) in
  plain words in the operator's language with exit code 2; "internal error" is left for bugs;
- `init --lang en` writes English Settings;
- `env:` reads only QUNFLOW_ names (or the engineer's allow-list), `secret:` names are plain names, and a
  refused reference is a Problem at its Groups cell;
- the emulator refuses a signature it cannot check, as the platform refuses a wrong one.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote_plus

import click
import functions_framework
import pytest
import requests
from click.testing import CliRunner

from engine_harness import Shop
from helpers import make_raw, write_xlsx
from qunflow.cli import cli
from qunflow.delivery.secrets import SecretResolver, UnresolvedSecret
from qunflow.emulator import Bot, Emulator
from qunflow.sheet.load import load_workbook
from qunflow.stores.xlsx import read_xlsx
from sheets_fake import FakeSheetsServer

ROOT = Path(__file__).resolve().parents[1]
MAIN = str(ROOT / "functions" / "main.py")
KEY = "tok-SECRET-0123456789abcdef"
HOOK = f"https://oapi.dingtalk.com/robot/send?access_token={KEY}"
# what makes a JSON log line an event Cloud Error Reporting groups (error-reporting/docs/formatting-error-messages)
ERROR_EVENT_TYPE = "type.googleapis.com/google.devtools.clouderrorreporting.v1beta1.ReportedErrorEvent"


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def error_events(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line.get("severity") == "ERROR" and line.get("@type") == ERROR_EVENT_TYPE]


# ---- 5. every ERROR line is an event Error Reporting groups: type, stack trace, secrets masked ---------------

CRASH_PROBE = """
import sys
import functions_framework
target, main, hook = sys.argv[1:4]
app = functions_framework.create_app(target, main)
import qunflow.jobs.ingest as ingest

def poison(*args, **kwargs):
    raise RuntimeError("relay broke on " + hook)

if target == "ingest":
    ingest.ingest_into = poison         # a bug deep in the handler, with a key in its message
else:
    sys.modules["main"]._now = poison   # a bug before any try of the handler: Flask's own error path
reply = app.test_client().post("/", data=b"{}", headers={"Content-Type": "application/json"})
sys.exit(0 if reply.status_code >= 500 else 1)
"""


@pytest.mark.parametrize("target,says", [("tick", "Exception on / [POST]: RuntimeError: relay broke"),
                                         ("ingest", "RuntimeError: relay broke")])
def test_an_exception_in_an_http_handler_is_a_json_error_event_with_type_and_stack(tmp_path, target, says):
    """As deployed (a fresh interpreter): an exception in a handler, caught by it or left to Flask ("Exception on
    / [POST]"), is one JSON line with the exception's type and traceback, the key in its message masked; nothing
    else is printed (Flask's plain-text handler never gets installed)."""
    env = dict(os.environ, QUNFLOW_SOURCE=str(tmp_path / "shop.xlsx"), INGEST_HMAC_SECRET="ingest-key-0123456789")
    # checkov:skip=CKV_SECRET_6: a made-up test key or secret for the emulator, not a real one
    env.pop("QUNFLOW_STATE", None)
    done = subprocess.run([sys.executable, "-c", CRASH_PROBE, target, MAIN, HOOK], capture_output=True, text=True,
                          timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout + done.stderr
    assert KEY not in out
    lines = [line for line in out.splitlines() if line.strip()]
    assert all(line.startswith("{") for line in lines), "not JSON:\n" + out
    events = error_events(json_lines(out))
    assert len(events) == 1, out
    event = events[0]
    assert event["error_type"] == "RuntimeError" and says in event["message"], event["message"]
    trace = event["stack_trace"]
    assert trace.startswith("Traceback (most recent call last):\n") and 'File "' in trace and "in poison" in trace
    assert trace.rstrip().splitlines()[-1].startswith("RuntimeError: relay broke on https://oapi.dingtalk.com/")
    assert "tok-…" in trace


def test_a_job_that_fails_logs_its_type_and_stack_masked_and_an_error_without_one_its_place(tmp_path, monkeypatch,
                                                                                            capsys):
    import qunflow.jobs.tick as tick_job
    monkeypatch.setenv("QUNFLOW_SOURCE", str(tmp_path / "shop.xlsx"))
    monkeypatch.delenv("QUNFLOW_STATE", raising=False)

    def broken(*args, **kwargs):
        raise ConnectionError(f"could not post to {HOOK}")
    monkeypatch.setattr(tick_job, "run_tick", broken)
    client = functions_framework.create_app("tick", MAIN).test_client()
    main = sys.modules["main"]
    main._CLIENTS.clear()
    capsys.readouterr()
    reply = client.post("/", data=b"{}", headers={"Content-Type": "application/json",
                                                 "X-CloudScheduler-JobName": "qunflow-tick"})
    assert reply.status_code == 503 and "Traceback" not in reply.get_data(as_text=True)
    out = capsys.readouterr().out
    assert KEY not in out
    [event] = error_events(json_lines(out))
    assert event["message"].startswith("qunflow-tick failed: ConnectionError") and event["job"] == "qunflow-tick"
    assert event["error_type"] == "ConnectionError"
    assert event["stack_trace"].startswith("Traceback (most recent call last):")
    assert "in broken" in event["stack_trace"] and "access_token=tok-…" in event["stack_trace"]
    main._log("ERROR", "tick done", failed=1)                   # an error that is not an exception
    [done] = error_events(json_lines(capsys.readouterr().out))
    location = done["context"]["reportLocation"]
    assert location["functionName"] == "test_a_job_that_fails_logs_its_type_and_stack_masked_and_an_error_without_one_its_place"
    assert location["filePath"].endswith("test_hardening.py") and location["lineNumber"] > 0


# ---- 5. the CLI: an expected failure is a plain sentence and exit code 2; a bug is an internal error ----------

@pytest.fixture
def book(tmp_path) -> Path:
    path = tmp_path / "shop.xlsx"
    assert CliRunner().invoke(cli, ["init", str(path), "--lang", "en"]).exit_code == 0
    return path


def qunflow(*args, lang: str = "en", **env):
    return CliRunner().invoke(cli, [str(a) for a in args], env={"QUNFLOW_LANG": lang, "QUNFLOW_SOURCE": None, **env})


@pytest.mark.parametrize("lang,words", [("en", "--now 'tomorrow 8pm' is not a moment qunflow can read"),
                                        ("zh", "--now「tomorrow 8pm」不是可识别的时间")])
def test_a_bad_now_is_a_plain_sentence_in_the_operators_language_and_exit_2(book, lang, words):
    for command in ("tick", "preview", "metrics"):
        result = qunflow(command, book, "--now", "tomorrow 8pm", lang=lang)
        assert result.exit_code == 2 and words in result.stderr, (command, result.output, result.exception)
        assert "2026-12-01T20:00:00+08:00" in result.stderr and "internal error" not in result.stderr


def test_sheets_quota_used_up_after_the_retries_is_a_plain_sentence_and_exit_2(monkeypatch):
    from qunflow.stores.gsheets import GoogleSheetsStore
    monkeypatch.setitem(GoogleSheetsStore.__init__.__kwdefaults__, "sleep", lambda seconds: None)  # no real waits
    with FakeSheetsServer() as sheets:
        sheets.create_spreadsheet("QUOTA", make_raw({"settings": [{"key": "language", "value": "en"}]}))
        sheets.inject(429, count=10**6)                      # a 429 storm that outlasts every retry
        for lang, words in (("en", "Google Sheets refused more requests: the quota is used up (HTTP 429)"),
                            ("zh", "Google 表格拒绝了更多请求：请求配额已用完（HTTP 429）")):
            result = qunflow("validate", "gsheets:QUOTA", lang=lang, QUNFLOW_SHEETS_API=sheets.base_url)
            assert result.exit_code == 2 and words in result.stderr, (result.output, result.exception)
            assert "internal error" not in result.stderr
        assert len(sheets.requests) >= 7                      # it did retry before it said so


def test_an_unreadable_or_missing_workbook_is_a_plain_sentence_and_exit_2(tmp_path):
    garbage = tmp_path / "broken.xlsx"
    garbage.write_bytes(b"PK\x03\x04 this is not a whole workbook")
    folder = tmp_path / "folder.xlsx"
    folder.mkdir()
    cases = [(("validate", garbage), "en", "The file cannot be read ("),
             (("tick", garbage), "zh", "该文件无法读取（"),
             (("validate", folder), "en", "folder.xlsx is a folder"),
             (("validate", tmp_path / "missing.xlsx"), "zh", "找不到工作簿"),
             (("validate", tmp_path / "missing.xlsx"), "en", "does not exist: create it with `qunflow init")]
    for args, lang, words in cases:
        result = qunflow(*args, lang=lang)
        assert result.exit_code == 2 and words in result.stderr, (args, lang, result.output, result.exception)
        assert "Traceback" not in result.output


def test_the_operators_language_comes_from_qunflow_lang_then_the_locale():
    from qunflow.jobs.errors import operator_language
    assert operator_language({"QUNFLOW_LANG": "zh", "LANG": "en_US.UTF-8"}) == "zh-CN"
    assert operator_language({"LC_ALL": "zh_CN.UTF-8"}) == "zh-CN"
    assert operator_language({"LANG": "C.UTF-8"}) == operator_language({}) == "en"


def test_a_bug_is_still_an_internal_error_with_exit_3(monkeypatch, capsys):
    from qunflow.cli.app import QunflowGroup, run_cli

    @click.group(cls=QunflowGroup)
    def group() -> None:
        pass

    @group.command()
    def oops() -> None:
        {}["missing"]                                   # a KeyError: ours, not the operator's

    monkeypatch.setattr(sys, "argv", ["qunflow", "oops"])
    monkeypatch.setenv("QUNFLOW_LANG", "en")
    monkeypatch.delenv("QUNFLOW_DEBUG", raising=False)
    assert run_cli(group) == 3
    assert "internal error (KeyError). Please report it" in capsys.readouterr().err


# ---- 6. init --lang en writes English Settings ----------------------------------------------------------------

@pytest.mark.parametrize("demo", [True, False])
def test_init_in_english_writes_english_settings(tmp_path, demo):
    path = tmp_path / "shop.xlsx"
    result = CliRunner().invoke(cli, ["init", str(path), "--lang", "en"] + (["--demo"] if demo else []))
    assert result.exit_code == 0, result.output
    raw = read_xlsx(path)
    settings = {row[0]: row[1] for row in raw["Settings"][1:] if row and row[0]}
    assert settings["language"] == "en"
    if demo:
        assert settings["catch_up"] == "30m"
        assert not [v for v in settings.values() if any("\u4e00" <= ch <= "\u9fff" for ch in str(v))], settings
    assert load_workbook(raw).lang == "en"
    checked = CliRunner().invoke(cli, ["validate", str(path)])
    assert checked.exit_code == 0 and "No problems found." in checked.output, checked.output


def test_init_in_chinese_keeps_chinese_settings(tmp_path):
    path = tmp_path / "shop.xlsx"
    assert CliRunner().invoke(cli, ["init", str(path), "--lang", "zh", "--demo"]).exit_code == 0
    settings = {row[0]: row[1] for row in read_xlsx(path)["设置"][1:] if row and row[0]}
    assert settings["语言"] == "中文" and settings["补发时限"] == "30分钟"      # keys by their 中文 label (#17)


# ---- 6. env: and secret: references a sheet editor may write -------------------------------------------------

def test_env_references_read_only_qunflow_names_or_the_engineers_allow_list():
    resolver = SecretResolver(env={"HOME": "/root", "INGEST_HMAC_SECRET": "ingest-key-0123456789",
                                   "QUNFLOW_HOOK_G01": HOOK, "LEGACY_HOOK": HOOK,
                                   "QUNFLOW_ENV_ALLOW": "LEGACY_HOOK, INGEST_HMAC_SECRET"})
    assert resolver.resolve("env:QUNFLOW_HOOK_G01") == HOOK
    assert resolver.resolve("env:LEGACY_HOOK") == HOOK                      # listed by the engineer
    for reference in ("env:HOME", "env:INGEST_HMAC_SECRET", "env:QUNFLOW_ENV_ALLOW", "env:../HOME"):
        with pytest.raises(UnresolvedSecret) as refused:   # reported at its cell as an unset one is
            resolver.resolve(reference)
        assert type(refused.value).__name__ == "RefusedReference" and "env:QUNFLOW_" in refused.value.where
    with pytest.raises(UnresolvedSecret) as refused:
        resolver.resolve("env:HOME")
    assert "write env:QUNFLOW_HOME" in refused.value.where and "/root" not in str(refused.value)


def test_secret_names_are_plain_names_that_never_leave_the_secrets_folder(tmp_path):
    folder = tmp_path / "secrets"
    folder.mkdir()
    (folder / "HOOK_G01").write_text(HOOK, encoding="utf-8")
    (tmp_path / "outside").write_text("https://attacker.example/collect", encoding="utf-8")
    resolver = SecretResolver(env={}, secrets_dir=folder)
    assert resolver.resolve("secret:HOOK_G01") == HOOK
    for reference in ("secret:../outside", "secret:..", "secret:sub/HOOK_G01", "secret:..\\outside",
                      "secret:/etc/passwd", "secret:INGEST_HMAC_SECRET"):
        with pytest.raises(UnresolvedSecret) as refused:
            resolver.resolve(reference)
        assert type(refused.value).__name__ == "RefusedReference" and "attacker" not in str(refused.value)
    with pytest.raises(UnresolvedSecret) as refused:
        resolver.resolve("secret:../outside")
    assert "write secret:outside" in refused.value.where


def test_secret_reads_the_environment_only_for_the_secrets_the_deployment_mounts():
    env = {"HOOK_G01": HOOK, "PATH": "/usr/bin", "QUNFLOW_SECRET_NAMES": "HOOK_G01,INGEST_HMAC_SECRET",
           "INGEST_HMAC_SECRET": "hmac-key-0123456789"}
    # checkov:skip=CKV_SECRET_6: a made-up test key or secret for the emulator, not a real one
    resolver = SecretResolver(env=env)
    assert resolver.resolve("secret:HOOK_G01") == HOOK           # mounted from Secret Manager by Terraform
    for name in ("PATH", "INGEST_HMAC_SECRET"):                  # any other variable, or qunflow's own key
        with pytest.raises(UnresolvedSecret) as missing:
            resolver.resolve(f"secret:{name}")
        assert "/usr/bin" not in str(missing.value) and "hmac-key" not in str(missing.value)
    with pytest.raises(UnresolvedSecret):
        SecretResolver(env={"HOOK_G01": HOOK}).resolve("secret:HOOK_G01")   # not listed: not read


def at(text: str) -> datetime:
    return datetime.fromisoformat(text + "+08:00").astimezone(timezone.utc)


def test_a_refused_reference_is_a_problem_at_its_groups_cell_and_the_group_gets_nothing():
    shop = Shop(at("2026-12-01 09:55"))
    try:
        groups = shop.store.raw["Groups"]
        groups[1][groups[0].index("webhook")] = "env:HOME"     # G01: any variable of the function
        hook = shop.emulator.webhook_url(shop.emulator.bots[0])  # G01's robot, set where env:HOME points
        shop.resolver = SecretResolver(env={**shop.resolver.env, "HOME": hook})
        shop.tick(at("2026-12-01 10:02"))                       # G01's day-1 tip is due at 10:00
        assert not [m for m in shop.emulator.messages if m["platform"] == "wecom"]
        problems = [p for p in load_workbook(shop.store.raw).previous_problems
                    if p.tab == "Groups" and p.row == 2 and p.column == "webhook"]
        assert problems and problems[0].value == "env:HOME"
        assert "env:QUNFLOW_HOME" in problems[0].message and "QUNFLOW_ENV_ALLOW" in problems[0].message
    finally:
        shop.close()


# ---- 6. the emulator checks signatures against the secret it was given ---------------------------------------

def ding_sign(secret: str, ts_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{ts_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest))


def feishu_sign(secret: str, ts: int) -> str:
    return base64.b64encode(hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()


def test_a_signed_request_the_emulator_cannot_check_is_refused_as_a_wrong_secret_is():
    text = {"msgtype": "text", "text": {"content": "signed"}}
    with Emulator(strict=False) as emu:                           # lax: unknown tokens are auto-registered
        ding = emu.webhook_url(Bot("dingtalk", "ding-unknown-token-0001"))
        ts = int(time.time() * 1000)
        signed = requests.post(f"{ding}&timestamp={ts}&sign={ding_sign('any-secret', ts)}", json=text).json()
        assert signed["errcode"] == 310000 and "sign not match" in signed["errmsg"]
        assert requests.post(ding, json=text).json()["errcode"] == 0        # an unsigned robot still posts
        feishu = emu.webhook_url(Bot("feishu", "feishu-unknown-hook-0001"))
        ts = int(time.time())
        body = {"timestamp": str(ts), "sign": feishu_sign("any-secret", ts), "msg_type": "text",
                "content": {"text": "signed"}}
        assert requests.post(feishu, json=body).json()["code"] == 19021
        registered = emu.add_bot(Bot("dingtalk", "ding-known-token-0002", secret="SEC-the-right-one-0002"))
        # checkov:skip=CKV_SECRET_6: a made-up test key or secret for the emulator, not a real one
        url = emu.webhook_url(registered)
        ts = int(time.time() * 1000)
        assert requests.post(f"{url}&timestamp={ts}&sign={ding_sign('SEC-the-right-one-0002', ts)}",
                             json=text).json()["errcode"] == 0
        assert requests.post(f"{url}&timestamp={ts}&sign={ding_sign('SEC-a-wrong-one', ts)}",
                             json=text).json()["errcode"] == 310000
        assert [m["text"] for m in emu.messages] == ["signed", "signed"]


def test_a_dry_run_with_a_wrong_dingtalk_secret_does_not_look_fine(tmp_path):
    """`qunflow send` through a lax emulator that was never told G02's secret: refused, exit 1, as DingTalk
    refuses a wrong secret; once the bot is registered with its secret, the same send goes out."""
    path = tmp_path / "shop.xlsx"
    write_xlsx(make_raw({"settings": [{"key": "language", "value": "en"}],
                         "groups": [{"group_id": "G02", "name": "Flash", "platform": "dingtalk", "kind": "flash",
                                     "webhook": "env:QUNFLOW_HOOK_G02", "secret": "env:QUNFLOW_SIGN_G02"}]}), path)
    # checkov:skip=CKV_SECRET_6: a made-up test key or secret for the emulator, not a real one
    bot = Bot("dingtalk", "dry-run-ding-token-0002")
    with Emulator(strict=False) as emu:
        env = {"QUNFLOW_HOOK_G02": emu.webhook_url(bot), "QUNFLOW_SIGN_G02": "SEC-typed-wrong-0002",
               "QUNFLOW_SECRETS_FILE": str(tmp_path / "none")}
        result = qunflow("send", path, "--group", "G02", "--text", "flash sale at 8", **env)
        assert result.exit_code == 1 and "310000" in result.stderr, result.output
        assert not emu.messages
        emu.add_bot(Bot("dingtalk", bot.token, secret="SEC-typed-wrong-0002"))   # the test registers the group
        # checkov:skip=CKV_SECRET_6: a made-up test key or secret for the emulator, not a real one
        result = qunflow("send", path, "--group", "G02", "--text", "flash sale at 8", **env)
        assert result.exit_code == 0, result.output
        assert [m["text"] for m in emu.messages] == ["flash sale at 8"]
