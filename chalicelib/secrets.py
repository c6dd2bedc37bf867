"""Cursor secrets kept in AWS Secrets Manager.

Deployed stages pass the secret's ARN (``TASKS_CURSOR_SECRET_ARN``), never its value:
a value in the Lambda environment is readable by anyone who may read the function's
configuration. The secret is fetched on first use (a list page that has a next page, or
a request with a cursor), not at cold start, and re-read every few minutes so that a
rotation reaches running containers without a redeploy.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("task-api.secrets")

#: How long a container trusts the secret it read before it reads it again.
REFRESH_SECONDS = 300


def parse_secrets(text: str) -> tuple[bytes, ...]:
    """Comma-separated secrets, the signing one first (the format of the env variable and
    of the secret's value alike)."""
    return tuple(part.strip().encode("utf-8") for part in text.split(",") if part.strip())


class SecretsManagerSecrets:
    """A callable returning the current cursor secrets, cached for ``REFRESH_SECONDS``."""

    def __init__(
        self,
        make_client: Callable[[], Any],
        secret_id: str,
        refresh_seconds: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._make_client = make_client
        self._client: Any = None
        self._secret_id = secret_id
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._value: tuple[bytes, ...] | None = None
        self._read_at = 0.0

    def __call__(self) -> tuple[bytes, ...]:
        with self._lock:
            now = self._clock()
            if self._value is None or now - self._read_at >= self._refresh_seconds:
                self._refresh(now)
            assert self._value is not None
            return self._value

    def _refresh(self, now: float) -> None:
        try:
            if self._client is None:
                self._client = self._make_client()  # only containers that page pay for it
            response = self._client.get_secret_value(SecretId=self._secret_id)
        except Exception:
            if self._value is None:
                raise
            # Keep serving with the secret already read; try again on the next request.
            log.warning("Could not re-read the cursor secret; keeping the cached one")
            return
        self._value = parse_secrets(response["SecretString"])
        self._read_at = now
