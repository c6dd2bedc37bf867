"""Domain errors raised by the service. The HTTP layer maps each to a problem document."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One invalid input: a JSON pointer into the body, a request parameter or a header."""

    detail: str
    pointer: str | None = None
    parameter: str | None = None
    header: str | None = None

    def to_dict(self) -> dict[str, str]:
        where = {"pointer": self.pointer, "parameter": self.parameter, "header": self.header}
        return {**{k: v for k, v in where.items() if v is not None}, "detail": self.detail}


class TaskApiError(Exception):
    """Base class of every error the service reports to the caller."""


#: A validation error lists at most this many invalid values, and counts the rest: what the
#: caller is told never grows with the request (20,000 unknown keys are 20,000 errors).
MAX_FIELD_ERRORS = 50


class ValidationFailed(TaskApiError):
    """The request is well-formed JSON but breaks the task schema or a rule. ``errors``
    holds at most MAX_FIELD_ERRORS of them; ``total`` counts them all."""

    def __init__(self, errors: list[FieldError], total: int | None = None) -> None:
        listed = errors[:MAX_FIELD_ERRORS]
        super().__init__(
            "; ".join(f"{e.pointer or e.parameter or e.header}: {e.detail}" for e in listed)
        )
        self.errors = listed
        self.total = max(total or 0, len(errors))


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


class PreconditionFailed(TaskApiError):
    """If-Match or If-None-Match does not hold for the task's current version."""

    def __init__(self, task_id: str) -> None:
        super().__init__(
            f"Task '{task_id}' does not satisfy the request's If-Match / If-None-Match."
        )
        self.task_id = task_id


class IdempotencyKeyReused(TaskApiError):
    """The Idempotency-Key was already used by this owner with a different request body."""


class IdempotencyConflict(TaskApiError):
    """Another request with the same Idempotency-Key is being processed right now."""


class Unauthenticated(TaskApiError):
    """The request carries no verified identity, and this stage requires one."""


class StageMisconfigured(TaskApiError):
    """Inside Lambda, the stage's configuration would serve callers unsafely: refuse."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AnonymousModeRefused(StageMisconfigured):
    """Anonymous (local development) mode was configured inside Lambda."""

    def __init__(self) -> None:
        super().__init__("TASKS_ALLOW_ANONYMOUS is set inside Lambda")


class AudienceUnconfigured(StageMisconfigured):
    """Inside Lambda, the stage names no app client whose ID tokens it accepts."""

    def __init__(self) -> None:
        super().__init__("COGNITO_USER_POOL_CLIENT_ID is not set inside Lambda")


class StoreUnavailable(TaskApiError):
    """DynamoDB throttled every attempt, or could not be reached in time. Nothing was
    written: each operation is one request, which DynamoDB applies whole or not at all."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
