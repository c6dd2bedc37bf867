"""The web page: a task manager in the browser, served by the app itself (``GET /``).

The files live in ``chalicelib/site/static`` because Chalice packages everything under
``chalicelib``. There is no build step: ``index.html`` names its assets as
``{{app.js}}``; they are served under a fingerprint of their content
(``/ui/app.<hash>.js``), so browsers may cache them for a year and still never run a
stale script. The page is served with a strict Content-Security-Policy: scripts and
styles only from this origin, no inline code, Trusted Types required (no HTML string can
reach the DOM), and network access only to this API and, where the stage signs users in,
Cognito's regional endpoint.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalice.app import Request, Response

from chalicelib import identity
from chalicelib.comments import schema as comments
from chalicelib.core.headers import weakly_matches
from chalicelib.core.http import base_path, problem
from chalicelib.core.paging import LIMIT
from chalicelib.tasks import schema
from chalicelib.tasks.schema import DESCRIPTION, PRIORITY, STATUS, TAGS, TITLE

STATIC_DIR = Path(__file__).resolve().parent / "static"
#: Assets by suffix; anything else in the folder is not served.
CONTENT_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml; charset=utf-8",
}
HTML = "text/html; charset=utf-8"
#: Where assets are served: ``/ui/<name>.<fingerprint><suffix>``.
ASSET_ROUTE = "/ui"
#: Set by the deployment (``make support``, SAM or Terraform): the user pool's public app
#: client that the page signs users in with.
CLIENT_ID_ENV = "COGNITO_USER_POOL_CLIENT_ID"
_CLIENT_ID = re.compile(r"[\w+]{1,128}", re.ASCII)  # Cognito's pattern for a client id
_POOL_ARN = re.compile(r"arn:(aws[a-z-]*):cognito-idp:([a-z0-9-]{1,32}):")
#: The DNS suffix of AWS endpoints by partition (aws, aws-us-gov: amazonaws.com).
_DNS_SUFFIX = {"aws-cn": "amazonaws.com.cn"}
_PLACEHOLDER = re.compile(r"\{\{([A-Za-z0-9_.-]+)\}\}")

#: Fingerprinted assets never change under the same name.
IMMUTABLE = "public, max-age=31536000, immutable"
#: The page embeds its stage's settings: revalidate each time (a 304 is cheap).
REVALIDATE = "no-cache"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


@dataclass(frozen=True)
class Asset:
    url_name: str  # e.g. app.3f9c2a1b0d4e.js
    body: str
    content_type: str
    etag: str


def _fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@functools.cache
def assets() -> dict[str, Asset]:
    """The servable files by their source name (``app.js``), read once per container."""
    found = {}
    for path in sorted(STATIC_DIR.iterdir()):
        if path.suffix in CONTENT_TYPES:
            body = path.read_text(encoding="utf-8")
            digest = _fingerprint(body)
            url_name = f"{path.stem}.{digest}{path.suffix}"
            found[path.name] = Asset(url_name, body, CONTENT_TYPES[path.suffix], f'"{digest}"')
    return found


@functools.cache
def _by_url_name() -> dict[str, Asset]:
    return {asset.url_name: asset for asset in assets().values()}


def sign_in(environ: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """How the page signs users in on this stage: None when requests without a token are
    served (the local stage); otherwise the user pool's Cognito endpoint and its public
    client id, or nothing when no client is configured (the page then asks for a token)."""
    environ = os.environ if environ is None else environ
    if identity.anonymous_allowed(environ):
        return None
    pool = _POOL_ARN.match(identity.user_pool_arns(environ)[0])
    client_id = environ.get(CLIENT_ID_ENV, "").strip()
    if pool is None or not _CLIENT_ID.fullmatch(client_id):
        return {}
    partition, region = pool.groups()
    return {"endpoint": cognito_endpoint(region, partition), "clientId": client_id}


def cognito_endpoint(region: str, partition: str = "aws") -> str:
    """Cognito user pools' API in a region (the page calls it directly, unsigned)."""
    return f"https://cognito-idp.{region}.{_DNS_SUFFIX.get(partition, 'amazonaws.com')}/"


def page_config(api_base: str, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What the page's script needs: where the API is, how to sign in (and, where no one
    does, whom the API takes the caller for: the page calls that user "you" in a task's
    history), and the choices the task and comment schemas allow (so the page restates no
    rule of its own)."""
    signing_in = sign_in(environ)
    return {
        "apiBase": api_base,
        "signIn": signing_in,
        "anonymousUser": identity.LOCAL_OWNER if signing_in is None else None,
        "statuses": list(schema.STATUSES),
        "priorities": list(schema.PRIORITIES),
        "defaults": {STATUS: schema.DEFAULTS[STATUS], PRIORITY: schema.DEFAULTS[PRIORITY]},
        "limits": {
            TITLE: schema.FIELDS[TITLE]["maxLength"],
            DESCRIPTION: schema.FIELDS[DESCRIPTION]["maxLength"],
            TAGS: schema.FIELDS[TAGS]["maxItems"],
            "tag": schema.FIELDS[TAGS]["items"]["maxLength"],
            "page": schema.LIST_PARAMETERS[LIMIT]["default"],
            "comment": comments.FIELDS[comments.BODY]["maxLength"],
        },
    }


def content_security_policy(config: Mapping[str, Any]) -> str:
    connect = ["'self'", *([config["signIn"]["endpoint"]] if config["signIn"] else [])]
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            f"connect-src {' '.join(connect)}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
            "require-trusted-types-for 'script'",
            "trusted-types 'none'",
        ]
    )


def _script_json(value: Any) -> str:
    """JSON that cannot end the ``<script type="application/json">`` element it sits in."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@functools.cache
def _render(api_base: str, config_json: str, csp: str) -> tuple[str, str]:
    """The page for one base path and stage settings, and its ETag (built once: both
    change only with the deployment)."""
    template = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    urls = {name: f"{api_base}{ASSET_ROUTE}/{a.url_name}" for name, a in assets().items()}
    values = {**urls, "config": config_json}
    html = _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    return html, f'"{_fingerprint(html + csp)}"'


def _cached_response(
    request: Request, body: str, content_type: str, etag: str, cache_control: str, **extra: str
) -> Response:
    headers: dict[str, str | list[str]] = {
        "ETag": etag,
        "Cache-Control": cache_control,
        **SECURITY_HEADERS,
        **extra,
    }
    if weakly_matches(request.headers.get("If-None-Match"), etag.strip('"')):
        return Response(body="", status_code=304, headers=headers)
    return Response(body=body, status_code=200, headers={**headers, "Content-Type": content_type})


def page(request: Request) -> Response:
    """The HTML page, its asset URLs and settings for this stage and base path."""
    api_base = base_path(request)
    config = page_config(api_base)
    csp = content_security_policy(config)
    html, etag = _render(api_base, _script_json(config), csp)
    return _cached_response(
        request, html, HTML, etag, REVALIDATE, **{"Content-Security-Policy": csp}
    )


def asset(request: Request, url_name: str) -> Response:
    """A fingerprinted asset; 404 for any other name (old fingerprints included)."""
    found = _by_url_name().get(url_name)
    if found is None:
        return problem(404, "No such asset; the page names its assets with a fingerprint.")
    return _cached_response(request, found.body, found.content_type, found.etag, IMMUTABLE)
