"""The activity routes, and the one consumer of the table's change stream."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chalice.app import DynamoDBEvent, Response

from chalicelib import runtime
from chalicelib.activity import schema
from chalicelib.activity.service import ActivityService
from chalicelib.activity.store import DynamoActivityStore
from chalicelib.core import http
from chalicelib.core.errors import NotFound
from chalicelib.core.operations import STORED_DATA_ERRORS, ApiBlueprint, Components
from chalicelib.identity import cognito
from chalicelib.tasks.store import DynamoTaskStore

if TYPE_CHECKING:
    from chalicelib.activity.consumer import Writer


def _components() -> Components:
    from chalicelib.activity import document  # imported on the first GET /openapi.json

    return document.components()


#: ``blueprint`` is what app.py registers; the routes below call it ``activity``.
activity = blueprint = ApiBlueprint(__name__, components=_components, tag="activity")

#: The table's stream, which Chalice wants as a literal when it imports the app: each
#: package puts its table's stream in its place (infra/). Locally the poller in devserver/
#: reads the stream instead.
STREAM_ARN_VARIABLE = "TASKS_STREAM_ARN"
PLACEHOLDER_STREAM_ARN = (
    "arn:aws:dynamodb:us-east-1:000000000000:table/tasks-local/stream/1970-01-01T00:00:00.000"
)
STREAM_ARN = os.environ.get(STREAM_ARN_VARIABLE) or PLACEHOLDER_STREAM_ARN
#: Records per invocation: a batch is one Lambda call, so a failure retries at most this many.
STREAM_BATCH_SIZE = 100


@runtime.per_container
def activity_service(shared: runtime.Shared) -> ActivityService:
    tasks = DynamoTaskStore(shared.client, shared.table_name, shared.cursors)

    def task_exists(owner: str, task_id: str, now: int) -> bool:
        return tasks.get(owner, task_id, now) is not None

    store = DynamoActivityStore(shared.client, shared.table_name, shared.cursors)
    return ActivityService(store, task_exists, clock=shared.clock, catch_up=runtime.catch_up)


@activity.route(
    "/tasks/{task_id}/activity", methods=["GET"], content_types=http.NO_BODY, authorizer=cognito
)
@activity.operation(
    "A task's history",
    "What happened to the task, newest first, one page at a time: created, updated (with "
    "each changed field), commented, deleted or expired. A deleted task's history still "
    "answers until its retention ends.",
    parameters=tuple(schema.PARAMETER_COMPONENTS.values()),
    responses={200: "ActivityPage"},
    errors=(*STORED_DATA_ERRORS, NotFound),
)
def task_activity(task_id: str) -> Response:
    request = activity.current_request
    owner, params = http.owner(request), http.query_parameters(request)
    return http.page_response(activity_service().history(owner, task_id, params), request)


@activity.route("/activity", methods=["GET"], content_types=http.NO_BODY, authorizer=cognito)
@activity.operation(
    "The caller's activity",
    "Every event of the caller's tasks, newest first, one page at a time.",
    parameters=tuple(schema.PARAMETER_COMPONENTS.values()),
    responses={200: "ActivityPage"},
    errors=STORED_DATA_ERRORS,
)
def activity_feed() -> Response:
    request = activity.current_request
    owner, params = http.owner(request), http.query_parameters(request)
    return http.page_response(activity_service().feed(owner, params), request)


@runtime.per_container
def activity_writer(shared: runtime.Shared) -> Writer:
    from chalicelib.activity.writer import ActivityWriter  # the consumer's function only

    return ActivityWriter(shared.client, shared.table_name, retention_seconds(), shared.clock)


def retention_seconds(environ: Mapping[str, str] | None = None) -> int:
    """The stage's history retention (``TASKS_ACTIVITY_RETENTION_DAYS``, whole days)."""
    value = (os.environ if environ is None else environ).get(schema.RETENTION_VARIABLE, "").strip()
    if not value:
        return schema.DEFAULT_RETENTION_DAYS * 24 * 60 * 60
    if not value.isdigit() or int(value) < 1:
        raise RuntimeError(
            f"{schema.RETENTION_VARIABLE} must be a whole number of days, at least 1"
        )
    return int(value) * 24 * 60 * 60


@activity.on_dynamodb_record(
    stream_arn=STREAM_ARN, batch_size=STREAM_BATCH_SIZE, starting_position="TRIM_HORIZON"
)
def record_activity(event: DynamoDBEvent) -> dict[str, Any]:
    """The stream's consumer: every task and comment change into the history."""
    from chalicelib.activity import consumer  # the stream's function only: not at API cold start

    failed = consumer.handle(event.to_dict()["Records"], activity_writer())
    return consumer.batch_response(failed)
