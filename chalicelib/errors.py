"""Domain errors raised by the service. The HTTP layer maps each to a problem document."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One invalid input: a JSON pointer into the body, or a named request parameter."""

    detail: str
    pointer: str | None = None
    parameter: str | None = None

    def to_dict(self) -> dict[str, str]:
        where = {"pointer": self.pointer} if self.pointer is not None else {}
        if self.parameter is not None:
            where["parameter"] = self.parameter
        return {**where, "detail": self.detail}


class TaskApiError(Exception):
    """Base class of every error the service reports to the caller."""


class ValidationFailed(TaskApiError):
    """The request is well-formed JSON but breaks the task schema or a rule."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.pointer or e.parameter}: {e.detail}" for e in errors))
        self.errors = errors


class TaskNotFound(TaskApiError):
    """No task with that id exists for this owner."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"No task with id '{task_id}'.")
        self.task_id = task_id


class InvalidCursor(TaskApiError):
    """A list cursor that is malformed, forged, expired, or made for another query."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"The cursor {reason}.")
        self.reason = reason
