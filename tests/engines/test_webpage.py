"""The web page (``GET /``) and its assets (``GET /ui/{name}``): headers, caching,
fingerprints, the embedded settings per stage, and a strict Content-Security-Policy."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from chalice.app import Request
from chalice.test import Client
from moto import mock_aws

from app import app
from chalicelib import identity, runtime
from chalicelib.comments import schema as comments
from chalicelib.core import headers
from chalicelib.core.http import PROBLEM_JSON
from chalicelib.site import webpage
from chalicelib.tasks import schema
from devserver import patches
from tests.conftest import PROJECT_DIR, Api, Reply, serving_api

POOL_ARN = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_Abc"
COGNITO_ORIGIN = "https://cognito-idp.eu-west-1.amazonaws.com/"
REQUEST_ID = re.compile(headers.REQUEST_ID_PATTERN)
ASSET_URL = re.compile(
    r"(?P<base>.*)/ui/(?P<stem>[\w-]+)\.(?P<digest>[0-9a-f]{12})\.(?P<suffix>\w+)"
)
ASSET_TYPES = {
    "css": "text/css; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "svg": "image/svg+xml; charset=utf-8",
}
#: The policy on a stage that signs no one in (local) or has no usable client id.
STRICT_POLICY = {
    "default-src": ["'none'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'"],
    "connect-src": ["'self'"],
    "base-uri": ["'none'"],
    "form-action": ["'none'"],
    "frame-ancestors": ["'none'"],
    "require-trusted-types-for": ["'script'"],
    "trusted-types": ["'none'"],
}
UNSAFE_SOURCES = {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "data:", "http:", "https:"}


# --- helpers ---------------------------------------------------------------------------------


def csp(reply: Reply) -> dict[str, list[str]]:
    """The Content-Security-Policy as directive -> sources; each directive once."""
    value = reply.header("Content-Security-Policy")
    assert value, "the page must carry a Content-Security-Policy"
    policy: dict[str, list[str]] = {}
    for directive in value.split(";"):
        name, *sources = directive.split()
        assert name not in policy, f"{name} given twice"
        policy[name] = sources
    return policy


def assert_no_unsafe_source(policy: dict[str, list[str]]) -> None:
    for directive, sources in policy.items():
        for source in sources:
            assert source not in UNSAFE_SOURCES, (directive, source)
            assert "*" not in source, (directive, source)
            assert "unsafe" not in source, (directive, source)
            if source.startswith("https://"):  # only the sign-in endpoint, only to connect
                assert directive == "connect-src", (directive, source)
                endpoint = r"https://cognito-idp\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/"
                assert re.fullmatch(endpoint, source)


class PageParser(HTMLParser):
    """The page's elements with their attributes, and the JSON of ``#page-config``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self._in_config = False
        self.config_text: list[str] = []
        self.config_elements = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        if tag == "script" and attributes.get("id") == "page-config":
            self._in_config = True
            self.config_elements += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_config = False

    def handle_data(self, data: str) -> None:
        if self._in_config:
            self.config_text.append(data)


def parse(reply: Reply) -> PageParser:
    parser = PageParser()
    parser.feed(reply.body.decode("utf-8"))
    parser.close()
    return parser


def config_of(reply: Reply) -> dict[str, Any]:
    parser = parse(reply)
    assert parser.config_elements == 1
    return json.loads("".join(parser.config_text))


def asset_urls(reply: Reply) -> list[str]:
    """The ``/ui/`` URLs the page names (stylesheet, script, icon)."""
    urls = []
    for _, attributes in parse(reply).elements:
        for name in ("src", "href"):
            value = attributes.get(name) or ""
            if "/ui/" in value:
                urls.append(value)
    return urls


def asset_name(url: str) -> re.Match[str]:
    found = ASSET_URL.fullmatch(url)
    assert found, url
    return found


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def assert_security_headers(reply: Reply) -> None:
    assert SECURITY_HEADERS.items() <= webpage.SECURITY_HEADERS.items()
    for name, value in SECURITY_HEADERS.items():
        assert reply.header(name) == value, name


def assert_not_found(reply: Reply) -> None:
    assert reply.status == 404, reply.body
    assert reply.header("Content-Type") == PROBLEM_JSON
    assert reply.json["status"] == 404
    assert "fingerprint" in reply.json["detail"]  # the app's 404, not the gateway's


@pytest.fixture
def local() -> Iterator[Api]:
    with serving_api() as api:
        yield api


@contextlib.contextmanager
def serving_dev(**environment: str) -> Iterator[Api]:
    """The app as stage ``dev`` serves it (tokens required), with these extra variables
    (deployments set the user pool's ARN and client id), and no Authorization header."""
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        patch.delenv("DYNAMODB_ENDPOINT_URL", raising=False)
        for name in ("COGNITO_USER_POOL_ARN", webpage.CLIENT_ID_ENV, "TASKS_ALLOW_ANONYMOUS"):
            patch.delenv(name, raising=False)
        for name, value in environment.items():
            patch.setenv(name, value)
        runtime.reset()
        patches.reset_telemetry()
        try:
            yield Api(Client(app, stage_name="dev", project_dir=str(PROJECT_DIR)))
        finally:
            runtime.reset()
            patches.reset_telemetry()


@pytest.fixture
def dev() -> Callable[..., contextlib.AbstractContextManager[Api]]:
    return serving_dev


# --- the page on the local stage ---------------------------------------------------------------


def test_the_page_is_html_with_a_strict_policy_and_security_headers(local: Api) -> None:
    reply = local.get("/")
    assert reply.status == 200
    assert reply.header("Content-Type") == "text/html; charset=utf-8"
    policy = csp(reply)
    assert policy == STRICT_POLICY
    assert policy["connect-src"] == ["'self'"]
    assert_no_unsafe_source(policy)
    assert_security_headers(reply)
    assert re.fullmatch(r'"[0-9a-f]{12}"', reply.header("ETag") or "")
    assert reply.header("Cache-Control") == "no-cache"
    assert REQUEST_ID.fullmatch(reply.header("X-Request-Id") or "")
    assert reply.body.decode().lstrip().lower().startswith("<!doctype html>")
    assert "{{" not in reply.body.decode(), "a placeholder was left unrendered"


def test_the_page_has_no_inline_script_style_or_handler(local: Api) -> None:
    elements = parse(local.get("/")).elements
    scripts = [attributes for tag, attributes in elements if tag == "script"]
    assert scripts, "the page loads its script"
    for attributes in scripts:
        assert attributes.get("src") or attributes.get("type") == "application/json", attributes
    assert [a for a in scripts if a.get("type") == "application/json"] == [
        {"id": "page-config", "type": "application/json"}
    ]
    assert "style" not in {tag for tag, _ in elements}, "no <style> element"
    for tag, attributes in elements:
        for name, value in attributes.items():
            assert name != "style", tag
            assert not name.startswith("on"), (tag, name)
            assert not (value or "").strip().lower().startswith("javascript:"), (tag, name)


def test_every_asset_is_served_immutable_under_its_content_fingerprint(local: Api) -> None:
    urls = asset_urls(local.get("/"))
    assert sorted(asset_name(url)["suffix"] for url in urls) == ["css", "js", "svg"]
    for url in urls:
        found = asset_name(url)
        assert found["base"] == "", "no base path under the test client"
        reply = local.get(url)
        assert reply.status == 200, url
        assert reply.header("Content-Type") == ASSET_TYPES[found["suffix"]]
        assert reply.header("Cache-Control") == "public, max-age=31536000, immutable"
        assert reply.header("ETag") == f'"{found["digest"]}"'
        assert hashlib.sha256(reply.body).hexdigest()[:12] == found["digest"]
        assert reply.body, url
        assert_security_headers(reply)


def test_the_served_assets_are_the_files_in_chalicelib_static(local: Api) -> None:
    for url in asset_urls(local.get("/")):
        found = asset_name(url)
        source = webpage.STATIC_DIR / f"{found['stem']}.{found['suffix']}"
        assert local.get(url).body.decode("utf-8") == source.read_text(encoding="utf-8")


def test_names_other_than_the_fingerprinted_ones_are_404_problems(local: Api) -> None:
    script = next(u for u in asset_urls(local.get("/")) if u.endswith(".js"))
    digest = asset_name(script)["digest"]
    stale = script.replace(digest, f"{int(digest, 16) ^ 1:012x}")
    html_digest = hashlib.sha256((webpage.STATIC_DIR / "index.html").read_bytes()).hexdigest()
    app_py = hashlib.sha256((PROJECT_DIR / "app.py").read_bytes()).hexdigest()[:12]
    for path in [
        "/ui/app.js",
        "/ui/app.css",
        "/ui/icon.svg",
        stale,
        "/ui/" + script.removeprefix("/ui/").upper(),
        script + ".map",
        f"/ui/index.{html_digest[:12]}.html",
        "/ui/index.html",
        "/ui/..%2Fapp.py",
        f"/ui/..%2Fapp.{app_py}.py",
        "/ui/..%2F..%2Fapp.py",
        "/ui/%2e%2e%2fapp.py",
        "/ui/..%2Fstatic%2Findex.html",
        "/ui/webpage.py",
    ]:
        assert_not_found(local.get(path))


# --- conditional requests ----------------------------------------------------------------------


@pytest.mark.parametrize("asset", [False, True], ids=["page", "asset"])
def test_a_matching_if_none_match_gets_304_without_a_body(local: Api, asset: bool) -> None:
    page = local.get("/")
    path = next(u for u in asset_urls(page) if u.endswith(".js")) if asset else "/"
    first = local.get(path)
    etag = first.header("ETag")
    assert etag
    opaque = etag.strip('"')
    for condition in [etag, "*", f'W/"{opaque}"', f'"other", {etag}', f' W/"x" ,W/"{opaque}" ']:
        reply = local.get(path, headers={"If-None-Match": condition})
        assert reply.status == 304, condition
        assert reply.body == b"", condition
        assert reply.header("ETag") == etag, condition
        assert reply.header("Cache-Control") == first.header("Cache-Control")
    for condition in [
        '"other"',
        f'"{opaque}x"',
        f'"{opaque[:-1]}"',
        "garbage",
        f"garbage {etag}",
        etag[1:],
        "",
    ]:
        reply = local.get(path, headers={"If-None-Match": condition})
        assert reply.status == 200, condition
        assert reply.body == first.body, condition
        assert reply.header("ETag") == etag


def test_the_page_s_304_keeps_its_policy(local: Api) -> None:
    first = local.get("/")
    reply = local.get("/", headers={"If-None-Match": first.header("ETag") or ""})
    assert reply.status == 304
    assert reply.header("Content-Security-Policy") == first.header("Content-Security-Policy")


# --- the embedded settings ---------------------------------------------------------------------


def test_the_local_page_signs_no_one_in_and_restates_the_schema(local: Api) -> None:
    config = config_of(local.get("/"))
    assert config["signIn"] is None
    assert config["anonymousUser"] == identity.LOCAL_OWNER  # whom the history calls "you"
    assert config["apiBase"] == ""
    assert config["statuses"] == list(schema.STATUSES)
    assert config["priorities"] == list(schema.PRIORITIES)
    assert config["defaults"] == {
        "status": schema.DEFAULTS["status"],
        "priority": schema.DEFAULTS["priority"],
    }
    assert config["limits"] == {
        "title": schema.FIELDS["title"]["maxLength"],
        "description": schema.FIELDS["description"]["maxLength"],
        "tags": schema.FIELDS["tags"]["maxItems"],
        "tag": schema.FIELDS["tags"]["items"]["maxLength"],
        "page": schema.LIST_PARAMETERS["limit"]["default"],
        "comment": comments.FIELDS["body"]["maxLength"],
    }


def test_a_deployed_stage_signs_in_with_its_pool_s_client(dev: Any) -> None:
    with dev(COGNITO_USER_POOL_ARN=POOL_ARN, COGNITO_USER_POOL_CLIENT_ID="abc123") as api:
        reply = api.get("/")
    assert reply.status == 200
    assert config_of(reply)["signIn"] == {"endpoint": COGNITO_ORIGIN, "clientId": "abc123"}
    assert config_of(reply)["anonymousUser"] is None  # the token's subject is the user
    policy = csp(reply)
    assert policy["connect-src"] == ["'self'", COGNITO_ORIGIN]
    assert policy == {**STRICT_POLICY, "connect-src": ["'self'", COGNITO_ORIGIN]}
    assert_no_unsafe_source(policy)


@pytest.mark.parametrize(
    "client_id",
    ['abc"><script>', "abc 123", "abc;connect-src *", "a" * 129, "", "abc/123", "abc\r\nX-A: b"],
)
def test_an_unusable_client_id_falls_back_to_pasting_a_token(dev: Any, client_id: str) -> None:
    with dev(COGNITO_USER_POOL_ARN=POOL_ARN, COGNITO_USER_POOL_CLIENT_ID=client_id) as api:
        reply = api.get("/")
    assert reply.status == 200
    assert config_of(reply)["signIn"] == {}
    assert csp(reply) == STRICT_POLICY
    assert "cognito-idp" not in (reply.header("Content-Security-Policy") or "")
    assert "<script>" not in reply.body.decode().split('id="page-config"')[1].split("</script>")[0]


def test_the_page_s_etag_changes_with_the_stage_s_settings(dev: Any, local: Api) -> None:
    with dev(COGNITO_USER_POOL_ARN=POOL_ARN, COGNITO_USER_POOL_CLIENT_ID="abc123") as api:
        signing_in = api.get("/").header("ETag")
    with dev(COGNITO_USER_POOL_ARN=POOL_ARN, COGNITO_USER_POOL_CLIENT_ID="xyz789") as api:
        other_client = api.get("/").header("ETag")
    with dev(COGNITO_USER_POOL_ARN=POOL_ARN) as api:
        token_form = api.get("/").header("ETag")
    etags = [local.get("/").header("ETag"), signing_in, other_client, token_form]
    assert len(set(etags)) == 4, etags


def test_the_page_and_its_assets_need_no_token_on_a_deployed_stage(dev: Any) -> None:
    with dev(COGNITO_USER_POOL_ARN=POOL_ARN, COGNITO_USER_POOL_CLIENT_ID="abc123") as api:
        page = api.get("/")
        assets = [api.get(url) for url in asset_urls(page)]
        tasks = api.get("/tasks")
    assert page.status == 200
    assert [a.status for a in assets] == [200, 200, 200]
    assert tasks.status == 401, "the stage does require tokens for the API"


@pytest.mark.parametrize(
    ("environ", "sign_in", "connect"),
    [
        ({"TASKS_ALLOW_ANONYMOUS": "true", "COGNITO_USER_POOL_ARN": POOL_ARN}, None, []),
        (
            {"COGNITO_USER_POOL_ARN": POOL_ARN, "COGNITO_USER_POOL_CLIENT_ID": " abc123 "},
            {"endpoint": COGNITO_ORIGIN, "clientId": "abc123"},
            [COGNITO_ORIGIN],
        ),
        (
            {
                "COGNITO_USER_POOL_ARN": f"{POOL_ARN},"
                "arn:aws:cognito-idp:us-west-2:123456789012:userpool/us-west-2_X",
                "COGNITO_USER_POOL_CLIENT_ID": "a+b_C9",
            },
            {"endpoint": COGNITO_ORIGIN, "clientId": "a+b_C9"},
            [COGNITO_ORIGIN],
        ),
        (
            {
                "COGNITO_USER_POOL_ARN": "arn:aws-cn:cognito-idp:cn-north-1:1:userpool/x",
                "COGNITO_USER_POOL_CLIENT_ID": "abc",
            },
            {"endpoint": "https://cognito-idp.cn-north-1.amazonaws.com.cn/", "clientId": "abc"},
            ["https://cognito-idp.cn-north-1.amazonaws.com.cn/"],
        ),
        (
            {"COGNITO_USER_POOL_ARN": POOL_ARN, "COGNITO_USER_POOL_CLIENT_ID": "abé"},
            {},
            [],
        ),
        (
            {
                "COGNITO_USER_POOL_ARN": "arn:aws-us-gov:cognito-idp:us-gov-west-1:1:userpool/x",
                "COGNITO_USER_POOL_CLIENT_ID": "abc",
            },
            {"endpoint": "https://cognito-idp.us-gov-west-1.amazonaws.com/", "clientId": "abc"},
            ["https://cognito-idp.us-gov-west-1.amazonaws.com/"],
        ),
        ({"COGNITO_USER_POOL_ARN": POOL_ARN}, {}, []),
        (
            {"COGNITO_USER_POOL_ARN": POOL_ARN, "COGNITO_USER_POOL_CLIENT_ID": 'abc"><script>'},
            {},
            [],
        ),
        (
            {"COGNITO_USER_POOL_ARN": "not an arn", "COGNITO_USER_POOL_CLIENT_ID": "abc123"},
            {},
            [],
        ),
        (
            {
                "COGNITO_USER_POOL_ARN": "arn:aws:cognito-idp:EU; script-src *:1:userpool/x",
                "COGNITO_USER_POOL_CLIENT_ID": "abc123",
            },
            {},
            [],
        ),
    ],
    ids=[
        "anonymous",
        "client",
        "first-pool",
        "china",
        "non-ascii-client",
        "other-partition",
        "no-client",
        "injected-client",
        "bad-arn",
        "injected-region",
    ],
)
def test_page_config_and_policy_per_environment(
    environ: dict[str, str], sign_in: dict[str, str] | None, connect: list[str]
) -> None:
    config = webpage.page_config("/api", environ)
    assert config["apiBase"] == "/api"
    assert config["signIn"] == sign_in
    assert config["anonymousUser"] == (identity.LOCAL_OWNER if sign_in is None else None)
    value = webpage.content_security_policy(config)
    policy = dict((d.split()[0], d.split()[1:]) for d in value.split("; "))
    assert policy == {**STRICT_POLICY, "connect-src": ["'self'", *connect]}
    assert_no_unsafe_source(policy)


# --- the base path API Gateway strips ----------------------------------------------------------


def gateway_request(full_path: str, **request_headers: str) -> Request:
    """``GET /`` as API Gateway hands it to the function (stage "api" in the path)."""
    return Request(
        {
            "resource": "/",
            "path": "/",
            "httpMethod": "GET",
            "headers": request_headers,
            "multiValueHeaders": {k: [v] for k, v in request_headers.items()},
            "queryStringParameters": None,
            "multiValueQueryStringParameters": None,
            "pathParameters": None,
            "stageVariables": None,
            "body": None,
            "isBase64Encoded": False,
            "requestContext": {"resourcePath": "/", "httpMethod": "GET", "path": full_path},
        }
    )


@pytest.mark.parametrize(("full_path", "base"), [("/api/", "/api"), ("/", ""), ("/v1/", "/v1")])
def test_asset_urls_and_api_base_keep_the_stage_prefix(
    local: Api, full_path: str, base: str
) -> None:
    response = webpage.page(gateway_request(full_path))
    assert response.status_code == 200
    reply = Reply(200, response.headers, response.body.encode())
    assert config_of(reply)["apiBase"] == base
    urls = asset_urls(reply)
    assert len(urls) == 3
    served = set(asset_urls(local.get("/")))
    for url in urls:
        assert url.startswith(f"{base}/ui/"), url
        assert url.removeprefix(base) in served, "the same asset, under the prefix"
    again = webpage.page(gateway_request(full_path, **{"If-None-Match": response.headers["ETag"]}))
    assert again.status_code == 304


def test_pages_under_different_prefixes_have_different_etags() -> None:
    etags = {webpage.page(gateway_request(p)).headers["ETag"] for p in ("/api/", "/", "/v1/")}
    assert len(etags) == 3


# --- the embedded JSON cannot end its element --------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "</script><script>alert(1)</script>",
        "</SCRIPT >",
        "<!--<script>",
        "a & b > c < d",
        {"k</script>": ["<b>", "&amp;"]},
        "\u2028\u2029",
    ],
)
def test_script_json_escapes_what_could_close_the_element(value: Any) -> None:
    text = webpage._script_json(value)
    assert "<" not in text
    assert ">" not in text
    assert "&" not in text
    assert json.loads(text) == value


def test_a_hostile_setting_stays_inside_the_config_element(monkeypatch: Any) -> None:
    hostile = "</script><script>alert(1)</script>"
    real = webpage.page_config
    monkeypatch.setattr(
        webpage, "page_config", lambda base, env=None: {**real(base, env), "x": hostile}
    )
    response = webpage.page(gateway_request("/"))
    parser = PageParser()
    parser.feed(response.body)
    parser.close()
    assert json.loads("".join(parser.config_text))["x"] == hostile
    scripts = [a for tag, a in parser.elements if tag == "script"]
    assert len(scripts) == 2, "no element was injected"
