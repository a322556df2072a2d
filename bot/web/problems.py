"""API errors as RFC 9457 problem details (``application/problem+json``).

Each kind of error has a stable ``type`` (``urn:sources-bot:problem:<name>``) that clients
compare, a fixed ``title``, and a ``detail`` sentence for people. Errors about input name the
field in ``detail`` and list every bad field in ``errors``. Nothing secret goes into a problem.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:sources-bot:problem:"
REALM = "sources-bot"


@dataclass(frozen=True)
class ProblemKind:
    name: str
    status: int
    title: str

    @property
    def type(self) -> str:
        return TYPE_PREFIX + self.name


UNAUTHORIZED = ProblemKind("unauthorized", 401, "Missing or invalid API key")
NOT_FOUND = ProblemKind("not_found", 404, "Not found")
INVALID_PARAMETER = ProblemKind("invalid_parameter", 400, "Invalid query parameter")
MALFORMED_JSON = ProblemKind("malformed_json", 400, "The body is not valid JSON")
INVALID_BODY = ProblemKind("invalid_body", 422, "The body has invalid fields")
METHOD_NOT_ALLOWED = ProblemKind("method_not_allowed", 405, "Method not allowed")
# The token and reconnect-link endpoints' own kinds.
NEEDS_RECONNECT = ProblemKind("needs_reconnect", 409, "The source needs a person to reconnect it")
NOT_CONFIGURED = ProblemKind("network_not_configured", 409, "The network is not configured")
RENEWAL_UNAVAILABLE = ProblemKind(
    "renewal_unavailable", 503, "The token expired and cannot be renewed right now"
)
INTERNAL = ProblemKind("internal_error", 500, "Internal error")

KINDS = (
    UNAUTHORIZED,
    NOT_FOUND,
    INVALID_PARAMETER,
    MALFORMED_JSON,
    INVALID_BODY,
    METHOD_NOT_ALLOWED,
    NEEDS_RECONNECT,
    NOT_CONFIGURED,
    RENEWAL_UNAVAILABLE,
    INTERNAL,
)


@dataclass(frozen=True)
class FieldError:
    field: str
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "detail": self.detail}


class ApiProblem(Exception):
    """Raised anywhere under an API endpoint; answered as problem details.

    ``extensions`` are extra members of the problem (e.g. a source's status); ``headers``
    go on the response (WWW-Authenticate, Retry-After).
    """

    def __init__(
        self,
        kind: ProblemKind,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.errors = errors
        self.headers = dict(headers or {})
        self.extensions = extensions

    def response(self, instance: str | None = None) -> Response:
        body: dict[str, Any] = {
            "type": self.kind.type,
            "title": self.kind.title,
            "status": self.kind.status,
            "detail": self.detail,
        }
        if instance is not None:
            body["instance"] = instance
        if self.errors is not None:
            body["errors"] = [error.to_json() for error in self.errors]
        body.update(self.extensions)
        return Response(
            json.dumps(body),
            status_code=self.kind.status,
            media_type=MEDIA_TYPE,
            headers={"cache-control": "no-store", **self.headers},
        )


def unauthorized(detail: str, *, invalid_token: bool) -> ApiProblem:
    """401 with the challenge RFC 6750 asks for (``error`` only when a key was presented)."""
    challenge = f'Bearer realm="{REALM}"'
    if invalid_token:
        challenge += ', error="invalid_token"'
    return ApiProblem(UNAUTHORIZED, detail, headers={"www-authenticate": challenge})


def invalid_parameter(field: str, detail: str) -> ApiProblem:
    return ApiProblem(INVALID_PARAMETER, f"{field}: {detail}", errors=[FieldError(field, detail)])


def invalid_body(errors: list[FieldError]) -> ApiProblem:
    summary = "; ".join(f"{error.field}: {error.detail}" for error in errors)
    return ApiProblem(INVALID_BODY, summary, errors=errors)
