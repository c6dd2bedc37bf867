"""Every private internal of a third-party library that this project relies on, in one
place, with the parameters it is called with. ``tests/unit/test_patches.py`` checks each entry
against the installed library, so an upgrade that renames or reshapes one fails there
first, not as a silent change in behaviour. None of these is in ``deployment.zip``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.logging.constants import (
    LOGGER_ATTRIBUTE_POWERTOOLS_HANDLER,
    LOGGER_ATTRIBUTE_PRECONFIGURED,
)

from chalicelib import telemetry


@dataclass(frozen=True)
class Internal:
    module: str
    attribute: str  # "Class.name" or "name"
    parameters: tuple[str, ...] | None  # a callable's parameter names; None: not callable
    user: str
    why: str


INTERNALS = (
    Internal(
        "chalice.local",
        "LocalGatewayAuthorizer._decode_jwt_payload",
        ("self", "jwt"),
        "devserver/local_gateway.py",
        "an undecodable token raises inside the emulator; API Gateway answers 401",
    ),
    Internal(
        "chalice.local",
        "LocalGateway.handle_request",
        ("self", "method", "path", "headers", "body"),
        "devserver/local_gateway.py",
        "gateway problems, the Host guard and loopback CORS around every request",
    ),
    Internal(
        "chalice.local",
        "LocalGateway._autogen_options_headers",
        ("self", "lambda_event"),
        "devserver/local_gateway.py",
        "a loopback stage's preflight lists the route's methods",
    ),
    Internal(
        "chalice.local",
        "ChaliceRequestHandler._generic_handle",
        ("self",),
        "devserver/local_gateway.py",
        "every HTTP method is routed (405 with Allow), not answered 501 by http.server",
    ),
    Internal(
        "chalice.local",
        "LocalGateway._app_object",
        None,
        "devserver/local_gateway.py",
        "the app whose route table a loopback stage's preflight reads (set in __init__)",
    ),
    Internal(
        "botocore.client",
        "BaseClient._make_api_call",
        ("self", "operation_name", "api_params"),
        "devserver/embedded.py",
        "the embedded emulator's requests are serialised, as DynamoDB applies them atomically",
    ),
    Internal(
        "botocore.client",
        "BaseClient._make_request",
        ("self", "operation_model", "request_dict", "request_context"),
        "tests/conftest.py",
        "the tests record each request below the embedded emulator's wrapper",
    ),
    Internal(
        "aws_lambda_powertools.logging.constants",
        "LOGGER_ATTRIBUTE_PRECONFIGURED",
        None,
        "devserver/patches.py (reset_telemetry)",
        "a Logger built again in the same process (tests) configures its handler again",
    ),
    Internal(
        "aws_lambda_powertools.logging.constants",
        "LOGGER_ATTRIBUTE_POWERTOOLS_HANDLER",
        None,
        "devserver/patches.py (reset_telemetry)",
        "as above: Powertools marks the logger it configured with these attributes",
    ),
)

#: The originals that devserver replaced, by "module:attribute", to check their signatures.
ORIGINALS: dict[str, Any] = {}


def record_original(module: str, attribute: str, original: Any) -> None:
    ORIGINALS[f"{module}:{attribute}"] = original


def reset_telemetry() -> None:
    """Forget telemetry's Logger and Tracer so that the next request builds them anew, as a
    new container would (tests only). Powertools marks a configured logger with private
    attributes; without removing them, a second Logger would skip its own set-up."""
    with telemetry._lock:
        base = logging.getLogger(telemetry.SERVICE)
        for handler in list(base.handlers):
            base.removeHandler(handler)
        for attribute in (LOGGER_ATTRIBUTE_PRECONFIGURED, LOGGER_ATTRIBUTE_POWERTOOLS_HANDLER):
            if hasattr(base, attribute):
                delattr(base, attribute)
        telemetry._logger, telemetry._tracer, telemetry._tracer_built = None, None, False
