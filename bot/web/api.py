"""The HTTP API under ``/api/v1``: sources and the event feed for the tools that publish.

Every endpoint but ``openapi.json`` takes ``Authorization: Bearer sbk_...``; a key sees only
its workspace, and a source of another workspace is as unknown as one that never existed.
Errors are problem details (bot/web/problems.py). Endpoints only read, except the key's last
use, recorded (at most once a minute) after a request succeeded, so a failed request changes
nothing. The document in bot/web/openapi.py describes all of it; tests hold every response
to it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from bot.domain import Status
from bot.services import Services
from bot.services.api_keys import Caller
from bot.services.attempts import ConnectRefused
from bot.services.events import EventLog
from bot.services.listing import sources_page
from bot.services.sources import source_json
from bot.services.tokens import NeedsReconnect, NotFound, TemporarilyUnavailable
from bot.web import openapi
from bot.web.openapi import DEFAULT_LIMIT, EVENT_ID_PATTERN, FEED_SETTLE, MAX_LIMIT
from bot.web.problems import (
    INTERNAL,
    MALFORMED_JSON,
    METHOD_NOT_ALLOWED,
    NEEDS_RECONNECT,
    NOT_CONFIGURED,
    NOT_FOUND,
    RENEWAL_UNAVAILABLE,
    ApiProblem,
    FieldError,
    invalid_body,
    invalid_parameter,
    unauthorized,
)

PREFIX = "/api/v1"
EVENT_ID = re.compile(EVENT_ID_PATTERN)
SLACK_USER = re.compile(r"^[UW][A-Z0-9]+$")

Handler = Callable[[Request, Caller], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def json_response(data: Any, status_code: int = 200) -> Response:
    """A JSON answer that no cache keeps (some hold tokens)."""
    return Response(
        json.dumps(data),
        status_code=status_code,
        media_type="application/json",
        headers={"cache-control": "no-store"},
    )


class Api:
    """The endpoints, with what they share: the services and the key check."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.document = openapi.document(services.ctx.settings.public_url)

    def authenticated(self, handler: Handler) -> Endpoint:
        """Run ``handler`` for the caller the request's key stands for; answer problems."""

        async def endpoint(request: Request) -> Response:
            try:
                caller = await self.caller(request)
                response = await handler(request, caller)
            except ApiProblem as problem:
                return problem.response(request.url.path)
            if response.status_code < 400:
                await self.services.api_keys.record_use(caller)
            return response

        return endpoint

    async def caller(self, request: Request) -> Caller:
        header = request.headers.get("authorization")
        if header is None:
            raise unauthorized(
                "send an API key as `Authorization: Bearer sbk_...`", invalid_token=False
            )
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise unauthorized(
                "the Authorization header must be `Bearer` and an API key", invalid_token=True
            )
        caller = await self.services.api_keys.authenticate(key.strip())
        if caller is None:
            raise unauthorized("the API key is not valid (unknown or revoked)", invalid_token=True)
        return caller

    # --- endpoints ----------------------------------------------------------------------------

    async def list_sources(self, request: Request, caller: Caller) -> Response:
        query = Query(request, {"status", "network", "limit", "cursor"})
        status = query.choice("status", [str(s) for s in Status])
        network = query.choice("network", [n.name for n in self.services.ctx.catalogue])
        limit = query.limit()
        after = query.cursor()
        sources, more = await sources_page(
            self.services.ctx,
            caller.workspace_id,
            after=after,
            limit=limit,
            status=Status(status) if status else None,
            network=network,
        )
        return json_response(
            {
                "sources": [source_json(source) for source in sources],
                "next_cursor": encode_cursor(sources[-1].id) if more and sources else None,
            }
        )

    async def get_source(self, request: Request, caller: Caller) -> Response:
        Query(request, set())
        source_id = source_id_param(request)
        source = await self.services.sources.get(caller.workspace_id, source_id)
        if source is None:
            raise no_such_source(source_id)
        return json_response(source_json(source))

    async def list_events(self, request: Request, caller: Caller) -> Response:
        query = Query(request, {"after", "limit"})
        after = query.single("after")
        if after is not None and not EVENT_ID.match(after):
            raise invalid_parameter("after", "must be an event id (evt_ and 26 characters)")
        limit = query.limit()
        async with self.services.ctx.read() as session:
            events = await EventLog.feed(
                session,
                caller.workspace_id,
                after,
                limit,
                until=self.services.ctx.clock.now() - FEED_SETTLE,
            )
        return json_response(
            {
                "events": [event.to_json() for event in events],
                "next_after": events[-1].id if events else after,
            }
        )

    async def token(self, request: Request, caller: Caller) -> Response:
        Query(request, set())
        source_id = source_id_param(request)
        body = await json_body(request, {"force_refresh": bool})
        try:
            answer = await self.services.tokens.read(
                caller.workspace_id, source_id, caller.actor, bool(body.get("force_refresh"))
            )
        except NotFound:
            raise no_such_source(source_id) from None
        except NeedsReconnect as needs:
            raise needs_reconnect(needs) from None
        except TemporarilyUnavailable as later:
            raise ApiProblem(
                RENEWAL_UNAVAILABLE,
                f"the token expired and renewing it fails for now: {later.reason}",
                headers={"retry-after": str(later.retry_after)},
            ) from None
        data: dict[str, Any] = {
            "access_token": answer.access_token,
            "token_type": answer.token_type,
            "expires_at": answer.expires_at.isoformat() if answer.expires_at else None,
            "scopes": answer.scopes,
            "account_id": answer.account_id,
        }
        if answer.stale:
            data["stale"] = True
        return json_response(data)

    async def reconnect_link(self, request: Request, caller: Caller) -> Response:
        Query(request, set())
        source_id = source_id_param(request)
        body = await json_body(request, {"notify": str})
        notify = body.get("notify")
        if notify is not None and not SLACK_USER.match(notify):
            raise invalid_body([FieldError("notify", "must be a Slack user id, e.g. U0123ABCD")])
        source = await self.services.sources.get(caller.workspace_id, source_id)
        if source is None:
            raise no_such_source(source_id)
        try:
            link = await self.services.links.start(
                caller.workspace_id, notify, "", source_id, actor=caller.actor
            )
        except ConnectRefused as refused:
            raise ApiProblem(NOT_CONFIGURED, plain(str(refused))) from None
        return json_response({"url": link.url, "expires_at": link.expires_at.isoformat()})

    async def openapi_json(self, request: Request) -> Response:
        return json_response(self.document)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/sources", self.authenticated(self.list_sources), methods=["GET"]),
            Route("/sources/{id}", self.authenticated(self.get_source), methods=["GET"]),
            Route("/sources/{id}/token", self.authenticated(self.token), methods=["POST"]),
            Route(
                "/sources/{id}/reconnect-link",
                self.authenticated(self.reconnect_link),
                methods=["POST"],
            ),
            Route("/events", self.authenticated(self.list_events), methods=["GET"]),
            Route("/openapi.json", self.openapi_json, methods=["GET"]),
        ]


def mount(services: Services) -> Mount:
    """``/api/v1`` as its own small app, so unknown paths and methods are problems too."""
    api = Api(services)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            problem = ApiProblem(
                METHOD_NOT_ALLOWED,
                f"{request.method} is not allowed here",
                headers={"allow": (exc.headers or {}).get("Allow", "")},
            )
        else:
            problem = ApiProblem(NOT_FOUND, f"there is no {request.url.path}")
        return problem.response(request.url.path)

    async def internal_error(request: Request, exc: Exception) -> Response:
        # Starlette logs the exception with its traceback; the caller gets no detail of it.
        problem = ApiProblem(INTERNAL, "something went wrong on our side; try again later")
        return problem.response(request.url.path)

    app = Starlette(
        routes=api.routes(),
        exception_handlers={HTTPException: http_error, Exception: internal_error},
    )
    return Mount(PREFIX, app=app)


# --- input ---------------------------------------------------------------------------------


class Query:
    """A request's query parameters: unknown or repeated ones are refused, naming them."""

    def __init__(self, request: Request, allowed: Collection[str]) -> None:
        self.params = request.query_params
        for name in self.params:
            if name not in allowed:
                raise invalid_parameter(name, "is not a parameter of this endpoint")
            if len(self.params.getlist(name)) > 1:
                raise invalid_parameter(name, "is given more than once")

    def single(self, name: str) -> str | None:
        return self.params.get(name)

    def choice(self, name: str, allowed: Collection[str]) -> str | None:
        value = self.params.get(name)
        if value is not None and value not in allowed:
            raise invalid_parameter(name, f"must be one of {', '.join(sorted(allowed))}")
        return value

    def limit(self) -> int:
        value = self.params.get("limit")
        if value is None:
            return DEFAULT_LIMIT
        if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_LIMIT:
            raise invalid_parameter("limit", f"must be a whole number from 1 to {MAX_LIMIT}")
        return int(value)

    def cursor(self) -> int | None:
        value = self.params.get("cursor")
        if value is None:
            return None
        after = decode_cursor(value)
        if after is None:
            raise invalid_parameter("cursor", "is not a cursor this API gave (use next_cursor)")
        return after


def encode_cursor(after_id: int) -> str:
    """An opaque cursor: clients pass back ``next_cursor`` as they got it."""
    return base64.urlsafe_b64encode(f"s:{after_id}".encode()).decode().rstrip("=")


def decode_cursor(value: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        return None
    kind, _, number = text.partition(":")
    if kind != "s" or not (number.isascii() and number.isdigit()) or len(number) > 18:
        return None
    return int(number)


def source_id_param(request: Request) -> int:
    """The ``{id}`` of a source path; anything but a plain number is an unknown source."""
    raw = str(request.path_params["id"])
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise no_such_source(raw)
    return int(raw)


def needs_reconnect(needs: NeedsReconnect) -> ApiProblem:
    source = needs.source
    if needs.link is None:
        return ApiProblem(
            NOT_CONFIGURED,
            f"{source.network_title} needs a person to reconnect it, and its app is not "
            "configured on this bot",
        )
    return ApiProblem(
        NEEDS_RECONNECT,
        f"{source.label} needs a person to reconnect it: {needs.reason}",
        source_id=source.id,
        source_status=str(source.status),
        reason=needs.reason,
        reconnect_url=needs.link.url,
    )


def plain(slack_text: str) -> str:
    """A sentence written for Slack's mrkdwn, for a JSON client: no backticks or entities."""
    return (
        slack_text.replace("`", "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    )


def no_such_source(source_id: object) -> ApiProblem:
    """The same answer for a source that does not exist and one of another workspace."""
    return ApiProblem(NOT_FOUND, f"there is no source {source_id}")


async def json_body(request: Request, fields: Mapping[str, type]) -> dict[str, Any]:
    """An optional JSON object body with only ``fields`` (name -> type); an empty body is {}.

    Malformed JSON is a 400; a body that is not an object, an unknown field or a value of
    the wrong type is a 422 naming every bad field.
    """
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ApiProblem(
            MALFORMED_JSON,
            f"the body is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}",
        ) from err
    except ValueError as err:  # not UTF-8 (or -16, -32) text
        raise ApiProblem(MALFORMED_JSON, "the body is not UTF-8 JSON text") from err
    if not isinstance(data, dict):
        raise invalid_body([FieldError("(body)", "must be a JSON object")])
    errors = [
        FieldError(name, "is not a field of this endpoint") for name in data if name not in fields
    ]
    for name, kind in fields.items():
        if name in data and type(data[name]) is not kind:
            errors.append(FieldError(name, f"must be {_TYPE_WORDS.get(kind, kind.__name__)}"))
    if errors:
        raise invalid_body(errors)
    return data


_TYPE_WORDS = {bool: "true or false", str: "a string", int: "a whole number"}
