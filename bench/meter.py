"""Counts a client's DynamoDB requests and their consumed capacity, with botocore hooks.

Every benchmark meters the same way: the hooks sit on the client, so the code measured
is unchanged. Each request asks for ``ReturnConsumedCapacity=TOTAL``, which DynamoDB
(and DynamoDB Local) answers at no cost.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

#: Operations whose capacity is read capacity; any other is write capacity.
READ_OPERATIONS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"})


@dataclass
class Meter:
    """Requests per operation name, and read and write capacity units, since ``reset``.

    ``forbidden``: operations that must never be sent (a Scan, for this API): sending
    one raises at once, before the request leaves.
    """

    forbidden: frozenset[str] = frozenset()
    operations: Counter[str] = field(default_factory=Counter)
    read_units: float = 0.0
    write_units: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, client: Any) -> Any:
        events = client.meta.events
        events.register("provide-client-params.dynamodb.*", self._before)
        events.register("after-call.dynamodb.*", self._after)
        return client

    def reset(self) -> None:
        with self.lock:
            self.operations.clear()
            self.read_units = self.write_units = 0.0

    @property
    def requests(self) -> int:
        return sum(self.operations.values())

    @property
    def capacity(self) -> float:
        return self.read_units + self.write_units

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": sum(self.operations.values()),
                "operations": dict(sorted(self.operations.items())),
                "read_units": round(self.read_units, 3),
                "write_units": round(self.write_units, 3),
            }

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in self.forbidden:
            raise AssertionError(f"a {model.name} was sent: {params}")
        if "ReturnConsumedCapacity" in model.input_shape.members:
            params["ReturnConsumedCapacity"] = "TOTAL"
        with self.lock:
            self.operations[model.name] += 1

    def _after(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        consumed = parsed.get("ConsumedCapacity")
        entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
        with self.lock:
            for entry in entries:
                read, write = entry.get("ReadCapacityUnits"), entry.get("WriteCapacityUnits")
                if read is None and write is None:  # TOTAL on DynamoDB Local: one figure
                    units = float(entry.get("CapacityUnits") or 0)
                    read, write = (units, 0) if model.name in READ_OPERATIONS else (0, units)
                self.read_units += float(read or 0)
                self.write_units += float(write or 0)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``fraction`` of the
    values at or below it (0.5: the median, 0.99: p99)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]
