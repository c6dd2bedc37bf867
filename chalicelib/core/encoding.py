"""JSON as the API writes it, and what a response weighs inside Lambda.

Chalice writes a dict body with ``json.dumps``' defaults, escaping every non-ASCII
character: an emoji becomes 12 bytes. The API writes UTF-8 instead (4 bytes on the wire).
Inside Lambda, though, the python3.11 runtime escapes non-ASCII again when it serialises
the function's result (awslambdaric keeps UTF-8 only from python3.12 on), and Lambda
refuses a result over 6 MB, which API Gateway turns into a 502. So list pages are
budgeted by that weight (``lambda_weight``), not by what the client receives.
"""

from __future__ import annotations

import json
from typing import Any

#: Lambda's limit on a synchronous invocation's result (6 MB).
LAMBDA_RESULT_LIMIT_BYTES = 6 * 1024 * 1024
#: A list page's records weigh at most this much in Lambda's result: far below the limit,
#: and at least seven of the largest valid tasks (about 135 KB each, written in emoji).
PAGE_BUDGET_BYTES = 1024 * 1024


def dumps(document: Any) -> str:
    """Compact JSON with UTF-8 characters as they are (no ``\\u`` escapes)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def lambda_weight(document: Any) -> int:
    """Bytes ``document`` adds to Lambda's result when it is part of a response body: the
    body is a JSON string in the result, written with non-ASCII escaped (python3.11)."""
    return len(json.dumps(dumps(document))) - 2  # without the string's own quotes
