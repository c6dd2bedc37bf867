"""What the routes without a token add to the API document."""

from __future__ import annotations

from typing import Any

from chalicelib.core.openapi import HEADERS, problem_response, ref
from chalicelib.core.operations import Components, Tag
from chalicelib.site import webpage


def _content_response(
    description: str, media_types: list[str], *header_names: str
) -> dict[str, Any]:
    """A page or file: text, with its fingerprint ETag."""
    return {
        "description": description,
        "content": {media_type: {"schema": {"type": "string"}} for media_type in media_types},
        "headers": {
            "ETag": ref(HEADERS, "ContentETag"),
            "Cache-Control": ref(HEADERS, "ContentCacheControl"),
            **{name: ref(HEADERS, name) for name in header_names},
        },
    }


def components() -> Components:
    return Components(
        tags=(
            Tag("web", "The web page and its files; no token."),
            Tag("service", "Health and this document; no token."),
        ),
        parameters={
            "name": {
                "name": "name",
                "in": "path",
                "required": True,
                "description": "The name the page uses: stem, content fingerprint, suffix.",
                "schema": {"type": "string"},
                "example": "app.3f9c2a1b0d4e.js",
            },
            "ContentIfNoneMatch": {
                "name": "If-None-Match",
                "in": "header",
                "required": False,
                "description": (
                    "The page's or file's ETag from an earlier response: 304 when it is still "
                    "current (weak comparison). Any other value is ignored."
                ),
                "schema": {"type": "string"},
            },
        },
        headers={
            "ContentETag": {
                "description": "A fingerprint of the page or file; send it back in If-None-Match.",
                "schema": {"type": "string", "pattern": '^"[0-9a-f]{12}"$'},
            },
            "ContentCacheControl": {
                "description": (
                    f"How long browsers may keep it: `{webpage.REVALIDATE}` for the page (it "
                    f"embeds the stage's settings), `{webpage.IMMUTABLE}` for a file (its name "
                    "changes with its content)."
                ),
                "schema": {"type": "string", "enum": [webpage.REVALIDATE, webpage.IMMUTABLE]},
                "required": True,
            },
            "Content-Security-Policy": {
                "description": (
                    "Scripts and styles from this origin only, no inline code, Trusted Types."
                ),
                "schema": {"type": "string"},
            },
        },
        responses={
            "Health": {
                "description": "The service is up.",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["status"],
                            "properties": {"status": {"const": "ok"}},
                        }
                    }
                },
            },
            "OpenApiDocument": {
                "description": "This document.",
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "required": ["openapi", "info", "paths"]}
                    }
                },
            },
            "WebPage": _content_response("The page.", ["text/html"], "Content-Security-Policy"),
            "WebAsset": _content_response(
                "The file.", sorted({t.split(";")[0] for t in webpage.CONTENT_TYPES.values()})
            ),
            "ContentNotModified": {
                "description": "Unchanged since the ETag sent.",
                "headers": {
                    "ETag": ref(HEADERS, "ContentETag"),
                    "Cache-Control": ref(HEADERS, "ContentCacheControl"),
                },
            },
            "AssetNotFound": problem_response("No file by this name (fingerprint included)."),
        },
    )
