"""`qunflow wecom welcome` against the emulator's group_welcome_template over real HTTP, with a real .xlsx and
SQLite state store: created, then updated in place (the id kept in the store), the operator told in en and zh-CN
that the owner applies it; %NICKNAME%, the 3,000-byte limit, and no coupon code in a group's welcome."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from helpers import make_raw, write_xlsx
from qunflow.cli import cli
from qunflow.emulator.server import Emulator
from qunflow.jobs.wecom_welcome import welcome_body

# checkov:skip=CKV_SECRET_6: a made-up test key or a published test vector for the emulator, not a real secret
CORP, SECRET = "ww1234567890abcdef", "app-secret-for-welcome-1"
LINK = ["--link-title", "领取新人礼", "--link-url", "https://shop.example/gift"]


def rows(lang="en", content="欢迎 {{ mentions }} 加入衣橱小馆！新人礼在下面的链接里领取。"):
    return {"settings": [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": lang},
                         {"key": "wecom_corp_id", "value": CORP}],
            "groups": [{"group_id": "G01", "name": "VIP 客户群", "platform": "wecom-customer", "kind": "traffic",
                        "webhook": "env:QUNFLOW_WECOM_APP", "owner": "zhangsan", "chat_id": "wrChat0001"}],
            "templates": [{"name": "welcome_vip", "content": content},
                          {"name": "coupon_welcome", "content": "欢迎 {{ mentions }}，你的专属券 {{ coupon }}"}]}


@pytest.fixture
def world(tmp_path, monkeypatch):
    with Emulator() as emu:
        emu.wecom_api.add_app(CORP, SECRET)
        monkeypatch.setenv("QUNFLOW_WECOM_APP", SECRET)
        monkeypatch.setenv("QUNFLOW_WECOM_API", emu.base_url)
        monkeypatch.delenv("QUNFLOW_STATE", raising=False)
        monkeypatch.delenv("QUNFLOW_LANG", raising=False)
        yield emu, tmp_path


def run(path, *args):
    return CliRunner().invoke(cli, ["wecom", "welcome", str(path), *args], catch_exceptions=False)


def test_the_welcome_is_created_then_updated_in_place_and_the_owner_told_to_apply_it(world):
    emu, tmp = world
    book = tmp / "shop.xlsx"
    write_xlsx(make_raw(rows()), book)
    first = run(book, "--template", "welcome_vip", *LINK, "--json")
    assert first.exit_code == 0, first.output
    out = json.loads(first.output)
    assert out["ok"] and "The owner of each customer group now applies it" in out["message"]
    templates = emu.wecom_groups.templates
    assert list(templates) == [out["template_id"]]
    saved = templates[out["template_id"]]
    assert saved["text"]["content"] == "欢迎 %NICKNAME% 加入衣橱小馆！新人礼在下面的链接里领取。"
    assert saved["link"]["url"] == "https://shop.example/gift" and saved["notify"] == 1
    write_xlsx(make_raw(rows(content="欢迎 {{ mentions }}！")), book)
    second = run(book, "--template", "welcome_vip", *LINK, "--json")
    assert json.loads(second.output)["template_id"] == out["template_id"]          # the same template, edited
    assert list(templates) == [out["template_id"]] and templates[out["template_id"]]["text"]["content"] == "欢迎 %NICKNAME%！"
    assert emu.wecom_api.calls.get("/cgi-bin/externalcontact/group_welcome_template/edit") == 1


def test_the_operator_reads_it_in_chinese_and_a_template_wecom_lost_is_added_again(world):
    emu, tmp = world
    book = tmp / "shop.xlsx"
    write_xlsx(make_raw(rows(lang="zh-CN"), lang="zh-CN"), book)
    first = run(book, "--template", "welcome_vip", *LINK)
    assert first.exit_code == 0 and "请各客户群的群主在企业微信中应用" in first.output
    emu.wecom_groups.templates.clear()                                   # deleted in the admin console
    again = run(book, "--template", "welcome_vip", *LINK)
    assert again.exit_code == 0 and "已在企业微信创建入群欢迎语" in again.output
    assert len(emu.wecom_groups.templates) == 1


def test_a_coupon_code_never_goes_into_a_group_welcome_and_the_limits_hold(world):
    emu, tmp = world
    book = tmp / "shop.xlsx"
    write_xlsx(make_raw(rows()), book)
    refused = run(book, "--template", "coupon_welcome", *LINK)
    assert refused.exit_code == 1 and "link that carries the member's id" in refused.output
    assert emu.wecom_groups.templates == {}
    missing = run(book, "--template", "nope")
    assert missing.exit_code == 1 and "no template named nope" in missing.output
    body, why = welcome_body("字" * 1001, "long", None)                  # 3,003 bytes
    assert body is None and why.code == "wecom_welcome_too_long" and why.params["size"] == 3003
    body, why = welcome_body("欢迎！", "plain", None)
    assert why is None and body["text"]["content"] == "欢迎！"


def test_wecom_refusals_are_said_with_their_code(world):
    emu, tmp = world
    book = tmp / "shop.xlsx"
    write_xlsx(make_raw(rows()), book)
    emu.wecom_api.trusted_ip_only = True
    result = run(book, "--template", "welcome_vip", *LINK)
    assert result.exit_code == 1 and "60020" in result.output
