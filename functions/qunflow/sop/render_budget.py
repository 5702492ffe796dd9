"""The budget of one template render: every step a message template takes is paid for as it runs.

render.py meters a template before compiling it: each loop's items pass through `LOOP`, each `~` becomes
`CONCAT`, each comparison's operands pass through `WEIGH`, and every filter, test, call, operator and
`{{ }}` output is wrapped here. All of them charge the render's Budget; going over a limit raises
OverBudget, which render.py turns into a TemplateProblem. Sizes are estimated from the arguments
*before* anything is built, so `center(2000000000)` fails at once instead of allocating gigabytes.
The limits (render.py's docstring explains them to operators) are far above any real message.
"""
from __future__ import annotations

import operator
import re
from collections.abc import Iterator, Sized
from contextlib import contextmanager
from contextvars import ContextVar
from itertools import chain
from typing import Any, Callable

from jinja2 import pass_context
from jinja2.filters import FILTERS
from jinja2.sandbox import SecurityError
from jinja2.tests import TESTS

MAX_TEMPLATE = 20_000          # characters of template text
MAX_OUTPUT = 20_000            # characters of the rendered message
MAX_VALUE = 20_000             # characters of any text or list made while rendering (a list counts as printed)
MAX_LOOP_ITERATIONS = 10_000   # loop iterations in one render, all loops together (nested loops multiply)
MAX_STEPS = 1_000_000          # template steps: a loop iteration or macro call costs the size of its body
MAX_WORK = 2_000_000           # characters read or made by filters, operators, comparisons and output
MAX_REPEAT = 2_000             # characters or items made by one `*`
MAX_POWER = 64                 # largest exponent of `**`
MAX_INT_BITS = 1_024           # size of a whole number made by `*` or `**` (about 308 digits)
MAX_INT_DIGITS = MAX_INT_BITS * 3 // 10
MAX_RANGE = 1_000              # items of one range()
MAX_NESTING = 50               # lists inside lists

LOOP, CONCAT, WEIGH = " loop", " concat", " weigh"  # internal filters: the space keeps them out of templates
DROPPED_FILTERS = frozenset({"attr", "pprint", "tojson", "urlize", "xmlattr"})  # attribute walks, HTML and JSON
UNCAPPED_NUMBERS = frozenset({"format", "default", "d"})  # their numbers are values, not widths or counts

# code -> (detail in plain English, for the SendLog and the log; params for the operator's message)
BUDGET = {
    "template_loops": (f"loops run more than {MAX_LOOP_ITERATIONS} times in all", {"limit": f"{MAX_LOOP_ITERATIONS:,}"}),
    "template_too_long": (f"output longer than {MAX_OUTPUT} characters", {"limit": f"{MAX_OUTPUT:,}"}),
    "template_big_value": (f"a text, list or number bigger than {MAX_VALUE} characters",
                           {"limit": f"{MAX_VALUE:,}", "digits": str(MAX_INT_DIGITS)}),
    "template_too_much_work": ("too much work for one message", {"limit": f"{MAX_LOOP_ITERATIONS:,}"}),
}


class OverBudget(SecurityError):
    def __init__(self, code: str):
        detail, params = BUDGET[code]
        super().__init__(detail)
        self.code, self.detail, self.params = code, detail, dict(params)


def weight(value: Any, limit: int = MAX_VALUE) -> int:
    """About the characters `str(value)` takes, counted up to just past `limit` (a shared item counts each time)."""
    memo: dict[int, int] = {}

    def size(x: Any, depth: int) -> int:
        if isinstance(x, str):
            return len(x)
        if x is None or isinstance(x, (bool, float)):
            return 24
        if isinstance(x, int):
            return x.bit_length() * 3 // 10 + 2
        if isinstance(x, range):
            return len(x) * (max(abs(x.start), abs(x.stop)).bit_length() * 3 // 10 + 4) if len(x) < limit else limit + 1
        if not isinstance(x, (list, tuple, set, frozenset, dict)):
            return 64
        if id(x) in memo:
            return memo[id(x)]
        if depth > MAX_NESTING:
            return limit + 1
        total = 2
        for item in (chain.from_iterable(x.items()) if isinstance(x, dict) else x):
            total += size(item, depth + 1) + 2
            if total > limit:
                break
        memo[id(x)] = total
        return total

    return size(value, 0)


class Budget:
    """What one render has spent; `loop_cost`/`macro_cost`: the steps of the template's largest loop/macro body."""

    def __init__(self, loop_cost: int = 1, macro_cost: int = 1):
        self.loop_cost, self.macro_cost = loop_cost, macro_cost
        self.loops = self.steps = self.work = 0

    def step(self, cost: int = 1) -> None:
        self.steps += cost
        if self.steps > MAX_STEPS:
            raise OverBudget("template_too_much_work")

    def spend(self, chars: int) -> None:
        self.work += chars
        if self.work > MAX_WORK:
            raise OverBudget("template_too_much_work")

    def iterate(self, iterable: Any, cost: int) -> Iterator[Any]:
        for item in iterable:
            self.loops += 1
            if self.loops > MAX_LOOP_ITERATIONS:
                raise OverBudget("template_loops")
            self.step(cost)
            yield item

    @staticmethod
    def expect(size: int) -> None:
        """Before building something `size` characters long."""
        if size > MAX_VALUE:
            raise OverBudget("template_big_value")

    def take(self, value: Any) -> Any:
        """A value going into or coming out of a filter or operator: iterators become lists, all are weighed."""
        if isinstance(value, Iterator) and not isinstance(value, Sized):
            items = []
            for item in value:
                self.step()
                items.append(item)
                if len(items) > MAX_VALUE:
                    raise OverBudget("template_big_value")
            value = items
        if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            raise OverBudget("template_big_value")
        size = weight(value)
        self.expect(size)
        self.spend(size)
        return value


_ACTIVE: ContextVar[Budget | None] = ContextVar("qunflow_template_budget", default=None)


def current() -> Budget:
    budget = _ACTIVE.get()
    if budget is None:
        raise SecurityError("template code ran outside a render")
    return budget


@contextmanager
def active(budget: Budget) -> Iterator[Budget]:
    token = _ACTIVE.set(budget)
    try:
        yield budget
    finally:
        _ACTIVE.reset(token)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def format_size(fmt: str, args: Any) -> int:
    """An upper bound on the length of `fmt % args`: widths and precisions are paid for before formatting."""
    total = len(fmt) + weight(args)
    for match in _SPEC.finditer(fmt):
        for part in match.groups():
            if part == "*" or (part and len(part) > 6):
                return MAX_VALUE + 1
            total += int(part or 0)
    return total


def _width(value: Any) -> int:
    return value if isinstance(value, int) else len(_text(value))


def _replace_size(s: Any, old: Any, new: Any, count: Any = None) -> int:
    s, old, new = _text(s), _text(old), _text(new)
    hits = s.count(old)
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(s) + hits * max(0, len(new) - len(old))


def _join_size(value: Any, d: Any = "", attribute: Any = None) -> int:
    items = list(value) if not isinstance(value, (int, float)) else [value]
    return sum(weight(i) for i in items) + max(0, len(items) - 1) * len(_text(d))


def _wordwrap_size(s: Any, width: Any = 79, break_long_words: Any = True, wrapstring: Any = None, *_: Any,
                   **__: Any) -> int:
    s = _text(s)
    lines = min(len(s) + 1, 2 * len(s) // max(width if isinstance(width, int) else 1, 1) + s.count("\n") + 2)
    return len(s) + lines * (len(_text(wrapstring)) if wrapstring is not None else 1)


def _sum_size(iterable: Any, attribute: Any = None, start: Any = 0) -> int:
    if not isinstance(start, (int, float)):
        raise TypeError("sum adds numbers")  # adding lists is quadratic
    return 0


# filter -> the most characters its result can take, from its arguments (filters that can grow their input)
ESTIMATES: dict[str, Callable[..., int]] = {
    "center": lambda value, width=80, **_: max(len(_text(value)), _width(width)),
    "indent": lambda s, width=4, *_, **__: len(_text(s)) + (_text(s).count("\n") + 1) * max(_width(width), 0),
    "replace": _replace_size,
    "join": _join_size,
    "format": lambda value, *args, **kwargs: format_size(_text(value), args or kwargs),
    "wordwrap": _wordwrap_size,
    "truncate": lambda s, length=255, killwords=False, end="...", *_, **__: len(_text(s)) + len(_text(end)),
    "batch": lambda value, linecount, fill_with=None, **_: weight(value) + (
        max(_width(linecount), 0) * (weight(fill_with) + 2) if fill_with is not None else 0),
    "slice": lambda value, slices, fill_with=None, **_: weight(value) + max(_width(slices), 0) * (weight(fill_with) + 4),
    "sum": _sum_size,
}


def _lead(func: Callable, context: Any) -> tuple:
    """What Jinja passes a filter or test before the value (its context, eval context or environment)."""
    kind = getattr(getattr(func, "jinja_pass_arg", None), "name", None)
    return {"context": (context,), "eval_context": (context.eval_ctx,),
            "environment": (context.environment,)}.get(kind, ())


def guard_filter(name: str, func: Callable) -> Callable:
    estimate = ESTIMATES.get(name)
    caps_numbers = name not in UNCAPPED_NUMBERS

    @pass_context  # also keeps Jinja from running it at compile time, outside any budget
    def guarded(context: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        budget = current()
        budget.step()
        value = budget.take(value)
        args = tuple(budget.take(a) for a in args)
        kwargs = {k: budget.take(v) for k, v in kwargs.items()}
        for arg in chain(args, kwargs.values()):
            if caps_numbers and isinstance(arg, int) and abs(arg) > MAX_VALUE:
                raise OverBudget("template_big_value")
        if estimate is not None:
            budget.expect(estimate(value, *args, **kwargs))
        return budget.take(func(*_lead(func, context), value, *args, **kwargs))

    return guarded


def guard_test(func: Callable) -> Callable:
    @pass_context
    def guarded(context: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        budget = current()
        budget.step()
        for arg in chain((value,), args, kwargs.values()):
            budget.spend(weight(arg))
        return func(*_lead(func, context), value, *args, **kwargs)

    return guarded


@pass_context
def _loop(context: Any, iterable: Any, cost: int) -> Iterator[Any]:
    return current().iterate(iterable, cost)


@pass_context
def _concat(context: Any, parts: list) -> str:
    budget = current()
    budget.step()
    budget.expect(sum(weight(p) for p in parts))
    return budget.take("".join(_text(p) for p in parts))


@pass_context
def _weigh(context: Any, value: Any) -> Any:
    budget = current()
    budget.step()
    budget.spend(weight(value, MAX_WORK))
    return value


def filters() -> dict[str, Callable]:
    guarded = {name: guard_filter(name, f) for name, f in FILTERS.items() if name not in DROPPED_FILTERS}
    return {**guarded, LOOP: _loop, CONCAT: _concat, WEIGH: _weigh}


def tests() -> dict[str, Callable]:
    return {name: guard_test(f) for name, f in TESTS.items()}


@pass_context
def finalize(context: Any, value: Any) -> Any:
    """Every `{{ }}` value, before it is printed (also inside macros and `{% set %}` blocks)."""
    budget = current()
    budget.step()
    return budget.take(value)


def bounded_concat(parts: Any) -> str:
    """The environment's join for captured output (macros, `{% set %}…{% endset %}`, filter and call blocks)."""
    parts = parts if isinstance(parts, list) else list(parts)
    if sum(len(p) for p in parts) > MAX_VALUE:
        raise OverBudget("template_big_value")
    return "".join(parts)


_OPERATORS = {"*": operator.mul, "**": operator.pow, "+": operator.add, "%": operator.mod}


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def binop(op: str, left: Any, right: Any) -> Any:
    """`*`, `**`, `+` and `%`, with the size of the result checked before it is computed."""
    budget = current()
    budget.step()
    if op == "*":
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(n, int):
                if len(seq) * n > MAX_REPEAT:
                    raise SecurityError("repeat too large")
                budget.expect(weight(seq) * n)
        if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise OverBudget("template_big_value")
    elif op == "**":
        if _is_number(right) and abs(right) > MAX_POWER:
            raise SecurityError("power too large")
        if isinstance(left, int) and isinstance(right, int) and left.bit_length() * abs(right) > MAX_INT_BITS:
            raise OverBudget("template_big_value")
    elif op == "+" and not (_is_number(left) and _is_number(right)):
        budget.expect(weight(left) + weight(right))
    elif op == "%" and isinstance(left, str):
        budget.expect(format_size(left, right))
    return budget.take(_OPERATORS[op](left, right))
