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
from devserver import patches


class EmbeddedDynamoDB:
    """moto's in-memory DynamoDB, started and stopped by the runtime."""

    def __init__(self) -> None:
        self._mock: Any = None
        self._lock = threading.Lock()  # one for every client: the stream poller's too

    def start(self) -> None:
        from moto import mock_aws  # imported only when a development stage needs it

        _cancelled_transactions_keep_their_tables()
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


def _cancelled_transactions_keep_their_tables() -> None:
    """DynamoDB writes nothing, and records nothing on the stream, for a cancelled
    transaction (a comment write whose check on the task fails: a stale If-Match, a task
    deleted meanwhile). moto 5 cancels by putting back a copy of each table taken before:
    the writes it applied stay on the stream of the table it drops, which the stream poller
    keeps reading, and every later write lands on the copy's stream, which the poller never
    reads, so the history stops. Instead, the live table takes the copy's items back and
    forgets the stream records of the attempt. (The requests are serialised; see ``adapt``.)"""
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items
    if getattr(original, "_task_api_patched", False):
        return
    patches.record_original(
        "moto.dynamodb.models", "DynamoDBBackend.transact_write_items", original
    )

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        live = dict(self.tables)
        streamed = {
            name: len(table.stream_shard.items)
            for name, table in live.items()
            if table.stream_shard is not None
        }
        try:
            original(self, transact_items)
        except Exception:
            for name, table in live.items():
                backup = self.tables.get(name)
                if backup is not None and backup is not table:
                    table.items = backup.items
                    self.tables[name] = table
                if name in streamed:
                    del table.stream_shard.items[streamed[name] :]
            raise

    transact_write_items._task_api_patched = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def install() -> None:
    runtime.register_embedded_engine(EmbeddedDynamoDB)
