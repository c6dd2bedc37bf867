"""Who is calling: the owner that every operation on stored data is scoped to.

Deployed, API Gateway's Cognito user-pool authorizer verifies the ID token and passes its
claims; the owner is the ``sub`` claim. The local stage may also run anonymously, as
one fixed owner, so that a new user can try the API at once; that mode refuses to
serve inside Lambda, so a misconfigured deployed stage can never run open.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from chalice.app import CognitoUserPoolAuthorizer

from chalicelib.core.errors import AnonymousModeRefused, AudienceUnconfigured, Unauthenticated

#: The owner of every request without a token, in the local stage only.
LOCAL_OWNER = "local"
#: Used when a stage names no pool (local development: chalice local does not verify).
PLACEHOLDER_USER_POOL_ARN = "arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_local"
_TRUE = {"1", "true", "yes", "on"}
#: Cognito's sub is a UUID; accept any short, printable, single-line identifier.
_SUB = re.compile(r"[\x21-\x7e]{1,128}")


def user_pool_arns(environ: Mapping[str, str] | None = None) -> list[str]:
    """The stage's user pool(s), read when app.py is imported: Chalice sets a stage's
    environment variables before it imports the app for deploy, package and local."""
    environ = os.environ if environ is None else environ
    arns = [a.strip() for a in environ.get("COGNITO_USER_POOL_ARN", "").split(",") if a.strip()]
    return arns or [PLACEHOLDER_USER_POOL_ARN]


#: API Gateway verifies the ID token; the app takes the owner from its claims. Built when the
#: app is imported, with the stage's pools: every route that reads stored data names it.
cognito = CognitoUserPoolAuthorizer("TasksUserPool", provider_arns=user_pool_arns())


def anonymous_allowed(environ: Mapping[str, str] | None = None) -> bool:
    """Whether requests without a token are served, as the fixed owner ``local``."""
    environ = os.environ if environ is None else environ
    return environ.get("TASKS_ALLOW_ANONYMOUS", "").lower() in _TRUE


def owner(
    claims: Mapping[str, Any] | None,
    sent_credentials: bool = False,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The owner for a request with these authorizer claims (None: none arrived).

    ``sent_credentials`` says the request had an Authorization header: a token that
    yields no usable ``sub`` is refused, never mistaken for an anonymous request.
    """
    environ = os.environ if environ is None else environ
    subject = (claims or {}).get("sub")
    if isinstance(subject, str) and _SUB.fullmatch(subject):
        _require_own_id_token(claims or {}, environ)
        return subject
    if claims or sent_credentials or not anonymous_allowed(environ):
        raise Unauthenticated()
    if _in_lambda(environ):
        raise AnonymousModeRefused()
    return LOCAL_OWNER


def token_audiences(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The app clients whose ID tokens the stage accepts: its own (the web client), as
    each deploy path writes it into ``COGNITO_USER_POOL_CLIENT_ID``."""
    environ = os.environ if environ is None else environ
    return frozenset(
        a.strip() for a in environ.get("COGNITO_USER_POOL_CLIENT_ID", "").split(",") if a.strip()
    )


def _require_own_id_token(claims: Mapping[str, Any], environ: Mapping[str, str]) -> None:
    """API Gateway's Cognito authorizer admits ID tokens of every app client of the pool
    (and access tokens, where scopes allow): accept only ID tokens issued to this stage's
    own clients. A stage that names none accepts any token locally (development tokens)
    and refuses to serve inside Lambda."""
    audiences = token_audiences(environ)
    if not audiences:
        if _in_lambda(environ):
            raise AudienceUnconfigured()
        return
    audience = claims.get("aud")
    if claims.get("token_use") != "id" or not isinstance(audience, str):
        raise Unauthenticated()
    if audience not in audiences:
        raise Unauthenticated()


def _in_lambda(environ: Mapping[str, str]) -> bool:
    return bool(environ.get("AWS_LAMBDA_FUNCTION_NAME"))
