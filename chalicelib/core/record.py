"""What every stored resource shares: an id, its creation and update times, and a version.

A resource's schema adds its own fields between the id and these (``record_fields``); its
record type extends ``Record``. Conditional requests, ETags and list positions need only
what is here, so the core serves every resource without knowing its other fields.
"""

from __future__ import annotations

from typing import Any, Final, TypedDict

ID: Final = "id"
CREATED_AT: Final = "createdAt"
UPDATED_AT: Final = "updatedAt"
VERSION: Final = "version"


class Record(TypedDict):
    """The fields of every stored resource, as the API returns them."""

    id: str
    createdAt: str
    updatedAt: str
    version: int


#: 1-128 characters of A-Za-z0-9._~- starting with a letter or digit (RFC 3986 unreserved).
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$"
ID_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": ID_PATTERN,
    "description": "1-128 characters of A-Za-z0-9._~-, starting with a letter or digit.",
}
_TIMESTAMP = {"type": "string", "format": "date-time", "readOnly": True}


def record_fields(own: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A resource's fields as JSON Schemas, in the order the API writes them: the id, the
    resource's own fields, then the times and the version. readOnly marks what the server
    sets."""
    return {
        ID: {**ID_SCHEMA, "readOnly": True},
        **own,
        CREATED_AT: _TIMESTAMP,
        UPDATED_AT: _TIMESTAMP,
        VERSION: {"type": "integer", "format": "int64", "minimum": 1, "readOnly": True},
    }
