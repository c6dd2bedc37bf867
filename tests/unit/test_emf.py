"""EMF documents as CloudWatch reads them: one directive, each dimension and metric a member."""

from __future__ import annotations

import json

import pytest

from chalicelib import emf


def test_a_document_names_its_directive_and_carries_its_values() -> None:
    line = emf.document(
        "task-api/dev",
        [["Route", "Method", "service"], ["service"]],
        {"Route": "/tasks", "Method": "POST", "service": "task-api"},
        [emf.Metric("Requests", emf.COUNT, 1), emf.Metric("Latency", emf.MILLISECONDS, 3.25)],
        timestamp_ms=1_700_000_000_000,
    )
    assert "\n" not in line
    assert json.loads(line) == {
        "_aws": {
            "Timestamp": 1_700_000_000_000,
            "CloudWatchMetrics": [
                {
                    "Namespace": "task-api/dev",
                    "Dimensions": [["Route", "Method", "service"], ["service"]],
                    "Metrics": [
                        {"Name": "Requests", "Unit": "Count"},
                        {"Name": "Latency", "Unit": "Milliseconds"},
                    ],
                }
            ],
        },
        "Route": "/tasks",
        "Method": "POST",
        "service": "task-api",
        "Requests": [1.0],
        "Latency": [3.25],
    }


def test_values_are_json_escaped_and_the_timestamp_defaults_to_now() -> None:
    line = emf.document("ns", [["Route"]], {"Route": '/a"b\\c'}, [emf.Metric("M", emf.COUNT, 2)])
    document = json.loads(line)
    assert document["Route"] == '/a"b\\c'
    assert document["_aws"]["Timestamp"] > 1_700_000_000_000


def test_a_dimension_without_a_value_or_a_document_without_metrics_is_refused() -> None:
    with pytest.raises(ValueError, match="Method"):
        emf.document("ns", [["Route", "Method"]], {"Route": "/"}, [emf.Metric("M", "Count", 1)])
    with pytest.raises(ValueError, match="at least one metric"):
        emf.document("ns", [["Route"]], {"Route": "/"}, [])
