"""Preconditions on a task's version (RFC 9110 §13), free of HTTP syntax and of DynamoDB.

The HTTP layer turns ``If-Match`` / ``If-None-Match`` into these; the store turns them
into condition expressions, so a precondition costs no extra request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

ANY: Literal["*"] = "*"


@dataclass(frozen=True)
class TaskVersion:
    """What an ETag identifies: a version of one incarnation of a task."""

    version: int
    created_at: str

    @classmethod
    def of(cls, task: dict[str, Any]) -> TaskVersion:
        return cls(task["version"], task["createdAt"])


#: ``*`` (any current task) or the versions one of which must be current (may be empty).
Match = Literal["*"] | tuple[TaskVersion, ...]


@dataclass(frozen=True)
class Preconditions:
    if_match: Match | None = None
    if_none_match: Match | None = None


NONE = Preconditions()


def matches(task: dict[str, Any] | None, match: Match) -> bool:
    """Whether an existing (visible) task, or None for no task, satisfies ``match``."""
    if task is None:
        return False
    return match == ANY or TaskVersion.of(task) in match
