"""A task as a type: the fields of ``chalicelib.tasks.schema`` (a test checks that the two
agree, name by name and type by type)."""

# ruff: noqa: N815  (fields are named as the API's JSON names them)
from __future__ import annotations

from chalicelib.core.record import Record


class Task(Record):
    """A task as the API returns it and the store keeps it."""

    title: str
    description: str
    status: str
    priority: str
    dueDate: str | None
    tags: list[str]
    expireAt: int | None


def is_visible(task: Task, now: int) -> bool:
    """A task whose ``expireAt`` has passed is gone at once (epoch seconds), although
    DynamoDB's TTL sweeper deletes it only later."""
    return task["expireAt"] is None or task["expireAt"] > now
