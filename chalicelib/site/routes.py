"""The routes without a token: health, the API document, the web page and its files."""

from __future__ import annotations

from typing import Any

from chalice.app import Response

from chalicelib import identity
from chalicelib.core import http
from chalicelib.core.operations import PUBLIC_ERRORS, ApiBlueprint, Components


def _components() -> Components:
    from chalicelib.site import document  # imported on the first GET /openapi.json

    return document.components()


#: ``blueprint`` is what app.py registers; the routes below call it ``site``.
site = blueprint = ApiBlueprint(__name__, components=_components)


@site.route("/health", methods=["GET"], content_types=http.NO_BODY)
@site.operation(
    "Health check",
    "Answers without a token and without touching DynamoDB.",
    tag="service",
    responses={200: "Health"},
    errors=PUBLIC_ERRORS,
)
def health() -> dict[str, str]:
    return {"status": "ok"}


@site.route("/openapi.json", methods=["GET"], content_types=http.NO_BODY)
@site.operation(
    "This API document",
    "The OpenAPI 3.1 document of this API, served without a token.",
    tag="service",
    responses={200: "OpenApiDocument"},
    errors=PUBLIC_ERRORS,
)
def openapi_document() -> dict[str, Any]:
    from chalicelib.core import openapi  # imported on first request, not at cold start

    return openapi.served(site.current_app.routes, identity.anonymous_allowed())


@site.route("/", methods=["GET"], content_types=http.NO_BODY)
@site.operation(
    "The web page",
    "A task manager for the browser, served without a token; where the stage needs one, "
    "the page signs its user in with Cognito. Its script and stylesheet come from "
    "`/ui/{name}`.",
    tag="web",
    parameters=("ContentIfNoneMatch",),
    responses={200: "WebPage", 304: "ContentNotModified"},
    errors=PUBLIC_ERRORS,
)
def web_page() -> Response:
    from chalicelib.site import webpage  # not imported by API-only containers

    return webpage.page(site.current_request)


@site.route("/ui/{name}", methods=["GET"], content_types=http.NO_BODY)
@site.operation(
    "A file of the web page",
    "The page's script, stylesheet and icon, named by a fingerprint of their content, so "
    "they may be cached for a year.",
    tag="web",
    parameters=("ContentIfNoneMatch",),
    responses={200: "WebAsset", 304: "ContentNotModified", 404: "AssetNotFound"},
    errors=PUBLIC_ERRORS,
)
def web_asset(name: str) -> Response:
    from chalicelib.site import webpage

    return webpage.asset(site.current_request, name)
