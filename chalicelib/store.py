"""The task store: DynamoDB keys, expressions, item mapping and list cursors live here.

Every single-item method is one DynamoDB request in the common path. Tasks go in and
come out as plain dicts keyed by the schema's field names; the owner and the key
attributes never leave. A task whose ``expireAt`` has passed is invisible at once,
although DynamoDB's TTL sweeper deletes it only later: every read, list and condition
below takes ``now`` (epoch seconds) for that reason.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from chalicelib.conditions import ANY, NONE, Match, Preconditions
from chalicelib.cursor import CursorCodec
from chalicelib.errors import (
    IdempotencyConflict,
    IdempotencyKeyReused,
    InvalidCursor,
    PreconditionFailed,
    StoreUnavailable,
    TaskNotFound,
)
from chalicelib.schema import FIELDS, LIST_PARAMETERS, default_for
from chalicelib.table import (
    BY_CREATED_INDEX,
    BY_STATUS_INDEX,
    LIST_SORT_KEY,
    PARTITION_KEY,
    SORT_KEY,
    STATUS_PARTITION_KEY,
    TTL_ATTRIBUTE,
)

Task = dict[str, Any]
P = ParamSpec("P")
R = TypeVar("R")

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_INTEGER_FIELDS = ("version", "expireAt")
_TASK_FIELDS = tuple(FIELDS)
#: A list page's read budget, whatever the owner holds: at most this many items evaluated
#: (the largest page and the one item that tells whether another follows) ...
MAX_ITEMS_READ_PER_PAGE = LIST_PARAMETERS["limit"]["maximum"] + 1
#: ... in at most this many Queries (DynamoDB caps each at 1 MB read).
MAX_QUERIES_PER_PAGE = 2


@dataclass(frozen=True)
class ListFilters:
    """What a list may be narrowed by; ``status`` is served by its own index."""

    status: str | None = None
    priority: str | None = None
    tag: str | None = None


@dataclass(frozen=True)
class Page:
    items: list[Task]
    next_cursor: str | None


@dataclass(frozen=True)
class PageBytes:
    """A byte budget for a page's tasks, as the HTTP layer will encode them."""

    budget: int
    weigh: Callable[[Task], int]

    def fitting(self, tasks: list[Task]) -> list[Task]:
        """The longest prefix of ``tasks`` within the budget, and never less than one
        task (the largest valid task is far below any budget), so a walk always moves."""
        total = 0
        for count, task in enumerate(tasks):
            total += self.weigh(task)
            if total > self.budget and count > 0:
                return tasks[:count]
        return tasks


def _task_position(task: Task) -> dict[str, str]:
    return {"createdAt": task["createdAt"], "id": task["id"]}


def _key_position(key: dict[str, Any]) -> dict[str, str]:
    """The list position of an item DynamoDB read last (a LastEvaluatedKey): its list
    sort key is ``<createdAt>#<id>``, and neither part can hold a ``#``."""
    created_at, _, task_id = key[LIST_SORT_KEY]["S"].partition("#")
    return {"createdAt": created_at, "id": task_id}


def _owner_key(owner: str) -> str:
    return f"OWNER#{owner}"


def _item_key(owner: str, kind: str, name: str) -> dict[str, Any]:
    """Primary key of an owner's item: a task (TASK#id) or an idempotency record."""
    return {
        PARTITION_KEY: {"S": _owner_key(owner)},
        SORT_KEY: {"S": f"{kind}#{name}"},
    }


def _key(owner: str, task_id: str) -> dict[str, Any]:
    return _item_key(owner, "TASK", task_id)


def _status_key(owner: str, status: str) -> str:
    return f"{_owner_key(owner)}#STATUS#{status}"


def _list_key(created_at: str, task_id: str) -> str:
    return f"{created_at}#{task_id}"


def _idempotency_key(owner: str, key: str) -> dict[str, Any]:
    return _item_key(owner, "IDEMPOTENCY", key)


def _is_visible(task: Task, now: int) -> bool:
    return task["expireAt"] is None or task["expireAt"] > now


def _old_task(error: Any) -> Task | None:
    """The item a failed condition saw (ReturnValuesOnConditionCheckFailure=ALL_OLD)."""
    item = error.response.get("Item")
    return _to_task(item) if item else None


def _to_task(item: dict[str, Any]) -> Task:
    """Exactly the schema's fields, in its order; null fields are stored as absent."""
    task = {
        name: _deserializer.deserialize(item[name]) if name in item else default_for(name)
        for name in _TASK_FIELDS
    }
    for name in _INTEGER_FIELDS:
        if task[name] is not None:
            task[name] = int(task[name])
    return task


class _Expression:
    """Collects placeholder names and values for one request's expressions."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def name(self, attribute: str) -> str:
        placeholder = f"#a{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = _serializer.serialize(value)
        return placeholder

    def not_expired(self, now: int) -> str:
        expire_at = self.name(TTL_ATTRIBUTE)
        return f"(attribute_not_exists({expire_at}) OR {expire_at} > {self.value(now)})"

    def exists(self) -> str:
        return f"attribute_exists({self.name(PARTITION_KEY)})"

    def version_matches(self, match: Match) -> str:
        """The current version is one of ``match`` (any existing task for ``*``)."""
        if match == ANY:
            return self.exists()
        if not match:
            return f"{self.name('version')} = {self.value(-1)}"  # nothing can match
        alternatives = [
            f"({self.name('version')} = {self.value(v.version)} AND "
            f"{self.name('createdAt')} = {self.value(v.created_at)})"
            for v in match
        ]
        # DynamoDB rejects redundant parentheses, such as ((a AND b)).
        return alternatives[0] if len(alternatives) == 1 else f"({' OR '.join(alternatives)})"

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"ExpressionAttributeNames": self.names}
        if self.values:
            params["ExpressionAttributeValues"] = self.values
        return params


class _Update(_Expression):
    """Builds one UpdateExpression: SET for values, REMOVE for nulls."""

    def __init__(self) -> None:
        super().__init__()
        self.sets: list[str] = []
        self.removes: list[str] = []

    def set(self, attribute: str, value: Any) -> None:
        if value is None:
            self.removes.append(self.name(attribute))
        else:
            self.sets.append(f"{self.name(attribute)} = {self.value(value)}")

    def set_expression(self, attribute: str, expression: str) -> None:
        self.sets.append(f"{self.name(attribute)} = {expression}")

    def increment_version(self) -> None:
        version = self.name("version")
        zero, one = self.value(0), self.value(1)
        self.sets.append(f"{version} = if_not_exists({version}, {zero}) + {one}")

    def params(self) -> dict[str, Any]:
        clauses = []
        if self.sets:
            clauses.append("SET " + ", ".join(self.sets))
        if self.removes:
            clauses.append("REMOVE " + ", ".join(self.removes))
        return {"UpdateExpression": " ".join(clauses), **super().params()}


#: DynamoDB's answers when it throttles (after the client's own retries ran out).
THROTTLING_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)


def _unavailable(error: Exception) -> StoreUnavailable | None:
    """The domain error for a DynamoDB failure that a later retry may not meet; None for
    every other error (a bug, a misconfiguration), which must stay a 500."""
    if isinstance(error, BotoConnectionError | HTTPClientError):
        return StoreUnavailable(f"DynamoDB unreachable: {type(error).__name__}")
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        reasons = error.response.get("CancellationReasons") or []
        cancelled_by_throttling = any(r.get("Code") == "ThrottlingError" for r in reasons)
        if code in THROTTLING_CODES or cancelled_by_throttling:
            return StoreUnavailable(f"DynamoDB throttled: {code}")
    return None


def translating_errors(method: Callable[P, R]) -> Callable[P, R]:
    """Throttling and unreachable DynamoDB become StoreUnavailable; nothing else changes."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except (ClientError, BotoConnectionError, HTTPClientError) as error:
            unavailable = _unavailable(error)
            if unavailable is None:
                raise
            raise unavailable from error

    return wrapper


class TaskStore:
    """Tasks of many owners in one DynamoDB table; every key is scoped by owner."""

    def __init__(self, client: Any, table_name: str, cursors: CursorCodec) -> None:
        self._client = client
        self._table = table_name
        self._cursors = cursors

    @translating_errors
    def get(self, owner: str, task_id: str, now: int) -> Task | None:
        response = self._client.get_item(
            TableName=self._table, Key=_key(owner, task_id), ConsistentRead=True
        )
        item = response.get("Item")
        task = _to_task(item) if item else None
        return task if task and _is_visible(task, now) else None

    @translating_errors
    def create(self, owner: str, task: Task) -> bool:
        """Write a new task. False if a task with that id already exists."""
        condition = _Expression()
        expression = f"attribute_not_exists({condition.name(PARTITION_KEY)})"
        return self._put_new(owner, task, expression, condition)

    @translating_errors
    def create_idempotent(
        self, owner: str, task: Task, key: str, request_hash: str, now: int, remember_until: int
    ) -> tuple[Task, bool] | None:
        """Create a task and remember the Idempotency-Key with it, in one transaction.

        Returns (task, True) when created, (the originally created task, False) when the
        key was already used with the same request, None if the new id is taken. The
        key's record is honoured until ``remember_until``; after that it is replaced.
        """
        record = {
            **_idempotency_key(owner, key),
            "requestHash": {"S": request_hash},
            "task": _serializer.serialize(task),
            TTL_ATTRIBUTE: {"N": str(remember_until)},
        }
        unused = _Expression()
        unused_condition = (
            f"attribute_not_exists({unused.name(PARTITION_KEY)}) OR NOT {unused.not_expired(now)}"
        )
        new = _Expression()
        new_condition = f"attribute_not_exists({new.name(PARTITION_KEY)})"
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": record,
                            "ConditionExpression": unused_condition,
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                            **unused.params(),
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": self.item(owner, task),
                            "ConditionExpression": new_condition,
                            **new.params(),
                        }
                    },
                ]
            )
        except self._client.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons") or [{}, {}]
            codes = [reason.get("Code") for reason in reasons]
            if codes[0] == "ConditionalCheckFailed":
                return self._replay(reasons[0].get("Item"), request_hash), False
            if "TransactionConflict" in codes:
                raise IdempotencyConflict() from None
            if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                return None
            raise
        return task, True

    @translating_errors
    def remembered(self, owner: str, key: str, request_hash: str, now: int) -> Task | None:
        """The task created under an Idempotency-Key still in its window, or None."""
        response = self._client.get_item(
            TableName=self._table, Key=_idempotency_key(owner, key), ConsistentRead=True
        )
        record = response.get("Item")
        if record is None or int(record[TTL_ATTRIBUTE]["N"]) <= now:
            return None
        return self._replay(record, request_hash)

    @staticmethod
    def _replay(record: dict[str, Any] | None, request_hash: str) -> Task:
        if record is None:  # gone between the check and now: let the client retry
            raise IdempotencyConflict()
        if record["requestHash"]["S"] != request_hash:
            raise IdempotencyKeyReused()
        return _to_task(record["task"]["M"])

    @translating_errors
    def put(
        self,
        owner: str,
        task_id: str,
        fields: Task,
        now: int,
        stamp: str,
        preconditions: Preconditions = NONE,
    ) -> tuple[Task, bool]:
        """Create or replace the task's writable fields; one request in the common path.

        ``createdAt`` survives a replace and ``version`` counts up from 1; the second
        element of the result says whether the task was created. An expired task that
        TTL has not swept yet is replaced by a new one (a second request, rarely).
        Raises PreconditionFailed when If-Match / If-None-Match do not hold.
        """
        fresh = {"id": task_id, **fields, "createdAt": stamp, "updatedAt": stamp, "version": 1}
        if preconditions.if_none_match == ANY and preconditions.if_match is not None:
            raise PreconditionFailed(task_id)  # must exist and must not: never both
        if preconditions.if_none_match == ANY:  # create only: one conditional PutItem
            condition = _Expression()
            missing = f"attribute_not_exists({condition.name(PARTITION_KEY)})"
            expression = f"{missing} OR NOT {condition.not_expired(now)}"
            if not self._put_new(owner, fresh, expression, condition):
                raise PreconditionFailed(task_id)
            return fresh, True
        while True:
            try:
                replaced = self._upsert(owner, task_id, fields, now, stamp, preconditions)
                return replaced, replaced["version"] == 1
            except self._client.exceptions.ConditionalCheckFailedException as error:
                old = _old_task(error)
            if preconditions.if_match is not None or (old and _is_visible(old, now)):
                raise PreconditionFailed(task_id)
            condition = _Expression()
            expression = f"NOT {condition.not_expired(now)}"
            if self._put_new(owner, fresh, expression, condition):
                return fresh, True

    @translating_errors
    def update(
        self,
        owner: str,
        task_id: str,
        changes: Task,
        now: int,
        stamp: str,
        if_match: Match | None = None,
    ) -> Task:
        """Apply field changes (None removes) to a visible task, if it matches ``if_match``."""
        update = _Update()
        for name, value in changes.items():
            update.set(name, value)
        if "status" in changes:
            update.set(STATUS_PARTITION_KEY, _status_key(owner, changes["status"]))
        update.set("updatedAt", stamp)
        update.increment_version()
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=_key(owner, task_id),
                ConditionExpression=self._current(update, now, if_match),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **update.params(),
            )
        except self._client.exceptions.ConditionalCheckFailedException as error:
            raise self._failure(task_id, _old_task(error), now) from None
        return _to_task(response["Attributes"])

    @translating_errors
    def delete(self, owner: str, task_id: str, now: int, if_match: Match | None = None) -> None:
        """Delete a visible task, if it matches ``if_match``."""
        condition = _Expression()
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=_key(owner, task_id),
                ConditionExpression=self._current(condition, now, if_match),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **condition.params(),
            )
        except self._client.exceptions.ConditionalCheckFailedException as error:
            raise self._failure(task_id, _old_task(error), now) from None

    @staticmethod
    def _current(expression: _Expression, now: int, if_match: Match | None) -> str:
        """Condition: the task exists, has not expired and matches ``if_match``."""
        condition = f"{expression.exists()} AND {expression.not_expired(now)}"
        if if_match is not None:
            condition += f" AND {expression.version_matches(if_match)}"
        return condition

    @staticmethod
    def _failure(task_id: str, old: Task | None, now: int) -> Exception:
        """404 when there was no visible task, 412 when there was one that did not match."""
        if old is not None and _is_visible(old, now):
            return PreconditionFailed(task_id)
        return TaskNotFound(task_id)

    @translating_errors
    def list_page(
        self,
        owner: str,
        filters: ListFilters,
        limit: int,
        cursor: str | None,
        now: int,
        page_bytes: PageBytes | None = None,
    ) -> Page:
        """One page of the owner's visible tasks, newest first (ties: id, descending).

        Every request has the same read budget, whatever the owner holds: at most
        ``MAX_QUERIES_PER_PAGE`` Queries evaluating at most ``MAX_ITEMS_READ_PER_PAGE``
        items. The first Query evaluates ``limit + 1`` items (the extra one only tells
        whether a next page exists), which fills an unfiltered page. Expiry, priority and
        tag are filter expressions, applied after DynamoDB has read the items: when they
        leave the page short, a second Query reads the rest of the budget. A page that is
        still short then holds what matched, possibly nothing, and a cursor at the last
        item read, so the next page resumes exactly there.

        ``page_bytes`` ends a page early, at a task boundary, when its tasks would weigh
        more than its budget. The cursor names a list position, not DynamoDB's
        LastEvaluatedKey, so it reveals no key schema.
        """
        binding = "\x00".join(
            [owner, filters.status or "", filters.priority or "", filters.tag or ""]
        )
        expression = _Expression()
        if filters.status:
            index, partition = BY_STATUS_INDEX, _status_key(owner, filters.status)
            key = f"{expression.name(STATUS_PARTITION_KEY)} = {expression.value(partition)}"
        else:
            index = BY_CREATED_INDEX
            key = f"{expression.name(PARTITION_KEY)} = {expression.value(_owner_key(owner))}"
        if cursor is not None:
            after = self._position(self._cursors.decode(cursor, binding, now))
            key += f" AND {expression.name(LIST_SORT_KEY)} < {expression.value(after)}"
        conditions = [expression.not_expired(now)]
        if filters.priority:
            value = expression.value(filters.priority)
            conditions.append(f"{expression.name('priority')} = {value}")
        if filters.tag:
            conditions.append(
                f"contains({expression.name('tags')}, {expression.value(filters.tag)})"
            )
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": key,
            "FilterExpression": " AND ".join(conditions),
            "ScanIndexForward": False,
            **expression.params(),
        }
        matched: list[dict[str, Any]] = []
        tasks: list[Task] = []
        read, last_read = 0, None
        query_limit = min(limit + 1, MAX_ITEMS_READ_PER_PAGE)
        for _ in range(MAX_QUERIES_PER_PAGE):
            response = self._client.query(**request, Limit=query_limit)
            matched.extend(response.get("Items", []))
            read += response.get("ScannedCount", query_limit)
            last_read = response.get("LastEvaluatedKey")
            query_limit = MAX_ITEMS_READ_PER_PAGE - read
            candidates = [_to_task(item) for item in matched[:limit]]
            tasks = page_bytes.fitting(candidates) if page_bytes else candidates
            full = len(tasks) == limit or len(tasks) < len(candidates)  # in tasks or bytes
            if full or last_read is None or query_limit <= 0:
                break
            request["ExclusiveStartKey"] = last_read
        if len(tasks) < len(matched):  # more matched than the page holds
            position = _task_position(tasks[-1])
        elif last_read is not None:  # the budget ran out before the end of the list
            position = _key_position(last_read)
        else:
            return Page(tasks, None)
        return Page(tasks, self._cursors.encode(position, binding, now))

    @staticmethod
    def _position(position: dict[str, Any]) -> str:
        created_at, task_id = position.get("createdAt"), position.get("id")
        if not isinstance(created_at, str) or not isinstance(task_id, str):
            raise InvalidCursor("is not a cursor this API issued")
        return _list_key(created_at, task_id)

    def _upsert(
        self,
        owner: str,
        task_id: str,
        fields: Task,
        now: int,
        stamp: str,
        preconditions: Preconditions,
    ) -> Task:
        """UpdateItem that creates or replaces a visible task. The condition fails
        (ConditionalCheckFailedException, with the old item) for an expired task and
        when a precondition does not hold."""
        update = _Update()
        update.set("id", task_id)
        for name, value in fields.items():
            update.set(name, value)
        update.set(STATUS_PARTITION_KEY, _status_key(owner, fields["status"]))
        update.set("updatedAt", stamp)
        created_at = update.name("createdAt")
        update.set_expression("createdAt", f"if_not_exists({created_at}, {update.value(stamp)})")
        list_key = update.name(LIST_SORT_KEY)
        fresh_list_key = update.value(_list_key(stamp, task_id))
        update.set_expression(LIST_SORT_KEY, f"if_not_exists({list_key}, {fresh_list_key})")
        update.increment_version()
        if preconditions.if_match is not None:
            condition = self._current(update, now, preconditions.if_match)
        else:
            missing = f"attribute_not_exists({update.name(PARTITION_KEY)})"
            condition = f"({missing} OR {update.not_expired(now)})"
        if preconditions.if_none_match is not None:
            condition += f" AND NOT {update.version_matches(preconditions.if_none_match)}"
        response = self._client.update_item(
            TableName=self._table,
            Key=_key(owner, task_id),
            ConditionExpression=condition,
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
            **update.params(),
        )
        return _to_task(response["Attributes"])

    @staticmethod
    def item(owner: str, task: Task) -> dict[str, Any]:
        """The DynamoDB item that stores a task (keys and index attributes included): the
        store writes it, and bulk loaders outside the API (the benchmarks) may too."""
        item = {k: _serializer.serialize(v) for k, v in task.items() if v is not None}
        item.update(_key(owner, task["id"]))
        item[LIST_SORT_KEY] = {"S": _list_key(task["createdAt"], task["id"])}
        item[STATUS_PARTITION_KEY] = {"S": _status_key(owner, task["status"])}
        return item

    def _put_new(self, owner: str, task: Task, condition: str, expression: _Expression) -> bool:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=self.item(owner, task),
                ConditionExpression=condition,
                **expression.params(),
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True
