"""A task's history and the owner's feed, written by the stream consumer from the table's
real change stream (moto's and DynamoDB Local's), read through the API. In these tests the
stream is read when a test says so (``stream_poller.drain``)."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import Any

import boto3
import pytest
from botocore.config import Config

from chalicelib import runtime
from chalicelib.activity import consumer
from chalicelib.activity.routes import activity_writer
from chalicelib.comments.service import time_ordered_id
from chalicelib.comments.store import DynamoCommentStore
from devserver import stream_poller
from tests.conftest import Api, Clock
from tools import dev_token


def history(api: Api, task_id: str, query: str = "") -> dict[str, Any]:
    stream_poller.drain()
    reply = api.get(f"/tasks/{task_id}/activity{query}")
    assert reply.status == 200, reply.body
    return reply.json


def test_a_tasks_history_tells_its_whole_story_newest_first(api: Api) -> None:
    task = api.create(title="Buy milk", priority="low")
    path = f"/tasks/{task['id']}"
    assert api.patch(path, {"title": "Buy oat milk", "tags": ["errands"]}).status == 200
    assert api.patch(path, {"status": "completed"}).status == 200
    assert api.delete(path).status == 204
    page = history(api, task["id"])
    assert [e["type"] for e in page["items"]] == ["deleted", "updated", "updated", "created"]
    deleted, completed, edited, created = page["items"]
    assert created["version"] == 1
    assert created["at"] == task["createdAt"]
    assert edited["changes"] == {
        "title": {"from": "Buy milk", "to": "Buy oat milk"},
        "tags": {"from": [], "to": ["errands"]},
    }
    assert (edited["version"], completed["version"]) == (2, 3)
    assert completed["changes"] == {"status": {"from": "new", "to": "completed"}}
    assert "version" not in deleted
    assert "changes" not in deleted
    assert {e["taskId"] for e in page["items"]} == {task["id"]}
    assert all(e["actor"] == {"type": "user", "id": "local"} for e in page["items"])
    assert page["nextCursor"] is None
    assert len({e["id"] for e in page["items"]}) == 4


def test_the_actor_is_the_callers_token_subject(api: Api) -> None:
    alice = api.as_user("alice")
    task = alice.create()
    (created,) = history(alice, task["id"])["items"]
    assert created["actor"] == {"type": "user", "id": dev_token.subject("alice")}


def test_history_outlives_its_task_and_is_the_owners_alone(api: Api) -> None:
    alice, bob = api.as_user("alice"), api.as_user("bob")
    task = alice.create()
    alice.delete(f"/tasks/{task['id']}")
    assert [e["type"] for e in history(alice, task["id"])["items"]] == ["deleted", "created"]
    assert bob.get(f"/tasks/{task['id']}/activity").status == 404
    assert bob.get("/activity").json["items"] == []
    assert alice.get("/tasks/never-was/activity").status == 404


def test_a_task_whose_history_is_not_written_yet_has_an_empty_one(api: Api) -> None:
    task = api.create()
    reply = api.get(f"/tasks/{task['id']}/activity")  # the stream not read yet
    assert (reply.status, reply.json["items"]) == (200, [])


def test_the_feed_holds_every_tasks_events_newest_first(api: Api, clock: Clock) -> None:
    first = api.create(title="first")
    second = api.create(title="second")
    api.patch(f"/tasks/{first['id']}", {"priority": "high"})
    stream_poller.drain()
    items = api.get("/activity").json["items"]
    assert [(e["taskId"], e["type"]) for e in items] == [
        (first["id"], "updated"),
        (second["id"], "created"),
        (first["id"], "created"),
    ]
    assert [e["at"] for e in items] == sorted((e["at"] for e in items), reverse=True)


def test_history_pages_follow_the_cursor_and_the_link(api: Api, clock: Clock) -> None:
    task = api.create(title="v1")
    for n in range(2, 8):
        api.patch(f"/tasks/{task['id']}", {"title": f"v{n}"})
    stream_poller.drain()
    seen: list[int] = []
    reply = api.get(f"/tasks/{task['id']}/activity?limit=3")
    while True:
        assert reply.status == 200
        seen += [e["version"] for e in reply.json["items"]]
        if reply.json["nextCursor"] is None:
            assert "Link" not in reply.headers
            break
        link = reply.headers["Link"]
        assert link.endswith('>; rel="next"')
        reply = api.get(link[1 : link.index(">")])
    assert seen == [7, 6, 5, 4, 3, 2, 1]
    other = api.create()
    cursor = api.get(f"/tasks/{task['id']}/activity?limit=1").json["nextCursor"]
    query = urllib.parse.urlencode({"cursor": cursor})
    assert api.get(f"/tasks/{other['id']}/activity?{query}").status == 400  # not its cursor
    assert api.get(f"/activity?{query}").status == 400


def test_bad_parameters_are_400_problems(api: Api) -> None:
    task = api.create()
    problem = api.get(f"/tasks/{task['id']}/activity?limit=0&colour=red").json
    assert {e["parameter"] for e in problem["errors"]} == {"limit", "colour"}
    assert api.get("/activity?limit=101").status == 400


def test_a_history_page_and_a_feed_page_are_one_query_each(
    api: Api, dynamodb_calls: list[str]
) -> None:
    task = api.create()
    api.patch(f"/tasks/{task['id']}", {"title": "again"})
    stream_poller.drain()
    dynamodb_calls.clear()
    api.get(f"/tasks/{task['id']}/activity")
    assert dynamodb_calls == ["Query"]
    dynamodb_calls.clear()
    api.get("/activity")
    assert dynamodb_calls == ["Query"]


def _stream_records(api: Api) -> list[dict[str, Any]]:
    """Every record of the table's stream so far, read with the streams API, as the local
    poller delivers them."""
    shared = runtime.shared()
    arn = shared.client.describe_table(TableName=shared.table_name)["Table"]["LatestStreamArn"]
    endpoint = shared.client.meta.endpoint_url
    streams = boto3.client(
        "dynamodbstreams",
        region_name=shared.client.meta.region_name,
        endpoint_url=None if "amazonaws.com" in endpoint else endpoint,
        config=Config(account_id_endpoint_mode="disabled"),
    )
    poller = stream_poller.StreamPoller(streams, arn, lambda event, context: None, 100)
    records: list[dict[str, Any]] = []
    poller._handler = lambda event, context: records.extend(event["Records"])
    poller.drain()
    return records


def test_the_consumer_fed_a_real_batch_twice_writes_each_event_once(api: Api) -> None:
    task = api.create()
    api.patch(f"/tasks/{task['id']}", {"status": "in_progress"})
    records = _stream_records(api)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]
    writer = activity_writer()
    assert consumer.handle(records, writer) == []
    assert consumer.handle(records, writer) == []  # redelivered
    items = api.get(f"/tasks/{task['id']}/activity").json["items"]
    assert [e["type"] for e in items] == ["updated", "created"]


@pytest.fixture
def expired_task(api: Api, clock: Clock) -> dict[str, Any]:
    """A task with a comment, both past the task's expiry (TTL has not swept it yet)."""
    task = api.create(expireAt=clock.epoch + 60)
    assert api.post(f"/tasks/{task['id']}/comments", {"body": "on the old task"}).status == 201
    clock.advance(seconds=120)
    return task


def test_a_put_over_an_expired_task_records_its_expiry_and_the_new_task(
    api: Api, expired_task: dict[str, Any]
) -> None:
    assert api.put(f"/tasks/{expired_task['id']}", {"title": "again"}).status == 201
    types = [e["type"] for e in history(api, expired_task["id"])["items"]]
    assert types == ["created", "expired", "commented", "created"]


def test_a_replayed_idempotent_create_does_not_stop_the_stream(api: Api) -> None:
    """A replay cancels a transaction; moto then swaps the table's state for a copy, which
    an old stream iterator no longer sees (the poller asks for a new one each time)."""
    key = {"Idempotency-Key": "replayed-once"}
    task = api.post("/tasks", {"title": "once"}, headers=key).json
    stream_poller.drain()
    assert api.post("/tasks", {"title": "once"}, headers=key).json == task  # cancelled
    api.patch(f"/tasks/{task['id']}", {"title": "twice"})
    assert [e["type"] for e in history(api, task["id"])["items"]] == ["updated", "created"]


def test_a_new_task_at_an_expired_tasks_id_never_shows_the_old_comments(
    api: Api, expired_task: dict[str, Any]
) -> None:
    path = f"/tasks/{expired_task['id']}"
    assert api.put(path, {"title": "again"}).status == 201  # over the expired one
    new = api.post(f"{path}/comments", {"body": "on the new task"})
    assert new.status == 201, new.body
    stream_poller.drain()
    assert [c["body"] for c in api.get(f"{path}/comments").json["items"]] == ["on the new task"]


def test_a_changed_number_comes_back_as_a_json_number(api: Api, clock: Clock) -> None:
    """DynamoDB returns a number inside a map as a Decimal: it must not reach the encoder."""
    task = api.create()
    api.patch(f"/tasks/{task['id']}", {"expireAt": clock.epoch + 3600})
    (updated, _) = history(api, task["id"])["items"]
    assert updated["changes"] == {"expireAt": {"from": None, "to": clock.epoch + 3600}}


def test_cancelled_comment_writes_leave_no_trace_in_the_history(api: Api) -> None:
    """A comment write is one transaction with a check on the task. When a check fails (a
    stale If-Match, a task deleted meanwhile) nothing is written or recorded, and the history
    goes on. (moto applies the transaction's writes before it cancels; they must not reach
    the history, and the stream must not stop.)"""
    task = api.create(title="Talked about")
    comments = f"/tasks/{task['id']}/comments"
    assert history(api, task["id"])["items"]  # the poller has read the stream up to here
    posted = api.post(comments, {"body": "First"})
    assert posted.status == 201, posted.body
    stale = api.patch(posted.headers["Location"], {"body": "Second"}, headers={"If-Match": '"9.1"'})
    assert stale.status == 412, stale.body
    assert api.delete(f"/tasks/{task['id']}").status == 204
    assert api.post(comments, {"body": "Too late"}).status == 404
    later = api.create(title="Later")
    assert [e["type"] for e in history(api, later["id"])["items"]] == ["created"]
    # Each event once, in order, and none of the cancelled writes.
    told = [e["type"] for e in history(api, task["id"])["items"]]
    assert told == ["deleted", "commented", "created"]


def test_a_task_deleted_and_made_again_before_the_stream_is_read_keeps_both_stories(
    api: Api,
) -> None:
    """All within a second or so, with the stream read only at the end: the old task's
    comments go, the new task's stay, and the history and the feed tell it in order."""
    old = api.put("/tasks/again", {"title": "old"}).json
    comments = f"/tasks/{old['id']}/comments"
    assert api.post(comments, {"body": "on the old task"}).status == 201
    assert api.delete(f"/tasks/{old['id']}").status == 204
    assert api.put("/tasks/again", {"title": "new"}).status == 201
    assert api.post(comments, {"body": "on the new task"}).status == 201
    assert api.patch("/tasks/again", {"status": "completed"}).status == 200
    story = ["updated", "commented", "created", "deleted", "commented", "created"]
    assert [e["type"] for e in history(api, "again")["items"]] == story
    assert [e["type"] for e in api.get("/activity").json["items"]] == story
    assert [c["body"] for c in api.get(comments).json["items"]] == ["on the new task"]


def test_a_deleted_tasks_comments_made_after_the_purge_began_stay(api: Api, clock: Clock) -> None:
    """The purge's bound when no task has the id any more: the consumer's own time. A task
    made at the id after its Query has comments made after that time, which it leaves."""
    task = api.create()
    comments = f"/tasks/{task['id']}/comments"
    old = api.post(comments, {"body": "before the deletion"}).json
    assert api.delete(f"/tasks/{task['id']}").status == 204
    later = {**old, "id": time_ordered_id(clock.now + dt.timedelta(minutes=1)), "body": "later"}
    shared = runtime.shared()
    item = DynamoCommentStore.item("local", later)  # the local stage's one user
    shared.client.put_item(TableName=shared.table_name, Item=item)
    stream_poller.drain()  # the deletion's record: the purge runs now
    key = {"pk": item["pk"], "sk": item["sk"]}
    assert "Item" in shared.client.get_item(TableName=shared.table_name, Key=key)
    gone = dict(key, sk={"S": item["sk"]["S"].replace(later["id"], old["id"])})
    assert "Item" not in shared.client.get_item(TableName=shared.table_name, Key=gone)
