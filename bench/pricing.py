"""AWS's published prices for one region, and how Lambda turns a run into a bill.

Every dollar figure in ``bench.cost`` comes from here, so a price change is one edit. Each
price says where it was read and when. First tier only: this API is far below the volumes
(billions of GB-seconds, hundreds of millions of API calls a month) where the tiers start.
Free tiers are left out: they end (API Gateway's after 12 months) and are shared by every
function of the account, so they say nothing about this API's own cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

#: The one region the prices are for: US East (N. Virginia).
REGION = "us-east-1"

Architecture = Literal["x86_64", "arm64"]
ARCHITECTURES: tuple[Architecture, ...] = ("x86_64", "arm64")


@dataclass(frozen=True)
class Price:
    """Dollars per ``unit``, as published for ``REGION``, with its provenance."""

    usd: float
    unit: str
    source: str
    read_on: str  # ISO date the figure was read
    note: str = ""


#: The date the figures below were read (each from the stored copy of its page).
READ_ON = "2026-12-01"

# --- Lambda ----------------------------------------------------------------------------------

_LAMBDA_PRICING = "https://aws.amazon.com/lambda/pricing/"

#: Per million requests, either architecture. AWS's own words: "$0.20 per 1 million
#: requests" in How AWS Pricing Works (Lambda) and in the pricing page's worked examples.
LAMBDA_REQUESTS = Price(
    0.20,
    "per million requests",
    "https://docs.aws.amazon.com/whitepapers/latest/how-aws-pricing-works/lambda.html",
    READ_ON,
    note=f"also the worked examples of {_LAMBDA_PRICING}",
)

#: Per GB-second of duration, first tier (the first 6 billion GB-s a month on x86_64, the
#: first 7.5 billion on arm64). The pricing page renders its rate table in the browser, so
#: its stored text holds no figure; AWS's whitepaper rounds x86_64 to $0.00001667. The
#: exact figures are the ones third parties copy from that table (cloudchipr.com's Lambda
#: pricing guide; Artillery's lib/platform/aws-lambda/prices.js: 1666670 and 1333340 x 1e-11).
LAMBDA_GB_SECOND: dict[Architecture, Price] = {
    "x86_64": Price(
        0.0000166667,
        "per GB-second",
        _LAMBDA_PRICING,
        READ_ON,
        note="AWS's text rounds it to $0.00001667 (how-aws-pricing-works/lambda.html)",
    ),
    "arm64": Price(
        0.0000133334,
        "per GB-second",
        _LAMBDA_PRICING,
        READ_ON,
        note="not in AWS's stored text: from https://cloudchipr.com/blog/aws-lambda-pricing",
    ),
}

#: Duration is "rounded up to the nearest 1 ms" (the pricing page and the whitepaper above).
BILLING_GRANULARITY_MS = 1
#: Lambda's memory setting is in MB; the price is per GB of it (512 MB is 0.5 GB: AWS's
#: worked example "3,000,000 * 512MB/1024").
MB_PER_GB = 1024

#: Since August 1, 2025 the INIT phase (importing the app, on a cold start) is billed for
#: on-demand functions packaged as ZIP on managed runtimes, as this API is, at the same rate
#: as the invoke. Before, only their invoke was billed.
INIT_BILLED = True
INIT_BILLING_SOURCE = (
    "https://aws.amazon.com/blogs/compute/aws-lambda-standardizes-billing-for-init-phase/"
)

# --- API Gateway -----------------------------------------------------------------------------

#: REST APIs, per million requests, first tier (the first 333 million a month). Stages
#: created by ``chalice deploy`` and both package formats are REST APIs, not HTTP APIs.
API_GATEWAY_REST_REQUESTS = Price(
    3.50,
    "per million requests",
    "https://docs.aws.amazon.com/whitepapers/latest/"
    "best-practices-api-gateway-private-apis-integration/cost-optimization.html",
    READ_ON,
    note="https://aws.amazon.com/api-gateway/pricing/ renders its figures in the browser",
)

# --- DynamoDB --------------------------------------------------------------------------------

_DYNAMODB_CUT = (
    "https://aws.amazon.com/blogs/database/"
    "new-amazon-dynamodb-lowers-pricing-for-on-demand-throughput-and-global-tables/"
)
_DYNAMODB_NOTE = (
    "halved on November 1, 2024 (" + _DYNAMODB_CUT + "); AWS's pricing page renders its "
    "figures in the browser, so the figure is from airbyte.com's DynamoDB pricing guide "
    "(2025-07-21) and awslabs/fullstack-solution-template-for-agentcore PR 144 (merged), "
    "which checks it against AWS's Price List API"
)

#: On-demand, standard table class, per million read request units. A strongly consistent
#: read of up to 4 KB is 1 unit, an eventually consistent one half; the units are what
#: ``ReturnConsumedCapacity`` reports, which ``bench.meter`` records.
DYNAMODB_READ_REQUEST_UNITS = Price(
    0.125,
    "per million read request units",
    "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    READ_ON,
    note=_DYNAMODB_NOTE,
)
#: On-demand, standard table class, per million write request units (1 KB each, for the
#: table and for each index the item is in; twice that inside a transaction).
DYNAMODB_WRITE_REQUEST_UNITS = Price(
    0.625,
    "per million write request units",
    "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    READ_ON,
    note=_DYNAMODB_NOTE,
)


def billed_ms(duration_ms: float) -> int:
    """What Lambda bills for a measured duration: rounded up to the next whole ms (after
    rounding to a nanosecond, so that float noise such as 10.000000000000002 adds none)."""
    if duration_ms < 0:
        raise ValueError(f"a duration cannot be negative: {duration_ms}")
    steps = math.ceil(round(duration_ms / BILLING_GRANULARITY_MS, 9))
    return steps * BILLING_GRANULARITY_MS


def gigabytes(memory_mb: int) -> float:
    """Lambda's memory setting as the GB that its price is per."""
    return memory_mb / MB_PER_GB
