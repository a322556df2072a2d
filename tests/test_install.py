"""Install mode: workspaces install the app through Slack's OAuth v2 (the real /slack/install
and /slack/oauth_redirect routes against the fake Slack), each with its own bot token."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx2
import pytest
import yaml
from conftest import (
    CHANNEL,
    INSTALL_URL,
    MANIFEST,
    Harness,
    install_env,
    link_from,
    running_bot,
)
from fakes import slack_requests
from fakes.slack_api import Approval, FakeSlack

ACME, GLOBEX = "T0001", "T0002"
GLOBEX_CHANNEL = "C0GLOBEX"


async def connect(h: Harness, team: str, account: tuple[str, str], user: str = "U1") -> None:
    """`/sources connect linkedin` in ``team``, signed in as ``account``."""
    h.linkedin.add_account(*account)
    h.linkedin.login_as(account[0])
    payload = await h.command("connect linkedin", user=user, team=team)
    async with h.browser() as browser:
        page = await browser.get(link_from(payload))
    assert page.status_code == 200, page.text
    await h.drain()


async def two_workspaces(h: Harness, rotation: bool = False) -> None:
    """Acme (a person in New York) and Globex (rotation as asked) install the app; each
    connects a LinkedIn page. Globex's notices go to its own channel."""
    h.slack.add_team(GLOBEX, "Globex")
    h.slack.add_user("U1", ACME)
    h.slack.add_user("U9", GLOBEX, tz="Europe/Paris")
    assert (await h.install(Approval(ACME, "U1"))).status_code == 200
    assert (await h.install(Approval(GLOBEX, "U9", rotation=rotation))).status_code == 200
    await h.services.workspaces.set_notify_channel(GLOBEX, GLOBEX_CHANNEL)
    await connect(h, ACME, ("urn-acme", "Acme Corp"))
    await connect(h, GLOBEX, ("urn-globex", "Globex Inc"), user="U9")


def posts_to(h: Harness, channel: str) -> list[Any]:
    return [c for c in h.slack.successful_calls("chat.postMessage") if c.args["channel"] == channel]


async def raw_rows(h: Harness, table: str) -> str:
    """Every value of ``table`` as the database holds it."""
    return repr(await h.rows(f"SELECT * FROM {table}"))  # noqa: S608 - a fixed table name


async def test_install_sends_the_person_to_slack_with_exactly_the_manifest_scopes(
    installer: Harness,
) -> None:
    async with installer.browser() as browser:
        start = await browser.get(f"{INSTALL_URL}/slack/install", follow_redirects=False)
    assert start.status_code == 302
    location = urlparse(start.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == installer.slack.authorize_url
    query = parse_qs(location.query)
    manifest = yaml.safe_load(MANIFEST.read_text())
    assert query["scope"] == [",".join(manifest["oauth_config"]["scopes"]["bot"])]
    assert query["redirect_uri"] == [f"{INSTALL_URL}/slack/oauth_redirect"]
    assert query["client_id"] == [installer.slack.client_id]
    assert "slack-app-oauth-state" in start.headers["set-cookie"]
    assert "Secure" in start.headers["set-cookie"]
    # The state is kept as a digest: a copy of the database cannot finish someone's install.
    (state,) = query["state"]
    assert await installer.rows("SELECT state FROM slack_oauth_states") == [
        (hashlib.sha256(state.encode()).hexdigest(),)
    ]


async def test_two_workspaces_each_get_their_notices_with_their_own_token(
    installer: Harness,
) -> None:
    await two_workspaces(installer)
    page_text = (await installer.install(Approval(ACME, "U1"))).text  # installing again is fine
    assert "sources-bot is installed in Acme" in page_text
    assert "Home" in page_text and "Settings" in page_text  # what to do next

    installer.clock.advance(timedelta(days=61))
    report = await installer.scan()
    assert report.notices_queued == 2

    (acme_notice,) = posts_to(installer, CHANNEL)
    (globex_notice,) = posts_to(installer, GLOBEX_CHANNEL)
    assert "Acme Corp" in str(acme_notice.args["blocks"])
    assert "Globex Inc" in str(globex_notice.args["blocks"])
    assert installer.slack.team_of(acme_notice.token) == ACME
    assert installer.slack.team_of(globex_notice.token) == GLOBEX
    # Every call the bot made with a workspace's token was about that workspace.
    for call in installer.slack.calls_to("chat.postMessage"):
        expected = GLOBEX if call.args["channel"] in {GLOBEX_CHANNEL, "U9"} else ACME
        assert installer.slack.team_of(call.token) == expected, call

    # /sources and the App Home in Globex show Globex's source, answered with Globex's token.
    listing = await installer.command("", user="U9", team=GLOBEX)
    assert "Globex Inc" in str(listing["blocks"]) and "Acme Corp" not in str(listing["blocks"])
    body, _ = slack_requests.app_home_opened(user_id="U9", team_id=GLOBEX)
    await installer.send(body)
    (home,) = await installer.slack.wait_for("views.publish")
    assert installer.slack.team_of(home.token) == GLOBEX
    assert "Globex Inc" in str(home.args["view"]) and "Acme Corp" not in str(home.args["view"])


async def test_the_digest_time_zone_defaults_to_the_installing_persons(
    installer: Harness,
) -> None:
    await two_workspaces(installer)
    zones = await installer.rows("SELECT id, digest_timezone FROM workspaces ORDER BY id")
    assert zones == [(ACME, "America/New_York"), (GLOBEX, "Europe/Paris")]


async def test_the_raw_database_never_holds_a_slack_token(installer: Harness) -> None:
    await two_workspaces(installer, rotation=True)
    installer.clock.advance(timedelta(hours=11))  # Globex's token is rotated before its post
    await installer.services.workspaces.set_notify_channel(GLOBEX, "C0OTHER")
    installer.clock.advance(timedelta(days=61))
    await installer.scan()
    issued = list(installer.slack.tokens) + list(installer.slack.refresh_tokens)
    assert len(issued) >= 4
    for table in ("slack_installations", "slack_bots", "slack_oauth_states", "outbox", "events"):
        raw = await raw_rows(installer, table)
        assert "xoxb-" not in raw and "xoxe" not in raw, table
        assert not any(token in raw for token in issued), table


async def test_a_rotating_token_is_refreshed_before_a_scheduled_post(installer: Harness) -> None:
    await two_workspaces(installer, rotation=True)
    installed = [c.token for c in installer.slack.successful_calls("chat.postMessage")][-1]

    def refreshes() -> list[Any]:
        calls = installer.slack.successful_calls("oauth.v2.access")
        return [c for c in calls if c.args.get("grant_type") == "refresh_token"]

    installer.clock.advance(timedelta(hours=9))  # 3 hours left: not yet
    await installer.services.workspaces.set_notify_channel(GLOBEX, "C0EARLY")
    await installer.services.digest.post(await installer.services.workspaces.get(GLOBEX))
    await installer.drain()
    installer.slack.fail("chat.postMessage", error="no_text", status=200)  # keep Acme quiet
    assert refreshes() == []

    installer.clock.advance(timedelta(days=61))  # long after the 12-hour token expired
    await installer.scan()
    (globex_notice,) = posts_to(installer, "C0EARLY")[-1:]
    assert "Globex Inc" in str(globex_notice.args["blocks"])
    assert len(refreshes()) == 1  # at the fake Slack: SLACK_API_URL applies to rotation
    assert globex_notice.token != installed
    assert installer.slack.team_of(globex_notice.token) == GLOBEX
    assert installer.slack.tokens[globex_notice.token].expires_at == (
        installer.clock.now() + timedelta(hours=12)
    )

    # The new refresh token was saved: 11 hours later, the next post rotates once more.
    installer.clock.advance(timedelta(hours=11))
    await installer.services.digest.post(await installer.services.workspaces.get(GLOBEX))
    await installer.drain()
    assert len(refreshes()) == 2
    assert installer.slack.successful_calls("chat.postMessage")[-1].token not in {
        installed,
        globex_notice.token,
    }


async def test_a_request_to_a_rotating_workspace_rotates_its_token_too(
    installer: Harness,
) -> None:
    await two_workspaces(installer, rotation=True)
    installer.clock.advance(timedelta(hours=13))
    listing = await installer.command("", user="U9", team=GLOBEX)
    assert "Globex Inc" in str(listing["blocks"])
    body, _ = slack_requests.app_home_opened(user_id="U9", team_id=GLOBEX)
    await installer.send(body)
    (home,) = await installer.slack.wait_for("views.publish")
    assert installer.slack._refuse(home.token) is None  # a fresh token, not the expired one


@pytest.mark.parametrize("order", ["uninstalled first", "tokens revoked first"])
async def test_uninstall_stops_one_workspace_and_reinstall_restores_it(
    installer: Harness, order: str
) -> None:
    await two_workspaces(installer)
    installer.clock.advance(timedelta(days=61))
    installer.slack.fail("chat.postMessage", error="service_unavailable", status=503, times=2)
    await installer.scan()  # both notices queued; Slack is down for a moment
    installer.slack.revoke(GLOBEX)
    uninstalled, _ = slack_requests.app_uninstalled(GLOBEX)
    revoked, _ = slack_requests.tokens_revoked(GLOBEX, bot=["U0BOTT0002"])
    first, second = (
        (uninstalled, revoked) if order == "uninstalled first" else (revoked, uninstalled)
    )
    marked = "SELECT uninstalled_at IS NOT NULL FROM workspaces WHERE id = :w"
    bots = "SELECT count(*) FROM slack_bots WHERE team_id = :w"
    installations = "SELECT count(*) FROM slack_installations WHERE team_id = :w"
    assert (await installer.send(first)).status_code == 200
    # Recorded before Slack got its 200: had the bot crashed instead, Slack would send it again.
    assert await installer.rows(marked, w=GLOBEX) == [(True,)]
    assert await installer.rows(bots, w=GLOBEX) == [(0,)]
    assert (await installer.send(second)).status_code == 200
    assert (await installer.send(uninstalled)).status_code == 200  # Slack retries: no harm
    assert await installer.rows(installations, w=GLOBEX) == [(0,)]
    assert await installer.rows(marked, w=ACME) == [(False,)]

    installer.clock.advance(timedelta(minutes=1))  # past the retry's backoff
    await installer.drain()
    assert len(posts_to(installer, CHANNEL)) == 1 and posts_to(installer, GLOBEX_CHANNEL) == []
    (failed,) = await installer.rows(
        "SELECT status, last_error FROM outbox WHERE workspace_id = :w", w=GLOBEX
    )
    assert failed == ("failed", "the app was uninstalled from this workspace")
    report = await installer.scan()  # the scan leaves Globex alone
    assert report.checked == 0 or all("Globex" not in label for label in report.renewed)
    assert await installer.rows(
        "SELECT count(*) FROM sources WHERE workspace_id = :w", w=GLOBEX
    ) == [(1,)]

    # Slack refuses Globex's people until the app is back.
    answer = await installer.command("", user="U9", team=GLOBEX)
    assert "reinstall" in answer["text"].lower()

    page = await installer.install(Approval(GLOBEX, "U9"))
    assert page.status_code == 200
    await installer.drain()
    (notice,) = posts_to(installer, GLOBEX_CHANNEL)
    assert "Globex Inc" in str(notice.args["blocks"])
    listing = await installer.command("", user="U9", team=GLOBEX)
    assert "Globex Inc" in str(listing["blocks"])


async def test_an_uninstalled_workspace_is_forgotten_after_the_retention(
    installer: Harness,
) -> None:
    await two_workspaces(installer)
    await installer.uninstalled(GLOBEX)
    installer.clock.advance(timedelta(days=29))
    await installer.scan()
    counts = "SELECT count(*) FROM {} WHERE workspace_id = :w"
    assert await installer.rows(counts.format("sources"), w=GLOBEX) == [(1,)]
    installer.clock.advance(timedelta(days=2))
    await installer.scan()
    for table in ("sources", "events", "outbox", "connect_attempts", "notices"):
        assert await installer.rows(counts.format(table), w=GLOBEX) == [(0,)], table
    assert await installer.rows("SELECT id FROM workspaces") == [(ACME,)]
    assert await installer.rows(counts.format("sources"), w=ACME) == [(1,)]


async def test_an_org_wide_install_from_the_admin_pages_serves_its_workspaces(
    installer: Harness,
) -> None:
    installer.slack.add_team("T0003", "Initech", enterprise_id="E0ORG")
    code = installer.slack.issue_code(Approval(None, "W1", enterprise_id="E0ORG", org_install=True))
    async with installer.browser() as browser:  # no state: Slack's admin pages send none
        page = await browser.get(f"{INSTALL_URL}/slack/oauth_redirect?code={code}")
    assert page.status_code == 200 and "installed in Org" in page.text
    (row,) = await installer.rows("SELECT enterprise_id, team_id FROM slack_bots")
    assert row == ("E0ORG", None)

    options = {"enterprise_id": "E0ORG", "is_enterprise_install": True}
    listing = await installer.command("", user="W1", team="T0003", **options)
    assert "No sources yet" in listing["text"]
    assert await installer.rows("SELECT id, enterprise_id, org_install FROM workspaces") == [
        ("T0003", "E0ORG", True)
    ]
    await installer.services.workspaces.set_notify_channel("T0003", "C0INITECH")
    installer.linkedin.add_account("urn-initech", "Initech")
    installer.linkedin.login_as("urn-initech")
    payload = await installer.command("connect linkedin", user="W1", team="T0003", **options)
    async with installer.browser() as browser:
        await browser.get(link_from(payload))
    await installer.drain()
    (dm,) = installer.slack.successful_calls("chat.postMessage")
    assert installer.slack.team_of(dm.token) == "E0ORG"


async def test_a_team_install_without_state_is_refused_and_its_token_revoked(
    installer: Harness,
) -> None:
    code = installer.slack.issue_code(Approval(ACME, "U1"))
    async with installer.browser() as browser:
        page = await browser.get(f"{INSTALL_URL}/slack/oauth_redirect?code={code}")
    assert page.status_code == 400
    assert "another browser" in page.text
    assert await installer.rows("SELECT count(*) FROM slack_bots") == [(0,)]
    (token,) = installer.slack.tokens.values()
    assert token.revoked


async def test_cancelled_and_replayed_installs_say_what_happened(installer: Harness) -> None:
    async with installer.browser() as browser:  # nobody approves on Slack's page
        cancelled = await browser.get(f"{INSTALL_URL}/slack/install")
    assert "Install cancelled" in cancelled.text
    assert f"{INSTALL_URL}/slack/install" in cancelled.text  # how to start again

    installer.slack.approve_next_install(Approval(ACME, "U1"))
    async with installer.browser() as browser:
        start = await browser.get(f"{INSTALL_URL}/slack/install", follow_redirects=False)
        at_slack = await browser.get(start.headers["location"], follow_redirects=False)
        callback = at_slack.headers["location"]
    async with httpx2.AsyncClient(  # another browser, without the state cookie
        mounts={INSTALL_URL: httpx2.ASGITransport(app=installer.bot.asgi)}
    ) as other:
        page = await other.get(callback)
    assert page.status_code == 400 and "another browser" in page.text
    assert await installer.rows("SELECT count(*) FROM slack_bots") == [(0,)]


async def test_install_logs_no_code_or_token(installer: Harness, caplog: Any) -> None:
    installer.slack.fail("oauth.v2.access", error="invalid_code", status=200)
    installer.slack.approve_next_install(Approval(ACME, "U1"))
    async with installer.browser() as browser:
        page = await browser.get(f"{INSTALL_URL}/slack/install")
    assert "did not accept" in page.text
    await two_workspaces(installer)
    for code in installer.slack.codes:
        assert code not in caplog.text
    for token in installer.slack.tokens:
        assert token not in caplog.text
    assert "code-" not in caplog.text


async def test_bot_token_mode_ignores_slack_client_id_in_the_process_environment(
    database_url: str, slack: FakeSlack, linkedin: Any, clock: Any, monkeypatch: Any
) -> None:
    """Bolt would switch to OAuth by itself on these; the bot chooses its mode from its
    settings, which came without them."""
    monkeypatch.setenv("SLACK_CLIENT_ID", "from-the-environment")
    monkeypatch.setenv("SLACK_CLIENT_SECRET", "from-the-environment")
    env = install_env(database_url, slack, linkedin)
    for name in ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_AUTHORIZE_URL"):
        del env[name]
    env["SLACK_BOT_TOKEN"] = "xoxb-test-token"
    async with running_bot(env, slack, linkedin, clock) as h:
        assert not h.bot.settings.install_mode
        assert (await h.http.get("/slack/install")).status_code == 404
        payload = await h.command("help")
        assert "How to use" in payload["text"]


async def test_a_workspace_reaches_only_its_own_sources_and_notices(installer: Harness) -> None:
    await two_workspaces(installer)
    (acme_source,) = await installer.services.sources.list(ACME)
    installer.clock.advance(timedelta(days=61))
    await installer.scan()
    (acme_notice,) = posts_to(installer, CHANNEL)

    # Globex's person clicks a Reconnect whose value is Acme's source, on Acme's notice ts.
    before = len(installer.slack.successful_calls("response_url"))
    await installer.click(
        "reconnect_source",
        str(acme_source.id),
        user="U9",
        team=GLOBEX,
        channel_id=CHANNEL,
        message_ts=acme_notice.response["ts"],
        response_url=installer.slack.response_url("cross"),
    )
    answer = (await installer.slack.wait_for("response_url", before + 1))[-1].args
    assert answer["text"].startswith("That source no longer exists")
    assert await installer.services.sources.get(GLOBEX, acme_source.id) is None
    assert (
        await installer.services.notices.notice_at(GLOBEX, CHANNEL, acme_notice.response["ts"])
        is None
    )
    assert await installer.rows(
        "SELECT count(*) FROM connect_attempts WHERE source_id = :s", s=acme_source.id
    ) == [(0,)]


async def test_two_posts_at_once_rotate_a_token_once(installer: Harness) -> None:
    import asyncio

    await two_workspaces(installer, rotation=True)
    installer.clock.advance(timedelta(hours=13))  # expired: both must wait for the new token
    clients = installer.services.ctx.slack_clients
    first, second = await asyncio.gather(
        clients.for_workspace(GLOBEX), clients.for_workspace(GLOBEX)
    )
    refreshes = [
        c
        for c in installer.slack.successful_calls("oauth.v2.access")
        if c.args.get("grant_type") == "refresh_token"
    ]
    assert len(refreshes) == 1
    assert first.client.token == second.client.token
    assert installer.slack._refuse(first.client.token) is None


async def test_in_bot_token_mode_an_uninstall_stops_posts_until_slack_talks_to_the_bot_again(
    harness: Harness,
) -> None:
    from test_loop import connect as connect_acme

    await connect_acme(harness)
    harness.clock.advance(timedelta(days=61))
    await harness.uninstalled(ACME)
    report = await harness.scan()
    assert report.checked == 0 and report.notices_queued == 0
    assert posts_to(harness, CHANNEL) == []

    # Installed again (with the operator's new SLACK_BOT_TOKEN): its first request says so.
    assert "Acme Corp" in str((await harness.command(""))["blocks"])
    assert await harness.rows("SELECT uninstalled_at FROM workspaces") == [(None,)]
    assert (await harness.scan()).notices_queued == 1
    assert len(posts_to(harness, CHANNEL)) == 1
