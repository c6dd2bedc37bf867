"""An activity event, defined once as JSON Schema: what the API returns, and what the consumer
writes."""

from __future__ import annotations

from typing import Any, Final

from chalicelib.core import paging, record, schema

#: The name the API uses for one event.
RESOURCE = "activity event"

ID: Final = "id"
TASK_ID: Final = "taskId"
TYPE: Final = "type"
AT: Final = "at"
ACTOR: Final = "actor"
VERSION: Final = "version"
CHANGES: Final = "changes"
COMMENT_ID: Final = "commentId"

CREATED: Final = "created"
UPDATED: Final = "updated"
DELETED: Final = "deleted"
EXPIRED: Final = "expired"
COMMENTED: Final = "commented"
TYPES = (CREATED, UPDATED, DELETED, EXPIRED, COMMENTED)

#: Who acted: a user (the caller's ``sub``), or the system (an expiry).
USER: Final = "user"
SYSTEM: Final = "system"
ACTOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type"],
    "additionalProperties": False,
    "properties": {
        "type": {"type": "string", "enum": [USER, SYSTEM]},
        "id": {"type": "string", "description": "The user's id (the token's `sub`)."},
    },
}

#: Every field of an event. ``version``, ``changes`` and ``commentId`` are present only where
#: they mean something (see each description).
FIELDS: dict[str, dict[str, Any]] = {
    ID: {"type": "string", "description": "Derived from the change it records: stable."},
    TASK_ID: record.ID_SCHEMA,
    TYPE: {"type": "string", "enum": list(TYPES)},
    AT: {"type": "string", "format": "date-time", "description": "When the change was made."},
    ACTOR: ACTOR_SCHEMA,
    VERSION: {
        "type": "integer",
        "format": "int64",
        "minimum": 1,
        "description": "The task's version after the change: created and updated only.",
    },
    CHANGES: {
        "type": "object",
        "description": "updated only: each field that changed, from what to what.",
        "additionalProperties": {
            "type": "object",
            "required": ["from", "to"],
            "additionalProperties": False,
            "properties": {"from": {}, "to": {}},
        },
    },
    COMMENT_ID: {**record.ID_SCHEMA, "description": "commented only: the new comment."},
}
REQUIRED_FIELDS = (ID, TASK_ID, TYPE, AT, ACTOR)
EVENT_SCHEMA: dict[str, Any] = {
    **schema.output_schema("ActivityEvent", FIELDS),
    "required": list(REQUIRED_FIELDS),
}

#: Query parameters of the history and the feed.
LIST_PARAMETERS = paging.page_parameters("events", maximum=100, default=25)
LIST_PARAMETERS_SCHEMA = schema.parameters_schema("ActivityParameters", LIST_PARAMETERS)
#: Their names in the API document, apart from the task list's ``limit`` and ``cursor``.
PARAMETER_COMPONENTS = {name: f"Activity{name.capitalize()}" for name in LIST_PARAMETERS}

#: How long history is kept (TTL): a stage setting, in days.
RETENTION_VARIABLE = "TASKS_ACTIVITY_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 90
