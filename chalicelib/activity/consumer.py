"""STAND-IN (branch infra-21): the consumer dispatches over a writer and calls no AWS API."""

from __future__ import annotations

from typing import Any


def batch_response(failed: list[str]) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}
