"""Time as the services see it: a clock is any callable returning an aware datetime, so
tests hand services one they move by hand."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def utc_timestamp(moment: dt.datetime) -> str:
    """RFC 3339 UTC with fixed-width microseconds, so timestamps sort as strings."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def epoch(moment: dt.datetime) -> int:
    """Whole seconds, the unit of expiry times: a record expiring at T is gone from T on."""
    return int(moment.timestamp())
