"""The OpenAPI 3.1 document of ``/api/v1``, served at ``/api/v1/openapi.json``.

Built from the same constants the endpoints use (limits, event types, statuses, problem
kinds), so the document cannot drift from them silently; tests check it is a valid document
and hold every response they receive to it. Objects are closed (``additionalProperties:
false``), so a field added to a response must be added here too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.domain import Status
from bot.services.events import EVENT_TYPES
from bot.web import problems
from bot.web.problems import ProblemKind

VERSION = "1.0.0"
# The contract's numbers, used by the endpoints (bot/web/api.py) too.
MAX_LIMIT = 200
DEFAULT_LIMIT = 50
# The feed shows only events at least this old by the bot's clock. Event ids sort by the
# time they were made, but transactions commit in their own order: an event made a moment
# before another may commit after it, and a consumer that had already read past it would
# never see it. Two seconds is far longer than the bot's transactions take.
FEED_SETTLE = timedelta(seconds=2)
EVENT_ID_PATTERN = "^evt_[0-9A-HJKMNP-TV-Z]{26}$"

Schema = dict[str, Any]

DESCRIPTION = """\
Read the sources sources-bot keeps alive, take their tokens, and follow what happens to
them.

Every call but this document needs an API key: `Authorization: Bearer sbk_...` (create one
with `sources-bot api-keys create`). A key sees only its own workspace: a source of another
workspace answers 404, exactly as one that does not exist.

Errors are problem details (RFC 9457, `application/problem+json`); compare their `type`
(`urn:sources-bot:problem:<kind>`), not their text.

The events feed shows only events at least {settle} seconds old (by the bot's clock), so that
an event committed a moment late is never skipped by a consumer that already read past it.
Poll with `after` set to the `next_after` of the previous answer.
"""


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Schema], optional: tuple[str, ...] = ()) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": False,
    }


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


TIME = {"type": "string", "format": "date-time"}
EVENT_ID = {"type": "string", "pattern": EVENT_ID_PATTERN}


def _problem_schema(
    kind_names: list[str],
    extra: dict[str, Schema] | None = None,
    with_errors: bool = False,
) -> Schema:
    properties: dict[str, Schema] = {
        "type": {"type": "string", "enum": [problems.TYPE_PREFIX + n for n in kind_names]},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    }
    if with_errors:
        properties["errors"] = {
            "type": "array",
            "minItems": 1,
            "items": _object(
                {
                    "field": {"type": "string", "description": "the parameter or body field"},
                    "detail": {"type": "string"},
                }
            ),
        }
    properties.update(extra or {})
    return _object(properties, optional=("instance",))


def _schemas() -> dict[str, Schema]:
    return {
        "LastError": _object(
            {"kind": {"type": "string"}, "reason": {"type": "string"}, "at": TIME}
        ),
        "Source": {
            **_object(
                {
                    "id": {"type": "integer"},
                    "workspace": {"type": "string", "description": "Slack team id"},
                    "network": {"type": "string", "examples": ["linkedin", "x"]},
                    "account_id": {"type": "string"},
                    "name": {"type": "string"},
                    "kind": {
                        "type": "string",
                        "description": "`account`, or the network's page kind "
                        "(`organization`, `page`, `channel`)",
                    },
                    "status": {"type": "string", "enum": [str(s) for s in Status]},
                    "expires_at": _nullable(TIME),
                    "last_error": _nullable(_ref("LastError")),
                    "connected_by": _nullable(
                        {"type": "string", "description": "the Slack user who connected it"}
                    ),
                    "renews_by_itself": {"type": "boolean"},
                    "next_renewal_at": _nullable(
                        {
                            **TIME,
                            "description": "when the bot plans to renew it; null when it "
                            "cannot renew by itself or needs a person",
                        }
                    ),
                    "refresh_token_expires_at": _nullable(
                        {
                            **TIME,
                            "description": "when its refresh token dies, where the network "
                            "says (LinkedIn, TikTok, Pinterest): renewal stops there and a "
                            "person must reconnect before",
                        }
                    ),
                }
            ),
            "description": "A connected account or page. Never holds a token.",
        },
        "SourceList": _object(
            {
                "sources": {"type": "array", "items": _ref("Source")},
                "next_cursor": _nullable(
                    {"type": "string", "description": "pass as `cursor` for the next page"}
                ),
            }
        ),
        "Event": _object(
            {
                "id": {**EVENT_ID, "description": "sorts in the order events happened"},
                "type": {"type": "string", "enum": list(EVENT_TYPES)},
                "workspace": {"type": "string"},
                "source_id": _nullable({"type": "integer"}),
                "actor": {
                    "type": "string",
                    "description": "a Slack user id, `scan`, `cli` or `api-key:<name>`",
                },
                "payload": {"type": "object", "description": "never holds a secret"},
                "created_at": TIME,
            }
        ),
        "EventList": _object(
            {
                "events": {"type": "array", "items": _ref("Event")},
                "next_after": _nullable(
                    {**EVENT_ID, "description": "pass as `after` on the next poll"}
                ),
            }
        ),
        "TokenRequest": _object(
            {
                "force_refresh": {
                    "type": "boolean",
                    "description": "renew at the network first, even if it is not due",
                }
            },
            optional=("force_refresh",),
        ),
        "Token": _object(
            {
                "access_token": {"type": "string"},
                "token_type": {"type": "string", "examples": ["Bearer"]},
                "expires_at": _nullable(TIME),
                "scopes": {"type": "array", "items": {"type": "string"}},
                "account_id": {"type": "string"},
                "stale": {
                    "type": "boolean",
                    "const": True,
                    "description": "present when renewal failed for a passing reason: the "
                    "token is still valid but was not renewed",
                },
            },
            optional=("stale",),
        ),
        "ReconnectLinkRequest": _object(
            {
                "notify": {
                    "type": "string",
                    "pattern": "^[UW][A-Z0-9]+$",
                    "description": "a Slack user told in Slack when the source is reconnected",
                }
            },
            optional=("notify",),
        ),
        "ReconnectLink": _object(
            {
                "url": {"type": "string", "format": "uri", "description": "single use"},
                "expires_at": TIME,
            }
        ),
        "Problem": _problem_schema([kind.name for kind in problems.KINDS]),
        "InputProblem": _problem_schema(
            [problems.INVALID_PARAMETER.name, problems.INVALID_BODY.name], with_errors=True
        ),
        "NeedsReconnectProblem": _problem_schema(
            [problems.NEEDS_RECONNECT.name],
            extra={
                "source_id": {"type": "integer"},
                "source_status": {"type": "string", "enum": [str(s) for s in Status]},
                "reason": {"type": "string", "description": "why, in plain words"},
                "reconnect_url": {
                    "type": "string",
                    "format": "uri",
                    "description": "a single-use link for a person to reconnect the source",
                },
            },
        ),
        "OpenAPI": {"type": "object", "description": "this document"},
    }


def _problem(description: str, schema: str = "Problem", headers: Schema | None = None) -> Schema:
    response: Schema = {
        "description": description,
        "content": {problems.MEDIA_TYPE: {"schema": _ref(schema)}},
    }
    if headers:
        response["headers"] = headers
    return response


def _responses() -> dict[str, Schema]:
    return {
        "Unauthorized": _problem(
            "No key, a malformed one, or one that is unknown or revoked",
            headers={
                "WWW-Authenticate": {
                    "required": True,
                    "schema": {"type": "string", "pattern": "^Bearer"},
                }
            },
        ),
        "NotFound": _problem("No such source in the key's workspace"),
        "InvalidParameter": _problem("A query parameter is unknown or malformed", "InputProblem"),
        "MalformedJson": _problem("The body is not valid JSON"),
        "InvalidBody": _problem(
            "The body is not an object, or has unknown or mistyped fields", "InputProblem"
        ),
    }


def _json(schema: str, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _r(name: str) -> Schema:
    return {"$ref": f"#/components/responses/{name}"}


def _kind_doc(kind: ProblemKind) -> str:
    return f"`{kind.name}` ({kind.status})"


SOURCE_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}
LIMIT = {
    "name": "limit",
    "in": "query",
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
}


def _paths() -> dict[str, Schema]:
    return {
        "/api/v1/sources": {
            "get": {
                "operationId": "listSources",
                "summary": "The workspace's sources, in id order, a page at a time",
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string", "enum": [str(s) for s in Status]},
                    },
                    {"name": "network", "in": "query", "schema": {"type": "string"}},
                    LIMIT,
                    {
                        "name": "cursor",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "`next_cursor` of the previous page",
                    },
                ],
                "responses": {
                    "200": _json("SourceList", "A page of sources"),
                    "400": _r("InvalidParameter"),
                    "401": _r("Unauthorized"),
                },
            }
        },
        "/api/v1/sources/{id}": {
            "get": {
                "operationId": "getSource",
                "summary": "One source",
                "parameters": [SOURCE_ID],
                "responses": {
                    "200": _json("Source", "The source"),
                    "400": _r("InvalidParameter"),
                    "401": _r("Unauthorized"),
                    "404": _r("NotFound"),
                },
            }
        },
        "/api/v1/sources/{id}/token": {
            "post": {
                "operationId": "getToken",
                "summary": "The source's access token, renewed first when it is due",
                "description": "When the token is inside its renewal window, or "
                "`force_refresh` is set, it is renewed first under the same lease the scan "
                "uses, so concurrent calls make one refresh at the network. For a Facebook "
                "page, the page's token. Records the key's last use and the source's last "
                "read. Errors: "
                + ", ".join(
                    _kind_doc(k) for k in (problems.NEEDS_RECONNECT, problems.RENEWAL_UNAVAILABLE)
                ),
                "parameters": [SOURCE_ID],
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": _ref("TokenRequest")}},
                },
                "responses": {
                    "200": _json("Token", "The token (with `stale` when renewal is failing)"),
                    "400": _r("MalformedJson"),
                    "401": _r("Unauthorized"),
                    "404": _r("NotFound"),
                    "409": _problem(
                        "The source needs a person: expired, revoked or failing for good",
                        "NeedsReconnectProblem",
                    ),
                    "422": _r("InvalidBody"),
                    "503": _problem(
                        "The token expired and renewal fails for now; try again later",
                        headers={
                            "Retry-After": {
                                "required": True,
                                "schema": {"type": "string", "pattern": "^[0-9]+$"},
                            }
                        },
                    ),
                },
            }
        },
        "/api/v1/sources/{id}/reconnect-link": {
            "post": {
                "operationId": "createReconnectLink",
                "summary": "A single-use link for a person to reconnect the source",
                "description": "The same checks as the Reconnect button in Slack (the right "
                "account, pages) and the same confirmation in Slack; `notify` is told too.",
                "parameters": [SOURCE_ID],
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": _ref("ReconnectLinkRequest")}},
                },
                "responses": {
                    "200": _json("ReconnectLink", "The link and when it expires"),
                    "400": _r("MalformedJson"),
                    "401": _r("Unauthorized"),
                    "404": _r("NotFound"),
                    "409": _problem("The source's network is not configured"),
                    "422": _r("InvalidBody"),
                },
            }
        },
        "/api/v1/events": {
            "get": {
                "operationId": "listEvents",
                "summary": "The workspace's event log as a feed, oldest first",
                "description": "Only events at least "
                f"{FEED_SETTLE.seconds} seconds old are shown (see the introduction).",
                "parameters": [
                    {
                        "name": "after",
                        "in": "query",
                        "schema": EVENT_ID,
                        "description": "only events after this one (`next_after`)",
                    },
                    LIMIT,
                ],
                "responses": {
                    "200": _json("EventList", "Events, oldest first"),
                    "400": _r("InvalidParameter"),
                    "401": _r("Unauthorized"),
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "getOpenApi",
                "summary": "This document (no key needed)",
                "security": [],
                "responses": {"200": _json("OpenAPI", "The OpenAPI document")},
            }
        },
    }


def document(public_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "sources-bot API",
            "version": VERSION,
            "description": DESCRIPTION.format(settle=FEED_SETTLE.seconds),
        },
        "servers": [{"url": public_url}],
        "security": [{"apiKey": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an API key, `sbk_...`",
                }
            },
            "schemas": _schemas(),
            "responses": _responses(),
        },
    }
