"""Task API: the app, its middleware, and one blueprint per resource."""

from __future__ import annotations

import gc
import importlib
import os
import sys

#: Lambda's init phase, not chalice local or the tests (which load chalice.local first).
#: What init allocates (modules, the client's service model) lives as long as the
#: container, so collecting while it runs frees nothing: it cost a fifth of the cold start
#: (docs/design/costs.md, Cold start). Collection resumes once init is done.
LAMBDA_INIT = (
    bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME")) and "chalice.local" not in sys.modules
)
if LAMBDA_INIT:
    gc.disable()  # before the imports below: they are most of init

from chalice.app import Blueprint, Chalice, ConvertToMiddleware  # noqa: E402

from chalicelib import runtime, telemetry  # noqa: E402
from chalicelib.core import http  # noqa: E402

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
app.register_middleware(telemetry.lambda_context, "http")
if telemetry.tracing_configured():  # Lambda, on a stage that opts in to X-Ray subsegments
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

if LAMBDA_INIT:
    try:
        runtime.prime()  # the client (and the Tracer, where on) before the first request
    finally:
        gc.enable()
        gc.freeze()  # what init made stays: no later collection scans it again
