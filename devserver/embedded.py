"""The embedded DynamoDB of development stages: moto inside this process, for a stage with
``TASKS_AUTO_PROVISION`` and no ``DYNAMODB_ENDPOINT_URL`` (``make run``, the test client).

``install()`` registers it with ``chalicelib.runtime``, which starts it on first use and
stops it on reset. It is development-only (moto is not a runtime dependency), so it lives
here and never reaches Lambda; a deployed stage refuses auto-provisioning anyway.
"""

from __future__ import annotations

import threading
from typing import Any

from chalicelib import runtime


class EmbeddedDynamoDB:
    """moto's in-memory DynamoDB, started and stopped by the runtime."""

    def __init__(self) -> None:
        self._mock: Any = None
        self._lock = threading.Lock()  # one for every client: the stream poller's too

    def start(self) -> None:
        from moto import mock_aws  # imported only when a development stage needs it

        self._mock = mock_aws()
        self._mock.start()
        runtime.log.warning(
            "DYNAMODB_ENDPOINT_URL is not set: serving from an in-memory DynamoDB emulator "
            "(moto). Tasks are kept in memory and are gone when the server stops."
        )

    def stop(self) -> None:
        if self._mock is not None:
            self._mock.stop()
            self._mock = None

    def adapt(self, client: Any) -> None:
        """moto checks a condition and writes in separate steps, so two threads can both
        pass one If-Match; DynamoDB applies each request atomically. Serialising the
        embedded emulator's requests (chalice local serves on many threads) restores that
        guarantee. (Wraps botocore's private ``_make_api_call``: listed in patches.py, whose
        test fails if botocore's client no longer has it.)"""
        lock = self._lock
        make_api_call = client._make_api_call

        def atomic(operation: str, params: dict[str, Any]) -> Any:
            with lock:
                return make_api_call(operation, params)

        client._make_api_call = atomic


def install() -> None:
    runtime.register_embedded_engine(EmbeddedDynamoDB)
