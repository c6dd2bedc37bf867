"""What the comment routes add to the API document: the comment's schemas, its parameters
and its responses, all derived from ``chalicelib.comments.schema``. Imported only when the
document is first requested. The task's own components (the ``task_id`` path parameter,
``Idempotency-Key``) serve the comment routes as they are."""

from __future__ import annotations

from chalicelib.comments import schema
from chalicelib.comments.routes import PAGE_PARAMETERS
from chalicelib.comments.schema import BODY
from chalicelib.core import openapi
from chalicelib.core.openapi import component, json_response
from chalicelib.core.operations import Components, Tag
from chalicelib.core.paging import CURSOR, LIMIT

TAG = Tag("comments", "Comments on the caller's tasks.")
COMMENT_ID = "comment_id"
#: What a comment id looks like: a UUIDv7, whose text sorts as its creation time.
EXAMPLE_ID = "0197a3c4-5e21-7b3c-8d4e-5f6a7b8c9d0e"


def components() -> Components:
    parameters = openapi.query_parameters(schema.LIST_PARAMETERS)
    return Components(
        tags=(TAG,),
        schemas={
            "Comment": component(schema.COMMENT_SCHEMA),
            "CommentInput": component(schema.COMMENT_INPUT_SCHEMA),
            "CommentPatch": component(schema.COMMENT_PATCH_SCHEMA),
            "CommentPage": openapi.page_schema(
                "Comment",
                schema.LIST_PARAMETERS[LIMIT]["maximum"],
                schema.LIST_PARAMETERS[CURSOR],
            ),
        },
        parameters={
            COMMENT_ID: openapi.path_parameter(COMMENT_ID, schema.COMMENT_ID_SCHEMA, EXAMPLE_ID),
            **{PAGE_PARAMETERS[name]: spec for name, spec in parameters.items()},
        },
        responses={
            "Comment": json_response("The comment.", "Comment", "ETag"),
            "CommentCreated": json_response("The comment, created.", "Comment", "ETag", "Location"),
            "CommentPage": json_response("One page of comments.", "CommentPage", "Link"),
        },
        examples={
            "CommentInput": {BODY: "Bought the oat milk; the shop was out of the usual brand."},
            "CommentPatch": {BODY: "Bought the oat milk."},
        },
    )
