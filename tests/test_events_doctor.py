"""`qunflow doctor --events-url` (#19 item 6): each event platform's keys exist, and the running `events` function
(functions-framework on 127.0.0.1) answers the platform's URL check and refuses a forged one. Nothing is kept.

The function under test is the real one; the doctor makes the checks with the keys it resolves itself, so a key
that differs between the two, a missing key, a function that does not verify, or a URL that does not answer each
comes back as a failed check with its fix.
"""
from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import functions_framework
import pytest
from click.testing import CliRunner
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from helpers import make_raw, write_xlsx
from qunflow.cli import cli
from qunflow.jobs.doctor import DoctorDeps
from qunflow.state.sqlite import SqliteState

ROOT = Path(__file__).resolve().parents[1]
# checkov:skip=CKV_SECRET_6: made-up test keys for the events function, not real secrets
KEYS = {"FEISHU_ENCRYPT_KEY": "feishu-encrypt-key-doctor-01", "FEISHU_VERIFICATION_TOKEN": "feishu-token-d01",
        # checkov:skip=CKV_SECRET_6: made-up test keys for the events function, not real secrets
        "SLACK_SIGNING_SECRET": "slack-signing-secret-doctor-01", "TELEGRAM_SECRET_TOKEN": "tg-secret-doctor_01",
        "DINGTALK_TOKEN": "dingtalk-token-d01", "DINGTALK_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        "DINGTALK_APP_KEY": "dingappkeydoctor01", "WECOM_TOKEN": "wecom-token-d01",
        # checkov:skip=CKV_SECRET_6: made-up test keys for the events function, not real secrets
        "WECOM_AES_KEY": "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut", "WECOM_CORP_ID": "ww0doctor0corp01"}
PLATFORMS = ["feishu", "slack", "telegram", "dingtalk", "wecom"]
CHATS = {"feishu": "oc_doctor01", "slack": "C0DOCTOR", "telegram": "-100200300", "dingtalk": "cidDoctor==",
         "wecom-customer": "wrDoctorChat01"}


def rows(chat_ids: bool = True):
    groups = [{"group_id": f"G{i}", "name": f"{p} group", "platform": p, "webhook": f"env:QUNFLOW_HOOK_{i}", "kind": "traffic",
               "chat_id": CHATS[p] if chat_ids else ""} for i, p in enumerate(CHATS, 1)]
    groups[-1]["owner"] = "zhangsan"
    groups.append({"group_id": "G9", "name": "discord group", "platform": "discord", "webhook": "env:QUNFLOW_HOOK_9",
                   "kind": "traffic"})
    return {"settings": [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": "en"},
                         {"key": "wecom_corp_id", "value": "ww0doctor0corp01"}],
            "groups": groups}


def serve(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


@pytest.fixture
def function(tmp_path, monkeypatch):
    """The events function, with its keys in its environment and its inbox in SQLite."""
    state_path = tmp_path / "state.sqlite"
    monkeypatch.setenv("QUNFLOW_STATE", str(state_path))
    for name, value in KEYS.items():
        monkeypatch.setenv(f"QUNFLOW_{name}", value)
    monkeypatch.delenv("QUNFLOW_SECRET_PROJECT", raising=False)
    app = functions_framework.create_app("events", str(ROOT / "functions" / "main.py"))
    sys.modules["main"]._CLIENTS.clear()
    server, url = serve(app)
    yield url, state_path
    server.shutdown()
    sys.modules["main"]._CLIENTS.clear()


def doctor(tmp_path, url=None, keys=None, chat_ids=True):
    book = tmp_path / "shop.xlsx"
    write_xlsx(make_raw(rows(chat_ids)), book)
    found = dict(KEYS) if keys is None else keys
    deps = DoctorDeps(env={}, keys=found if callable(found) else found.get)
    args = ["doctor", str(book), "--json"] + (["--events-url", url] if url else [])
    result = CliRunner().invoke(cli, args, obj={"doctor_deps": deps})
    assert "Traceback" not in result.output and (result.exception is None or isinstance(result.exception, SystemExit))
    report = result.output[result.output.index("[\n"):]    # the function's own log lines come first here
    checks = {c["check"]: c for c in json.loads(report)}
    return {k[len("events: "):]: v for k, v in checks.items() if k.startswith("events")}, result.exit_code


def test_every_platform_answers_its_url_check_and_refuses_a_forgery_and_nothing_is_kept(tmp_path, function):
    url, state_path = function
    checks, _ = doctor(tmp_path, url)
    assert list(checks) == PLATFORMS                          # discord has no events path; each platform once
    for platform, check in checks.items():
        assert check["status"] == "ok", check
        assert f"{url}/{platform}" in check["detail"] and "refuses a forged one" in check["detail"], check
    assert "url_verification in" in checks["feishu"]["detail"] and "check_url" in checks["dingtalk"]["detail"]
    state = SqliteState(state_path)
    try:
        assert state.pending_events() == []                   # handshakes and an ignored update: nothing kept
    finally:
        state.close()


def test_a_missing_key_names_the_command_and_where_its_value_comes_from(tmp_path, function):
    url, _ = function
    keys = {k: v for k, v in KEYS.items() if k not in ("SLACK_SIGNING_SECRET", "DINGTALK_AES_KEY")}
    checks, code = doctor(tmp_path, url, keys)
    assert code == 1
    assert checks["slack"]["status"] == "fail" and "SLACK_SIGNING_SECRET" in checks["slack"]["detail"]
    assert "`qunflow secrets set SLACK_SIGNING_SECRET` (the app's Basic Information, Signing Secret)" in \
        checks["slack"]["fix"]
    assert "qunflow secrets set DINGTALK_AES_KEY" in checks["dingtalk"]["fix"]
    assert checks["feishu"]["status"] == "ok"                 # one platform's mistake stops only its check


def test_a_key_the_function_does_not_share_fails_the_handshake_with_its_fix(tmp_path, function):
    url, _ = function
    keys = dict(KEYS, FEISHU_VERIFICATION_TOKEN="another-token", SLACK_SIGNING_SECRET="another-secret",
                TELEGRAM_SECRET_TOKEN="another-token", DINGTALK_TOKEN="another-token", WECOM_TOKEN="another")
    checks, code = doctor(tmp_path, url, keys)
    assert code == 1
    for platform in PLATFORMS:
        check = checks[platform]
        assert check["status"] == "fail", check
        assert "event_platforms" in check["fix"] and "hold the values the platform shows" in check["fix"]
    assert "without its challenge" in checks["slack"]["detail"]
    assert "Telegram would retry it" in checks["telegram"]["detail"]
    for value in ("another-token", "another-secret", *KEYS.values()):
        assert value not in json.dumps(checks)                 # no key, right or wrong, is ever shown


def test_a_function_that_does_not_verify_is_caught(tmp_path):
    @Request.application
    def gullible(request):                                    # answers every challenge and every update
        if request.method == "GET":
            return Response("anything")
        body = json.loads(request.get_data() or b"{}")
        return Response(json.dumps({"challenge": body.get("challenge", "")}), content_type="application/json")

    server, url = serve(gullible)
    try:
        checks, code = doctor(tmp_path, url)
    finally:
        server.shutdown()
    assert code == 1
    assert checks["slack"]["status"] == "fail"
    assert "a request with a wrong key got 200, not a refusal" in checks["slack"]["detail"]
    assert checks["telegram"]["fix"] == "redeploy the events function: it must verify every request"
    assert checks["feishu"]["status"] == "fail"               # it cannot decrypt: no challenge comes back


def test_feishu_s_one_second_deadline(tmp_path, function):
    url, _ = function
    import requests

    @Request.application
    def slow(request):                                        # a proxy: Feishu's and Slack's answers 1.2 s late
        if request.path in ("/feishu", "/slack"):
            time.sleep(1.2)
        reply = requests.request(request.method, url + request.path, params=request.args, data=request.get_data(),
                                 headers={k: v for k, v in request.headers.items() if k.lower() != "host"}, timeout=5)
        return Response(reply.content, status=reply.status_code, content_type=reply.headers.get("Content-Type"))

    server, slow_url = serve(slow)
    try:
        checks, _ = doctor(tmp_path, slow_url)
    finally:
        server.shutdown()
    assert checks["feishu"]["status"] == "fail" and "more than Feishu's 1 s" in checks["feishu"]["detail"]
    assert checks["slack"]["status"] == "ok"                  # Slack allows 3 s


def test_a_url_that_does_not_answer(tmp_path):
    server, url = serve(Response("x"))
    server.shutdown()
    server.server_close()
    checks, code = doctor(tmp_path, url)
    assert code == 1
    assert "does not answer" in checks["slack"]["detail"] and "terraform output -raw events_url" in checks["slack"]["fix"]


def test_secret_manager_refusing_is_said_without_a_traceback(tmp_path):
    from qunflow.delivery.secret_manager import SecretManagerError

    def refusing(name):
        raise SecretManagerError("DENIED", f"qunflow-{name}", f"permission denied reading qunflow-{name}: grant roles/secretmanager.secretAccessor")

    checks, code = doctor(tmp_path, None, refusing)
    assert code == 1
    assert "FEISHU_ENCRYPT_KEY cannot be read: permission denied" in checks["feishu"]["detail"]


def test_without_a_url_the_keys_are_checked_and_without_chat_ids_nothing_is_expected(tmp_path):
    checks, code = doctor(tmp_path)
    assert all(c["status"] == "ok" and "the URL not checked" in c["detail"] for c in checks.values()), checks
    checks, _ = doctor(tmp_path, "http://127.0.0.1:9", chat_ids=False)
    assert checks == {"": {"check": "events", "status": "skip", "detail": checks[""]["detail"], "fix": None}}
    assert "chat_id" in checks[""]["detail"]
