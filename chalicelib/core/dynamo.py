"""The DynamoDB core every resource's store is written with: owner-scoped keys, expression
and update builders, error translation, items as typed records, and keyset paging with
signed cursors.

The table is ``chalicelib.table``'s: every key starts with the owner, so no request can
cross owners. A resource's store adds only its own keys, conditions and filters.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, cast

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from chalicelib.core.conditions import ANY, Match
from chalicelib.core.cursor import CursorCodec
from chalicelib.core.errors import InvalidCursor, StoreUnavailable
from chalicelib.core.paging import Page, PageBytes
from chalicelib.core.record import CREATED_AT, ID, VERSION
from chalicelib.table import LIST_SORT_KEY, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
else:
    DynamoDBClient = Any

P = ParamSpec("P")
T = TypeVar("T")
R = TypeVar("R")
Item = dict[str, Any]

_serializer = TypeSerializer()


#: DynamoDB's numbers have at most 38 significant digits; TypeSerializer rejects more.
_MAX_FAST_INT = 10**38


def serialize(value: Any) -> dict[str, Any]:
    """One attribute value in DynamoDB's wire format, exactly as TypeSerializer writes it.
    Strings, integers and lists skip its type dispatch, a few microseconds a value on every
    write (docs/design/costs.md, Per request); everything else goes through it."""
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is int and -_MAX_FAST_INT < value < _MAX_FAST_INT:
        return {"N": str(value)}
    if kind is list:
        return {"L": [serialize(item) for item in value]}
    return cast(dict[str, Any], _serializer.serialize(value))


_deserializer = TypeDeserializer()


# --- keys -------------------------------------------------------------------------------


def owner_partition(owner: str) -> str:
    """The partition of everything an owner stores."""
    return f"OWNER#{owner}"


def item_key(owner: str, kind: str, name: str) -> Item:
    """Primary key of an owner's item: ``<kind>#<name>`` in the owner's partition."""
    return {PARTITION_KEY: {"S": owner_partition(owner)}, SORT_KEY: {"S": f"{kind}#{name}"}}


def list_key(created_at: str, record_id: str) -> str:
    """The list indexes' sort key: newest first by creation, ties broken by id."""
    return f"{created_at}#{record_id}"


# --- expressions ------------------------------------------------------------------------


class Expression:
    """Collects placeholder names and values for one request's expressions."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def name(self, attribute: str) -> str:
        placeholder = f"#a{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = serialize(value)
        return placeholder

    def not_expired(self, now: int) -> str:
        expire_at = self.name(TTL_ATTRIBUTE)
        return f"(attribute_not_exists({expire_at}) OR {expire_at} > {self.value(now)})"

    def exists(self) -> str:
        return f"attribute_exists({self.name(PARTITION_KEY)})"

    def missing(self) -> str:
        return f"attribute_not_exists({self.name(PARTITION_KEY)})"

    def version_matches(self, match: Match) -> str:
        """The current version is one of ``match`` (any existing record for ``*``)."""
        if match == ANY:
            return self.exists()
        if not match:
            return f"{self.name(VERSION)} = {self.value(-1)}"  # nothing can match
        alternatives = [
            f"({self.name(VERSION)} = {self.value(v.version)} AND "
            f"{self.name(CREATED_AT)} = {self.value(v.created_at)})"
            for v in match
        ]
        # DynamoDB rejects redundant parentheses, such as ((a AND b)).
        return alternatives[0] if len(alternatives) == 1 else f"({' OR '.join(alternatives)})"

    def current(self, now: int, if_match: Match | None) -> str:
        """The record exists, has not expired and matches ``if_match``."""
        condition = f"{self.exists()} AND {self.not_expired(now)}"
        if if_match is not None:
            condition += f" AND {self.version_matches(if_match)}"
        return condition

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"ExpressionAttributeNames": self.names}
        if self.values:
            params["ExpressionAttributeValues"] = self.values
        return params


class Update(Expression):
    """Builds one UpdateExpression: SET for values, REMOVE for nulls."""

    def __init__(self) -> None:
        super().__init__()
        self.sets: list[str] = []
        self.removes: list[str] = []

    def set(self, attribute: str, value: Any) -> None:
        if value is None:
            self.removes.append(self.name(attribute))
        else:
            self.sets.append(f"{self.name(attribute)} = {self.value(value)}")

    def set_expression(self, attribute: str, expression: str) -> None:
        self.sets.append(f"{self.name(attribute)} = {expression}")

    def set_if_missing(self, attribute: str, value: Any) -> None:
        """Keep the attribute's value; set ``value`` only where there is none yet."""
        self.set_expression(
            attribute, f"if_not_exists({self.name(attribute)}, {self.value(value)})"
        )

    def increment_version(self) -> None:
        version = self.name(VERSION)
        zero, one = self.value(0), self.value(1)
        self.sets.append(f"{version} = if_not_exists({version}, {zero}) + {one}")

    def params(self) -> dict[str, Any]:
        clauses = []
        if self.sets:
            clauses.append("SET " + ", ".join(self.sets))
        if self.removes:
            clauses.append("REMOVE " + ", ".join(self.removes))
        return {"UpdateExpression": " ".join(clauses), **super().params()}


# --- errors -----------------------------------------------------------------------------

#: What a cancelled transaction says of an item whose condition failed, and of one that met
#: another transaction on the same item at the same time.
CONDITION_FAILED = "ConditionalCheckFailed"
TRANSACTION_CONFLICT = "TransactionConflict"


#: DynamoDB's answers when it throttles (after the client's own retries ran out).
THROTTLING_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)


def _unavailable(error: Exception) -> StoreUnavailable | None:
    """The domain error for a DynamoDB failure that a later retry may not meet; None for
    every other error (a bug, a misconfiguration), which must stay a 500."""
    if isinstance(error, BotoConnectionError | HTTPClientError):
        return StoreUnavailable(f"DynamoDB unreachable: {type(error).__name__}")
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        reasons = cast(list[dict[str, Any]], error.response.get("CancellationReasons") or [])
        cancelled_by_throttling = any(r.get("Code") == "ThrottlingError" for r in reasons)
        if code in THROTTLING_CODES or cancelled_by_throttling:
            return StoreUnavailable(f"DynamoDB throttled: {code}")
        if any(r.get("Code") == TRANSACTION_CONFLICT for r in reasons):
            return StoreUnavailable("a transaction met another write on one of its items")
    return None


def translating_errors(method: Callable[P, T]) -> Callable[P, T]:
    """Throttling, unreachable DynamoDB and a transaction cancelled by a concurrent write
    become StoreUnavailable (503); nothing else changes, so every other failure stays a
    500."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return method(*args, **kwargs)
        except (ClientError, BotoConnectionError, HTTPClientError) as error:
            unavailable = _unavailable(error)
            if unavailable is None:
                raise
            raise unavailable from error

    return wrapper


def cancellation_reasons(error: ClientError, items: int) -> list[dict[str, Any]]:
    """Why a transaction of ``items`` items was cancelled: one reason per item, in their
    order. Its ``Code`` is "None" for an item that did not cancel it; its ``Item`` is the
    item a failed condition saw, where ReturnValuesOnConditionCheckFailure asked for it."""
    reasons = cast(list[dict[str, Any]], error.response.get("CancellationReasons") or [])
    return [*reasons, *[{}] * (items - len(reasons))]


def failed_item(error: ClientError) -> Item | None:
    """The item a failed condition saw (ReturnValuesOnConditionCheckFailure=ALL_OLD)."""
    item: Item | None = cast(Mapping[str, Any], error.response).get("Item")
    return item


# --- items and records ------------------------------------------------------------------


def is_live(item: Item, now: int) -> bool:
    """Whether an item is still there for the API: it has no expiry, or one still in the
    future (DynamoDB's TTL deletes an expired item only later)."""
    return TTL_ATTRIBUTE not in item or int(item[TTL_ATTRIBUTE]["N"]) > now


def _plain(value: Any) -> Any:
    """DynamoDB's numbers as JSON's: Decimals become int (or float), at any depth."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | set):
        return [_plain(item) for item in value]
    return value


def _plain_value(attribute: dict[str, Any]) -> Any:
    """``_plain`` of what TypeDeserializer reads from ``attribute``, exactly; strings,
    integers, lists, nulls and booleans without its type dispatch (docs/design/costs.md)."""
    kind = next(iter(attribute), None)
    if kind == "S":
        return attribute["S"]
    if kind == "N":
        try:
            return int(attribute["N"])
        except ValueError:
            pass  # a fraction or an exponent: Decimal's rules, below
    elif kind == "L":
        return [_plain_value(item) for item in attribute["L"]]
    elif kind == "NULL":
        return None
    elif kind == "BOOL":
        return attribute["BOOL"]
    return _plain(_deserializer.deserialize(cast(Any, attribute)))


class RecordItems(Generic[R]):
    """A resource's records as items and back: exactly the schema's fields, in its order.
    A null field is stored as an absent attribute; integers come back as int, not Decimal."""

    def __init__(
        self,
        fields: Sequence[str],
        integers: Sequence[str],
        default_for: Callable[[str], Any] | None = None,
    ) -> None:
        """``default_for``: the value of a field the item lacks; None leaves it out of the
        record (for records whose optional fields are absent rather than null)."""
        self._fields = tuple(fields)
        self._integers = tuple(integers)
        self._default_for = default_for

    def record(self, item: Item) -> R:
        values = {name: _plain_value(item[name]) for name in self._fields if name in item}
        default_for = self._default_for
        if default_for is not None:
            values = {  # a default is built only for a field the item lacks
                name: values[name] if name in values else default_for(name) for name in self._fields
            }
        for name in self._integers:
            if values.get(name) is not None:
                values[name] = int(values[name])
        return cast(R, values)

    def item(self, record: R, key: Item) -> Item:
        """The item that stores ``record`` under ``key`` (and any index attributes)."""
        attributes = cast(Mapping[str, Any], record)
        return {
            **{k: serialize(v) for k, v in attributes.items() if v is not None},
            **key,
        }


# --- keyset paging ----------------------------------------------------------------------


@dataclass(frozen=True)
class ListOrder:
    """How a list walks its sort key: ``attribute`` holds ``<prefix><a>#<b>``, where ``a`` and
    ``b`` (neither holding a ``#``) are what a cursor carries under the two ``fields`` names,
    such as a task's creation time and id."""

    attribute: str = LIST_SORT_KEY
    prefix: str = ""
    fields: tuple[str, str] = (CREATED_AT, ID)
    newest_first: bool = True
    #: For a list within a partition's sort key range (its key condition already holds a
    #: ``begins_with``, and DynamoDB takes one condition per key): the table's partition key
    #: and its value, so that a cursor resumes with ExclusiveStartKey instead.
    partition: tuple[str, str] | None = None

    def key_position(self, key: Item) -> dict[str, str]:
        """The place of an item in the list, as a cursor carries it, read from its sort key
        (an item read, or a LastEvaluatedKey)."""
        first, _, second = key[self.attribute]["S"].removeprefix(self.prefix).partition("#")
        return dict(zip(self.fields, (first, second), strict=True))

    def sort_key(self, position: dict[str, Any]) -> str:
        """The sort key at a cursor's position; InvalidCursor for a position not made here."""
        values = [position.get(name) for name in self.fields]
        if not all(isinstance(value, str) for value in values):
            raise InvalidCursor("is not a cursor this API issued")
        return self.prefix + "#".join(str(value) for value in values)


#: Newest first by creation, ties broken by id: the list indexes' order.
BY_CREATION = ListOrder()


class KeysetPager(Generic[R]):
    """Pages of a list, in its ``ListOrder``, with a bounded read per page.

    Each page costs at most ``max_queries`` Queries evaluating at most ``max_items``
    items, whatever the owner holds. The cursor names a list position (the values of the
    order's two fields, such as a record's creation time and id), not DynamoDB's
    LastEvaluatedKey, so it reveals no key schema; it is signed together with a *binding*
    (the owner and the filters), so it serves only the query it was made for.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        cursors: CursorCodec,
        items: RecordItems[R],
        max_items: int,
        max_queries: int,
    ) -> None:
        self._client = client
        self._cursors = cursors
        self._items = items
        self.max_items = max_items
        self.max_queries = max_queries

    def page(
        self,
        query: dict[str, Any],
        expression: Expression,
        key_condition: str,
        *,
        binding: str,
        limit: int,
        cursor: str | None,
        now: int,
        page_bytes: PageBytes[R] | None = None,
        order: ListOrder = BY_CREATION,
    ) -> Page[R]:
        """One page of ``query`` (a Query request without its key condition), whose
        placeholders are ``expression``'s. The first Query evaluates ``limit + 1`` items
        (the extra one only tells whether a next page exists), which fills an unfiltered
        page. Filters apply after DynamoDB has read the items: when they leave the page
        short, a further Query reads the rest of the budget. A page that is still short then
        holds what matched, possibly nothing, and a cursor at the last item read, so the
        next page resumes exactly there. ``page_bytes`` ends a page early, at a record
        boundary, when its records would weigh more than its budget."""
        start: Item | None = None
        if cursor is not None:
            after = order.sort_key(self._cursors.decode(cursor, binding, now))
            if order.partition is not None:
                attribute, value = order.partition
                start = {attribute: {"S": value}, order.attribute: {"S": after}}
            else:
                beyond = "<" if order.newest_first else ">"
                sort_key = expression.name(order.attribute)
                key_condition += f" AND {sort_key} {beyond} {expression.value(after)}"
        request: dict[str, Any] = {
            **query,
            "KeyConditionExpression": key_condition,
            "ScanIndexForward": not order.newest_first,
            **expression.params(),
        }
        if start is not None:
            request["ExclusiveStartKey"] = start
        matched: list[Item] = []
        records: list[R] = []
        read, last_read = 0, None
        query_limit = min(limit + 1, self.max_items)
        for _ in range(self.max_queries):
            response = self._client.query(**request, Limit=query_limit)
            matched.extend(response.get("Items", []))
            read += response.get("ScannedCount", query_limit)
            last_read = response.get("LastEvaluatedKey")
            query_limit = self.max_items - read
            candidates = [self._items.record(item) for item in matched[:limit]]
            records = page_bytes.fitting(candidates) if page_bytes else candidates
            full = len(records) == limit or len(records) < len(candidates)  # count or bytes
            if full or last_read is None or query_limit <= 0:
                break
            request["ExclusiveStartKey"] = last_read
        if len(records) < len(matched):  # more matched than the page holds
            position = order.key_position(matched[len(records) - 1])
        elif last_read is not None:  # the budget ran out before the end of the list
            position = order.key_position(last_read)
        else:
            return Page(records, None)
        return Page(records, self._cursors.encode(position, binding, now))


#: Sorts after every character an id may hold: the end of a sort-key range.
_LAST = "\U0010ffff"


class CollectionPager(Generic[R]):
    """Pages of the children of a parent item, in sort-key order: an item collection in the
    owner's partition, whose parent has the sort key ``<parent>`` and each child
    ``<parent>#<kind>#<child id>``. With time-ordered child ids, that is oldest first.

    A page never shows the children of a parent that is gone or has expired (None
    instead). The first page is one Query, which reads the parent first: ids hold only
    characters that sort after ``#``, so no other item sorts between the parent and its
    children. A later page starts after its cursor's child, past the parent, so it reads
    the parent first with a GetItem: two requests. Each Query asks for the page and one
    item more, which only tells whether another page follows; DynamoDB's 1 MB cap on a
    Query can leave a page short, with a cursor where it stopped. The cursor names the
    last child shown and is signed with a binding (the owner and the parent)."""

    def __init__(self, client: DynamoDBClient, cursors: CursorCodec, items: RecordItems[R]) -> None:
        self._client = client
        self._cursors = cursors
        self._items = items

    def page(
        self,
        table: str,
        owner: str,
        parent: str,
        kind: str,
        *,
        limit: int,
        cursor: str | None,
        now: int,
        page_bytes: PageBytes[R] | None = None,
    ) -> Page[R] | None:
        """One page of ``parent``'s children of ``kind`` (a parent's sort key such as
        ``TASK#<id>``), or None when the parent is missing or expired."""
        partition = owner_partition(owner)
        prefix = f"{parent}#{kind}#"
        binding = "\x00".join([owner, parent, kind])
        request: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
        if cursor is None:
            lower, query_limit = parent, limit + 2  # the parent, the page, one more
        else:
            after = self._cursors.decode(cursor, binding, now).get(ID)
            if not isinstance(after, str):
                raise InvalidCursor("is not a cursor this API issued")
            parent_item = self._client.get_item(
                TableName=table,
                Key={PARTITION_KEY: {"S": partition}, SORT_KEY: {"S": parent}},
                ConsistentRead=True,
            ).get("Item")
            if parent_item is None or not is_live(parent_item, now):
                return None
            lower, query_limit = prefix, limit + 1
            request["ExclusiveStartKey"] = {
                PARTITION_KEY: {"S": partition},
                SORT_KEY: {"S": prefix + after},
            }
        expression = Expression()
        request["KeyConditionExpression"] = (
            f"{expression.name(PARTITION_KEY)} = {expression.value(partition)} AND "
            f"{expression.name(SORT_KEY)} BETWEEN {expression.value(lower)} AND "
            f"{expression.value(prefix + _LAST)}"
        )
        response = self._client.query(**request, **expression.params(), Limit=query_limit)
        read = response.get("Items", [])
        if cursor is None:
            head = read[0] if read else None
            if head is None or head[SORT_KEY]["S"] != parent or not is_live(head, now):
                return None
            read = read[1:]
        candidates = [self._items.record(item) for item in read[:limit]]
        records = page_bytes.fitting(candidates) if page_bytes else candidates
        last_read = response.get("LastEvaluatedKey")
        if len(records) < len(read):  # more were read than the page holds
            position = cast(Mapping[str, Any], records[-1])[ID]
        elif last_read is not None:  # DynamoDB stopped before the end of the collection
            position = last_read[SORT_KEY]["S"].removeprefix(parent).removeprefix(f"#{kind}#")
        else:
            return Page(records, None)
        return Page(records, self._cursors.encode({ID: position}, binding, now))
