"""Every DynamoDB request the stream consumer makes, and nothing the API makes: events written,
and a deleted task's comments removed. The consumer's IAM policy is derived from this module
alone (tests/unit/test_iam_policy.py).

Both are idempotent: an event's key derives from the stream record it records, so a
redelivered batch rewrites the same items; deleting what is gone changes nothing.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from chalicelib.activity.record import Entry
from chalicelib.activity.schema import ID, TASK_ID
from chalicelib.activity.store import activity_partition, history_prefix
from chalicelib.comments.service import earliest_id
from chalicelib.comments.store import KIND as COMMENT_KIND
from chalicelib.core import dynamo
from chalicelib.core.clock import Clock, utc_now
from chalicelib.core.dynamo import Expression, Item
from chalicelib.core.record import CREATED_AT
from chalicelib.table import LIST_SORT_KEY, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE
from chalicelib.tasks.store import TASK_KIND

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

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        retention_seconds: int,
        clock: Clock = utc_now,
    ) -> None:
        self._client = client
        self._table = table_name
        self._retention = retention_seconds
        self._clock = clock

    def item(self, owner: str, entry: Entry) -> Item:
        """The item that stores an event: in the task's history (the sort key) and in the
        owner's feed (the list index), both in the entry's order, gone after the retention
        (TTL)."""
        event = entry.event
        position = f"{entry.order}#{event[ID]}"
        return {
            **{name: dynamo.serialize(value) for name, value in event.items()},
            PARTITION_KEY: {"S": activity_partition(owner)},
            SORT_KEY: {"S": history_prefix(event[TASK_ID]) + position},
            LIST_SORT_KEY: {"S": position},
            TTL_ATTRIBUTE: {"N": str(entry.at_epoch + self._retention)},
        }

    @dynamo.translating_errors
    def put(self, owner: str, entries: Sequence[Entry]) -> None:
        """Write events, 25 per request."""
        requests = [{"PutRequest": {"Item": self.item(owner, entry)}} for entry in entries]
        for start in range(0, len(requests), BATCH_SIZE):
            self._write(requests[start : start + BATCH_SIZE])

    @dynamo.translating_errors
    def purge_comments(
        self, owner: str, task_id: str, made_before: dt.datetime | None = None
    ) -> int:
        """Delete the comments of a task that is gone: those made before ``made_before``, before
        now, and before the task that has its id now, if one does. A task made again at the
        id before the stream got here keeps its comments: the first Query starts at the task's
        own key, so it reads that task (strongly consistent) before any comment, and a task
        made after the Query has comments made after now. Page by page; returns how many."""
        bound = min(made_before or self._clock(), self._clock())
        task_key = f"{TASK_KIND}#{task_id}"
        prefix = comments_prefix(task_id)
        deleted = 0
        start: Item | None = None
        while True:
            expression = Expression()
            partition, sort_key = expression.name(PARTITION_KEY), expression.name(SORT_KEY)
            owner_value = expression.value(dynamo.owner_partition(owner))
            lower = expression.value(task_key if start is None else prefix)
            upper = expression.value(prefix + earliest_id(bound))
            query: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": (
                    f"{partition} = {owner_value} AND {sort_key} BETWEEN {lower} AND {upper}"
                ),
                "ProjectionExpression": f"{partition}, {sort_key}, {expression.name(CREATED_AT)}",
                "ConsistentRead": True,
                **expression.params(),
            }
            if start is not None:
                query["ExclusiveStartKey"] = start
            response = self._client.query(**query)
            items = response.get("Items", [])
            if start is None and items and items[0][SORT_KEY]["S"] == task_key:
                created = items.pop(0).get(CREATED_AT, {}).get("S")
                if created:  # a task made again at the id: its comments stay
                    bound = min(bound, dt.datetime.fromisoformat(created.replace("Z", "+00:00")))
            last = prefix + earliest_id(bound)
            keys = [
                {"DeleteRequest": {"Key": {PARTITION_KEY: item[PARTITION_KEY], SORT_KEY: key}}}
                for item in items
                if (key := item[SORT_KEY])["S"].startswith(prefix) and key["S"] < last
            ]
            for first in range(0, len(keys), BATCH_SIZE):
                self._write(keys[first : first + BATCH_SIZE])
            deleted += len(keys)
            start = response.get("LastEvaluatedKey")
            if start is None or start[SORT_KEY]["S"] >= last:
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
