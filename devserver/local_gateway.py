"""Make Chalice's local gateway answer the way the deployed API Gateway does, and keep
web pages that the developer happens to visit away from it.

``chalice local`` and ``chalice.test.Client`` emulate API Gateway in ``chalice.local``.
Where the emulation falls short, a client would see something no deployed stage sends:

- An ``Authorization`` header that is not a decodable JWT makes the emulator raise, and
  the client gets no response at all. API Gateway's Cognito authorizer answers 401.
- The emulator's own errors (no such route: 403 "Missing Authentication Token") are
  bare JSON. Deployed, the stage's gateway responses turn every gateway error into a
  problem document with the gateway's request id in X-Request-Id and ``instance``
  (``infra/definitions.py``), and the security headers (``web.SECURITY_HEADERS``).
- Its HTTP server answers any method it has no handler for (TRACE, QUERY, ...) with a
  501 HTML page. Routed like the others, such a method gets the app's 405 with ``Allow``.

The emulator verifies no token and the local stage serves anonymous requests, so any
page in the developer's browser could otherwise use it. Two guards, before any route,
authorizer or app code runs:

- **Host.** Only loopback names (``localhost``, ``127.0.0.1``, ``[::1]``, any port) are
  answered; any other gets a 421 gateway problem. A hostile name that resolves to
  127.0.0.1 (DNS rebinding) makes the browser treat the server as that name's origin, and
  the browser still sends that name in Host. A request with no Host (the test client) is
  not a browser's, and passes.
- **Origin.** A stage whose ``TASKS_CORS_ALLOW_ORIGIN`` is ``loopback``
  (``web.LOOPBACK_ORIGINS``) allows exactly the loopback origins, on any port: such an
  Origin is echoed with ``Vary: Origin`` and the stage's other CORS headers, preflights
  included; any other Origin gets no ``Access-Control-*`` header at all. Other stages keep
  the one origin they configure (``web.cors``).

app.py installs this only when ``chalice.local`` is already loaded. That happens under
``chalice local``, in tests, and in the ``chalice`` CLI (which imports it for every
command, so nothing here may change what ``chalice package`` or ``deploy`` produce).
Inside Lambda the module is never loaded, and nothing here runs.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Mapping
from typing import Any

from chalice import local
from chalice.app import CORSConfig

from chalicelib.core.errors import GATEWAY_PROBLEM, GATEWAY_PROBLEM_TITLE
from chalicelib.core.headers import REQUEST_ID_HEADER
from chalicelib.core.http import (
    CORS_ORIGIN_VARIABLE,
    INSTANCE_PREFIX,
    LOOPBACK_ORIGINS,
    PROBLEM_JSON,
    SECURITY_HEADERS,
    cors,
)
from devserver import patches

#: API Gateway's response type for each emulator error, as deployed problems name it.
_RESPONSE_TYPES = {
    "NotAuthorizedError": "UNAUTHORIZED",
    "ForbiddenError": "ACCESS_DENIED",
    "InvalidAuthorizerError": "AUTHORIZER_CONFIGURATION_ERROR",
}
_MISSING_TOKEN = "Missing Authentication Token"

#: This machine, as a browser names it: the host part of a loopback Host or Origin.
_LOOPBACK = r"(?:localhost|127\.0\.0\.1|\[::1\])(?::[0-9]{1,5})?"
_LOOPBACK_HOST = re.compile(_LOOPBACK, re.IGNORECASE)
#: Case-sensitive: browsers send an Origin's scheme and host in lower case.
_LOOPBACK_ORIGIN = re.compile(r"https?://" + _LOOPBACK)
_CORS_PREFIX = "access-control-"
MISDIRECTED_DETAIL = (
    "This development server answers only to localhost, 127.0.0.1 and [::1]: the request's "
    "Host names another server (a DNS rebinding guard)."
)


class MisdirectedRequest(local.LocalGatewayException):
    """A Host that is not a loopback name. 421 (RFC 9110, 15.5.20): this server is not
    the authority for the name asked for. A 403 would read like the gateway's
    "Missing Authentication Token", and say nothing of the cause."""

    CODE = 421


def gateway_problem(detail: str, code: str, request_id: str) -> bytes:
    """The body the deployed gateway responses render (see GATEWAY_PROBLEM_TEMPLATE)."""
    body = {
        "type": GATEWAY_PROBLEM,
        "title": GATEWAY_PROBLEM_TITLE,
        "detail": detail,
        "code": code,
        "instance": INSTANCE_PREFIX + request_id,
    }
    return json.dumps(body).encode()


def _message(body: bytes | None) -> str:
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        return ""
    message = parsed.get("message") or parsed.get("Message") if isinstance(parsed, dict) else ""
    return str(message or "")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def loopback_host(host: str | None) -> bool:
    """Whether a Host header may reach the server (None: no header, not a browser)."""
    return host is None or bool(_LOOPBACK_HOST.fullmatch(host.strip()))


def loopback_origin(origin: str | None) -> bool:
    return origin is not None and bool(_LOOPBACK_ORIGIN.fullmatch(origin))


def loopback_stage() -> bool:
    """Read per request: the test client sets a stage's variables only for a request."""
    return os.environ.get(CORS_ORIGIN_VARIABLE, "").strip().lower() == LOOPBACK_ORIGINS


def with_loopback_cors(headers: Mapping[str, Any], origin: str | None) -> dict[str, Any]:
    """A loopback stage's response headers: an allowed Origin's CORS headers, or none."""
    kept = {k: v for k, v in headers.items() if not k.lower().startswith(_CORS_PREFIX)}
    if loopback_origin(origin):
        methods = _header(headers, "access-control-allow-methods")  # a preflight's
        config = cors({CORS_ORIGIN_VARIABLE: origin})
        if isinstance(config, CORSConfig):  # always: a loopback origin is an origin
            kept |= config.get_access_control_headers()
        if methods:
            kept["Access-Control-Allow-Methods"] = methods
    vary = [v.strip() for v in (_header(kept, "vary") or "").split(",") if v.strip()]
    kept = {k: v for k, v in kept.items() if k.lower() != "vary"}
    if "origin" not in {v.lower() for v in vary}:
        vary.append("Origin")  # the answer depends on it, allowed or not
    return kept | {"Vary": ", ".join(vary)}


_PATCHED = "_task_api_patched"  # our marker on the class: install() runs once


def install() -> None:
    """Patch chalice.local once; idempotent."""
    if getattr(local.LocalGateway, _PATCHED, False):
        return
    decode = local.LocalGatewayAuthorizer._decode_jwt_payload
    handle_request = local.LocalGateway.handle_request
    autogen_options_headers = local.LocalGateway._autogen_options_headers
    for name, original in (
        ("LocalGatewayAuthorizer._decode_jwt_payload", decode),
        ("LocalGateway.handle_request", handle_request),
        ("LocalGateway._autogen_options_headers", autogen_options_headers),
    ):
        patches.record_original("chalice.local", name, original)

    def decode_or_401(self: Any, token: str) -> dict[str, Any]:
        try:
            claims = decode(self, token)
        except (IndexError, ValueError, TypeError, UnicodeError):
            claims = None
        if not isinstance(claims, dict):
            raise local.NotAuthorizedError({}, b'{"message": "Unauthorized"}')
        return claims

    def handle_as_gateway(
        self: Any, method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> Any:
        loopback = loopback_stage()
        origin = _header(headers, "origin")
        try:
            if not loopback_host(_header(headers, "host")):
                raise MisdirectedRequest({}, json.dumps({"message": MISDIRECTED_DETAIL}).encode())
            response = handle_request(self, method=method, path=path, headers=headers, body=body)
        except local.LocalGatewayException as error:
            detail = _message(error.body) or "Rejected"
            code = _RESPONSE_TYPES.get(type(error).__name__, "DEFAULT_4XX")
            if detail == _MISSING_TOKEN:
                code = "MISSING_AUTHENTICATION_TOKEN"
            request_id = error.headers.get("x-amzn-RequestId") or str(uuid.uuid4())
            error.body = gateway_problem(detail, code, request_id)
            error.headers = {
                **error.headers,
                **SECURITY_HEADERS,
                "Content-Type": PROBLEM_JSON,
                REQUEST_ID_HEADER: request_id,
            }
            if loopback:
                error.headers = with_loopback_cors(error.headers, origin)
            raise
        if response.get("body") is None:  # a preflight; the test client cannot take None
            response["body"] = ""
        if loopback:
            response["headers"] = with_loopback_cors(response["headers"], origin)
        return response

    def options_with_methods(self: Any, lambda_event: dict[str, Any]) -> dict[str, str]:
        """A loopback stage configures no CORS in Chalice (``web.cors``), so Chalice would
        offer only OPTIONS; list the route's methods, as a configured stage's preflight does."""
        if not loopback_stage():
            return autogen_options_headers(self, lambda_event)
        methods = list(self._app_object.routes[lambda_event["requestContext"]["resourcePath"]])
        return {"Access-Control-Allow-Methods": ",".join([*methods, "OPTIONS"])}

    # setattr: replacing a method is what a patch does (mypy would refuse an assignment).
    setattr(local.LocalGatewayAuthorizer, "_decode_jwt_payload", decode_or_401)  # noqa: B010
    setattr(local.LocalGateway, "handle_request", handle_as_gateway)  # noqa: B010
    setattr(local.LocalGateway, "_autogen_options_headers", options_with_methods)  # noqa: B010

    def any_method(self: Any, name: str) -> Any:
        """http.server looks up ``do_<METHOD>``; route every method the same way."""
        if name.startswith("do_"):
            return self._generic_handle
        raise AttributeError(name)

    local.ChaliceRequestHandler.__getattr__ = any_method
    setattr(local.LocalGateway, _PATCHED, True)
