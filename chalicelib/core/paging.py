"""A list page, the parameters that ask for one, and its byte budget: shared by every list."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

R = TypeVar("R")

LIMIT: Final = "limit"
CURSOR: Final = "cursor"
#: A cursor is never longer than this (what the API issues is far shorter).
MAX_CURSOR_LENGTH = 1024


def page_parameters(noun: str, maximum: int, default: int) -> dict[str, dict[str, Any]]:
    """``limit`` and ``cursor``, as JSON Schemas, for a list of ``noun``."""
    return {
        LIMIT: {
            "type": "integer",
            "format": "int32",
            "minimum": 1,
            "maximum": maximum,
            "default": default,
            "description": f"{noun.capitalize()} per page.",
        },
        CURSOR: {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_CURSOR_LENGTH,
            "description": "Opaque: the nextCursor of the previous page, with the same filters.",
        },
    }


@dataclass(frozen=True)
class Page(Generic[R]):
    items: list[R]
    next_cursor: str | None


@dataclass(frozen=True)
class PageBytes(Generic[R]):
    """A byte budget for a page's records, as the HTTP layer will encode them."""

    budget: int
    weigh: Callable[[R], int]

    def fitting(self, records: list[R]) -> list[R]:
        """The longest prefix of ``records`` within the budget, and never less than one
        (the largest valid record is far below any budget), so a walk always moves."""
        total = 0
        for count, record in enumerate(records):
            total += self.weigh(record)
            if total > self.budget and count > 0:
                return records[:count]
        return records
