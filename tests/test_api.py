"""The HTTP API under /api/v1, through the real ASGI app; every response held to the
OpenAPI document the bot serves (tests/openapi_check.py)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import httpx2
import pytest
from api_support import OTHER_TEAM, add_sources, append_event, new_key
from conftest import TEAM, Harness
from openapi_check import OpenAPIChecker, checked_api
from openapi_spec_validator import validate as validate_spec
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.services.events import EventType
from bot.services.sources import source_json
from bot.store.models import ApiKey
from bot.web.api import json_body
from bot.web.problems import ApiProblem

PROBLEM = "application/problem+json"


def problem_type(response: httpx2.Response) -> str:
    assert response.headers["content-type"].startswith(PROBLEM)
    kind: str = response.json()["type"]
    return kind.removeprefix("urn:sources-bot:problem:")


@pytest.fixture
async def acme(harness: Harness) -> dict[str, Any]:
    """Workspace TEAM with four sources (active, expiring, expired, and one on X), another
    workspace with one source, and a key for each."""
    ids = await add_sources(
        harness,
        {"account_id": "urn-a", "name": "Acme", "expires_in": 40},
        {"account_id": "urn-b", "name": "Acme Jobs", "expires_in": 3},
        {"account_id": "urn-c", "name": "Acme Labs", "expires_in": -2},
        {"account_id": "x-1", "name": "@acme", "network": "x", "expires_in": 20},
    )
    (other,) = await add_sources(harness, {"account_id": "urn-z", "name": "Rival"}, team=OTHER_TEAM)
    return {
        "ids": ids,
        "other": other,
        "key": await new_key(harness),
        "other_key": await new_key(harness, OTHER_TEAM, "rival-platform"),
    }


# --- the document ------------------------------------------------------------------------


async def test_the_document_is_valid_openapi_31_and_describes_every_endpoint(
    harness: Harness,
) -> None:
    response = await harness.http.get("/api/v1/openapi.json")  # no key needed

    assert response.status_code == 200
    document = response.json()
    validate_spec(document)
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/api/v1/sources",
        "/api/v1/sources/{id}",
        "/api/v1/sources/{id}/token",
        "/api/v1/sources/{id}/reconnect-link",
        "/api/v1/events",
        "/api/v1/openapi.json",
    }
    for path, operations in document["paths"].items():
        for operation in operations.values():
            if path != "/api/v1/openapi.json":
                assert "401" in operation["responses"], path
    token = document["paths"]["/api/v1/sources/{id}/token"]["post"]["responses"]
    assert {"200", "409", "503"} <= set(token)


async def test_the_checker_catches_a_response_the_document_does_not_describe(
    harness: Harness,
) -> None:
    checker = OpenAPIChecker((await harness.http.get("/api/v1/openapi.json")).json())
    request = httpx2.Request("GET", "http://bot.test/api/v1/sources/7")
    good = {
        "id": 7,
        "workspace": TEAM,
        "network": "linkedin",
        "account_id": "urn",
        "name": "Acme",
        "kind": "account",
        "status": "active",
        "expires_at": None,
        "last_error": None,
        "connected_by": None,
        "renews_by_itself": False,
        "next_renewal_at": None,
    }
    checker.check(httpx2.Response(200, json=good, request=request))

    with pytest.raises(AssertionError, match="access_token"):
        checker.check(httpx2.Response(200, json={**good, "access_token": "x"}, request=request))
    with pytest.raises(AssertionError, match="status"):
        checker.check(httpx2.Response(200, json={**good, "status": "fine"}, request=request))
    with pytest.raises(AssertionError, match="not documented"):
        checker.check(httpx2.Response(418, json={}, request=request))
    with pytest.raises(AssertionError, match="header WWW-Authenticate"):
        checker.check(
            httpx2.Response(
                401,
                content=b'{"type":"urn:sources-bot:problem:unauthorized","title":"t","status":401,'
                b'"detail":"d"}',
                headers={"content-type": PROBLEM},
                request=request,
            )
        )


# --- sources -----------------------------------------------------------------------------


async def test_sources_are_listed_as_the_cli_lists_them_with_renewal_fields(
    harness: Harness, acme: dict[str, Any]
) -> None:
    async with checked_api(harness, acme["key"]) as api:
        response = await api.get("/api/v1/sources")

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["next_cursor"] is None
    expected = [source_json(s) for s in await harness.services.sources.list(TEAM)]
    assert sorted(body["sources"], key=lambda s: s["id"]) == sorted(expected, key=lambda s: s["id"])
    by_name = {s["name"]: s for s in body["sources"]}
    assert [s["id"] for s in body["sources"]] == sorted(acme["ids"])
    assert by_name["Acme"]["status"] == "active"
    assert by_name["Acme Jobs"]["status"] == "expiring"
    assert by_name["Acme Labs"]["status"] == "expired"
    assert by_name["Acme"]["kind"] == "account"
    assert by_name["Acme"]["renews_by_itself"] is False
    assert by_name["Acme"]["next_renewal_at"] is None
    assert "secret-token" not in response.text


async def test_pages_follow_next_cursor_to_the_end_without_repeats(
    harness: Harness, acme: dict[str, Any]
) -> None:
    seen: list[int] = []
    async with checked_api(harness, acme["key"]) as api:
        cursor = None
        for _ in range(5):
            params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
            body = (await api.get("/api/v1/sources", params=params)).json()
            assert len(body["sources"]) == 1
            seen.append(body["sources"][0]["id"])
            cursor = body["next_cursor"]
            if cursor is None:
                break

    assert seen == sorted(acme["ids"])


async def test_status_and_network_filter_the_pages(harness: Harness, acme: dict[str, Any]) -> None:
    more = await add_sources(
        harness,
        *({"account_id": f"urn-old-{n}", "expires_in": -1} for n in range(4)),
    )
    async with checked_api(harness, acme["key"]) as api:
        first = (await api.get("/api/v1/sources", params={"status": "expired", "limit": 3})).json()
        second = (
            await api.get(
                "/api/v1/sources",
                params={"status": "expired", "limit": 3, "cursor": first["next_cursor"]},
            )
        ).json()
        x = (await api.get("/api/v1/sources", params={"network": "x"})).json()

    expired = [acme["ids"][2], *more]
    assert [s["id"] for s in first["sources"]] == expired[:3]
    assert [s["id"] for s in second["sources"]] == expired[3:]
    assert second["next_cursor"] is None
    assert all(s["status"] == "expired" for s in first["sources"] + second["sources"])
    assert [s["name"] for s in x["sources"]] == ["@acme"]


async def test_one_source_by_id(harness: Harness, acme: dict[str, Any]) -> None:
    source_id = acme["ids"][1]
    async with checked_api(harness, acme["key"]) as api:
        response = await api.get(f"/api/v1/sources/{source_id}")

    assert response.status_code == 200
    info = await harness.services.sources.get(TEAM, source_id)
    assert info is not None
    assert response.json() == source_json(info)


async def test_another_workspaces_source_is_as_unknown_as_a_missing_one(
    harness: Harness, acme: dict[str, Any]
) -> None:
    async with checked_api(harness, acme["key"]) as api:
        theirs = await api.get(f"/api/v1/sources/{acme['other']}")
        missing = await api.get("/api/v1/sources/99999")
        not_a_number = await api.get("/api/v1/sources/abc")
        listed = (await api.get("/api/v1/sources", params={"limit": 200})).json()

    for response in (theirs, missing, not_a_number):
        assert response.status_code == 404
        assert problem_type(response) == "not_found"
    assert theirs.json()["title"] == missing.json()["title"]
    assert theirs.json()["detail"].replace(str(acme["other"]), "N") == missing.json()[
        "detail"
    ].replace("99999", "N")
    assert acme["other"] not in [s["id"] for s in listed["sources"]]
    assert "Rival" not in str(listed)


async def test_each_key_sees_only_its_workspace(harness: Harness, acme: dict[str, Any]) -> None:
    ours = await append_event(harness, EventType.EXPIRED, acme["ids"][2])
    theirs = await append_event(harness, EventType.RENEWED, acme["other"], team=OTHER_TEAM)
    harness.clock.advance(timedelta(seconds=5))

    async with checked_api(harness, acme["other_key"]) as api:
        sources = (await api.get("/api/v1/sources")).json()["sources"]
        events = (await api.get("/api/v1/events")).json()["events"]
        ours_by_id = await api.get(f"/api/v1/sources/{acme['ids'][0]}")

    assert [s["id"] for s in sources] == [acme["other"]]
    # Its source's import announcement (issue 7), then the event appended here.
    assert [(e["type"], e["source_id"]) for e in events] == [
        ("source.connected", acme["other"]),
        ("source.renewed", acme["other"]),
    ]
    assert events[-1]["id"] == theirs
    assert ours not in str(events)
    assert ours_by_id.status_code == 404


# --- events ------------------------------------------------------------------------------


async def test_the_feed_is_oldest_first_pages_with_after_and_waits_for_events_to_settle(
    harness: Harness, acme: dict[str, Any]
) -> None:
    source_id = acme["ids"][0]
    harness.clock.advance(timedelta(seconds=2))
    async with checked_api(harness, acme["key"]) as api:
        imported = (await api.get("/api/v1/events")).json()
    # The import that made the fixture's sources announced each of them (issue 7).
    assert [e["type"] for e in imported["events"]] == ["source.connected"] * len(acme["ids"])
    start = {"after": imported["next_after"]}
    appended = []
    for kind in (EventType.RENEWED, EventType.RENEWAL_FAILING, EventType.EXPIRED):
        appended.append(await append_event(harness, kind, source_id, {"reason": "r"}))
        harness.clock.advance(timedelta(milliseconds=700))

    async with checked_api(harness, acme["key"]) as api:
        # The last event is 0.7 s old, the second 1.4 s: only the first has settled.
        early = (await api.get("/api/v1/events", params=start)).json()
        harness.clock.advance(timedelta(seconds=2))
        first = (await api.get("/api/v1/events", params={"limit": 2, **start})).json()
        rest = (await api.get("/api/v1/events", params={"after": first["next_after"]})).json()
        after_all = (await api.get("/api/v1/events", params={"after": rest["next_after"]})).json()

    assert [e["id"] for e in early["events"]] == appended[:1]
    assert [e["id"] for e in first["events"]] == appended[:2]
    assert [e["type"] for e in first["events"]] == ["source.renewed", "source.renewal_failing"]
    assert [e["id"] for e in rest["events"]] == appended[2:]
    assert after_all == {"events": [], "next_after": appended[2]}
    event = first["events"][0]
    assert event["source_id"] == source_id
    assert event["actor"] == "scan"
    assert event["payload"] == {"reason": "r"}


# --- keys and bad input ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "invalid_token"),
    [
        (None, False),
        ("Basic dXNlcjpwYXNz", True),
        ("Bearer", True),
        ("Bearer not-a-key", True),
        ("Bearer sbk_" + "A" * 43, True),  # well formed, unknown
    ],
)
async def test_without_a_valid_key_the_answer_is_401_with_a_bearer_challenge(
    harness: Harness, acme: dict[str, Any], header: str | None, invalid_token: bool
) -> None:
    async with checked_api(harness) as api:
        headers = {"authorization": header} if header else {}
        for path in ("/api/v1/sources", f"/api/v1/sources/{acme['ids'][0]}", "/api/v1/events"):
            response = await api.get(path, headers=headers)
            assert response.status_code == 401
            assert problem_type(response) == "unauthorized"
            challenge = response.headers["www-authenticate"]
            assert challenge.startswith("Bearer")
            assert ('error="invalid_token"' in challenge) is invalid_token


async def test_a_revoked_key_is_refused_at_once(harness: Harness, acme: dict[str, Any]) -> None:
    async with checked_api(harness, acme["key"]) as api:
        assert (await api.get("/api/v1/sources")).status_code == 200
        (key,) = [k for k in await harness.services.api_keys.all(TEAM)]
        await harness.services.api_keys.revoke(key.id)
        response = await api.get("/api/v1/sources")

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/sources", {"limit": "0"}, "limit"),
        ("/api/v1/sources", {"limit": "201"}, "limit"),
        ("/api/v1/sources", {"limit": "ten"}, "limit"),
        ("/api/v1/sources", {"limit": "-1"}, "limit"),
        ("/api/v1/sources", {"limit": "1.5"}, "limit"),
        ("/api/v1/sources", {"cursor": "not-a-cursor"}, "cursor"),
        ("/api/v1/sources", {"cursor": "czphYmM"}, "cursor"),  # "s:abc"
        ("/api/v1/sources", {"status": "broken"}, "status"),
        ("/api/v1/sources", {"network": "myspace"}, "network"),
        ("/api/v1/sources", {"stauts": "expired"}, "stauts"),
        ("/api/v1/sources", [("limit", "1"), ("limit", "2")], "limit"),
        ("/api/v1/sources/1", {"verbose": "1"}, "verbose"),
        ("/api/v1/events", {"after": "42"}, "after"),
        ("/api/v1/events", {"limit": "500"}, "limit"),
    ],
)
async def test_bad_parameters_are_400_naming_the_field_and_change_nothing(
    harness: Harness, acme: dict[str, Any], path: str, params: Any, field: str
) -> None:
    async with checked_api(harness, acme["key"]) as api:
        response = await api.get(path, params=params)

    assert response.status_code == 400
    assert problem_type(response) == "invalid_parameter"
    body = response.json()
    assert [error["field"] for error in body["errors"]] == [field]
    assert body["detail"].startswith(f"{field}:")
    assert await last_used(harness) is None  # a refused request is not a use


async def test_unknown_paths_and_methods_are_problems_too(
    harness: Harness, acme: dict[str, Any]
) -> None:
    headers = {"authorization": f"Bearer {acme['key']}"}
    unknown = await harness.http.get("/api/v1/nothing-here", headers=headers)
    wrong_method = await harness.http.delete("/api/v1/sources", headers=headers)

    assert unknown.status_code == 404
    assert problem_type(unknown) == "not_found"
    assert wrong_method.status_code == 405
    assert problem_type(wrong_method) == "method_not_allowed"
    assert "GET" in wrong_method.headers["allow"]


async def last_used(h: Harness) -> Any:
    async with h.services.ctx.read() as session:
        return await session.scalar(select(ApiKey.last_used_at).where(ApiKey.workspace_id == TEAM))


async def test_the_keys_last_use_is_recorded_at_most_once_a_minute(
    harness: Harness, acme: dict[str, Any]
) -> None:
    start = harness.clock.now()
    async with checked_api(harness, acme["key"]) as api:
        await api.get("/api/v1/sources")
        assert await last_used(harness) == start
        harness.clock.advance(timedelta(seconds=30))
        await api.get("/api/v1/sources")
        assert await last_used(harness) == start
        harness.clock.advance(timedelta(seconds=31))
        await api.get("/api/v1/events")

    assert await last_used(harness) == start + timedelta(seconds=61)


async def test_keys_never_reach_the_logs(
    harness: Harness, acme: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with checked_api(harness, acme["key"]) as api:
        await api.get("/api/v1/sources")
        await api.get("/api/v1/sources/abc")
    async with checked_api(harness, acme["key"][:-1] + "x") as api:
        await api.get("/api/v1/sources")

    assert acme["key"][4:] not in caplog.text
    assert acme["key"][4:-1] not in caplog.text


# --- JSON bodies (the helper the POST endpoints use) -------------------------------------


def body_app() -> Starlette:
    async def echo(request: Request) -> Response:
        try:
            data = await json_body(request, {"force_refresh": bool, "notify": str})
        except ApiProblem as problem:
            return problem.response(request.url.path)
        return JSONResponse(data)

    return Starlette(routes=[Route("/echo", echo, methods=["POST"])])


@pytest.mark.parametrize(
    ("content", "status", "kind", "fields"),
    [
        (b"", 200, None, []),
        (b'{"force_refresh": true}', 200, None, []),
        (b'{"force_refresh": tru', 400, "malformed_json", []),
        (b"\xff\xfe\x00", 400, "malformed_json", []),
        (b"[1, 2]", 422, "invalid_body", ["(body)"]),
        (b'{"force": true}', 422, "invalid_body", ["force"]),
        (
            b'{"force_refresh": "yes", "notify": 7}',
            422,
            "invalid_body",
            ["force_refresh", "notify"],
        ),
        (b'{"force_refresh": 1}', 422, "invalid_body", ["force_refresh"]),
    ],
)
async def test_json_bodies_are_objects_of_known_fields(
    content: bytes, status: int, kind: str | None, fields: list[str]
) -> None:
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=body_app()), base_url="http://t"
    ) as client:
        response = await client.post("/echo", content=content)

    assert response.status_code == status
    if kind is None:
        return
    assert problem_type(response) == kind
    errors = response.json().get("errors", [])
    assert [error["field"] for error in errors] == fields
    for field in fields:
        assert field in response.json()["detail"]


async def test_an_internal_error_is_a_problem_without_details(
    harness: Harness, acme: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(source_id: int) -> None:
        raise RuntimeError("secret-token-of-urn-a leaked in an exception")

    monkeypatch.setattr(harness.services.sources, "get", broken)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=harness.bot.asgi, raise_app_exceptions=False),
        base_url=str(harness.http.base_url),
        headers={"authorization": f"Bearer {acme['key']}"},
    ) as client:
        response = await client.get(f"/api/v1/sources/{acme['ids'][0]}")

    assert response.status_code == 500
    assert problem_type(response) == "internal_error"
    assert "secret-token" not in response.text
