"""The sandbox over real HTTP: its Slack Web API, response URLs, signed requests to the bot,
the page's state and the demo's controls. Posts may arrive after the request that caused
them (an outbox sends them later), so tests wait on the page's own long poll."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.demo.interactions import sign
from bot.demo.server import Running
from bot.demo.workspace import CHANNEL, DM, ME

TEXT = {"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}


@pytest.fixture
async def http(demo: Running) -> AsyncIterator[httpx2.AsyncClient]:
    base = demo.demo.url.removesuffix("/demo")
    async with httpx2.AsyncClient(base_url=base, timeout=15.0) as client:
        yield client


async def api(http: httpx2.AsyncClient, method: str, **args: Any) -> dict[str, Any]:
    token = {"Authorization": "Bearer xoxb-anything"}
    answer: dict[str, Any] = (
        await http.post(f"/demo/slack/api/{method}", json=args, headers=token)
    ).json()
    return answer


async def state_when(
    http: httpx2.AsyncClient, check: Callable[[dict[str, Any]], bool], seconds: float = 10.0
) -> dict[str, Any]:
    """The page's state once ``check`` holds, following the long poll as the page does."""
    deadline = time.monotonic() + seconds
    version = -1
    while True:
        state: dict[str, Any] = (await http.get(f"/demo/api/state?after={version}")).json()
        if check(state):
            return state
        assert time.monotonic() < deadline, f"gave up waiting; last state: {state}"
        version = state["version"]


def channel_text(state: dict[str, Any], channel: str = CHANNEL) -> str:
    return json.dumps(state["conversations"][channel], ensure_ascii=False)


async def test_web_api_answers_what_the_bot_calls(
    http: httpx2.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    assert (await api(http, "auth.test"))["team_id"] == "T0DEMO"
    posted = await api(http, "chat.postMessage", channel=CHANNEL, text="hi", blocks=[TEXT])
    assert posted["ok"] and posted["channel"] == CHANNEL
    reply = await api(http, "chat.postMessage", channel=CHANNEL, text="re", thread_ts=posted["ts"])
    assert reply["ok"]
    assert (await api(http, "chat.update", channel=CHANNEL, ts=posted["ts"], text="new"))["ok"]
    assert (await api(http, "chat.postEphemeral", channel=CHANNEL, user=ME, text="psst"))["ok"]
    dm = await api(http, "chat.postMessage", channel=ME, text="just you")
    assert dm["channel"] == DM
    home = await api(http, "views.publish", user_id=ME, view={"type": "home", "blocks": [TEXT]})
    modal = await api(
        http,
        "views.open",
        trigger_id="1.2.3",
        view={"type": "modal", "title": {"type": "plain_text", "text": "T"}, "blocks": []},
    )
    assert home["ok"] and modal["ok"]
    update = await api(
        http, "views.update", view_id=modal["view"]["id"], view={"type": "modal", "blocks": [TEXT]}
    )
    assert update["ok"]
    for method, args in [
        ("conversations.info", {"channel": CHANNEL}),
        ("conversations.list", {}),
        ("conversations.members", {"channel": CHANNEL}),
        ("conversations.join", {"channel": CHANNEL}),
        ("conversations.open", {"users": ME}),
        ("conversations.history", {"channel": CHANNEL}),
        ("conversations.replies", {"channel": CHANNEL, "ts": posted["ts"]}),
        ("users.info", {"user": ME}),
        ("chat.getPermalink", {"channel": CHANNEL, "message_ts": posted["ts"]}),
        ("usergroups.users.list", {"usergroup": "S1"}),
    ]:
        assert (await api(http, method, **args))["ok"], method
    replies = await api(http, "conversations.replies", channel=CHANNEL, ts=posted["ts"])
    assert [m["text"] for m in replies["messages"]] == ["new", "re"]

    with caplog.at_level(logging.WARNING, logger="bot.demo.workspace"):
        assert await api(http, "reactions.add", name="eyes") == {"ok": True}
    assert "reactions.add is not modelled" in caplog.text
    refused = (await http.post("/demo/slack/api/auth.test", json={})).json()
    assert refused == {"ok": False, "error": "not_authed"}
    assert (await api(http, "chat.postMessage", channel="C0NOWHERE", text="x"))["ok"] is False

    state = await state_when(http, lambda s: "just you" in channel_text(s, DM))
    assert "psst" in channel_text(state) and state["home"] and state["modal"]


async def test_response_urls(demo: Running, http: httpx2.AsyncClient) -> None:
    workspace = demo.demo.sandbox.workspace
    base = f"{demo.demo.url}/slack/response"
    url = workspace.new_response_url(base, CHANNEL, ME, None, ephemeral=True)
    path = url.removeprefix(demo.demo.url.removesuffix("/demo"))
    assert (await http.post(path, json={"text": "private"})).json() == {"ok": True}
    assert (
        await http.post(path, json={"text": "public", "response_type": "in_channel"})
    ).is_success
    for _ in range(3):
        await http.post(path, json={"text": "again"})
    spent = await http.post(path, json={"text": "sixth"})
    assert spent.status_code == 404 and spent.json()["error"] == "used_url"
    messages = {m["html"]: m["ephemeral"] for m in workspace_state(demo)[CHANNEL]}
    assert messages["private"] is True and messages["public"] is False


def workspace_state(demo: Running) -> dict[str, Any]:
    conversations: dict[str, Any] = demo.demo.sandbox.state()["conversations"]
    return conversations


async def test_commands_reach_the_bot_signed_with_the_demo_secret(
    demo: Running, http: httpx2.AsyncClient
) -> None:
    answer = await http.post("/demo/api/command", json={"text": "/sources help"})
    assert answer.json() == {"ok": True, "status": 200}
    state = await state_when(http, lambda s: "Networks you can connect" in channel_text(s))
    assert "`linkedin`" not in channel_text(state) and "<code>linkedin</code>" in channel_text(
        state
    )

    forged = "command=%2Fsources&text=help"
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        **sign(forged, "not-the-secret"),
    }
    assert (await http.post("/slack/events", content=forged, headers=headers)).status_code == 401
    assert (await http.post("/demo/api/command", json={"text": "hello"})).json()["ok"] is False


async def test_home_tab_modal_and_controls(demo: Running, http: httpx2.AsyncClient) -> None:
    assert (await http.post("/demo/api/home", json={"tab": "home"})).json()["ok"]
    state = await state_when(http, lambda s: s["home"] is not None)
    assert "All 1 sources are working" in state["home"]["html"]
    assert 'data-action-id="connect_network:linkedin"' in state["home"]["html"]

    click = {
        "view_id": state["home"]["id"],
        "action_id": "connect_network:linkedin",
        "block_id": "connect",
        "value": "linkedin",
    }
    assert (await http.post("/demo/api/action", json=click)).json()["ok"]
    state = await state_when(http, lambda s: s["modal"] is not None)
    assert "Open LinkedIn" in state["modal"]["html"] and "/oauth/start/" in state["modal"]["html"]
    await http.post("/demo/api/close", json={"view_id": state["modal"]["id"]})
    assert (await state_when(http, lambda s: s["modal"] is None))["modal"] is None

    skipped = (await http.post("/demo/api/skip", json={})).json()
    assert "Skipped ahead 60 days" in skipped["note"] and "1 expired" in skipped["note"]
    state = await state_when(http, lambda s: "1 connection needs reconnecting" in channel_text(s))
    assert state["clock"]["days_ahead"] == 60

    first = (await http.post("/demo/api/digest", json={})).json()
    assert first["posted"] == 1
    await state_when(http, lambda s: "Sources digest" in channel_text(s))
    second = (await http.post("/demo/api/digest", json={})).json()
    assert second["posted"] == 0 and "already posted" in second["note"]


async def test_the_page_and_its_files_are_served(http: httpx2.AsyncClient) -> None:
    page = await http.get("/demo")
    assert page.status_code == 200 and "Skip ahead 60 days" in page.text
    for asset in ("/demo/static/sandbox.js", "/demo/static/sandbox.css"):
        assert (await http.get(asset)).status_code == 200, asset
    assert (await http.get("/", follow_redirects=False)).headers["location"] == "/demo"
    assert (await http.get("/healthz")).json()["ok"] is True
    ready = (await http.get("/readyz")).json()
    assert ready == {"ok": True, "database": "ok", "migrations": "ok", "scheduler": "ok"}


async def test_the_page_api_takes_only_json(http: httpx2.AsyncClient) -> None:
    """A form on another site can post to localhost, but cannot send JSON without CORS."""
    form = await http.post("/demo/api/command", data={"text": "/sources"})
    assert form.status_code == 415


async def test_choosing_the_channel_on_the_home_tab(
    demo: Running, http: httpx2.AsyncClient
) -> None:
    await http.post("/demo/api/home", json={"tab": "home"})
    state = await state_when(http, lambda s: s["home"] is not None)
    choose = {
        "view_id": state["home"]["id"],
        "action_id": "set_notify_channel",
        "block_id": "settings",
        "value": "C0GENERAL",
    }
    assert (await http.post("/demo/api/action", json=choose)).json()["ok"]
    selected = '<option value="C0GENERAL" selected>#general</option>'
    state = await state_when(http, lambda s: selected in s["home"]["html"])
    assert 'go to <span class="bk-mention">#general</span>' in state["home"]["html"]


async def test_modal_submissions_follow_the_apps_answer(demo: Running) -> None:
    """view_submission: errors stay in the modal, an empty ack closes it, a failure keeps it."""
    interactions = demo.demo.sandbox.interactions
    workspace = demo.demo.sandbox.workspace
    answers: list[Response] = []
    seen: list[dict[str, Any]] = []

    async def app(request: Request) -> Response:
        body = (await request.body()).decode()
        ts = request.headers["x-slack-request-timestamp"]
        assert (
            request.headers["x-slack-signature"]
            == sign(body, interactions.signing_secret, int(ts))["X-Slack-Signature"]
        )
        seen.append(json.loads(parse_qs(body)["payload"][0]))
        return answers.pop(0)

    view = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Settings"},
        "submit": {"type": "plain_text", "text": "Save"},
        "blocks": [
            {
                "type": "input",
                "block_id": "hour",
                "label": {"type": "plain_text", "text": "Hour"},
                "element": {"type": "plain_text_input", "action_id": "h"},
            }
        ],
    }
    opened = await workspace.call("views.open", {"trigger_id": "t", "view": view})
    view_id = opened["view"]["id"]
    original = interactions.http
    interactions.http = httpx2.AsyncClient(
        transport=httpx2.ASGITransport(
            app=Starlette(routes=[Route("/slack/events", app, methods=["POST"])])
        ),
        base_url="http://bot",
    )
    try:
        answers.append(JSONResponse({"response_action": "errors", "errors": {"hour": "0 to 23"}}))
        result = await interactions.submit(view_id, {"hour": {"h": "25"}})
        assert result == {"result": "errors", "errors": {"hour": "0 to 23"}}
        assert seen[-1]["type"] == "view_submission"
        assert seen[-1]["view"]["state"]["values"] == {
            "hour": {"h": {"type": "plain_text_input", "value": "25"}}
        }
        answers.append(Response(status_code=404))
        assert (await interactions.submit(view_id, {"hour": {"h": "9"}}))["result"] == "failed"
        assert workspace.modals and workspace.modals[-1].id == view_id
        answers.append(Response(status_code=200))
        assert (await interactions.submit(view_id, {"hour": {"h": "9"}})) == {"result": "closed"}
        assert not workspace.modals
    finally:
        await interactions.http.aclose()
        interactions.http = original


async def test_x_connects_with_pkce_and_renews_by_itself(
    demo: Running, http: httpx2.AsyncClient
) -> None:
    """X through the demo network: the bot's PKCE and refresh grant against authlib's server."""
    await http.post("/demo/api/command", json={"text": "/sources connect x"})
    links = r'data-url="([^"]+/oauth/start/[^"]+)"'
    state = await state_when(
        http, lambda s: any(re.search(links, m["html"]) for m in s["conversations"][CHANNEL])
    )
    (link,) = [
        found.group(1)
        for m in state["conversations"][CHANNEL]
        if (found := re.search(links, m["html"]))
    ]
    async with httpx2.AsyncClient(timeout=15.0) as browser:
        start = await browser.get(link)
        authorize = start.headers["location"]
        query = parse_qs(urlparse(authorize).query)
        assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
        login = await browser.get(authorize)
        assert "standing in for X" in login.text
        back = await browser.post(authorize, data={"account": "acme"})
        done = await browser.get(back.headers["location"])
    assert done.status_code == 200 and "Acme Corp" in done.text

    services = demo.demo.bot.services
    (x,) = [s for s in await services.sources.list("T0DEMO") if s.network == "x"]
    assert x.name == "Acme Corp" and x.renews_at is not None

    skipped = (await http.post("/demo/api/skip", json={})).json()
    assert "1 renewed" in skipped["note"] and "1 expired" in skipped["note"]
    (x,) = [s for s in await services.sources.list("T0DEMO") if s.network == "x"]
    assert x.status == "active"
    assert x.expires_at is not None and x.expires_at > demo.demo.clock.now()


async def test_settings_modal_through_the_bots_handlers(
    demo: Running, http: httpx2.AsyncClient
) -> None:
    """Input blocks in a modal, and a view_submission checked by the bot's real listener."""
    await http.post("/demo/api/home", json={"tab": "home"})
    state = await state_when(http, lambda s: s["home"] is not None)
    found = re.search(
        r'data-action-id="open_settings" data-block-id="([^"]*)"', state["home"]["html"]
    )
    assert found, "no Settings button on the App Home"
    click = {"view_id": state["home"]["id"], "action_id": "open_settings", "block_id": found[1]}
    assert (await http.post("/demo/api/action", json=click)).json()["ok"]
    state = await state_when(http, lambda s: s["modal"] is not None)
    modal = state["modal"]
    assert 'class="bk-input"' in modal["html"] and modal["submit"]

    bad = {
        "view_id": modal["id"],
        "values": {"digest_timezone": {"digest_timezone": "Mars/Olympus"}},
    }
    answer = (await http.post("/demo/api/submit", json=bad)).json()
    assert answer["result"] == "errors" and "digest_timezone" in answer["errors"]

    good = {
        "view_id": modal["id"],
        "values": {
            "digest_hour": {"digest_hour": "8"},
            "digest_timezone": {"digest_timezone": "Europe/Paris"},
        },
    }
    assert (await http.post("/demo/api/submit", json=good)).json() == {"result": "closed"}
    state = await state_when(http, lambda s: "Europe/Paris" in (s["home"] or {}).get("html", ""))
    assert state["modal"] is None and "08:00" in state["home"]["html"]
