"""Observability: per request, one log line, one set of metrics and one trace.

Powertools for AWS Lambda's Logger writes the JSON lines and, where a stage turns it on,
its Tracer sends X-Ray segments; ``emf`` writes the CloudWatch Embedded Metric Format
(EMF) documents. This module says what to record. app.py registers it as Chalice middleware.

The stage's environment configures it (``.chalice/config.json``): ``POWERTOOLS_LOG_LEVEL``,
``POWERTOOLS_LOGGER_SAMPLE_RATE``, ``POWERTOOLS_METRICS_NAMESPACE``,
``POWERTOOLS_METRICS_DISABLED``, ``POWERTOOLS_TRACE_DISABLED`` and ``TASKS_LOG_FORMAT``
(``json`` or ``pretty``). Logger and Tracer are built on the first request, once per
container, because ``chalice.test.Client`` sets a stage's variables only while a request
runs.

Never logged: request or response bodies, headers, tokens, e-mail addresses, or the owner
itself. The owner appears only as ``owner_hash``.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider import cold_start
from chalice.app import Request, Response

from chalicelib import emf
from chalicelib.core import http
from chalicelib.log_format import PrettyFormatter

#: The service: the Logger's name (modules log to ``task-api.<module>``), the metrics'
#: ``service`` dimension and the traces' service annotation. Also Chalice's app name.
SERVICE = "task-api"
NAMESPACE_ENV = "POWERTOOLS_METRICS_NAMESPACE"
LOG_FORMAT_ENV = "TASKS_LOG_FORMAT"
_TRUE = {"1", "true", "yes", "on"}

# Metric and dimension names: the alarms (infra/definitions.py) and docs/operations/metrics.md
# use these.
REQUESTS = "Requests"
LATENCY = "Latency"
DYNAMODB_REQUESTS = "DynamoDBRequests"
CONSUMED_READ_CAPACITY = "ConsumedReadCapacity"
CONSUMED_WRITE_CAPACITY = "ConsumedWriteCapacity"
COLD_START = "ColdStart"  # Powertools' own name
ROUTE, METHOD, STATUS_CLASS = "Route", "Method", "StatusClass"
#: Every value of the StatusClass dimension: the API answers 2xx to 5xx only.
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")
SERVICE_DIMENSION = "service"  # Powertools' own name
#: The published version that answered: what a canary release's alarms watch (Lambda sets
#: the variable; ``$LATEST`` for an unqualified call, which no release serves).
FUNCTION_VERSION = "FunctionVersion"
FUNCTION_VERSION_ENV = "AWS_LAMBDA_FUNCTION_VERSION"

#: DynamoDB operations the API calls, and which capacity each consumes.
_READS = frozenset({"GetItem", "BatchGetItem", "Query"})
_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"})

_log = logging.getLogger(f"{SERVICE}.telemetry")
_lock = threading.Lock()
_logger: Logger | None = None
_injector: Callable[..., Any] | None = None
_injector_logger: Logger | None = None
_tracer: Any = None
_tracer_built = False


class _Stdout:
    """Whatever ``sys.stdout`` is when a line is written (pytest swaps it per test)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def _json_or_text(message: dict[Any, Any] | str | bool | int | float) -> Any:
    """Powertools tries every text message as JSON; ours are text, and each failed parse
    raises and is caught. A message that looks like a JSON object or array is still parsed."""
    if isinstance(message, str) and message[:1] in ("{", "["):
        return json.loads(message)
    return message


class _SteadyLevelLogger(logging.Logger):
    """A logger whose ``setLevel`` does nothing when the level stays the same.

    With a sampling rate, Powertools sets the level again on every invocation; the standard
    library then clears every logger's level cache, and botocore's many debug calls each
    walk the logger tree again: about a tenth of a millisecond a request
    (docs/design/costs.md, Per request).
    """

    def setLevel(self, level: int | str) -> None:  # noqa: N802 - the standard library's name
        numeric = level if isinstance(level, int) else logging.getLevelName(level.upper())
        if numeric != self.level:
            super().setLevel(level)


def _steady_base_logger() -> None:
    """Make the service's logger a ``_SteadyLevelLogger``, unless it already exists."""
    existing = logging.Logger.manager.loggerDict.get(SERVICE)
    if isinstance(existing, logging.Logger):
        return
    previous = logging.getLoggerClass()
    logging.setLoggerClass(_SteadyLevelLogger)
    try:
        logging.getLogger(SERVICE)
    finally:
        logging.setLoggerClass(previous)


def logger() -> Logger:
    """The container's Powertools Logger, configured from the stage on first use."""
    global _logger
    if _logger is None:
        with _lock:
            if _logger is None:
                _steady_base_logger()
                pretty = os.environ.get(LOG_FORMAT_ENV, "json").strip().lower() == "pretty"
                _logger = Logger(
                    service=SERVICE,
                    json_deserializer=_json_or_text,
                    stream=_Stdout(),  # type: ignore[arg-type]
                    logger_formatter=PrettyFormatter() if pretty else None,
                )
    return _logger


def tracing_configured() -> bool:
    """Whether this process sends the X-Ray SDK's subsegments: in Lambda, on a stage that
    opts in (``POWERTOOLS_TRACE_DISABLED=false``; every stage sets ``true``)."""
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in _TRUE
    return bool(os.environ.get("LAMBDA_TASK_ROOT")) and not disabled


def tracer() -> Any:
    """The container's Powertools Tracer, or None where tracing is off.

    Off means not in Lambda, or ``POWERTOOLS_TRACE_DISABLED`` (the local stage). Tracer
    is not even imported then: building a disabled one still loads the X-Ray SDK, which
    costs about 200 ms. In Lambda only botocore is patched (22 ms, against 65 ms for
    every library the SDK knows); DynamoDB and Secrets Manager calls are all there is.
    """
    global _tracer, _tracer_built
    if not _tracer_built:
        with _lock:
            if not _tracer_built:
                if tracing_configured():
                    from aws_lambda_powertools import Tracer

                    _tracer = Tracer(service=SERVICE, patch_modules=["botocore"])
                _tracer_built = True
    return _tracer


# --- middleware (app.py registers these, outermost first) ----------------------------------


def lambda_context(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Powertools' Lambda context keys (function, cold start) on every line; state is
    cleared per invocation, and log sampling is decided anew. Never logs the event.

    Powertools' decorator, built once per Logger: Chalice's ``ConvertToMiddleware`` would
    build it again on every request."""
    global _injector, _injector_logger
    current = logger()
    if _injector is None or _injector_logger is not current:
        _injector = current.inject_lambda_context(_through, log_event=False, clear_state=True)
        _injector_logger = current
    response: Response = _injector(
        event.to_original_event(), event.lambda_context, event, get_response
    )
    return response


def _through(
    _event: Any, _context: Any, request: Request, get_response: Callable[[Request], Response]
) -> Response:
    return get_response(request)


def capture_lambda_handler(handler: Callable[..., Any]) -> Callable[..., Any]:
    """The X-Ray segment of the invocation. Responses hold tasks: never recorded."""
    active = tracer()
    if active is None:
        return handler

    def api_handler(event: Any, context: Any) -> Any:  # names the segment "## api_handler"
        return handler(event, context)

    captured: Callable[..., Any] = active.capture_lambda_handler(
        api_handler, capture_response=False
    )
    return captured


def observe_request(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """X-Request-Id, then the request's log line and metrics, whatever the outcome."""
    started = time.perf_counter()
    ids = http.request_ids(event)
    log = logger()
    log.thread_safe_append_keys(request_id=ids.gateway, correlation_id=ids.correlation)
    tally = _Tally()
    token = _current.set(tally)
    try:
        try:
            response = get_response(event)
        except Exception:  # a failure outside the views: still a problem document
            response = http.internal_error()
        response = http.identify(response, ids.correlation)
        _record(event, response, (time.perf_counter() - started) * 1000, tally, ids)
        return response
    finally:
        _current.reset(token)
        log.thread_safe_clear_keys()


# --- what is recorded -----------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)  # a container serves few owners, over and over
def owner_hash(owner: str) -> str:
    """A stable pseudonym: the same owner always hashes alike, and the ``sub`` itself
    never reaches a log. Compute it for a user's ``sub`` to find their requests."""
    return hashlib.sha256(owner.encode("utf-8")).hexdigest()[:16]


def status_class(status: int) -> str:
    return f"{status // 100}xx"


@dataclass
class _Tally:
    """The DynamoDB calls of one request."""

    requests: int = 0
    measured: bool = False  # DynamoDB reported consumed capacity (asked when metrics are on)
    read_units: float = 0.0
    write_units: float = 0.0


_current: contextvars.ContextVar[_Tally | None] = contextvars.ContextVar(
    "task_api_dynamodb_tally", default=None
)


def _record(
    event: Request, response: Response, latency_ms: float, tally: _Tally, ids: http.RequestIds
) -> None:
    """The log line, the metrics and the trace annotations. A failure here is logged and
    never changes the response: the request itself has already happened."""
    route, method, status = event.path, event.method, response.status_code
    try:
        owner = http.caller(event)
        fields: dict[str, Any] = {
            "method": method,
            "route": route,
            "status": status,
            "latency_ms": round(latency_ms, 1),
            "owner_hash": owner_hash(owner) if owner else None,
        }
        if tally.requests:
            fields["dynamodb"] = {"requests": tally.requests}
            if tally.measured:
                fields["dynamodb"] |= {
                    "read_units": tally.read_units,
                    "write_units": tally.write_units,
                }
        write = logger().error if status >= 500 else logger().info
        write(f"{method} {route} {status}", extra=fields)
        _publish(route, method, status, latency_ms, tally, event.lambda_context)
        _annotate(route, method, status, ids.correlation)
    except Exception:
        _log.exception("Could not record the request's telemetry")


def _publish(
    route: str, method: str, status: int, latency_ms: float, tally: _Tally, context: Any
) -> None:
    """Two EMF documents, written at once: the request (by route, method and status class;
    by status class alone for the alarms; and, on a published version, by version and
    status class for a canary's alarms), and its DynamoDB cost (by route and method). The
    first request of a container adds Powertools' ColdStart document.

    Nothing is written when the stage disables metrics (Powertools' own switch).
    """
    if is_metrics_disabled():
        return
    namespace = os.environ.get(NAMESPACE_ENV) or SERVICE
    if context is not None and cold_start.is_cold_start:
        cold_start.is_cold_start = False
        EphemeralMetrics(service=SERVICE, namespace=namespace).add_cold_start_metric(context)
    timestamp_ms = int(time.time() * 1000)
    by_class = {SERVICE_DIMENSION: SERVICE, STATUS_CLASS: status_class(status)}
    dimensions = {ROUTE: route, METHOD: method, **by_class}
    sets = [[ROUTE, METHOD, STATUS_CLASS, SERVICE_DIMENSION], [SERVICE_DIMENSION, STATUS_CLASS]]
    version = os.environ.get(FUNCTION_VERSION_ENV, "")
    if version.isdigit():
        dimensions[FUNCTION_VERSION] = version
        sets.append([SERVICE_DIMENSION, FUNCTION_VERSION, STATUS_CLASS])
    request = [
        emf.Metric(REQUESTS, emf.COUNT, 1),
        emf.Metric(LATENCY, emf.MILLISECONDS, round(latency_ms, 2)),
    ]
    lines = [emf.document(namespace, sets, dimensions, request, timestamp_ms)]
    if tally.requests:
        cost = [
            emf.Metric(DYNAMODB_REQUESTS, emf.COUNT, tally.requests),
            emf.Metric(CONSUMED_READ_CAPACITY, emf.COUNT, tally.read_units),
            emf.Metric(CONSUMED_WRITE_CAPACITY, emf.COUNT, tally.write_units),
        ]
        by_route = {ROUTE: route, METHOD: method, SERVICE_DIMENSION: SERVICE}
        lines.append(
            emf.document(
                namespace, [[ROUTE, METHOD, SERVICE_DIMENSION]], by_route, cost, timestamp_ms
            )
        )
    sys.stdout.write("\n".join(lines) + "\n")  # one write: one syscall where unbuffered


def _annotate(route: str, method: str, status: int, correlation_id: str) -> None:
    """Searchable X-Ray annotations: find a request's trace by its X-Request-Id."""
    active = tracer()
    if active is None:
        return
    active.put_annotation(key="RequestId", value=correlation_id)
    active.put_annotation(key="Route", value=f"{method} {route}")
    active.put_annotation(key="Status", value=status)


# --- DynamoDB cost, counted on the client ---------------------------------------------------


def observe_dynamodb(client: Any) -> None:
    """Count each DynamoDB call of the request and, when the stage records metrics, ask
    DynamoDB for its consumed capacity and add it to the request's tally.

    A botocore event hook, so the store stays as it is, and one place counts every request
    the API sends. ``ReturnConsumedCapacity`` is free on DynamoDB; moto, the embedded
    emulator of the local stage (metrics off), is slow to compute it (a list walk in the
    tests took twice as long), so it is asked for only where it is recorded.
    """
    events = client.meta.events
    events.register("provide-client-params.dynamodb.*", _ask_for_capacity)
    events.register("after-call.dynamodb.*", _count_call)
    events.register("after-call-error.dynamodb.*", _count_failed_call)


def _ask_for_capacity(params: dict[str, Any], model: Any, **_: Any) -> None:
    """Only inside a request (that is what records it) and where metrics are on."""
    recorded = _current.get() is not None and not is_metrics_disabled()
    if recorded and (model.name in _READS or model.name in _WRITES):
        params.setdefault("ReturnConsumedCapacity", "TOTAL")


def _count_call(model: Any, parsed: dict[str, Any], **_: Any) -> None:
    tally = _current.get()
    if tally is None or model.name not in _READS | _WRITES:
        return
    consumed = parsed.get("ConsumedCapacity") or []
    tally.measured = tally.measured or "ConsumedCapacity" in parsed
    units = sum(
        float(entry.get("CapacityUnits") or 0)
        for entry in (consumed if isinstance(consumed, list) else [consumed])
    )
    tally.requests += 1
    if model.name in _READS:
        tally.read_units += units
    else:
        tally.write_units += units
    status = parsed.get("ResponseMetadata", {}).get("HTTPStatusCode")
    _log.debug("DynamoDB %s", model.name, extra={"capacity_units": units, "http_status": status})


def _count_failed_call(exception: Exception, event_name: str, **_: Any) -> None:
    """A call that got no response (time-out, connection refused) was still sent."""
    operation = event_name.rsplit(".", 1)[-1]
    tally = _current.get()
    if tally is not None and operation in _READS | _WRITES:
        tally.requests += 1
        _log.debug("DynamoDB %s failed", operation, extra={"error": type(exception).__name__})
