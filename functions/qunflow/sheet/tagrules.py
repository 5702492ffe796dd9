"""Tag rules: the small, safe language of the Tags tab's `rule` column. Pure.

    source == "store"                         days_since_join >= 7 and messages_7d == 0
    orders >= 2 or invites >= 3               "VIP" in tags        not (layer == "core")
    status in ["active", "left"]              入群天数 >= 7 且 近7天发言 == 0

Our own tokenizer and recursive-descent parser build a small typed AST; nothing is ever handed to
Python's eval, compile or ast. Names come from a fixed list of member facts (`FACTS`, with zh-CN
aliases), so a rule cannot reach any Python object. Every mistake is a RuleError with the position
(0-based character index), a plain sentence and a rule that works.

- and/or/not (also 且/并且, 或/或者, 非, &&, ||, !); == (or =), !=, <, <=, >, >= (also ≤ ≥ ≠); `in` and
  `not in` for lists (tags, or a literal like ["store", "online"]); parentheses; numbers (-1, 2.5); text
  in "", '', “”, ‘’ or 「」. Full-width forms (＝, （, ＞) are read as their ASCII twins.
- Types are checked when the rule is parsed: numbers compare with numbers, text with text (== and !=
  only), `in` needs a list on its right. Text compares ignoring case and full-width forms. status,
  group_kind and layer accept their zh-CN labels ("黑名单", "流量型", "核心层") and refuse unknown values.
- A missing fact (a member with no join date) makes every comparison false, except != (true).
- Limits: 500 characters, nesting (brackets and `not`) 20 deep, so parsing and evaluation are bounded.
"""
from __future__ import annotations

import difflib
import operator
import re
from dataclasses import dataclass

from decimal import Decimal
from typing import Any

from .cells import fold
from .i18n import message

MAX_LENGTH = 500
MAX_DEPTH = 20

TEXT, NUMBER, LIST, BOOL = "text", "number", "list", "bool"
FACTS: dict[str, str] = {
    "source": TEXT, "status": TEXT, "layer": TEXT, "tags": LIST, "days_since_join": NUMBER,
    "days_since_active": NUMBER, "messages_7d": NUMBER, "messages_30d": NUMBER, "messages": NUMBER,
    "orders": NUMBER, "revenue": NUMBER, "invites": NUMBER, "checkins": NUMBER, "streak": NUMBER,
    "coupons_redeemed": NUMBER, "group_id": TEXT, "group_kind": TEXT,
}
ALIASES = {
    "来源": "source", "来源渠道": "source", "状态": "status", "成员状态": "status", "分层": "layer", "标签": "tags",
    "入群天数": "days_since_join", "未活跃天数": "days_since_active", "近7天发言": "messages_7d",
    "近30天发言": "messages_30d", "发言数": "messages", "订单数": "orders", "消费金额": "revenue", "邀请数": "invites",
    "打卡数": "checkins", "连续打卡": "streak", "核销券数": "coupons_redeemed", "群ID": "group_id", "群类型": "group_kind",
}
# values a text fact can take, with the labels operators may write instead
ENUMS: dict[str, dict[str, str]] = {
    "status": {"active": "活跃", "left": "已退群", "blacklisted": "黑名单"},
    "group_kind": {"traffic": "流量型", "flash": "快闪型", "content": "内容型", "checkin": "打卡型"},
    "layer": {"core": "核心层", "influence": "影响层", "periphery": "外围层", "": ""},
}
KEYWORDS = {"and": "and", "且": "and", "并且": "and", "&&": "and", "or": "or", "或": "or", "或者": "or",
            "||": "or", "not": "not", "非": "not", "!": "not", "in": "in"}
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "「": "」"}
_OPS = ("==", "!=", "<=", ">=", "&&", "||", "≤", "≥", "≠", "=", "<", ">", "(", ")", "[", "]", ",", "-", "!")
_CANON = {"=": "==", "≤": "<=", "≥": ">=", "≠": "!="}
_WIDE = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}  # full-width → ASCII, 1:1
COMPARE = ("==", "!=", "<", "<=", ">", ">=")
_CMP = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


class RuleError(ValueError):
    """position: 0-based index in the rule; message: English; example: a rule that works. text(lang) localises."""

    def __init__(self, position: int, message_: str, example: str, code: str = "rule_syntax", **params: Any):
        super().__init__(f"{message_} (at character {position + 1})")
        self.position, self.message, self.example, self.code, self.params = position, message_, example, code, params

    def text(self, lang: str) -> str:
        return message(self.code, lang, **self.params)


def _error(position: int, code: str, example: str = 'days_since_join >= 7 and messages_7d == 0', **params: Any) -> RuleError:
    return RuleError(position, message(code, "en", **params), example, code, **params)


def _example(name: str) -> str:
    kind = FACTS.get(name)
    if kind == LIST:
        return f'"VIP" in {name}'
    if kind == TEXT:
        sample = next(iter(ENUMS[name])) if name in ENUMS else ("G01" if name == "group_id" else "store")
        return f'{name} == "{sample}"'
    return f"{name} >= 1" if kind else 'source == "store"'


def _name_in(*nodes: Node) -> str:
    return next((n.value for n in nodes if n.op == "name"), "")


# --- tokens ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Token:
    kind: str      # num, str, name, op, kw, end
    value: Any
    pos: int
    text: str


_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_NAME = re.compile(r"(?:(?!并且)[^\W且或非])+")
_ZH_KEYWORD = re.compile(r"并且|或者|[且或非]")


def tokenize(text: str) -> list[Token]:
    s, tokens, i = text.translate(_WIDE), [], 0
    while i < len(s):
        c = s[i]
        if c.isspace():
            i += 1
        elif c in _QUOTES:
            j, out = i + 1, []
            while j < len(s) and s[j] != _QUOTES[c]:
                j += 1 if s[j] == "\\" and j + 1 < len(s) else 0
                out.append(s[j])
                j += 1
            if j >= len(s):
                raise _error(i, "rule_unclosed", example='source == "store"')
            tokens.append(Token("str", "".join(out), i, s[i:j + 1]))
            i = j + 1
        elif m := _NUMBER.match(s, i):
            after = s[m.end():m.end() + 1]
            if after and (_NAME.match(after) or after == "."):
                raise _error(i, "rule_bad_number", example="orders >= 2", value=s[i:m.end() + 1])
            tokens.append(Token("num", Decimal(m[0]), i, m[0]))
            i = m.end()
        elif m := _ZH_KEYWORD.match(s, i) or _NAME.match(s, i):
            word = m[0]
            kw = KEYWORDS.get(word.casefold()) if word.isascii() or word in KEYWORDS else None
            tokens.append(Token("kw", kw, i, word) if kw else Token("name", word, i, word))
            i = m.end()
        else:
            op = next((o for o in _OPS if s.startswith(o, i)), None)
            if op is None:
                raise _error(i, "rule_bad_char", char=c)
            kw = KEYWORDS.get(op)
            tokens.append(Token("kw", kw, i, op) if kw else Token("op", _CANON.get(op, op), i, op))
            i += len(op)
    tokens.append(Token("end", None, len(text), ""))
    return tokens


# --- the tree ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Node:
    op: str                   # and, or, not, cmp, in, name, lit
    kind: str                 # the value's type: bool, number, text, list
    pos: int
    args: tuple = ()
    value: Any = None         # the operator (cmp, in), the fact name, or the literal


class _Parser:
    def __init__(self, text: str):
        self.text, self.tokens, self.i, self.depth, self.nodes = text, tokenize(text), 0, 0, 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def sees(self, kind: str, *values: Any, ahead: int = 0) -> bool:
        t = self.tokens[min(self.i + ahead, len(self.tokens) - 1)]
        return t.kind == kind and (not values or t.value in values)

    def take(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def node(self, *args: Any, **kw: Any) -> Node:
        self.nodes += 1
        return Node(*args, **kw)

    def expected(self, code: str, t: Token) -> RuleError:
        return _error(t.pos, "rule_incomplete") if t.kind == "end" else _error(t.pos, code, found=t.text)

    def nest(self, t: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _error(t.pos, "rule_too_deep", limit=MAX_DEPTH)

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise _error(0, "rule_empty")
        tree = self.or_()
        if self.tok.kind != "end":
            raise self.expected("rule_expected_end", self.tok)
        self.condition(tree)
        return tree

    def condition(self, node: Node) -> Node:
        if node.kind != BOOL:
            raise _error(node.pos, "rule_not_condition", example=_example(node.value if node.op == "name" else ""),
                         found=self.describe(node))
        return node

    def chain(self, word: str, sub) -> Node:
        first = sub()
        items = [first]
        while self.sees("kw", word):
            self.take()
            items.append(self.condition(sub()))
        if len(items) == 1:
            return first
        self.condition(first)
        return self.node(word, BOOL, first.pos, tuple(items))

    def or_(self) -> Node:
        return self.chain("or", lambda: self.chain("and", self.not_))

    def not_(self) -> Node:
        if self.sees("kw", "not"):
            t = self.take()
            self.nest(t)
            inner = self.condition(self.not_())
            self.depth -= 1
            return self.node("not", BOOL, t.pos, (inner,))
        return self.comparison()

    def comparison(self) -> Node:
        left, t = self.atom(), self.tok
        negate = self.sees("kw", "not") and self.sees("kw", "in", ahead=1)
        if self.sees("op", *COMPARE):
            self.take()
            out = self.compare(t, left, self.atom())
        elif negate or self.sees("kw", "in"):
            self.i += 2 if negate else 1
            out = self.member(t, left, self.atom(), negate)
        else:
            return left
        if self.sees("op", *COMPARE) or self.sees("kw", "in"):
            raise _error(self.tok.pos, "rule_chained", example="days_since_join > 1 and days_since_join < 8")
        return out

    def compare(self, t: Token, left: Node, right: Node) -> Node:
        left, right = self.enum_literal(left, right), self.enum_literal(right, left)
        if LIST in (left.kind, right.kind):
            name = next((n.value for n in (left, right) if n.op == "name" and n.kind == LIST), "tags")
            raise _error(t.pos, "rule_list_compare", example=f'"VIP" in {name}', name=name)
        if left.kind != right.kind:
            raise _error(t.pos, "rule_types", example=_example(_name_in(left, right)),
                         left=self.describe(left), right=self.describe(right))
        if t.value not in ("==", "!=") and left.kind != NUMBER:
            raise _error(t.pos, "rule_text_order", example=_example(_name_in(left, right)), op=t.text)
        return self.node("cmp", BOOL, left.pos, (left, right), t.value)

    def member(self, t: Token, left: Node, right: Node, negate: bool) -> Node:
        if right.kind != LIST:
            raise _error(right.pos, "rule_in_list", example='"VIP" in tags', found=self.describe(right))
        if right.op == "lit":
            kinds = {type(v) for v in right.value}
            if left.kind not in (TEXT, NUMBER) or (kinds and kinds != {Decimal if left.kind == NUMBER else str}):
                raise _error(t.pos, "rule_types", example='source in ["store", "online"]',
                             left=self.describe(left), right=self.describe(right))
            if left.op == "name" and left.value in ENUMS:
                right = Node("lit", LIST, right.pos, (), tuple(self.enum_value(left.value, v, right.pos)
                                                                 for v in right.value))
        elif left.kind != TEXT:
            raise _error(left.pos, "rule_types", example='"VIP" in tags', left=self.describe(left),
                         right=self.describe(right))
        node = self.node("in", BOOL, left.pos, (left, right))
        return self.node("not", BOOL, left.pos, (node,)) if negate else node

    def enum_literal(self, node: Node, other: Node) -> Node:
        if node.op == "lit" and node.kind == TEXT and other.op == "name" and other.value in ENUMS:
            return Node("lit", TEXT, node.pos, (), self.enum_value(other.value, node.value, node.pos))
        return node

    def enum_value(self, name: str, value: str, pos: int) -> str:
        for canonical, label in ENUMS[name].items():
            if fold(value) in (fold(canonical), fold(label)):
                return canonical
        allowed = ", ".join(f"{v} ({label})" for v, label in ENUMS[name].items() if v)
        raise _error(pos, "rule_bad_value", example=_example(name), value=value, name=name, allowed=allowed)

    def describe(self, node: Node) -> str:
        """The node as the operator wrote it (shortened)."""
        if node.op == "name":
            return node.value
        if node.op == "lit" and node.kind == TEXT:
            return f'"{node.value[:30]}"'
        if node.op == "lit" and node.kind == NUMBER:
            return str(node.value)
        return self.text[node.pos:node.pos + 30].strip()

    def atom(self) -> Node:
        t = self.take()
        if t.kind == "num":
            return self.node("lit", NUMBER, t.pos, (), t.value)
        if t.kind == "op" and t.value == "-" and self.sees("num"):
            return self.node("lit", NUMBER, t.pos, (), -self.take().value)
        if t.kind == "str":
            return self.node("lit", TEXT, t.pos, (), t.value)
        if t.kind == "name":
            name = ALIASES.get(t.value, t.value)
            if name not in FACTS:
                close = difflib.get_close_matches(t.value, list(FACTS) + list(ALIASES), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise _error(t.pos, "rule_unknown_name", name=t.value[:40], hint=hint, names=", ".join(FACTS))
            return self.node("name", FACTS[name], t.pos, (), name)
        if t.kind == "op" and t.value == "(":
            self.nest(t)
            inner = self.or_()
            self.depth -= 1
            if not self.sees("op", ")"):
                raise self.expected("rule_expected_close", self.tok)
            self.take()
            return inner
        if t.kind == "op" and t.value == "[":
            return self.list_literal(t)
        raise self.expected("rule_expected_value", t)

    def list_literal(self, start: Token) -> Node:
        items: list[Any] = []
        while not self.sees("op", "]"):
            if items:
                if not self.sees("op", ","):
                    raise self.expected("rule_expected_item", self.tok)
                self.take()
            t = self.take()
            if t.kind == "op" and t.value == "-" and self.sees("num"):
                items.append(-self.take().value)
            elif t.kind in ("num", "str"):
                items.append(t.value)
            else:
                raise self.expected("rule_expected_item", t)
        self.take()
        return self.node("lit", LIST, start.pos, (), tuple(items))


@dataclass(frozen=True)
class Rule:
    text: str
    tree: Node
    nodes: int                # size of the tree: evaluation visits at most this many nodes

    def evaluate(self, facts: dict[str, Any]) -> bool:
        """True when the member's facts match. Never raises: a missing or malformed fact is missing."""
        return bool(_eval(self.tree, facts))


def parse_rule(text: str) -> Rule:
    if not isinstance(text, str):
        raise _error(0, "rule_empty")
    if len(text) > MAX_LENGTH:
        raise _error(MAX_LENGTH, "rule_too_long", length=len(text), limit=MAX_LENGTH)
    parser = _Parser(text)
    tree = parser.parse()
    return Rule(text, tree, parser.nodes)


# --- evaluation --------------------------------------------------------------------------------------

def _fact(name: str, facts: dict[str, Any]) -> Any:
    value, kind = facts.get(name), FACTS[name]
    if kind == NUMBER:
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            return None
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        return number if number.is_finite() else None
    if kind == LIST:
        if isinstance(value, str):
            value = (value,)
        return tuple(fold(v) for v in value if isinstance(v, str)) if isinstance(value, (list, tuple, set, frozenset)) else ()
    return fold(value) if isinstance(value, str) else ""


def _value(node: Node, facts: dict[str, Any]) -> Any:
    if node.op == "name":
        return _fact(node.value, facts)
    if node.op == "lit":
        if node.kind == TEXT:
            return fold(node.value)
        if node.kind == LIST:
            return tuple(fold(v) if isinstance(v, str) else v for v in node.value)
        return node.value
    return _eval(node, facts)


def _eval(node: Node, facts: dict[str, Any]) -> bool:
    if node.op == "and":
        return all(_eval(a, facts) for a in node.args)
    if node.op == "or":
        return any(_eval(a, facts) for a in node.args)
    if node.op == "not":
        return not _eval(node.args[0], facts)
    if node.op == "in":
        left, right = _value(node.args[0], facts), _value(node.args[1], facts)
        return left is not None and left in right
    left, right, op = _value(node.args[0], facts), _value(node.args[1], facts), node.value  # cmp
    if left is None or right is None:
        return op == "!="
    return _CMP[op](left, right)
