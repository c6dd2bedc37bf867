"""What the activity routes add to the API document."""

from __future__ import annotations

from chalicelib.activity import schema
from chalicelib.core import openapi
from chalicelib.core.openapi import component, json_response
from chalicelib.core.operations import Components, Tag
from chalicelib.core.paging import CURSOR, LIMIT


def components() -> Components:
    page = openapi.page_schema(
        "ActivityEvent", schema.LIST_PARAMETERS[LIMIT]["maximum"], schema.LIST_PARAMETERS[CURSOR]
    )
    return Components(
        tags=(Tag("activity", "What happened to the caller's tasks, newest first."),),
        schemas={"ActivityEvent": component(schema.EVENT_SCHEMA), "ActivityPage": page},
        parameters={
            schema.PARAMETER_COMPONENTS[name]: parameter
            for name, parameter in openapi.query_parameters(schema.LIST_PARAMETERS).items()
        },
        responses={"ActivityPage": json_response("One page of events.", "ActivityPage", "Link")},
    )
