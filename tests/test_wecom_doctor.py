"""`qunflow doctor` on a workbook with wecom-customer groups names each missing prerequisite (corp id, app
secret, callback token and AES key, owner, chat id, the trusted IP by 60020), in en and zh-CN, against the
emulator's WeCom API over real HTTP; no secret is ever in its output."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest
import requests

from helpers import make_raw
from qunflow.delivery.secrets import SecretResolver
from qunflow.emulator.server import Emulator
from qunflow.jobs.doctor import DoctorDeps, format_checks, run_doctor
from qunflow.stores.memory import MemoryStore

# checkov:skip=CKV_SECRET_6: a made-up test key or a published test vector for the emulator, not a real secret
CORP, SECRET = "ww1234567890abcdef", "app-secret-for-doctor-01"
AES = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def rows(lang="en", corp=CORP, owner="zhangsan", chat="wrChat0001"):
    settings = [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": lang}]
    if corp:
        settings.append({"key": "wecom_corp_id", "value": corp})
    return {"settings": settings,
            "groups": [{"group_id": "G01", "name": "VIP 客户群", "platform": "wecom-customer", "kind": "traffic",
                        "webhook": "env:QUNFLOW_WECOM_APP", "owner": owner, "chat_id": chat}],
            "templates": [{"name": "hello", "content": "hi"}]}


@pytest.fixture
def emu():
    with Emulator() as e:
        e.wecom_api.add_app(CORP, SECRET)
        e.wecom_groups.add_chat("wrChat0001", "zhangsan")
        yield e


def doctor(raw, env, emu, lang="en"):
    deps = DoctorDeps(env={"QUNFLOW_WECOM_API": emu.base_url, **env}, resolver=SecretResolver(env=env),
                      open_store=lambda source: MemoryStore(raw), session=requests.Session())
    checks = run_doctor("shop.xlsx", NOW, deps)
    return {c.name: c for c in checks}, format_checks(checks)


def full_env():
    return {"QUNFLOW_WECOM_APP": SECRET, "QUNFLOW_WECOM_TOKEN": "QunflowToken1", "QUNFLOW_WECOM_AES_KEY": AES}


def test_a_ready_workbook_passes_and_the_secret_is_never_shown(emu):
    checks, text = doctor(make_raw(rows()), full_env(), emu)
    wecom = checks["WeCom customer groups"]
    assert wecom.status == "ok", wecom
    assert "WeCom answers from this IP" in wecom.detail and "env:QUNFLOW_WECOM_APP" in wecom.detail
    assert checks["group G01"].status == "ok"                      # its webhook is a secret, not a URL
    assert SECRET not in text and SECRET[:8] not in text and AES not in text


def test_each_missing_prerequisite_is_named(emu):
    raw = make_raw(rows(corp="", owner="", chat=""))
    checks, text = doctor(raw, {}, emu)
    wecom = checks["WeCom customer groups"]
    assert wecom.status == "fail"
    for needle in ("wecom_corp_id", "env:QUNFLOW_WECOM_APP is not set", "QUNFLOW_WECOM_TOKEN",
                   "QUNFLOW_WECOM_AES_KEY", "groups G01 have no owner", "groups G01 have no chat_id",
                   "WeCom not called"):
        assert needle in wecom.fix or needle in wecom.detail, needle


def test_60020_names_the_ip_to_trust_in_english_and_chinese(emu):
    emu.wecom_api.trusted_ip_only, emu.wecom_api.caller_ip = True, "198.51.100.23"
    checks, _ = doctor(make_raw(rows()), full_env(), emu)
    wecom = checks["WeCom customer groups"]
    assert wecom.status == "fail" and "198.51.100.23 (60020)" in wecom.fix and "企业可信IP" in wecom.fix
    checks, text = doctor(make_raw(rows(lang="zh-CN"), lang="zh-CN"), full_env(), emu)
    wecom = checks["企业微信客户群"]
    assert wecom.status == "fail" and "请在企业微信管理后台把这个 IP 加入应用的“企业可信IP”" in wecom.fix
    assert "198.51.100.23" in text and "解决：" in text


def test_a_wrong_secret_and_an_unknown_chat(emu):
    env = {**full_env(), "QUNFLOW_WECOM_APP": "not-the-secret-000"}
    wecom = doctor(make_raw(rows()), env, emu)[0]["WeCom customer groups"]
    assert wecom.status == "fail" and "40001" in wecom.fix
    wecom = doctor(make_raw(rows(chat="wrTypo")), full_env(), emu)[0]["WeCom customer groups"]
    assert wecom.status == "warn" and "do not include wrTypo" in wecom.fix


def test_no_wecom_customer_group_no_check(emu):
    raw = rows()
    raw["groups"] = [{"group_id": "G01", "name": "g", "platform": "feishu", "kind": "traffic", "webhook": "env:QUNFLOW_HOOK"}]
    checks, _ = doctor(make_raw(raw), {"QUNFLOW_HOOK": "https://open.feishu.cn/x"}, emu)
    assert "WeCom customer groups" not in checks
