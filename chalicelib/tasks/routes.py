"""The task routes. Each reads the caller first (401 before anything else), then the
request, calls the service once and responds; each declares its operation above itself."""

from __future__ import annotations

from chalice.app import Response

from chalicelib import runtime
from chalicelib.core import headers, http
from chalicelib.core.errors import (
    IdempotencyConflict,
    IdempotencyKeyReused,
    NotFound,
    PreconditionFailed,
)
from chalicelib.core.operations import BODY_ERRORS, STORED_DATA_ERRORS, ApiBlueprint, Components
from chalicelib.identity import cognito
from chalicelib.tasks.record import Task
from chalicelib.tasks.schema import LIST_PARAMETERS
from chalicelib.tasks.service import IDEMPOTENCY_WINDOW_SECONDS, TaskService
from chalicelib.tasks.store import DynamoTaskStore


def _components() -> Components:
    from chalicelib.tasks import document  # imported on the first GET /openapi.json

    return document.components()


#: ``blueprint`` is what app.py registers; the routes below call it ``tasks``.
tasks = blueprint = ApiBlueprint(__name__, components=_components, tag="tasks")


@runtime.per_container
def task_service(shared: runtime.Shared) -> TaskService:
    """The container's one TaskService, on the stage's table and clock."""
    return TaskService(
        DynamoTaskStore(shared.client, shared.table_name, shared.cursors), clock=shared.clock
    )


COLLECTION = "/tasks"


@tasks.route(COLLECTION, methods=["GET"], content_types=http.NO_BODY, authorizer=cognito)
@tasks.operation(
    "List tasks",
    "The caller's tasks, newest first, one page at a time. Filters combine; the next page "
    'is `nextCursor`, also sent as a `Link: rel="next"` header.',
    parameters=tuple(LIST_PARAMETERS),
    responses={200: "TaskPage"},
    errors=STORED_DATA_ERRORS,
)
def list_tasks() -> Response:
    request = tasks.current_request
    owner, params = http.owner(request), http.query_parameters(request)
    return http.page_response(task_service().list(owner, params), request)


@tasks.route(COLLECTION, methods=["POST"], content_types=http.JSON, authorizer=cognito)
@tasks.operation(
    "Create a task",
    "Creates a task with a generated id. With an `Idempotency-Key`, a repeat of the same "
    f"request within {IDEMPOTENCY_WINDOW_SECONDS // 3600} hours returns the task the first one "
    "created, and creates nothing.",
    parameters=("Idempotency-Key",),
    body="TaskInput",
    responses={201: "TaskCreated"},
    errors=(*STORED_DATA_ERRORS, *BODY_ERRORS, IdempotencyConflict, IdempotencyKeyReused),
)
def create_task() -> Response:
    request = tasks.current_request
    owner, body = http.owner(request), http.json_object(request)
    task = task_service().create(owner, body, headers.idempotency_key(request))
    return _created(task)


@tasks.route(
    f"{COLLECTION}/{{task_id}}", methods=["GET"], content_types=http.NO_BODY, authorizer=cognito
)
@tasks.operation(
    "Read a task",
    "With `If-None-Match` holding the current ETag, 304 and no body.",
    parameters=("If-None-Match",),
    responses={200: "Task", 304: "NotModified"},
    errors=(*STORED_DATA_ERRORS, NotFound),
)
def get_task(task_id: str) -> Response:
    request = tasks.current_request
    owner, if_none_match = http.owner(request), headers.if_none_match(request)
    return http.read_response(task_service().get(owner, task_id), if_none_match)


@tasks.route(
    f"{COLLECTION}/{{task_id}}", methods=["PUT"], content_types=http.JSON, authorizer=cognito
)
@tasks.operation(
    "Create or replace a task at this id",
    "Replaces every writable field: an omitted one takes its default. Creates the task (201) "
    "when the id is free. `If-Match` makes it replace-only and `If-None-Match: *` "
    "create-only.",
    parameters=("If-Match", "If-None-Match"),
    body="TaskInput",
    responses={200: "Task", 201: "TaskCreated"},
    errors=(*STORED_DATA_ERRORS, *BODY_ERRORS, PreconditionFailed),
)
def replace_task(task_id: str) -> Response:
    request = tasks.current_request
    owner, body = http.owner(request), http.json_object(request)
    task, created = task_service().replace(owner, task_id, body, headers.preconditions(request))
    return _created(task) if created else http.record_response(task)


@tasks.route(
    f"{COLLECTION}/{{task_id}}",
    methods=["PATCH"],
    content_types=http.MERGE_PATCH,
    authorizer=cognito,
)
@tasks.operation(
    "Change some fields of a task",
    "A JSON Merge Patch (RFC 7396): the fields sent change, null resets an optional field "
    "to its default. `If-Match` makes the change conditional.",
    parameters=("If-Match",),
    body="TaskPatch",
    responses={200: "Task"},
    errors=(*STORED_DATA_ERRORS, *BODY_ERRORS, NotFound, PreconditionFailed),
)
def patch_task(task_id: str) -> Response:
    request = tasks.current_request
    owner, body, if_match = (
        http.owner(request),
        http.json_object(request),
        headers.if_match(request),
    )
    return http.record_response(task_service().patch(owner, task_id, body, if_match))


@tasks.route(
    f"{COLLECTION}/{{task_id}}", methods=["DELETE"], content_types=http.NO_BODY, authorizer=cognito
)
@tasks.operation(
    "Delete a task",
    "`If-Match` makes the deletion conditional.",
    parameters=("If-Match",),
    responses={204: "NoContent"},
    errors=(*STORED_DATA_ERRORS, NotFound, PreconditionFailed),
)
def delete_task(task_id: str) -> Response:
    request = tasks.current_request
    owner, if_match = http.owner(request), headers.if_match(request)
    task_service().delete(owner, task_id, if_match)
    return http.no_content()


def _created(task: Task) -> Response:
    return http.created(task, tasks.current_request, COLLECTION)
