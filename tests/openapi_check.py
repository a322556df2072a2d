"""Hold API responses to the OpenAPI document the bot serves.

Use ``checked_api(h, key)`` for a client of ``/api/v1`` whose every response is checked::

    async with checked_api(h, key) as api:
        response = await api.post(f"/api/v1/sources/{source_id}/token")

A response whose operation, status, content type, headers or body the document does not
describe fails the call with an AssertionError that says what differs. ``api.checker.checked``
counts the responses checked. ``OpenAPIChecker(document).check(response)`` checks one
response of any client (its body must have been read).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx2
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOCUMENT_URI = "urn:sources-bot:openapi"


class OpenAPIChecker:
    def __init__(self, document: dict[str, Any]) -> None:
        validate_spec(document)
        self.document = document
        self.registry: Registry[Any] = Registry().with_resource(
            DOCUMENT_URI, Resource.from_contents(document, default_specification=DRAFT202012)
        )
        # Literal paths before templated ones, as routers match them.
        self.paths = sorted(
            ((_template(path), path) for path in document["paths"]),
            key=lambda item: item[1].count("{"),
        )
        self.checked = 0

    def check(self, response: httpx2.Response) -> None:
        request = response.request
        method = request.method.lower()
        path = request.url.path
        template = next((name for regex, name in self.paths if regex.fullmatch(path)), None)
        where = f"{request.method} {path} -> {response.status_code}"
        assert template is not None, f"{where}: the path is not in the OpenAPI document"
        operation = self.document["paths"][template].get(method)
        assert operation is not None, f"{where}: {method.upper()} {template} is not documented"
        status = str(response.status_code)
        assert status in operation["responses"], (
            f"{where}: status {status} is not documented for {method.upper()} {template} "
            f"(documented: {sorted(operation['responses'])})"
        )
        spec, pointer = self._resolve(["paths", template, method, "responses", status])
        for name, header in spec.get("headers", {}).items():
            if header.get("required"):
                assert name in response.headers, f"{where}: header {name} is missing"
            if name in response.headers and "schema" in header:
                self._validate(response.headers[name], [*pointer, "headers", name, "schema"], where)
        content = spec.get("content")
        if not content:
            assert not response.content, f"{where}: a body the document does not describe"
            self.checked += 1
            return
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        assert media_type in content, (
            f"{where}: content type {media_type!r}, documented: {sorted(content)}"
        )
        body = json.loads(response.content)
        self._validate(body, [*pointer, "content", media_type, "schema"], where)
        self.checked += 1

    def _resolve(self, pointer: list[str]) -> tuple[dict[str, Any], list[str]]:
        """The object at ``pointer``, following $refs; and the pointer where it really is."""
        node = self._at(pointer)
        while "$ref" in node:
            pointer = node["$ref"].removeprefix("#/").split("/")
            node = self._at(pointer)
        return node, pointer

    def _at(self, pointer: list[str]) -> Any:
        node: Any = self.document
        for part in pointer:
            node = node[part]
        return node

    def _validate(self, value: Any, pointer: list[str], where: str) -> None:
        """Validate against the schema at ``pointer`` in the document, so its $refs resolve."""
        fragment = "/".join(part.replace("~", "~0").replace("/", "~1") for part in pointer)
        schema = {"$ref": f"{DOCUMENT_URI}#/{quote(fragment, safe='/~')}"}
        validator = OAS31Validator(schema, registry=self.registry)
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        if errors:
            raise AssertionError(f"{where}: does not match the document:\n" + _say(errors))


def _say(errors: list[ValidationError]) -> str:
    return "\n".join(
        f"  at {'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in errors
    )


def _template(path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)))


@contextlib.asynccontextmanager
async def checked_api(h: Any, key: str | None = None) -> AsyncIterator[CheckedClient]:
    """A client of the bot's ASGI app (``h`` is the test Harness) that sends ``key`` as the
    bearer token and checks every response against ``/api/v1/openapi.json``."""
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=h.bot.asgi), base_url=str(h.http.base_url)
    ) as plain:
        served = await plain.get("/api/v1/openapi.json")
        assert served.status_code == 200, served.text
        checker = OpenAPIChecker(served.json())

    async def check(response: httpx2.Response) -> None:
        await response.aread()
        checker.check(response)

    headers = {"authorization": f"Bearer {key}"} if key is not None else {}
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=h.bot.asgi),
        base_url=str(h.http.base_url),
        headers=headers,
        event_hooks={"response": [check]},
    ) as client:
        yield CheckedClient(client, checker)


class CheckedClient:
    """An httpx2 client (``get``, ``post``...) whose responses were checked; ``checker``
    tells how many."""

    def __init__(self, client: httpx2.AsyncClient, checker: OpenAPIChecker) -> None:
        self.client = client
        self.checker = checker

    async def get(self, url: str, **kwargs: Any) -> httpx2.Response:
        return await self.client.get(url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx2.Response:
        return await self.client.post(url, **kwargs)

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx2.Response:
        return await self.client.request(method, url, **kwargs)
