"""Metrics: the funnel per group and day, cohorts, rules' conversions, experiments, and their reports.

The pure core: `rollup(wb, days)` (Metrics, Cohorts, RulesReport rows), `daily_report(wb, day)` (markdown),
`report_html(wb)` / `write_report(wb, path)` (plotly, self-contained), `excluded_by_experiment(rule, group)`.
The shell: `run_metrics(store, now, deps)` reads, rolls up, posts the report, writes back, draws the chart.
"""
from .experiments import excluded_by_experiment
from .job import MetricsReport, run_metrics
from .report_html import report_html, write_report
from .report_md import daily_report
from .rollup import Rollup, rollup, rollup_changes, today_so_far_changes

__all__ = ["MetricsReport", "Rollup", "daily_report", "excluded_by_experiment", "report_html", "rollup",
           "rollup_changes", "run_metrics", "today_so_far_changes", "write_report"]
