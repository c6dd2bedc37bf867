"""The task store: DynamoDB keys, expressions and item mapping live here and nowhere else.

Every method is exactly one DynamoDB request. Tasks go in and come out as plain dicts
keyed by the schema's field names; the owner and the key attributes never leave.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from chalicelib.schema import TASK_SCHEMA, default_for
from chalicelib.table import (
    BY_CREATED_INDEX,
    LIST_SORT_KEY,
    PARTITION_KEY,
    SORT_KEY,
    STATUS_PARTITION_KEY,
)

Task = dict[str, Any]

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_INTEGER_FIELDS = ("version", "expireAt")
_TASK_FIELDS = tuple(TASK_SCHEMA["properties"])


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


class _Update:
    """Builds one UpdateExpression with placeholder names for every attribute."""

    def __init__(self) -> None:
        self.sets: list[str] = []
        self.removes: list[str] = []
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

    def set(self, attribute: str, value: Any) -> None:
        if value is None:
            self.removes.append(self.name(attribute))
        else:
            self.sets.append(f"{self.name(attribute)} = {self.value(value)}")

    def set_expression(self, attribute: str, expression: str) -> None:
        self.sets.append(f"{self.name(attribute)} = {expression}")

    def request(self) -> dict[str, Any]:
        clauses = []
        if self.sets:
            clauses.append("SET " + ", ".join(self.sets))
        if self.removes:
            clauses.append("REMOVE " + ", ".join(self.removes))
        return {
            "UpdateExpression": " ".join(clauses),
            "ExpressionAttributeNames": self.names,
            "ExpressionAttributeValues": self.values,
            "ReturnValues": "ALL_NEW",
        }


class TaskStore:
    """Tasks of many owners in one DynamoDB table; every key is scoped by owner."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get(self, owner: str, task_id: str) -> Task | None:
        response = self._client.get_item(
            TableName=self._table, Key=_key(owner, task_id), ConsistentRead=True
        )
        item = response.get("Item")
        return _to_task(item) if item else None

    def create(self, owner: str, task: Task) -> bool:
        """Write a new task. False if a task with that id already exists."""
        item = {k: _serializer.serialize(v) for k, v in task.items() if v is not None}
        item.update(_key(owner, task["id"]))
        item[LIST_SORT_KEY] = {"S": _list_key(task["createdAt"], task["id"])}
        item[STATUS_PARTITION_KEY] = {"S": _status_key(owner, task["status"])}
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": PARTITION_KEY},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def put(self, owner: str, task_id: str, fields: Task, now: str) -> tuple[Task, bool]:
        """Create or replace the task's writable fields in one request.

        ``createdAt`` survives a replace and ``version`` counts up from 1; the second
        element of the result says whether the task was created.
        """
        update = _Update()
        update.set("id", task_id)
        for name, value in fields.items():
            update.set(name, value)
        update.set(STATUS_PARTITION_KEY, _status_key(owner, fields["status"]))
        update.set("updatedAt", now)
        created_at = update.name("createdAt")
        update.set_expression("createdAt", f"if_not_exists({created_at}, {update.value(now)})")
        list_key = update.name(LIST_SORT_KEY)
        fresh_list_key = update.value(_list_key(now, task_id))
        update.set_expression(LIST_SORT_KEY, f"if_not_exists({list_key}, {fresh_list_key})")
        self._increment_version(update)
        response = self._client.update_item(
            TableName=self._table, Key=_key(owner, task_id), **update.request()
        )
        task = _to_task(response["Attributes"])
        return task, task["version"] == 1

    def update(self, owner: str, task_id: str, changes: Task, now: str) -> Task | None:
        """Apply field changes (None removes) to an existing task. None if it is missing."""
        update = _Update()
        for name, value in changes.items():
            update.set(name, value)
        if "status" in changes:
            update.set(STATUS_PARTITION_KEY, _status_key(owner, changes["status"]))
        update.set("updatedAt", now)
        self._increment_version(update)
        request = update.request()
        request["ConditionExpression"] = f"attribute_exists({update.name(PARTITION_KEY)})"
        try:
            response = self._client.update_item(
                TableName=self._table, Key=_key(owner, task_id), **request
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        return _to_task(response["Attributes"])

    def delete(self, owner: str, task_id: str) -> bool:
        """Delete the task. False if it did not exist."""
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=_key(owner, task_id),
                ConditionExpression="attribute_exists(#pk)",
                ExpressionAttributeNames={"#pk": PARTITION_KEY},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def list_all(self, owner: str) -> list[Task]:
        """Every task of the owner, newest first: one Query per 1 MB page, all pages.

        The Listing issue replaces this with one page per request and a cursor.
        """
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": BY_CREATED_INDEX,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
            "ExpressionAttributeValues": {":pk": {"S": _owner_key(owner)}},
            "ScanIndexForward": False,
        }
        tasks: list[Task] = []
        while True:
            response = self._client.query(**request)
            tasks.extend(_to_task(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return tasks
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    @staticmethod
    def _increment_version(update: _Update) -> None:
        version = update.name("version")
        zero, one = update.value(0), update.value(1)
        update.set_expression("version", f"if_not_exists({version}, {zero}) + {one}")
