"""The task schema, defined once as JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1).

Validation (``chalicelib.validation``), the defaults the service applies and the API
document all read this module; nothing else restates a field rule.
"""

from __future__ import annotations

import copy
import json
from typing import Any

STATUSES = ("new", "in_progress", "completed", "cancelled")
PRIORITIES = ("low", "medium", "high", "urgent")

#: 1-128 characters of A-Za-z0-9._~- starting with a letter or digit (RFC 3986 unreserved).
TASK_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$"
#: Not blank: some character outside JSON Schema's whitespace (ECMA-262 \s), spelled out so
#: that Python's re (whose \s also takes \x1c-\x1f and \x85) reads it the same way.
NOT_BLANK_PATTERN = r"[^\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
#: Largest accepted ``expireAt``: 9999-12-31T23:59:59Z.
MAX_EPOCH_SECONDS = 253402300799

TASK_ID_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": TASK_ID_PATTERN,
    "description": "1-128 characters of A-Za-z0-9._~-, starting with a letter or digit.",
}

_TIMESTAMP = {"type": "string", "format": "date-time", "readOnly": True}

#: Every field of a task, as JSON Schemas. readOnly marks what the server sets.
FIELDS: dict[str, dict[str, Any]] = {
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
        "format": "int64",  # for generated clients: the maximum needs 64 bits
        "minimum": 1,
        "maximum": MAX_EPOCH_SECONDS,
        "default": None,
        "description": (
            "Unix epoch seconds, in the future when written (400 otherwise). From then on "
            "the task is gone: hidden at once, deleted by DynamoDB TTL later."
        ),
    },
    "createdAt": _TIMESTAMP,
    "updatedAt": _TIMESTAMP,
    "version": {"type": "integer", "format": "int64", "minimum": 1, "readOnly": True},
}

#: Fields the server sets; sent in a request body they are ignored (GET, edit, PUT works).
SERVER_FIELDS = frozenset(name for name, spec in FIELDS.items() if spec.get("readOnly"))
#: Fields a client may write, with the default an omitted (or, in a patch, null) one takes.
DEFAULTS: dict[str, Any] = {
    name: spec.get("default") for name, spec in FIELDS.items() if name not in SERVER_FIELDS
}
REQUIRED_FIELDS = frozenset({"title"})

_DIALECT = "https://json-schema.org/draft/2020-12/schema"


#: A server field in a request: any value is accepted and ignored, so that a task read
#: with GET can be edited and sent back with PUT. (Not marked readOnly: OpenAPI tools
#: take readOnly in a request schema to mean "must not be sent".)
_IGNORED: dict[str, Any] = {"description": "Set by the server; any value sent is ignored."}


def _nullable(spec: dict[str, Any]) -> dict[str, Any]:
    """The same rule, with null also allowed (a merge patch resets a field with null)."""
    types = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
    nullable = {**spec, "type": [*dict.fromkeys([*types, "null"])]}
    if "enum" in spec:
        nullable["enum"] = [*spec["enum"], None]
    return nullable


#: A task as the API returns it: every field, always present.
TASK_SCHEMA: dict[str, Any] = {
    "$schema": _DIALECT,
    "title": "Task",
    "type": "object",
    "additionalProperties": False,
    "required": list(FIELDS),
    "properties": FIELDS,
}
#: What POST and PUT accept: the writable fields, title required, nothing unknown.
TASK_INPUT_SCHEMA: dict[str, Any] = {
    "$schema": _DIALECT,
    "title": "TaskInput",
    "type": "object",
    "additionalProperties": False,
    "required": sorted(REQUIRED_FIELDS),
    "properties": {
        name: _IGNORED if name in SERVER_FIELDS else spec for name, spec in FIELDS.items()
    },
}


def _resettable(spec: dict[str, Any]) -> dict[str, Any]:
    """A merge patch's optional field: its rule or null, and no ``default``. In a patch an
    absent field stays unchanged, but generated clients send a property's ``default``
    whenever the caller leaves it out (openapi-python-client does), so a ``default`` here
    would reset the field on every patch. What null resets it to is said in words and in
    ``x-null-resets-to``; validation ignores both."""
    resets_to = copy.deepcopy(spec.get("default"))
    reset = "null clears it" if resets_to is None else f"null resets it to {json.dumps(resets_to)}"
    words = f"Left out, it stays unchanged; {reset}."
    described = {
        **spec,
        "description": f"{spec['description']} {words}" if "description" in spec else words,
    }
    patched = {k: v for k, v in _nullable(described).items() if k != "default"}
    return {**patched, "x-null-resets-to": resets_to}


#: What PATCH accepts (JSON Merge Patch, RFC 7396): any subset; null resets an optional
#: field to its default.
TASK_PATCH_SCHEMA: dict[str, Any] = {
    "$schema": _DIALECT,
    "title": "TaskPatch",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        name: _IGNORED
        if name in SERVER_FIELDS
        else (spec if name in REQUIRED_FIELDS else _resettable(spec))
        for name, spec in FIELDS.items()
    },
}


def default_for(field: str) -> Any:
    """A fresh copy of a field's default (lists must not be shared between tasks)."""
    return copy.deepcopy(DEFAULTS.get(field))


#: Query parameters of GET /tasks, as JSON Schemas (validation and the API document).
LIST_PARAMETERS: dict[str, dict[str, Any]] = {
    "limit": {
        "type": "integer",
        "format": "int32",
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
    "tag": {**FIELDS["tags"]["items"], "description": "Tasks with this tag."},
}
LIST_PARAMETERS_SCHEMA: dict[str, Any] = {
    "$schema": _DIALECT,
    "title": "ListParameters",
    "type": "object",
    "properties": LIST_PARAMETERS,
    "additionalProperties": False,
}
