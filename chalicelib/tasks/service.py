"""The task service: every rule between HTTP and the store.

It validates input against the schema, applies defaults, generates ids and timestamps,
counts versions, decides what a precondition or an Idempotency-Key means, and raises
domain errors. It knows nothing of HTTP and nothing of DynamoDB: it receives its store
and its clock through the constructor, so tests can hand it fakes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any, cast

from chalicelib.core import clock, encoding, validation
from chalicelib.core import schema as core_schema
from chalicelib.core.clock import Clock, utc_now, utc_timestamp
from chalicelib.core.conditions import ANY, NONE, Match, Preconditions, matches
from chalicelib.core.errors import (
    IdempotencyKeyReused,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
)
from chalicelib.core.outcomes import Refused, Remembered
from chalicelib.core.paging import CURSOR, LIMIT, Page, PageBytes
from chalicelib.tasks import schema
from chalicelib.tasks.record import Task, is_visible
from chalicelib.tasks.schema import (
    CREATED_AT,
    EXPIRE_AT,
    ID,
    PRIORITY,
    RESOURCE,
    STATUS,
    TAG,
    UPDATED_AT,
    VERSION,
)
from chalicelib.tasks.store import ListFilters, TaskStore

#: How long an Idempotency-Key is remembered: a retry within this window replays.
IDEMPOTENCY_WINDOW_SECONDS = 24 * 60 * 60
#: A random UUID collides only in theory: this many taken ids in a row is a broken new_id.
MAX_ID_ATTEMPTS = 5
#: A page ends early, with a cursor, before its tasks outweigh Lambda's result limit.
_PAGE_BYTES: PageBytes[Task] = PageBytes(encoding.PAGE_BUDGET_BYTES, encoding.lambda_weight)

_INPUT = validation.SchemaCheck(schema.TASK_INPUT_SCHEMA)
_PATCH = validation.SchemaCheck(schema.TASK_PATCH_SCHEMA)
_LIST = validation.SchemaCheck(schema.LIST_PARAMETERS_SCHEMA)
_EXPIRED = "must be in the future"
_EXPIRE_AT_POINTER = f"/{EXPIRE_AT}"


def _validate(against: validation.SchemaCheck, body: dict[str, Any], now: dt.datetime) -> None:
    """The schema, then ``expireAt`` in the future (JSON Schema cannot say so). A
    schema-valid expireAt is null or an integral number (4102444800.0 is an integer)."""
    found, total = against.check(body)
    expire_at = body.get(EXPIRE_AT)
    if expire_at is not None and _EXPIRE_AT_POINTER not in found and expire_at <= now.timestamp():
        found[_EXPIRE_AT_POINTER] = _EXPIRED
        total += 1
    if found:
        raise validation.failed(found, total)


def only_expired(invalid: ValidationFailed) -> bool:
    """Whether the one thing wrong is an ``expireAt`` that has passed."""
    return all(e.pointer == _EXPIRE_AT_POINTER and e.detail == _EXPIRED for e in invalid.errors)


def _writable(body: dict[str, Any]) -> dict[str, Any]:
    return core_schema.writable(body, schema.SERVER_FIELDS)


def _normalized(fields: dict[str, Any]) -> dict[str, Any]:
    """Validated fields in stored form: JSON Schema lets 4102444800.0 be an integer."""
    integers = (name for name in schema.INTEGER_FIELDS if fields.get(name) is not None)
    return {**fields, **{name: int(fields[name]) for name in integers}}


def _stored(fields: dict[str, Any]) -> dict[str, Any]:
    """Validated fields as the store keeps them, defaults applied. Only ever after
    validation: converting first let ``expireAt: 1e400`` raise OverflowError (a 500)."""
    normalized = _normalized(fields)
    return {
        name: normalized[name] if name in normalized else schema.default_for(name)
        for name in schema.DEFAULTS
    }


def _request_hash(stored: dict[str, Any]) -> str:
    """Requests that would store the same task are the same request."""
    canonical = json.dumps(stored, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _new_task(task_id: str, stored: dict[str, Any], stamp: str) -> Task:
    fields = {ID: task_id, **stored, CREATED_AT: stamp, UPDATED_AT: stamp, VERSION: 1}
    return cast(Task, fields)


class TaskService:
    """Create, read, replace, patch, delete and list one owner's tasks."""

    def __init__(
        self,
        store: TaskStore,
        clock: Clock = utc_now,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._store = store
        self._clock = clock
        self._new_id = new_id

    def create(self, owner: str, body: dict[str, Any], idempotency_key: str | None = None) -> Task:
        """POST: a new task with a generated id. With an Idempotency-Key, a repeat of the
        same request within the window returns the task the first one created."""
        now = self._clock()
        epoch = clock.epoch(now)
        fields = _writable(body)
        try:
            _validate(_INPUT, fields, now)
        except ValidationFailed as invalid:
            # A retry of a request that was valid when first sent, whose expireAt has
            # passed since, still gets what the first one created.
            if idempotency_key is None or not only_expired(invalid):
                raise
            remembered = self._store.remembered(owner, idempotency_key, epoch)
            if remembered is None:
                raise
            return self._replay(remembered, _request_hash(_stored(fields)))
        stored = _stored(fields)
        stamp = utc_timestamp(now)
        for _ in range(MAX_ID_ATTEMPTS):  # never overwrite a task whose id was drawn again
            task = _new_task(self._new_id(), stored, stamp)
            if idempotency_key is None:
                if self._store.create(owner, task, epoch):
                    return task
                continue
            request_hash = _request_hash(stored)
            created = self._store.create_idempotent(
                owner,
                task,
                idempotency_key,
                request_hash,
                now=epoch,
                remember_until=epoch + IDEMPOTENCY_WINDOW_SECONDS,
            )
            if isinstance(created, Remembered):
                return self._replay(created, request_hash)
            if created is not None:
                return created
        raise RuntimeError(f"no free id in {MAX_ID_ATTEMPTS} attempts: is new_id random?")

    @staticmethod
    def _replay(remembered: Remembered[Task], request_hash: str) -> Task:
        """The first request's task, if this is the same request."""
        if remembered.request_hash != request_hash:
            raise IdempotencyKeyReused()
        return remembered.record

    def get(self, owner: str, task_id: str) -> Task:
        validation.validate_id(task_id)
        task = self._store.get(owner, task_id, clock.epoch(self._clock()))
        if task is None:
            raise NotFound(RESOURCE, task_id)
        return task

    def replace(
        self,
        owner: str,
        task_id: str,
        body: dict[str, Any],
        preconditions: Preconditions = NONE,
    ) -> tuple[Task, bool]:
        """PUT: create or replace at a client-chosen id. Returns (task, created).

        ``If-None-Match: *`` creates only; ``If-Match`` replaces only. An expired task that
        TTL has not swept yet is replaced by a new one (a second request, rarely)."""
        validation.validate_id(task_id)
        now = self._clock()
        epoch, stamp = clock.epoch(now), utc_timestamp(now)
        fields = _writable(body)
        _validate(_INPUT, fields, now)
        stored = _stored(fields)
        if preconditions.if_none_match == ANY:  # create only: one conditional PutItem
            fresh = _new_task(task_id, stored, stamp)
            if preconditions.if_match is not None:  # must exist and must not: never both
                raise PreconditionFailed(RESOURCE, task_id)
            if not self._store.create(owner, fresh, epoch):
                raise PreconditionFailed(RESOURCE, task_id)
            return fresh, True
        while True:
            outcome = self._store.upsert(owner, task_id, stored, epoch, stamp, preconditions)
            if not isinstance(outcome, Refused):
                return outcome, outcome[VERSION] == 1
            current = outcome.current
            if preconditions.if_match is not None or (current and is_visible(current, epoch)):
                raise PreconditionFailed(RESOURCE, task_id)
            fresh = _new_task(task_id, stored, stamp)
            if self._store.create(owner, fresh, epoch):  # over the expired task
                return fresh, True

    def patch(
        self, owner: str, task_id: str, patch: dict[str, Any], if_match: Match | None = None
    ) -> Task:
        """JSON Merge Patch (RFC 7396): null resets an optional field to its default."""
        validation.validate_id(task_id)
        now = self._clock()
        changes = _writable(patch)
        _validate(_PATCH, changes, now)
        if not changes:  # an empty patch changes nothing, so the version stays
            task = self.get(owner, task_id)
            if if_match is not None and not matches(task, if_match):
                raise PreconditionFailed(RESOURCE, task_id)
            return task
        values = {
            k: schema.default_for(k) if v is None else v for k, v in _normalized(changes).items()
        }
        epoch, stamp = clock.epoch(now), utc_timestamp(now)
        outcome = self._store.update(owner, task_id, values, epoch, stamp, if_match)
        if isinstance(outcome, Refused):
            raise self._refusal(task_id, outcome, epoch)
        return outcome

    def delete(self, owner: str, task_id: str, if_match: Match | None = None) -> None:
        validation.validate_id(task_id)
        epoch = clock.epoch(self._clock())
        refused = self._store.delete(owner, task_id, epoch, if_match)
        if refused is not None:
            raise self._refusal(task_id, refused, epoch)

    @staticmethod
    def _refusal(task_id: str, refused: Refused[Task], now: int) -> Exception:
        """412 when there was a visible task that did not match, 404 when there was none."""
        if refused.current is not None and is_visible(refused.current, now):
            return PreconditionFailed(RESOURCE, task_id)
        return NotFound(RESOURCE, task_id)

    def list(self, owner: str, parameters: dict[str, str | list[str]]) -> Page[Task]:
        """One page of the owner's tasks; ``parameters`` are GET /tasks' query parameters."""
        params = validation.validate_parameters(_LIST, parameters)
        filters = ListFilters(params.get(STATUS), params.get(PRIORITY), params.get(TAG))
        epoch = clock.epoch(self._clock())
        return self._store.list_page(
            owner, filters, params[LIMIT], params.get(CURSOR), epoch, _PAGE_BYTES
        )
