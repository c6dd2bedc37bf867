"""Idempotency-Key on POST /tasks: a retried create never makes a duplicate."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber

from chalicelib.core.cursor import CursorCodec
from chalicelib.core.errors import IdempotencyConflict, IdempotencyKeyReused
from chalicelib.core.outcomes import Remembered
from chalicelib.tasks.service import IDEMPOTENCY_WINDOW_SECONDS, TaskService
from chalicelib.tasks.store import DynamoTaskStore, ListFilters
from tests.conftest import Api, Clock, new_task

BODY = {"title": "pay rent", "priority": "high", "tags": ["home"]}


def post(api: Api, key: str, body: dict[str, Any] = BODY) -> Any:
    return api.post("/tasks", body, headers={"Idempotency-Key": key})


def count(api: Api) -> int:
    return api.get("/tasks?limit=100").json["count"]


def test_repeat_with_same_key_and_body_returns_the_same_task_as_201(api: Api) -> None:
    first = post(api, "k-1")
    assert first.status == 201
    again = post(api, "k-1")
    assert again.status == 201
    assert again.json == first.json
    assert again.header("ETag") == first.header("ETag")
    assert again.header("Location") == first.header("Location")
    assert count(api) == 1


def test_same_body_in_another_key_order_is_the_same_request(api: Api) -> None:
    first = post(api, "k-1", {"title": "a", "tags": ["x"]})
    again = api.post(
        "/tasks",
        body=b'{"tags": ["x"],   "title": "a"}',
        headers={"Idempotency-Key": "k-1", "Content-Type": "application/json"},
    )
    assert again.json["id"] == first.json["id"]


def test_same_key_with_a_different_body_is_422_and_creates_nothing(api: Api) -> None:
    post(api, "k-1")
    reply = post(api, "k-1", {**BODY, "title": "pay the rent"})
    assert reply.status == 422
    assert reply.header("Content-Type") == "application/problem+json"
    assert count(api) == 1


def test_different_keys_create_different_tasks(api: Api) -> None:
    assert post(api, "k-1").json["id"] != post(api, "k-2").json["id"]
    assert count(api) == 2


def test_without_a_key_every_post_creates(api: Api) -> None:
    api.post("/tasks", BODY)
    api.post("/tasks", BODY)
    assert count(api) == 2


def test_replay_returns_the_created_task_even_after_it_changed(api: Api) -> None:
    first = post(api, "k-1").json
    api.patch(f"/tasks/{first['id']}", {"title": "edited"})
    assert post(api, "k-1").json == first
    api.delete(f"/tasks/{first['id']}")
    assert post(api, "k-1").json == first
    assert count(api) == 0


def test_quoted_key_is_the_same_key(api: Api) -> None:
    first = post(api, "abc").json
    assert post(api, '"abc"').json == first
    escaped = post(api, '"a\\"b\\\\c"').json
    assert post(api, 'a"b\\c').json == escaped


@pytest.mark.parametrize(
    "key",
    ["a", "x" * 255, "!#$%&'()*+,-./:;<=>?@[]^_`{|}~", "0f8fad5b-d9cb-469f-a165-70867728950e"],
)
def test_valid_keys(api: Api, key: str) -> None:
    assert post(api, key).status == 201
    assert post(api, key).status == 201
    assert count(api) == 1


@pytest.mark.parametrize(
    "key",
    ["", "x" * 256, "has space", "tab\there", "caf\u00e9", '"', '"unterminated', '""', '"a\\b"'],
)
def test_invalid_key_is_400_and_creates_nothing(api: Api, key: str) -> None:
    reply = post(api, key)
    assert reply.status == 400
    assert reply.json["errors"][0]["header"] == "Idempotency-Key"
    assert count(api) == 0


def test_invalid_body_with_a_key_remembers_nothing(api: Api) -> None:
    assert post(api, "k-1", {"title": ""}).status == 400
    assert post(api, "k-1").status == 201
    assert count(api) == 1


def test_key_is_remembered_for_the_whole_window(api: Api, clock: Clock) -> None:
    first = post(api, "k-1").json
    clock.advance(seconds=IDEMPOTENCY_WINDOW_SECONDS - 2)
    assert post(api, "k-1").json == first
    clock.advance(seconds=3)
    after = post(api, "k-1")
    assert after.status == 201
    assert after.json["id"] != first["id"]
    assert count(api) == 2


def task(task_id: str) -> dict[str, Any]:
    return new_task(task_id, created=f"2026-01-01T00:00:00.00000{task_id[-1]}Z")


def test_keys_are_scoped_per_owner(dynamodb: Any, table_name: str) -> None:
    store = DynamoTaskStore(dynamodb, table_name, CursorCodec([b"k" * 32]))
    alice = store.create_idempotent("alice", task("a1"), "same-key", "h", 0, 100)
    assert alice == task("a1")  # created
    bob = store.create_idempotent("bob", task("b1"), "same-key", "h", 0, 100)
    assert bob == task("b1")
    replay = store.create_idempotent("bob", task("b2"), "same-key", "h", 0, 100)
    assert replay == Remembered("h", task("b1"))  # the key's first task: no new one
    assert store.create_idempotent("alice", task("a2"), "same-key", "other", 0, 100) == (
        Remembered("h", task("a1"))
    )
    assert [t["id"] for t in store.list_page("bob", ListFilters(), 10, None, 0).items] == ["b1"]


def test_a_key_reused_with_another_request_is_refused(dynamodb: Any, table_name: str) -> None:
    """The service decides what a remembered key means: the same request replays, another
    request is refused."""
    store = DynamoTaskStore(dynamodb, table_name, CursorCodec([b"k" * 32]))
    service = TaskService(store)
    first = service.create("alice", {"title": "t"}, "key")
    assert service.create("alice", {"title": "t"}, "key") == first
    with pytest.raises(IdempotencyKeyReused):
        service.create("alice", {"title": "other"}, "key")
    assert [t["id"] for t in store.list_page("alice", ListFilters(), 10, None, 0).items] == [
        first["id"]
    ]


def test_idempotency_records_are_not_tasks(dynamodb: Any, table_name: str) -> None:
    store = DynamoTaskStore(dynamodb, table_name, CursorCodec([b"k" * 32]))
    store.create_idempotent("alice", task("a1"), "key", "h", 0, 100)
    assert [t["id"] for t in store.list_page("alice", ListFilters(), 10, None, 0).items] == ["a1"]
    assert store.get("alice", "key", 0) is None


def test_a_conflicting_transaction_is_409(dynamodb: Any, table_name: str) -> None:
    """DynamoDB cancels one of two concurrent transactions on the same key."""
    store = DynamoTaskStore(dynamodb, table_name, CursorCodec([b"k" * 32]))
    with Stubber(dynamodb) as stub:
        stub.add_client_error(
            "transact_write_items",
            service_error_code="TransactionCanceledException",
            service_message="Transaction cancelled",
            modeled_fields={
                "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}]
            },
        )
        with pytest.raises(IdempotencyConflict):
            store.create_idempotent("alice", task("a1"), "key", "h", 0, 100)


def test_conflict_is_a_409_problem_with_retry_after(
    app_only: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def conflict(*args: Any, **kwargs: Any) -> Any:
        raise IdempotencyConflict()

    monkeypatch.setattr(DynamoTaskStore, "create_idempotent", conflict)
    reply = post(app_only, "k-1")
    assert reply.status == 409
    assert reply.header("Retry-After") == "1"
    assert reply.header("Content-Type") == "application/problem+json"


def test_requests_that_store_the_same_task_are_the_same_request(api: Api) -> None:
    first = post(api, "k-1", {"title": "a", "expireAt": 4102444800}).json
    same = [
        {"title": "a", "expireAt": 4102444800.0},
        {"title": "a", "expireAt": 4102444800, "priority": "medium", "id": "ignored"},
    ]
    for body in same:
        again = post(api, "k-1", body)
        assert (again.status, again.json) == (201, first)
    assert post(api, "k-1", {"title": "a"}).status == 422


def test_a_retry_after_expire_at_passed_still_replays(api: Api, clock: Clock) -> None:
    body = {"title": "soon gone", "expireAt": clock.epoch + 3}
    first = post(api, "k-exp", body)
    assert first.status == 201
    clock.advance(seconds=5)
    again = post(api, "k-exp", body)
    assert (again.status, again.json) == (201, first.json)
    assert post(api, "k-other", body).status == 400  # a new request must still be valid
    changed = post(api, "k-exp", {**body, "title": "another"})
    assert changed.status == 422  # the key was used for another request
