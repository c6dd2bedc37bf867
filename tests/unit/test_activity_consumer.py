"""The stream consumer on records the tests build, as Lambda delivers them: which events each
change makes, who acted, what is ignored, and what a failure reports. No DynamoDB."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import replace
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from chalicelib.activity import consumer
from chalicelib.activity.record import Entry, Event
from chalicelib.comments.service import earliest_id, time_ordered_id
from devserver.stream_poller import MAX_ATTEMPTS, StreamPoller
from tests.conftest import new_task

_serializer = TypeSerializer()
_sequence = itertools.count(1000)
OWNER = "alice"


def image(owner: str, sort_key: str, fields: dict[str, Any], actor: str | None = None) -> dict:
    item = {k: _serializer.serialize(v) for k, v in fields.items() if v is not None}
    item |= {"pk": {"S": f"OWNER#{owner}"}, "sk": {"S": sort_key}}
    if actor is not None:
        item["actor"] = {"S": actor}
    return item


def record(
    name: str,
    new: dict | None = None,
    old: dict | None = None,
    *,
    ttl: bool = False,
    at: float = 1_900_000_000.0,
) -> dict[str, Any]:
    keys_of = new or old or {}
    stream: dict[str, Any] = {
        "ApproximateCreationDateTime": at,
        "Keys": {"pk": keys_of["pk"], "sk": keys_of["sk"]},
        "SequenceNumber": str(next(_sequence)),
        "SizeBytes": 100,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if new is not None:
        stream["NewImage"] = new
    if old is not None:
        stream["OldImage"] = old
    built = {
        "eventID": f"event-{stream['SequenceNumber']}",
        "eventName": name,
        "eventSource": "aws:dynamodb",
        "dynamodb": stream,
    }
    if ttl:
        built["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    return built


def task_image(task_id: str = "t1", actor: str = OWNER, **fields: Any) -> dict:
    return image(OWNER, f"TASK#{task_id}", new_task(task_id, **fields), actor)


class Writer:
    """Records what the consumer writes; fails on the tasks named in ``failing``."""

    def __init__(self, failing: frozenset[str] = frozenset()) -> None:
        self.events: dict[str, tuple[str, Event, str]] = {}
        self.puts = 0
        self.purged: list[tuple[Any, ...]] = []
        self.failing = failing

    def put(self, owner: str, entries: list[Entry]) -> None:
        self.puts += 1
        for event, order, _ in entries:
            if event["taskId"] in self.failing:
                raise RuntimeError("DynamoDB said no")
            self.events[event["id"]] = (owner, event, order)  # an item's key: rewritten, not added

    def purge_comments(
        self, owner: str, task_id: str, made_before: dt.datetime | None = None
    ) -> int:
        self.purged.append(
            (owner, task_id) if made_before is None else (owner, task_id, made_before)
        )
        return 0

    def in_order(self) -> list[str]:
        """The events' types in the history's order, oldest first."""
        return [event["type"] for _, event, _ in sorted(self.events.values(), key=lambda e: e[2])]

    def kinds(self) -> list[str]:
        return [event["type"] for _, event, _ in self.events.values()]


def test_a_new_task_is_created_by_its_writer_with_its_version() -> None:
    writer = Writer()
    new = task_image()
    assert consumer.handle([record("INSERT", new)], writer) == []
    ((owner, event, _),) = writer.events.values()
    assert owner == OWNER
    assert (event["type"], event["taskId"], event["version"]) == ("created", "t1", 1)
    assert event["actor"] == {"type": "user", "id": OWNER}
    assert event["at"] == "2026-01-01T00:00:00.000000Z"  # the task's own time, exactly
    assert "changes" not in event


def test_an_update_lists_exactly_the_fields_that_changed() -> None:
    old = task_image(title="old", tags=["a"])
    new = image(
        OWNER,
        "TASK#t1",
        {
            **new_task("t1", title="new", tags=["a", "b"]),
            "version": 2,
            "updatedAt": "2026-01-02T00:00:00.000000Z",
        },
        OWNER,
    )
    writer = Writer()
    consumer.handle([record("MODIFY", new, old)], writer)
    ((_, event, _),) = writer.events.values()
    assert event["type"] == "updated"
    assert event["version"] == 2
    assert event["changes"] == {
        "title": {"from": "old", "to": "new"},
        "tags": {"from": ["a"], "to": ["a", "b"]},
    }
    assert event["at"] == "2026-01-02T00:00:00.000000Z"


def test_a_user_deletion_is_deleted_and_removes_the_tasks_comments() -> None:
    writer = Writer()
    consumer.handle([record("REMOVE", old=task_image())], writer)
    ((_, event, _),) = writer.events.values()
    assert (event["type"], event["actor"]) == ("deleted", {"type": "user", "id": OWNER})
    assert "version" not in event
    assert writer.purged == [(OWNER, "t1")]
    # Never before the task's last write, although the stream's time has only seconds.
    assert event["at"] > "2026-01-01T00:00:00.000000Z"


def test_a_ttl_deletion_is_an_expiry_by_the_system_at_the_expiry_time() -> None:
    writer = Writer()
    old = task_image(expireAt=1_800_000_000)
    consumer.handle([record("REMOVE", old=old, ttl=True, at=1_800_100_000)], writer)
    ((_, event, _),) = writer.events.values()
    assert (event["type"], event["actor"]) == ("expired", {"type": "system"})
    assert event["at"] == "2027-01-15T08:00:00.000000Z"  # expireAt, not the sweep's time
    assert writer.purged == [(OWNER, "t1")]


def test_a_put_over_an_expired_task_records_the_expiry_and_the_new_task() -> None:
    old = task_image(expireAt=1_800_000_000)
    new = image(OWNER, "TASK#t1", new_task("t1", created="2028-01-01T00:00:00.000000Z"), OWNER)
    writer = Writer()
    consumer.handle([record("MODIFY", new, old)], writer)
    assert sorted(writer.kinds()) == ["created", "expired"]
    assert len(writer.events) == 2  # two ids from one record
    assert writer.in_order() == ["expired", "created"]
    # The old task's comments go; the new one's, made from its creation on, stay.
    created = dt.datetime(2028, 1, 1, tzinfo=dt.UTC)
    assert writer.purged == [(OWNER, "t1", created)]
    assert (
        earliest_id(created)
        < time_ordered_id(created)
        < time_ordered_id(created + dt.timedelta(microseconds=1))
    )


def test_a_task_deleted_and_made_again_in_the_same_second_keeps_its_story_in_order() -> None:
    """The stream dates both to the same second; its sequence numbers order them. ``at``
    alone cannot: the deletion's is the end of its second, after the new task's creation."""
    second = 1_900_000_000.0
    comment = image(
        OWNER,
        "TASK#t1#COMMENT#c1",
        {"id": "c1", "taskId": "t1", "body": "hi", "createdAt": "2030-03-17T17:46:40.900000Z"},
        OWNER,
    )
    again = task_image(created="2030-03-17T17:46:40.500000Z")
    batch = [
        record("INSERT", task_image(), at=second),
        record("REMOVE", old=task_image(), at=second),
        record("INSERT", again, at=second),
        record("INSERT", comment, at=second),
        record("MODIFY", {**again, "title": {"S": "x"}, "version": {"N": "2"}}, again, at=second),
    ]
    writer = Writer()
    consumer.handle(batch, writer)
    assert writer.in_order() == ["created", "deleted", "created", "commented", "updated"]
    deleted = next(e for _, e, _ in writer.events.values() if e["type"] == "deleted")
    assert deleted["at"] == "2030-03-17T17:46:40.999999Z"  # its end of second, as before


def test_the_order_is_the_streams_time_then_its_sequence_number_as_a_number() -> None:
    """Sequence numbers of any length (21 to 40 digits) compare as numbers once padded, and
    a later second comes after whatever the sequence numbers say."""
    change = consumer.change_of(record("INSERT", task_image()))
    assert change is not None
    short = consumer.order_of(replace(change, sequence="999"), 0)
    long = consumer.order_of(replace(change, sequence="1000"), 0)
    later = consumer.order_of(
        replace(change, sequence="1", at=change.at + dt.timedelta(seconds=1)), 0
    )
    assert short < long < later
    assert consumer.order_of(change, 0) < consumer.order_of(change, 1)
    assert "#" not in later  # a sort key's part


def test_a_new_comment_is_a_commented_event_of_its_task() -> None:
    comment = image(
        OWNER,
        "TASK#t1#COMMENT#c1",
        {"id": "c1", "taskId": "t1", "body": "hi", "createdAt": "2026-02-01T00:00:00.000000Z"},
        "bob",
    )
    writer = Writer()
    consumer.handle([record("INSERT", comment)], writer)
    ((_, event, _),) = writer.events.values()
    assert (event["type"], event["taskId"], event["commentId"]) == ("commented", "t1", "c1")
    assert event["actor"] == {"type": "user", "id": "bob"}
    assert event["at"] == "2026-02-01T00:00:00.000000Z"
    changed = record("MODIFY", comment, comment)
    removed = record("REMOVE", old=comment)
    consumer.handle([changed, removed], writer)
    assert len(writer.events) == 1  # only a new comment is history
    assert writer.purged == []  # deleting a comment removes nothing else


@pytest.mark.parametrize(
    ("partition", "sort_key"),
    [
        ("OWNER#alice#ACTIVITY", "TASK#t1#2026-01-01T00:00:00.000000Z#e1"),  # its own events
        ("OWNER#alice", "IDEMPOTENCY#key-1"),
        ("OWNER#alice", "TASK#t1#OTHER#x"),
        ("SOMETHING#else", "TASK#t1"),
    ],
)
def test_what_is_not_a_task_or_a_comment_makes_no_history(partition: str, sort_key: str) -> None:
    item = {"pk": {"S": partition}, "sk": {"S": sort_key}}
    writer = Writer()
    assert consumer.handle([record("INSERT", item)], writer) == []
    assert writer.events == {}
    assert writer.puts == 0


def test_a_redelivered_batch_writes_each_event_once() -> None:
    batch = [
        record("INSERT", task_image("a")),
        record("INSERT", task_image("b")),
        record("REMOVE", old=task_image("a")),
    ]
    writer = Writer()
    consumer.handle(batch, writer)
    first = dict(writer.events)
    consumer.handle(batch, writer)
    assert writer.events == first
    assert sorted(writer.kinds()) == ["created", "created", "deleted"]


def test_the_first_failing_record_is_reported_and_nothing_after_it_is_processed() -> None:
    batch = [
        record("INSERT", task_image("ok")),
        record("INSERT", task_image("poison")),
        record("INSERT", task_image("after")),
    ]
    writer = Writer(failing=frozenset({"poison"}))
    failed = consumer.handle(batch, writer)
    assert failed == [batch[1]["dynamodb"]["SequenceNumber"]]
    assert [event["taskId"] for _, event, _ in writer.events.values()] == ["ok"]
    assert consumer.batch_response(failed) == {"batchItemFailures": [{"itemIdentifier": failed[0]}]}


def test_the_local_poller_sets_a_poison_record_aside_and_goes_on() -> None:
    """As the deployed mapping does with its retries and failure destination."""
    batch = [
        record("INSERT", task_image("ok")),
        record("INSERT", task_image("poison")),
        record("INSERT", task_image("after")),
    ]
    writer = Writer(failing=frozenset({"poison"}))
    calls: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(len(event["Records"]))
        return consumer.batch_response(consumer.handle(event["Records"], writer))

    poller = StreamPoller(streams=None, stream_arn="arn", handler=handler, batch_size=100)
    poller._deliver(batch)
    assert [r["eventID"] for r in poller.failed] == [batch[1]["eventID"]]
    assert sorted(event["taskId"] for _, event, _ in writer.events.values()) == ["after", "ok"]
    assert calls == [3] + [2] * (MAX_ATTEMPTS - 1) + [1]  # retried, set aside, then the rest
