"""Message templates, rendered in Jinja2's sandbox, each render within a budget.

Operators write `{{ group_name }}`-style variables. Anything beyond the listed variables and plain
filters is refused: attribute walks (`''.__class__`), includes and imports. Every render has a budget
(render_budget.py counts it as the template runs); no real message comes near it:

- a message renders to at most 20,000 characters (MAX_OUTPUT), from a template of at most 20,000;
- no text or list built along the way (by center, indent, replace, join, format, wordwrap, truncate,
  `~`, `+`, `*`, `%`, a macro or a `{% set %}` block) may pass 20,000 characters (MAX_VALUE), and no
  filter takes a width or count above 20,000; the size is checked from the arguments *before* building;
- `*` makes at most 2,000 characters or items, `**` takes an exponent of at most 64, and whole numbers
  stay under 1,024 bits (about 308 digits); one range() has at most 1,000 items;
- all loops of one render together run at most 10,000 iterations (nested loops multiply);
- at most 1,000,000 template steps (a loop iteration or macro call costs the size of its body) and
  2,000,000 characters read or made by filters, operators, comparisons and output.

Going over is a TemplateProblem with one of render_budget.BUDGET's codes; any other failure (a bad
filter argument, recursion too deep, memory) is a TemplateProblem too. Nothing else leaves `render`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateError, meta, nodes
from jinja2.runtime import LoopContext, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.visitor import NodeTransformer

from . import render_budget as budget
from .render_budget import BUDGET, MAX_OUTPUT, MAX_RANGE, MAX_REPEAT, MAX_TEMPLATE  # noqa: F401 (the limits)

VARIABLES = ("group_name", "mentions", "campaign_day", "days_left", "date", "time", "coupon", "member_names",
             "phase", "rule_id", "leaderboard", "streak", "expiring_code")
# Variables whose value belongs to one member: a post mentioning several members whose values differ goes out
# once per member (qunflow.engine.permember), so each reads their own.
MEMBER_VARIABLES = ("coupon", "streak", "expiring_code")


class TemplateProblem(ValueError):
    def __init__(self, code: str, detail: str, **params: Any):
        super().__init__(detail)
        self.code = code  # "bad_template" | "unsafe_template" | a render_budget.BUDGET code
        self.detail = detail
        self.params = params  # for the operator's message: the limit that was passed


def problem_code(detail: str) -> tuple[str, dict[str, str]]:
    """(code, params) of the Problem for a template failure known only by its detail (a send's reason)."""
    for code, (known, params) in BUDGET.items():
        if detail == known:
            return code, dict(params)
    return "bad_template", {}


class _Env(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})
    concat = staticmethod(budget.bounded_concat)  # captured output: macros, {% set %} and filter blocks

    def call_binop(self, context, op, left, right):  # type: ignore[override]
        return budget.binop(op, left, right)

    def call(self, context, obj, /, *args, **kwargs):  # type: ignore[override]
        spent = budget.current()
        spent.step(1 + (spent.macro_cost if isinstance(obj, Macro) else 0))
        if isinstance(obj, LoopContext) and args:  # `loop(items)` in a recursive loop
            args = (spent.iterate(args[0], spent.loop_cost), *args[1:])
        return super().call(context, obj, *args, **kwargs)

    def is_safe_attribute(self, obj, attr, value):  # no attribute access at all: variables are plain values
        return False


def _range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise SecurityError("range too large")
    return r


_ENV = _Env(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True, finalize=budget.finalize)
_ENV.globals = {"range": _range}
_ENV.filters = budget.filters()
_ENV.tests = budget.tests()


def _size(body: list) -> int:
    return sum(1 + sum(1 for _ in node.find_all(nodes.Node)) for node in body if node is not None)


def _internal(node: nodes.Expr, name: str, *args: nodes.Expr) -> nodes.Filter:
    return nodes.Filter(node, name, list(args), [], None, None, lineno=node.lineno)


class _Meter(NodeTransformer):
    """Routes what the budget cannot see into it: loop items, `~` and the operands of comparisons."""

    def __init__(self) -> None:
        self.loop_cost = self.macro_cost = 1

    def visit_For(self, node: nodes.For) -> nodes.For:
        cost = 1 + _size(node.body) + _size([node.test])
        self.loop_cost = max(self.loop_cost, cost)
        node = self.generic_visit(node)
        node.iter = _internal(node.iter, budget.LOOP, nodes.Const(cost, lineno=node.lineno))
        return node

    def visit_Macro(self, node: nodes.Macro) -> nodes.Node:
        self.macro_cost = max(self.macro_cost, 1 + _size(node.body))
        return self.generic_visit(node)

    visit_CallBlock = visit_Macro

    def visit_Concat(self, node: nodes.Concat) -> nodes.Filter:
        node = self.generic_visit(node)
        return _internal(nodes.List(node.nodes, lineno=node.lineno), budget.CONCAT)

    def visit_Compare(self, node: nodes.Compare) -> nodes.Compare:
        node = self.generic_visit(node)
        node.expr = _internal(node.expr, budget.WEIGH)
        for operand in node.ops:
            operand.expr = _internal(operand.expr, budget.WEIGH)
        return node


_REFUSED = (nodes.Getattr, nodes.Getitem, nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)


def _parse(text: str) -> nodes.Template:
    if len(text) > MAX_TEMPLATE:
        raise TemplateProblem("template_too_long", f"template longer than {MAX_TEMPLATE} characters",
                              limit=f"{MAX_TEMPLATE:,}")
    try:
        return _ENV.parse(text)
    except TemplateError as exc:
        raise TemplateProblem("bad_template", str(exc.message or exc)) from None
    except (RecursionError, MemoryError):
        raise _nested_too_deeply() from None


def _nested_too_deeply() -> TemplateProblem:
    """Recursion (a macro calling itself, brackets inside brackets) is work too: Python's stack is the limit."""
    over = budget.OverBudget("template_too_much_work")
    return TemplateProblem(over.code, over.detail, **over.params)


def _check_tree(tree: nodes.Template) -> None:
    unknown = sorted(meta.find_undeclared_variables(tree) - set(VARIABLES) - {"range"})
    if unknown:
        raise TemplateProblem("bad_template", "unknown variable " + ", ".join(unknown))
    for node in tree.find_all(_REFUSED):
        what = "attribute or item access" if isinstance(node, (nodes.Getattr, nodes.Getitem)) else "include or import"
        raise TemplateProblem("unsafe_template", what)


def check(text: str) -> None:
    """Raise TemplateProblem if the text cannot be rendered safely with the known variables."""
    tree = _parse(text)
    try:
        _check_tree(tree)
    except (RecursionError, MemoryError):
        raise _nested_too_deeply() from None


SAMPLE = {"group_name": "群", "mentions": "@小林", "campaign_day": 3, "days_left": 2, "date": "2026-12-01",
          "time": "20:00", "coupon": "WEL-0001", "member_names": "小林", "phase": "铺垫期", "rule_id": "R01",
          "leaderboard": "1. 小林 3", "streak": 7, "expiring_code": "WEL-0001"}


def check_by_rendering(text: str) -> None:
    """The static checks, then a trial render with sample values: bombs are caught while validating, not at send time."""
    render(text, SAMPLE)


@dataclass(frozen=True)
class _Compiled:
    template: Any
    loop_cost: int
    macro_cost: int


@functools.lru_cache(maxsize=2048)
def _compiled(text: str) -> _Compiled:
    """Checked, metered and compiled once per distinct text (a preview renders the same rule thousands of times)."""
    tree = _parse(text)
    try:
        _check_tree(tree)
        meter = _Meter()
        tree = meter.visit(tree)
        tree.set_environment(_ENV)
        return _Compiled(_ENV.from_string(tree), meter.loop_cost, meter.macro_cost)
    except TemplateProblem:
        raise
    except TemplateError as exc:
        raise TemplateProblem("bad_template", str(exc.message or exc)) from None
    except (RecursionError, MemoryError, SyntaxError):  # SyntaxError: Python's own nesting limits
        raise _nested_too_deeply() from None


@functools.lru_cache(maxsize=2048)
def used_variables(text: str) -> frozenset[str]:
    """The variables a template names (empty if it does not parse: rendering reports that)."""
    try:
        return frozenset(meta.find_undeclared_variables(_parse(text)))
    except (TemplateProblem, RecursionError, MemoryError):
        return frozenset()


def render(text: str, variables: dict[str, Any]) -> str:
    """Render with the given variables within the budget; raises TemplateProblem on any failure."""
    compiled = _compiled(text)
    template = compiled.template
    try:
        with budget.active(budget.Budget(compiled.loop_cost, compiled.macro_cost)):
            out: list[str] = []
            size = 0
            for chunk in template.root_render_func(template.new_context(dict(variables))):
                size += len(chunk)
                if size > MAX_OUTPUT:
                    raise budget.OverBudget("template_too_long")
                out.append(chunk)
            return "".join(out)
    except budget.OverBudget as over:
        raise TemplateProblem(over.code, over.detail, **over.params) from None
    except SecurityError as exc:
        raise TemplateProblem("unsafe_template", str(exc)) from None
    except TemplateError as exc:
        raise TemplateProblem("bad_template", str(exc.message or exc)) from None
    except RecursionError:
        raise _nested_too_deeply() from None
    except MemoryError:
        over = budget.OverBudget("template_big_value")
        raise TemplateProblem(over.code, over.detail, **over.params) from None
    except Exception as exc:  # a filter given the wrong kind of value, a number that does not fit, …
        raise TemplateProblem("bad_template", type(exc).__name__) from None
