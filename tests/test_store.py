"""The store on its own, on moto: keys, owner scoping, versions, one request per call."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.cursor import CursorCodec
from chalicelib.errors import TaskNotFound
from chalicelib.store import ListFilters, TaskStore
from chalicelib.table import BY_STATUS_INDEX
from tests.conftest import fields, new_task

NOW = 1_800_000_000  # epoch seconds the store is asked about


def ids(store: TaskStore, owner: str, **filters: Any) -> list[str]:
    page = store.list_page(owner, ListFilters(**filters), 100, None, NOW)
    assert page.next_cursor is None
    return [t["id"] for t in page.items]


class RequestCounter:
    """Counts the DynamoDB API calls a client makes, through botocore's event hooks."""

    def __init__(self, client: Any) -> None:
        self.calls: list[str] = []
        client.meta.events.register("before-call.dynamodb.*", self._count)

    def _count(self, model: Any, **kwargs: Any) -> None:
        self.calls.append(model.name)


@pytest.fixture
def store(dynamodb: Any, table_name: str) -> TaskStore:
    return TaskStore(dynamodb, table_name, CursorCodec([b"k" * 32]))


@pytest.fixture
def calls(dynamodb: Any) -> RequestCounter:
    return RequestCounter(dynamodb)


def test_create_then_get(store: TaskStore, calls: RequestCounter) -> None:
    task = new_task("a", tags=["x"], dueDate="2030-01-01", expireAt=4102444800)
    assert store.create("alice", task) is True
    assert store.get("alice", "a", NOW) == task
    assert calls.calls == ["PutItem", "GetItem"]


def test_create_never_overwrites(store: TaskStore) -> None:
    assert store.create("alice", new_task("a", title="first"))
    assert store.create("alice", new_task("a", title="second")) is False
    assert store.get("alice", "a", NOW)["title"] == "first"


def test_items_hold_no_nulls_and_tasks_hold_no_keys(
    store: TaskStore, dynamodb: Any, table_name: str
) -> None:
    store.create("alice", new_task("a"))
    item = dynamodb.scan(TableName=table_name)["Items"][0]
    assert item["pk"] == {"S": "OWNER#alice"}
    assert item["sk"] == {"S": "TASK#a"}
    assert item["statusPk"] == {"S": "OWNER#alice#STATUS#new"}
    assert item["listSk"] == {"S": "2026-01-01T00:00:00.000000Z#a"}
    assert "dueDate" not in item
    assert "expireAt" not in item
    task = store.get("alice", "a", NOW)
    assert not {"pk", "sk", "statusPk", "listSk", "owner"} & set(task)


def test_owners_are_isolated(store: TaskStore) -> None:
    store.create("alice", new_task("same", title="alice's"))
    store.create("bob", new_task("same", title="bob's"))
    assert store.get("alice", "same", NOW)["title"] == "alice's"
    assert store.get("bob", "same", NOW)["title"] == "bob's"
    assert store.get("carol", "same", NOW) is None
    assert ids(store, "bob") == ["same"]
    assert store.list_page("bob", ListFilters(), 10, None, NOW).items[0]["title"] == "bob's"
    with pytest.raises(TaskNotFound):
        store.update("carol", "same", {"title": "x"}, NOW, "T")
    with pytest.raises(TaskNotFound):
        store.delete("carol", "same", NOW)
    assert store.get("alice", "same", NOW)["title"] == "alice's"


def test_put_creates_then_replaces_in_one_request_each(
    store: TaskStore, calls: RequestCounter
) -> None:
    created, was_created = store.put("alice", "p", fields(title="one", tags=["a"]), NOW, "T1")
    assert was_created is True
    assert created["version"] == 1
    assert created["createdAt"] == created["updatedAt"] == "T1"
    replaced, was_created = store.put("alice", "p", fields(title="two"), NOW, "T2")
    assert was_created is False
    assert replaced["version"] == 2
    assert replaced["createdAt"] == "T1"
    assert replaced["updatedAt"] == "T2"
    assert replaced["tags"] == []
    assert calls.calls == ["UpdateItem", "UpdateItem"]


def test_put_removes_nulled_attributes(store: TaskStore) -> None:
    store.put("alice", "p", fields(dueDate="2030-01-01", expireAt=4102444800), NOW, "T1")
    task, _ = store.put("alice", "p", fields(), NOW, "T2")
    assert task["dueDate"] is None
    assert task["expireAt"] is None


def test_update_changes_fields_and_moves_status_index(
    store: TaskStore, dynamodb: Any, table_name: str, calls: RequestCounter
) -> None:
    store.create("alice", new_task("u"))
    task = store.update("alice", "u", {"status": "completed", "dueDate": None}, NOW, "T2")
    assert task["status"] == "completed"
    assert task["version"] == 2
    assert task["updatedAt"] == "T2"
    assert calls.calls[-1] == "UpdateItem"
    by_status = dynamodb.query(
        TableName=table_name,
        IndexName=BY_STATUS_INDEX,
        KeyConditionExpression="statusPk = :s",
        ExpressionAttributeValues={":s": {"S": "OWNER#alice#STATUS#completed"}},
    )
    assert [i["id"]["S"] for i in by_status["Items"]] == ["u"]


def test_update_missing_creates_nothing(store: TaskStore, dynamodb: Any, table_name: str) -> None:
    with pytest.raises(TaskNotFound):
        store.update("alice", "ghost", {"title": "x"}, NOW, "T")
    assert dynamodb.scan(TableName=table_name)["Count"] == 0


def test_delete(store: TaskStore, calls: RequestCounter) -> None:
    store.create("alice", new_task("d"))
    store.delete("alice", "d", NOW)
    with pytest.raises(TaskNotFound):
        store.delete("alice", "d", NOW)
    assert store.get("alice", "d", NOW) is None
    assert calls.calls == ["PutItem", "DeleteItem", "DeleteItem", "GetItem"]


def test_list_is_newest_first_with_ties_broken_by_id(store: TaskStore) -> None:
    store.create("alice", new_task("b", created="2026-01-02T00:00:00.000000Z"))
    store.create("alice", new_task("a", created="2026-01-02T00:00:00.000000Z"))
    store.create("alice", new_task("c", created="2026-01-01T00:00:00.000000Z"))
    store.create("alice", new_task("z", created="2026-01-03T00:00:00.000000Z"))
    assert ids(store, "alice") == ["z", "b", "a", "c"]
