"""The comment service: every rule between HTTP and the store.

It validates the ids and the body, generates time-ordered ids, sets the author from the
caller, stamps times and counts versions, decides what a precondition or an
Idempotency-Key means and raises domain errors: a missing or expired task is a 404 for the
task, whatever the route. It knows nothing of HTTP and nothing of DynamoDB: it receives
its store, its clock and its id generator through the constructor.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import uuid
from collections.abc import Callable
from typing import Any, cast

from chalicelib.comments import schema
from chalicelib.comments.record import Author, Comment
from chalicelib.comments.schema import (
    AUTHOR,
    BODY,
    CREATED_AT,
    ID,
    RESOURCE,
    TASK_ID,
    UPDATED_AT,
    USER,
    VERSION,
)
from chalicelib.comments.store import CommentStore, Gone
from chalicelib.core import clock, encoding, validation
from chalicelib.core import schema as core_schema
from chalicelib.core.clock import Clock, utc_now, utc_timestamp
from chalicelib.core.conditions import Match, Version, matches
from chalicelib.core.errors import (
    FieldError,
    IdempotencyKeyReused,
    NotFound,
    PreconditionFailed,
    StoreUnavailable,
    ValidationFailed,
)
from chalicelib.core.outcomes import Refused, Remembered
from chalicelib.core.paging import CURSOR, LIMIT, Page, PageBytes
from chalicelib.tasks.schema import RESOURCE as TASK_RESOURCE

# The same window as a task creation's: one Idempotency-Key parameter documents both.
from chalicelib.tasks.service import IDEMPOTENCY_WINDOW_SECONDS as IDEMPOTENCY_WINDOW_SECONDS

#: Path parameters, as a problem names them.
TASK_ID_PARAMETER = "task_id"
COMMENT_ID_PARAMETER = "comment_id"
#: A comment id collides only in theory: this many taken ids in a row is a broken new_id.
MAX_ID_ATTEMPTS = 5
#: A PATCH without a single ETag reads the comment, then writes if it is still that
#: version; when other writes keep coming in between, it gives up after this many reads.
MAX_PATCH_ATTEMPTS = 3
#: A page ends early, with a cursor, before its comments outweigh Lambda's result limit.
_PAGE_BYTES: PageBytes[Comment] = PageBytes(encoding.PAGE_BUDGET_BYTES, encoding.lambda_weight)

_INPUT = validation.SchemaCheck(schema.COMMENT_INPUT_SCHEMA)
_PATCH = validation.SchemaCheck(schema.COMMENT_PATCH_SCHEMA)
_LIST = validation.SchemaCheck(schema.LIST_PARAMETERS_SCHEMA)

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def time_ordered_id(moment: dt.datetime, random_bits: int | None = None) -> str:
    """A UUIDv7 (RFC 9562) of ``moment``: 48 bits of Unix milliseconds, then the
    microseconds within that millisecond in 12 bits (the RFC's method 3, sub-millisecond
    precision), then 62 random bits. Its text sorts as its time does, so ordering ids is
    ordering by creation to the microsecond; ids of the same microsecond fall in random
    order."""
    elapsed = moment - _EPOCH
    micros = (elapsed.days * 86_400 + elapsed.seconds) * 1_000_000 + elapsed.microseconds
    milliseconds, within = divmod(micros, 1000)
    fraction = (within << 12) // 1000  # strictly increasing in ``within``: 4096 steps
    value = (milliseconds << 80) | (0x7 << 76) | (fraction << 64)
    value |= (0b10 << 62) | (secrets.randbits(62) if random_bits is None else random_bits)
    return str(uuid.UUID(int=value))


def earliest_id(moment: dt.datetime) -> str:
    """The lowest id ``time_ordered_id`` can give at ``moment``: every comment made from
    then on sorts after it (the stream consumer removes what a task had before)."""
    return time_ordered_id(moment, random_bits=0)


def _check_ids(task_id: str, comment_id: str | None = None) -> list[FieldError]:
    found = [validation.invalid_id(task_id, TASK_ID_PARAMETER)]
    if comment_id is not None:
        found.append(validation.invalid_id(comment_id, COMMENT_ID_PARAMETER))
    return [error for error in found if error is not None]


def _validate(
    ids: list[FieldError], against: validation.SchemaCheck | None, body: dict[str, Any]
) -> None:
    """The path's ids and the body at once: one 400 names everything that is wrong."""
    found, total = against.check(body) if against is not None else ({}, 0)
    if not ids and not found:
        return
    listed = validation.failed(found, total).errors if found else []
    raise ValidationFailed([*ids, *listed], len(ids) + total)


def _validate_ids(task_id: str, comment_id: str | None = None) -> None:
    _validate(_check_ids(task_id, comment_id), None, {})


def _writable(body: dict[str, Any]) -> dict[str, Any]:
    return core_schema.writable(body, schema.SERVER_FIELDS)


def _request_hash(task_id: str, fields: dict[str, Any]) -> str:
    """Requests that would store the same comment on the same task are the same request."""
    canonical = json.dumps(
        [task_id, fields], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _author(owner: str) -> Author:
    """Only the task's owner reaches its comments, so the owner wrote each of them."""
    return Author(type=USER, id=owner)


def _comment(
    comment_id: str, task_id: str, body: str, owner: str, created: str, updated: str, version: int
) -> Comment:
    fields = {
        ID: comment_id,
        TASK_ID: task_id,
        BODY: body,
        AUTHOR: _author(owner),
        CREATED_AT: created,
        UPDATED_AT: updated,
        VERSION: version,
    }
    return cast(Comment, fields)


def _single(if_match: Match | None) -> Version | None:
    """The one version If-Match names, when it names exactly one."""
    if if_match is None or isinstance(if_match, str) or len(if_match) != 1:
        return None
    return if_match[0]


class CommentService:
    """Create, read, patch, delete and list the comments on one owner's tasks."""

    def __init__(
        self,
        store: CommentStore,
        clock: Clock = utc_now,
        new_id: Callable[[dt.datetime], str] = time_ordered_id,
    ) -> None:
        """``new_id`` makes the id of a comment created at a moment: ids must sort as
        their moments do, since the list is in id order, oldest first."""
        self._store = store
        self._clock = clock
        self._new_id = new_id

    def _not_found(self, gone: Gone, task_id: str, comment_id: str | None = None) -> NotFound:
        if gone is Gone.TASK or comment_id is None:
            return NotFound(TASK_RESOURCE, task_id)
        return NotFound(RESOURCE, comment_id)

    def create(
        self,
        owner: str,
        task_id: str,
        body: dict[str, Any],
        idempotency_key: str | None = None,
    ) -> Comment:
        """POST: a new comment on the task, by the caller. With an Idempotency-Key, a repeat
        of the same request within the window returns the comment the first one created."""
        fields = _writable(body)
        _validate(_check_ids(task_id), _INPUT, fields)
        now = self._clock()
        epoch, stamp = clock.epoch(now), utc_timestamp(now)
        for _ in range(MAX_ID_ATTEMPTS):  # never overwrite a comment whose id was drawn again
            comment = _comment(self._new_id(now), task_id, fields[BODY], owner, stamp, stamp, 1)
            if idempotency_key is None:
                created = self._store.create(owner, comment, epoch)
                if isinstance(created, Gone):
                    raise self._not_found(created, task_id)
                if created:
                    return comment
                continue
            request_hash = _request_hash(task_id, fields)
            outcome = self._store.create_idempotent(
                owner,
                comment,
                idempotency_key,
                request_hash,
                now=epoch,
                remember_until=epoch + IDEMPOTENCY_WINDOW_SECONDS,
            )
            if isinstance(outcome, Gone):
                raise self._not_found(outcome, task_id)
            if isinstance(outcome, Remembered):
                if outcome.request_hash != request_hash:
                    raise IdempotencyKeyReused()
                return outcome.record
            if outcome is not None:
                return outcome
        raise RuntimeError(f"no free id in {MAX_ID_ATTEMPTS} attempts: is new_id random?")

    def get(self, owner: str, task_id: str, comment_id: str) -> Comment:
        _validate_ids(task_id, comment_id)
        found = self._store.get(owner, task_id, comment_id, clock.epoch(self._clock()))
        if isinstance(found, Gone):
            raise self._not_found(found, task_id, comment_id)
        return found

    def patch(
        self,
        owner: str,
        task_id: str,
        comment_id: str,
        patch: dict[str, Any],
        if_match: Match | None = None,
    ) -> Comment:
        """JSON Merge Patch (RFC 7396) of the body. With If-Match naming one ETag, one
        write conditioned on that version; otherwise the comment is read first (to check
        If-Match and to know its version) and written only if still unchanged."""
        changes = _writable(patch)
        _validate(_check_ids(task_id, comment_id), _PATCH, changes)
        if not changes:  # an empty patch changes nothing, so the version stays
            current = self.get(owner, task_id, comment_id)
            if if_match is not None and not matches(current, if_match):
                raise PreconditionFailed(RESOURCE, comment_id)
            return current
        expected = _single(if_match)
        for _ in range(MAX_PATCH_ATTEMPTS):
            if expected is None:
                current = self.get(owner, task_id, comment_id)
                if if_match is not None and not matches(current, if_match):
                    raise PreconditionFailed(RESOURCE, comment_id)
                version = Version.of(current)
            else:
                version = expected
            now = self._clock()
            changed = _comment(
                comment_id,
                task_id,
                changes[BODY],
                owner,
                version.created_at,
                utc_timestamp(now),
                version.version + 1,
            )
            refused = self._store.replace(owner, changed, version, clock.epoch(now))
            if refused is None:
                return changed
            if isinstance(refused, Gone):
                raise self._not_found(refused, task_id, comment_id)
            if refused.current is None:
                raise NotFound(RESOURCE, comment_id)
            if expected is not None:  # the one version If-Match allows is not current
                raise PreconditionFailed(RESOURCE, comment_id)
        raise StoreUnavailable(
            f"comment {comment_id} kept changing under {MAX_PATCH_ATTEMPTS} reads"
        )

    def delete(
        self, owner: str, task_id: str, comment_id: str, if_match: Match | None = None
    ) -> None:
        _validate_ids(task_id, comment_id)
        epoch = clock.epoch(self._clock())
        refused = self._store.delete(owner, task_id, comment_id, if_match, epoch)
        if isinstance(refused, Gone):
            raise self._not_found(refused, task_id, comment_id)
        if isinstance(refused, Refused):
            if refused.current is None:
                raise NotFound(RESOURCE, comment_id)
            raise PreconditionFailed(RESOURCE, comment_id)

    def list(
        self, owner: str, task_id: str, parameters: dict[str, str | list[str]]
    ) -> Page[Comment]:
        """One page of the task's comments, oldest first; ``parameters`` are the list's
        query parameters."""
        ids = _check_ids(task_id)
        try:
            params = validation.validate_parameters(_LIST, parameters)
        except ValidationFailed as invalid:
            raise ValidationFailed([*ids, *invalid.errors], len(ids) + invalid.total) from None
        _validate(ids, None, {})
        epoch = clock.epoch(self._clock())
        page = self._store.list_page(
            owner, task_id, params[LIMIT], params.get(CURSOR), epoch, _PAGE_BYTES
        )
        if isinstance(page, Gone):
            raise self._not_found(page, task_id)
        return page
