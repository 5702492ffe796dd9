"""Metrics: the funnel per group and day, cohorts, rules' conversions, experiments' lift, their reports. Pure.

`rollup(wb, days)` (Metrics, Cohorts, RulesReport rows), `daily_report(wb, day)` (markdown),
`report_html(wb)` / `write_report(wb, path)` (inline SVG, self-contained). The job that reads, rolls up, posts
the report and writes back is `qunflow.jobs.metrics_job.run_metrics`. May import `sheet/` and `engine/`.
"""
