"""Where tasks are kept: what a task store must do (``TaskStore``), and the DynamoDB store.

The store translates the service's decisions into DynamoDB requests, one per operation in
the common path; it decides nothing. Every read, list and condition takes ``now`` (epoch
seconds): a task whose ``expireAt`` has passed is invisible at once, although DynamoDB's TTL
sweeper deletes it only later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from chalicelib.core import dynamo
from chalicelib.core.conditions import Match, Preconditions
from chalicelib.core.cursor import CursorCodec
from chalicelib.core.dynamo import Expression, Item, KeysetPager, RecordItems, Update
from chalicelib.core.errors import IdempotencyConflict
from chalicelib.core.outcomes import Refused, Remembered
from chalicelib.core.paging import LIMIT, Page, PageBytes
from chalicelib.table import (
    ACTOR_ATTRIBUTE,
    BY_CREATED_INDEX,
    BY_STATUS_INDEX,
    LIST_SORT_KEY,
    PARTITION_KEY,
    STATUS_PARTITION_KEY,
    TTL_ATTRIBUTE,
)
from chalicelib.tasks.record import Task, is_visible
from chalicelib.tasks.schema import (
    CREATED_AT,
    FIELDS,
    ID,
    INTEGER_FIELDS,
    LIST_PARAMETERS,
    PRIORITY,
    STATUS,
    TAGS,
    UPDATED_AT,
    default_for,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import PutTypeDef
else:
    DynamoDBClient = Any

#: A list page's read budget, whatever the owner holds: at most this many items evaluated
#: (the largest page and the one item that tells whether another follows) ...
MAX_ITEMS_READ_PER_PAGE = LIST_PARAMETERS[LIMIT]["maximum"] + 1
#: ... in at most this many Queries (DynamoDB caps each at 1 MB read).
MAX_QUERIES_PER_PAGE = 2
#: The sort key of a task is ``TASK#<id>``; its comments' start with ``TASK#<id>#``.
TASK_KIND = "TASK"
#: An Idempotency-Key's record is ``IDEMPOTENCY#<key>`` (a comment creation's key sits
#: beside, in ``chalicelib.comments.store``).
IDEMPOTENCY_KIND = "IDEMPOTENCY"


@dataclass(frozen=True)
class ListFilters:
    """What a list may be narrowed by; ``status`` is served by its own index."""

    status: str | None = None
    priority: str | None = None
    tag: str | None = None


class TaskStore(Protocol):
    """What the task service needs from a store. Each method is one request in the common
    path; conditional writes report what they met instead of deciding what it means."""

    def get(self, owner: str, task_id: str, now: int) -> Task | None:
        """The visible task, or None."""

    def create(self, owner: str, task: Task, now: int) -> bool:
        """Write a new task; False if a visible task already has its id."""

    def create_idempotent(
        self, owner: str, task: Task, key: str, request_hash: str, now: int, remember_until: int
    ) -> Task | Remembered[Task] | None:
        """Create ``task`` and remember ``key`` with it until ``remember_until``, at once.
        The task when created; what the key remembers when it is in use; None if any task,
        even an expired one, holds the id. IdempotencyConflict when another request holds
        the key right now."""

    def remembered(self, owner: str, key: str, now: int) -> Remembered[Task] | None:
        """What a key still in its window remembers."""

    def upsert(
        self,
        owner: str,
        task_id: str,
        fields: dict[str, Any],
        now: int,
        stamp: str,
        preconditions: Preconditions,
    ) -> Task | Refused[Task]:
        """Create or replace a visible task with ``fields``, every writable field (one left
        out would keep its old value): ``createdAt`` survives a replace and the version
        counts up from 1. Refused[Task] for an expired task and when a precondition does not
        hold."""

    def update(
        self,
        owner: str,
        task_id: str,
        changes: dict[str, Any],
        now: int,
        stamp: str,
        if_match: Match | None,
    ) -> Task | Refused[Task]:
        """Apply field changes (None removes) to a visible task matching ``if_match``."""

    def delete(
        self, owner: str, task_id: str, now: int, if_match: Match | None
    ) -> Refused[Task] | None:
        """Delete a visible task matching ``if_match``; None when deleted."""

    def list_page(
        self,
        owner: str,
        filters: ListFilters,
        limit: int,
        cursor: str | None,
        now: int,
        page_bytes: PageBytes[Task] | None = None,
    ) -> Page[Task]:
        """One page of the owner's visible tasks, newest first (ties: id, descending)."""


_TASKS: RecordItems[Task] = RecordItems(tuple(FIELDS), INTEGER_FIELDS, default_for)


def task_of(item: Item) -> Task:
    """The task an item stores (a stream image included): its schema's fields only."""
    return _TASKS.record(item)


def _key(owner: str, task_id: str) -> Item:
    return dynamo.item_key(owner, TASK_KIND, task_id)


def _idempotency_key(owner: str, key: str) -> Item:
    return dynamo.item_key(owner, IDEMPOTENCY_KIND, key)


def _status_partition(owner: str, status: str) -> str:
    return f"{dynamo.owner_partition(owner)}#STATUS#{status}"


class DynamoTaskStore:
    """Tasks of many owners in one DynamoDB table; every key is scoped by owner."""

    def __init__(self, client: DynamoDBClient, table_name: str, cursors: CursorCodec) -> None:
        self._client = client
        self._table = table_name
        self.pager = KeysetPager(
            client, cursors, _TASKS, MAX_ITEMS_READ_PER_PAGE, MAX_QUERIES_PER_PAGE
        )

    @staticmethod
    def item(owner: str, task: Task) -> Item:
        """The DynamoDB item that stores a task (keys and index attributes included): the
        store writes it, and bulk loaders outside the API (the benchmarks) may too."""
        return _TASKS.item(
            task,
            {
                **_key(owner, task[ID]),
                LIST_SORT_KEY: {"S": dynamo.list_key(task[CREATED_AT], task[ID])},
                STATUS_PARTITION_KEY: {"S": _status_partition(owner, task[STATUS])},
                ACTOR_ATTRIBUTE: {"S": owner},  # who wrote it, for the change stream
            },
        )

    def _visible_task(self, item: Item | None, now: int) -> Task | None:
        task = _TASKS.record(item) if item else None
        return task if task is not None and is_visible(task, now) else None

    @dynamo.translating_errors
    def get(self, owner: str, task_id: str, now: int) -> Task | None:
        response = self._client.get_item(
            TableName=self._table, Key=_key(owner, task_id), ConsistentRead=True
        )
        return self._visible_task(response.get("Item"), now)

    @dynamo.translating_errors
    def create(self, owner: str, task: Task, now: int) -> bool:
        condition = Expression()
        expression = f"{condition.missing()} OR NOT {condition.not_expired(now)}"
        try:
            self._client.put_item(
                TableName=self._table,
                Item=self.item(owner, task),
                ConditionExpression=expression,
                **condition.params(),
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    @dynamo.translating_errors
    def create_idempotent(
        self, owner: str, task: Task, key: str, request_hash: str, now: int, remember_until: int
    ) -> Task | Remembered[Task] | None:
        record = {
            **_idempotency_key(owner, key),
            "requestHash": {"S": request_hash},
            "task": dynamo.serialize(task),
            TTL_ATTRIBUTE: {"N": str(remember_until)},
        }
        unused = Expression()
        unused_condition = f"{unused.missing()} OR NOT {unused.not_expired(now)}"
        new = Expression()
        remember: dict[str, Any] = {
            "TableName": self._table,
            "Item": record,
            "ConditionExpression": unused_condition,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            **unused.params(),
        }
        write: dict[str, Any] = {
            "TableName": self._table,
            "Item": self.item(owner, task),
            "ConditionExpression": new.missing(),
            **new.params(),
        }
        try:
            self._client.transact_write_items(
                TransactItems=[{"Put": cast("PutTypeDef", put)} for put in (remember, write)]
            )
        except self._client.exceptions.TransactionCanceledException as error:
            reasons = cast(
                list[dict[str, Any]], error.response.get("CancellationReasons") or [{}, {}]
            )
            codes = [reason.get("Code") for reason in reasons]
            if codes[0] == "ConditionalCheckFailed":
                return _remembered(reasons[0].get("Item"))
            if "TransactionConflict" in codes:
                raise IdempotencyConflict() from None
            if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                return None
            raise
        return task

    @dynamo.translating_errors
    def remembered(self, owner: str, key: str, now: int) -> Remembered[Task] | None:
        response = self._client.get_item(
            TableName=self._table, Key=_idempotency_key(owner, key), ConsistentRead=True
        )
        record = response.get("Item")
        if record is None or int(record[TTL_ATTRIBUTE]["N"]) <= now:
            return None
        return _remembered(record)

    @dynamo.translating_errors
    def upsert(
        self,
        owner: str,
        task_id: str,
        fields: dict[str, Any],
        now: int,
        stamp: str,
        preconditions: Preconditions,
    ) -> Task | Refused[Task]:
        """One UpdateItem; its condition fails, with the old item, for an expired task and
        when a precondition does not hold."""
        update = Update()
        update.set(ID, task_id)
        for name, value in fields.items():
            update.set(name, value)
        update.set(STATUS_PARTITION_KEY, _status_partition(owner, fields[STATUS]))
        update.set(ACTOR_ATTRIBUTE, owner)
        update.set(UPDATED_AT, stamp)
        update.set_if_missing(CREATED_AT, stamp)
        update.set_if_missing(LIST_SORT_KEY, dynamo.list_key(stamp, task_id))
        update.increment_version()
        if preconditions.if_match is not None:
            condition = update.current(now, preconditions.if_match)
        else:
            condition = f"({update.missing()} OR {update.not_expired(now)})"
        if preconditions.if_none_match is not None:
            condition += f" AND NOT {update.version_matches(preconditions.if_none_match)}"
        return self._update(owner, task_id, update, condition)

    @dynamo.translating_errors
    def update(
        self,
        owner: str,
        task_id: str,
        changes: dict[str, Any],
        now: int,
        stamp: str,
        if_match: Match | None,
    ) -> Task | Refused[Task]:
        update = Update()
        for name, value in changes.items():
            update.set(name, value)
        if STATUS in changes:
            update.set(STATUS_PARTITION_KEY, _status_partition(owner, changes[STATUS]))
        update.set(ACTOR_ATTRIBUTE, owner)
        update.set(UPDATED_AT, stamp)
        update.increment_version()
        return self._update(owner, task_id, update, update.current(now, if_match))

    def _update(
        self, owner: str, task_id: str, update: Update, condition: str
    ) -> Task | Refused[Task]:
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=_key(owner, task_id),
                ConditionExpression=condition,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **update.params(),
            )
        except self._client.exceptions.ConditionalCheckFailedException as error:
            return _refused(dynamo.failed_item(error))
        return _TASKS.record(response["Attributes"])

    @dynamo.translating_errors
    def delete(
        self, owner: str, task_id: str, now: int, if_match: Match | None
    ) -> Refused[Task] | None:
        condition = Expression()
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=_key(owner, task_id),
                ConditionExpression=condition.current(now, if_match),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **condition.params(),
            )
        except self._client.exceptions.ConditionalCheckFailedException as error:
            return _refused(dynamo.failed_item(error))
        return None

    @dynamo.translating_errors
    def list_page(
        self,
        owner: str,
        filters: ListFilters,
        limit: int,
        cursor: str | None,
        now: int,
        page_bytes: PageBytes[Task] | None = None,
    ) -> Page[Task]:
        """Expiry, priority and tag are filter expressions; status has its own index. See
        ``KeysetPager`` for the read budget every page keeps."""
        binding = "\x00".join(
            [owner, filters.status or "", filters.priority or "", filters.tag or ""]
        )
        expression = Expression()
        if filters.status:
            index, partition = BY_STATUS_INDEX, _status_partition(owner, filters.status)
            key = f"{expression.name(STATUS_PARTITION_KEY)} = {expression.value(partition)}"
        else:
            index, partition = BY_CREATED_INDEX, dynamo.owner_partition(owner)
            key = f"{expression.name(PARTITION_KEY)} = {expression.value(partition)}"
        conditions = [expression.not_expired(now)]
        if filters.priority:
            value = expression.value(filters.priority)
            conditions.append(f"{expression.name(PRIORITY)} = {value}")
        if filters.tag:
            conditions.append(f"contains({expression.name(TAGS)}, {expression.value(filters.tag)})")
        query = {
            "TableName": self._table,
            "IndexName": index,
            "FilterExpression": " AND ".join(conditions),
        }
        return self.pager.page(
            query,
            expression,
            key,
            binding=binding,
            limit=limit,
            cursor=cursor,
            now=now,
            page_bytes=page_bytes,
        )


def _refused(item: Item | None) -> Refused[Task]:
    return Refused(_TASKS.record(item) if item else None)


def _remembered(record: Item | None) -> Remembered[Task]:
    if record is None:  # gone between the check and now: let the client retry
        raise IdempotencyConflict()
    return Remembered(record["requestHash"]["S"], _TASKS.record(record["task"]["M"]))
