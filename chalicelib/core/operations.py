"""Routes that declare their own contract. A resource's routes are an ``ApiBlueprint``; each
route states its operation next to itself (``@blueprint.operation(...)``): words, parameters,
body, responses and the errors it can raise. ``chalicelib.core.openapi`` builds the
API document from these declarations and from Chalice's route table, and the same
declaration wraps the route so that any error leaves as its problem document.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from chalice.app import Blueprint

from chalicelib.core import http
from chalicelib.core.errors import (
    ApiError,
    ContentTooLarge,
    InternalError,
    StoreUnavailable,
    Throttled,
    Unauthenticated,
    UnsupportedMediaType,
    ValidationFailed,
)

View = TypeVar("View", bound=Callable[..., Any])
#: The attribute of a route's view function that holds its declaration.
DECLARATION = "operation"

#: Errors every route that reads stored data can answer with: bad input, no token, the
#: stage's throttling, and the store or the code failing.
STORED_DATA_ERRORS: tuple[type[ApiError], ...] = (
    ValidationFailed,
    Unauthenticated,
    Throttled,
    InternalError,
    StoreUnavailable,
)
#: ... and the routes that read a body.
BODY_ERRORS: tuple[type[ApiError], ...] = (ContentTooLarge, UnsupportedMediaType)
#: What routes without a token can answer with too: the stage's throttling covers every
#: route, and any route can fail unexpectedly.
PUBLIC_ERRORS: tuple[type[ApiError], ...] = (Throttled, InternalError)


@dataclass(frozen=True)
class Tag:
    name: str
    description: str


@dataclass(frozen=True)
class Components:
    """What a group of routes adds to the API document, by kind (``schemas``,
    ``parameters``, ``responses``, ``headers``), and the tags its operations use."""

    tags: tuple[Tag, ...]
    schemas: Mapping[str, Any] = field(default_factory=dict)
    parameters: Mapping[str, Any] = field(default_factory=dict)
    responses: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, Any] = field(default_factory=dict)
    #: A valid request body for each body schema, for readers and for API clients.
    examples: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    """What Chalice's route table cannot tell about a route."""

    summary: str
    description: str
    tag: str
    #: Names of the parameters other than the path's, in ``Components.parameters`` or the
    #: core's.
    parameters: tuple[str, ...]
    #: The request body's schema, in ``Components.schemas``.
    body: str | None
    #: Status -> response name, for the answers that are not errors (ApiError).
    responses: Mapping[int, str]
    errors: tuple[type[ApiError], ...]
    #: The group's components, built when the document is first asked for (never at cold
    #: start).
    components: Callable[[], Components]

    def statuses(self) -> dict[int, str]:
        """Every status the operation can answer with, and the response that documents it."""
        return {**self.responses, **{error.status: error.response for error in self.errors}}


class ApiBlueprint(Blueprint):
    """A Chalice Blueprint whose routes declare their operations (``operation``)."""

    def __init__(
        self, import_name: str, components: Callable[[], Components], tag: str | None = None
    ) -> None:
        """``components``: what the routes add to the API document, built on first use.
        ``tag``: their operations' tag, unless one says otherwise."""
        super().__init__(import_name)
        self._components = components
        self._tag = tag

    def operation(
        self,
        summary: str,
        description: str,
        *,
        responses: Mapping[int, str],
        errors: tuple[type[ApiError], ...],
        parameters: tuple[str, ...] = (),
        body: str | None = None,
        tag: str | None = None,
    ) -> Callable[[View], View]:
        """Declare the route below: its documentation, and that every error it raises
        leaves as its problem document (``chalicelib.core.http.problem_for``). Path
        parameters come from the route itself; ``parameters`` names the others."""
        chosen = tag or self._tag
        if chosen is None:
            raise ValueError(f"operation {summary!r} has no tag")
        declared = Operation(
            summary, description, chosen, parameters, body, responses, errors, self._components
        )

        def declare(view: View) -> View:
            answering = http.answering_problems(view)
            setattr(answering, DECLARATION, declared)
            return cast(View, answering)  # the same signature: functools.wraps

        return declare


def declaration(view: Callable[..., Any]) -> Operation:
    """The operation a route declared; every route must declare one."""
    declared = getattr(view, DECLARATION, None)
    if not isinstance(declared, Operation):
        raise LookupError(f"route {view.__name__} declares no operation")
    return declared
