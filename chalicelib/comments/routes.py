"""The comment routes, under a task. Each reads the caller first (401 before anything else),
then the request, calls the service once and responds; each declares its operation above
itself. A missing task, an expired one or another owner's is a 404 on every route."""

from __future__ import annotations

from chalice.app import Response

from chalicelib import runtime
from chalicelib.comments.record import Comment
from chalicelib.comments.schema import LIST_PARAMETERS, TASK_ID
from chalicelib.comments.service import IDEMPOTENCY_WINDOW_SECONDS, CommentService
from chalicelib.comments.store import DynamoCommentStore
from chalicelib.core import headers, http
from chalicelib.core.errors import (
    IdempotencyConflict,
    IdempotencyKeyReused,
    NotFound,
    PreconditionFailed,
)
from chalicelib.core.operations import BODY_ERRORS, STORED_DATA_ERRORS, ApiBlueprint, Components
from chalicelib.identity import cognito


def _components() -> Components:
    from chalicelib.comments import document  # imported on the first GET /openapi.json

    return document.components()


#: ``blueprint`` is what app.py registers; the routes below call it ``comments``.
comments = blueprint = ApiBlueprint(__name__, components=_components, tag="comments")


@runtime.per_container
def comment_service(shared: runtime.Shared) -> CommentService:
    """The container's one CommentService, on the stage's table and clock."""
    return CommentService(
        DynamoCommentStore(shared.client, shared.table_name, shared.cursors), clock=shared.clock
    )


COLLECTION = "/tasks/{task_id}/comments"
ITEM = f"{COLLECTION}/{{comment_id}}"
#: The list's query parameters, as the API document names them (the task list's are
#: ``limit`` and ``cursor``).
PAGE_PARAMETERS = {name: f"Comment{name.capitalize()}" for name in LIST_PARAMETERS}


@comments.route(COLLECTION, methods=["GET"], content_types=http.NO_BODY, authorizer=cognito)
@comments.operation(
    "List a task's comments",
    "The task's comments, oldest first, one page at a time; the next page is `nextCursor`, "
    'also sent as a `Link: rel="next"` header.',
    parameters=tuple(PAGE_PARAMETERS.values()),
    responses={200: "CommentPage"},
    errors=(*STORED_DATA_ERRORS, NotFound),
)
def list_comments(task_id: str) -> Response:
    request = comments.current_request
    owner, params = http.owner(request), http.query_parameters(request)
    return http.page_response(comment_service().list(owner, task_id, params), request)


@comments.route(COLLECTION, methods=["POST"], content_types=http.JSON, authorizer=cognito)
@comments.operation(
    "Comment on a task",
    "Adds a comment by the caller, with a generated id. With an `Idempotency-Key`, a repeat "
    f"of the same request within {IDEMPOTENCY_WINDOW_SECONDS // 3600} hours returns the "
    "comment the first one created, and creates nothing.",
    parameters=("Idempotency-Key",),
    body="CommentInput",
    responses={201: "CommentCreated"},
    errors=(
        *STORED_DATA_ERRORS,
        *BODY_ERRORS,
        NotFound,
        IdempotencyConflict,
        IdempotencyKeyReused,
    ),
)
def create_comment(task_id: str) -> Response:
    request = comments.current_request
    owner, body = http.owner(request), http.json_object(request)
    comment = comment_service().create(owner, task_id, body, headers.idempotency_key(request))
    return _created(comment)


@comments.route(ITEM, methods=["GET"], content_types=http.NO_BODY, authorizer=cognito)
@comments.operation(
    "Read a comment",
    "With `If-None-Match` holding the current ETag, 304 and no body.",
    parameters=("If-None-Match",),
    responses={200: "Comment", 304: "NotModified"},
    errors=(*STORED_DATA_ERRORS, NotFound),
)
def get_comment(task_id: str, comment_id: str) -> Response:
    request = comments.current_request
    owner, if_none_match = http.owner(request), headers.if_none_match(request)
    return http.read_response(comment_service().get(owner, task_id, comment_id), if_none_match)


@comments.route(ITEM, methods=["PATCH"], content_types=http.MERGE_PATCH, authorizer=cognito)
@comments.operation(
    "Edit a comment",
    "A JSON Merge Patch (RFC 7396) of the body. `If-Match` makes the change conditional.",
    parameters=("If-Match",),
    body="CommentPatch",
    responses={200: "Comment"},
    errors=(*STORED_DATA_ERRORS, *BODY_ERRORS, NotFound, PreconditionFailed),
)
def patch_comment(task_id: str, comment_id: str) -> Response:
    request = comments.current_request
    owner, body, if_match = (
        http.owner(request),
        http.json_object(request),
        headers.if_match(request),
    )
    changed = comment_service().patch(owner, task_id, comment_id, body, if_match)
    return http.record_response(changed)


@comments.route(ITEM, methods=["DELETE"], content_types=http.NO_BODY, authorizer=cognito)
@comments.operation(
    "Delete a comment",
    "`If-Match` makes the deletion conditional.",
    parameters=("If-Match",),
    responses={204: "NoContent"},
    errors=(*STORED_DATA_ERRORS, NotFound, PreconditionFailed),
)
def delete_comment(task_id: str, comment_id: str) -> Response:
    request = comments.current_request
    owner, if_match = http.owner(request), headers.if_match(request)
    comment_service().delete(owner, task_id, comment_id, if_match)
    return http.no_content()


def _created(comment: Comment) -> Response:
    collection = COLLECTION.format(task_id=comment[TASK_ID])
    return http.created(comment, comments.current_request, collection)
