"""What the task routes add to the API document: the task's schemas, its parameters and its
responses, all derived from ``chalicelib.tasks.schema``. Imported only when the document is
first requested."""

from __future__ import annotations

from chalicelib.core import openapi
from chalicelib.core.openapi import component, json_response
from chalicelib.core.operations import Components, Tag
from chalicelib.core.paging import CURSOR, LIMIT
from chalicelib.tasks import schema
from chalicelib.tasks.schema import DUE_DATE, PRIORITY, STATUS, TAGS, TITLE
from chalicelib.tasks.service import IDEMPOTENCY_WINDOW_SECONDS

TAG = Tag("tasks", "The caller's tasks.")
TASK_ID = "task_id"


def components() -> Components:
    return Components(
        tags=(TAG,),
        schemas={
            "Task": component(schema.TASK_SCHEMA),
            "TaskInput": component(schema.TASK_INPUT_SCHEMA),
            "TaskPatch": component(schema.TASK_PATCH_SCHEMA),
            "TaskPage": openapi.page_schema(
                "Task",
                schema.LIST_PARAMETERS[LIMIT]["maximum"],
                schema.LIST_PARAMETERS[CURSOR],
            ),
        },
        parameters={
            TASK_ID: openapi.path_parameter(TASK_ID, schema.TASK_ID_SCHEMA, "buy-milk"),
            **openapi.query_parameters(schema.LIST_PARAMETERS),
            "Idempotency-Key": openapi.idempotency_key_parameter(IDEMPOTENCY_WINDOW_SECONDS),
        },
        responses={
            "Task": json_response("The task.", "Task", "ETag"),
            "TaskCreated": json_response("The task, created.", "Task", "ETag", "Location"),
            "TaskPage": json_response("One page of tasks.", "TaskPage", "Link"),
        },
        examples={
            "TaskInput": {
                TITLE: "Buy milk",
                PRIORITY: "high",
                DUE_DATE: "2030-01-31",
                TAGS: ["errands"],
            },
            "TaskPatch": {STATUS: "in_progress", DUE_DATE: None},
        },
    )
