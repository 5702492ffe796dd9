"""Secrets read at run time from Secret Manager (delivery/secret_manager.py), over real HTTP to a fake written from
Google's REST reference (tests/fake_secret_manager.py), and `qunflow secrets set NAME`.

`secret:NAME` is the mounted variable, the secrets folder or file first, then Secret Manager's qunflow-NAME; a new
version reaches the next read after the 60 s cache; a miss says which command adds it; a 403 names the account and
the role; a payload whose CRC32C does not match is refused. The value is never printed.
"""
from __future__ import annotations

import pytest
import requests
from click.testing import CliRunner

from fake_secret_manager import FakeSecretManager
from qunflow.cli import cli
from qunflow.delivery import secret_manager as sm
from qunflow.delivery.secrets import SecretResolver, UnresolvedSecret
from qunflow.jobs.cloud_secrets import platform_keys

PROJECT = "my-shop-prod"
HOOK = "https://hooks.example/robot/send?key=sm-test-hook-value-0001"


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def fake():
    with FakeSecretManager() as server:
        yield server


def manager(fake, clock=None, account="qunflow-runtime@my-shop-prod.iam.gserviceaccount.com"):
    return sm.SecretManager(PROJECT, session=requests.Session(), base_url=fake.url, clock=clock or Clock(),
                            account=account)


def test_crc32c_is_castagnolis():
    assert sm.crc32c(b"123456789") == 0xE3069283


def test_a_secret_reference_falls_back_to_secret_manager_after_the_mounted_variable_and_the_file(fake, tmp_path):
    fake.put(PROJECT, "qunflow-wecom-g07", HOOK)
    fake.put(PROJECT, "qunflow-wecom-g08", "https://hooks.example/from-secret-manager")
    book_secrets = tmp_path / ".qunflow-secrets"
    book_secrets.write_text("wecom-g08=https://hooks.example/from-the-file\n", encoding="utf-8")
    resolver = SecretResolver(env={"QUNFLOW_SECRET_NAMES": "wecom-g09", "wecom-g09": "https://hooks.example/mounted"},
                              secrets_file=book_secrets, secret_manager=manager(fake))
    assert resolver.resolve("secret:wecom-g07") == HOOK
    assert resolver.resolve("secret:wecom-g08") == "https://hooks.example/from-the-file"
    assert resolver.resolve("secret:wecom-g09") == "https://hooks.example/mounted"
    assert ("GET", f"/v1/projects/{PROJECT}/secrets/qunflow-wecom-g07/versions/latest:access") in fake.requests
    assert not any("g08" in path or "g09" in path for _, path in fake.requests)
    assert HOOK in resolver.all_values()          # what the log masker learns


def test_a_new_version_is_read_after_the_cache_expires_and_a_miss_names_the_command(fake):
    clock = Clock()
    resolver = SecretResolver(env={}, secret_manager=manager(fake, clock))
    with pytest.raises(UnresolvedSecret) as missing:
        resolver.resolve("secret:wecom-g10")
    assert "qunflow secrets set wecom-g10" in str(missing.value)
    fake.put(PROJECT, "qunflow-wecom-g10", HOOK)
    clock.t += 30
    with pytest.raises(UnresolvedSecret):          # the miss is cached for a minute
        resolver.resolve("secret:wecom-g10")
    clock.t += 31
    assert resolver.resolve("secret:wecom-g10") == HOOK
    reads = len(fake.requests)
    fake.put(PROJECT, "qunflow-wecom-g10", HOOK + "-v2")
    assert resolver.resolve("secret:wecom-g10") == HOOK and len(fake.requests) == reads   # cached
    clock.t += 61
    assert resolver.resolve("secret:wecom-g10") == HOOK + "-v2"


def test_access_denied_names_the_account_and_the_role_and_a_bad_checksum_is_refused(fake):
    fake.put(PROJECT, "qunflow-wecom-g11", HOOK)
    fake.put(PROJECT, "qunflow-wecom-g12", HOOK)
    fake.denied.add("qunflow-wecom-g11")
    fake.corrupt.add("qunflow-wecom-g12")
    resolver = SecretResolver(env={}, secret_manager=manager(fake))
    with pytest.raises(UnresolvedSecret) as denied:
        resolver.resolve("secret:wecom-g11")
    assert "qunflow-runtime@my-shop-prod.iam.gserviceaccount.com" in str(denied.value)
    assert "roles/secretmanager.secretAccessor" in str(denied.value)
    with pytest.raises(UnresolvedSecret) as corrupt:
        resolver.resolve("secret:wecom-g12")
    assert "CRC32C" in str(corrupt.value)
    assert HOOK not in str(denied.value) + str(corrupt.value)
    assert resolver.all_values() == []            # neither was kept


def test_the_events_functions_platform_keys_come_from_the_environment_then_secret_manager(fake):
    fake.put(PROJECT, "qunflow-SLACK_SIGNING_SECRET", "slack-signing-from-sm-0001")
    keys = platform_keys({"QUNFLOW_SECRET_PROJECT": PROJECT, "QUNFLOW_FEISHU_ENCRYPT_KEY": "feishu-from-env-0001"},
                         manager(fake))
    assert keys("FEISHU_ENCRYPT_KEY") == "feishu-from-env-0001"
    assert keys("SLACK_SIGNING_SECRET") == "slack-signing-from-sm-0001"
    assert keys("TELEGRAM_SECRET_TOKEN") is None
    assert platform_keys({})("SLACK_SIGNING_SECRET") is None        # no project: nothing is asked


def _set(fake, args, value):
    return CliRunner().invoke(cli, ["secrets", "set", *args], input=value,
                              obj={"secret_manager_for": lambda project: manager(fake)})


def test_secrets_set_creates_the_secret_then_adds_versions_and_never_prints_the_value(fake):
    done = _set(fake, ["wecom-g13", "--project", PROJECT], HOOK + "\n")
    assert done.exit_code == 0, done.output
    assert f"Created projects/{PROJECT}/secrets/qunflow-wecom-g13" in done.output
    assert HOOK not in done.output and "sm-test-hook" not in done.output
    assert fake.secrets[(PROJECT, "qunflow-wecom-g13")] == [HOOK.encode()]
    again = _set(fake, ["wecom-g13", "--project", PROJECT], HOOK + "-v2")
    assert again.exit_code == 0 and "Updated" in again.output and "versions/2" in again.output
    assert manager(fake).get("wecom-g13") == HOOK + "-v2"


@pytest.mark.parametrize("args, value, says", [
    (["wecom/../g14", "--project", PROJECT], HOOK, "is not a secret name"),
    (["INGEST_HMAC_SECRET", "--project", PROJECT], HOOK, "qunflow's own key"),
    (["wecom-g14", "--project", PROJECT], "  \n", "is empty: nothing was written"),
    (["wecom-g14"], HOOK, "which project?"),
])
def test_secrets_set_refuses_what_it_cannot_write_with_the_fix(fake, monkeypatch, args, value, says):
    monkeypatch.delenv("QUNFLOW_SECRET_PROJECT", raising=False)
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    done = _set(fake, args, value)
    assert done.exit_code == 2 and says in done.output
    assert not fake.secrets and HOOK not in done.output


def test_secrets_set_without_access_says_which_role(fake):
    fake.denied.add("qunflow-wecom-g15")
    done = _set(fake, ["wecom-g15", "--project", PROJECT], HOOK)
    assert done.exit_code == 2 and "may not create" in done.output and HOOK not in done.output
