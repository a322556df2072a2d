"""The networks' departures from plain OAuth 2.0, each in one small named function."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx2
from authlib.common.urls import add_params_to_qs

from bot.domain import Page
from bot.networks import Network
from bot.oauth.errors import TransientError, check_response


def tiktok_authorize_url(url: str) -> str:
    """TikTok names the client id ``client_key`` in its authorization URL."""
    parts = urlsplit(url)
    query = [
        ("client_key" if key == "client_id" else key, value)
        for key, value in parse_qsl(parts.query)
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def encode_client_key_post(
    client: Any, method: str, uri: str, headers: dict[str, str], body: str
) -> tuple[str, dict[str, str], str]:
    """authlib client authentication for TikTok: ``client_key`` and secret in the form body."""
    body = add_params_to_qs(
        body or "", [("client_key", client.client_id), ("client_secret", client.client_secret)]
    )
    if "Content-Length" in headers:
        headers["Content-Length"] = str(len(body))
    return uri, headers, body


def instagram_unwrap(token: dict[str, Any]) -> dict[str, Any]:
    """Instagram's code exchange answers flat in its reference and as ``{"data": [..]}`` in
    its login guide; accept both."""
    data = token.get("data")
    if "access_token" not in token and isinstance(data, list) and data:
        return dict(data[0])
    return token


async def instagram_long_lived(
    http: httpx2.AsyncClient, network: Network, short_lived: str
) -> dict[str, Any]:
    """Instagram Login gives a one-hour token; ``ig_exchange_token`` trades it for 60 days."""
    response = await http.get(
        network.url("exchange"),
        params={
            "grant_type": "ig_exchange_token",
            "client_secret": network.client_secret or "",
            "access_token": short_lived,
        },
    )
    check_response(network.title, response)
    return _token_answer(network, response)


async def instagram_refresh(
    http: httpx2.AsyncClient, network: Network, access_token: str
) -> dict[str, Any]:
    """``ig_refresh_token``: a live long-lived token at least a day old gets 60 more days."""
    response = await http.get(
        network.url("refresh"),
        params={"grant_type": "ig_refresh_token", "access_token": access_token},
    )
    check_response(network.title, response)
    return _token_answer(network, response)


async def facebook_exchange(
    http: httpx2.AsyncClient, network: Network, access_token: str
) -> dict[str, Any]:
    """``fb_exchange_token``: a live user token (short or long-lived) for a new 60-day one.

    Facebook has no refresh tokens; an expired token cannot be exchanged.
    """
    response = await http.get(
        network.url("token"),
        params={
            "grant_type": "fb_exchange_token",
            "client_id": network.client_id or "",
            "client_secret": network.client_secret or "",
            "fb_exchange_token": access_token,
        },
    )
    check_response(network.title, response)
    return _token_answer(network, response)


ORGANIZATION_NAMES = "projection=(elements*(*,organizationalTarget~(localizedName)))"


async def linkedin_organizations(
    http: httpx2.AsyncClient, network: Network, access_token: str
) -> list[Page]:
    """Organizations the member is an approved ADMINISTRATOR of (needs rw_organization_admin)."""
    url = network.url("organizations")
    if "projection=" not in url:  # an overridden URL still gets the organizations' names
        url += ("&" if "?" in url else "?") + ORGANIZATION_NAMES
    response = await http.get(url, headers=_bearer(access_token))
    check_response(network.title, response)
    pages = []
    for element in response.json().get("elements", []):
        if element.get("role") != "ADMINISTRATOR" or element.get("state", "APPROVED") != "APPROVED":
            continue
        urn = str(element.get("organizationalTarget") or element.get("organization", ""))
        # The projection in the catalogue's URL decorates each element with the org's name.
        name = (element.get("organizationalTarget~") or {}).get("localizedName") or urn
        pages.append(Page(account_id=urn.rsplit(":", 1)[-1], name=str(name)))
    return pages


async def facebook_pages(
    http: httpx2.AsyncClient, network: Network, access_token: str
) -> list[Page]:
    """The pages the person manages, each with its own page token (which does not expire)."""
    response = await http.get(network.url("accounts"), headers=_bearer(access_token))
    check_response(network.title, response)
    return [
        Page(
            account_id=str(page["id"]),
            name=str(page.get("name", page["id"])),
            access_token=page.get("access_token"),
        )
        for page in response.json().get("data", [])
    ]


async def youtube_channels(
    http: httpx2.AsyncClient, network: Network, access_token: str
) -> list[Page]:
    """Every channel the signed-in Google account owns (``mine=true``)."""
    response = await http.get(network.url("userinfo"), headers=_bearer(access_token))
    check_response(network.title, response)
    return [
        Page(account_id=str(item["id"]), name=str(item.get("snippet", {}).get("title", item["id"])))
        for item in response.json().get("items", [])
    ]


PAGE_LISTERS = {
    "linkedin": linkedin_organizations,
    "facebook": facebook_pages,
    "youtube": youtube_channels,
}


def _token_answer(network: Network, response: httpx2.Response) -> dict[str, Any]:
    """The JSON object of a token answer; an unreadable body is the network's failure."""
    try:
        answer = response.json()
    except ValueError as err:
        raise TransientError(f"{network.title} gave an unreadable answer") from err
    if not isinstance(answer, dict):
        raise TransientError(f"{network.title} gave an unreadable answer")
    return answer


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
