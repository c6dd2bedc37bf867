"""The task schema, defined once as JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1).

Validation (``chalicelib.validation``), the defaults the service applies and the API
document all read this module; nothing else restates a field rule.
"""

from __future__ import annotations

import copy
from typing import Any

STATUSES = ("new", "in_progress", "completed", "cancelled")
PRIORITIES = ("low", "medium", "high", "urgent")

#: 1-128 characters of A-Za-z0-9._~- starting with a letter or digit (RFC 3986 unreserved).
TASK_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$"
NOT_BLANK_PATTERN = r"\S"
#: Largest accepted ``expireAt``: 9999-12-31T23:59:59Z.
MAX_EPOCH_SECONDS = 253402300799

TASK_ID_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": TASK_ID_PATTERN,
    "description": "1-128 characters of A-Za-z0-9._~-, starting with a letter or digit.",
}

_TIMESTAMP = {"type": "string", "format": "date-time", "readOnly": True}

TASK_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Task",
    "type": "object",
    "additionalProperties": False,
    "required": ["title"],
    "properties": {
        "id": {**TASK_ID_SCHEMA, "readOnly": True},
        "title": {
            "type": "string",
            "minLength": 1,
            "maxLength": 200,
            "pattern": NOT_BLANK_PATTERN,
            "description": "Required; not blank.",
        },
        "description": {"type": "string", "maxLength": 10000, "default": ""},
        "status": {"type": "string", "enum": list(STATUSES), "default": "new"},
        "priority": {"type": "string", "enum": list(PRIORITIES), "default": "medium"},
        "dueDate": {
            "type": ["string", "null"],
            "anyOf": [{"format": "date"}, {"format": "date-time"}],
            "default": None,
            "description": "RFC 3339 full-date or date-time.",
        },
        "tags": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": 50},
            "maxItems": 20,
            "uniqueItems": True,
            "default": [],
        },
        "expireAt": {
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": MAX_EPOCH_SECONDS,
            "default": None,
            "description": "Unix epoch seconds in the future; DynamoDB TTL deletes the task later.",
        },
        "createdAt": _TIMESTAMP,
        "updatedAt": _TIMESTAMP,
        "version": {"type": "integer", "minimum": 1, "readOnly": True},
    },
}

#: Fields the server sets; sent in a request body they are ignored (GET, edit, PUT works).
SERVER_FIELDS = frozenset(
    name for name, spec in TASK_SCHEMA["properties"].items() if spec.get("readOnly")
)
#: Fields a client may write, with the default an omitted (or, in a patch, null) one takes.
DEFAULTS: dict[str, Any] = {
    name: spec.get("default")
    for name, spec in TASK_SCHEMA["properties"].items()
    if name not in SERVER_FIELDS
}
REQUIRED_FIELDS = frozenset(TASK_SCHEMA["required"])


def default_for(field: str) -> Any:
    """A fresh copy of a field's default (lists must not be shared between tasks)."""
    return copy.deepcopy(DEFAULTS.get(field))


#: Query parameters of GET /tasks, as JSON Schemas (validation and the API document).
LIST_PARAMETERS: dict[str, dict[str, Any]] = {
    "limit": {
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
        "default": 25,
        "description": "Tasks per page.",
    },
    "cursor": {
        "type": "string",
        "minLength": 1,
        "maxLength": 1024,
        "description": "Opaque: the nextCursor of the previous page, with the same filters.",
    },
    "status": {"type": "string", "enum": list(STATUSES), "description": "Tasks in this status."},
    "priority": {
        "type": "string",
        "enum": list(PRIORITIES),
        "description": "Tasks of this priority.",
    },
    "tag": {**TASK_SCHEMA["properties"]["tags"]["items"], "description": "Tasks with this tag."},
}
LIST_PARAMETERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": LIST_PARAMETERS,
    "additionalProperties": False,
}
