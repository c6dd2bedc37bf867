"""The store on its own, on moto: keys, owner scoping, versions, one request per call.

The store decides nothing: a conditional write that does not apply comes back ``Refused``
with what it met, and the service (tests/unit/test_task_service.py) says what that means."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.core.conditions import NONE
from chalicelib.core.cursor import CursorCodec
from chalicelib.core.outcomes import Refused
from chalicelib.table import BY_STATUS_INDEX
from chalicelib.tasks.record import Task
from chalicelib.tasks.store import DynamoTaskStore, ListFilters
from tests.conftest import fields, new_task

NOW = 1_800_000_000  # epoch seconds the store is asked about


def ids(store: DynamoTaskStore, owner: str, **filters: Any) -> list[str]:
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
def store(dynamodb: Any, table_name: str) -> DynamoTaskStore:
    return DynamoTaskStore(dynamodb, table_name, CursorCodec([b"k" * 32]))


def put(
    store: DynamoTaskStore, owner: str, task_id: str, fields: dict[str, Any], stamp: str
) -> tuple[Task, bool]:
    """PUT without preconditions, as the service sends it: (task, created)."""
    task = store.upsert(owner, task_id, fields, NOW, stamp, NONE)
    assert not isinstance(task, Refused)
    return task, task["version"] == 1


@pytest.fixture
def calls(dynamodb: Any) -> RequestCounter:
    return RequestCounter(dynamodb)


def test_create_then_get(store: DynamoTaskStore, calls: RequestCounter) -> None:
    task = new_task("a", tags=["x"], dueDate="2030-01-01", expireAt=4102444800)
    assert store.create("alice", task, NOW) is True
    assert store.get("alice", "a", NOW) == task
    assert calls.calls == ["PutItem", "GetItem"]


def test_create_never_overwrites(store: DynamoTaskStore) -> None:
    assert store.create("alice", new_task("a", title="first"), NOW)
    assert store.create("alice", new_task("a", title="second"), NOW) is False
    assert store.get("alice", "a", NOW)["title"] == "first"


def test_items_hold_no_nulls_and_tasks_hold_no_keys(
    store: DynamoTaskStore, dynamodb: Any, table_name: str
) -> None:
    store.create("alice", new_task("a"), NOW)
    item = dynamodb.scan(TableName=table_name)["Items"][0]
    assert item["pk"] == {"S": "OWNER#alice"}
    assert item["sk"] == {"S": "TASK#a"}
    assert item["statusPk"] == {"S": "OWNER#alice#STATUS#new"}
    assert item["listSk"] == {"S": "2026-01-01T00:00:00.000000Z#a"}
    assert "dueDate" not in item
    assert "expireAt" not in item
    task = store.get("alice", "a", NOW)
    assert not {"pk", "sk", "statusPk", "listSk", "owner"} & set(task)


def test_owners_are_isolated(store: DynamoTaskStore) -> None:
    store.create("alice", new_task("same", title="alice's"), NOW)
    store.create("bob", new_task("same", title="bob's"), NOW)
    assert store.get("alice", "same", NOW)["title"] == "alice's"
    assert store.get("bob", "same", NOW)["title"] == "bob's"
    assert store.get("carol", "same", NOW) is None
    assert ids(store, "bob") == ["same"]
    assert store.list_page("bob", ListFilters(), 10, None, NOW).items[0]["title"] == "bob's"
    assert store.update("carol", "same", {"title": "x"}, NOW, "T", None) == Refused(None)
    assert store.delete("carol", "same", NOW, None) == Refused(None)
    assert store.get("alice", "same", NOW)["title"] == "alice's"


def test_put_creates_then_replaces_in_one_request_each(
    store: DynamoTaskStore, calls: RequestCounter
) -> None:
    created, was_created = put(store, "alice", "p", fields(title="one", tags=["a"]), "T1")
    assert was_created is True
    assert created["version"] == 1
    assert created["createdAt"] == created["updatedAt"] == "T1"
    replaced, was_created = put(store, "alice", "p", fields(title="two"), "T2")
    assert was_created is False
    assert replaced["version"] == 2
    assert replaced["createdAt"] == "T1"
    assert replaced["updatedAt"] == "T2"
    assert replaced["tags"] == []
    assert calls.calls == ["UpdateItem", "UpdateItem"]


def test_put_removes_nulled_attributes(store: DynamoTaskStore) -> None:
    put(store, "alice", "p", fields(dueDate="2030-01-01", expireAt=4102444800), "T1")
    task, _ = put(store, "alice", "p", fields(), "T2")
    assert task["dueDate"] is None
    assert task["expireAt"] is None


def test_update_changes_fields_and_moves_status_index(
    store: DynamoTaskStore, dynamodb: Any, table_name: str, calls: RequestCounter
) -> None:
    store.create("alice", new_task("u"), NOW)
    task = store.update("alice", "u", {"status": "completed", "dueDate": None}, NOW, "T2", None)
    assert not isinstance(task, Refused)
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


def test_update_missing_creates_nothing(
    store: DynamoTaskStore, dynamodb: Any, table_name: str
) -> None:
    assert store.update("alice", "ghost", {"title": "x"}, NOW, "T", None) == Refused(None)
    assert dynamodb.scan(TableName=table_name)["Count"] == 0


def test_delete(store: DynamoTaskStore, calls: RequestCounter) -> None:
    store.create("alice", new_task("d"), NOW)
    assert store.delete("alice", "d", NOW, None) is None
    assert store.delete("alice", "d", NOW, None) == Refused(None)
    assert store.get("alice", "d", NOW) is None
    assert calls.calls == ["PutItem", "DeleteItem", "DeleteItem", "GetItem"]


def test_list_is_newest_first_with_ties_broken_by_id(store: DynamoTaskStore) -> None:
    store.create("alice", new_task("b", created="2026-01-02T00:00:00.000000Z"), NOW)
    store.create("alice", new_task("a", created="2026-01-02T00:00:00.000000Z"), NOW)
    store.create("alice", new_task("c", created="2026-01-01T00:00:00.000000Z"), NOW)
    store.create("alice", new_task("z", created="2026-01-03T00:00:00.000000Z"), NOW)
    assert ids(store, "alice") == ["z", "b", "a", "c"]
