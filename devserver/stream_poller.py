"""The table's change stream, read locally: what Lambda's event source mapping does when
deployed, for ``make run``, ``chalice local`` and the tests (``chalice local`` runs no event
handlers).

A development stage's runtime calls ``started`` once it has built its DynamoDB client. The
poller reads every shard of the table's stream (moto's, or DynamoDB Local's) and hands the
records, in the shape Lambda delivers, to the same handler Lambda calls
(``chalicelib.activity.routes.record_activity``). As the deployed mapping does, it retries
a batch from the first record the handler reports as failed, a bounded number of times, and
then sets that record aside (``failed``, the local failure destination) so that the records
behind it go on.

``TASKS_STREAM_POLLING``: ``thread`` (the default) polls about twice a second in the
background, and also before each read of the history (``runtime.catch_up``), so that what
a client just did is there; ``manual`` (the tests in process) polls only when ``drain()`` is
called, so that a test decides when the history is written and counts only its own
requests.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from botocore.config import Config

from chalicelib import runtime

log = logging.getLogger("task-api.stream")

POLLING_VARIABLE = "TASKS_STREAM_POLLING"
INTERVAL_SECONDS = 0.5
#: As the deployed mapping's MaximumRetryAttempts: then the record is set aside.
MAX_ATTEMPTS = 3
#: On moto, how many records before the last one fed a drain reads again (see _drain_shard).
RESCAN_WINDOW = 200
Handler = Callable[[dict[str, Any], Any], Any]

_active: StreamPoller | None = None


class StreamPoller:
    """Reads one table's stream from its start and feeds ``handler``."""

    def __init__(
        self, streams: Any, stream_arn: str, handler: Handler, batch_size: int, rescan: bool = False
    ) -> None:
        self._streams = streams
        self._arn = stream_arn
        self._handler = handler
        self._batch_size = batch_size
        #: The sequence number of the last record fed, per shard; with ``rescan``, the ids of
        #: every record fed.
        self._last: dict[str, str] = {}
        self._rescan = rescan
        self._fed: set[str] = set()
        self._first: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Records the handler failed on every attempt: the local failure destination.
        self.failed: list[dict[str, Any]] = []

    def drain(self) -> int:
        """Feed every record written so far; returns how many were read."""
        with self._lock:
            read = 0
            for shard in self._shards():
                read += self._drain_shard(shard)
            return read

    def _shards(self) -> list[str]:
        description = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]
        return [shard["ShardId"] for shard in description.get("Shards", [])]

    def _drain_shard(self, shard: str) -> int:
        """Each drain asks for a new iterator after the last record fed. On moto
        (``rescan``) it starts ``RESCAN_WINDOW`` records earlier and skips the records
        already fed: moto binds an iterator to the table's state, which a cancelled
        transaction replaces with a copy taken before it, whose stream numbers its next
        records again from where the copy ends (at most a transaction's 100 writes back)."""
        last = self._last.get(shard)
        if last is None:
            position: dict[str, str] = {"ShardIteratorType": "TRIM_HORIZON"}
        elif self._rescan:
            since = max(int(last) - RESCAN_WINDOW, self._first.get(shard, 0))
            position = {"ShardIteratorType": "AT_SEQUENCE_NUMBER", "SequenceNumber": str(since)}
        else:
            position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": last}
        iterator: str | None = self._streams.get_shard_iterator(
            StreamArn=self._arn, ShardId=shard, **position
        )["ShardIterator"]
        read = 0
        while iterator is not None:
            response = self._streams.get_records(ShardIterator=iterator, Limit=self._batch_size)
            iterator = response.get("NextShardIterator")
            if not response["Records"]:
                break
            self._first.setdefault(shard, int(response["Records"][0]["dynamodb"]["SequenceNumber"]))
            records = [
                self._as_lambda_delivers(record)
                for record in response["Records"]
                if record["eventID"] not in self._fed
            ]
            if records:
                read += len(records)
                self._deliver(records)
                if self._rescan:
                    self._fed.update(record["eventID"] for record in records)
            self._last[shard] = response["Records"][-1]["dynamodb"]["SequenceNumber"]
        return read

    def _as_lambda_delivers(self, record: dict[str, Any]) -> dict[str, Any]:
        stream = dict(record["dynamodb"])
        moment = stream.get("ApproximateCreationDateTime")
        if isinstance(moment, dt.datetime):
            stream["ApproximateCreationDateTime"] = moment.timestamp()
        return {**record, "dynamodb": stream, "eventSourceARN": self._arn}

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        attempts = 0
        while records:
            failed_at = self._first_failure(records)
            if failed_at is None:
                return
            # The records before it were processed; this was its first attempt, or one more.
            attempts = 1 if failed_at > 0 else attempts + 1
            records = records[failed_at:]
            if attempts >= MAX_ATTEMPTS:
                sequence = records[0]["dynamodb"]["SequenceNumber"]
                log.error("Set aside stream record %s after %d attempts", sequence, attempts)
                self.failed.append(records[0])
                records, attempts = records[1:], 0

    def _first_failure(self, records: list[dict[str, Any]]) -> int | None:
        """Where in ``records`` the handler's partial batch response says to resume."""
        response = self._handler({"Records": records}, None) or {}
        failures = [f["itemIdentifier"] for f in response.get("batchItemFailures", [])]
        if not failures:
            return None
        sequences = [record["dynamodb"]["SequenceNumber"] for record in records]
        return min((sequences.index(f) for f in failures if f in sequences), default=0)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="stream-poller", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(INTERVAL_SECONDS):
            try:
                self.drain()
            except Exception:  # a poll that fails is tried again; the server keeps serving
                log.exception("Could not read the table's stream")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def started(shared: runtime.Shared, client_for: Callable[[str, Config], Any]) -> Callable[[], None]:
    """Start polling the table ``shared`` serves; returns how to stop."""
    global _active
    from chalicelib.activity import routes  # the handler Lambda calls

    description = shared.client.describe_table(TableName=shared.table_name)["Table"]
    # Streams clients address an account-specific endpoint for an ARN, which neither moto
    # nor DynamoDB Local answers: keep the service's own endpoint.
    streams = client_for("dynamodbstreams", Config(account_id_endpoint_mode="disabled"))
    embedded = "amazonaws.com" in shared.client.meta.endpoint_url  # moto answers AWS's names
    poller = StreamPoller(
        streams,
        description["LatestStreamArn"],
        routes.record_activity,
        routes.STREAM_BATCH_SIZE,
        rescan=embedded,
    )
    _active = poller
    remove_catch_up: Callable[[], None] = lambda: None  # noqa: E731
    if os.environ.get(POLLING_VARIABLE, "thread") != "manual":
        poller.start()
        # A read of the history first feeds what the stream holds: what a client just did
        # is in it, as it is within about a second when deployed.
        remove_catch_up = runtime.add_catch_up(poller.drain)

    def stop() -> None:
        global _active
        remove_catch_up()
        poller.stop()
        if _active is poller:
            _active = None

    return stop


def drain() -> int:
    """Feed the active poller's new records now (tests); 0 when none is active."""
    return _active.drain() if _active is not None else 0


def failed() -> list[dict[str, Any]]:
    """The records set aside by the active poller."""
    return list(_active.failed) if _active is not None else []


def install() -> None:
    runtime.register_development_hook(started)
