"""Composition root: what every resource's service is built from, once per container.

``Shared`` is the stage's DynamoDB client, table, cursor codec and clock; each resource
builds its service from it with ``per_container``. Settings are read on first use, not at
import: ``chalice.test.Client`` sets a stage's environment variables only while a request
runs. Stores never learn where they run; only this module decides which DynamoDB
endpoint they talk to.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import boto3
from botocore.config import Config

from chalicelib import telemetry
from chalicelib.core.clock import Clock, utc_now
from chalicelib.core.cursor import CursorCodec
from chalicelib.core.dynamo import translating_errors
from chalicelib.secrets import SecretsManagerSecrets, parse_secrets
from chalicelib.table import ensure_table

log = logging.getLogger("task-api.runtime")

_DEFAULT_REGION = "us-east-1"
_TRUE = {"1", "true", "yes", "on"}

#: Every AWS call is bounded, so that a request ends well before API Gateway's 29-second
#: integration limit even when DynamoDB throttles or cannot be reached. botocore's
#: "standard" retry mode retries throttling, transient errors and connection failures
#: with jittered backoff: at most 1 s before the 2nd attempt, 2 s before the 3rd.
DYNAMODB_ATTEMPTS = 3
SECRETS_ATTEMPTS = 2
CONNECT_TIMEOUT_SECONDS = 1.0
READ_TIMEOUT_SECONDS = 2.0


def aws_config(attempts: int) -> Config:
    return Config(
        retries={"mode": "standard", "total_max_attempts": attempts},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
    )


@dataclass(frozen=True)
class Settings:
    """What a stage configures, through environment variables (docs/deploying/configuration.md)."""

    table_name: str
    endpoint_url: str | None
    region: str
    auto_provision: bool
    cursor_secrets: tuple[bytes, ...] = ()
    cursor_secret_arn: str | None = None

    @classmethod
    def from_environ(cls, environ: Any = None) -> Settings:
        environ = os.environ if environ is None else environ  # Chalice's test client swaps it
        table_name = environ.get("TASKS_TABLE_NAME", "").strip()
        if not table_name:
            raise RuntimeError("TASKS_TABLE_NAME is not set for this stage")
        return cls(
            table_name=table_name,
            endpoint_url=environ.get("DYNAMODB_ENDPOINT_URL")
            or environ.get("AWS_ENDPOINT_URL_DYNAMODB")
            or environ.get("AWS_ENDPOINT_URL")
            or None,
            region=environ.get("AWS_REGION")
            or environ.get("AWS_DEFAULT_REGION")
            or _DEFAULT_REGION,
            auto_provision=environ.get("TASKS_AUTO_PROVISION", "").lower() in _TRUE,
            cursor_secrets=parse_secrets(environ.get("TASKS_CURSOR_SECRETS", "")),
            cursor_secret_arn=environ.get("TASKS_CURSOR_SECRET_ARN", "").strip() or None,
        )


@dataclass(frozen=True)
class Shared:
    """What every resource's service is built from."""

    client: Any
    table_name: str
    cursors: CursorCodec
    clock: Clock


Service = TypeVar("Service")
_lock = threading.Lock()
_shared: Shared | None = None
_services: dict[Callable[..., Any], Any] = {}
_embedded: EmbeddedEngine | None = None
#: The clock services are built with; tests and benchmarks set their own (``use_clock``).
_clock: Clock = utc_now


class EmbeddedEngine(Protocol):
    """An in-process DynamoDB for development stages with no endpoint (devserver.embedded)."""

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def adapt(self, client: Any) -> None: ...


#: Registered by development code only (devserver, under chalice local and the tests):
#: what Lambda runs has none, so it can never serve from an emulator.
_embedded_engine: Callable[[], EmbeddedEngine] | None = None
#: Called once a development stage's client is built, with it and a way to build other
#: clients alike; returns how to stop what it started (devserver's stream poller).
DevelopmentHook = Callable[[Shared, Callable[[str, Config], Any]], Callable[[], None]]
_development_hooks: list[DevelopmentHook] = []
_stops: list[Callable[[], None]] = []


def register_development_hook(hook: DevelopmentHook) -> None:
    if hook not in _development_hooks:
        _development_hooks.append(hook)


#: What must run before stored data derived from the change stream is read: the local
#: stream poller catching up, in development stages; nothing in Lambda, where the stream's
#: own consumer runs apart.
_catch_ups: list[Callable[[], object]] = []


def add_catch_up(catch_up: Callable[[], object]) -> Callable[[], None]:
    """Register ``catch_up``; returns how to remove it."""
    _catch_ups.append(catch_up)
    return lambda: _catch_ups.remove(catch_up) if catch_up in _catch_ups else None


def catch_up() -> None:
    """Let what the change stream feeds catch up, where something here feeds it."""
    for step in list(_catch_ups):
        step()


def register_embedded_engine(factory: Callable[[], EmbeddedEngine]) -> None:
    global _embedded_engine
    _embedded_engine = factory


def _start_embedded_engine() -> None:
    global _embedded
    if _embedded_engine is None:
        raise RuntimeError(
            "TASKS_AUTO_PROVISION without DYNAMODB_ENDPOINT_URL needs the embedded engine, "
            "which only chalice local and the tests register (devserver.embedded)"
        )
    _embedded = _embedded_engine()
    _embedded.start()


def shared() -> Shared:
    """The container's client, table, cursors and clock, built on first use."""
    global _shared
    if _shared is None:
        with _lock:
            if _shared is None:
                _shared = _build(Settings.from_environ())
    return _shared


def prime() -> None:
    """Build the container's client and Tracer during Lambda's init phase, where AWS advises
    SDK clients be made (and where an environment Lambda starts ahead of demand pays for
    them before any request waits), instead of on the first request. A failure is logged
    and left for the first request to meet again, as a problem document."""
    try:
        shared()
        telemetry.tracer()
    except Exception:
        log.exception("Could not prepare the container at init; the first request will retry")


def per_container(build: Callable[[Shared], Service]) -> Callable[[], Service]:
    """``build``, called once per container (after a ``reset``, once again): how each
    resource makes its one service from what they share."""

    @functools.wraps(build)
    def service() -> Service:
        built: Service | None = _services.get(build)
        if built is None:
            ready = shared()
            with _lock:
                built = _services.setdefault(build, build(ready))
        return built

    return service


def use_clock(clock: Clock | None) -> None:
    """Build services with ``clock`` from now on (None: the real one): the seam tests and
    benchmarks move time with. Services already built keep theirs until ``reset``."""
    global _clock
    _clock = clock or utc_now


def reset() -> None:
    """Forget the services and stop the embedded emulator (tests, between cases)."""
    global _shared, _embedded
    with _lock:  # what the hooks started stops first, outside the lock: it may be using it
        stops = [_stops.pop() for _ in range(len(_stops))]
    for stop in stops:
        stop()
    with _lock:
        _shared = None
        _services.clear()
        if _embedded is not None:
            _embedded.stop()
            _embedded = None


def _build(settings: Settings) -> Shared:
    if settings.auto_provision and os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        raise RuntimeError("TASKS_AUTO_PROVISION is for development stages, not for Lambda")
    if settings.auto_provision and settings.endpoint_url is None:
        _start_embedded_engine()
    session = boto3.session.Session(region_name=settings.region)
    credentials: dict[str, str] = {}
    needs_credentials = settings.auto_provision and settings.endpoint_url is not None
    if needs_credentials and session.get_credentials() is None:
        # DynamoDB Local accepts any credentials; a new user should not need any.
        credentials = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
    client = dynamodb_client(session, settings.endpoint_url, credentials)
    telemetry.observe_dynamodb(client)
    if _embedded is not None:
        _embedded.adapt(client)
    if settings.auto_provision and _provision(client, settings.table_name):
        log.info("Created table %s from the table definition", settings.table_name)
    codec = _cursor_codec(settings, session)
    shared = Shared(client, settings.table_name, codec, _clock)
    if settings.auto_provision:  # development stages only: Lambda registers no hook anyway

        def client_for(service: str, config: Config) -> Any:
            other = session.client(
                service,  # type: ignore[call-overload]
                endpoint_url=settings.endpoint_url,
                config=aws_config(DYNAMODB_ATTEMPTS).merge(config),
                aws_access_key_id=credentials.get("aws_access_key_id"),
                aws_secret_access_key=credentials.get("aws_secret_access_key"),
            )
            if _embedded is not None:
                _embedded.adapt(other)
            return other

        _stops.extend(hook(shared, client_for) for hook in _development_hooks)
    return shared


def _cursor_codec(settings: Settings, session: boto3.session.Session) -> CursorCodec:
    """Deployed stages name their secret in Secrets Manager (or, for a quick trial, set the
    value itself); a development stage that sets neither gets a random secret, so its
    cursors last as long as the process."""
    if settings.cursor_secrets:
        return CursorCodec(list(settings.cursor_secrets))
    if settings.cursor_secret_arn:
        secrets = SecretsManagerSecrets(
            lambda: session.client("secretsmanager", config=aws_config(SECRETS_ATTEMPTS)),
            settings.cursor_secret_arn,
        )
        return CursorCodec(secrets)
    if not settings.auto_provision:
        raise RuntimeError(
            "Neither TASKS_CURSOR_SECRET_ARN nor TASKS_CURSOR_SECRETS is set for this stage"
        )
    return CursorCodec([os.urandom(32)])


@translating_errors
def _provision(client: Any, table_name: str) -> bool:
    """Development stages create their table on first use (DynamoDB Local may be down)."""
    return ensure_table(client, table_name)


def dynamodb_client(
    session: boto3.session.Session, endpoint_url: str | None, credentials: dict[str, str]
) -> Any:
    """The one DynamoDB client of the container (tests wrap it to inject faults)."""
    return session.client(
        "dynamodb",
        endpoint_url=endpoint_url,
        config=aws_config(DYNAMODB_ATTEMPTS),
        aws_access_key_id=credentials.get("aws_access_key_id"),
        aws_secret_access_key=credentials.get("aws_secret_access_key"),
    )
