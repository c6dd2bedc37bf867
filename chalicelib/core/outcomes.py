"""What a store met, for any resource's records: a conditional write that did not apply, or an
Idempotency-Key already in use. The store reports it; the service decides what it means."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

R = TypeVar("R")


@dataclass(frozen=True)
class Refused(Generic[R]):
    """A conditional write that did not apply. ``current`` is the record the condition saw
    (for a task: expired or not); None when there was none."""

    current: R | None


@dataclass(frozen=True)
class Remembered(Generic[R]):
    """What an Idempotency-Key's first request stored: its request's hash and its record."""

    request_hash: str
    record: R
