"""Lotteries anyone can check: the same seed and list give the same winners, a changed list changes the hash,
and nobody blacklisted ever wins."""
import hashlib
import json
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from helpers import make_raw, write_xlsx
from qunflow.cli import cli
from qunflow.emulator import Bot, Emulator
from qunflow.members.lottery import default_seed, draw, eligible, eligible_hash, result_text, verify
from qunflow.sheet.records import Member
from qunflow.stores.xlsx import XlsxStore
from qunflow.sheet.load import load_workbook

IDS = [f"M{i:04d}" for i in range(1, 41)]


def test_a_draw_rerun_from_its_logged_seed_picks_the_same_winners():
    first = draw(IDS, 3, "G01:lucky50:20261201T120000Z")
    again = draw(list(reversed(IDS)) + IDS[:5], 3, first.seed)    # order and repeats do not matter
    assert again == first and len(set(first.winners)) == 3 and first.eligible_count == 40
    assert first.eligible_hash == eligible_hash(IDS) == hashlib.sha256(
        "\n".join(sorted(IDS)).encode()).hexdigest()
    assert verify(IDS, first.seed, first.winners)
    assert verify(IDS, first.seed, reversed(first.winners))          # the order of the claim does not matter
    assert draw(IDS, 3, "another seed").winners != first.winners
    assert not verify(IDS, first.seed, [*first.winners[:2], "M0040" if "M0040" not in first.winners else "M0039"])
    assert not verify(IDS, first.seed, [first.winners[0], first.winners[0]])
    assert not verify(IDS, first.seed, [])


def test_a_tampered_eligible_list_changes_the_hash_and_fails_verification():
    first = draw(IDS, 3, "seed-1")
    for tampered in (IDS[:-1], IDS + ["M9999"], [i for i in IDS if i != first.winners[0]] + ["M9999"]):
        assert eligible_hash(tampered) != first.eligible_hash
    assert not verify(IDS + [f"X{i}" for i in range(10)], "seed-1", first.winners)


def test_more_winners_than_members_gives_everyone_and_zero_is_refused():
    assert sorted(draw(IDS[:2], 5, "s").winners) == IDS[:2]
    with pytest.raises(ValueError):
        draw(IDS, 0, "s")


def test_the_default_seed_is_made_of_public_inputs():
    at = datetime(2026, 12, 1, 20, 0, tzinfo=timezone.utc)
    assert default_seed("G01", at, "lucky50") == "G01:lucky50:20261201T200000Z"
    assert default_seed("G01", at) == "G01:20261201T200000Z"


def member(i, **kw):
    return Member(f"M{i:04d}", f"Name{i}", kw.pop("group_id", "G01"), **kw)


def test_blacklisted_left_and_other_groups_are_never_eligible():
    members = [
        member(1, tags=("VIP",)), member(2), member(3, status="blacklisted"), member(4, status="left"),
        member(5, left_at=datetime(2026, 12, 1)), member(6, group_id="G02"),
        member(7, platform_user_id="troll"), member(8, group_id="G02", platform_user_id="troll", status="blacklisted"),
        member(9, mobile="13800000000"), member(10, group_id="G03", mobile="13800000000", status="blacklisted"),
        member(11, tags=("vip",), layer="core"),
    ]
    assert eligible(members, "G01") == ["M0001", "M0002", "M0011"]
    assert eligible(members, "g01", among="tag:VIP") == ["M0001", "M0011"]
    assert eligible(members, "G01", among="layer:core") == ["M0011"]
    assert eligible(members, "G01", among="tag:new", tag_of=lambda m: ("new",) if m.member_id == "M0002" else ()) \
        == ["M0002"]
    with pytest.raises(ValueError, match="tag:NAME"):
        eligible(members, "G01", among="VIP")
    for seed in range(200):  # whatever the seed, the blacklisted never win
        assert not {"M0003", "M0007", "M0009"} & set(draw(eligible(members, "G01"), 3, str(seed)).winners)


def test_the_result_message_mentions_the_winners_and_says_how_to_verify():
    result = draw(IDS, 2, "G01:lucky50:20261201T120000Z")
    names = {i: f"名字{i[-2:]}" for i in IDS}
    zh = result_text(result, names, "G01", "zh-CN", "lucky50", "tag:VIP")
    assert zh.startswith("🎉 抽奖结果（lucky50）：@" + names[result.winners[0]])
    assert result.seed in zh and result.eligible_hash in zh and "共 40 位成员参与" in zh
    assert (f"qunflow lottery verify --group G01 --seed G01:lucky50:20261201T120000Z --hash {result.eligible_hash}"
            f" --among tag:VIP --winners-list {','.join(result.winners)}") in zh
    en = result_text(draw(IDS, 1, "a seed; with spaces"), {}, "G01", "en")
    assert en.startswith("🎉 Lottery result: @M") and "--seed 'a seed; with spaces'" in en


# --- the commands ----------------------------------------------------------------------------------------

ROWS = {
    "settings": [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": "en"}],
    "groups": [{"group_id": "G01", "name": "Deals", "platform": "wecom", "webhook": "env:QUNFLOW_LOTTO_HOOK", "kind": "traffic"}],
    "members": [{"member_id": f"M{i:04d}", "name": f"Name{i}", "group_id": "G01", "platform_user_id": f"u{i}",
                 "joined_at": "2026-11-20 20:00", "status": "blacklisted" if i == 3 else "active",
                 "tags": "VIP" if i % 2 else ""} for i in range(1, 13)],
    "tags": [{"tag": "old", "rule": "days_since_join >= 7"}],
    "coupons": [{"code": f"LUCK-{i}", "campaign": "lucky50", "kind": "lottery", "value": 50, "status": "available"}
                for i in range(1, 5)],
}


@pytest.fixture
def book(tmp_path):
    path = tmp_path / "shop.xlsx"
    write_xlsx(make_raw(ROWS), path)
    return path


def run(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def coupons(path):
    snapshot = XlsxStore(path).read()
    return load_workbook(snapshot.raw).coupons


def test_draw_issues_the_prize_coupons_and_verify_confirms_it(book, tmp_path):
    saved = tmp_path / "eligible.txt"
    out = run("lottery", "draw", book, "--group", "G01", "--prize", "lucky50", "--winners", "3", "--among", "tag:VIP",
              "--now", "2026-12-01T12:00:00Z", "--save-eligible", saved, "--json")
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert result["seed"] == "G01:lucky50:20261201T120000Z" and result["eligible"] == 5   # VIPs 1,5,7,9,11
    assert "M0003" not in saved.read_text().split() and len(result["winners"]) == 3
    assert result["coupons"] == dict(zip(result["winners"], ["LUCK-1", "LUCK-2", "LUCK-3"]))
    held = coupons(book)
    for member_id, code in result["coupons"].items():
        c = held[code]
        assert (c.status, c.member_id, c.issued_at, c.expires_at) == (
            "issued", member_id, datetime(2026, 12, 1, 20, 0), datetime(2026, 12, 8, 20, 0))
    assert held["LUCK-4"].status == "available"
    winners = ",".join(result["winners"])
    ok = run("lottery", "verify", book, "--group", "G01", "--seed", result["seed"], "--hash", result["hash"],
             "--among", "tag:VIP", "--winners-list", winners)
    assert ok.exit_code == 0 and "OK" in ok.output, ok.output
    swapped = [*result["winners"][:2], next(i for i in ("M0001", "M0005", "M0007", "M0009", "M0011")
                                            if i not in result["winners"])]
    bad = run("lottery", "verify", book, "--group", "G01", "--seed", result["seed"], "--among", "tag:VIP",
              "--winners-list", ",".join(swapped))
    assert bad.exit_code == 1 and "MISMATCH" in bad.stderr
    changed = run("lottery", "verify", book, "--group", "G01", "--seed", result["seed"], "--hash", result["hash"],
                  "--winners-list", winners)                               # without --among: another list
    assert changed.exit_code == 1 and "differs from the draw's" in changed.stderr
    from_file = run("lottery", "verify", "--group", "G01", "--seed", result["seed"], "--hash", result["hash"],
                    "--eligible-file", saved, "--winners-list", winners)
    assert from_file.exit_code == 0, from_file.output


def test_draw_refuses_without_enough_codes_and_writes_nothing(book):
    before = book.read_bytes()
    out = run("lottery", "draw", book, "--group", "G01", "--prize", "lucky50", "--winners", "5", "--seed", "x")
    assert out.exit_code == 2 and "4 available code(s) for 5 winner(s)" in out.stderr
    for args, words in ((["--group", "G09"], "no group 'G09'"), (["--group", "G01", "--prize", "nope"], "no coupon of campaign"),
                        (["--group", "G01", "--among", "VIP"], "tag:NAME"),
                        (["--group", "G01", "--among", "tag:nobody"], "nobody in G01 can win")):
        out = run("lottery", "draw", book, *args)
        assert out.exit_code == 2 and words in out.stderr, out.output
    assert book.read_bytes() == before


def test_among_a_rule_tag_and_a_dry_run(book):
    out = run("lottery", "draw", book, "--group", "G01", "--among", "tag:old", "--winners", "2", "--seed", "s",
              "--now", "2026-12-01T12:00:00Z", "--dry-run", "--prize", "lucky50")
    assert out.exit_code == 0, out.output
    assert "Drawn from 11 eligible members" in out.output and "dry run" in out.output
    assert all(c.status == "available" for c in coupons(book).values())


def test_post_announces_the_result_in_the_group_with_mentions(book):
    bot = Bot("wecom", "lottery-wecom-key-0123456789abcdef")
    with Emulator([bot]) as emu:
        out = run("lottery", "draw", book, "--group", "G01", "--winners", "2", "--seed", "s", "--post",
                  env={"QUNFLOW_LOTTO_HOOK": emu.webhook_url(bot), "QUNFLOW_SOURCE": None})
        assert out.exit_code == 0, out.output
        posted = emu.messages[-1]
        winners = draw([f"M{i:04d}" for i in range(1, 13) if i != 3], 2, "s").winners
        assert posted["mentions"] == [f"u{int(w[1:])}" for w in winners]
        # WeCom shows mentioned_list by itself: the text does not name the winners a second time
        assert "@" not in posted["text"].splitlines()[0] and "\ue000" not in posted["text"]
        assert "--seed s --hash" in posted["text"] and "Posted to G01" in out.stderr
    dead = Bot("wecom", "lottery-dead-key-0123456789abcdef", dead=True)
    with Emulator([dead]) as emu:
        out = run("lottery", "draw", book, "--group", "G01", "--seed", "s", "--post", "--prize", "lucky50",
                  env={"QUNFLOW_LOTTO_HOOK": emu.webhook_url(dead), "QUNFLOW_SOURCE": None})
        assert out.exit_code == 1 and "not posted to G01" in out.stderr and "the coupons are issued" in out.stderr
        assert "lottery-dead-key" not in out.output
    before = book.read_bytes()
    out = run("lottery", "draw", book, "--group", "G01", "--seed", "s", "--post", "--prize", "lucky50",
              env={"QUNFLOW_LOTTO_HOOK": None, "QUNFLOW_SECRETS_FILE": str(book.parent / "none")})
    assert out.exit_code == 2 and "QUNFLOW_LOTTO_HOOK" in out.stderr and "🎉" not in out.output
    assert book.read_bytes() == before                                     # nothing drawn, no coupon issued
