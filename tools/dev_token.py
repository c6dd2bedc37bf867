"""Mint development ID tokens, for trying several users against `chalice local`.

Under `chalice local` and Chalice's test client, a Cognito-protected route decodes the
token in the Authorization header without verifying it, and the app takes the owner
from its `sub` claim. These tokens are unsigned ("alg": "none"), so API Gateway rejects
them: they only ever work locally.

    python -m tools.dev_token alice          # prints a token for user "alice"
    curl -H "Authorization: $(python -m tools.dev_token alice)" http://127.0.0.1:8000/tasks
"""

from __future__ import annotations

import argparse
import base64
import json
import time
import uuid

#: Names map to stable subs, so "alice" is the same owner in every session.
_NAMESPACE = uuid.UUID("6f1c3f4e-8d0a-4f7e-9a51-3c2b1d0e9f10")


def _segment(data: dict[str, object]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def subject(username: str) -> str:
    """The stable `sub` a development user gets."""
    return str(uuid.uuid5(_NAMESPACE, username))


def mint(
    username: str, sub: str | None = None, ttl_seconds: int = 12 * 3600, email: str | None = None
) -> str:
    """An unsigned ID token whose claims look like Cognito's (``email`` as a pool that
    signs in by e-mail adds it)."""
    now = int(time.time())
    claims = {
        "sub": sub or subject(username),
        "cognito:username": username,  # chalice local passes claims on only with this
        "token_use": "id",
        "iss": "https://task-api.invalid/development-tokens",
        "aud": "local",
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if email is not None:
        claims |= {"email": email, "email_verified": True}
    return f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(claims)}."


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.dev_token", description=__doc__)
    parser.add_argument("username", help="any name; the same name is the same owner")
    parser.add_argument("--sub", help="use this sub claim instead of one derived from the name")
    args = parser.parse_args(argv)
    print(mint(args.username, args.sub))


if __name__ == "__main__":
    main()
