"""The tasks table, defined once.

The local emulator, the tests and (later) the deploy tooling and the Terraform and
CloudFormation templates all create the table from ``TABLE_DEFINITION``; the store
takes its key and index names from the constants below.

Item layout (one item per task):

- ``pk``       = ``OWNER#<owner>``: every key starts with the owner, so no query can
  ever cross owners.
- ``sk``       = ``TASK#<id>``: single-item operations are one request on the primary key.
- ``listSk``   = ``<createdAt>#<id>``: sort key of both list indexes, so one Query per
  page returns tasks newest first with ties broken by id.
- ``statusPk`` = ``OWNER#<owner>#STATUS#<status>``: partition of the status index.
- ``expireAt`` = the DynamoDB TTL attribute.
- ``actor``    = who made the item's last write (the caller's ``sub``): the change stream
  carries it to the activity consumer, which learns from it who acted.

The table's stream carries every change, new and old images, to the one consumer that
writes the activity history (``chalicelib.activity``).
"""

from __future__ import annotations

from typing import Any

PARTITION_KEY = "pk"
SORT_KEY = "sk"
LIST_SORT_KEY = "listSk"
STATUS_PARTITION_KEY = "statusPk"
TTL_ATTRIBUTE = "expireAt"
ACTOR_ATTRIBUTE = "actor"

BY_CREATED_INDEX = "byCreated"
BY_STATUS_INDEX = "byStatus"


def _key(partition: str, sort: str) -> list[dict[str, str]]:
    return [
        {"AttributeName": partition, "KeyType": "HASH"},
        {"AttributeName": sort, "KeyType": "RANGE"},
    ]


TABLE_DEFINITION: dict[str, Any] = {
    "AttributeDefinitions": [
        {"AttributeName": name, "AttributeType": "S"}
        for name in (PARTITION_KEY, SORT_KEY, LIST_SORT_KEY, STATUS_PARTITION_KEY)
    ],
    "KeySchema": _key(PARTITION_KEY, SORT_KEY),
    "GlobalSecondaryIndexes": [
        {
            "IndexName": BY_CREATED_INDEX,
            "KeySchema": _key(PARTITION_KEY, LIST_SORT_KEY),
            "Projection": {"ProjectionType": "ALL"},
        },
        {
            "IndexName": BY_STATUS_INDEX,
            "KeySchema": _key(STATUS_PARTITION_KEY, LIST_SORT_KEY),
            "Projection": {"ProjectionType": "ALL"},
        },
    ],
    "BillingMode": "PAY_PER_REQUEST",
    "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
}


def create_table(client: Any, table_name: str) -> None:
    """Create the table from the definition, wait until it is active and enable TTL."""
    client.create_table(TableName=table_name, **TABLE_DEFINITION)
    client.get_waiter("table_exists").wait(
        TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )


def ensure_table(client: Any, table_name: str) -> bool:
    """Create the table unless it exists. Returns True when it was created.

    Only development stages call this; deployed stages use the table their
    infrastructure created.
    """
    try:
        client.describe_table(TableName=table_name)
        return False
    except client.exceptions.ResourceNotFoundException:
        pass
    try:
        create_table(client, table_name)
    except client.exceptions.ResourceInUseException:
        return False  # created concurrently by another process
    return True
