"""CloudWatch Embedded Metric Format: a metric document as one JSON line on stdout.

The format is AWS's (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
CloudWatch_Embedded_Metric_Format_Specification.html): an ``_aws`` member with the
timestamp and one directive (namespace, dimension sets, metric names and units), and
each dimension and metric as a member of the document. Documents are the shape Powertools'
Metrics writes (values as one-element arrays), so dashboards, alarms and tests read either.

Why not Powertools' Metrics per request: it validates and serialises through several
layers, and took a third of a millisecond for a request's two documents, about a third
of the app's own time per request (docs/design/costs.md, Per request). These documents
are fixed by the code, so there is nothing to validate at run time; the tests check
them against the format.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

COUNT = "Count"
MILLISECONDS = "Milliseconds"


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    value: float


def document(
    namespace: str,
    dimension_sets: Sequence[Sequence[str]],
    dimensions: Mapping[str, str],
    metrics: Sequence[Metric],
    timestamp_ms: int | None = None,
) -> str:
    """One EMF document as a JSON line (without its newline). Every dimension a set names
    must have a value in ``dimensions``."""
    if not metrics:
        raise ValueError("an EMF document needs at least one metric")
    directive = _directive(
        namespace,
        tuple(tuple(names) for names in dimension_sets),
        tuple((m.name, m.unit) for m in metrics),
    )
    missing = directive.dimensions - dimensions.keys()
    if missing:
        raise ValueError(f"dimensions without a value: {sorted(missing)}")
    members = {**dimensions, **{m.name: [float(m.value)] for m in metrics}}
    timestamp = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    # The directive's JSON is the same for every request of a route: built once.
    return (
        f'{{"_aws":{{"Timestamp":{timestamp},"CloudWatchMetrics":{directive.json}}},'
        + json.dumps(members, separators=(",", ":"))[1:]
    )


@dataclass(frozen=True)
class _Directive:
    json: str
    dimensions: frozenset[str]


@functools.lru_cache(maxsize=64)
def _directive(
    namespace: str,
    dimension_sets: tuple[tuple[str, ...], ...],
    metrics: tuple[tuple[str, str], ...],
) -> _Directive:
    directives = [
        {
            "Namespace": namespace,
            "Dimensions": [list(names) for names in dimension_sets],
            "Metrics": [{"Name": name, "Unit": unit} for name, unit in metrics],
        }
    ]
    return _Directive(
        json.dumps(directives, separators=(",", ":")),
        frozenset(name for names in dimension_sets for name in names),
    )
