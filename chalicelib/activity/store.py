"""Reading the activity history: a task's events and an owner's feed, one Query a page.

A task's events sort by ``TASK#<task>#<order>#<event>`` in the owner's activity partition
(the history), and by ``<order>#<event>`` in the list index (the feed): newest first, both.
The order is the order the table changed in (``consumer.order_of``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.activity.record import Event
from chalicelib.activity.schema import FIELDS, ID, LIST_PARAMETERS, VERSION
from chalicelib.core import dynamo
from chalicelib.core.cursor import CursorCodec
from chalicelib.core.dynamo import Expression, KeysetPager, ListOrder, RecordItems
from chalicelib.core.paging import LIMIT, Page
from chalicelib.table import BY_CREATED_INDEX, LIST_SORT_KEY, PARTITION_KEY, SORT_KEY

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
else:
    DynamoDBClient = Any


def activity_partition(owner: str) -> str:
    """An owner's events: apart from the tasks, so that no task query ever reads them."""
    return f"{dynamo.owner_partition(owner)}#ACTIVITY"


def history_prefix(task_id: str) -> str:
    """What the sort keys of one task's events start with: ``TASK#<id>#``."""
    return f"TASK#{task_id}#"


#: A page's read budget, as for tasks: the largest page and one more item, in two Queries.
MAX_ITEMS_READ_PER_PAGE = LIST_PARAMETERS[LIMIT]["maximum"] + 1
MAX_QUERIES_PER_PAGE = 2
#: What a cursor calls an event's place in the order the table changed in.
ORDER = "order"
#: The feed: newest first in that order, ties (none: one record, one order) broken by id.
FEED_ORDER = ListOrder(attribute=LIST_SORT_KEY, fields=(ORDER, ID))


#: An event's optional fields stay absent where it has none, rather than null.
_EVENTS: RecordItems[Event] = RecordItems(tuple(FIELDS), (VERSION,))


def history_order(owner: str, task_id: str) -> ListOrder:
    """A task's events: its range of the owner's activity partition, newest first."""
    return ListOrder(
        attribute=SORT_KEY,
        prefix=history_prefix(task_id),
        fields=(ORDER, ID),
        partition=(PARTITION_KEY, activity_partition(owner)),
    )


class ActivityStore(Protocol):
    """What the activity service needs from a store."""

    def history(
        self, owner: str, task_id: str, limit: int, cursor: str | None, now: int
    ) -> Page[Event]:
        """One page of a task's events, newest first."""

    def feed(self, owner: str, limit: int, cursor: str | None, now: int) -> Page[Event]:
        """One page of all the owner's events, newest first."""


class DynamoActivityStore:
    def __init__(self, client: DynamoDBClient, table_name: str, cursors: CursorCodec) -> None:
        self._table = table_name
        self.pager = KeysetPager(
            client, cursors, _EVENTS, MAX_ITEMS_READ_PER_PAGE, MAX_QUERIES_PER_PAGE
        )

    @dynamo.translating_errors
    def history(
        self, owner: str, task_id: str, limit: int, cursor: str | None, now: int
    ) -> Page[Event]:
        expression = Expression()
        partition = (
            f"{expression.name(PARTITION_KEY)} = {expression.value(activity_partition(owner))}"
        )
        order = history_order(owner, task_id)
        within = f"begins_with({expression.name(SORT_KEY)}, {expression.value(order.prefix)})"
        return self._page(
            {"TableName": self._table},
            expression,
            f"{partition} AND {within}",
            binding=f"{owner}\x00history\x00{task_id}",
            limit=limit,
            cursor=cursor,
            now=now,
            order=order,
        )

    @dynamo.translating_errors
    def feed(self, owner: str, limit: int, cursor: str | None, now: int) -> Page[Event]:
        expression = Expression()
        partition = (
            f"{expression.name(PARTITION_KEY)} = {expression.value(activity_partition(owner))}"
        )
        return self._page(
            {"TableName": self._table, "IndexName": BY_CREATED_INDEX},
            expression,
            partition,
            binding=f"{owner}\x00feed",
            limit=limit,
            cursor=cursor,
            now=now,
            order=FEED_ORDER,
        )

    def _page(
        self,
        query: dict[str, Any],
        expression: Expression,
        key: str,
        *,
        binding: str,
        limit: int,
        cursor: str | None,
        now: int,
        order: ListOrder,
    ) -> Page[Event]:
        """Events past their retention are hidden at once, as expired tasks are."""
        query = {**query, "FilterExpression": expression.not_expired(now)}
        return self.pager.page(
            query,
            expression,
            key,
            binding=binding,
            limit=limit,
            cursor=cursor,
            now=now,
            order=order,
        )
