"""Where comments are kept: what a comment store must do (``CommentStore``), and the DynamoDB
store.

A comment lives in its owner's partition under its task's sort key,
``TASK#<task id>#COMMENT#<comment id>``, with the ``actor`` of its last write and no index
attribute, so comments never appear in the task lists. Every operation also requires the
task to exist and not to have expired, in the same request wherever DynamoDB allows it:
a write is one transaction with a check on the task item; a read gets both items at once;
a list page Queries the task item and then its comments. The store decides nothing: it
reports what it met (``Gone``, ``Refused``, ``Remembered``) and the service decides what
that means.
"""

from __future__ import annotations

import enum
import time
from typing import TYPE_CHECKING, Any, Protocol, cast

from botocore.exceptions import ClientError

from chalicelib.comments.record import Comment
from chalicelib.comments.schema import FIELDS, ID, INTEGER_FIELDS, TASK_ID, default_for
from chalicelib.core import dynamo
from chalicelib.core.conditions import Match, Version
from chalicelib.core.cursor import CursorCodec
from chalicelib.core.dynamo import (
    CONDITION_FAILED,
    TRANSACTION_CONFLICT,
    CollectionPager,
    Expression,
    Item,
    RecordItems,
)
from chalicelib.core.errors import IdempotencyConflict, StoreUnavailable
from chalicelib.core.outcomes import Refused, Remembered
from chalicelib.core.paging import Page, PageBytes
from chalicelib.table import ACTOR_ATTRIBUTE, SORT_KEY, TTL_ATTRIBUTE
from chalicelib.tasks.store import IDEMPOTENCY_KIND, TASK_KIND

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        ConditionCheckTypeDef,
        DeleteTypeDef,
        KeysAndAttributesTypeDef,
        PutTypeDef,
    )
else:
    DynamoDBClient = Any

KIND = "COMMENT"
#: The attributes of an Idempotency-Key's record: its request's hash and its comment.
_REQUEST_HASH = "requestHash"
_REMEMBERED = "comment"
#: BatchGetItem may leave keys unprocessed (throttling): it is sent at most this many times.
MAX_BATCH_ATTEMPTS = 3
_BATCH_BACKOFF_SECONDS = 0.05
_COMMENTS: RecordItems[Comment] = RecordItems(tuple(FIELDS), INTEGER_FIELDS, default_for)


class Gone(enum.Enum):
    """What an operation found missing: the task (or it has expired), or the comment."""

    TASK = "task"
    COMMENT = "comment"


class CommentStore(Protocol):
    """What the comment service needs from a store. Each method is one request in the
    common path (a list page after the first: two) and first requires the task to exist
    and not to have expired (``Gone.TASK`` otherwise)."""

    def get(self, owner: str, task_id: str, comment_id: str, now: int) -> Comment | Gone:
        """The comment, or what is missing."""

    def create(self, owner: str, comment: Comment, now: int) -> bool | Gone:
        """Write a new comment; False if a comment already has its id."""

    def create_idempotent(
        self,
        owner: str,
        comment: Comment,
        key: str,
        request_hash: str,
        now: int,
        remember_until: int,
    ) -> Comment | Remembered[Comment] | Gone | None:
        """Create ``comment`` and remember ``key`` with it until ``remember_until``, at once.
        The comment when created; what the key remembers when it is in use; None if a
        comment already has its id. IdempotencyConflict when another request holds the key
        right now."""

    def replace(
        self, owner: str, comment: Comment, expected: Version, now: int
    ) -> Refused[Comment] | Gone | None:
        """Write ``comment`` over the one at its id, if that is at version ``expected``;
        None when written."""

    def delete(
        self, owner: str, task_id: str, comment_id: str, if_match: Match | None, now: int
    ) -> Refused[Comment] | Gone | None:
        """Delete a comment matching ``if_match``; None when deleted."""

    def list_page(
        self,
        owner: str,
        task_id: str,
        limit: int,
        cursor: str | None,
        now: int,
        page_bytes: PageBytes[Comment] | None = None,
    ) -> Page[Comment] | Gone:
        """One page of the task's comments, oldest first."""


def _task_sort_key(task_id: str) -> str:
    return f"{TASK_KIND}#{task_id}"


def _task_key(owner: str, task_id: str) -> Item:
    return dynamo.item_key(owner, TASK_KIND, task_id)


def _key(owner: str, task_id: str, comment_id: str) -> Item:
    return dynamo.item_key(owner, f"{_task_sort_key(task_id)}#{KIND}", comment_id)


def _idempotency_key(owner: str, key: str) -> Item:
    """An Idempotency-Key of a comment creation: apart from the task creations' keys
    (``IDEMPOTENCY#<key>``), which never hold a space, so the two never meet."""
    return dynamo.item_key(owner, IDEMPOTENCY_KIND, f"{key} {KIND}")


def _remembered(record: Item | None) -> Remembered[Comment]:
    if record is None:  # gone between the check and now: let the client retry
        raise IdempotencyConflict()
    return Remembered(record[_REQUEST_HASH]["S"], _COMMENTS.record(record[_REMEMBERED]["M"]))


class DynamoCommentStore:
    """Comments of many owners in one DynamoDB table; every key is scoped by owner."""

    def __init__(self, client: DynamoDBClient, table_name: str, cursors: CursorCodec) -> None:
        self._client = client
        self._table = table_name
        self.pager = CollectionPager(client, cursors, _COMMENTS)

    @staticmethod
    def item(owner: str, comment: Comment) -> Item:
        """The DynamoDB item that stores a comment, with the actor of the write: the owner,
        who alone can reach the task."""
        return _COMMENTS.item(
            comment,
            {**_key(owner, comment[TASK_ID], comment[ID]), ACTOR_ATTRIBUTE: {"S": owner}},
        )

    def _task_check(self, owner: str, task_id: str, now: int) -> ConditionCheckTypeDef:
        """A transaction's ConditionCheck that the task exists and has not expired."""
        condition = Expression()
        check = {
            "TableName": self._table,
            "Key": _task_key(owner, task_id),
            "ConditionExpression": condition.current(now, None),
            **condition.params(),
        }
        return cast("ConditionCheckTypeDef", check)

    def _put(self, item: Item, condition: Expression, expression: str) -> PutTypeDef:
        """A transaction's PutItem under ``condition``, which reports the item it saw."""
        put = {
            "TableName": self._table,
            "Item": item,
            "ConditionExpression": expression,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            **condition.params(),
        }
        return cast("PutTypeDef", put)

    @dynamo.translating_errors
    def get(self, owner: str, task_id: str, comment_id: str, now: int) -> Comment | Gone:
        """One BatchGetItem of the task and the comment, strongly consistent (sent again
        for the keys DynamoDB left unprocessed, which happens only under throttling)."""
        task_key, comment_key = _task_key(owner, task_id), _key(owner, task_id, comment_id)
        keys = {"Keys": [task_key, comment_key], "ConsistentRead": True}
        request = {self._table: cast("KeysAndAttributesTypeDef", keys)}
        found: dict[str, Item] = {}
        for attempt in range(MAX_BATCH_ATTEMPTS):
            if attempt:
                time.sleep(_BATCH_BACKOFF_SECONDS * 2**attempt)
            response = self._client.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(self._table, []):
                found[item[SORT_KEY]["S"]] = cast(Item, item)
            request = cast(Any, response.get("UnprocessedKeys"))
            if not request:
                break
        else:
            raise StoreUnavailable("DynamoDB left keys of a BatchGetItem unprocessed")
        task = found.get(task_key[SORT_KEY]["S"])
        if task is None or not dynamo.is_live(task, now):
            return Gone.TASK
        comment = found.get(comment_key[SORT_KEY]["S"])
        return Gone.COMMENT if comment is None else _COMMENTS.record(comment)

    @dynamo.translating_errors
    def create(self, owner: str, comment: Comment, now: int) -> bool | Gone:
        """One transaction: the task check and a PutItem of a new comment."""
        new = Expression()
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {"ConditionCheck": self._task_check(owner, comment[TASK_ID], now)},
                    {"Put": self._put(self.item(owner, comment), new, new.missing())},
                ]
            )
        except self._client.exceptions.TransactionCanceledException as error:
            task, written = _reasons(error, 2)
            if _failed(task):
                return Gone.TASK
            if _failed(written):
                return False
            raise error
        return True

    @dynamo.translating_errors
    def create_idempotent(
        self,
        owner: str,
        comment: Comment,
        key: str,
        request_hash: str,
        now: int,
        remember_until: int,
    ) -> Comment | Remembered[Comment] | Gone | None:
        """One transaction: the task check, the key remembered (unless it is in use) and a
        PutItem of a new comment."""
        record = {
            **_idempotency_key(owner, key),
            _REQUEST_HASH: {"S": request_hash},
            _REMEMBERED: dynamo.serialize(comment),
            TTL_ATTRIBUTE: {"N": str(remember_until)},
        }
        unused, new = Expression(), Expression()
        unused_condition = f"{unused.missing()} OR NOT {unused.not_expired(now)}"
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {"ConditionCheck": self._task_check(owner, comment[TASK_ID], now)},
                    {"Put": self._put(record, unused, unused_condition)},
                    {"Put": self._put(self.item(owner, comment), new, new.missing())},
                ]
            )
        except self._client.exceptions.TransactionCanceledException as error:
            task, remembered, written = _reasons(error, 3)
            if _failed(task):
                return Gone.TASK
            if _failed(remembered):
                return _remembered(remembered.get("Item"))
            if remembered.get("Code") == TRANSACTION_CONFLICT:
                raise IdempotencyConflict() from None
            if _failed(written):
                return None
            raise error
        return comment

    @dynamo.translating_errors
    def replace(
        self, owner: str, comment: Comment, expected: Version, now: int
    ) -> Refused[Comment] | Gone | None:
        """One transaction: the task check and a PutItem conditioned on the version."""
        condition = Expression()
        put = self._put(
            self.item(owner, comment), condition, condition.version_matches((expected,))
        )
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {"ConditionCheck": self._task_check(owner, comment[TASK_ID], now)},
                    {"Put": put},
                ]
            )
        except self._client.exceptions.TransactionCanceledException as error:
            return _refusal(error)
        return None

    @dynamo.translating_errors
    def delete(
        self, owner: str, task_id: str, comment_id: str, if_match: Match | None, now: int
    ) -> Refused[Comment] | Gone | None:
        """One transaction: the task check and a DeleteItem of an existing comment that
        matches ``if_match``."""
        condition = Expression()
        matching = condition.exists() if if_match is None else condition.version_matches(if_match)
        delete = {
            "TableName": self._table,
            "Key": _key(owner, task_id, comment_id),
            "ConditionExpression": matching,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            **condition.params(),
        }
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {"ConditionCheck": self._task_check(owner, task_id, now)},
                    {"Delete": cast("DeleteTypeDef", delete)},
                ]
            )
        except self._client.exceptions.TransactionCanceledException as error:
            return _refusal(error)
        return None

    @dynamo.translating_errors
    def list_page(
        self,
        owner: str,
        task_id: str,
        limit: int,
        cursor: str | None,
        now: int,
        page_bytes: PageBytes[Comment] | None = None,
    ) -> Page[Comment] | Gone:
        """See ``CollectionPager``: the first page is one Query, a later one a GetItem of
        the task and a Query."""
        page = self.pager.page(
            self._table,
            owner,
            _task_sort_key(task_id),
            KIND,
            limit=limit,
            cursor=cursor,
            now=now,
            page_bytes=page_bytes,
        )
        return Gone.TASK if page is None else page


def _reasons(error: ClientError, items: int) -> list[dict[str, Any]]:
    return dynamo.cancellation_reasons(error, items)


def _failed(reason: dict[str, Any]) -> bool:
    return reason.get("Code") == CONDITION_FAILED


def _refusal(error: ClientError) -> Refused[Comment] | Gone:
    """What a cancelled write on a comment met: the task gone, or the comment's condition
    failing (with the comment it saw)."""
    task, written = _reasons(error, 2)
    if _failed(task):
        return Gone.TASK
    if _failed(written):
        item = written.get("Item")
        return Refused(_COMMENTS.record(item) if item else None)
    raise error
