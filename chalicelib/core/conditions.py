"""Preconditions on a record's version (RFC 9110 §13), free of HTTP syntax and of DynamoDB.

The HTTP layer turns ``If-Match`` / ``If-None-Match`` into these; a store turns them
into condition expressions, so a precondition costs no extra request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from chalicelib.core.record import CREATED_AT, VERSION, Record

ANY: Literal["*"] = "*"


@dataclass(frozen=True)
class Version:
    """What an ETag identifies: a version of one incarnation of a record (deleted and
    created again at the same id, it starts again at version 1, created later)."""

    version: int
    created_at: str

    @classmethod
    def of(cls, current: Record) -> Version:
        return cls(current[VERSION], current[CREATED_AT])


#: ``*`` (any current record) or the versions one of which must be current (may be empty).
Match = Literal["*"] | tuple[Version, ...]


@dataclass(frozen=True)
class Preconditions:
    if_match: Match | None = None
    if_none_match: Match | None = None


NONE = Preconditions()


def matches(current: Record | None, match: Match) -> bool:
    """Whether an existing (visible) record, or None for none, satisfies ``match``."""
    if current is None:
        return False
    return match == ANY or Version.of(current) in match
