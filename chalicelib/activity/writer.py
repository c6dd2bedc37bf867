"""Every DynamoDB request the stream consumer makes, and nothing the API makes: events written,
and a deleted task's comments removed. The consumer's IAM policy is derived from this module
alone (tests/unit/test_iam_policy.py).

Both are idempotent: an event's key derives from the stream record it records, so a
redelivered batch rewrites the same items; deleting what is gone changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from chalicelib.activity.record import Event
from chalicelib.activity.schema import AT, ID, TASK_ID
from chalicelib.activity.store import activity_partition, history_prefix
from chalicelib.comments.store import KIND as COMMENT_KIND
from chalicelib.core import dynamo
from chalicelib.core.dynamo import Expression, Item
from chalicelib.table import LIST_SORT_KEY, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
else:
    DynamoDBClient = Any

#: BatchWriteItem's limit, and how often unprocessed items are sent again before giving up
#: (the record then fails, and the stream delivers it again).
BATCH_SIZE = 25
MAX_BATCH_ATTEMPTS = 4


def comments_prefix(task_id: str) -> str:
    return f"TASK#{task_id}#{COMMENT_KIND}#"


class IncompleteWrite(Exception):
    """DynamoDB left items unprocessed after every attempt: the record is retried."""


class ActivityWriter:
    """Writes events into the owner's activity partition, kept for ``retention_seconds``."""

    def __init__(self, client: DynamoDBClient, table_name: str, retention_seconds: int) -> None:
        self._client = client
        self._table = table_name
        self._retention = retention_seconds

    def item(self, owner: str, event: Event, at_epoch: int) -> Item:
        """The item that stores an event: in the task's history (the sort key) and in the
        owner's feed (the list index), gone after the retention (TTL)."""
        position = f"{event[AT]}#{event[ID]}"
        return {
            **{name: dynamo.serialize(value) for name, value in event.items()},
            PARTITION_KEY: {"S": activity_partition(owner)},
            SORT_KEY: {"S": history_prefix(event[TASK_ID]) + position},
            LIST_SORT_KEY: {"S": position},
            TTL_ATTRIBUTE: {"N": str(at_epoch + self._retention)},
        }

    @dynamo.translating_errors
    def put(self, owner: str, events: Sequence[tuple[Event, int]]) -> None:
        """Write ``(event, when it happened in epoch seconds)`` pairs, 25 per request."""
        requests = [{"PutRequest": {"Item": self.item(owner, *pair)}} for pair in events]
        for start in range(0, len(requests), BATCH_SIZE):
            self._write(requests[start : start + BATCH_SIZE])

    @dynamo.translating_errors
    def purge_comments(self, owner: str, task_id: str, before: str | None = None) -> int:
        """Delete the comments of a task that is gone, page by page (``before``: only those
        whose ids sort before it, for a task whose id a new task took); returns how many."""
        deleted = 0
        start: Item | None = None
        while True:
            expression = Expression()
            partition = expression.name(PARTITION_KEY)
            sort_key = expression.name(SORT_KEY)
            owner_value = expression.value(dynamo.owner_partition(owner))
            prefix = expression.value(comments_prefix(task_id))
            if before is None:
                within = f"begins_with({sort_key}, {prefix})"
            else:
                bound = expression.value(comments_prefix(task_id) + before)
                within = f"{sort_key} BETWEEN {prefix} AND {bound}"
            query: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": f"{partition} = {owner_value} AND {within}",
                "ProjectionExpression": f"{partition}, {sort_key}",
                **expression.params(),
            }
            if start is not None:
                query["ExclusiveStartKey"] = start
            response = self._client.query(**query)
            keys = [{"DeleteRequest": {"Key": key}} for key in response.get("Items", [])]
            for first in range(0, len(keys), BATCH_SIZE):
                self._write(keys[first : first + BATCH_SIZE])
            deleted += len(keys)
            start = response.get("LastEvaluatedKey")
            if start is None:
                return deleted

    def _write(self, requests: list[dict[str, Any]]) -> None:
        pending = requests
        for attempt in range(MAX_BATCH_ATTEMPTS):
            if not pending:
                return
            if attempt:
                time.sleep(0.05 * 2**attempt)  # DynamoDB asks for backoff on unprocessed items
            response = self._client.batch_write_item(RequestItems={self._table: pending})  # type: ignore[dict-item]
            unprocessed = response.get("UnprocessedItems", {}).get(self._table, [])
            pending = cast(list[dict[str, Any]], unprocessed)
        if pending:
            raise IncompleteWrite(f"{len(pending)} items unprocessed")
