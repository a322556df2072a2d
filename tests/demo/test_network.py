"""The demo network: an OAuth 2 authorization server (code grant with PKCE) on authlib."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import httpx2
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from starlette.applications import Starlette
from starlette.routing import Mount

from bot.demo.clock import OffsetClock
from bot.demo.network import ACCOUNTS, DemoNetwork
from bot.demo.server import Running
from bot.oauth.client import OAuthClient

REDIRECT = "http://localhost/oauth/callback/linkedin"
VERIFIER = "v" * 50


@pytest.fixture
async def network() -> AsyncIterator[tuple[DemoNetwork, httpx2.AsyncClient]]:
    network = DemoNetwork(OffsetClock())
    app = Starlette(routes=[Mount("/n", routes=network.routes())])
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://localhost"
    ) as http:
        yield network, http


async def authorize(
    http: httpx2.AsyncClient, client_id: str, account: str, **extra: str
) -> dict[str, list[str]]:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid profile",
        "state": "s" * 43,
        **extra,
    }
    page = await http.get("/n/authorize", params=params)
    assert page.status_code == 200
    answer = await http.post(
        "/n/authorize", params=params, data={"account": account} if account else {"account": ""}
    )
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(REDIRECT)
    return parse_qs(urlparse(location).query)


async def token(
    http: httpx2.AsyncClient, client_id: str, secret: str, code: str, **extra: str
) -> httpx2.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": client_id,
        "client_secret": secret,
        **extra,
    }
    return await http.post("/n/token", data=data)


async def test_login_page_says_which_account_is_which(
    network: tuple[DemoNetwork, httpx2.AsyncClient],
) -> None:
    net, http = network
    client = net.register_client(REDIRECT)
    page = await http.get(
        "/n/authorize",
        params={"response_type": "code", "client_id": client.client_id, "redirect_uri": REDIRECT},
    )
    assert page.status_code == 200
    assert "standing in for LinkedIn" in page.text
    for label in ("right account", "wrong account", "manages 2 pages"):
        assert label in page.text
    for account in ACCOUNTS.values():
        assert account.name in page.text and f'value="{account.key}"' in page.text


async def test_code_grant_with_pkce(network: tuple[DemoNetwork, httpx2.AsyncClient]) -> None:
    net, http = network
    client = net.register_client(REDIRECT)
    challenge = {
        "code_challenge": create_s256_code_challenge(VERIFIER),
        "code_challenge_method": "S256",
    }
    query = await authorize(http, client.client_id, "acme", **challenge)
    assert query["state"] == ["s" * 43]
    (code,) = query["code"]

    wrong = await token(http, client.client_id, client.client_secret, code, code_verifier="w" * 50)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    missing = await token(http, client.client_id, client.client_secret, code)
    assert missing.status_code == 400 and "code_verifier" in missing.json()["error_description"]

    issued = await token(http, client.client_id, client.client_secret, code, code_verifier=VERIFIER)
    assert issued.status_code == 200, issued.text
    body = issued.json()
    assert body["expires_in"] == 60 * 24 * 3600 and "refresh_token" not in body
    me = await http.get("/n/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json() == {"sub": "demo-acme-corp", "name": "Acme Corp"}

    again = await token(http, client.client_id, client.client_secret, code, code_verifier=VERIFIER)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"  # single use


async def test_refusals(network: tuple[DemoNetwork, httpx2.AsyncClient]) -> None:
    net, http = network
    client = net.register_client(REDIRECT)
    cancelled = await authorize(http, client.client_id, "")
    assert cancelled["error"] == ["access_denied"] and cancelled["state"] == ["s" * 43]

    (code,) = (await authorize(http, client.client_id, "jordan"))["code"]
    bad_secret = await token(http, client.client_id, "not-the-secret", code)
    assert bad_secret.status_code == 401 and bad_secret.json()["error"] == "invalid_client"
    other_uri = await token(
        http, client.client_id, client.client_secret, code, redirect_uri="http://localhost/x"
    )
    assert other_uri.json()["error"] == "invalid_grant"

    unknown = await http.get(
        "/n/authorize",
        params={"response_type": "code", "client_id": "nobody", "redirect_uri": REDIRECT},
    )
    assert unknown.status_code == 400 and "refused" in unknown.text


async def test_tokens_expire_on_the_demo_clock(
    network: tuple[DemoNetwork, httpx2.AsyncClient],
) -> None:
    net, http = network
    client = net.register_client(REDIRECT)
    (code,) = (await authorize(http, client.client_id, "sam"))["code"]
    access = (await token(http, client.client_id, client.client_secret, code)).json()[
        "access_token"
    ]
    bearer = {"Authorization": f"Bearer {access}"}
    pages = (await http.get("/n/organizations", headers=bearer)).json()["elements"]
    assert [p["organizationalTarget~"]["localizedName"] for p in pages] == [
        "Acme Careers",
        "Acme Labs",
    ]
    assert isinstance(net.clock, OffsetClock)
    net.clock.advance(timedelta(days=61))
    expired = await http.get("/n/userinfo", headers=bearer)
    assert expired.status_code == 401 and expired.json()["serviceErrorCode"] == 65600


async def test_the_bots_linkedin_code_reads_the_demo_network(demo: Running) -> None:
    """Identity and the pages a login manages, through the bot's own LinkedIn client."""
    bot = demo.demo.bot
    network = bot.services.ctx.catalogue["linkedin"]
    assert network.configured and "/demo/network/" in network.token_url
    sam = demo.demo.network.mint(ACCOUNTS["sam"], demo.demo.clock.now() + timedelta(days=1))
    client = OAuthClient(network, bot.settings.redirect_uri("linkedin"), pages=True)
    assert (await client.identity(sam)).name == "Sam Rivera"
    assert [(p.account_id, p.name) for p in await client.pages(sam)] == [
        ("2001", "Acme Careers"),
        ("2002", "Acme Labs"),
    ]


async def test_x_client_uses_basic_auth_and_rotating_refresh_tokens(
    network: tuple[DemoNetwork, httpx2.AsyncClient],
) -> None:
    net, http = network
    client = net.register_x_client(REDIRECT)
    challenge = {
        "code_challenge": create_s256_code_challenge(VERIFIER),
        "code_challenge_method": "S256",
    }
    (code,) = (await authorize(http, client.client_id, "acme", **challenge))["code"]
    basic = httpx2.BasicAuth(client.client_id, client.client_secret)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    in_form = await token(
        http, client.client_id, client.client_secret, code, code_verifier=VERIFIER
    )
    assert in_form.status_code == 401  # this client authenticates with HTTP Basic only
    issued = await http.post("/n/token", data={**form, "code_verifier": VERIFIER}, auth=basic)
    assert issued.status_code == 200, issued.text
    first = issued.json()
    assert first["expires_in"] == 7200 and first["refresh_token"]
    me = await http.get(
        "/n/x/users/me", headers={"Authorization": f"Bearer {first['access_token']}"}
    )
    assert me.json() == {"data": {"id": "demo-acme-corp", "name": "Acme Corp", "username": "acme"}}

    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    renewed = await http.post("/n/token", data=refresh, auth=basic)
    assert renewed.status_code == 200 and renewed.json()["refresh_token"] != first["refresh_token"]
    spent = await http.post("/n/token", data=refresh, auth=basic)
    assert spent.status_code == 400 and spent.json()["error"] == "invalid_grant"
