"""Opaque, authenticated list cursors.

A cursor carries only a list position (public record fields) and an expiry time, signed
with HMAC-SHA256. The signature also covers a *binding* (the owner and the query's
filters) that is not carried in the cursor, so a cursor made for another owner or
other filters fails verification just like a forged one. Several secrets may be
configured: the first signs, any verifies, so a secret can be rotated without
breaking the cursors clients already hold.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from typing import Any

from chalicelib.core.errors import InvalidCursor
from chalicelib.core.paging import MAX_CURSOR_LENGTH

DEFAULT_TTL_SECONDS = 24 * 60 * 60
MIN_SECRET_BYTES = 32
_VERSION = 1
_MAC_BYTES = 16


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _checked(secrets: Sequence[bytes]) -> list[bytes]:
    if not secrets or any(len(s) < MIN_SECRET_BYTES for s in secrets):
        raise ValueError(f"cursor secrets must be at least {MIN_SECRET_BYTES} bytes")
    return list(secrets)


class CursorCodec:
    """Signs and verifies cursors with one or more secrets."""

    def __init__(
        self,
        secrets: Sequence[bytes] | Callable[[], Sequence[bytes]],
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
    ) -> None:
        """``secrets`` is a list, or a callable asked on each use (a secret store that
        may rotate them)."""
        if callable(secrets):
            self._source = secrets
        else:
            fixed = _checked(secrets)
            self._source = lambda: fixed
        self._ttl = ttl_seconds

    @property
    def _secrets(self) -> list[bytes]:
        return _checked(self._source())

    def _mac(self, secret: bytes, payload: bytes, binding: str) -> bytes:
        message = payload + b"\x00" + binding.encode("utf-8")
        return hmac.new(secret, message, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(self, position: dict[str, Any], binding: str, now: int) -> str:
        body = {"v": _VERSION, "exp": now + self._ttl, "pos": position}
        payload = json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8")
        mac = self._mac(self._secrets[0], payload, binding)
        return f"{_b64encode(payload)}.{_b64encode(mac)}"

    def decode(self, token: str, binding: str, now: int) -> dict[str, Any]:
        """The position, or InvalidCursor if the token is malformed, forged, made for
        another owner or other filters, or expired."""
        if len(token) > MAX_CURSOR_LENGTH or token.count(".") != 1:
            raise InvalidCursor("is not a cursor this API issued")
        encoded_payload, encoded_mac = token.split(".")
        try:
            payload, mac = _b64decode(encoded_payload), _b64decode(encoded_mac)
        except (binascii.Error, ValueError):
            raise InvalidCursor("is not a cursor this API issued") from None
        secrets = self._secrets
        if not any(hmac.compare_digest(mac, self._mac(s, payload, binding)) for s in secrets):
            raise InvalidCursor("is not valid for this owner and these filters")
        body = json.loads(payload)
        if body.get("v") != _VERSION or not isinstance(body.get("pos"), dict):
            raise InvalidCursor("is not a cursor this API issued")
        if not isinstance(body.get("exp"), int) or body["exp"] <= now:
            raise InvalidCursor("has expired; list again from the first page")
        position: dict[str, Any] = body["pos"]
        return position
