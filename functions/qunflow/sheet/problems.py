"""A Problem: one thing an operator must fix, at the cell where they fix it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .i18n import message

ERROR = "error"      # the row is skipped; the other rows are used
WARNING = "warning"  # the row is used


@dataclass(frozen=True)
class Problem:
    tab: str          # the tab title as the operator sees it
    row: int | None   # the row number as the operator sees it (header = 1); None for the whole tab
    column: str       # the column header as the operator sees it ("" for a whole row or tab)
    value: str
    message: str
    severity: str = ERROR
    code: str = ""    # stable machine id, for tests and JSON

    def as_dict(self) -> dict[str, Any]:
        return {"tab": self.tab, "row": self.row, "column": self.column, "value": self.value,
                "message": self.message, "severity": self.severity, "code": self.code}


@dataclass
class ProblemSink:
    """Collects problems in the workbook's language."""
    lang: str = "en"
    items: list[Problem] = field(default_factory=list)

    def add(self, code: str, *, tab: str, row: int | None, column: str = "", value: Any = "",
            severity: str = ERROR, **params: Any) -> Problem:
        shown = "" if value is None else str(value)
        if isinstance(params.get("reason"), str):   # a reason qunflow composed in English, said in the workbook's
            from .vocabulary import say_reason      # language (a platform's refusal inside a zh Problem)
            params["reason"] = say_reason(params["reason"], self.lang)
        text = message(code, self.lang, value=shown, column=column, tab=tab, **params)
        problem = Problem(tab, row, column, shown, text, severity, code)
        self.items.append(problem)
        return problem

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.items if p.severity == ERROR]
