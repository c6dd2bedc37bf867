"""STAND-IN (branch infra-21): the DynamoDB calls of the lead's writer as of this branch
(events and the purge of a deleted task's comments as batch writes; a query for the
comments). The lead's writer.py replaces it."""

from __future__ import annotations

from typing import Any


class ActivityWriter:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def write(self, requests: list[dict[str, Any]]) -> None:
        self._client.batch_write_item(RequestItems={self._table: requests})

    def comment_keys(self, pk: str, low: str, high: str) -> list[dict[str, Any]]:
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :low AND :high",
            ExpressionAttributeValues={":pk": {"S": pk}, ":low": {"S": low}, ":high": {"S": high}},
        )
        return [{"pk": i["pk"], "sk": i["sk"]} for i in response.get("Items", [])]
