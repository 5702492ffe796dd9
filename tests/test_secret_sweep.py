"""The secret sweep's own tests (tests/secret_sweep.py): each channel finds a leak, the Groups webhook column and
short values are left alone, and a report names a secret only masked.

The scanning functions run on a registry of their own, with made-up values no outer test registers, so nothing
here leaks into the session around it; the end-to-end check runs an inner session in a subprocess."""
from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from openpyxl import Workbook
from openpyxl.comments import Comment

from qunflow.sheet.changes import Changes
from secret_scan import (Leak, Registry, scan_file, scan_sections, scan_tree, scan_value, scan_xlsx, token_parts,
                         trie_regex, webhook_credentials)

TOKEN = "sweep-selftest-token-" + "0" * 12     # never given to Bot, Target or SecretResolver: the outer sweep
SIGN = "sweep-selftest-sign-" + "0" * 12       # does not know these values
URL = f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={TOKEN}"


@pytest.fixture
def registry() -> Registry:
    reg = Registry()
    reg.add_webhook(URL)
    reg.add(SIGN)
    return reg


def test_webhook_credentials_are_found_by_each_platforms_url_shape():
    tail = "0" * 16
    assert webhook_credentials(f"https://oapi.dingtalk.com/robot/send?access_token=dt{tail}&timestamp=1&sign=x") \
        == [f"dt{tail}"]
    assert webhook_credentials(f"https://open.feishu.cn/open-apis/bot/v2/hook/fs{tail}") == [f"fs{tail}"]
    assert webhook_credentials(f"https://hooks.example/services/T0/B0/sl{tail}") == [f"T0/B0/sl{tail}", f"sl{tail}"]
    assert webhook_credentials(f"https://discord.example/api/webhooks/42/dc{tail}?wait=true") == [f"42/dc{tail}",
                                                                                                  f"dc{tail}"]
    assert webhook_credentials(f"https://api.telegram.org/bot42:tg{tail}/sendMessage?chat_id=-100200") \
        == [f"42:tg{tail}", f"tg{tail}"]
    assert webhook_credentials("not a url") == [] and webhook_credentials("env:QUNFLOW_HOOK_G01") == []
    assert token_parts("slack", "T1/B1/secretpart") == ["T1/B1/secretpart", "secretpart"]


def test_short_values_are_not_tracked_and_encoded_forms_are(registry):
    registry.add("short")                                  # 5 characters: would match ordinary words
    registry.add("1234567")
    assert registry.find("a short note, 1234567 sends") == [] and set(registry.short) == {"short", "1234567"}
    assert registry.find("nothing here") == []
    assert registry.find(f"GET /send?key={TOKEN}") == [TOKEN]
    assert registry.find(json.dumps({"url": URL})) == [TOKEN]
    reg = Registry()
    reg.add("a/b+c d&e=0000")
    assert reg.find("q=a%2Fb%2Bc%20d%26e%3D0000") == ["a/b+c d&e=0000"]   # percent-encoded, once
    assert reg.find("a%2Fb%2Bc+d%26e%3D0000") == ["a/b+c d&e=0000"]       # form-encoded
    assert reg.find("<p>a/b+c d&amp;e=0000</p>") == ["a/b+c d&e=0000"]    # HTML-escaped


def test_many_secrets_are_found_whether_compiled_into_the_regex_or_still_fresh():
    reg = Registry()
    values = [f"bulk-{i:04d}-" + "0" * 8 for i in range(3 * Registry.REBUILD_AFTER)]
    for value in values:
        reg.add(value)
    reg.add("fresh-" + "0" * 8)                               # after the last rebuild: looked for with `in`
    assert reg.find(f"x {values[3]} y {values[-1]} z fresh-{'0' * 8}.") == sorted([values[3], values[-1],
                                                                                   "fresh-" + "0" * 8])
    assert reg.find("bulk-0003-0000000") == [] and len(reg) == len(values) + 1
    pattern = re.compile(trie_regex(["abcdefgh", "abcdefgh-longer", "abcdxyz0"]))
    assert pattern.findall("abcdefgh-longer abcdxyz0 abcdefgh!") == ["abcdefgh-longer", "abcdxyz0", "abcdefgh"]


def test_a_leak_in_captured_log_text_is_found_in_that_phase_and_reported_masked(registry):
    sections = [("Captured stdout setup", f"setup printed {TOKEN}"),
                ("Captured stdout call", "sent to G01 via https://qyapi…/send?key=swee…"),
                ("Captured log call", f"WARNING qunflow.delivery: retrying with sign {SIGN}"),
                ("Captured stderr call", "nothing secret")]
    leaks = scan_sections(registry, sections, "call")
    assert leaks == [Leak(SIGN, "log (call)")]
    assert scan_sections(registry, sections, "setup") == [Leak(TOKEN, "stdout (setup)")]
    shown = str(leaks[0])
    assert SIGN not in shown and "'swee…'" in shown and "log (call)" in shown


def test_a_secret_in_a_written_sheet_value_is_found_with_its_place(registry):
    changes = Changes()
    changes.append("sendlog", [{"send_id": "S1", "outcome": "ok"}, {"send_id": "S2", "outcome": f"HTTP 500 from {URL}"}])
    changes.set("groups", "G01", "status", "webhook dead since 2026-12-01 (key=swee…)")
    leaks = scan_value(registry, changes, "sheet write (MemoryStore.write)")
    assert leaks == [Leak(TOKEN, "sheet write (MemoryStore.write): appends.sendlog[1].outcome")]
    clean = Changes()
    clean.set("groups", "G01", "status", "webhook dead since 2026-12-01 (key=swee…)")
    assert scan_value(registry, clean, "sheet write") == []
    body = json.dumps({"valueInputOption": "RAW", "data": [{"range": "'Send Log'!A2", "values": [["S2", SIGN]]}]})
    assert [leak.secret for leak in scan_value(registry, body.encode(), "Google Sheets fake")] == [SIGN]


def _book(path: Path, groups_title: str, headers: list[str], rows: list[list], other: dict[str, list[list]]) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = groups_title
    for row in [headers, *rows]:
        sheet.append(row)
    for title, lines in other.items():
        extra = book.create_sheet(title)
        for row in lines:
            extra.append(row)
    book.save(path)
    return path


@pytest.mark.parametrize("title,headers", [("Groups", ["group_id", "name", "platform", "webhook", "secret"]),
                                           ("社群", ["群ID", "群名称", "平台", "机器人地址", "签名密钥"])])
def test_an_xlsx_is_read_cell_by_cell_except_the_groups_webhook_and_secret_columns(registry, tmp_path, title, headers):
    groups = [["G01", "Shop", "wecom", URL, SIGN]]
    fine = _book(tmp_path / "fine.xlsx", title, headers, groups, {"Send Log": [["send_id", "outcome"], ["S1", "ok"]]})
    assert scan_xlsx(registry, fine) == []
    leaky = _book(tmp_path / "leaky.xlsx", title, headers, groups + [["G02", f"copy of {URL}", "wecom", "", ""]],
                  {"Send Log": [["send_id", "outcome"], ["S1", f"signed with {SIGN}"]]})
    leaky_places = sorted(leak.where.rsplit("[", 1)[1] for leak in scan_xlsx(registry, leaky))
    assert leaky_places == sorted(["Send Log!B2 cell]", f"{title}!B3 cell]"])
    book = Workbook()
    book.active.title = "Problems"
    book.active["A1"] = "problem"
    book.active["A1"].comment = Comment(f"raw {URL}", "qunflow")   # a note is scanned too
    book.save(tmp_path / "note.xlsx")
    assert [(leak.secret, leak.where.rsplit("[", 1)[1]) for leak in scan_xlsx(registry, tmp_path / "note.xlsx")] \
        == [(TOKEN, "Problems!A1 note]")]
    for path in (fine, leaky, tmp_path / "note.xlsx"):
        path.unlink()


def test_a_jsonl_transcript_line_and_log_files_are_scanned_and_exempt_folders_skipped(registry, tmp_path):
    transcript = tmp_path / "run" / "seen.jsonl"
    transcript.parent.mkdir()
    transcript.write_text(json.dumps({"seq": 1, "text": "hi"}) + "\n" +
                          json.dumps({"seq": 2, "text": f"debug: {URL}"}, ensure_ascii=False) + "\n", encoding="utf-8")
    (tmp_path / "run" / "notes.py").write_text(f"TOKEN = {TOKEN!r}\n", encoding="utf-8")   # not a log: not read
    assert scan_file(registry, transcript) == [Leak(TOKEN, str(transcript))]
    assert scan_tree(registry, tmp_path) == [Leak(TOKEN, str(transcript))]
    assert scan_tree(registry, tmp_path, skip=[tmp_path / "run"]) == []
    transcript.unlink()


INNER_TESTS = '''
from qunflow.emulator import Bot
import pytest

TOKEN = "inner-" + "sweep-token-" + "0" * 12

def test_prints_a_token():
    Bot("wecom", TOKEN)
    print("posting with", TOKEN)

def test_prints_it_masked():
    bot = Bot("wecom", TOKEN)
    print("posting with", bot.token_masked)

@pytest.mark.handles_raw_secrets("checks the masking of a raw token on purpose")
def test_exempt():
    print("raw on purpose:", TOKEN)

def test_writes_a_log_file(tmp_path):
    (tmp_path / "run.log").write_text(f"key={TOKEN}")
'''


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist workers"])
def test_an_inner_session_fails_the_leaking_test_and_the_session(pytester, workers):
    """In one process, and under pytest-xdist (make test runs that way): each worker sweeps its tests and its
    files, and the controller fails the run and prints the sum."""
    if workers:
        pytest.importorskip("xdist", reason="pytest-xdist is not installed: pip install -r requirements-dev.txt")
    tests_dir = Path(__file__).resolve().parent
    pytester.makeconftest(f"import sys\nsys.path.insert(0, {str(tests_dir)!r})\npytest_plugins = ['secret_sweep']\n")
    pytester.makepyfile(test_inner=textwrap.dedent(INNER_TESTS))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--show-capture=no", "-q", *workers)
    result.assert_outcomes(passed=3, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    token = "inner-" + "sweep-token-" + "0" * 12
    assert token not in out and "'inne…' (30 characters) in stdout (call)" in out
    assert "FAILED test_inner.py::test_prints_a_token" in out
    assert "run.log" in out and "leaks: 1 test(s), 1 in files, 1 exempt test(s)" in out
