"""sheets_schema/ is the single source of truth: records, layouts and docs follow it."""
from dataclasses import fields

from qunflow.sheet.records import RECORDS
from qunflow.sheet.schema import COLUMN_TYPES, load_schemas, schema_dir

CONTRACT = {  # the keys the design fixes: never renamed
    "settings": "key value",
    "groups": "group_id name platform webhook secret kind timezone campaign_start quiet_hours daily_cap enabled status",
    "members": "member_id name group_id platform_user_id mobile joined_at left_at source referred_by tags status "
               "last_active_at layer welcomed_at coupon_code",
    "tags": "tag rule description",
    "coupons": "code campaign kind value status member_id issued_at expires_at redeemed_at order_id",
    "templates": "name content",
    "cards": "name title description url picture_url button_text",
    "campaigns": "campaign start",
    "sop": "rule_id enabled groups schedule phase msg_type content mention coupon catch_up until status",
    "events": "event_id type member_id group_id at amount coupon_code detail",
    "sendlog": "send_id rule_id group_id member_id scheduled_for status attempts sent_at outcome preview",
    "metrics": "date group_id",
    "problems": "tab row column value message severity seen_at",
    "cohorts": "cohort_date group_id",
    "rules_report": "date rule_id group_id",
}
WRITTEN = {"groups": {"status"}, "members": {"layer", "welcomed_at", "coupon_code"}, "sop": {"status"}}


def test_every_schema_has_a_record_and_every_record_a_schema():
    schemas = load_schemas()
    assert set(schemas) == set(RECORDS)
    for key, schema in schemas.items():
        record_fields = {f.name for f in fields(RECORDS[key])} - ({"row"} if key != "problems" else set())
        assert record_fields == {c.key for c in schema.columns}, key
        assert RECORDS[key].__name__ == schema.record


def test_one_file_per_tab_and_the_contract_keys_exist():
    files = sorted(f.name.removesuffix(".yaml") for f in schema_dir().iterdir() if f.name.endswith(".yaml"))
    assert files == sorted(CONTRACT)
    schemas = load_schemas()
    for key, columns in CONTRACT.items():
        have = [c.key for c in schemas[key].columns]
        assert set(columns.split()) <= set(have), key
        for column in WRITTEN.get(key, ()):
            assert schemas[key].column(column).written, (key, column)
    assert all(schemas[k].written for k in ("sendlog", "metrics", "problems"))


def test_every_column_is_documented_in_both_languages():
    for schema in load_schemas().values():
        assert schema.titles["en"] and schema.titles["zh-CN"]
        for column in list(schema.columns) + list(schema.settings):
            assert column.type in COLUMN_TYPES
            assert column.help.get("en") and column.help.get("zh-CN"), (schema.key, column.key)
            assert column.headers["zh-CN"], (schema.key, column.key)
            if column.type == "enum":
                assert column.values
            if column.type == "reference":
                tab, col = column.ref.split(".")
                assert col in {c.key for c in load_schemas()[tab].columns}
