"""The test fakes behave like the real services, as seen through the real client libraries."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from fakes.oauth_provider import FakeOAuthProvider
from fakes.slack_api import FakeSlack
from fakes.slack_requests import (
    app_home_opened,
    block_actions,
    event_callback,
    home_view,
    sign,
    slash_command,
)
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

TOKEN = "xoxb-test-token"
SIGNING_SECRET = "signing-secret"
REDIRECT_URI = "https://bot.example/oauth/linkedin/callback"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = FakeSlack()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=fake.api_url)


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


# --- FakeSlack ---------------------------------------------------------------------------


async def test_post_message_through_slack_sdk(fake: FakeSlack, client: AsyncWebClient) -> None:
    assert fake.api_url.endswith("/api/")
    first = await client.chat_postMessage(channel="C1", text="hi", blocks=[section("hi")])
    second = await client.chat_postMessage(channel="C1", text="reply", thread_ts=first["ts"])

    assert first["ok"] is True
    assert first["channel"] == "C1"
    assert first["message"]["blocks"] == [section("hi")]
    assert first["message"]["ts"] == first["ts"]
    assert "thread_ts" not in first["message"]
    assert second["message"]["thread_ts"] == first["ts"]
    assert float(second["ts"]) > float(first["ts"])

    calls = fake.calls_to("chat.postMessage")
    assert [c.args["text"] for c in calls] == ["hi", "reply"]
    assert calls[0].token == TOKEN
    assert calls[0].args["blocks"] == [section("hi")]
    assert not calls[0].failed
    assert fake.violations == []


async def test_ts_values_are_unique_across_methods(fake: FakeSlack, client: AsyncWebClient) -> None:
    seen = set()
    for _ in range(5):
        seen.add((await client.chat_postMessage(channel="C1", text="x"))["ts"])
        seen.add((await client.chat_postEphemeral(channel="C1", user="U1", text="x"))["message_ts"])
    assert len(seen) == 10


async def test_form_encoded_bodies_are_decoded(fake: FakeSlack, client: AsyncWebClient) -> None:
    blocks = [section("form")]
    await client.api_call(
        "chat.postMessage",
        data={"channel": "C2", "text": "form", "blocks": json.dumps(blocks)},
    )
    (call,) = fake.calls_to("chat.postMessage")
    assert call.args == {"channel": "C2", "text": "form", "blocks": blocks}
    assert call.token == TOKEN


async def test_query_params_and_token_argument(fake: FakeSlack) -> None:
    anonymous = AsyncWebClient(base_url=fake.api_url)
    response = await anonymous.conversations_open(users="U7", token=TOKEN)
    assert response["channel"]["id"] == "DU7"
    (call,) = fake.calls_to("conversations.open")
    assert call.args == {"users": "U7"}
    assert call.token == TOKEN


async def test_other_methods_answer_realistically(fake: FakeSlack, client: AsyncWebClient) -> None:
    auth = await client.auth_test()
    assert auth["team_id"] == "T0001"
    assert auth["user_id"] == "U0BOT"
    assert auth["bot_id"] == "B0BOT"

    posted = await client.chat_postMessage(channel="C1", text="v1")
    updated = await client.chat_update(channel="C1", ts=posted["ts"], text="v2")
    assert (updated["channel"], updated["ts"], updated["text"]) == ("C1", posted["ts"], "v2")
    assert fake.messages[("C1", posted["ts"])]["text"] == "v2"

    ephemeral = await client.chat_postEphemeral(channel="C1", user="U1", text="psst")
    assert ephemeral["message_ts"]

    home = {"type": "home", "blocks": [section("home")]}
    published = await client.views_publish(user_id="U1", view=home)
    again = await client.views_publish(user_id="U1", view=home)
    assert published["view"]["id"].startswith("V")
    assert again["view"]["id"] == published["view"]["id"]
    assert published["view"]["blocks"] == home["blocks"]

    modal = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Hi"},
        "blocks": [section("m")],
    }
    opened = await client.views_open(trigger_id="1.2.abc", view=modal)
    changed = await client.views_update(view_id=opened["view"]["id"], view=modal)
    assert changed["view"]["id"] == opened["view"]["id"]

    with pytest.raises(SlackApiError) as unknown:
        await client.api_call("chat.scheduleMessage", json={"channel": "C1"})
    assert unknown.value.response["error"] == "unknown_method"

    with pytest.raises(SlackApiError) as no_text, pytest.warns(UserWarning, match="`text`"):
        await client.chat_postMessage(channel="C1")
    assert no_text.value.response["error"] == "no_text"
    # Slack refuses it, and the validator reports it too.
    assert fake.violations == ["chat.postMessage: message has no text, blocks or attachments"]
    fake.violations.clear()


@pytest.mark.parametrize("token", [None, "xoxp-user-token", "not-a-token"])
async def test_bad_token_is_refused(fake: FakeSlack, token: str | None) -> None:
    bad = AsyncWebClient(token=token, base_url=fake.api_url)
    with pytest.raises(SlackApiError) as error:
        await bad.chat_postMessage(channel="C1", text="hi")
    assert error.value.response["error"] == "invalid_auth"
    (call,) = fake.calls_to("chat.postMessage")
    assert call.failed
    assert call.token == token
    assert fake.successful_calls("chat.postMessage") == []


async def test_fail_injects_rate_limit(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail("chat.postMessage", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as error:
            await client.chat_postMessage(channel="C1", text="hi")
        assert error.value.response.status_code == 429
        assert error.value.response["error"] == "ratelimited"
        assert error.value.response.headers["Retry-After"] == "1"
    ok = await client.chat_postMessage(channel="C1", text="hi")
    assert ok["ok"]
    assert [c.failed for c in fake.calls_to("chat.postMessage")] == [True, True, False]
    # Other methods are not affected.
    assert fake.calls_to("auth.test") == []


async def test_fail_with_other_status_and_no_retry_after(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.fail("views.publish", error="internal_error", status=500, retry_after=None)
    with pytest.raises(SlackApiError) as error:
        await client.views_publish(user_id="U1", view={"type": "home", "blocks": []})
    assert error.value.response.status_code == 500
    assert "Retry-After" not in error.value.response.headers


async def test_rate_limit_retry_handler_recovers(fake: FakeSlack) -> None:
    retrying = AsyncWebClient(
        token=TOKEN,
        base_url=fake.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    fake.fail("chat.postMessage", retry_after=0)
    response = await retrying.chat_postMessage(channel="C1", text="hi")
    assert response["ok"]
    assert [c.failed for c in fake.calls_to("chat.postMessage")] == [True, False]


async def test_wait_for_wakes_on_the_call(fake: FakeSlack, client: AsyncWebClient) -> None:
    async def later() -> None:
        await asyncio.sleep(0.05)
        await client.chat_postMessage(channel="C1", text="one")
        await client.chat_postMessage(channel="C1", text="two")

    task = asyncio.create_task(later())
    calls = await fake.wait_for("chat.postMessage", count=2, timeout=5)
    assert [c.args["text"] for c in calls] == ["one", "two"]
    await task


async def test_wait_for_ignores_failed_calls_and_times_out(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.fail("chat.update")
    with pytest.raises(SlackApiError):
        await client.chat_update(channel="C1", ts="1.0", text="x")
    await client.chat_postMessage(channel="C1", text="other")
    with pytest.raises(AssertionError, match=r"1 successful chat.update") as error:
        await fake.wait_for("chat.update", timeout=0.05)
    assert "chat.postMessage" in str(error.value)  # lists the calls seen so far


async def test_wait_for_returns_at_once_when_already_there(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    await client.auth_test()
    assert len(await fake.wait_for("auth.test", timeout=0.01)) == 1


async def test_reset_clears_calls(fake: FakeSlack, client: AsyncWebClient) -> None:
    await client.auth_test()
    fake.reset()
    assert fake.calls == []


async def test_block_kit_violations_are_collected(fake: FakeSlack, client: AsyncWebClient) -> None:
    with pytest.warns(UserWarning, match="`text`"):  # slack_sdk only warns
        response = await client.chat_postMessage(channel="C1", blocks=[section("no fallback")])
    assert response["ok"]
    header = {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}
    await client.views_publish(user_id="U1", view={"type": "home", "blocks": [header]})
    webhook = AsyncWebhookClient(fake.response_url("v"))
    await webhook.send(text="t", blocks=[header])

    assert len(fake.violations) == 3
    assert fake.violations[0].startswith("chat.postMessage: ")
    assert "fallback" in fake.violations[0]
    assert fake.violations[1].startswith("views.publish: ")
    assert fake.violations[2].startswith("response_url: ")
    fake.violations.clear()  # keep a teardown check in a conftest happy


async def test_response_url_records_posts(fake: FakeSlack) -> None:
    url = fake.response_url("cmd")
    assert url.startswith(fake.base_url)
    webhook = AsyncWebhookClient(url)
    for i in range(5):
        response = await webhook.send(text=f"reply {i}", replace_original=True)
        assert response.status_code == 200
    calls = fake.calls_to("response_url")
    assert [c.args["text"] for c in calls] == [f"reply {i}" for i in range(5)]
    assert calls[0].args["replace_original"] is True
    assert calls[0].name == "cmd"
    assert calls[0].token is None

    spent = await webhook.send(text="sixth")
    assert spent.status_code == 404
    assert fake.calls_to("response_url")[-1].failed
    assert fake.calls_to("response_url")[-1].response == {"ok": False, "error": "used_url"}
    assert len(fake.violations) == 1
    assert "/response/cmd used 6 times" in fake.violations[0]
    fake.violations.clear()
    # Each name is a separate URL with its own budget.
    assert (await AsyncWebhookClient(fake.response_url("other")).send(text="x")).status_code == 200


# --- slack_requests + Bolt + FakeSlack -----------------------------------------------------


def test_signature_matches_slack_sdk_verifier() -> None:
    body, content_type = slash_command(text="list")
    headers = sign(body, SIGNING_SECRET, 1_700_000_000)
    assert content_type == "application/x-www-form-urlencoded"
    assert headers["Content-Type"] == content_type
    verifier = SignatureVerifier(SIGNING_SECRET, clock=_FixedClock(1_700_000_010))
    assert verifier.is_valid_request(body, headers)
    assert not SignatureVerifier("other", clock=_FixedClock(1_700_000_010)).is_valid_request(
        body, headers
    )
    assert headers["X-Slack-Signature"].startswith("v0=")
    json_body, json_type = event_callback({"type": "app_home_opened", "user": "U1"})
    assert json_type == "application/json"
    assert sign(json_body, SIGNING_SECRET)["Content-Type"] == "application/json"


class _FixedClock:
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def test_payload_shapes() -> None:
    body, _ = slash_command(text="add linkedin", user_id="U9", channel_id="C9")
    form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
    assert form["command"] == "/sources"
    assert form["text"] == "add linkedin"
    assert (form["user_id"], form["channel_id"], form["team_id"]) == ("U9", "C9", "T0001")
    assert form["trigger_id"] and form["response_url"]

    body, _ = block_actions("renew", "src-1", channel_id="C1", message_ts="1.000100")
    payload = json.loads(parse_qs(body)["payload"][0])
    assert payload["type"] == "block_actions"
    assert payload["container"] == {
        "type": "message",
        "message_ts": "1.000100",
        "channel_id": "C1",
        "is_ephemeral": False,
    }
    assert payload["channel"]["id"] == "C1"
    assert payload["message"]["ts"] == "1.000100"
    assert payload["actions"][0]["action_id"] == "renew"
    assert payload["actions"][0]["value"] == "src-1"
    assert payload["user"]["team_id"] == payload["team"]["id"] == "T0001"

    body, _ = block_actions("renew", "src-1", view=home_view("V42"))
    payload = json.loads(parse_qs(body)["payload"][0])
    assert payload["container"] == {"type": "view", "view_id": "V42"}
    assert payload["view"]["type"] == "home"
    assert "response_url" not in payload
    assert "channel" not in payload

    with pytest.raises(ValueError, match="channel_id"):
        block_actions("renew", "x")

    body, _ = app_home_opened("U5")
    event = json.loads(body)
    assert event["type"] == "event_callback"
    assert event["event"]["type"] == "app_home_opened"
    assert event["event"]["user"] == "U5"
    assert event["event"]["tab"] == "home"
    assert event["authorizations"][0]["team_id"] == "T0001"


def _bolt_app(fake: FakeSlack) -> AsyncApp:
    app = AsyncApp(
        client=AsyncWebClient(token=TOKEN, base_url=fake.api_url),
        signing_secret=SIGNING_SECRET,
    )

    @app.command("/sources")
    async def on_command(ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any]) -> None:
        await ack()
        await respond(text=f"you said {command['text']}", response_type="ephemeral")

    @app.action("renew")
    async def on_renew(ack: AsyncAck, respond: AsyncRespond, body: dict[str, Any]) -> None:
        await ack()
        if body["container"]["type"] == "message":
            await respond(text=f"renewing {body['actions'][0]['value']}", replace_original=False)

    @app.event("app_home_opened")
    async def on_home(event: dict[str, Any], client: AsyncWebClient) -> None:
        await client.views_publish(
            user_id=event["user"], view={"type": "home", "blocks": [section("Sources")]}
        )

    return app


async def _dispatch(app: AsyncApp, body: str, secret: str = SIGNING_SECRET) -> Any:
    return await app.async_dispatch(AsyncBoltRequest(body=body, headers=sign(body, secret)))


async def test_bolt_accepts_built_requests(fake: FakeSlack) -> None:
    app = _bolt_app(fake)

    body, _ = slash_command(text="list", response_url=fake.response_url("cmd"))
    assert (await _dispatch(app, body)).status == 200
    (reply,) = await fake.wait_for("response_url")
    assert reply.args["text"] == "you said list"
    assert reply.name == "cmd"

    body, _ = block_actions(
        "renew", "src-1", channel_id="C1", message_ts="1.0", response_url=fake.response_url("a")
    )
    assert (await _dispatch(app, body)).status == 200
    await fake.wait_for("response_url", count=2)
    assert fake.calls_to("response_url")[-1].args["text"] == "renewing src-1"

    body, _ = block_actions("renew", "src-2", view=home_view())
    assert (await _dispatch(app, body)).status == 200

    body, _ = app_home_opened("U5")
    assert (await _dispatch(app, body)).status == 200
    (publish,) = await fake.wait_for("views.publish")
    assert publish.args["user_id"] == "U5"
    assert publish.token == TOKEN
    assert fake.calls_to("auth.test")  # Bolt checked the token against the fake

    assert (await _dispatch(app, body, secret="wrong")).status == 401
    assert fake.violations == []


# --- FakeOAuthProvider ---------------------------------------------------------------------


@pytest.fixture
async def provider() -> AsyncIterator[FakeOAuthProvider]:
    server = FakeOAuthProvider()
    server.add_account("abc123", "Ada Lovelace")
    server.add_account("def456", "Grace Hopper")
    server.login_as("abc123")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def _oauth_client(provider: FakeOAuthProvider, **kwargs: Any) -> AsyncOAuth2Client:
    options: dict[str, Any] = {
        "client_id": "client-id",
        "client_secret": "client-secret",
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile",
        "code_challenge_method": "S256",
        "token_endpoint_auth_method": "client_secret_post",
    }
    options.update(kwargs)
    return AsyncOAuth2Client(**options)


async def _browser_visit(url: str) -> httpx2.Response:
    """The person's browser: follows nothing, returns the provider's answer."""
    async with httpx2.AsyncClient(follow_redirects=False) as browser:
        return await browser.get(url)


def _query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def _authorize(
    provider: FakeOAuthProvider, client: AsyncOAuth2Client, verifier: str
) -> tuple[str, str]:
    url, state = client.create_authorization_url(provider.authorize_url, code_verifier=verifier)
    response = await _browser_visit(url)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    assert _query(location)["state"] == state
    return location, _query(location)["code"]


async def test_code_flow_with_pkce(provider: FakeOAuthProvider) -> None:
    verifier = secrets.token_urlsafe(48)
    async with _oauth_client(provider) as client:
        location, _ = await _authorize(provider, client, verifier)
        sent = provider.authorize_requests[-1]
        assert sent["code_challenge_method"] == "S256"
        assert sent["scope"] == "openid profile"

        token = await client.fetch_token(
            provider.token_url, authorization_response=location, code_verifier=verifier
        )
        assert token["token_type"] == "Bearer"
        assert token["expires_in"] == 5184000
        assert token["scope"] == "openid,profile"
        assert "refresh_token" not in token
        assert "id_token" not in token
        assert provider.issued_tokens("abc123") == [token["access_token"]]
        assert provider.issued_tokens("def456") == []
        assert provider.token_requests[-1]["client_secret"] == "client-secret"

        me = await client.get(provider.userinfo_url)
        assert me.status_code == 200
        assert me.json()["sub"] == "abc123"
        assert me.json()["name"] == "Ada Lovelace"
        assert me.json()["given_name"] == "Ada"
        assert me.json()["family_name"] == "Lovelace"
        assert me.json()["picture"].startswith("https://")


async def test_reused_code_is_refused_and_its_tokens_revoked(
    provider: FakeOAuthProvider,
) -> None:
    verifier = secrets.token_urlsafe(48)
    async with _oauth_client(provider) as client:
        location, _ = await _authorize(provider, client, verifier)
        token = await client.fetch_token(
            provider.token_url, authorization_response=location, code_verifier=verifier
        )
        assert provider.token_is_live(token["access_token"])
        with pytest.raises(OAuthError) as error:
            await client.fetch_token(
                provider.token_url, authorization_response=location, code_verifier=verifier
            )
        assert error.value.error == "invalid_grant"
        assert not provider.token_is_live(token["access_token"])


async def test_wrong_or_missing_verifier_is_refused(provider: FakeOAuthProvider) -> None:
    async with _oauth_client(provider) as client:
        location, _ = await _authorize(provider, client, secrets.token_urlsafe(48))
        with pytest.raises(OAuthError) as error:
            await client.fetch_token(
                provider.token_url,
                authorization_response=location,
                code_verifier=secrets.token_urlsafe(48),
            )
        assert error.value.error == "invalid_grant"

    async with _oauth_client(provider) as client:
        _, code = await _authorize(provider, client, secrets.token_urlsafe(48))
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            provider.token_url,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "client_id": "client-id",
                "client_secret": "client-secret",
            },
        )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert provider.issued_tokens("abc123") == []


async def test_plain_flow_without_pkce_and_basic_auth(provider: FakeOAuthProvider) -> None:
    provider.login_as("def456")
    async with _oauth_client(
        provider, code_challenge_method=None, token_endpoint_auth_method="client_secret_basic"
    ) as client:
        url, _ = client.create_authorization_url(provider.authorize_url)
        location = (await _browser_visit(url)).headers["Location"]
        token = await client.fetch_token(provider.token_url, authorization_response=location)
        assert "client_secret" not in provider.token_requests[-1]
        assert provider.issued_tokens("def456") == [token["access_token"]]


async def test_client_authentication_and_redirect_uri_are_checked(
    provider: FakeOAuthProvider,
) -> None:
    async with _oauth_client(provider, client_secret="wrong") as client:
        location, _ = await _authorize(provider, client, "v" * 43)
        with pytest.raises(OAuthError) as error:
            await client.fetch_token(
                provider.token_url, authorization_response=location, code_verifier="v" * 43
            )
        assert error.value.error == "invalid_client"

    async with _oauth_client(provider) as client:
        location, _ = await _authorize(provider, client, "v" * 43)
        with pytest.raises(OAuthError) as error:
            await client.fetch_token(
                provider.token_url,
                authorization_response=location,
                code_verifier="v" * 43,
                redirect_uri="https://evil.example/callback",
            )
        assert error.value.error == "invalid_grant"


async def test_authorize_errors_and_denial(provider: FakeOAuthProvider) -> None:
    base = provider.authorize_url
    bad_client = await _browser_visit(
        f"{base}?response_type=code&client_id=nope&redirect_uri={REDIRECT_URI}&state=s"
    )
    assert bad_client.status_code == 400
    no_state = await _browser_visit(
        f"{base}?response_type=code&client_id=client-id&redirect_uri={REDIRECT_URI}"
    )
    assert no_state.status_code == 400

    provider.deny_next()
    async with _oauth_client(provider) as client:
        url, state = client.create_authorization_url(base, code_verifier="v" * 43)
        denied = await _browser_visit(url)
        assert denied.status_code == 302
        assert _query(denied.headers["Location"]) == {
            "error": "access_denied",
            "error_description": "The user cancelled LinkedIn login",
            "state": state,
        }
        # Only the next visit is denied.
        await _authorize(provider, client, "v" * 43)


async def test_redirect_keeps_existing_query(provider: FakeOAuthProvider) -> None:
    redirect = "https://bot.example/cb?network=linkedin&x=a+b"
    async with _oauth_client(provider, redirect_uri=redirect) as client:
        url, state = client.create_authorization_url(provider.authorize_url, code_verifier="v" * 43)
        location = (await _browser_visit(url)).headers["Location"]
    query = _query(location)
    assert query["network"] == "linkedin"
    assert query["x"] == "a b"
    assert query["state"] == state
    assert "code" in query


async def test_refresh_tokens_rotate() -> None:
    async with FakeOAuthProvider(issue_refresh_tokens=True) as provider:
        provider.add_account("abc123", "Ada Lovelace")
        async with _oauth_client(provider) as client:
            location, _ = await _authorize(provider, client, "v" * 43)
            first = await client.fetch_token(
                provider.token_url, authorization_response=location, code_verifier="v" * 43
            )
            assert first["refresh_token"]
            assert 0 < first["refresh_token_expires_in"] <= 365 * 86400

            second = await client.refresh_token(
                provider.token_url, refresh_token=first["refresh_token"]
            )
            assert second["access_token"] != first["access_token"]
            assert second["refresh_token"] != first["refresh_token"]
            assert second["refresh_token_expires_in"] <= first["refresh_token_expires_in"]

            with pytest.raises(OAuthError) as error:
                await client.refresh_token(provider.token_url, refresh_token=first["refresh_token"])
            assert error.value.error == "invalid_grant"
            assert error.value.description == "Token has been expired or revoked."
        assert provider.issued_tokens("abc123") == [first["access_token"], second["access_token"]]


async def _connected_token(provider: FakeOAuthProvider) -> str:
    async with _oauth_client(provider) as client:
        location, _ = await _authorize(provider, client, "v" * 43)
        token = await client.fetch_token(
            provider.token_url, authorization_response=location, code_verifier="v" * 43
        )
    return str(token["access_token"])


async def _userinfo(provider: FakeOAuthProvider, token: str | None) -> httpx2.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient() as http:
        return await http.get(provider.userinfo_url, headers=headers)


INVALID = {"message": "Invalid access token", "serviceErrorCode": 65600, "status": 401}


async def test_userinfo_refuses_unknown_expired_and_revoked_tokens(
    provider: FakeOAuthProvider,
) -> None:
    assert (await _userinfo(provider, None)).status_code == 401
    unknown = await _userinfo(provider, "nope")
    assert (unknown.status_code, unknown.json()) == (401, INVALID)

    token = await _connected_token(provider)
    assert (await _userinfo(provider, token)).status_code == 200
    start = datetime.now(UTC)
    provider.now = lambda: start + timedelta(seconds=5184000 + 1)
    expired = await _userinfo(provider, token)
    assert (expired.status_code, expired.json()) == (401, INVALID)
    provider.now = lambda: start + timedelta(days=59)
    assert (await _userinfo(provider, token)).status_code == 200

    provider.revoke_tokens("abc123")
    revoked = await _userinfo(provider, token)
    assert (revoked.status_code, revoked.json()) == (401, INVALID)


async def test_expired_code_is_refused(provider: FakeOAuthProvider) -> None:
    async with _oauth_client(provider) as client:
        location, _ = await _authorize(provider, client, "v" * 43)
        later = datetime.now(UTC) + timedelta(minutes=31)
        provider.now = lambda: later
        with pytest.raises(OAuthError) as error:
            await client.fetch_token(
                provider.token_url, authorization_response=location, code_verifier="v" * 43
            )
        assert error.value.error == "invalid_grant"


async def test_failure_injection(provider: FakeOAuthProvider) -> None:
    token = await _connected_token(provider)
    provider.fail_userinfo(status=503, times=2)
    assert (await _userinfo(provider, token)).status_code == 503
    assert (await _userinfo(provider, token)).status_code == 503
    assert (await _userinfo(provider, token)).status_code == 200

    provider.fail_token(status=503)
    async with _oauth_client(provider) as client:
        location, _ = await _authorize(provider, client, "v" * 43)
        with pytest.raises(httpx2.HTTPStatusError):  # authlib raises for 5xx
            await client.fetch_token(
                provider.token_url, authorization_response=location, code_verifier="v" * 43
            )
        assert len(provider.issued_tokens("abc123")) == 1
        # The failed request did not consume the code.
        await client.fetch_token(
            provider.token_url, authorization_response=location, code_verifier="v" * 43
        )
    assert len(provider.issued_tokens("abc123")) == 2


async def test_hang_token_is_released_by_timeout(provider: FakeOAuthProvider) -> None:
    provider.hang_token(0.2)
    async with _oauth_client(provider) as client:
        location, _ = await _authorize(provider, client, "v" * 43)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await client.fetch_token(
            provider.token_url, authorization_response=location, code_verifier="v" * 43
        )
        assert loop.time() - started >= 0.2
