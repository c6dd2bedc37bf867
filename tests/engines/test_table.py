"""The single table definition creates what the store relies on."""

from __future__ import annotations

from typing import Any

from chalicelib.table import TABLE_DEFINITION, TTL_ATTRIBUTE, create_table, ensure_table


def test_created_table_matches_definition(dynamodb: Any) -> None:
    create_table(dynamodb, "tasks-def")
    table = dynamodb.describe_table(TableName="tasks-def")["Table"]
    assert table["KeySchema"] == TABLE_DEFINITION["KeySchema"]
    indexes = {i["IndexName"]: i["KeySchema"] for i in table["GlobalSecondaryIndexes"]}
    assert indexes == {
        i["IndexName"]: i["KeySchema"] for i in TABLE_DEFINITION["GlobalSecondaryIndexes"]
    }
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = dynamodb.describe_time_to_live(TableName="tasks-def")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": TTL_ATTRIBUTE}


def test_ensure_table_creates_once(dynamodb: Any) -> None:
    assert ensure_table(dynamodb, "tasks-once") is True
    assert ensure_table(dynamodb, "tasks-once") is False
    assert dynamodb.list_tables()["TableNames"] == ["tasks-once"]
