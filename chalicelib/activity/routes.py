"""STAND-IN (branch infra-21): the shape the infrastructure relies on, nothing more.

The lead's ``chalicelib/activity`` replaces this package. What the packages,
``infra.support`` and the least-privilege test rely on: ``record_activity``, registered with
``on_dynamodb_record`` on ``STREAM_ARN`` (read from ``TASKS_STREAM_ARN`` at import, a
placeholder when unset) on the blueprint app.py registers; every DynamoDB call of the
consumer in ``writer.py``, and none in ``consumer.py``.
"""

from __future__ import annotations

import os
from typing import Any

from chalice.app import Blueprint, DynamoDBEvent

from chalicelib.activity import consumer

STREAM_ARN_VARIABLE = "TASKS_STREAM_ARN"
PLACEHOLDER_STREAM_ARN = (
    "arn:aws:dynamodb:us-east-1:000000000000:table/tasks-local/stream/1970-01-01T00:00:00.000"
)
STREAM_ARN = os.environ.get(STREAM_ARN_VARIABLE) or PLACEHOLDER_STREAM_ARN
STREAM_BATCH_SIZE = 100

blueprint = Blueprint(__name__)


@blueprint.on_dynamodb_record(
    stream_arn=STREAM_ARN, batch_size=STREAM_BATCH_SIZE, starting_position="TRIM_HORIZON"
)
def record_activity(event: DynamoDBEvent) -> dict[str, Any]:
    """Stand-in: reports no failures."""
    return consumer.batch_response([])
