"""A pytest plugin (loaded by tests/conftest.py): no webhook key, bot token or signing secret in play may appear
whole in any log, sheet or transcript, anywhere in the suite (issue #8, "Security tests").

Which secrets. Collected at run time from the independent side, never from qunflow's own masker:
- every emulator bot (`Bot.__post_init__` and `Emulator.add_bot`, so the lax emulator's auto-registered tokens
  and the admin endpoint's bots count too): its token, the secret part of a Slack/Discord/Telegram token, and its
  signing secret;
- every value `SecretResolver.resolve` gives for an env:/secret: reference (a webhook URL: its key/token parts,
  found here, by URL shape; anything else: the value), and the credential parts of a literal webhook URL;
- every `Target` the senders are given (webhook credential parts, signing secret), for the tests that build
  targets directly;
- the shared secret given to `qunflow.jobs.ingest.authenticate` (signed member events), and the signing secrets given to
  the DingTalk and Feishu signers;
- the values a test hands straight to qunflow's masking functions (mask_url, mask_secret, Masker), to check them:
  only from test code, so the URLs and parameters that qunflow itself masks in passing are not taken for secrets.
Values shorter than MIN_LENGTH are not tracked: they would match ordinary words.

Where. Each test phase's captured stdout, stderr and log; the CLI's output (click's CliRunner) and the output of
subprocesses (`Popen.communicate`); every sheet write (MemoryStore.write, XlsxStore.write, and the bodies of the
write requests reaching the tests' Google Sheets fake, not its `create_spreadsheet` seed, which is operator
input); each message the emulator records (what reached a group, the transcript's lines); each journal line.
A leak seen while a test runs fails that test. At the end of the session, every log-like file under pytest's
basetemp is read (.jsonl .json .log .html .md .txt .csv as text; .xlsx cell by cell, notes too, except the
Groups tab's webhook and secret columns, where operators legitimately put a literal webhook); a leak there makes
the session fail with a report.

A test whose purpose is to hand qunflow a raw secret and check that it is masked may carry
`@pytest.mark.handles_raw_secrets("why")`: its own output, writes and tmp_path files are not held against it.
"""
from __future__ import annotations

import functools
import sys
import threading
from collections import Counter
from pathlib import Path
from time import perf_counter
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

import pytest

from secret_scan import (MARKER, MIN_LENGTH, TESTS, Leak, Registry, leaks_in, scan_sections, scan_tree, scan_value,
                         token_parts, webhook_credentials)


# ---- the plugin --------------------------------------------------------------------------------------------------

class Patches:
    """Wrappers around the places secrets enter and leave; undone at the end of the session."""

    def __init__(self):
        self._undo: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, name: str, *, before: Callable | None = None, after: Callable | None = None) -> None:
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        if getattr(original, "__secret_sweep__", False):
            return

        @functools.wraps(original)
        def wrapper(*args, **kwargs):
            if before is not None:
                before(*args, **kwargs)
            result = original(*args, **kwargs)
            if after is not None:
                after(result, *args, **kwargs)
            return result

        wrapper.__secret_sweep__ = True
        setattr(owner, name, wrapper)
        self._undo.append((owner, name, original))

    def undo(self) -> None:
        while self._undo:
            owner, name, original = self._undo.pop()
            setattr(owner, name, original)


def _arg(args: tuple, kwargs: dict, index: int, name: str) -> Any:
    return kwargs[name] if name in kwargs else (args[index] if len(args) > index else None)


class SecretSweep:
    def __init__(self, config: pytest.Config):
        self.config = config
        self.registry = Registry()
        self.patches = Patches()
        self._pending: list[Leak] = []
        self._lock = threading.Lock()
        self.exempt: dict[str, str] = {}        # nodeid -> reason
        self.exempt_dirs: set[Path] = set()
        self.exempted_leaks = 0
        self.failed_tests: dict[str, None] = {}   # nodeids, in order
        self.session_leaks: list[Leak] = []
        self.scan_seconds = 0.0
        self.scanned: Counter = Counter()     # channel -> how many things were searched

    # -- recording

    def note(self, channel: str, leaks: list[Leak]) -> None:
        self.scanned[channel] += 1
        if leaks:
            with self._lock:
                self._pending += leaks

    def check(self, channel: str, text: Any, where: str) -> None:
        self.note(channel, leaks_in(self.registry, text, where))

    def _drain(self) -> list[Leak]:
        with self._lock:
            leaks, self._pending = self._pending, []
        return leaks

    # -- wrappers

    def install(self) -> None:
        reg, wrap = self.registry, self.patches.wrap
        from qunflow import delivery
        from qunflow.jobs import ingest
        from qunflow.delivery import masking, platforms
        from qunflow.delivery.message import Target
        from qunflow.delivery.platforms import dingtalk, feishu
        from qunflow.emulator import base, server
        from qunflow.jobs.journal import FileJournal
        from qunflow.delivery.secrets import SecretResolver
        from qunflow.stores.memory import MemoryStore
        from qunflow.stores.xlsx import XlsxStore

        def bot(b) -> None:
            for part in token_parts(b.platform, b.token):
                reg.add(part)
            reg.add(b.secret)

        wrap(base.Bot, "__post_init__", after=lambda _, self: bot(self))
        wrap(server.Emulator, "add_bot", after=lambda b, *a, **k: bot(b))

        def resolved(value, _self, reference=None, *a, **k) -> None:
            ref = (reference or "").strip()
            if value and ref.startswith(("env:", "secret:")):
                reg.add_webhook(value)
            elif value:
                for part in webhook_credentials(value):
                    reg.add(part)

        wrap(SecretResolver, "resolve", after=resolved)

        def target(self) -> None:
            for part in webhook_credentials(self.webhook or ""):
                reg.add(part)
            reg.add(self.secret)

        wrap(Target, "__post_init__", after=lambda _, self: target(self))
        wrap(ingest, "authenticate", before=lambda *a, **k: reg.add(_arg(a, k, 2, "secret")))
        for module in (platforms, dingtalk):
            wrap(module, "sign_dingtalk", before=lambda *a, **k: reg.add(_arg(a, k, 0, "secret")))
        for module in (platforms, feishu):
            wrap(module, "sign_feishu", before=lambda *a, **k: reg.add(_arg(a, k, 0, "secret")))

        def masking_input(values: Iterable) -> None:
            # frames: this function <- the before() lambda <- the wrapper <- the wrapped function's caller
            if sys._getframe(3).f_code.co_filename.startswith(TESTS):
                for value in values:
                    if isinstance(value, str):
                        reg.add_webhook(value)

        for module in (delivery, masking):
            wrap(module, "mask_url", before=lambda url=None, *a, **k: masking_input([url]))
            wrap(module, "mask_secret", before=lambda value=None, *a, **k: masking_input([value]))
        wrap(masking.Masker, "__init__", before=lambda _self, secrets=(), *a, **k: masking_input(list(secrets)))
        wrap(masking.Masker, "add", before=lambda _self, value=None, *a, **k: masking_input([value]))

        def store_write(kind: str) -> Callable:
            return lambda _self, changes=None, *a, **k: self.note("sheet writes", scan_value(
                reg, changes if changes is not None else k.get("changes"), f"sheet write ({kind}.write)"))

        wrap(MemoryStore, "write", before=store_write("MemoryStore"))
        wrap(XlsxStore, "write", before=store_write("XlsxStore"))

        def recorded(record, _self, platform=None, *a, **k) -> None:
            where = f"emulator message #{record.get('seq')} ({platform}, group {record.get('group_id')})"
            self.note("emulator messages", scan_value(reg, record, where))

        wrap(server.Emulator, "_record", after=recorded)
        wrap(FileJournal, "_write", before=lambda _self, record, *a, **k: self.note(
            "journal lines", scan_value(reg, record, f"journal line ({_self.path.name})")))

        try:
            import sheets_fake
            from sheets_fake_api import route
        except ImportError:  # an inner pytester session, without tests/ on the path
            sheets_fake = None
        if sheets_fake is not None:
            def sheets_request(_self, method, raw_path, body_bytes=b"", *a, **k) -> None:
                if method != "GET" and body_bytes:
                    kind, _, rng = route(method, urlsplit(raw_path).path)
                    self.check("sheet writes", body_bytes,
                               f"sheet write (Google Sheets fake: {kind}{' ' + rng if rng else ''})")

            wrap(sheets_fake.FakeSheetsServer, "handle", before=sheets_request)

        try:
            from click.testing import CliRunner
        except ImportError:
            CliRunner = None
        if CliRunner is not None:
            def cli_output(result, _self, cli=None, args=None, *a, **k) -> None:
                name = " ".join(str(x) for x in (args or [])[:1]) if isinstance(args, (list, tuple)) else str(args)
                self.check("CLI runs", result.output, f"CLI output (qunflow {name})")
                try:
                    self.check("CLI runs", result.stderr, f"CLI stderr (qunflow {name})")
                except ValueError:
                    pass

            wrap(CliRunner, "invoke", after=cli_output)

        import subprocess

        def communicated(result, _self, *a, **k) -> None:
            program = Path(str(_self.args[0] if isinstance(_self.args, (list, tuple)) else _self.args)).name
            for stream, text in zip(("stdout", "stderr"), result or ()):
                self.check("subprocess outputs", text, f"{stream} of a subprocess ({program})")

        wrap(subprocess.Popen, "communicate", after=communicated)

    # -- hooks

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            marker = item.get_closest_marker(MARKER)
            if marker is not None:
                reason = marker.args[0] if marker.args else marker.kwargs.get("reason")
                if not (isinstance(reason, str) and reason.strip()):
                    raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{MARKER}(\"why\") needs its reason")
                self.exempt[item.nodeid] = reason

    def pytest_runtest_logstart(self, nodeid: str, location) -> None:
        self.registry.context = nodeid

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        self.scanned["test phases"] += 1
        leaks = self._drain() + scan_sections(self.registry, report.sections, call.when)
        if item.nodeid in self.exempt:
            tmp = getattr(item, "funcargs", {}).get("tmp_path")
            if tmp is not None:
                self.exempt_dirs.add(Path(tmp))
            self.exempted_leaks += len(leaks)
            return report
        if leaks:
            self.failed_tests[item.nodeid] = None
            text = "\n".join(f"  {leak}" for leak in _unique(leaks))
            message = (f"secret sweep: a webhook key or signing secret appeared whole during {call.when}:\n{text}\n"
                       "(mask it where it is written; see tests/secret_sweep.py)")
            if report.passed or report.skipped:
                report.outcome = "failed"
                report.longrepr = message
            else:
                report.sections.append(("secret sweep", message))
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Leaks after their test ended, and in files under the basetemp. Under pytest-xdist each worker knows
        only the secrets of the tests it ran, so the workers hand their secrets to the controller
        (`pytest_testnodedown`), which searches the whole basetemp (every worker's folder) with all of them."""
        self.session_leaks = self._drain()
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:   # an xdist worker
            workeroutput["secret_sweep"] = {
                "secrets": sorted(self.registry.secrets), "short": dict(self.registry.short),
                "leaks": [str(leak) for leak in _unique(self.session_leaks)], "failed_tests": list(self.failed_tests),
                "exempt": dict(self.exempt), "exempt_dirs": [str(d) for d in self.exempt_dirs],
                "scanned": dict(self.scanned), "seconds": self.registry.seconds}
            return
        factory = getattr(self.config, "_tmp_path_factory", None)
        basetemp = getattr(factory, "_basetemp", None) if factory is not None else None
        if basetemp is not None and Path(basetemp).is_dir():
            started = perf_counter()
            self.session_leaks += scan_tree(self.registry, Path(basetemp), skip=self.exempt_dirs,
                                            counts=self.scanned)
            self.scan_seconds += perf_counter() - started
        if self.session_leaks and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        """pytest-xdist: a worker finished; take its secrets, its findings and its counts."""
        swept = getattr(node, "workeroutput", {}).get("secret_sweep")
        if not swept:
            return
        for value in swept["secrets"]:
            self.registry.add(value)
        for value, where in swept["short"].items():
            self.registry.short.setdefault(value, where)
        self._pending += swept["leaks"]
        self.failed_tests.update(dict.fromkeys(swept["failed_tests"]))
        self.exempt.update(swept["exempt"])
        self.exempt_dirs.update(Path(d) for d in swept["exempt_dirs"])
        self.scanned.update(swept["scanned"])
        self.scan_seconds += swept["seconds"]

    def pytest_terminal_summary(self, terminalreporter) -> None:
        tr = terminalreporter
        if self.session_leaks:
            tr.section("secret sweep", sep="=", red=True, bold=True)
            tr.write_line(f"{len(_unique(self.session_leaks))} webhook key(s) or secret(s) appeared whole in files "
                          "under the basetemp (or after their test ended):", red=True)
            for leak in _unique(self.session_leaks):
                tr.write_line(f"  {leak}")
        if tr.config.option.verbose > 0:
            for value, where in sorted(self.registry.short.items(), key=lambda kv: kv[1]):
                tr.write_line(f"secret sweep: a {len(value)}-character secret, too short to track, from {where}")
            for nodeid, reason in self.exempt.items():
                tr.write_line(f"secret sweep: exempt {nodeid}: {reason}")
        exempt = f", {len(self.exempt)} exempt test(s)" if self.exempt else ""
        searched = ", ".join(f"{n} {what}" for what, n in self.scanned.items())
        tr.write_line(f"secret sweep: {len(self.registry)} secret(s) tracked ({len(self.registry.short)} shorter than "
                      f"{MIN_LENGTH} characters not); searched {searched or 'nothing'} in "
                      f"{self.registry.seconds + self.scan_seconds:.1f} s; leaks: {len(self.failed_tests)} test(s), "
                      f"{len(_unique(self.session_leaks))} in files{exempt}")

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.patches.undo()


def _unique(leaks: list[Leak]) -> list[Leak]:
    return list(dict.fromkeys(leaks))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}(why): the test feeds a raw secret to qunflow on purpose (to check "
                                       "it is masked); the secret sweep does not hold its output against it")
    if config.pluginmanager.has_plugin("secret-sweep-instance"):
        return
    sweep = SecretSweep(config)
    sweep.install()
    config.pluginmanager.register(sweep, "secret-sweep-instance")
