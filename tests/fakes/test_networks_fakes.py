"""The network fakes behave like the real networks, seen through plain HTTP requests."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx2
import pytest

from fakes.networks import (
    FAKES,
    FakeFacebook,
    FakeInstagram,
    FakeLinkedIn,
    FakeNetwork,
    FakePinterest,
    FakeTikTok,
    FakeX,
    FakeYouTube,
)

REDIRECT = "https://bot.example/oauth/callback"
START = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
BASIC = "Basic " + base64.b64encode(b"client-id:client-secret").decode()


@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(follow_redirects=False) as client:
        yield client


async def started(fake: FakeNetwork) -> FakeNetwork:
    await fake.start()
    fake.freeze(START)
    return fake


@pytest.fixture
async def linkedin() -> AsyncIterator[FakeLinkedIn]:
    async with FakeLinkedIn(issue_refresh_tokens=True) as fake:
        fake.freeze(START)
        fake.add_account("li-1", "Ada Lovelace")
        yield fake


@pytest.fixture
async def x() -> AsyncIterator[FakeX]:
    async with FakeX() as fake:
        fake.freeze(START)
        fake.add_account("2244994945", "X Dev", username="XDevelopers")
        yield fake


@pytest.fixture
async def facebook() -> AsyncIterator[FakeFacebook]:
    async with FakeFacebook() as fake:
        fake.freeze(START)
        fake.add_account("fb-1", "Grace Hopper")
        yield fake


@pytest.fixture
async def instagram() -> AsyncIterator[FakeInstagram]:
    async with FakeInstagram() as fake:
        fake.freeze(START)
        fake.add_account("17841400000000001", "Shop", username="the.shop")
        yield fake


@pytest.fixture
async def youtube() -> AsyncIterator[FakeYouTube]:
    async with FakeYouTube() as fake:
        fake.freeze(START)
        fake.add_account("UC-main", "Main Channel")
        yield fake


@pytest.fixture
async def tiktok() -> AsyncIterator[FakeTikTok]:
    async with FakeTikTok() as fake:
        fake.freeze(START)
        fake.add_account("open-1", "Dancer")
        yield fake


@pytest.fixture
async def pinterest() -> AsyncIterator[FakePinterest]:
    async with FakePinterest() as fake:
        fake.freeze(START)
        fake.add_account("pin-1", "Boards Inc", username="boardsinc")
        yield fake


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def visit(http: httpx2.AsyncClient, url: str, **params: str) -> dict[str, str]:
    """Play the browser: the authorize redirect's query parameters."""
    response = await http.get(url, params=params)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return dict(parse_qsl(location.query))


async def code_for(
    http: httpx2.AsyncClient, fake: FakeNetwork, scope: str, **extra: str
) -> dict[str, str]:
    params = {
        fake.CLIENT_ID_PARAM: fake.client_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": scope,
        "state": "st-1",
        **extra,
    }
    answer = await visit(http, fake.urls["authorize"], **params)
    assert answer["state"] == "st-1"
    return answer


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- common -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FAKES))
async def test_urls_and_env_cover_every_key(name: str) -> None:
    expected = {
        "linkedin": {"authorize", "token", "userinfo", "organizations"},
        "x": {"authorize", "token", "userinfo"},
        "facebook": {"authorize", "token", "userinfo", "accounts"},
        "instagram": {"authorize", "token", "exchange", "refresh", "userinfo"},
        "youtube": {"authorize", "token", "userinfo"},
        "tiktok": {"authorize", "token", "userinfo"},
        "pinterest": {"authorize", "token", "userinfo"},
    }[name]
    async with FAKES[name]() as fake:
        assert fake.name == name
        assert set(fake.urls) == expected
        env = fake.env()
        prefix = name.upper()
        assert env[f"{prefix}_CLIENT_ID"] == "client-id"
        assert env[f"{prefix}_CLIENT_SECRET"] == "client-secret"
        for key in expected:
            assert env[f"{prefix}_{key.upper()}_URL"].startswith(fake.base_url + "/")
        assert len(env) == len(expected) + 2


async def test_real_paths() -> None:
    async with FakeX() as x, FakeInstagram() as ig, FakeLinkedIn() as li:
        assert urlsplit(x.urls["token"]).path == "/2/oauth2/token"
        assert ig.env()["INSTAGRAM_REFRESH_URL"].endswith("/refresh_access_token")
        assert li.urls["organizations"].endswith(
            "/v2/organizationalEntityAcls?q=roleAssignee&role=ADMINISTRATOR&state=APPROVED"
        )


@pytest.mark.parametrize("name", sorted(FAKES))
async def test_authorize_validates_and_can_be_denied(name: str, http: httpx2.AsyncClient) -> None:
    async with FAKES[name]() as fake:
        fake.add_account("acc-1", "Someone")
        _verifier, challenge = pkce()
        params = {
            fake.CLIENT_ID_PARAM: fake.client_id,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "a b",
            "state": "s",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        wrong_client = {**params, fake.CLIENT_ID_PARAM: "other"}
        assert (await http.get(fake.urls["authorize"], params=wrong_client)).status_code == 400
        no_state = {k: v for k, v in params.items() if k != "state"}
        assert (await http.get(fake.urls["authorize"], params=no_state)).status_code == 400

        fake.deny_next()
        denied = await visit(http, fake.urls["authorize"], **params)
        assert denied["error"] == "access_denied"
        assert denied["state"] == "s"
        granted = await visit(http, fake.urls["authorize"], **params)
        assert granted["code"]
        assert fake.authorize_requests[-1]["state"] == "s"


async def test_tiktok_authorize_needs_client_key(
    tiktok: FakeTikTok, http: httpx2.AsyncClient
) -> None:
    params = {
        "client_id": "client-id",
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "user.info.basic",
        "state": "s",
    }
    assert (await http.get(tiktok.urls["authorize"], params=params)).status_code == 400


async def test_code_is_single_use_and_replay_revokes(
    linkedin: FakeLinkedIn, http: httpx2.AsyncClient
) -> None:
    answer = await code_for(http, linkedin, "openid profile")
    form = {
        "grant_type": "authorization_code",
        "code": answer["code"],
        "redirect_uri": REDIRECT,
        "client_id": "client-id",
        "client_secret": "client-secret",
    }
    first = await http.post(linkedin.urls["token"], data=form)
    assert first.status_code == 200
    again = await http.post(linkedin.urls["token"], data=form)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert not linkedin.token_is_live(first.json()["access_token"])


async def test_expired_code_refused(linkedin: FakeLinkedIn, http: httpx2.AsyncClient) -> None:
    answer = await code_for(http, linkedin, "openid profile")
    linkedin.advance(timedelta(minutes=11))
    response = await http.post(
        linkedin.urls["token"],
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": REDIRECT,
            "client_id": "client-id",
            "client_secret": "client-secret",
        },
    )
    assert response.status_code == 400


# --- LinkedIn ---------------------------------------------------------------------------------


async def test_linkedin_code_flow_refresh_and_identity(
    linkedin: FakeLinkedIn, http: httpx2.AsyncClient
) -> None:
    answer = await code_for(http, linkedin, "openid profile")
    form = {
        "grant_type": "authorization_code",
        "code": answer["code"],
        "redirect_uri": REDIRECT,
    }
    basic_only = await http.post(
        linkedin.urls["token"], data=form, headers={"Authorization": BASIC}
    )
    assert basic_only.status_code == 401  # LinkedIn wants the credentials in the form
    answer = await code_for(http, linkedin, "openid profile")
    form["code"] = answer["code"]
    response = await http.post(
        linkedin.urls["token"],
        data={**form, "client_id": "client-id", "client_secret": "client-secret"},
    )
    assert response.status_code == 200
    token = response.json()
    assert token["expires_in"] == 5184000
    assert token["scope"] == "openid,profile"
    assert token["refresh_token_expires_in"] == 365 * 86400

    me = await http.get(linkedin.urls["userinfo"], headers=bearer(token["access_token"]))
    assert me.json()["sub"] == "li-1"
    assert me.json()["name"] == "Ada Lovelace"

    linkedin.advance(timedelta(days=10))
    refreshed = await http.post(
        linkedin.urls["token"],
        data={
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": "client-id",
            "client_secret": "client-secret",
        },
    )
    body = refreshed.json()
    assert body["refresh_token"] != token["refresh_token"]
    assert body["refresh_token_expires_in"] == 355 * 86400  # counted from the first consent
    assert linkedin.refresh_uses(token["refresh_token"]) == 1

    linkedin.advance(timedelta(days=60))
    dead = await http.get(linkedin.urls["userinfo"], headers=bearer(body["access_token"]))
    assert dead.status_code == 401
    assert dead.json() == {
        "message": "Invalid access token",
        "serviceErrorCode": 65600,
        "status": 401,
    }


async def test_linkedin_organizations(linkedin: FakeLinkedIn, http: httpx2.AsyncClient) -> None:
    linkedin.add_organization("li-1", "2414183", "Acme")
    linkedin.add_organization("li-1", "777", "Fan club", role="ANALYST")
    token = linkedin.issue_tokens("li-1")["access_token"]
    response = await http.get(linkedin.urls["organizations"], headers=bearer(token))
    assert response.status_code == 200
    assert response.json()["elements"] == [
        {
            "organizationalTarget": "urn:li:organization:2414183",
            "role": "ADMINISTRATOR",
            "state": "APPROVED",
            "roleAssignee": "urn:li:person:li-1",
        }
    ]
    projection = "(elements*(*,organizationalTarget~(localizedName)))"
    projected = await http.get(
        linkedin.urls["organizations"] + "&projection=" + projection, headers=bearer(token)
    )
    [element] = projected.json()["elements"]
    assert element["organizationalTarget~"]["localizedName"] == "Acme"
    org = await http.get(f"{linkedin.base_url}/v2/organizations/2414183", headers=bearer(token))
    assert org.json()["localizedName"] == "Acme"

    narrow = linkedin.issue_tokens("li-1", scope=["openid", "profile"])["access_token"]
    denied = await http.get(linkedin.urls["organizations"], headers=bearer(narrow))
    assert denied.status_code == 403


# --- X ----------------------------------------------------------------------------------------


async def test_x_code_flow_pkce_basic_auth(x: FakeX, http: httpx2.AsyncClient) -> None:
    no_pkce = {
        "client_id": "client-id",
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "users.read",
        "state": "s",
    }
    assert (await http.get(x.urls["authorize"], params=no_pkce)).status_code == 400

    verifier, challenge = pkce()
    extra = {"code_challenge": challenge, "code_challenge_method": "S256"}
    answer = await code_for(http, x, "tweet.read users.read offline.access", **extra)
    form = {
        "grant_type": "authorization_code",
        "code": answer["code"],
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
        "client_id": "client-id",
    }
    in_body = await http.post(x.urls["token"], data={**form, "client_secret": "client-secret"})
    assert in_body.status_code == 401
    assert in_body.json()["error"] == "unauthorized_client"

    answer = await code_for(http, x, "tweet.read users.read offline.access", **extra)
    wrong = await http.post(
        x.urls["token"],
        data={**form, "code": answer["code"], "code_verifier": "not-it"},
        headers={"Authorization": BASIC},
    )
    assert wrong.status_code == 400
    assert wrong.json()["error_description"] == (
        "Value passed for the authorization code was invalid."
    )

    answer = await code_for(http, x, "tweet.read users.read offline.access", **extra)
    response = await http.post(
        x.urls["token"], data={**form, "code": answer["code"]}, headers={"Authorization": BASIC}
    )
    token = response.json()
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == 7200
    assert token["scope"] == "tweet.read users.read offline.access"
    assert token["refresh_token"]

    me = await http.get(x.urls["userinfo"], headers=bearer(token["access_token"]))
    assert me.json() == {"data": {"id": "2244994945", "name": "X Dev", "username": "XDevelopers"}}


async def test_x_refresh_token_needs_offline_access(x: FakeX, http: httpx2.AsyncClient) -> None:
    verifier, challenge = pkce()
    answer = await code_for(
        http, x, "tweet.read users.read", code_challenge=challenge, code_challenge_method="S256"
    )
    response = await http.post(
        x.urls["token"],
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        headers={"Authorization": BASIC},
    )
    assert "refresh_token" not in response.json()


async def test_x_refresh_rotates_and_old_is_refused(x: FakeX, http: httpx2.AsyncClient) -> None:
    tokens = x.issue_tokens("2244994945")

    async def refresh(value: str) -> httpx2.Response:
        return await http.post(
            x.urls["token"],
            data={"grant_type": "refresh_token", "refresh_token": value},
            headers={"Authorization": BASIC},
        )

    first = await refresh(tokens["refresh_token"])
    assert first.status_code == 200
    new = first.json()["refresh_token"]
    assert new != tokens["refresh_token"]
    again = await refresh(tokens["refresh_token"])
    assert again.status_code == 400
    assert again.json() == {
        "error": "invalid_request",
        "error_description": "Value passed for the token was invalid.",
    }
    assert x.refresh_uses(tokens["refresh_token"]) == 2
    assert (await refresh(new)).status_code == 200
    assert x.issued_refresh_tokens("2244994945")[0] == tokens["refresh_token"]


async def test_x_reuse_can_revoke_the_family(x: FakeX, http: httpx2.AsyncClient) -> None:
    x.reuse_revokes_family = True
    tokens = x.issue_tokens("2244994945")
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    first = await http.post(x.urls["token"], data=data, headers={"Authorization": BASIC})
    await http.post(x.urls["token"], data=data, headers={"Authorization": BASIC})
    assert not x.token_is_live(first.json()["refresh_token"])


async def test_x_dead_token(x: FakeX, http: httpx2.AsyncClient) -> None:
    token = x.issue_tokens("2244994945")["access_token"]
    x.advance(timedelta(hours=2))
    response = await http.get(x.urls["userinfo"], headers=bearer(token))
    assert response.status_code == 401
    assert response.json() == {
        "title": "Unauthorized",
        "type": "about:blank",
        "status": 401,
        "detail": "Unauthorized",
    }


# --- Facebook ---------------------------------------------------------------------------------


async def test_facebook_code_flow_and_exchange(
    facebook: FakeFacebook, http: httpx2.AsyncClient
) -> None:
    answer = await code_for(http, facebook, "public_profile,pages_show_list")
    response = await http.get(
        facebook.urls["token"],
        params={
            "client_id": "client-id",
            "client_secret": "client-secret",
            "redirect_uri": REDIRECT,
            "code": answer["code"],
        },
    )
    assert response.status_code == 200
    short = response.json()
    assert short["token_type"] == "bearer"
    assert short["expires_in"] == 3600

    exchanged = await http.get(
        facebook.urls["token"],
        params={
            "grant_type": "fb_exchange_token",
            "client_id": "client-id",
            "client_secret": "client-secret",
            "fb_exchange_token": short["access_token"],
        },
    )
    long = exchanged.json()
    assert long == {
        "access_token": long["access_token"],
        "token_type": "bearer",
        "expires_in": 5183944,
    }
    assert facebook.refresh_uses(short["access_token"]) == 1

    me = await http.get(facebook.urls["userinfo"], headers=bearer(long["access_token"]))
    assert me.json() == {"id": "fb-1", "name": "Grace Hopper"}

    facebook.advance(timedelta(hours=2))
    expired = await http.get(
        facebook.urls["token"],
        params={
            "grant_type": "fb_exchange_token",
            "client_id": "client-id",
            "client_secret": "client-secret",
            "fb_exchange_token": short["access_token"],
        },
    )
    assert expired.status_code == 400
    error = expired.json()["error"]
    assert error["type"] == "OAuthException"
    assert error["code"] == 190
    assert error["error_subcode"] == 463
    assert error["message"].startswith("Error validating access token: Session has expired on")
    assert error["fbtrace_id"]


async def test_facebook_bad_secret_and_redirect(
    facebook: FakeFacebook, http: httpx2.AsyncClient
) -> None:
    answer = await code_for(http, facebook, "public_profile")
    params = {"client_id": "client-id", "redirect_uri": REDIRECT, "code": answer["code"]}
    bad = await http.get(facebook.urls["token"], params={**params, "client_secret": "nope"})
    assert bad.status_code == 400
    assert bad.json()["error"]["message"] == "Error validating client secret."
    mismatch = await http.get(
        facebook.urls["token"],
        params={**params, "client_secret": "client-secret", "redirect_uri": REDIRECT + "/x"},
    )
    assert mismatch.json()["error"]["error_subcode"] == 36008


async def test_facebook_pages_and_page_tokens(
    facebook: FakeFacebook, http: httpx2.AsyncClient
) -> None:
    facebook.add_page("fb-1", "101", "Bakery")
    facebook.add_page("fb-1", "102", "Bookshop")
    facebook.add_page("fb-1", "103", "Cafe")
    user = facebook.issue_tokens("fb-1")["access_token"]
    response = await http.get(facebook.urls["accounts"], headers=bearer(user))
    body = response.json()
    assert [(p["id"], p["name"]) for p in body["data"]] == [
        ("101", "Bakery"),
        ("102", "Bookshop"),
        ("103", "Cafe"),
    ]
    assert set(body["data"][0]) == {"id", "name", "access_token"}
    assert "next" not in body["paging"]
    page_token = body["data"][0]["access_token"]
    assert facebook.token(page_token).expires_at is None  # from a long-lived user token

    me = await http.get(facebook.urls["userinfo"], headers=bearer(page_token))
    assert me.json() == {"id": "101", "name": "Bakery"}

    first = await http.get(facebook.urls["accounts"], params={"limit": "2"}, headers=bearer(user))
    assert len(first.json()["data"]) == 2
    following = await http.get(first.json()["paging"]["next"], headers=bearer(user))
    assert [p["id"] for p in following.json()["data"]] == ["103"]
    assert "next" not in following.json()["paging"]

    assert facebook.page_tokens("fb-1", user)["101"] == page_token

    facebook.revoke("fb-1", subcode=458)
    dead = await http.get(facebook.urls["userinfo"], headers=bearer(page_token))
    assert dead.status_code == 400
    assert dead.json()["error"]["code"] == 190
    assert dead.json()["error"]["error_subcode"] == 458


@pytest.mark.parametrize("subcode", [458, 459, 460, 467])
async def test_facebook_revoke_subcodes(
    facebook: FakeFacebook, http: httpx2.AsyncClient, subcode: int
) -> None:
    token = facebook.issue_tokens("fb-1")["access_token"]
    facebook.revoke("fb-1", subcode=subcode)
    response = await http.get(facebook.urls["userinfo"], params={"access_token": token})
    assert response.json()["error"]["error_subcode"] == subcode


async def test_facebook_unknown_token_and_denial(
    facebook: FakeFacebook, http: httpx2.AsyncClient
) -> None:
    response = await http.get(facebook.urls["userinfo"], headers=bearer("garbage"))
    assert response.json()["error"]["code"] == 190
    assert "error_subcode" not in response.json()["error"]
    facebook.deny_next()
    denied = await visit(
        http,
        facebook.urls["authorize"],
        client_id="client-id",
        redirect_uri=REDIRECT,
        state="s",
    )
    assert denied["error_reason"] == "user_denied"


# --- Instagram --------------------------------------------------------------------------------


async def test_instagram_code_exchange_and_refresh(
    instagram: FakeInstagram, http: httpx2.AsyncClient
) -> None:
    answer = await code_for(http, instagram, "instagram_business_basic")
    response = await http.post(
        instagram.urls["token"],
        data={
            "client_id": "client-id",
            "client_secret": "client-secret",
            "grant_type": "authorization_code",
            "redirect_uri": REDIRECT,
            "code": answer["code"],
        },
    )
    short = response.json()
    assert short["user_id"] == 17841400000000001
    assert short["permissions"] == "instagram_business_basic"
    assert instagram.token(short["access_token"]).expires_at == START + timedelta(hours=1)

    exchanged = await http.get(
        instagram.urls["exchange"],
        params={
            "grant_type": "ig_exchange_token",
            "client_secret": "client-secret",
            "access_token": short["access_token"],
        },
    )
    long = exchanged.json()
    assert long["token_type"] == "bearer"
    assert long["expires_in"] == 5184000

    refresh_params = {"grant_type": "ig_refresh_token", "access_token": long["access_token"]}
    young = await http.get(instagram.urls["refresh"], params=refresh_params)
    assert young.status_code == 400
    assert young.json()["error"]["code"] != 190  # the token itself is fine

    instagram.advance(timedelta(hours=25))
    refreshed = await http.get(instagram.urls["refresh"], params=refresh_params)
    assert refreshed.status_code == 200
    new = refreshed.json()
    assert new["access_token"] != long["access_token"]
    assert new["expires_in"] == 5184000
    assert instagram.refresh_uses(long["access_token"]) == 2

    me = await http.get(instagram.urls["userinfo"], headers=bearer(new["access_token"]))
    assert me.json() == {
        "user_id": "17841400000000001",
        "username": "the.shop",
        "id": "17841400000000001",
    }

    instagram.advance(timedelta(days=61))
    expired = await http.get(
        instagram.urls["refresh"],
        params={"grant_type": "ig_refresh_token", "access_token": new["access_token"]},
    )
    assert expired.json()["error"]["code"] == 190
    assert expired.json()["error"]["error_subcode"] == 463


async def test_instagram_data_style_and_errors(
    instagram: FakeInstagram, http: httpx2.AsyncClient
) -> None:
    instagram.token_response_style = "data"
    answer = await code_for(http, instagram, "instagram_business_basic")
    form = {
        "client_id": "client-id",
        "client_secret": "client-secret",
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT,
        "code": answer["code"],
    }
    wrapped = await http.post(instagram.urls["token"], data=form)
    assert wrapped.json()["data"][0]["user_id"] == 17841400000000001
    reused = await http.post(instagram.urls["token"], data=form)
    assert reused.status_code == 400
    assert reused.json()["error_type"] == "OAuthException"

    token = instagram.issue_tokens("17841400000000001")["access_token"]
    instagram.revoke("17841400000000001", subcode=460)
    dead = await http.get(instagram.urls["userinfo"], params={"access_token": token})
    assert dead.json()["error"]["error_subcode"] == 460


# --- YouTube ----------------------------------------------------------------------------------

YT_SCOPE = "https://www.googleapis.com/auth/youtube.readonly"


async def yt_exchange(
    http: httpx2.AsyncClient, youtube: FakeYouTube, **extra: str
) -> dict[str, Any]:
    answer = await code_for(http, youtube, YT_SCOPE, **extra)
    response = await http.post(
        youtube.urls["token"],
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": REDIRECT,
            "client_id": "client-id",
            "client_secret": "client-secret",
        },
    )
    assert response.status_code == 200
    return dict(response.json())


async def test_youtube_refresh_token_rules(youtube: FakeYouTube, http: httpx2.AsyncClient) -> None:
    online = await yt_exchange(http, youtube)
    assert "refresh_token" not in online
    assert online["expires_in"] == 3599
    assert online["token_type"] == "Bearer"

    first = await yt_exchange(http, youtube, access_type="offline")
    assert first["refresh_token"]
    again = await yt_exchange(http, youtube, access_type="offline")
    assert "refresh_token" not in again  # already consented
    forced = await yt_exchange(http, youtube, access_type="offline", prompt="consent")
    assert forced["refresh_token"] != first["refresh_token"]

    refreshed = await http.post(
        youtube.urls["token"],
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": "client-id",
            "client_secret": "client-secret",
        },
    )
    assert "refresh_token" not in refreshed.json()
    assert youtube.token_is_live(first["refresh_token"])

    youtube.revoke("UC-main")
    dead = await http.post(
        youtube.urls["token"],
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        headers={"Authorization": BASIC},
    )
    assert dead.status_code == 400
    assert dead.json() == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }
    after_revoke = await yt_exchange(http, youtube, access_type="offline")
    assert after_revoke["refresh_token"]


async def test_youtube_channels(youtube: FakeYouTube, http: httpx2.AsyncClient) -> None:
    youtube.add_channel("UC-main", "UC-second", "Second Channel")
    token = youtube.issue_tokens("UC-main")["access_token"]
    response = await http.get(youtube.urls["userinfo"], headers=bearer(token))
    body = response.json()
    assert body["kind"] == "youtube#channelListResponse"
    assert [(i["id"], i["snippet"]["title"]) for i in body["items"]] == [
        ("UC-main", "Main Channel"),
        ("UC-second", "Second Channel"),
    ]

    youtube.add_account("g-2", "No channel", channel=False)
    empty = await http.get(
        youtube.urls["userinfo"], headers=bearer(youtube.issue_tokens("g-2")["access_token"])
    )
    assert "items" not in empty.json()
    assert empty.json()["pageInfo"]["totalResults"] == 0

    youtube.advance(timedelta(hours=1))
    dead = await http.get(youtube.urls["userinfo"], headers=bearer(token))
    assert dead.status_code == 401
    assert dead.json()["error"]["status"] == "UNAUTHENTICATED"
    assert dead.json()["error"]["code"] == 401


# --- TikTok -----------------------------------------------------------------------------------


async def test_tiktok_flow_rotation_and_identity(
    tiktok: FakeTikTok, http: httpx2.AsyncClient
) -> None:
    answer = await code_for(http, tiktok, "user.info.basic")
    assert answer["scopes"] == "user.info.basic"
    response = await http.post(
        tiktok.urls["token"],
        data={
            "client_key": "client-id",
            "client_secret": "client-secret",
            "code": answer["code"],
            "grant_type": "authorization_code",
            "redirect_uri": REDIRECT,
        },
    )
    token = response.json()
    assert token["open_id"] == "open-1"
    assert token["expires_in"] == 86400
    assert token["refresh_expires_in"] == 31536000
    assert token["token_type"] == "Bearer"

    def refresh_form(value: str) -> dict[str, str]:
        return {
            "client_key": "client-id",
            "client_secret": "client-secret",
            "grant_type": "refresh_token",
            "refresh_token": value,
        }

    tiktok.advance(timedelta(days=1))
    first = await http.post(tiktok.urls["token"], data=refresh_form(token["refresh_token"]))
    rotated = first.json()
    assert rotated["refresh_token"] != token["refresh_token"]
    assert rotated["refresh_expires_in"] == 31536000 - 86400
    spent = await http.post(tiktok.urls["token"], data=refresh_form(token["refresh_token"]))
    assert spent.status_code == 200  # TikTok answers OAuth errors with 200 (3P)
    assert spent.json()["error"] == "invalid_grant"
    assert spent.json()["error_description"] == "Refresh token is invalid or expired."
    assert spent.json()["log_id"]
    tiktok.oauth_error_status = 400
    spent = await http.post(tiktok.urls["token"], data=refresh_form(token["refresh_token"]))
    assert spent.status_code == 400

    me = await http.get(tiktok.urls["userinfo"], headers=bearer(rotated["access_token"]))
    body = me.json()
    assert body["data"] == {"user": {"open_id": "open-1", "display_name": "Dancer"}}
    assert body["error"]["code"] == "ok"

    tiktok.revoke("open-1")
    dead = await http.get(tiktok.urls["userinfo"], headers=bearer(rotated["access_token"]))
    assert dead.status_code == 401
    assert dead.json()["data"] == {}
    assert dead.json()["error"]["code"] == "access_token_invalid"
    assert dead.json()["error"]["message"] == (
        "The access token is invalid or not found in the request."
    )


async def test_tiktok_needs_client_key_in_form(
    tiktok: FakeTikTok, http: httpx2.AsyncClient
) -> None:
    answer = await code_for(http, tiktok, "user.info.basic")
    response = await http.post(
        tiktok.urls["token"],
        data={
            "client_id": "client-id",
            "client_secret": "client-secret",
            "code": answer["code"],
            "grant_type": "authorization_code",
            "redirect_uri": REDIRECT,
        },
    )
    assert response.json()["error"] == "invalid_client"


# --- Pinterest --------------------------------------------------------------------------------


async def test_pinterest_flow_and_refresh_on(
    pinterest: FakePinterest, http: httpx2.AsyncClient
) -> None:
    answer = await code_for(http, pinterest, "user_accounts:read,boards:read")
    form = {"grant_type": "authorization_code", "code": answer["code"], "redirect_uri": REDIRECT}
    in_body = await http.post(
        pinterest.urls["token"],
        data={**form, "client_id": "client-id", "client_secret": "client-secret"},
    )
    assert in_body.status_code == 401
    answer = await code_for(http, pinterest, "user_accounts:read,boards:read")
    response = await http.post(
        pinterest.urls["token"],
        data={**form, "code": answer["code"]},
        headers={"Authorization": BASIC},
    )
    token = response.json()
    assert token["response_type"] == "authorization_code"
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == 2592000
    assert token["refresh_token_expires_in"] == 31536000

    async def refresh(value: str, **extra: str) -> httpx2.Response:
        return await http.post(
            pinterest.urls["token"],
            data={"grant_type": "refresh_token", "refresh_token": value, **extra},
            headers={"Authorization": BASIC},
        )

    plain = (await refresh(token["refresh_token"])).json()
    assert plain["response_type"] == "refresh_token"
    assert "refresh_token" not in plain
    everlasting = (await refresh(token["refresh_token"], refresh_on="true")).json()
    assert everlasting["response_type"] == "everlasting_refresh"
    assert everlasting["refresh_token"] != token["refresh_token"]
    assert everlasting["refresh_token_expires_at"] > int(START.timestamp())
    old = await refresh(token["refresh_token"])
    assert old.status_code == 401
    assert old.json() == {"code": 283, "message": "The authorization grant is invalid"}
    assert pinterest.refresh_uses(token["refresh_token"]) == 3

    me = await http.get(pinterest.urls["userinfo"], headers=bearer(everlasting["access_token"]))
    assert me.json()["username"] == "boardsinc"
    assert me.json()["id"] == "pin-1"
    assert me.json()["account_type"] == "BUSINESS"

    dead = await http.get(pinterest.urls["userinfo"], headers=bearer(token["access_token"]))
    assert dead.status_code == 200  # the first access token is still live
    pinterest.revoke("pin-1")
    dead = await http.get(pinterest.urls["userinfo"], headers=bearer(token["access_token"]))
    assert dead.status_code == 401
    assert dead.json() == {"code": 2, "message": "Authentication failed."}


async def test_pinterest_continuous_refresh(
    pinterest: FakePinterest, http: httpx2.AsyncClient
) -> None:
    pinterest.continuous_refresh = True
    tokens = pinterest.issue_tokens("pin-1")
    response = await http.post(
        pinterest.urls["token"],
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers={"Authorization": BASIC},
    )
    body = response.json()
    assert body["refresh_token"] != tokens["refresh_token"]
    assert body["refresh_token_expires_in"] == 60 * 86400


# --- failures, clock, direct tokens -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("linkedin", "organizations"),
        ("x", "token"),
        ("facebook", "accounts"),
        ("instagram", "refresh"),
        ("youtube", "userinfo"),
        ("tiktok", "userinfo"),
        ("pinterest", "token"),
    ],
)
async def test_fail_with_retry_after(name: str, key: str, http: httpx2.AsyncClient) -> None:
    async with FAKES[name]() as fake:
        fake.fail(key, status=429, times=2, retry_after=30)
        method = "POST" if key == "token" else "GET"
        for _ in range(2):
            response = await http.request(method, fake.urls[key])
            assert response.status_code == 429
            assert response.headers["retry-after"] == "30"
            assert response.json()["error"] == "temporarily_unavailable"
        after = await http.request(method, fake.urls[key])
        assert after.status_code not in (429, 503)
        assert fake.requests[-1].key == key


async def test_fail_custom_body_and_refresh_only(x: FakeX, http: httpx2.AsyncClient) -> None:
    x.fail("userinfo", status=503, body="upstream down")
    response = await http.get(x.urls["userinfo"])
    assert response.status_code == 503
    assert response.text == "upstream down"
    assert "retry-after" not in response.headers

    tokens = x.issue_tokens("2244994945")
    x.fail("refresh", status=500)
    failed = await http.post(
        x.urls["token"],
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers={"Authorization": BASIC},
    )
    assert failed.status_code == 500
    assert x.token_is_live(tokens["refresh_token"])  # a 5xx spends nothing
    assert x.refresh_uses(tokens["refresh_token"]) == 0
    with pytest.raises(KeyError):
        x.fail("accounts")


async def test_hang_delays_answer(x: FakeX, http: httpx2.AsyncClient) -> None:
    x.hang("userinfo", 5)
    with pytest.raises(httpx2.ReadTimeout):
        await http.get(x.urls["userinfo"], timeout=0.2)


@pytest.mark.parametrize("name", sorted(FAKES))
async def test_issue_tokens_expire_and_revoke(name: str) -> None:
    fake = await started(FAKES[name]())
    try:
        fake.add_account("acc-1", "Someone")
        tokens = fake.issue_tokens("acc-1", lifetime=timedelta(hours=3))
        assert tokens["expires_at"] == START + timedelta(hours=3)
        assert fake.token_is_live(tokens["access_token"])
        assert fake.issued_access_tokens("acc-1") == [tokens["access_token"]]
        has_refresh = name not in ("facebook", "instagram")
        assert ("refresh_token" in tokens) is has_refresh
        fake.advance(timedelta(hours=3))
        assert not fake.token_is_live(tokens["access_token"])
        if has_refresh:
            assert fake.token_is_live(tokens["refresh_token"])
            fake.revoke("acc-1")
            assert not fake.token_is_live(tokens["refresh_token"])
    finally:
        await fake.stop()
