"""The one consumer of the table's change stream: it turns each change of a task or a comment
into activity events, and removes a deleted task's comments.

It reads stream records as Lambda delivers them (``{"Records": [...]}``, images in DynamoDB's
wire format) and dispatches by item kind, told by the sort key: ``TASK#<id>`` is a task,
``TASK#<id>#COMMENT#<id>`` a comment; anything else (events, idempotency records) is not
history. Records are processed in order; the first that fails is reported
(``batchItemFailures``), so the stream delivers it and what follows again, and processing is
idempotent: an event's id derives from the record's ``eventID``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

from boto3.dynamodb.types import TypeDeserializer

from chalicelib.activity import schema as activity
from chalicelib.activity.record import Actor, Entry, Event
from chalicelib.comments.store import KIND as COMMENT_KIND
from chalicelib.core import dynamo
from chalicelib.core.clock import utc_timestamp
from chalicelib.core.record import CREATED_AT, UPDATED_AT, VERSION
from chalicelib.table import ACTOR_ATTRIBUTE, PARTITION_KEY, SORT_KEY
from chalicelib.tasks import schema as tasks
from chalicelib.tasks.record import Task
from chalicelib.tasks.store import TASK_KIND, task_of

log = logging.getLogger("task-api.activity")

INSERT, MODIFY, REMOVE = "INSERT", "MODIFY", "REMOVE"
#: A deletion by DynamoDB's TTL sweeper carries this identity; a user's never does.
TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
_deserializer = TypeDeserializer()
#: The task fields whose changes an ``updated`` event lists: what a client may write.
_WRITABLE = tuple(name for name in tasks.FIELDS if name not in tasks.SERVER_FIELDS)


class Writer(Protocol):
    """What the consumer writes with (``chalicelib.activity.writer.ActivityWriter``)."""

    def put(self, owner: str, entries: list[Entry]) -> None: ...
    def purge_comments(
        self, owner: str, task_id: str, made_before: dt.datetime | None = None
    ) -> int: ...


@dataclass(frozen=True)
class Change:
    """One stream record about a task or one of its comments."""

    record_id: str
    sequence: str
    name: str
    owner: str
    task_id: str
    comment_id: str | None
    new: Mapping[str, Any] | None
    old: Mapping[str, Any] | None
    at: dt.datetime
    by_ttl: bool


def _string(image: Mapping[str, Any] | None, attribute: str) -> str | None:
    value = (image or {}).get(attribute)
    return value.get("S") if isinstance(value, dict) else None


def change_of(record: Mapping[str, Any]) -> Change | None:
    """The task or comment change a record carries; None for any other item."""
    stream = record["dynamodb"]
    keys = stream["Keys"]
    partition, sort_key = _string(keys, PARTITION_KEY), _string(keys, SORT_KEY)
    owner_prefix = dynamo.owner_partition("")
    if partition is None or sort_key is None or not partition.startswith(owner_prefix):
        return None
    owner = partition.removeprefix(owner_prefix)
    kind, _, rest = sort_key.partition("#")
    if kind != TASK_KIND or "#" in owner:  # events live in OWNER#<owner>#ACTIVITY
        return None
    task_id, _, tail = rest.partition("#")
    comment_kind, _, comment_id = tail.partition("#")
    if tail and (comment_kind != COMMENT_KIND or not comment_id):
        return None
    approximate = stream.get("ApproximateCreationDateTime", 0)
    return Change(
        record_id=str(record["eventID"]),
        sequence=str(stream["SequenceNumber"]),
        name=str(record["eventName"]),
        owner=owner,
        task_id=task_id,
        comment_id=comment_id or None,
        new=stream.get("NewImage"),
        old=stream.get("OldImage"),
        at=_moment(approximate),
        by_ttl=all(record.get("userIdentity", {}).get(k) == v for k, v in TTL_IDENTITY.items()),
    )


def _moment(value: Any) -> dt.datetime:
    """ApproximateCreationDateTime: epoch seconds in a Lambda event, a datetime from boto3."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return dt.datetime.fromtimestamp(float(value), dt.UTC)


def _event_id(change: Change, index: int) -> str:
    """Stable across redeliveries: derived from the record's id (and which of its events),
    written as a UUID."""
    digest = hashlib.sha256(f"{change.record_id}/{index}".encode()).hexdigest()
    return str(uuid.UUID(hex=digest[:32]))


def _parse(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _user(image: Mapping[str, Any] | None, owner: str) -> Actor:
    """Who made the write: the item says (every write stamps it); the owner otherwise."""
    return {"type": activity.USER, "id": _string(image, ACTOR_ATTRIBUTE) or owner}


def _after(moment: dt.datetime, task: Task) -> dt.datetime:
    """Never before the task's last write, so a task's history stays in order."""
    return max(moment, _parse(task[UPDATED_AT]) + dt.timedelta(microseconds=1))


def _end_of_second(moment: dt.datetime) -> dt.datetime:
    """The last microsecond of ``moment``'s second: a deletion the stream dates to a second
    (rounded down) happened before it."""
    return moment.replace(microsecond=0) + dt.timedelta(seconds=1, microseconds=-1)


def _deleted_at(change: Change, task: Task) -> dt.datetime:
    """When a task was deleted, as the event says: the stream knows it to the second,
    rounded down. The end of that second is after the deletion, so ``at`` is never before
    anything done to the task before it, its comments included; and it is the same each
    time the record is delivered again."""
    return _after(_end_of_second(change.at), task)


#: DynamoDB's stream sequence numbers have at most 40 digits: padded, they sort as numbers.
SEQUENCE_DIGITS = 40


def order_of(change: Change, index: int) -> str:
    """Where the ``index``-th event of a change sorts: in the order the table changed. First
    the stream's time (to the second on AWS, finer on the emulators), then the record's
    sequence number, which orders the changes within that second (the records of one
    owner's items share a partition key, so a shard), then the event's place in its record.
    It is the same on every delivery of the record. ``at`` cannot be the order: a deletion
    is known only to the second, and a task made again at its id in that second must still
    come after it."""
    sequence = change.sequence.zfill(SEQUENCE_DIGITS)
    return f"{utc_timestamp(change.at)}/{sequence}/{index}"


def _changes(old: Task, new: Task) -> dict[str, dict[str, Any]]:
    before, after = cast(Mapping[str, Any], old), cast(Mapping[str, Any], new)
    return {
        name: {"from": before[name], "to": after[name]}
        for name in _WRITABLE
        if before[name] != after[name]
    }


def events_of(change: Change) -> list[Entry]:
    """The events a change records, each with its order and when it happened."""
    made: list[Entry] = []

    def add(kind: str, at: dt.datetime, actor: Actor, **fields: Any) -> None:
        event = {
            activity.ID: _event_id(change, len(made)),
            activity.TASK_ID: change.task_id,
            activity.TYPE: kind,
            activity.AT: utc_timestamp(at),
            activity.ACTOR: actor,
            **fields,
        }
        made.append(Entry(cast(Event, event), order_of(change, len(made)), int(at.timestamp())))

    if change.comment_id is not None:
        if change.name == INSERT and change.new is not None:
            created = _string(change.new, CREATED_AT)
            at = _parse(created) if created else change.at
            actor = _user(change.new, change.owner)
            add(activity.COMMENTED, at, actor, **{activity.COMMENT_ID: change.comment_id})
        return made
    new = _task(change.new)
    old = _task(change.old)
    if new is not None and (old is None or old[CREATED_AT] != new[CREATED_AT]):
        if old is not None:  # a PUT over an expired task that TTL had not swept yet
            expired_at = _expiry(old) or change.at
            add(activity.EXPIRED, expired_at, {"type": activity.SYSTEM})
        actor = _user(change.new, change.owner)
        add(activity.CREATED, _parse(new[UPDATED_AT]), actor, **{activity.VERSION: new[VERSION]})
    elif new is not None and old is not None:
        fields = {activity.VERSION: new[VERSION], activity.CHANGES: _changes(old, new)}
        add(activity.UPDATED, _parse(new[UPDATED_AT]), _user(change.new, change.owner), **fields)
    elif old is not None and change.by_ttl:
        add(activity.EXPIRED, _after(_expiry(old) or change.at, old), {"type": activity.SYSTEM})
    elif old is not None:
        add(activity.DELETED, _deleted_at(change, old), {"type": activity.USER, "id": change.owner})
    return made


def _task(image: Mapping[str, Any] | None) -> Task | None:
    """The task an image holds; None for none, or for an item the API did not write as a
    task (every task it writes has its times and version)."""
    if image is None or not all(name in image for name in (CREATED_AT, UPDATED_AT, VERSION)):
        return None
    return task_of(dict(image))


def _expiry(task: Task) -> dt.datetime | None:
    expire_at = task[tasks.EXPIRE_AT]
    return None if expire_at is None else dt.datetime.fromtimestamp(expire_at, dt.UTC)


def _replaced(change: Change) -> dt.datetime | None:
    """When the new task was created, where a change replaced a task by a new one."""
    if change.name != MODIFY or change.new is None or change.old is None:
        return None
    created, before = _string(change.new, CREATED_AT), _string(change.old, CREATED_AT)
    return _parse(created) if created and before and created != before else None


def handle(records: Iterable[Mapping[str, Any]], writer: Writer) -> list[str]:
    """Process records in order. Returns the sequence number of the first that failed, if
    any: the stream retries from there (Lambda's partial batch response)."""
    for record in records:
        try:
            change = change_of(record)
            if change is None:
                continue
            entries = events_of(change)
            if entries:
                writer.put(change.owner, entries)
            if change.comment_id is None and change.name == REMOVE:
                writer.purge_comments(change.owner, change.task_id)
            elif change.comment_id is None and (new_incarnation := _replaced(change)):
                # A PUT over an expired task: the old task's comments go, the new one's stay.
                writer.purge_comments(change.owner, change.task_id, new_incarnation)
        except Exception:
            sequence = str(record.get("dynamodb", {}).get("SequenceNumber", ""))
            log.exception("Could not record the change %s", sequence)
            return [sequence]
    return []


def batch_response(failed: list[str]) -> dict[str, list[dict[str, str]]]:
    """Lambda's partial batch response (``ReportBatchItemFailures``)."""
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}
