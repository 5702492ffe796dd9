"""The secret sweep's pure part: which values are secrets (found by URL shape, independently of qunflow's masker),
and where they appear (text, values, report sections, files, workbooks). tests/secret_sweep.py is the plugin."""
from __future__ import annotations

import dataclasses
import functools
import html
import json
import os
import re
import threading
import unicodedata
import zipfile
from collections import Counter
from pathlib import Path
from time import perf_counter
from typing import Any, Iterable, Iterator
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

import yaml

MIN_LENGTH = 8
MAX_LENGTH = 512   # longer values are texts, not credentials (and would deepen the regex needlessly)
MARKER = "handles_raw_secrets"
TEXT_SUFFIXES = frozenset({".jsonl", ".json", ".log", ".html", ".md", ".txt", ".csv"})
MAX_FILE_BYTES = 64 * 1024 * 1024
ROOT = Path(__file__).resolve().parents[1]
TESTS = str(Path(__file__).resolve().parent)
CREDENTIAL_QUERY_KEYS = frozenset({"key", "access_token", "token"})


def masked(secret: str) -> str:
    """What a report may show of a secret: its first 4 characters."""
    return secret[:4] + "…"


# ---- which secrets ---------------------------------------------------------------------------------------------

def webhook_credentials(url: str) -> list[str]:
    """The credential parts of a webhook URL, by the platforms' documented shapes (not qunflow's masker):
    WeCom ?key=, DingTalk ?access_token=, Feishu /hook/<token>, Slack /services/T/B/X (and X),
    Discord /webhooks/<id>/<token> (and the token), Telegram /bot<id>:<secret>/ (and the secret), a password.
    A URL typed without its scheme ("host/cgi-bin/webhook/send?key=...") counts too."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return []
    found = [parts.password] if parts.password else []
    found += [v for k, v in parse_qsl(parts.query) if k.lower() in CREDENTIAL_QUERY_KEYS]
    path = unquote(parts.path)
    if m := re.search(r"/hook/([^/]+)/?$", path):
        found.append(m.group(1))
    if m := re.search(r"/services/([^/]+/[^/]+/([^/]+))/?$", path):
        found += [m.group(1), m.group(2)]
    if m := re.search(r"/webhooks/(\d+/([^/?]+))", path):
        found += [m.group(1), m.group(2)]
    if m := re.search(r"/bot(\d+:([^/]+))(?:/|$)", path):
        found += [m.group(1), m.group(2)]
    return [f for f in found if f]


def token_parts(platform: str, token: str) -> list[str]:
    """An emulator bot token and, where it carries a non-secret prefix, its secret part."""
    out = [token]
    if platform == "slack" and token.count("/") == 2:
        out.append(token.rsplit("/", 1)[1])
    elif platform == "discord" and "/" in token:
        out.append(token.split("/", 1)[1])
    elif platform == "telegram" and ":" in token:
        out.append(token.split(":", 1)[1])
    return out


def trie_regex(words: Iterable[str]) -> str:
    """One regex for many literals, shaped as their prefix tree: at each position of a text the engine follows one
    branch per character instead of trying every literal in turn (a plain alternation of a few hundred tokens is
    ~100x slower). The longest literal wins where one is a prefix of another."""
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        alternatives = [re.escape(ch) + build(node[ch]) for ch in sorted(k for k in node if k)]
        if not alternatives:
            return ""
        if len(alternatives) == 1 and "" not in node:
            return alternatives[0]
        group = "(?:" + "|".join(alternatives) + ")"
        return group + "?" if "" in node else group

    return build(trie)


class Registry:
    """The secrets in play (a plain set) and one compiled regex to find any of them in a text.

    Each secret is also looked for as it would appear percent-encoded, JSON-escaped or HTML-escaped. Secrets added
    since the regex was last compiled are looked for with `in` until there are REBUILD_AFTER of them."""

    REBUILD_AFTER = 64

    def __init__(self, min_length: int = MIN_LENGTH):
        self.min_length = min_length
        self.secrets: set[str] = set()
        self.short: dict[str, str] = {}       # seen but too short to track -> where first seen
        self.context = "collection"           # the test running, for `short`
        self.seconds = 0.0                    # time spent searching
        self._variants: dict[str, str] = {}   # text that reveals a secret -> the secret
        self._pattern: re.Pattern | None = None
        self._fresh: tuple[str, ...] = ()     # variants not in the pattern yet
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.secrets)

    def add(self, value: Any) -> None:
        if not isinstance(value, str):
            return
        value = value.strip()
        if not value or value in self.secrets or len(value) > MAX_LENGTH:
            return
        if len(value) < self.min_length:
            self.short.setdefault(value, self.context)
            return
        with self._lock:
            self.secrets.add(value)
            fresh = list(self._fresh)
            for variant in (value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1],
                            html.escape(value)):
                if variant not in self._variants:
                    self._variants[variant] = value
                    fresh.append(variant)
            if len(fresh) >= self.REBUILD_AFTER:
                self._pattern, fresh = re.compile(trie_regex(self._variants)), []
            self._fresh = tuple(fresh)

    def add_webhook(self, value: Any) -> None:
        """A resolved webhook reference: a URL gives its credential parts, anything else is a secret whole."""
        if not isinstance(value, str) or not value.strip():
            return
        parts = webhook_credentials(value)
        if parts:
            for part in parts:
                self.add(part)
        elif "://" not in value:
            self.add(value)

    def find(self, text: Any) -> list[str]:
        """The secrets that appear whole in `text`, sorted."""
        if not text or not self._variants:
            return []
        started = perf_counter()
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        elif not isinstance(text, str):
            text = str(text)
        pattern, fresh = self._pattern, self._fresh
        found = {self._variants[m.group(0)] for m in pattern.finditer(text)} if pattern is not None else set()
        found.update(self._variants[v] for v in fresh if v in text)
        self.seconds += perf_counter() - started
        return sorted(found)


@dataclasses.dataclass(frozen=True)
class Leak:
    secret: str
    where: str

    def __str__(self) -> str:
        return f"{masked(self.secret)!r} ({len(self.secret)} characters) in {self.where}"


def leaks_in(registry: Registry, text: Any, where: str) -> list[Leak]:
    return [Leak(s, where) for s in registry.find(text)]


# ---- where: values, report sections, files --------------------------------------------------------------------

def leaves(obj: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, text) for every text inside dicts, lists, tuples and dataclasses (a Changes, a row, a record)."""
    if isinstance(obj, str):
        yield path, obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from leaves(value, f"{path}.{key}" if path else str(key))
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for i, value in enumerate(obj):
            yield from leaves(value, f"{path}[{i}]")
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            yield from leaves(getattr(obj, f.name), f"{path}.{f.name}" if path else f.name)
    elif isinstance(obj, bytes):
        yield path, obj.decode("utf-8", "replace")
    elif obj is None or isinstance(obj, (bool, int, float)):
        return
    else:
        yield path, str(obj)


def scan_value(registry: Registry, obj: Any, where: str) -> list[Leak]:
    """A structured value (what a store is asked to write, a journal line): one search over all of its texts, then,
    only when something is found, where exactly."""
    found = registry.find("\n".join(text for _, text in leaves(obj)))
    if not found:
        return []
    wanted, out = set(found), []
    for path, text in leaves(obj):
        for secret in registry.find(text):
            if secret in wanted:
                out.append(Leak(secret, f"{where}: {path or 'value'}"))
    return out or [Leak(s, where) for s in found]


def scan_sections(registry: Registry, sections: Iterable[tuple[str, str]], when: str) -> list[Leak]:
    """A test report's captured output of one phase ("Captured stdout call", "Captured log setup"...)."""
    out = []
    for name, content in sections:
        if name.startswith("Captured ") and name.endswith(" " + when):
            out += leaks_in(registry, content, name[len("Captured "):].replace(f" {when}", f" ({when})"))
    return out


def fold(text: Any) -> str:
    """Header and title matching as operators type them: NFKC, spaces squeezed, case-folded."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", str(text))).strip().casefold()


@functools.cache
def groups_exemption() -> tuple[frozenset, frozenset]:
    """(Groups tab titles, header texts of its webhook and secret columns), in every language, from the schema."""
    schema = yaml.safe_load((ROOT / "sheets_schema" / "groups.yaml").read_text(encoding="utf-8"))
    titles = {fold(schema["tab"])} | {fold(t) for t in schema["title"].values()}
    headers = set()
    for column in schema["columns"]:
        if column["key"] in ("webhook", "secret"):
            headers |= {fold(column["key"])} | {fold(v) for k, v in column.items() if k in ("zh-CN", "en")}
    return frozenset(titles), frozenset(headers)


def _xlsx_xml(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as book:
            return "\n".join(html.unescape(book.read(n).decode("utf-8", "replace")) for n in book.namelist()
                             if n.endswith((".xml", ".rels")))
    except (zipfile.BadZipFile, OSError, KeyError):
        return None


def scan_xlsx(registry: Registry, path: Path) -> list[Leak]:
    """Every cell and note of a workbook except the Groups tab's webhook and secret columns.

    A quick look at the file's XML first; openpyxl opens only the files where a secret shows at all. A secret in
    the XML but in no cell (a chart, a defined name...) is reported against the file."""
    xml = _xlsx_xml(path)
    if xml is None:
        return leaks_in(registry, path.read_bytes().decode("utf-8", "replace"), str(path))
    in_xml = registry.find(xml)
    if not in_xml:
        return []
    from openpyxl import load_workbook
    titles, exempt_headers = groups_exemption()
    out, seen = [], set()
    book = load_workbook(path)
    try:
        for sheet in book.worksheets:
            exempt_cols: set[int] = set()
            is_groups = fold(sheet.title) in titles
            for row in sheet.iter_rows():
                if is_groups and not exempt_cols:
                    exempt_cols = {c.column for c in row if isinstance(c.value, str) and fold(c.value) in exempt_headers}
                    if exempt_cols:
                        continue
                for cell in row:
                    for text, what in ((cell.value, "cell"), (cell.comment.text if cell.comment else None, "note")):
                        if not isinstance(text, str) or not text:
                            continue
                        found = registry.find(text)
                        seen.update(found)
                        if found and not (what == "cell" and cell.column in exempt_cols):
                            out += [Leak(s, f"{path} [{sheet.title}!{cell.coordinate} {what}]") for s in found]
    finally:
        book.close()
    out += [Leak(s, f"{path} (its XML, outside any cell)") for s in in_xml if s not in seen]
    return out


def scan_file(registry: Registry, path: Path) -> list[Leak]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".xlsx":
            return scan_xlsx(registry, path)
        if suffix in TEXT_SUFFIXES and path.stat().st_size <= MAX_FILE_BYTES:
            return leaks_in(registry, path.read_bytes().decode("utf-8", "replace"), str(path))
    except (OSError, ValueError) as exc:   # a file removed meanwhile, or one openpyxl cannot read
        if suffix == ".xlsx" and not isinstance(exc, FileNotFoundError):
            return leaks_in(registry, path.read_bytes().decode("utf-8", "replace"), str(path))
    return []


def scan_tree(registry: Registry, root: Path, skip: Iterable[Path] = (), counts: Counter | None = None) -> list[Leak]:
    """Every log-like file and workbook under `root`, except under the `skip` folders."""
    skip = [Path(p) for p in skip]
    out = []
    for folder, dirs, files in os.walk(root):  # never follows symlinks
        here = Path(folder)
        if any(here == s or s in here.parents for s in skip):
            dirs[:] = []
            continue
        for name in files:
            path = here / name
            if path.suffix.lower() in TEXT_SUFFIXES or path.suffix.lower() == ".xlsx":
                out += scan_file(registry, path)
                if counts is not None:
                    counts["files"] += 1
    return out
