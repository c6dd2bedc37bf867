"""Comments on a task, over HTTP on both engines: every route, a task that is missing,
expired, deleted or another owner's (404 on every route), validation, preconditions,
idempotency, the list's pages, the items as stored and what each operation costs."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from chalicelib import runtime
from chalicelib.comments.schema import MAX_BODY_LENGTH
from chalicelib.comments.service import COMMENT_ID_PARAMETER, TASK_ID_PARAMETER, CommentService
from chalicelib.comments.store import DynamoCommentStore, Gone
from chalicelib.core.cursor import CursorCodec
from chalicelib.core.errors import IdempotencyConflict, StoreUnavailable
from chalicelib.table import ACTOR_ATTRIBUTE, LIST_SORT_KEY, STATUS_PARTITION_KEY
from tests.conftest import Api, Clock, Reply
from tests.engines.test_openapi import COMMITTED, conforms

JSON = "application/json"
PROBLEM = "application/problem+json"


def comments_of(task_id: str) -> str:
    return f"/tasks/{task_id}/comments"


def comment(api: Api, task_id: str, body: str = "a comment", **headers: str) -> Reply:
    return api.post(comments_of(task_id), {"body": body}, headers=headers)


@pytest.fixture
def task(api: Api) -> dict[str, Any]:
    return api.create(title="Buy milk")


def routes(task_id: str, comment_id: str) -> list[tuple[str, str, Any]]:
    """Every comment route, as (method, path, body)."""
    item = f"{comments_of(task_id)}/{comment_id}"
    return [
        ("POST", comments_of(task_id), {"body": "b"}),
        ("GET", comments_of(task_id), None),
        ("GET", item, None),
        ("PATCH", item, {"body": "p"}),
        ("DELETE", item, None),
    ]


def send(api: Api, method: str, path: str, body: Any, **headers: str) -> Reply:
    if method == "PATCH":
        headers.setdefault("Content-Type", "application/merge-patch+json")
    return api.request(method, path, body, headers=headers)


def assert_task_not_found(reply: Reply, task_id: str) -> None:
    assert reply.status == 404, reply.body
    assert reply.header("Content-Type") == PROBLEM
    assert reply.json["detail"] == f"No task with id '{task_id}'."


# --- every route ------------------------------------------------------------------------


def test_a_comments_round_trip(api: Api, task: dict[str, Any]) -> None:
    created = comment(api, task["id"], "On my way")
    assert created.status == 201
    body = created.json
    assert body["taskId"] == task["id"]
    assert body["body"] == "On my way"
    assert body["author"] == {"type": "user", "id": "local"}
    assert body["version"] == 1
    assert body["createdAt"] == body["updatedAt"]
    location = f"{comments_of(task['id'])}/{body['id']}"
    assert created.header("Location") == location

    read = api.get(location)
    assert (read.status, read.json, read.header("ETag")) == (
        200,
        body,
        created.header("ETag"),
    )
    assert api.get(location, headers={"If-None-Match": read.header("ETag")}).status == 304

    edited = api.patch(location, {"body": "Bought it"}, headers={"If-Match": read.header("ETag")})
    assert edited.status == 200
    assert edited.json == {
        **body,
        "body": "Bought it",
        "version": 2,
        "updatedAt": edited.json["updatedAt"],
    }
    assert edited.json["updatedAt"] > body["updatedAt"]
    assert edited.header("ETag") != read.header("ETag")
    assert api.get(location).json == edited.json

    plain_json = api.patch(location, {"body": "as JSON"}, headers={"Content-Type": JSON})
    assert (plain_json.status, plain_json.json["version"]) == (200, 3)

    listed = api.get(comments_of(task["id"]))
    assert listed.json == {"items": [plain_json.json], "count": 1, "nextCursor": None}

    assert api.delete(location).status == 204
    assert api.get(location).status == 404
    assert api.delete(location).status == 404
    assert api.get(comments_of(task["id"])).json["items"] == []


def test_comments_are_oldest_first_and_each_tasks_own(api: Api) -> None:
    first, second = api.create(title="one"), api.create(title="two")
    bodies = [f"c{i}" for i in range(5)]
    for text in bodies:
        comment(api, first["id"], text)
        comment(api, second["id"], text.upper())
    assert [c["body"] for c in api.get(comments_of(first["id"])).json["items"]] == bodies
    listed = api.get(comments_of(second["id"])).json["items"]
    assert [c["body"] for c in listed] == [text.upper() for text in bodies]
    assert [c["id"] for c in listed] == sorted(c["id"] for c in listed)


def test_comments_are_not_tasks(api: Api, task: dict[str, Any]) -> None:
    comment(api, task["id"])
    for query in ("", "?status=new"):
        assert [t["id"] for t in api.get(f"/tasks{query}").json["items"]] == [task["id"]]
    assert api.get(f"/tasks/{task['id']}").json == task  # the task is unchanged


def test_each_write_stamps_the_owner_as_actor_on_an_item_under_its_task(api: Api) -> None:
    bob = api.as_user("bob")
    task = bob.create(title="bob's")
    created = comment(bob, task["id"]).json
    client, table = runtime.shared().client, runtime.shared().table_name
    owner = created["author"]["id"]
    key = {
        "pk": {"S": f"OWNER#{owner}"},
        "sk": {"S": f"TASK#{task['id']}#COMMENT#{created['id']}"},
    }
    item = client.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    assert item[ACTOR_ATTRIBUTE] == {"S": owner}
    assert LIST_SORT_KEY not in item
    assert STATUS_PARTITION_KEY not in item
    path = f"{comments_of(task['id'])}/{created['id']}"
    bob.patch(path, {"body": "edited"})
    item = client.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    assert (item[ACTOR_ATTRIBUTE], item["body"]) == ({"S": owner}, {"S": "edited"})


# --- the task must exist ----------------------------------------------------------------


def test_every_route_is_404_for_a_task_that_does_not_exist(api: Api) -> None:
    for method, path, body in routes("no-such-task", "no-such-comment"):
        assert_task_not_found(send(api, method, path, body), "no-such-task")


def test_every_route_is_404_for_another_owners_task(api: Api, task: dict[str, Any]) -> None:
    mine = comment(api, task["id"]).json
    bob = api.as_user("bob")
    for method, path, body in routes(task["id"], mine["id"]):
        assert_task_not_found(send(bob, method, path, body), task["id"])
    assert api.get(f"{comments_of(task['id'])}/{mine['id']}").json == mine


def test_every_route_is_404_once_the_task_has_expired(api: Api, clock: Clock) -> None:
    task = api.create(title="soon gone", expireAt=clock.epoch + 10)
    kept = comment(api, task["id"]).json
    etag = api.get(f"{comments_of(task['id'])}/{kept['id']}").header("ETag")
    clock.advance(seconds=10)
    for method, path, body in routes(task["id"], kept["id"]):
        assert_task_not_found(send(api, method, path, body, **{"If-Match": etag}), task["id"])


def test_a_deleted_tasks_comments_are_unreachable_at_once(
    api: Api, dynamodb_calls: list[str], task: dict[str, Any]
) -> None:
    kept = comment(api, task["id"]).json
    dynamodb_calls.clear()
    assert api.delete(f"/tasks/{task['id']}").status == 204
    assert dynamodb_calls == ["DeleteItem"]  # the task's DELETE stays one request
    for method, path, body in routes(task["id"], kept["id"]):
        assert_task_not_found(send(api, method, path, body), task["id"])


def test_a_missing_comment_of_a_live_task_is_404_for_the_comment(
    api: Api, task: dict[str, Any]
) -> None:
    for method, path, body in routes(task["id"], "no-such-comment")[2:]:
        reply = send(api, method, path, body)
        assert reply.status == 404
        assert reply.json["detail"] == "No comment with id 'no-such-comment'."


# --- validation -------------------------------------------------------------------------


def test_a_post_reports_every_invalid_value_at_once(app_only: Api) -> None:
    reply = app_only.post(comments_of("-bad"), {"body": " ", "colour": "red"})
    assert reply.status == 400
    assert reply.json["errors"] == [
        {"parameter": TASK_ID_PARAMETER, "detail": reply.json["errors"][0]["detail"]},
        {"pointer": "/body", "detail": "must not be blank"},
        {"pointer": "/colour", "detail": "is not a known field"},
    ]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({}, "is required"),
        ({"body": ""}, "must not be empty"),
        ({"body": "\u3000\n"}, "must not be blank"),
        ({"body": "x" * (MAX_BODY_LENGTH + 1)}, f"must be at most {MAX_BODY_LENGTH} characters"),
        ({"body": ["a"]}, "must be a string"),
    ],
)
def test_the_body_is_1_to_5000_characters_not_blank(
    app_only: Api, body: dict[str, Any], detail: str
) -> None:
    reply = app_only.post(comments_of("t1"), body)
    assert reply.status == 400
    assert reply.json["errors"] == [{"pointer": "/body", "detail": detail}]


def test_the_longest_body_in_four_byte_characters_is_accepted(
    api: Api, task: dict[str, Any]
) -> None:
    longest = "😀" * MAX_BODY_LENGTH
    created = comment(api, task["id"], longest)
    assert created.status == 201
    assert api.get(created.header("Location") or "").json["body"] == longest


def test_server_fields_sent_are_ignored(api: Api, task: dict[str, Any]) -> None:
    sent = {
        "body": "b",
        "id": "chosen",
        "taskId": "other",
        "author": {"type": "user", "id": "mallory"},
        "version": 9,
    }
    created = api.post(comments_of(task["id"]), sent).json
    assert (created["id"] != "chosen", created["taskId"], created["author"]["id"]) == (
        True,
        task["id"],
        "local",
    )
    patched = api.patch(f"{comments_of(task['id'])}/{created['id']}", {**sent, "body": "c"})
    assert (patched.status, patched.json["version"], patched.json["body"]) == (200, 2, "c")


def test_a_patch_reports_both_ids_and_the_body_at_once(app_only: Api) -> None:
    reply = app_only.patch(f"{comments_of('-t')}/-c", {"body": None})
    assert reply.status == 400
    assert [e.get("parameter") or e.get("pointer") for e in reply.json["errors"]] == [
        TASK_ID_PARAMETER,
        COMMENT_ID_PARAMETER,
        "/body",
    ]


def test_wrong_content_types_are_415(app_only: Api) -> None:
    path = comments_of("t1")
    text = {"Content-Type": "text/plain"}
    assert app_only.post(path, body="b", headers=text).status == 415
    assert app_only.request("PATCH", f"{path}/c1", body="b", headers=text).status == 415


# --- preconditions ----------------------------------------------------------------------


def test_a_stale_if_match_is_412_and_changes_nothing(api: Api, task: dict[str, Any]) -> None:
    created = comment(api, task["id"])
    path, first_etag = created.header("Location") or "", created.header("ETag") or ""
    assert api.patch(path, {"body": "v2"}, headers={"If-Match": first_etag}).status == 200
    for reply in (
        api.patch(path, {"body": "v3"}, headers={"If-Match": first_etag}),
        api.patch(path, {}, headers={"If-Match": first_etag}),
        api.delete(path, headers={"If-Match": first_etag}),
    ):
        assert reply.status == 412
        assert "GET the comment" in reply.json["detail"]
    current = api.get(path)
    assert (current.json["body"], current.json["version"]) == ("v2", 2)
    etags = f"{first_etag}, {current.header('ETag')}"
    assert api.patch(path, {"body": "v3"}, headers={"If-Match": etags}).status == 200
    assert api.delete(path, headers={"If-Match": "*"}).status == 204


def test_an_empty_patch_keeps_the_version(api: Api, task: dict[str, Any]) -> None:
    created = comment(api, task["id"])
    path = created.header("Location") or ""
    same = api.patch(path, {}, headers={"If-Match": created.header("ETag") or ""})
    assert (same.status, same.json, same.header("ETag")) == (
        200,
        created.json,
        created.header("ETag"),
    )


# --- idempotency ------------------------------------------------------------------------


def test_a_retried_post_with_its_key_creates_one_comment(api: Api, task: dict[str, Any]) -> None:
    first = comment(api, task["id"], "once", **{"Idempotency-Key": "note-1"})
    again = comment(api, task["id"], "once", **{"Idempotency-Key": "note-1"})
    assert (first.status, again.status) == (201, 201)
    assert again.json == first.json
    assert again.header("Location") == first.header("Location")
    assert again.header("ETag") == first.header("ETag")
    assert api.get(comments_of(task["id"])).json["count"] == 1
    other_body = comment(api, task["id"], "twice", **{"Idempotency-Key": "note-1"})
    assert other_body.status == 422
    other_task = api.create(title="another")
    assert comment(api, other_task["id"], "once", **{"Idempotency-Key": "note-1"}).status == 422
    assert api.get(comments_of(other_task["id"])).json["count"] == 0


def test_a_comments_key_and_a_tasks_key_never_meet(api: Api, task: dict[str, Any]) -> None:
    """Comment creations keep their keys apart from task creations', so a key reused across
    the two creates one of each, and a key that reads like the other's cannot reach it."""
    key = {"Idempotency-Key": "shared"}
    made = api.post("/tasks", {"title": "with a key"}, headers=key)
    commented = comment(api, task["id"], "with a key", **key)
    assert (made.status, commented.status) == (201, 201)
    assert api.post("/tasks", {"title": "with a key"}, headers=key).json == made.json
    lookalike = {"Idempotency-Key": "shared COMMENT"}  # refused: keys hold no space
    assert api.post("/tasks", {"title": "x"}, headers=lookalike).status == 400


def test_a_key_on_a_missing_task_is_404(api: Api) -> None:
    reply = comment(api, "no-such-task", **{"Idempotency-Key": "k"})
    assert_task_not_found(reply, "no-such-task")


# --- pages ------------------------------------------------------------------------------


def walk(api: Api, task_id: str, limit: int) -> Iterator[Reply]:
    """Every page of the task's comments, following each page's Link."""
    path: str | None = f"{comments_of(task_id)}?limit={limit}"
    while path is not None:
        reply = api.get(path)
        assert reply.status == 200, reply.body
        yield reply
        link = reply.header("Link")
        assert (link is None) == (reply.json["nextCursor"] is None)
        path = link[1 : link.index(">")] if link else None


@pytest.mark.parametrize("limit", [1, 3, 7])
def test_walking_the_pages_shows_every_comment_once_oldest_first(
    api: Api, task: dict[str, Any], limit: int
) -> None:
    created = [comment(api, task["id"], f"c{i}").json["id"] for i in range(7)]
    pages = list(walk(api, task["id"], limit))
    assert [c["id"] for page in pages for c in page.json["items"]] == created
    assert all(page.json["count"] == limit for page in pages[:-1])
    assert len(pages) == -(-7 // limit)  # no empty page at the end


def test_a_cursor_serves_only_its_own_task_and_owner(api: Api) -> None:
    first, second = api.create(title="one"), api.create(title="two")
    for task in (first, second):
        for i in range(3):
            comment(api, task["id"], f"c{i}")
    cursor = api.get(f"{comments_of(first['id'])}?limit=1").json["nextCursor"]
    assert cursor is not None
    quoted = urllib.parse.quote(cursor)
    for path in (
        f"{comments_of(second['id'])}?limit=1&cursor={quoted}",
        f"/tasks?cursor={quoted}",
        f"{comments_of(first['id'])}?cursor=forged.cursor",
    ):
        reply = api.get(path)
        assert reply.status == 400, path
        assert reply.json["errors"][0]["parameter"] == "cursor"
    bob = api.as_user("bob")
    bobs = bob.create(title="bob's")
    reply = bob.get(f"{comments_of(bobs['id'])}?limit=1&cursor={quoted}")
    assert reply.status == 400


def test_a_later_page_of_a_deleted_task_is_404(api: Api, task: dict[str, Any]) -> None:
    for i in range(3):
        comment(api, task["id"], f"c{i}")
    cursor = api.get(f"{comments_of(task['id'])}?limit=1").json["nextCursor"]
    api.delete(f"/tasks/{task['id']}")
    reply = api.get(f"{comments_of(task['id'])}?limit=1&cursor={urllib.parse.quote(cursor)}")
    assert_task_not_found(reply, task["id"])


def test_a_page_of_the_largest_comments_ends_within_its_byte_budget(
    api: Api, task: dict[str, Any]
) -> None:
    """100 comments of 5,000 emoji weigh about 6 MB in Lambda's result: over its limit.
    The page ends early, with a cursor, and the walk still shows each comment once."""
    largest = "😀" * MAX_BODY_LENGTH
    created = [comment(api, task["id"], largest).json["id"] for _ in range(30)]
    pages = list(walk(api, task["id"], 100))
    assert len(pages) > 1
    assert [c["id"] for page in pages for c in page.json["items"]] == created


class CutQueries:
    """The client, with each Query cut after ``items`` items, with a LastEvaluatedKey, as
    DynamoDB's 1 MB cap cuts a Query of large items."""

    def __init__(self, client: Any, items: int) -> None:
        self._client, self._items = client, items

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def query(self, **request: Any) -> Any:
        response = self._client.query(**request)
        kept = response["Items"][: self._items]
        if len(kept) == len(response["Items"]):
            return response
        last = {name: kept[-1][name] for name in ("pk", "sk")}
        return {**response, "Items": kept, "Count": len(kept), "LastEvaluatedKey": last}


@pytest.mark.parametrize("items", [1, 2, 3])
def test_a_page_cut_short_by_dynamodb_resumes_where_it_stopped(
    dynamodb: Any, table_name: str, items: int
) -> None:
    """Cut after the task item alone (1), or after some comments: the page is short, its
    cursor resumes after the last item read, and the walk shows each comment once."""
    store = DynamoCommentStore(dynamodb, table_name, CursorCodec([b"k" * 32]))
    dynamodb.put_item(
        TableName=table_name, Item={"pk": {"S": "OWNER#alice"}, "sk": {"S": "TASK#t1"}}
    )
    created = [
        CommentService(store).create("alice", "t1", {"body": f"c{i}"})["id"] for i in range(5)
    ]
    cut = DynamoCommentStore(CutQueries(dynamodb, items), table_name, CursorCodec([b"k" * 32]))
    shown, cursor, pages = [], None, 0
    while True:
        page = cut.list_page("alice", "t1", 10, cursor, 0)
        assert not isinstance(page, Gone)
        shown += [c["id"] for c in page.items]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert shown == created
    assert pages > 1


# --- what each operation costs --------------------------------------------------------


def test_each_operation_costs_what_it_states(
    api: Api, dynamodb_calls: list[str], task: dict[str, Any]
) -> None:
    """A write is one transaction with its check on the task; a read one BatchGetItem; a
    first page one Query. A later page reads the task first (GetItem), and a PATCH that
    names no single ETag reads the comment first."""
    created = comment(api, task["id"])
    path, etag = created.header("Location") or "", created.header("ETag") or ""
    for i in range(3):
        comment(api, task["id"], f"c{i}")
    comment(api, task["id"], "keyed", **{"Idempotency-Key": "k0"})
    cursor = urllib.parse.quote(api.get(f"{comments_of(task['id'])}?limit=1").json["nextCursor"])
    collection = comments_of(task["id"])
    transaction, read = ["TransactWriteItems"], ["BatchGetItem"]
    costs: list[tuple[str, str, Any, dict[str, str], list[str]]] = [
        ("POST", collection, {"body": "n"}, {}, transaction),
        ("POST", collection, {"body": "n"}, {"Idempotency-Key": "k1"}, transaction),
        ("POST", collection, {"body": "keyed"}, {"Idempotency-Key": "k0"}, transaction),
        ("POST", comments_of("none"), {"body": "n"}, {}, transaction),
        ("GET", path, None, {}, read),
        ("GET", path, None, {"If-None-Match": etag}, read),
        ("GET", f"{collection}/none", None, {}, read),
        ("GET", collection, None, {}, ["Query"]),
        ("GET", comments_of("none"), None, {}, ["Query"]),
        ("GET", f"{collection}?limit=1&cursor={cursor}", None, {}, ["GetItem", "Query"]),
        ("PATCH", path, {"body": "p"}, {"If-Match": etag}, transaction),
        ("PATCH", path, {"body": "p"}, {"If-Match": etag}, transaction),  # now stale: 412
        ("PATCH", path, {"body": "p"}, {}, [*read, *transaction]),
        ("PATCH", path, {"body": "p"}, {"If-Match": "*"}, [*read, *transaction]),
        ("PATCH", path, {}, {}, read),
        ("DELETE", path, None, {"If-Match": etag}, transaction),  # stale: 412
        ("DELETE", path, None, {}, transaction),
        ("DELETE", path, None, {}, transaction),  # gone: 404
    ]
    for method, target, body, headers, expected in costs:
        dynamodb_calls.clear()
        reply = send(api, method, target, body, **headers)
        assert reply.status < 500, (method, target, reply.body)
        assert dynamodb_calls == expected, (method, target, headers, reply.status)


def test_a_transaction_that_meets_another_write_is_a_503_to_retry(
    dynamodb: Any, table_name: str
) -> None:
    store = DynamoCommentStore(dynamodb, table_name, CursorCodec([b"k" * 32]))
    with Stubber(dynamodb) as stub:
        stub.add_client_error(
            "transact_write_items",
            service_error_code="TransactionCanceledException",
            service_message="Transaction cancelled",
            modeled_fields={
                "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}]
            },
        )
        with pytest.raises(StoreUnavailable):
            store.delete("alice", "t1", "c1", None, 0)


def test_a_key_in_use_by_a_concurrent_request_is_409(dynamodb: Any, table_name: str) -> None:
    store = DynamoCommentStore(dynamodb, table_name, CursorCodec([b"k" * 32]))
    service = CommentService(store)
    dynamodb.put_item(
        TableName=table_name, Item={"pk": {"S": "OWNER#alice"}, "sk": {"S": "TASK#t1"}}
    )
    with Stubber(dynamodb) as stub:
        stub.add_client_error(
            "transact_write_items",
            service_error_code="TransactionCanceledException",
            service_message="Transaction cancelled",
            modeled_fields={
                "CancellationReasons": [
                    {"Code": "None"},
                    {"Code": "TransactionConflict"},
                    {"Code": "None"},
                ]
            },
        )
        with pytest.raises(IdempotencyConflict):
            service.create("alice", "t1", {"body": "b"}, "key")


# --- the documented contract ------------------------------------------------------------


def test_every_comment_response_is_documented_and_conforms(api: Api, task: dict[str, Any]) -> None:
    collection = comments_of(task["id"])
    item = f"{collection}/{{comment_id}}"
    documented_collection = "/tasks/{task_id}/comments"
    documented_item = f"{documented_collection}/{{comment_id}}"
    created = comment(api, task["id"], **{"Idempotency-Key": "k1"})
    path, etag = created.header("Location") or "", created.header("ETag") or ""
    comment(api, task["id"])
    stale = '"1.20000101000000000000"'
    exchanges = [
        (documented_collection, "POST", created),
        (documented_collection, "POST", comment(api, task["id"], " ")),
        (documented_collection, "POST", comment(api, "none")),
        (documented_collection, "POST", comment(api, task["id"], "x", **{"Idempotency-Key": "k1"})),
        (documented_collection, "GET", api.get(f"{collection}?limit=1")),
        (documented_collection, "GET", api.get(f"{collection}?limit=0")),
        (documented_collection, "GET", api.get(comments_of("none"))),
        (documented_item, "GET", api.get(path)),
        (documented_item, "GET", api.get(path, headers={"If-None-Match": etag})),
        (documented_item, "GET", api.get(item.format(comment_id="none"))),
        (documented_item, "PATCH", api.patch(path, {"body": "p"}, headers={"If-Match": etag})),
        (documented_item, "PATCH", api.patch(path, {"body": "q"}, headers={"If-Match": stale})),
        (documented_item, "PATCH", api.patch(path, {"body": ""})),
        (documented_item, "DELETE", api.delete(path, headers={"If-Match": stale})),
        (documented_item, "DELETE", api.delete(path)),
        (documented_item, "DELETE", api.delete(path)),
    ]
    statuses = set()
    for documented_path, method, reply in exchanges:
        conforms(COMMITTED, documented_path, method, reply)
        statuses.add(reply.status)
    assert statuses == {200, 201, 204, 304, 400, 404, 412, 422}
