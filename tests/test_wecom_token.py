"""WeCom access tokens (delivery/wecom_token.py) against the emulator's gettoken over real HTTP, cached in a real
SQLite state store: expiry, early invalidation, one refresh under concurrency, back-off, and 60020's IP."""
from __future__ import annotations

import threading

import pytest
import requests

from qunflow.delivery.wecom_token import (UntrustedIP, WeComApi, WeComApp, WeComBusy, WeComError,
                                          untrusted_ip)
from qunflow.emulator.server import Emulator
from qunflow.state.sqlite import SqliteState

# checkov:skip=CKV_SECRET_6: a made-up test key or a published test vector for the emulator, not a real secret
CORP, SECRET = "ww1234567890abcdef", "app-secret-for-tests-0001"
PING = "/cgi-bin/externalcontact/ping"


class Clock:
    def __init__(self, t: float = 1_764_590_400.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def world(tmp_path):
    clock = Clock()
    with Emulator(clock=clock) as emu:
        emu.wecom_api.add_app(CORP, SECRET)
        emu.wecom_api.routes[PING] = lambda req, corp, now: {"errcode": 0, "errmsg": "ok", "corp": corp}
        state = SqliteState(tmp_path / "state.sqlite")
        yield emu, state, clock
        state.close()


def api_for(emu, state, clock, **kw) -> WeComApi:
    app = WeComApp(CORP, "secret:WECOM_APP")
    return WeComApi(app, session=requests.Session(), state=state, base_url=emu.base_url, clock=clock,
                    resolve=lambda ref: SECRET if ref == "secret:WECOM_APP" else None, sleep=lambda s: None, **kw)


def gettokens(emu) -> int:
    return emu.wecom_api.calls.get("/cgi-bin/gettoken", 0)


def test_the_token_is_cached_in_the_state_store_until_its_expiry(world):
    emu, state, clock = world
    api = api_for(emu, state, clock)
    assert api.post(PING, {})["corp"] == CORP
    assert api.post(PING, {})["corp"] == CORP
    assert api_for(emu, state, clock).post(PING, {})["corp"] == CORP   # another run shares the stored token
    assert gettokens(emu) == 1
    clock.t += 7200 - 301                     # within the margin before WeCom's 7,200 s: still the same
    api.post(PING, {})
    assert gettokens(emu) == 1
    clock.t += 2                              # the stored expiry (7,200 s less 300 s) has passed: a new one
    api.post(PING, {})
    assert gettokens(emu) == 2


def test_a_token_wecom_expired_is_refreshed_once_and_the_call_retried(world):
    emu, state, clock = world
    api = api_for(emu, state, clock)
    api.post(PING, {})
    state.cache(WeComApp(CORP, "x").cache_name(SECRET), state.cached(WeComApp(CORP, "x").cache_name(SECRET),
                                                                     clock()), clock() + 99_999)
    clock.t += 7200                            # WeCom's own expiry passed, our record says it is still good
    assert api.post(PING, {})["corp"] == CORP  # 42001 → one refresh → the call again
    assert gettokens(emu) == 2


def test_early_invalidation_refreshes_once_then_gives_up(world):
    emu, state, clock = world
    api = api_for(emu, state, clock)
    api.post(PING, {})
    emu.wecom_api.invalidate()                 # WeCom invalidated the token early: 40014
    assert api.post(PING, {})["corp"] == CORP
    assert gettokens(emu) == 2
    calls = emu.wecom_api.calls[PING]
    emu.wecom_api.routes[PING] = lambda req, corp, now: {"errcode": 40014, "errmsg": "invalid access_token"}
    with pytest.raises(WeComError) as refused:
        api.post(PING, {})
    assert refused.value.errcode == 40014
    assert emu.wecom_api.calls[PING] == calls + 2 and gettokens(emu) == 3   # one refresh, one retry, no loop


def test_many_runs_at_once_fetch_one_token(world, tmp_path):
    """Eight runs, each with its own connection to one state file, start with no token: one gettoken."""
    emu, state, clock = world
    import time
    errors, tokens = [], []

    def run():
        own = SqliteState(tmp_path / "state.sqlite")
        try:
            api = WeComApi(WeComApp(CORP, "secret:WECOM_APP"), session=requests.Session(), state=own,
                           base_url=emu.base_url, clock=clock, resolve=lambda ref: SECRET, sleep=time.sleep)
            tokens.append(api.token())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert gettokens(emu) == 1 and len(set(tokens)) == 1 and len(tokens) == 8


def test_concurrent_runs_with_one_refused_token_refresh_it_once(world, tmp_path):
    emu, state, clock = world
    import time
    first = api_for(emu, state, clock).token()
    emu.wecom_api.invalidate()
    got = []

    def run():
        own = SqliteState(tmp_path / "state.sqlite")
        api = WeComApi(WeComApp(CORP, "secret:WECOM_APP"), session=requests.Session(), state=own,
                       base_url=emu.base_url, clock=clock, resolve=lambda ref: SECRET, sleep=time.sleep)
        got.append(api.post(PING, {})["corp"])
        own.close()

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert got == [CORP] * 6
    assert gettokens(emu) == 2                 # the first token, then exactly one refresh for all six
    assert api_for(emu, state, clock).token() != first


def test_untrusted_ip_names_the_ip_to_add(world):
    emu, state, clock = world
    emu.wecom_api.trusted_ip_only, emu.wecom_api.caller_ip = True, "198.51.100.23"
    with pytest.raises(UntrustedIP) as refused:
        api_for(emu, state, clock).post(PING, {})
    assert refused.value.errcode == 60020 and refused.value.ip == "198.51.100.23"
    assert "from IP 198.51.100.23 (60020): add that IP to the app's trusted IPs" in refused.value.advice()
    from qunflow.sheet.vocabulary import say_reason
    assert say_reason(refused.value.advice(), "zh-CN").startswith("企业微信拒绝了来自 IP 198.51.100.23 的调用")
    assert untrusted_ip("not allow to access from your ip, hint: [1], from ip: 10.1.2.3, more info at x") == "10.1.2.3"
    assert untrusted_ip("ip 10.9.8.7 not allowed") == "10.9.8.7"          # other wording: any IPv4 in it
    assert untrusted_ip("not allow to access from your ip") == ""
    assert "the IP the functions call from" in UntrustedIP(60020, "no ip here").advice()


def test_a_wrong_secret_is_40001_and_never_appears_in_the_error(world):
    emu, state, clock = world
    api = WeComApi(WeComApp(CORP, "secret:WECOM_APP"), session=requests.Session(), state=state,
                   base_url=emu.base_url, clock=clock, resolve=lambda ref: "wrong-secret-value-123")
    with pytest.raises(WeComError) as refused:
        api.token()
    assert refused.value.errcode == 40001 and "wrong-secret-value-123" not in str(refused.value)
    dead = WeComApi(WeComApp(CORP, "secret:WECOM_APP"), session=requests.Session(), state=state,
                    base_url="http://127.0.0.1:9", clock=clock, resolve=lambda ref: "wrong-secret-value-123")
    with pytest.raises(WeComError) as unreachable:
        dead.token()
    assert "wrong-secret-value-123" not in str(unreachable.value) and unreachable.value.errcode == -3


class Replies:
    """A session that answers from a script (for the busy codes, which the emulator does not play)."""

    def __init__(self, *bodies):
        self.bodies, self.seen = list(bodies), 0

    def _next(self, *a, **kw):
        self.seen += 1
        body = self.bodies.pop(0)

        class R:
            status_code = 200

            def json(self):
                return body
        return R()

    get = post = _next


@pytest.mark.parametrize("code", [45009, 45033, -1])
def test_busy_codes_back_off_with_growing_pauses_then_give_up(tmp_path, code):
    state = SqliteState(tmp_path / "s.sqlite")
    state.cache(WeComApp(CORP, "r").cache_name(SECRET), "tok", 10**12)
    pauses: list[float] = []
    busy = {"errcode": code, "errmsg": "busy"}
    api = WeComApi(WeComApp(CORP, "r"), session=Replies(busy, busy, {"errcode": 0, "v": 1}), state=state,
                   resolve=lambda r: SECRET, clock=lambda: 1000.0, sleep=pauses.append)
    assert api.post(PING, {})["v"] == 1 and pauses == [1.0, 2.0]
    pauses.clear()
    api = WeComApi(WeComApp(CORP, "r"), session=Replies(*[busy] * 4), state=state,
                   resolve=lambda r: SECRET, clock=lambda: 1000.0, sleep=pauses.append)
    with pytest.raises(WeComBusy):
        api.post(PING, {})
    assert pauses == [1.0, 2.0, 4.0]
    state.close()
