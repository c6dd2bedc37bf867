"""Readable log lines for a terminal: the ``pretty`` log format of the local stage.

The same Powertools formatter builds the record, so both formats carry the same keys;
only the rendering differs. Deployed stages keep JSON, which CloudWatch Logs Insights
queries by field.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

#: Keys the line shows in its own way, or that say nothing on a developer's machine.
_OMITTED = frozenset(
    {
        "level",
        "message",
        "timestamp",
        "service",
        "sampling_rate",
        "location",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "exception",
        "exception_name",
        "exception_notes",
        "stack_trace",
        "xray_trace_id",
        # the request line's message already reads "GET /tasks 200"
        "method",
        "route",
        "status",
    }
)


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(f"{k}={_value(v)}" for k, v in value.items())
    return value if isinstance(value, str) else json.dumps(value)


class PrettyFormatter(LambdaPowertoolsFormatter):
    """``12:00:01.234 INFO  GET /tasks 200  latency_ms=3.1 ...``, then any traceback."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(datefmt="%H:%M:%S.%F", **kwargs)

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        keys = {k: v for k, v in log.items() if k not in _OMITTED}
        if not keys.get("cold_start"):
            keys.pop("cold_start", None)
        if keys.get("request_id") == keys.get("correlation_id"):
            keys.pop("request_id", None)
        details = "  ".join(f"{k}={_value(v)}" for k, v in keys.items())
        line = f"{log.get('timestamp', '')} {log.get('level', ''):<7} {log.get('message', '')}"
        line = f"{line}  {details}" if details else line
        if log.get("exception"):
            line = f"{line}\n{log['exception']}"
        return line
