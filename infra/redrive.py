"""``python -m infra.redrive --stage <stage>``: give the stream consumer again what it gave
up on (docs/operations/runbook.md).

The consumer's event source mapping sends to the failure queue where a failed batch lies in
the stream (``DDBStreamBatchInfo``: shard, first and last sequence number), not its
records. The stream keeps records 24 hours. For each message this reads the batch's records
again from the stream, invokes the consumer with them in the event shape Lambda gives it,
and deletes the message once the consumer reports no failure. The consumer is idempotent,
so a record it already wrote is written again, not twice. A message whose records have left
the stream, or that fails again, stays on the queue.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from infra.stages import DEPLOYED_STAGES, Stage, stage

#: What ``GetRecords`` returns past the stream's retention, or for a shard it has trimmed.
GONE = ("TrimmedDataAccessException", "ExpiredIteratorException", "ResourceNotFoundException")
#: Empty pages in a row after which a shard is taken to hold no more of a batch.
EMPTY_PAGES = 3
#: SQS's largest batch, and how long a received message stays hidden from other readers.
BATCH = 10
VISIBILITY_SECONDS = 300


@dataclass
class Outcome:
    redriven: list[str] = field(default_factory=list)  # message ids, deleted
    kept: list[tuple[str, str]] = field(default_factory=list)  # (message id, why)


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A ``GetRecords`` record as Lambda hands it to the function: the stream's ARN added,
    the creation time in epoch seconds (boto3 parses it into a datetime)."""
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if created is not None and not isinstance(created, int | float):
        dynamodb["ApproximateCreationDateTime"] = created.timestamp()
    return {**record, "dynamodb": dynamodb, "eventSourceARN": stream_arn}


def batch_records(streams: Any, batch: dict[str, Any]) -> list[dict[str, Any]]:
    """The records of a failed batch, read again from the stream: from its first sequence
    number through its last, or as far as the stream still holds them."""
    iterator = streams.get_shard_iterator(
        StreamArn=batch["streamArn"],
        ShardId=batch["shardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=batch["startSequenceNumber"],
    )["ShardIterator"]
    last = int(batch["endSequenceNumber"])
    records: list[dict[str, Any]] = []
    empty = 0
    while iterator and empty < EMPTY_PAGES:
        page = streams.get_records(ShardIterator=iterator)
        empty = 0 if page["Records"] else empty + 1
        for record in page["Records"]:
            number = int(record["dynamodb"]["SequenceNumber"])
            if number > last:
                return records
            records.append(lambda_record(record, batch["streamArn"]))
            if number == last:
                return records
        iterator = page.get("NextShardIterator")
    return records


def _complete(records: list[dict[str, Any]], batch: dict[str, Any]) -> bool:
    return bool(records) and records[-1]["dynamodb"]["SequenceNumber"] == batch["endSequenceNumber"]


def _messages(sqs: Any, queue_url: str, limit: int) -> Iterator[dict[str, Any]]:
    seen = 0
    while seen < limit:
        received = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(BATCH, limit - seen),
            VisibilityTimeout=VISIBILITY_SECONDS,
            WaitTimeSeconds=1,
        ).get("Messages", [])
        if not received:
            return
        seen += len(received)
        yield from received


def redrive(sqs: Any, streams: Any, lambda_client: Any, target: Stage, limit: int = 100) -> Outcome:
    """Up to ``limit`` messages of the stage's failure queue, each redriven or kept."""
    outcome = Outcome()
    queue_url = sqs.get_queue_url(QueueName=target.failure_queue_name)["QueueUrl"]
    for message in _messages(sqs, queue_url, limit):
        batch = json.loads(message["Body"]).get("DDBStreamBatchInfo")
        if batch is None:
            outcome.kept.append((message["MessageId"], "not a stream batch"))
            continue
        try:
            records = batch_records(streams, batch)
        except ClientError as error:
            if error.response["Error"]["Code"] not in GONE:
                raise
            outcome.kept.append((message["MessageId"], "its records have left the stream"))
            continue
        if not _complete(records, batch):
            outcome.kept.append((message["MessageId"], "the stream no longer holds all of it"))
            continue
        response = lambda_client.invoke(
            FunctionName=target.consumer_function_name,
            Payload=json.dumps({"Records": records}).encode(),
        )
        result = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            outcome.kept.append((message["MessageId"], f"the consumer failed: {result}"))
        elif isinstance(result, dict) and result.get("batchItemFailures"):
            outcome.kept.append((message["MessageId"], f"failed again: {result}"))
        else:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            outcome.redriven.append(message["MessageId"])
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True, choices=DEPLOYED_STAGES)
    parser.add_argument("--limit", type=int, default=100, help="messages to read at most")
    args = parser.parse_args(argv)
    outcome = redrive(
        boto3.client("sqs"),
        boto3.client("dynamodbstreams"),
        boto3.client("lambda"),
        stage(args.stage),
        args.limit,
    )
    for message_id in outcome.redriven:
        print(f"redriven {message_id}")
    for message_id, why in outcome.kept:
        print(f"kept     {message_id}: {why}", file=sys.stderr)
    print(f"{len(outcome.redriven)} redriven, {len(outcome.kept)} kept on the queue")
    return 1 if outcome.kept else 0


if __name__ == "__main__":
    sys.exit(main())
