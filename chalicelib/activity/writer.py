"""STAND-IN (branch infra-21): the DynamoDB calls the plan gives the consumer (put events;
query and batch-delete a deleted task's comments). The lead's writer.py replaces it."""

from __future__ import annotations

from typing import Any


class ActivityWriter:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def put_event(self, item: dict[str, Any]) -> None:
        self._client.put_item(TableName=self._table, Item=item)

    def purge_comments(self, pk: str, low: str, high: str) -> None:
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :low AND :high",
            ExpressionAttributeValues={":pk": {"S": pk}, ":low": {"S": low}, ":high": {"S": high}},
        )
        keys = [{"pk": i["pk"], "sk": i["sk"]} for i in response.get("Items", [])]
        if keys:
            self._client.batch_write_item(
                RequestItems={self._table: [{"DeleteRequest": {"Key": k}} for k in keys]}
            )
