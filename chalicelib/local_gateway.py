"""Make Chalice's local gateway answer the way the deployed API Gateway does.

``chalice local`` and ``chalice.test.Client`` emulate API Gateway in ``chalice.local``.
Where the emulation falls short, a client would see something no deployed stage sends:

- An ``Authorization`` header that is not a decodable JWT makes the emulator raise, and
  the client gets no response at all. API Gateway's Cognito authorizer answers 401.
- The emulator's own errors (no such route: 403 "Missing Authentication Token") are
  bare JSON. Deployed, the stage's gateway responses turn every gateway error into a
  problem document with the gateway's request id in X-Request-Id and ``instance``
  (``infra/definitions.py``).
- Its HTTP server answers any method it has no handler for (TRACE, QUERY, ...) with a
  501 HTML page. Routed like the others, such a method gets the app's 405 with ``Allow``.

app.py installs this only when ``chalice.local`` is already loaded. That happens under
``chalice local`` and in tests. Inside Lambda the module is never loaded, and nothing
here runs.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from chalicelib.headers import REQUEST_ID_HEADER
from chalicelib.web import GATEWAY_PROBLEM, GATEWAY_PROBLEM_TITLE, INSTANCE_PREFIX, PROBLEM_JSON

#: API Gateway's response type for each emulator error, as deployed problems name it.
_RESPONSE_TYPES = {
    "NotAuthorizedError": "UNAUTHORIZED",
    "ForbiddenError": "ACCESS_DENIED",
    "InvalidAuthorizerError": "AUTHORIZER_CONFIGURATION_ERROR",
}
_MISSING_TOKEN = "Missing Authentication Token"


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


def install() -> None:
    """Patch chalice.local once; idempotent."""
    from chalice import local

    if getattr(local.LocalGateway, "_task_api_patched", False):
        return
    decode = local.LocalGatewayAuthorizer._decode_jwt_payload
    handle_request = local.LocalGateway.handle_request

    def decode_or_401(self: Any, token: str) -> dict[str, Any]:
        try:
            claims = decode(self, token)
        except (IndexError, ValueError, TypeError, UnicodeError):
            claims = None
        if not isinstance(claims, dict):
            raise local.NotAuthorizedError({}, b'{"message": "Unauthorized"}')
        return claims

    def handle_as_gateway(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return handle_request(self, *args, **kwargs)
        except local.LocalGatewayException as error:
            detail = _message(error.body) or "Rejected"
            code = _RESPONSE_TYPES.get(type(error).__name__, "DEFAULT_4XX")
            if detail == _MISSING_TOKEN:
                code = "MISSING_AUTHENTICATION_TOKEN"
            request_id = error.headers.get("x-amzn-RequestId") or str(uuid.uuid4())
            error.body = gateway_problem(detail, code, request_id)
            error.headers = {
                **error.headers,
                "Content-Type": PROBLEM_JSON,
                REQUEST_ID_HEADER: request_id,
            }
            raise

    local.LocalGatewayAuthorizer._decode_jwt_payload = decode_or_401
    local.LocalGateway.handle_request = handle_as_gateway

    def any_method(self: Any, name: str) -> Any:
        """http.server looks up ``do_<METHOD>``; route every method the same way."""
        if name.startswith("do_"):
            return self._generic_handle
        raise AttributeError(name)

    local.ChaliceRequestHandler.__getattr__ = any_method
    local.LocalGateway._task_api_patched = True
