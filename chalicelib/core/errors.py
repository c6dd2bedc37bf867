"""Errors the caller is told about. Each carries what its problem document says: the status,
the problem type and title, the headers it adds, and its detail. One handler
(``chalicelib.core.http.problem_for``) writes any of them; nothing else maps errors."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar

#: Seconds a client should wait before retrying a request that met a passing condition
#: (a key in use, DynamoDB throttling or unreachable).
RETRY_AFTER_SECONDS = 1
VALIDATION_PROBLEM = "urn:task-api:problem:validation-error"
MALFORMED_BODY_PROBLEM = "urn:task-api:problem:malformed-body"
#: Rendered by API Gateway itself for its own errors (see infra/definitions.py).
GATEWAY_PROBLEM = "urn:task-api:problem:gateway"
GATEWAY_PROBLEM_TITLE = "Rejected by the API gateway"
#: A validation error lists at most this many invalid values, and counts the rest: what the
#: caller is told never grows with the request (20,000 unknown keys are 20,000 errors).
MAX_FIELD_ERRORS = 50


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


class ApiError(Exception):
    """Base class of every error reported to the caller as a problem document."""

    status: ClassVar[int] = 500
    problem_type: ClassVar[str] = "about:blank"
    #: The problem's title; for ``about:blank`` it is the status phrase (RFC 9457).
    problem_title: ClassVar[str | None] = None
    #: Set: the response asks the client to retry after this many seconds.
    retry_after: ClassVar[int | None] = None
    #: The API document's response for this error, and what it tells the reader.
    response: ClassVar[str] = "InternalError"
    meaning: ClassVar[str] = ""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def title(self) -> str:
        return self.problem_title or HTTPStatus(self.status).phrase

    def headers(self) -> dict[str, str]:
        retry = {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}
        return retry

    def extensions(self) -> dict[str, Any]:
        """Members the problem document adds to type, title, status and detail."""
        return {}

    def report(self, log: logging.Logger) -> None:
        """Log what an operator must see; most errors are the caller's, and log nothing."""


class ValidationFailed(ApiError):
    """The request is well-formed but breaks the schema or a rule. ``errors`` holds at most
    MAX_FIELD_ERRORS of them; ``total`` counts them all, so no problem grows with the request."""

    status = 400
    problem_type = VALIDATION_PROBLEM
    problem_title = "The request body or parameters are invalid"
    response = "BadRequest"
    meaning = (
        "The request body or parameters are invalid (`errors` lists each), or the body is "
        "not a JSON object."
    )

    def __init__(self, errors: list[FieldError], total: int | None = None) -> None:
        listed = errors[:MAX_FIELD_ERRORS]
        self.errors = listed
        self.total = max(total or 0, len(errors))
        super().__init__(self._summary())

    def _summary(self) -> str:
        listed, total = self.errors, self.total
        if total > len(listed):
            return (
                f"{total} invalid values; errors lists the first {len(listed)} "
                f"({total - len(listed)} more not listed)."
            )
        return f"{total} invalid value(s): see errors."

    def __str__(self) -> str:
        return "; ".join(f"{e.pointer or e.parameter or e.header}: {e.detail}" for e in self.errors)

    def extensions(self) -> dict[str, Any]:
        return {"errors": [e.to_dict() for e in self.errors]}


class InvalidCursor(ValidationFailed):
    """A list cursor that is malformed, forged, expired, or made for another query."""

    def __init__(self, reason: str) -> None:
        super().__init__([FieldError(parameter="cursor", detail=reason)])
        self.reason = reason
        self.detail = f"The cursor {reason}."

    def __str__(self) -> str:
        return self.detail


class MalformedBody(ApiError):
    """The request body is not a JSON object this API can read."""

    status = 400
    problem_type = MALFORMED_BODY_PROBLEM
    problem_title = "Malformed request body"
    response = ValidationFailed.response
    meaning = ValidationFailed.meaning


class UnsupportedMediaType(ApiError):
    """Documented only: Chalice refuses a body whose Content-Type the route does not take
    before any view runs (``chalicelib.core.http.chalice_errors_as_problems``)."""

    status = 415
    response = "UnsupportedMediaType"
    meaning = "The body's Content-Type is not accepted."


class Throttled(ApiError):
    """Documented only: API Gateway refuses requests over the stage's throttling limit."""

    status = 429
    retry_after = RETRY_AFTER_SECONDS
    response = "TooManyRequests"
    meaning = (
        "Deployed only: the stage's throttling limit was reached (API Gateway). Retry "
        "after `Retry-After` seconds."
    )


class ContentTooLarge(ApiError):
    """The request body is larger than the API reads."""

    status = 413
    response = "ContentTooLarge"


class NotFound(ApiError):
    """No resource of this kind with that id exists for this owner."""

    status = 404
    response = "NotFound"
    meaning = "The caller has nothing of this kind with this id."

    def __init__(self, resource: str, resource_id: str) -> None:
        super().__init__(f"No {resource} with id '{resource_id}'.")
        self.resource_id = resource_id


class PreconditionFailed(ApiError):
    """If-Match or If-None-Match does not hold for the resource's current version."""

    status = 412
    response = "PreconditionFailed"
    meaning = "If-Match or If-None-Match does not hold: GET it again for its current ETag."

    def __init__(self, resource: str, resource_id: str) -> None:
        super().__init__(
            f"{resource.capitalize()} '{resource_id}' does not satisfy the request's "
            f"If-Match / If-None-Match. GET the {resource} for its current ETag."
        )
        self.resource_id = resource_id


class IdempotencyKeyReused(ApiError):
    """The Idempotency-Key was already used by this owner with a different request body."""

    status = 422
    response = "IdempotencyKeyReused"
    DETAIL = meaning = "This Idempotency-Key was already used with a different request body."

    def __init__(self) -> None:
        super().__init__(self.DETAIL)


class IdempotencyConflict(ApiError):
    """Another request with the same Idempotency-Key is being processed right now."""

    status = 409
    retry_after = RETRY_AFTER_SECONDS
    response = "IdempotencyConflict"
    DETAIL = meaning = "A request with this Idempotency-Key is still in progress; retry shortly."

    def __init__(self) -> None:
        super().__init__(self.DETAIL)


class Unauthenticated(ApiError):
    """The request carries no verified identity, and this stage requires one."""

    status = 401
    response = "Unauthorized"
    meaning = (
        "No valid ID token of this API's user pool. Deployed, API Gateway answers a missing "
        f"or invalid token itself (type `{GATEWAY_PROBLEM}`)."
    )
    DETAIL = "Send a Cognito ID token of this API's user pool in the Authorization header."

    def __init__(self) -> None:
        super().__init__(self.DETAIL)

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="tasks"'}


class InternalError(ApiError):
    """Anything unexpected: the caller learns nothing of it but the request's id."""

    status = 500
    DETAIL = "An unexpected error occurred. Quote the X-Request-Id when reporting it."
    response = "InternalError"
    meaning = DETAIL

    def __init__(self, detail: str = DETAIL) -> None:
        super().__init__(detail)


class StageMisconfigured(InternalError):
    """Inside Lambda, the stage's configuration would serve callers unsafely: refuse."""

    def __init__(self, reason: str) -> None:
        super().__init__("This deployment is misconfigured; it refuses to serve.")
        self.reason = reason

    def report(self, log: logging.Logger) -> None:
        log.error("%s: refusing to serve", self.reason)


class AnonymousModeRefused(StageMisconfigured):
    """Anonymous (local development) mode was configured inside Lambda."""

    def __init__(self) -> None:
        super().__init__("TASKS_ALLOW_ANONYMOUS is set inside Lambda")


class AudienceUnconfigured(StageMisconfigured):
    """Inside Lambda, the stage names no app client whose ID tokens it accepts."""

    def __init__(self) -> None:
        super().__init__("COGNITO_USER_POOL_CLIENT_ID is not set inside Lambda")


class StoreUnavailable(ApiError):
    """DynamoDB throttled every attempt, could not be reached in time, or cancelled a
    transaction that met another write on one of its items. Nothing was written: each write
    is one request, which DynamoDB applies whole or not at all."""

    status = 503
    retry_after = RETRY_AFTER_SECONDS
    response = "ServiceUnavailable"
    meaning = (
        "DynamoDB throttled every retry, could not be reached in time, or met another write "
        "on the same item at the same moment. Nothing was changed; retry after "
        "`Retry-After` seconds."
    )

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"The task store is busy or unreachable; retry after {RETRY_AFTER_SECONDS} second(s)."
        )
        self.reason = reason

    def report(self, log: logging.Logger) -> None:
        log.warning("Task store unavailable: %s", self.reason)
