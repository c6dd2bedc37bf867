"""The task store: DynamoDB keys, expressions, item mapping and list cursors live here.

Every single-item method is one DynamoDB request in the common path. Tasks go in and
come out as plain dicts keyed by the schema's field names; the owner and the key
attributes never leave. A task whose ``expireAt`` has passed is invisible at once,
although DynamoDB's TTL sweeper deletes it only later: every read, list and condition
below takes ``now`` (epoch seconds) for that reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from chalicelib.cursor import CursorCodec
from chalicelib.errors import InvalidCursor
from chalicelib.schema import TASK_SCHEMA, default_for
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

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_INTEGER_FIELDS = ("version", "expireAt")
_TASK_FIELDS = tuple(TASK_SCHEMA["properties"])
#: Largest Limit of one Query while filling a filtered page; DynamoDB caps a response at 1 MB.
_MAX_QUERY_LIMIT = 1000


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


def _owner_key(owner: str) -> str:
    return f"OWNER#{owner}"


def _key(owner: str, task_id: str) -> dict[str, Any]:
    return {
        PARTITION_KEY: {"S": _owner_key(owner)},
        SORT_KEY: {"S": f"TASK#{task_id}"},
    }


def _status_key(owner: str, status: str) -> str:
    return f"{_owner_key(owner)}#STATUS#{status}"


def _list_key(created_at: str, task_id: str) -> str:
    return f"{created_at}#{task_id}"


def _is_visible(task: Task, now: int) -> bool:
    return task["expireAt"] is None or task["expireAt"] > now


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


class TaskStore:
    """Tasks of many owners in one DynamoDB table; every key is scoped by owner."""

    def __init__(self, client: Any, table_name: str, cursors: CursorCodec) -> None:
        self._client = client
        self._table = table_name
        self._cursors = cursors

    def get(self, owner: str, task_id: str, now: int) -> Task | None:
        response = self._client.get_item(
            TableName=self._table, Key=_key(owner, task_id), ConsistentRead=True
        )
        item = response.get("Item")
        task = _to_task(item) if item else None
        return task if task and _is_visible(task, now) else None

    def create(self, owner: str, task: Task) -> bool:
        """Write a new task. False if a task with that id already exists."""
        condition = _Expression()
        expression = f"attribute_not_exists({condition.name(PARTITION_KEY)})"
        return self._put_new(owner, task, expression, condition)

    def put(
        self, owner: str, task_id: str, fields: Task, now: int, stamp: str
    ) -> tuple[Task, bool]:
        """Create or replace the task's writable fields; one request in the common path.

        ``createdAt`` survives a replace and ``version`` counts up from 1; the second
        element of the result says whether the task was created. An expired task that
        TTL has not swept yet is replaced by a new one (a second request, rarely).
        """
        while True:
            replaced = self._upsert(owner, task_id, fields, now, stamp)
            if replaced is not None:
                return replaced, replaced["version"] == 1
            fresh = {"id": task_id, **fields, "createdAt": stamp, "updatedAt": stamp, "version": 1}
            condition = _Expression()
            expression = f"NOT {condition.not_expired(now)}"
            if self._put_new(owner, fresh, expression, condition):
                return fresh, True

    def update(self, owner: str, task_id: str, changes: Task, now: int, stamp: str) -> Task | None:
        """Apply field changes (None removes) to a visible task. None if there is none."""
        update = _Update()
        for name, value in changes.items():
            update.set(name, value)
        if "status" in changes:
            update.set(STATUS_PARTITION_KEY, _status_key(owner, changes["status"]))
        update.set("updatedAt", stamp)
        update.increment_version()
        condition = f"attribute_exists({update.name(PARTITION_KEY)}) AND {update.not_expired(now)}"
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=_key(owner, task_id),
                ConditionExpression=condition,
                ReturnValues="ALL_NEW",
                **update.params(),
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        return _to_task(response["Attributes"])

    def delete(self, owner: str, task_id: str, now: int) -> bool:
        """Delete a visible task. False if there is none."""
        condition = _Expression()
        expression = f"attribute_exists({condition.name(PARTITION_KEY)}) AND "
        expression += condition.not_expired(now)
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=_key(owner, task_id),
                ConditionExpression=expression,
                **condition.params(),
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def list_page(
        self, owner: str, filters: ListFilters, limit: int, cursor: str | None, now: int
    ) -> Page:
        """One page of the owner's visible tasks, newest first (ties: id, descending).

        Unfiltered and status-filtered pages are one Query (Limit = limit + 1, the extra
        item only tells whether a next page exists). Priority and tag are filter
        expressions; then Queries continue, with growing limits, until the page is full.
        The cursor names the last task returned, not DynamoDB's LastEvaluatedKey, so it
        reveals no key schema and every page but the last holds exactly ``limit`` tasks.
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
        items: list[dict[str, Any]] = []
        query_limit = limit + 1
        while True:
            response = self._client.query(**request, Limit=query_limit)
            items.extend(response.get("Items", []))
            if len(items) > limit or "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
            query_limit = min(query_limit * 2, _MAX_QUERY_LIMIT)
        tasks = [_to_task(item) for item in items[:limit]]
        next_cursor = None
        if len(items) > limit:
            last = tasks[-1]
            position = {"createdAt": last["createdAt"], "id": last["id"]}
            next_cursor = self._cursors.encode(position, binding, now)
        return Page(tasks, next_cursor)

    @staticmethod
    def _position(position: dict[str, Any]) -> str:
        created_at, task_id = position.get("createdAt"), position.get("id")
        if not isinstance(created_at, str) or not isinstance(task_id, str):
            raise InvalidCursor("is not a cursor this API issued")
        return _list_key(created_at, task_id)

    def _upsert(self, owner: str, task_id: str, fields: Task, now: int, stamp: str) -> Task | None:
        """UpdateItem that creates or replaces a visible task; None if an expired one is there."""
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
        condition = (
            f"attribute_not_exists({update.name(PARTITION_KEY)}) OR {update.not_expired(now)}"
        )
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=_key(owner, task_id),
                ConditionExpression=condition,
                ReturnValues="ALL_NEW",
                **update.params(),
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        return _to_task(response["Attributes"])

    def _put_new(self, owner: str, task: Task, condition: str, expression: _Expression) -> bool:
        item = {k: _serializer.serialize(v) for k, v in task.items() if v is not None}
        item.update(_key(owner, task["id"]))
        item[LIST_SORT_KEY] = {"S": _list_key(task["createdAt"], task["id"])}
        item[STATUS_PARTITION_KEY] = {"S": _status_key(owner, task["status"])}
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression=condition,
                **expression.params(),
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True
