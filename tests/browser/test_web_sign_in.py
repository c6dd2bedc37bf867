"""Signing in on a deployed-like stage: the page in Chromium against `chalice local
--stage dev`, whose environment is set as a deployment sets it. Cognito is moto's, in a
moto server; the browser's calls to Cognito's real endpoint are routed to it, so the
page runs exactly as deployed."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import boto3
import pytest
from moto.server import ThreadedMotoServer
from playwright.sync_api import Browser, BrowserContext, Page, Request, Response, Route, expect

from chalicelib.table import create_table
from tests.browser import (
    add_task,
    comment_items,
    new_task_form,
    open_task_dialog,
    task_item,
    task_titles,
)
from tests.local_server import LocalServer, free_port, running_local_server
from tools import dev_token

#: Starts another program (a server, a CLI or a browser): not in `make check`.
pytestmark = pytest.mark.external

REGION = "us-east-1"  # moto's server serves unsigned Cognito calls from this region
COGNITO = f"https://cognito-idp.{REGION}.amazonaws.com/"
TEMPORARY_PASSWORD = "Temporary-Passw0rd"
ANN = ("ann@example.com", "Ann-S3cure-Passw0rd")
BOB = ("bob@example.com", "Bob-S3cure-Passw0rd")
CY = ("cy@example.com", "Cy-S3cure-Passw0rd")


@dataclass
class Deployment:
    server: LocalServer
    moto_url: str
    user_pool_arn: str
    client_id: str


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    yield f"http://127.0.0.1:{port}"
    moto.stop()


def _clients(moto_url: str) -> tuple:
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    return (
        session.client("cognito-idp", endpoint_url=moto_url),
        session.client("dynamodb", endpoint_url=moto_url),
    )


def _stage_environment(moto_url: str, pool_arn: str, client_id: str | None) -> dict[str, str]:
    """What `make support` (or SAM, or Terraform) sets on the dev stage."""
    environment = {
        "DYNAMODB_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "TASKS_CURSOR_SECRETS": "a-test-cursor-secret-that-is-long-enough",
        "COGNITO_USER_POOL_ARN": pool_arn,
    }
    if client_id:
        environment["COGNITO_USER_POOL_CLIENT_ID"] = client_id
    return environment


@pytest.fixture(scope="module")
def deployment(moto_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    cognito, dynamodb = _clients(moto_url)
    create_table(dynamodb, "task-api-dev-tasks")
    pool = cognito.create_user_pool(PoolName="task-api-dev", UsernameAttributes=["email"])
    pool_id, pool_arn = pool["UserPool"]["Id"], pool["UserPool"]["Arn"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="task-api-dev-web",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    # Ann was invited (a temporary password); Bob and Cy have set their own.
    cognito.admin_create_user(
        UserPoolId=pool_id, Username=ANN[0], TemporaryPassword=TEMPORARY_PASSWORD
    )
    for username, password in (BOB, CY):
        cognito.admin_create_user(UserPoolId=pool_id, Username=username)
        cognito.admin_set_user_password(
            UserPoolId=pool_id, Username=username, Password=password, Permanent=True
        )
    environment = _stage_environment(moto_url, pool_arn, client_id)
    log_dir = tmp_path_factory.mktemp("web-sign-in")
    with running_local_server(log_dir, stage="dev", environment=environment) as server:
        yield Deployment(server, moto_url, pool_arn, client_id)


def _route_cognito(context: BrowserContext, moto_url: str) -> list[Request]:
    """Send the page's calls to Cognito's endpoint to moto's server instead."""
    calls: list[Request] = []

    def forward(route: Route) -> None:
        calls.append(route.request)
        response = route.fetch(url=moto_url + "/")
        headers = {**response.headers, "access-control-allow-origin": "*"}
        route.fulfill(response=response, headers=headers)

    context.route(re.compile("^" + re.escape(COGNITO)), forward)
    return calls


@pytest.fixture
def signed_out(browser: Browser, deployment: Deployment) -> Iterator[Page]:
    context = browser.new_context()
    _route_cognito(context, deployment.moto_url)
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(deployment.server.base_url)
    yield page
    _close(context)
    assert errors == []


def _close(context: BrowserContext) -> None:
    """Let a forwarded call still on its way finish first (a sign-out's revocation runs in
    the background); closing under it fails the next test's setup."""
    context.unroute_all(behavior="wait")
    context.close()


def _cognito_action(action: str) -> Callable[[Request | Response], bool]:
    """Matches a call to (or an answer from) one Cognito action."""
    target = f"AWSCognitoIdentityProviderService.{action}"

    def matches(event: Request | Response) -> bool:
        request = event if isinstance(event, Request) else event.request
        return request.headers.get("x-amz-target") == target

    return matches


def _sign_in(page: Page, email: str, password: str) -> None:
    form = page.get_by_role("region", name="Sign in")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password", exact=True).fill(password)
    form.get_by_role("button", name="Sign in").click()


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_the_page_signs_in_with_cognito_and_keeps_the_token_in_memory_only(
    signed_out: Page, deployment: Deployment
) -> None:
    page = signed_out
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#workspace")).to_be_hidden()
    _sign_in(page, ANN[0], TEMPORARY_PASSWORD)
    new_password = page.get_by_label("New password")
    expect(new_password).to_be_visible()  # an invited user sets a password first
    new_password.fill(ANN[1])
    page.get_by_role("button", name="Set password and sign in").click()
    expect(page.locator("#account-name")).to_have_text(ANN[0])
    expect(new_task_form(page).get_by_label("Title")).to_be_focused()

    with page.expect_request(lambda r: r.method == "POST" and "/tasks" in r.url) as sent:
        add_task(page, "Ann's task")
    token = sent.value.headers["authorization"]
    assert _claims(token)["email"] == ANN[0]
    assert _claims(token)["token_use"] == "id"
    stored = page.evaluate(
        "() => JSON.stringify([Object.keys(localStorage), Object.keys(sessionStorage),"
        " document.cookie])"
    )
    assert json.loads(stored) == [[], [], ""]
    assert token not in page.content()

    page.reload()  # memory only: a new page load asks again
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    with page.expect_response(_cognito_action("InitiateAuth")) as signed_in:
        _sign_in(page, *ANN)
    refresh_token = signed_in.value.json()["AuthenticationResult"]["RefreshToken"]
    expect(task_titles(page)).to_have_text(["Ann's task"])

    # Sign-out revokes the refresh token, not just forgets it. (moto 5.2 does not implement
    # RevokeToken and answers 500; the page ignores the answer, so only the call is checked.)
    with page.expect_request(_cognito_action("RevokeToken")) as revoked:
        page.get_by_role("button", name="Sign out").click()
    revocation = {"ClientId": deployment.client_id, "Token": refresh_token}
    assert revoked.value.post_data_json == revocation
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("alert").filter(has_text="You are signed out.")).to_be_visible()
    expect(task_titles(page)).to_have_count(0)


def test_each_user_sees_only_their_own_tasks(
    signed_out: Page, browser: Browser, deployment: Deployment
) -> None:
    bob = signed_out
    _sign_in(bob, *BOB)
    expect(bob.locator("#account-name")).to_have_text(BOB[0])
    add_task(bob, "Bob's task")
    # The page calls the signed-in user (the token's subject) "you". (This stage, like a
    # deployed one, runs no stream consumer in the server: its history stays empty here.)
    dialog = open_task_dialog(bob, "Bob's task")
    expect(dialog.locator("#history-status")).to_have_text("No history yet.")
    dialog.get_by_label("Add a comment").fill("Bob's note")
    dialog.get_by_role("button", name="Add comment").click()
    expect(comment_items(dialog).locator(".comment-meta")).to_have_text([re.compile("^You · ")])
    bob.keyboard.press("Escape")
    cy_context = browser.new_context()
    try:
        _route_cognito(cy_context, deployment.moto_url)
        cy = cy_context.new_page()
        cy.goto(deployment.server.base_url)
        _sign_in(cy, *CY)
        expect(cy.locator("#account-name")).to_have_text(CY[0])
        expect(cy.locator("#list-status")).to_have_text("No tasks yet. Add one above.")
        add_task(cy, "Cy's task")
        bob.reload()
        _sign_in(bob, *BOB)
        expect(task_titles(bob)).to_have_text(["Bob's task"])
        expect(task_item(bob, "Cy's task")).to_have_count(0)
        cy.reload()
        _sign_in(cy, *CY)
        expect(task_titles(cy)).to_have_text(["Cy's task"])
    finally:
        _close(cy_context)
    status, _, _ = deployment.server.request("GET", "/tasks")
    assert status == 401  # and the API itself refuses anyone without a token


def test_a_wrong_password_is_refused_with_a_clear_message(signed_out: Page) -> None:
    _sign_in(signed_out, BOB[0], "not-the-password")
    expect(signed_out.locator("#sign-in-message")).to_have_text("Incorrect email or password.")
    expect(signed_out.locator("#workspace")).to_be_hidden()


@pytest.fixture(scope="module")
def token_only_server(
    moto_url: str, deployment: Deployment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalServer]:
    """A stage whose deployment set no app client: the page asks for an ID token."""
    environment = _stage_environment(moto_url, deployment.user_pool_arn, client_id=None)
    log_dir = tmp_path_factory.mktemp("web-token")
    with running_local_server(log_dir, stage="dev", environment=environment) as server:
        yield server


def test_without_a_client_the_page_takes_a_pasted_id_token(
    browser: Browser, token_only_server: LocalServer
) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(token_only_server.base_url)
        token = dev_token.mint("carol")
        page.get_by_label("ID token").fill(token)
        with page.expect_request(lambda r: r.method == "GET" and "/tasks" in r.url) as listed:
            page.get_by_role("button", name="Use token").click()
        assert listed.value.headers["authorization"] == token
        add_task(page, "Carol's task")

        # A token the API refuses (no usable identity) ends the session: sign in again.
        page.reload()
        refused = dev_token.mint("dave").split(".")
        payload = base64.urlsafe_b64encode(json.dumps({"email": "x"}).encode()).decode()
        page.get_by_label("ID token").fill(".".join([refused[0], payload.rstrip("="), "sig"]))
        page.get_by_role("button", name="Use token").click()
        expect(page.locator("#sign-in-message")).to_have_text(
            "Your session has ended. Sign in again."
        )
        expect(page.locator("#workspace")).to_be_hidden()
    finally:
        context.close()
