"""``infra.redrive``: what the consumer gave up on goes back to it, read again from the
stream, in the shape Lambda gives it; on moto (the table's stream, the failure queue), with a
stand-in for the consumer's function (moto cannot run one without Docker)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from chalice.app import DynamoDBEvent
from moto import mock_aws

from chalicelib.table import TABLE_DEFINITION
from infra import redrive
from infra.stages import stage

DEV = stage("dev")


class Consumer:
    """The consumer's function as ``lambda.invoke`` reaches it: records each payload and
    answers with ``result``."""

    def __init__(self, result: Any = None, function_error: bool = False) -> None:
        self.result = {"batchItemFailures": []} if result is None else result
        self.function_error = function_error
        self.events: list[dict[str, Any]] = []

    def invoke(self, FunctionName: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803
        assert FunctionName == DEV.consumer_function_name == "task-api-dev-record_activity"
        self.events.append(json.loads(Payload))
        response: dict[str, Any] = {
            "StatusCode": 200,
            "Payload": io.BytesIO(json.dumps(self.result).encode()),
        }
        if self.function_error:
            response["FunctionError"] = "Unhandled"
        return response


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    """The dev table with its stream, three writes on it, and the failure queue."""
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        table = dynamodb.create_table(TableName=DEV.table_name, **TABLE_DEFINITION)
        stream_arn = table["TableDescription"]["LatestStreamArn"]
        for n in range(3):
            item = {"pk": {"S": "OWNER#o"}, "sk": {"S": f"TASK#{n}"}}
            dynamodb.put_item(TableName=DEV.table_name, Item=item)
        # An ARN sends a streams client to an account's own endpoint, which moto does not
        # answer: the service's endpoint, as the local poller uses.
        streams = boto3.client(
            "dynamodbstreams",
            region_name="us-east-1",
            config=Config(account_id_endpoint_mode="disabled"),
        )
        (shard,) = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = streams.get_records(ShardIterator=iterator)["Records"]
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue_url = sqs.create_queue(QueueName=DEV.failure_queue_name)["QueueUrl"]
        yield {
            "sqs": sqs,
            "streams": streams,
            "queue_url": queue_url,
            "stream_arn": stream_arn,
            "shard_id": shard["ShardId"],
            "sequence_numbers": [r["dynamodb"]["SequenceNumber"] for r in records],
        }


def _give_up(aws: dict[str, Any], first: int, last: int) -> None:
    """What the mapping sends when it gives up on records first..last of the shard."""
    numbers = aws["sequence_numbers"]
    body = {
        "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 6},
        "version": "1.0",
        "DDBStreamBatchInfo": {
            "shardId": aws["shard_id"],
            "startSequenceNumber": numbers[first],
            "endSequenceNumber": numbers[last],
            "batchSize": last - first + 1,
            "streamArn": aws["stream_arn"],
        },
    }
    aws["sqs"].send_message(QueueUrl=aws["queue_url"], MessageBody=json.dumps(body))


def _left(aws: dict[str, Any]) -> int:
    attributes = aws["sqs"].get_queue_attributes(
        QueueUrl=aws["queue_url"], AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_a_batch_goes_back_to_the_consumer_as_lambda_shapes_it(aws: dict[str, Any]) -> None:
    assert len(aws["sequence_numbers"]) == 3
    _give_up(aws, 1, 2)
    consumer = Consumer()
    outcome = redrive.redrive(aws["sqs"], aws["streams"], consumer, DEV)
    assert len(outcome.redriven) == 1
    assert outcome.kept == []
    (event,) = consumer.events
    numbers = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
    assert numbers == aws["sequence_numbers"][1:3], "exactly the batch, in order"
    # What Chalice's handler reads: every record parses, on the table's stream.
    records = list(DynamoDBEvent(event, context=None))
    assert [r.table_name for r in records] == [DEV.table_name] * 2
    assert all(r.event_source_arn == aws["stream_arn"] for r in records)
    assert all(isinstance(r.timestamp.year, int) for r in records)
    assert [r.keys["sk"]["S"] for r in records] == ["TASK#1", "TASK#2"]
    assert _left(aws) == 0, "deleted once the consumer took it"


@pytest.mark.parametrize(
    ("consumer", "why"),
    [
        (Consumer({"batchItemFailures": [{"itemIdentifier": "1"}]}), "failed again"),
        (Consumer({"errorMessage": "boom"}, function_error=True), "the consumer failed"),
    ],
)
def test_a_batch_that_fails_again_stays(aws: dict[str, Any], consumer: Consumer, why: str) -> None:
    _give_up(aws, 0, 0)
    outcome = redrive.redrive(aws["sqs"], aws["streams"], consumer, DEV)
    assert outcome.redriven == []
    ((_, reason),) = outcome.kept
    assert reason.startswith(why)
    assert len(consumer.events) == 1


class TrimmedStream:
    def get_shard_iterator(self, **_: Any) -> dict[str, Any]:
        error = {"Error": {"Code": "TrimmedDataAccessException", "Message": "trimmed"}}
        raise ClientError(error, "GetShardIterator")


def test_a_batch_past_the_stream_s_24_hours_stays(aws: dict[str, Any]) -> None:
    _give_up(aws, 0, 2)
    consumer = Consumer()
    outcome = redrive.redrive(aws["sqs"], TrimmedStream(), consumer, DEV)
    assert [why for _, why in outcome.kept] == ["its records have left the stream"]
    assert consumer.events == []


def test_a_batch_the_stream_holds_only_part_of_stays(aws: dict[str, Any]) -> None:
    """A last sequence number the shard never reaches: nothing is invoked on half a batch."""
    _give_up(aws, 0, 2)
    consumer = Consumer()
    shorter = aws["streams"]
    real = shorter.get_records

    def without_the_last(**kwargs: Any) -> dict[str, Any]:
        page = real(**kwargs)
        return {**page, "Records": page["Records"][:2], "NextShardIterator": None}

    shorter.get_records = without_the_last
    outcome = redrive.redrive(aws["sqs"], shorter, consumer, DEV)
    assert [why for _, why in outcome.kept] == ["the stream no longer holds all of it"]
    assert consumer.events == []


def test_a_message_that_is_no_stream_batch_stays(aws: dict[str, Any]) -> None:
    _give_up(aws, 0, 0)
    aws["sqs"].send_message(QueueUrl=aws["queue_url"], MessageBody=json.dumps({"other": 1}))
    outcome = redrive.redrive(aws["sqs"], aws["streams"], Consumer(), DEV)
    assert len(outcome.redriven) == 1
    assert [why for _, why in outcome.kept] == ["not a stream batch"]


def test_main_exits_1_while_anything_stays(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _give_up(aws, 0, 0)
    clients = {"sqs": aws["sqs"], "dynamodbstreams": aws["streams"], "lambda": Consumer()}
    monkeypatch.setattr(redrive.boto3, "client", lambda service: clients[service])
    assert redrive.main(["--stage", "dev"]) == 0
    assert "1 redriven, 0 kept" in capsys.readouterr().out
    aws["sqs"].send_message(QueueUrl=aws["queue_url"], MessageBody=json.dumps({"other": 1}))
    assert redrive.main(["--stage", "dev"]) == 1
    assert "not a stream batch" in capsys.readouterr().err
