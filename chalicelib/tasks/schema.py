"""The task schema, defined once as JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1).

Validation, the defaults the service applies, the store's item mapping, the API document
and the web page all read this module; nothing else restates a field rule or a field's
name. ``chalicelib.tasks.record`` is the same fields as a type, checked against these.
"""

from __future__ import annotations

import copy
from typing import Any, Final

from chalicelib.core import paging, record, schema
from chalicelib.core.record import CREATED_AT, ID, UPDATED_AT, VERSION

#: The name the API and its messages use for one task.
RESOURCE = "task"

TITLE: Final = "title"
DESCRIPTION: Final = "description"
STATUS: Final = "status"
PRIORITY: Final = "priority"
DUE_DATE: Final = "dueDate"
TAGS: Final = "tags"
EXPIRE_AT: Final = "expireAt"
__all__ = ["CREATED_AT", "ID", "UPDATED_AT", "VERSION"]  # re-exported: a task's fields

STATUSES = ("new", "in_progress", "completed", "cancelled")
PRIORITIES = ("low", "medium", "high", "urgent")

TASK_ID_PATTERN = record.ID_PATTERN
TASK_ID_SCHEMA = record.ID_SCHEMA
NOT_BLANK_PATTERN = schema.NOT_BLANK_PATTERN
#: Largest accepted ``expireAt``: 9999-12-31T23:59:59Z.
MAX_EPOCH_SECONDS = 253402300799

#: Every field of a task, as JSON Schemas. readOnly marks what the server sets.
FIELDS: dict[str, dict[str, Any]] = record.record_fields(
    {
        TITLE: {
            "type": "string",
            "minLength": 1,
            "maxLength": 200,
            "pattern": NOT_BLANK_PATTERN,
            "description": "Required; not blank.",
        },
        DESCRIPTION: {"type": "string", "maxLength": 10000, "default": ""},
        STATUS: {"type": "string", "enum": list(STATUSES), "default": "new"},
        PRIORITY: {"type": "string", "enum": list(PRIORITIES), "default": "medium"},
        DUE_DATE: {
            "type": ["string", "null"],
            "anyOf": [{"format": "date"}, {"format": "date-time"}],
            "default": None,
            "description": "RFC 3339 full-date or date-time.",
        },
        TAGS: {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": 50},
            "maxItems": 20,
            "uniqueItems": True,
            "default": [],
        },
        EXPIRE_AT: {
            "type": ["integer", "null"],
            "format": "int64",  # for generated clients: the maximum needs 64 bits
            "minimum": 1,
            "maximum": MAX_EPOCH_SECONDS,
            "default": None,
            "description": (
                "Unix epoch seconds, in the future when written (400 otherwise). From then on "
                "the task is gone: hidden at once, deleted by DynamoDB TTL later."
            ),
        },
    }
)

#: Fields the server sets; sent in a request body they are ignored (GET, edit, PUT works).
SERVER_FIELDS = schema.server_fields(FIELDS)
#: Fields a client may write, with the default an omitted (or, in a patch, null) one takes.
DEFAULTS: dict[str, Any] = schema.defaults(FIELDS)
REQUIRED_FIELDS = frozenset({TITLE})
#: Fields whose stored numbers are integers.
INTEGER_FIELDS = schema.integer_fields(FIELDS)

#: A task as the API returns it: every field, always present.
TASK_SCHEMA = schema.output_schema("Task", FIELDS)
#: What POST and PUT accept: the writable fields, title required, nothing unknown.
TASK_INPUT_SCHEMA = schema.input_schema("TaskInput", FIELDS, REQUIRED_FIELDS)
#: What PATCH accepts (JSON Merge Patch, RFC 7396): any subset; null resets an optional
#: field to its default.
TASK_PATCH_SCHEMA = schema.patch_schema("TaskPatch", FIELDS, REQUIRED_FIELDS)


def default_for(field: str) -> Any:
    """A fresh copy of a field's default (lists must not be shared between tasks)."""
    return copy.deepcopy(DEFAULTS.get(field))


TAG: Final = "tag"

#: Query parameters of GET /tasks, as JSON Schemas (validation and the API document).
LIST_PARAMETERS: dict[str, dict[str, Any]] = {
    **paging.page_parameters("tasks", maximum=100, default=25),
    STATUS: {"type": "string", "enum": list(STATUSES), "description": "Tasks in this status."},
    PRIORITY: {
        "type": "string",
        "enum": list(PRIORITIES),
        "description": "Tasks of this priority.",
    },
    TAG: {**FIELDS[TAGS]["items"], "description": "Tasks with this tag."},
}
LIST_PARAMETERS_SCHEMA = schema.parameters_schema("ListParameters", LIST_PARAMETERS)
