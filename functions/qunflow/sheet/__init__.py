"""The sheet: what operators type and what qunflow writes back. Pure.

Schemas (`schema`), cells (`cells`), typed records (`records`), located tables (`tables`), parsing and
validation (`parse`, `validate`), the Workbook and its loading (`workbook`, `load`), Problems and the
operator's language (`problems`, `i18n`), layouts for new tabs (`layout`), what a job wants written
(`changes`, `writeback`), the tag-rule cell language (`tagrules`) and the north-star chart tab (`chart`).
May import `sop/` (schedule and template cells) and `clock`; nothing else of qunflow.
"""
