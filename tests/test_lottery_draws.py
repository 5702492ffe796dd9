"""#16 lotteries: a draw (group, prize, time) drawn twice gives the same winners and issues prizes once, more
winners than eligible is refused with the counts, and the posted text alone verifies the draw."""
import json

import pytest
from click.testing import CliRunner

from helpers import make_raw, write_xlsx
from qunflow.cli import cli
from qunflow.sheet.load import load_workbook
from qunflow.stores.xlsx import XlsxStore

ROWS = {
    "settings": [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": "en"}],
    "groups": [{"group_id": "G01", "name": "Deals", "platform": "wecom", "webhook": "env:QUNFLOW_LOTTO_HOOK", "kind": "traffic"}],
    "members": [{"member_id": f"M{i:04d}", "name": f"Name{i}", "group_id": "G01", "platform_user_id": f"u{i}",
                 "joined_at": "2026-11-20 20:00"} for i in range(1, 11)],
    "coupons": [{"code": f"LUCK-{i}", "campaign": "lucky50", "kind": "lottery", "value": 50, "status": "available"}
                for i in range(1, 9)],
}


@pytest.fixture
def book(tmp_path):
    path = tmp_path / "shop.xlsx"
    write_xlsx(make_raw(ROWS), path)
    return path


def run(*args, env=None, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, input=input)


def issued(path):
    return {c.code: c.member_id for c in load_workbook(XlsxStore(path).read().raw).coupons.values() if c.member_id}


@pytest.mark.parametrize("state", ["sqlite", "workbook"])
def test_the_same_draw_run_twice_returns_its_winners_and_issues_prizes_once(book, tmp_path, state):
    env = {"QUNFLOW_STATE": str(tmp_path / "state.sqlite")} if state == "sqlite" else {}
    args = ("lottery", "draw", book, "--group", "G01", "--prize", "lucky50", "--winners", "3",
            "--now", "2026-12-01T12:00:00Z", "--json")
    first = run(*args, env=env)
    assert first.exit_code == 0, first.output
    if state == "workbook":    # no state store beside the book: the Coupons tab remembers the draw
        for side in tmp_path.glob("*.sqlite"):
            side.unlink()
    again = run(*args, env=env)
    assert again.exit_code == 0, again.output
    a, b = json.loads(first.stdout), json.loads(again.stdout)
    assert a["winners"] == b["winners"] and a["coupons"] == b["coupons"]
    assert "was made before" in again.stderr
    held = issued(book)
    assert len(held) == 3 and set(held.values()) == set(a["winners"])


def test_more_winners_than_eligible_is_refused_with_the_counts(book):
    before = book.read_bytes()
    out = run("lottery", "draw", book, "--group", "G01", "--winners", "50", "--now", "2026-12-01T12:00:00Z")
    assert out.exit_code == 2
    assert "--winners 50" in out.stderr and "10 eligible" in out.stderr and "Traceback" not in out.output
    assert book.read_bytes() == before and not issued(book)


def test_the_posted_text_alone_verifies_the_draw(book, tmp_path):
    out = run("lottery", "draw", book, "--group", "G01", "--prize", "lucky50", "--winners", "2",
              "--now", "2026-12-01T12:00:00Z")
    assert out.exit_code == 0, out.output
    post = out.stdout.split("\n  M0")[0]          # the announcement, without the operator's winner lines
    assert "M***01" in post and "Seed:" in post and "Winners:" in post
    saved = tmp_path / "post.txt"
    saved.write_text(post, encoding="utf-8")
    book.unlink()                                  # no workbook
    ok = run("lottery", "verify", "--text", saved)
    assert ok.exit_code == 0 and "OK" in ok.output, ok.output
    from_stdin = run("lottery", "verify", "--text", "-", input=post)
    assert from_stdin.exit_code == 0, from_stdin.output
    winners_line = next(line for line in post.splitlines() if line.startswith("Winners:"))
    listed = next(line for line in post.splitlines() if line.startswith("Eligible")).split(": ", 1)[1].split()
    other = next(m for m in listed if m not in winners_line)
    forged = post.replace(winners_line, "Winners: " + ", ".join([other] + winners_line.split(": ", 1)[1].split(", ")[1:]))
    saved.write_text(forged, encoding="utf-8")
    bad = run("lottery", "verify", "--text", saved)
    assert bad.exit_code == 1 and "MISMATCH" in bad.stderr
    saved.write_text("hello", encoding="utf-8")
    unreadable = run("lottery", "verify", "--text", saved)
    assert unreadable.exit_code == 2 and "not a qunflow lottery post" in unreadable.stderr
