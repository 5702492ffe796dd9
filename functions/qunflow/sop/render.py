"""Message templates, rendered in Jinja2's sandbox with hard bounds.

Operators write `{{ group_name }}`-style variables. Anything beyond the listed
variables and plain filters is refused: attribute walks (`''.__class__`), huge
repeats (`'x' * 10**9`), and output longer than MAX_OUTPUT characters.
"""
from __future__ import annotations

import functools
import operator
from typing import Any

from jinja2 import StrictUndefined, TemplateError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

VARIABLES = ("group_name", "mentions", "campaign_day", "days_left", "date", "time", "coupon", "member_names",
             "phase", "rule_id", "leaderboard")
MAX_OUTPUT = 20_000
MAX_REPEAT = 2_000
MAX_RANGE = 1_000


class TemplateProblem(ValueError):
    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code  # "bad_template" | "unsafe_template"
        self.detail = detail


def _bounded_mul(a: Any, b: Any) -> Any:
    for seq, n in ((a, b), (b, a)):
        if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_REPEAT:
            raise SecurityError("repeat too large")
    return operator.mul(a, b)


def _bounded_pow(a: Any, b: Any) -> Any:
    if isinstance(b, (int, float)) and abs(b) > 64:
        raise SecurityError("power too large")
    return operator.pow(a, b)


class _Env(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, op, left, right):  # type: ignore[override]
        if op == "*":
            return _bounded_mul(left, right)
        if op == "**":
            return _bounded_pow(left, right)
        return super().call_binop(context, op, left, right)

    def is_safe_attribute(self, obj, attr, value):  # no attribute access at all: variables are plain values
        return False


def _range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise SecurityError("range too large")
    return r


_ENV = _Env(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_ENV.globals = {"range": _range}


def _parse(text: str) -> nodes.Template:
    try:
        return _ENV.parse(text)
    except TemplateError as exc:
        raise TemplateProblem("bad_template", str(exc.message or exc)) from None


def check(text: str) -> None:
    """Raise TemplateProblem if the text cannot be rendered safely with the known variables."""
    tree = _parse(text)
    unknown = sorted(meta.find_undeclared_variables(tree) - set(VARIABLES) - {"range"})
    if unknown:
        raise TemplateProblem("bad_template", "unknown variable " + ", ".join(unknown))
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        raise TemplateProblem("unsafe_template", "attribute or item access")


SAMPLE = {"group_name": "群", "mentions": "@小林", "campaign_day": 3, "days_left": 2, "date": "2026-12-01",
          "time": "20:00", "coupon": "WEL-0001", "member_names": "小林", "phase": "铺垫期", "rule_id": "R01",
          "leaderboard": "1. 小林 3"}


def check_by_rendering(text: str) -> None:
    """The static checks, then a trial render with sample values: bombs are caught while validating, not at send time."""
    render(text, SAMPLE)


@functools.lru_cache(maxsize=2048)
def _compiled(text: str) -> Any:
    """Checked and compiled once per distinct text (a preview renders the same rule thousands of times)."""
    check(text)
    try:
        return _ENV.from_string(text)
    except TemplateError as exc:
        raise TemplateProblem("bad_template", str(exc.message or exc)) from None


def render(text: str, variables: dict[str, Any]) -> str:
    """Render with the given variables; raises TemplateProblem on any failure."""
    template = _compiled(text)
    try:
        out: list[str] = []
        size = 0
        for chunk in template.generate(**variables):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateProblem("unsafe_template", f"output longer than {MAX_OUTPUT} characters")
            out.append(chunk)
        return "".join(out)
    except TemplateProblem:
        raise
    except SecurityError as exc:
        raise TemplateProblem("unsafe_template", str(exc)) from None
    except TemplateError as exc:
        raise TemplateProblem("bad_template", str(exc.message or exc)) from None
    except (TypeError, ValueError, ArithmeticError, RecursionError) as exc:
        raise TemplateProblem("bad_template", type(exc).__name__) from None
