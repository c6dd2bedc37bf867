"""A comment as a type: the fields of ``chalicelib.comments.schema`` (a test checks that the
two agree, name by name and type by type)."""

# ruff: noqa: N815  (fields are named as the API's JSON names them)
from __future__ import annotations

from typing import TypedDict

from chalicelib.core.record import Record


class Author(TypedDict):
    """Who wrote a comment: ``{"type": "user", "id": <sub>}``."""

    type: str
    id: str


class Comment(Record):
    """A comment as the API returns it and the store keeps it."""

    taskId: str
    body: str
    author: Author
