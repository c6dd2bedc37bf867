"""Task API: the app, its middleware, and one blueprint per resource."""

from __future__ import annotations

import importlib
import os
import sys

from chalice.app import Blueprint, Chalice, ConvertToMiddleware

from chalicelib import runtime, telemetry
from chalicelib.core import http

if "chalice.local" in sys.modules:  # chalice local, tests and the CLI; never inside Lambda
    from devserver import embedded, local_gateway, stream_poller  # not in deployment.zip

    local_gateway.install()
    embedded.install()
    stream_poller.install()

app = Chalice(app_name=telemetry.SERVICE, configure_logs=False)  # Powertools logs
app.debug = False  # never return stack traces, in any stage
# Outermost first: Lambda context in the logs, the X-Ray segment, the security headers and
# the body as UTF-8 JSON, then per request X-Request-Id, the log line and the metrics;
# innermost, Chalice's own errors as problems (a route's own errors never get this far).
app.register_middleware(ConvertToMiddleware(telemetry.inject_lambda_context), "http")
app.register_middleware(ConvertToMiddleware(telemetry.capture_lambda_handler), "http")
app.register_middleware(http.finish_response, "http")
app.register_middleware(telemetry.observe_request, "http")
app.register_middleware(http.chalice_errors_as_problems, "http")
app.api.cors = http.cors()  # per stage; must be set before the blueprints register routes

#: One package per resource under chalicelib/; its ``routes.blueprint`` serves it.
RESOURCES = ("tasks", "comments", "activity", "site")
for resource in RESOURCES:
    blueprint: Blueprint = importlib.import_module(f"chalicelib.{resource}.routes").blueprint
    app.register_blueprint(blueprint)

if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and "chalice.local" not in sys.modules:
    runtime.prime()  # Lambda's init phase: the client and Tracer before the first request
