"""The typical implementation of this API: a BASELINE for ``make bench``, never deployed.

This is the task API as public samples and tutorials usually write it: one Lambda
handler behind an API Gateway proxy integration (REST, v1 events), a boto3 Table
resource built at import, and one DynamoDB call per route. It is here ONLY so that
the benchmarks (``bench/baseline_cost.py``) can show the real API beside it. Its
flaws are deliberate, because they are the typical ones:

- the list is ONE Scan with no pagination: items past the first 1 MB are silently
  dropped, and the cost of every list grows with the whole table;
- a GetItem before every update and every delete (to answer 404), instead of one
  conditional write;
- no ownership: every caller sees, changes and deletes every task;
- no validation: bad input (a malformed body, a float) ends in a 500.

Do not fix them here, and do not import this module from the app.
"""

import json
import os
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import boto3

KEY = "id"
TABLE_DEFINITION = {
    "AttributeDefinitions": [{"AttributeName": KEY, "AttributeType": "S"}],
    "KeySchema": [{"AttributeName": KEY, "KeyType": "HASH"}],
    "BillingMode": "PAY_PER_REQUEST",
}


def create_table(client, name):
    """Create the baseline's table (``id`` hash key only) and wait until it is ACTIVE."""
    client.create_table(TableName=name, **TABLE_DEFINITION)
    client.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )


def configure(endpoint_url=None, table_name="tasks", credentials=None):
    """Replace the module-level table (the benchmark points it at DynamoDB Local)."""
    global table
    dynamodb = boto3.resource(
        "dynamodb",
        endpoint_url=endpoint_url,
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        **(credentials or {}),
    )
    table = dynamodb.Table(table_name)
    return table


def client():
    """The table's low-level client, for botocore event hooks."""
    return table.meta.client


ENDPOINT_URL = os.environ.get("DYNAMODB_ENDPOINT_URL")
TABLE_NAME = os.environ.get("BASELINE_TABLE", "tasks")
table = configure(ENDPOINT_URL, TABLE_NAME)


def _default(value):
    if isinstance(value, Decimal):
        return int(value) if value % 1 == 0 else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def respond(status, body=None):
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": "" if body is None else json.dumps(body, default=_default),
    }


def handler(event, context):
    method = event["httpMethod"]
    task_id = (event.get("pathParameters") or {}).get("id")
    now = datetime.now(UTC).isoformat()
    try:
        if task_id is None and method == "GET":
            return respond(200, {"items": table.scan()["Items"]})
        if task_id is None and method == "POST":
            item = {**json.loads(event["body"]), "id": str(uuid.uuid4()), "createdAt": now}
            table.put_item(Item=item)
            return respond(201, item)
        item = table.get_item(Key={"id": task_id}).get("Item")
        if item is None:
            return respond(404, {"message": "Task not found"})
        if method == "GET":
            return respond(200, item)
        if method in ("PUT", "PATCH"):
            item = {**item, **json.loads(event["body"]), "id": task_id, "updatedAt": now}
            table.put_item(Item=item)
            return respond(200, item)
        if method == "DELETE":
            table.delete_item(Key={"id": task_id})
            return respond(204)
        return respond(405, {"message": "Method not allowed"})
    except Exception as error:
        return respond(500, {"message": str(error)})
