"""The task service: the rules between HTTP and the store.

It validates input against the schema, applies defaults, generates ids and
timestamps, and turns store outcomes into domain errors. It knows nothing of HTTP
and nothing of DynamoDB.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from chalicelib import encoding, schema, validation
from chalicelib.conditions import NONE, Match, Preconditions, matches
from chalicelib.errors import PreconditionFailed, TaskNotFound, ValidationFailed
from chalicelib.store import ListFilters, Page, PageBytes, Task, TaskStore

#: How long an Idempotency-Key is remembered: a retry within this window replays.
IDEMPOTENCY_WINDOW_SECONDS = 24 * 60 * 60
#: A page ends early, with a cursor, before its tasks outweigh Lambda's result limit.
_PAGE_BYTES = PageBytes(encoding.PAGE_BUDGET_BYTES, encoding.lambda_weight)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def utc_timestamp(moment: dt.datetime) -> str:
    """RFC 3339 UTC with fixed-width microseconds, so timestamps sort as strings."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _writable(body: dict[str, Any]) -> dict[str, Any]:
    """Drop server-managed fields: they are ignored so that GET, edit, PUT round-trips."""
    return {k: v for k, v in body.items() if k not in schema.SERVER_FIELDS}


def _normalized(fields: dict[str, Any]) -> dict[str, Any]:
    """Validated fields in stored form: JSON Schema lets 4102444800.0 be an integer."""
    if isinstance(fields.get("expireAt"), float):
        return {**fields, "expireAt": int(fields["expireAt"])}
    return fields


def _request_hash(stored: Task) -> str:
    """Requests that would store the same task are the same request."""
    canonical = json.dumps(stored, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _with_defaults(body: dict[str, Any]) -> Task:
    return {
        name: body[name] if name in body else schema.default_for(name) for name in schema.DEFAULTS
    }


def _stored(fields: dict[str, Any]) -> Task:
    """Validated fields as the store keeps them. Only ever after validation: converting
    first let ``expireAt: 1e400`` raise OverflowError (a 500)."""
    return _with_defaults(_normalized(fields))


class TaskService:
    """Create, read, replace, patch, delete and list one owner's tasks."""

    def __init__(
        self,
        store: TaskStore,
        clock: Callable[[], dt.datetime] | None = None,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._store = store
        self._clock = clock or _utc_now
        self._new_id = new_id

    def _epoch(self, now: dt.datetime) -> int:
        """Whole seconds, the unit of expireAt: a task expiring at T is gone from T on."""
        return int(now.timestamp())

    def create(self, owner: str, body: dict[str, Any], idempotency_key: str | None = None) -> Task:
        """POST: a new task with a generated id. With an Idempotency-Key, a repeat of the
        same request within the window returns the task the first one created."""
        now = self._clock()
        epoch = self._epoch(now)
        fields = _writable(body)
        try:
            validation.validate_task(fields, now)
        except ValidationFailed as invalid:
            # A retry of a request that was valid when first sent, whose expireAt has
            # passed since, still gets what the first one created.
            if idempotency_key is None or not validation.only_expired(invalid):
                raise
            request_hash = _request_hash(_stored(fields))
            replay = self._store.remembered(owner, idempotency_key, request_hash, epoch)
            if replay is None:
                raise
            return replay
        stored = _stored(fields)
        request_hash = _request_hash(stored)
        stamp = utc_timestamp(now)
        while True:  # a random UUID collides only in theory; never overwrite if it does
            task = {
                "id": self._new_id(),
                **stored,
                "createdAt": stamp,
                "updatedAt": stamp,
                "version": 1,
            }
            if idempotency_key is None:
                if self._store.create(owner, task):
                    return task
                continue
            created = self._store.create_idempotent(
                owner,
                task,
                idempotency_key,
                request_hash,
                now=epoch,
                remember_until=epoch + IDEMPOTENCY_WINDOW_SECONDS,
            )
            if created is not None:
                return created[0]

    def get(self, owner: str, task_id: str) -> Task:
        validation.validate_task_id(task_id)
        task = self._store.get(owner, task_id, self._epoch(self._clock()))
        if task is None:
            raise TaskNotFound(task_id)
        return task

    def replace(
        self,
        owner: str,
        task_id: str,
        body: dict[str, Any],
        preconditions: Preconditions = NONE,
    ) -> tuple[Task, bool]:
        """PUT: create or replace at a client-chosen id. Returns (task, created)."""
        validation.validate_task_id(task_id)
        now = self._clock()
        fields = _writable(body)
        validation.validate_task(fields, now)
        stored = _stored(fields)
        return self._store.put(
            owner, task_id, stored, self._epoch(now), utc_timestamp(now), preconditions
        )

    def patch(
        self, owner: str, task_id: str, patch: dict[str, Any], if_match: Match | None = None
    ) -> Task:
        """JSON Merge Patch (RFC 7396): null resets an optional field to its default."""
        validation.validate_task_id(task_id)
        now = self._clock()
        changes = _writable(patch)
        validation.validate_patch(changes, now)
        if not changes:  # an empty patch changes nothing, so the version stays
            task = self.get(owner, task_id)
            if if_match is not None and not matches(task, if_match):
                raise PreconditionFailed(task_id)
            return task
        values = {
            k: schema.default_for(k) if v is None else v for k, v in _normalized(changes).items()
        }
        stamp = utc_timestamp(now)
        return self._store.update(owner, task_id, values, self._epoch(now), stamp, if_match)

    def delete(self, owner: str, task_id: str, if_match: Match | None = None) -> None:
        validation.validate_task_id(task_id)
        self._store.delete(owner, task_id, self._epoch(self._clock()), if_match)

    def list(self, owner: str, parameters: dict[str, str | list[str]]) -> Page:
        """One page of the owner's tasks; ``parameters`` are GET /tasks' query parameters."""
        params = validation.validate_list_parameters(parameters)
        filters = ListFilters(params.get("status"), params.get("priority"), params.get("tag"))
        now = self._epoch(self._clock())
        return self._store.list_page(
            owner, filters, params["limit"], params.get("cursor"), now, _PAGE_BYTES
        )
