"""Readiness, request ids and JSON log lines."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import httpx2
from conftest import Harness
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bot.logs import JsonLines, RedactOAuthPaths
from bot.scheduler import STALE_AFTER_SECONDS, Heartbeat
from bot.store import migrate
from bot.web import health
from bot.web.request_id import RequestId


async def test_readyz_with_no_scheduler_in_this_process(harness: Harness) -> None:
    ready = await harness.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ok": True, "database": "ok", "migrations": "ok", "scheduler": "off"}
    health = (await harness.http.get("/healthz")).json()
    assert health["ok"] is True and health["database"] == "ok"


async def test_readyz_fails_when_the_schema_is_behind(harness: Harness) -> None:
    async with harness.bot.engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    ready = await harness.http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["migrations"] == f"at 0000, code needs {migrate.head()}"
    assert (await harness.http.get("/healthz")).status_code == 200  # still alive


async def test_readyz_fails_when_the_scheduler_stops_waking(harness: Harness) -> None:
    now = [1000.0]
    heartbeat = Heartbeat(now=lambda: now[0])
    app = Starlette(
        routes=health.routes(harness.bot.engine, harness.services.ctx.outbox, heartbeat)
    )
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://t"
    ) as http:
        first = await http.get("/readyz")
        assert first.status_code == 503 and first.json()["scheduler"] == "not started"
        heartbeat.beat()
        now[0] += STALE_AFTER_SECONDS - 1
        assert (await http.get("/readyz")).json()["scheduler"] == "ok"
        now[0] += 2
        stale = await http.get("/readyz")
        assert stale.status_code == 503
        assert stale.json()["scheduler"] == f"last woke {STALE_AFTER_SECONDS + 1:.0f} s ago"


async def test_the_scheduler_beats_when_it_runs_a_job(harness: Harness) -> None:
    from bot.scheduler import create_scheduler

    heartbeat = Heartbeat()
    scheduler = create_scheduler(harness.services, heartbeat)
    ran = asyncio.Event()

    async def probe() -> None:
        ran.set()

    scheduler.start(paused=True)
    try:
        for job in scheduler.get_jobs():  # the real scan and digest stay out of this test
            job.pause()
        scheduler.add_job(probe, id="probe")  # runs once, as soon as the scheduler resumes
        assert heartbeat.age() is None
        scheduler.resume()
        await asyncio.wait_for(ran.wait(), timeout=5)
        assert heartbeat.age() is not None
    finally:
        scheduler.shutdown(wait=False)


async def test_every_response_carries_a_request_id(harness: Harness) -> None:
    mine = await harness.http.get("/healthz", headers={"X-Request-ID": "proxy-id-12345"})
    assert mine.headers["x-request-id"] == "proxy-id-12345"
    made = await harness.http.get("/healthz", headers={"X-Request-ID": "bad id\n<script>"})
    assert len(made.headers["x-request-id"]) == 16 and "<" not in made.headers["x-request-id"]
    other = await harness.http.get("/healthz")
    assert other.headers["x-request-id"] != made.headers["x-request-id"]


async def test_json_log_lines_name_the_request_and_keep_secrets_out() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines())
    log = logging.getLogger("test.requests")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    access = logging.getLogger("uvicorn.access.test")
    access.addFilter(RedactOAuthPaths())
    access.addHandler(handler)
    access.setLevel(logging.INFO)

    async def endpoint(_: Request) -> PlainTextResponse:
        log.info("handled %s", "it")
        access.info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:1",
            "GET",
            "/oauth/callback/linkedin?code=SECRETCODE&state=SECRETSTATE",
            "1.1",
            200,
        )
        return PlainTextResponse("ok")

    app = RequestId(Starlette(routes=[Route("/", endpoint)]))
    try:
        async with httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://t"
        ) as http:
            response = await http.get("/")
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        log.removeHandler(handler)
        access.removeHandler(handler)
    assert lines[0]["message"] == "handled it"
    assert {line["request_id"] for line in lines} == {response.headers["x-request-id"]}
    assert lines[0]["level"] == "info" and lines[0]["logger"] == "test.requests"
    assert "SECRET" not in stream.getvalue()
