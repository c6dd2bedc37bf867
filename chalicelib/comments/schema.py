"""The comment schema, defined once as JSON Schema (draft 2020-12, the dialect of OpenAPI
3.1). Validation, the store's item mapping and the API document read this module;
``chalicelib.comments.record`` is the same fields as a type, checked against these."""

from __future__ import annotations

from typing import Any, Final

from chalicelib.core import paging, record, schema
from chalicelib.core.record import CREATED_AT, ID, UPDATED_AT, VERSION

#: The name the API and its messages use for one comment.
RESOURCE = "comment"

TASK_ID: Final = "taskId"
BODY: Final = "body"
AUTHOR: Final = "author"
__all__ = ["CREATED_AT", "ID", "UPDATED_AT", "VERSION"]  # re-exported: a comment's fields

#: An author's members: what kind of actor wrote it, and which one.
AUTHOR_TYPE: Final = "type"
AUTHOR_ID: Final = "id"
#: The one kind of author: a user, named by the ``sub`` of the caller's token.
USER = "user"

COMMENT_ID_SCHEMA = record.ID_SCHEMA
MAX_BODY_LENGTH = 5000

AUTHOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "readOnly": True,
    "additionalProperties": False,
    "required": [AUTHOR_TYPE, AUTHOR_ID],
    "properties": {
        AUTHOR_TYPE: {"type": "string", "const": USER},
        AUTHOR_ID: {
            "type": "string",
            "minLength": 1,
            "maxLength": 128,
            "description": "The user's `sub`: the owner of the task.",
        },
    },
    "description": "Who wrote the comment: the caller who created it.",
}

#: Every field of a comment, as JSON Schemas. readOnly marks what the server sets.
FIELDS: dict[str, dict[str, Any]] = record.record_fields(
    {
        TASK_ID: {
            **record.ID_SCHEMA,
            "readOnly": True,
            "description": "The task the comment is on.",
        },
        BODY: {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_BODY_LENGTH,
            "pattern": schema.NOT_BLANK_PATTERN,
            "description": f"Required; 1-{MAX_BODY_LENGTH} characters, not blank.",
        },
        AUTHOR: AUTHOR_SCHEMA,
    }
)

#: Fields the server sets; sent in a request body they are ignored (GET, edit, PATCH works).
SERVER_FIELDS = schema.server_fields(FIELDS)
#: Fields a client may write; a comment has no optional one, so none has a default.
DEFAULTS: dict[str, Any] = schema.defaults(FIELDS)
REQUIRED_FIELDS = frozenset({BODY})
#: Fields whose stored numbers are integers.
INTEGER_FIELDS = schema.integer_fields(FIELDS)

#: A comment as the API returns it: every field, always present.
COMMENT_SCHEMA = schema.output_schema("Comment", FIELDS)
#: What POST accepts: the body, and nothing unknown.
COMMENT_INPUT_SCHEMA = schema.input_schema("CommentInput", FIELDS, REQUIRED_FIELDS)
#: What PATCH accepts (JSON Merge Patch, RFC 7396): the body, which cannot be reset.
COMMENT_PATCH_SCHEMA = schema.patch_schema("CommentPatch", FIELDS, REQUIRED_FIELDS)


def default_for(field: str) -> Any:
    """What a field missing from a stored item reads as (the store writes every field)."""
    return DEFAULTS.get(field)


#: Query parameters of GET /tasks/{task_id}/comments, as JSON Schemas.
LIST_PARAMETERS: dict[str, dict[str, Any]] = paging.page_parameters(
    "comments", maximum=100, default=25
)
LIST_PARAMETERS_SCHEMA = schema.parameters_schema("CommentListParameters", LIST_PARAMETERS)
