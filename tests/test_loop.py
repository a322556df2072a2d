"""The core loop, end to end: connect, list, expire, notice, reconnect, confirm, digest, Home."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx2
from conftest import (
    CHANNEL,
    PUBLIC_URL,
    TEAM,
    Harness,
    blocks_text,
    bot_env,
    link_from,
    reconnect_buttons,
    running_bot,
)
from fakes import slack_requests

from bot import ids

ACME = ("urn-acme", "Acme Corp")
OTHER = ("urn-other", "Someone Else")


def reconnect_values(payload: dict[str, Any]) -> list[str]:
    return [button["value"] for button in reconnect_buttons(payload)]


async def connect(h: Harness, account: tuple[str, str] = ACME, user: str = "U1") -> httpx2.Response:
    """Walk `/sources connect linkedin` through the browser as ``account``."""
    h.linkedin.add_account(*account)
    h.linkedin.login_as(account[0])
    payload = await h.command("connect linkedin", user=user)
    async with h.browser() as browser:
        page = await browser.get(link_from(payload))
    await h.drain()  # the confirmation goes out through the outbox
    return page


async def expire_acme(h: Harness) -> dict[str, Any]:
    """Connect Acme, let its token run out, scan: returns the posted notice's call args."""
    await connect(h)
    h.clock.advance(timedelta(days=61))
    report = await h.scan()
    assert report.notices_queued == 1
    (notice,) = h.slack.successful_calls("chat.postMessage")[-1:]
    return notice.args | {"ts": notice.response["ts"]}


# 1. connect ----------------------------------------------------------------------------------


async def test_connect_creates_source_and_confirms(harness: Harness) -> None:
    page = await connect(harness)
    assert page.status_code == 200
    assert "Acme Corp" in page.text and "connected" in page.text

    sources = await harness.services.sources.list(TEAM)
    assert [(s.account_id, s.name, s.status) for s in sources] == [
        ("urn-acme", "Acme Corp", "active")
    ]
    assert sources[0].expires_at == harness.clock.now() + timedelta(seconds=5184000)

    (dm,) = await harness.slack.wait_for("chat.postMessage")
    assert dm.args["channel"] == "U1"
    assert "LinkedIn · Acme Corp is connected" in dm.args["text"]


async def test_link_message_is_private_and_explains_itself(harness: Harness) -> None:
    payload = await harness.command("connect linkedin")
    assert payload["response_type"] == "ephemeral"
    assert link_from(payload).startswith(f"{PUBLIC_URL}/oauth/start/")
    assert "only for you, works once and expires in 10 minutes" in blocks_text(payload)


async def test_pkce_is_not_sent_to_linkedin_and_state_is_random(harness: Harness) -> None:
    await connect(harness)
    (authorize,) = harness.linkedin.authorize_requests
    assert "code_challenge" not in authorize
    assert len(authorize["state"]) >= 32
    assert authorize["scope"] == "openid profile"
    assert authorize["redirect_uri"] == f"{PUBLIC_URL}/oauth/callback/linkedin"


async def test_unconfigured_network_says_what_to_set(harness: Harness) -> None:
    payload = await harness.command("connect myspace")
    assert "I don't know the network `myspace`" in payload["text"]
    assert "`linkedin`" in payload["text"]


# 2. /sources ----------------------------------------------------------------------------------


async def test_sources_lists_expired_with_error_and_reconnect(harness: Harness) -> None:
    await expire_acme(harness)
    payload = await harness.command("")
    text = blocks_text(payload)
    assert ":lock: *LinkedIn connection expired on 27 Jan*" in text
    assert "LinkedIn · Acme Corp" in text  # the name, in the context line
    assert len(reconnect_values(payload)) == 1


async def test_sources_filters_and_help(harness: Harness) -> None:
    await connect(harness)
    assert "No expired sources" in (await harness.command("expired"))["text"]
    assert "Acme Corp" in blocks_text(await harness.command("linkedin"))
    help_text = blocks_text(await harness.command("help"))
    assert "/sources connect <network>" in help_text.replace("&lt;", "<").replace("&gt;", ">")
    unknown = await harness.command("frobnicate <!channel>")
    assert "I didn't understand" in blocks_text(unknown)
    assert "<!channel>" not in blocks_text(unknown)


# 3. expiry and notices ------------------------------------------------------------------------


async def test_expiry_posts_one_notice_per_episode(harness: Harness) -> None:
    notice = await expire_acme(harness)
    assert notice["channel"] == CHANNEL
    assert "1 connection needs reconnecting" in notice["text"]

    again = await harness.scan()
    assert again.notices_queued == 0
    assert len(harness.slack.successful_calls("chat.postMessage")) == 2  # the DM and the notice


async def test_two_scans_at_once_post_one_notice(harness: Harness) -> None:
    await connect(harness)
    harness.clock.advance(timedelta(days=61))
    reports = await asyncio.gather(harness.scan(), harness.scan())
    assert sorted(r.notices_queued for r in reports) == [0, 1]
    notices = [
        c
        for c in harness.slack.successful_calls("chat.postMessage")
        if c.args["channel"] == CHANNEL
    ]
    assert len(notices) == 1
    assert await harness.rows("SELECT episode FROM sources") == [(1,)]


async def test_revoked_token_found_by_identity_check(harness: Harness) -> None:
    await connect(harness)
    harness.linkedin.revoke_tokens(ACME[0])
    harness.clock.advance(timedelta(days=1))
    report = await harness.scan()
    assert report.expired == ["LinkedIn · Acme Corp"]
    (source,) = await harness.services.sources.list(TEAM)
    assert source.status == "expired"
    assert source.last_error is not None and "rejected" in source.last_error.reason


async def test_network_down_during_health_check_changes_nothing(harness: Harness) -> None:
    await connect(harness)
    harness.linkedin.fail_userinfo(status=503)
    harness.clock.advance(timedelta(days=1))
    report = await harness.scan()
    assert report.expired == [] and len(report.transient) == 1
    (source,) = await harness.services.sources.list(TEAM)
    assert source.status == "active"


# 4 and 5. Reconnect and the callback ----------------------------------------------------------


async def test_reconnect_restores_source_and_confirms_in_thread(harness: Harness) -> None:
    notice = await expire_acme(harness)
    link = await harness.reconnect_link(notice, user="U2")

    async with harness.browser() as browser:
        page = await browser.get(link)
    assert page.status_code == 200 and "reconnected" in page.text

    (source,) = await harness.services.sources.list(TEAM)
    assert source.status == "active"
    assert source.restored_by == "U2"
    assert source.expires_at == harness.clock.now() + timedelta(seconds=5184000)

    posts = await harness.slack.wait_for("chat.postMessage", 3)
    reply = posts[-1].args
    assert reply["thread_ts"] == notice["ts"] and reply["channel"] == CHANNEL
    assert reply["text"] == "LinkedIn · Acme Corp reconnected by <@U2>, valid until 29 Mar 2027"

    (update,) = await harness.slack.wait_for("chat.update")
    assert update.args["ts"] == notice["ts"]
    assert "All reconnected" in blocks_text(update.args)
    assert reconnect_values(update.args) == []


async def test_wrong_account_changes_nothing_and_says_who(harness: Harness) -> None:
    notice = await expire_acme(harness)
    link = await harness.reconnect_link(notice)
    harness.linkedin.add_account(*OTHER)
    harness.linkedin.login_as(OTHER[0])
    credentials_before = await harness.rows("SELECT id FROM credentials")

    async with harness.browser() as browser:
        page = await browser.get(link)
    assert page.status_code == 409
    assert "Someone Else" in page.text and "Acme Corp" in page.text

    (source,) = await harness.services.sources.list(TEAM)
    assert source.status == "expired" and source.name == "Acme Corp"
    assert await harness.rows("SELECT id FROM credentials") == credentials_before
    assert await harness.rows("SELECT count(*) FROM sources") == [(1,)]
    posts = await harness.slack.wait_for("chat.postMessage", 3)
    assert posts[-1].args["thread_ts"] == notice["ts"]
    assert "Someone Else" in posts[-1].args["blocks"][0]["text"]["text"]


async def test_access_denied_page(harness: Harness) -> None:
    notice = await expire_acme(harness)
    link = await harness.reconnect_link(notice)
    harness.linkedin.deny_next()
    async with harness.browser() as browser:
        page = await browser.get(link)
    assert "Connection cancelled" in page.text
    (source,) = await harness.services.sources.list(TEAM)
    assert source.status == "expired"


async def test_link_is_single_use(harness: Harness) -> None:
    payload = await harness.command("connect linkedin")
    harness.linkedin.add_account(*ACME)
    async with harness.browser() as browser:
        first = await browser.get(link_from(payload))
        second = await browser.get(link_from(payload))
    assert first.status_code == 200
    assert second.status_code == 410 and "already used" in second.text


async def test_link_expires_after_ten_minutes(harness: Harness) -> None:
    payload = await harness.command("connect linkedin")
    harness.clock.advance(timedelta(minutes=10, seconds=1))
    async with harness.browser() as browser:
        page = await browser.get(link_from(payload))
    assert page.status_code == 410 and "expired" in page.text
    assert harness.linkedin.authorize_requests == []


async def callback_url(h: Harness, browser: httpx2.AsyncClient) -> str:
    """Open a connect link in ``browser`` and stop at the network's redirect back to the bot."""
    h.linkedin.add_account(*ACME)
    payload = await h.command("connect linkedin")
    start = await browser.get(link_from(payload), follow_redirects=False)
    at_provider = await browser.get(start.headers["location"], follow_redirects=False)
    return str(at_provider.headers["location"])


async def test_replayed_state_is_refused(harness: Harness) -> None:
    async with harness.browser() as browser:
        url = await callback_url(harness, browser)
        assert (await browser.get(url)).status_code == 200
        replay = await browser.get(url)
    assert replay.status_code == 410 and "already used" in replay.text
    assert len(harness.linkedin.token_requests) == 1


async def test_forged_state_is_refused_before_any_exchange(harness: Harness) -> None:
    async with harness.browser() as browser:
        url = await callback_url(harness, browser)
        forged = re.sub(r"state=[^&]+", "state=forged", url)
        page = await browser.get(forged)
        missing = await browser.get(f"{PUBLIC_URL}/oauth/callback/linkedin?code=abc")
    assert page.status_code == 400 and "not valid" in page.text
    assert missing.status_code == 400
    assert harness.linkedin.token_requests == []
    assert await harness.rows("SELECT count(*) FROM sources") == [(0,)]


async def test_state_from_another_browser_is_refused(harness: Harness) -> None:
    async with harness.browser() as browser:
        url = await callback_url(harness, browser)
    async with harness.browser() as other:  # no cookie from the link: somebody else's browser
        page = await other.get(url)
    assert page.status_code == 403
    assert harness.linkedin.token_requests == []
    assert await harness.rows("SELECT count(*) FROM sources") == [(0,)]


async def test_expired_state_is_refused(harness: Harness) -> None:
    async with harness.browser() as browser:
        url = await callback_url(harness, browser)
        harness.clock.advance(timedelta(minutes=11))
        page = await browser.get(url)
    assert page.status_code == 410
    assert harness.linkedin.token_requests == []


async def test_network_down_at_exchange_gets_its_own_page(harness: Harness) -> None:
    async with harness.browser() as browser:
        url = await callback_url(harness, browser)
        harness.linkedin.fail_token(status=503)
        page = await browser.get(url)
    assert page.status_code == 502 and "did not finish" in page.text
    assert "LinkedIn is not answering (HTTP 503). Nothing was changed." in page.text
    assert "Traceback" not in page.text
    assert await harness.rows("SELECT count(*) FROM sources") == [(0,)]


async def test_database_holds_no_plaintext_token(harness: Harness) -> None:
    await connect(harness)
    (token,) = harness.linkedin.issued_tokens(ACME[0])
    rows = await harness.rows("SELECT access_token, refresh_token FROM credentials")
    assert rows and all(token not in str(row) for row in rows)
    attempts = await harness.rows("SELECT * FROM connect_attempts")
    authorize_state = harness.linkedin.authorize_requests[0]["state"]
    assert all(authorize_state not in str(row) for row in attempts)


# Slack request checks -------------------------------------------------------------------------


async def test_bad_signature_and_stale_timestamp_are_refused(harness: Harness) -> None:
    body, _ = slack_requests.slash_command(response_url=harness.slack.response_url())
    headers = slack_requests.sign(body, "wrong-secret")
    bad = await harness.http.post("/slack/events", content=body, headers=headers)
    stale = await harness.send(body, timestamp=int(harness.clock.now().timestamp()) - 3600)
    assert (bad.status_code, stale.status_code) == (401, 401)
    assert harness.slack.calls_to("response_url") == []


async def test_slack_timeout_retry_does_no_duplicate_work(harness: Harness) -> None:
    event = {
        "type": ids.APP_HOME_OPENED,
        "user": "U1",
        "channel": "DU1",
        "tab": "home",
        "event_ts": "1.0",
    }
    assert (await harness.event(event)).status_code == 200
    await harness.slack.wait_for("views.publish")
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert (await harness.event(event, headers=retry)).status_code == 200
    await harness.command("help")  # a later request: its work is done after the retry's
    assert len(harness.slack.calls_to("views.publish")) == 1


# 6. digest ------------------------------------------------------------------------------------


async def test_digest_lists_expired_and_posts_once_a_day(harness: Harness) -> None:
    await expire_acme(harness)
    harness.clock.set(harness.clock.now().replace(hour=9, minute=2))
    assert await harness.digest_due() == 1
    assert await harness.digest_due() == 0
    results = await asyncio.gather(*(harness.digest_due() for _ in range(2)))
    assert results == [0, 0]
    digests = [
        c for c in harness.slack.successful_calls("chat.postMessage") if "digest" in c.args["text"]
    ]
    assert len(digests) == 1
    assert "1 expired" in digests[0].args["text"]
    assert len(reconnect_values(digests[0].args)) == 1


async def test_digest_waits_for_its_hour_and_is_quiet_when_all_is_well(harness: Harness) -> None:
    await connect(harness)  # expires in 60 days: all is well
    harness.clock.set(harness.clock.now().replace(hour=8))
    assert await harness.digest_due() == 0
    harness.clock.set(harness.clock.now().replace(hour=9))
    assert await harness.digest_due() == 0
    assert all("digest" not in c.args.get("text", "") for c in harness.slack.calls)


async def test_digest_reports_what_was_restored(harness: Harness) -> None:
    notice = await expire_acme(harness)
    link = await harness.reconnect_link(notice)
    async with harness.browser() as browser:
        await browser.get(link)
    await harness.drain()
    harness.clock.advance(timedelta(days=1))
    harness.clock.set(harness.clock.now().replace(hour=9))
    assert await harness.digest_due() == 1
    digest = harness.slack.successful_calls("chat.postMessage")[-1].args
    assert "1 restored" in digest["text"]
    assert "LinkedIn · Acme Corp" in blocks_text(digest)


# 7. App Home ----------------------------------------------------------------------------------


async def test_app_home_shows_banner_list_and_connect_button(harness: Harness) -> None:
    await expire_acme(harness)
    body, _ = slack_requests.app_home_opened(user_id="U3", team_id=TEAM)
    assert (await harness.send(body)).status_code == 200
    (publish,) = await harness.slack.wait_for("views.publish")
    view = publish.args["view"]
    text = blocks_text(view)
    assert publish.args["user_id"] == "U3"
    assert "1 source has stopped working" in text
    assert "Connect LinkedIn" in text
    assert len(reconnect_values(view)) == 1


async def test_app_home_reconnect_opens_a_modal_with_the_link(harness: Harness) -> None:
    await expire_acme(harness)
    (source,) = await harness.services.sources.list(TEAM)
    response = await harness.click(
        ids.RECONNECT_SOURCE, str(source.id), view=slack_requests.home_view(team_id=TEAM)
    )
    assert response.status_code == 200
    (opened,) = await harness.slack.wait_for("views.open")
    assert link_from(opened.args["view"]).startswith(f"{PUBLIC_URL}/oauth/start/")


async def test_messages_tab_is_ignored(harness: Harness) -> None:
    body, _ = slack_requests.app_home_opened(user_id="U3", tab="messages", team_id=TEAM)
    assert (await harness.send(body)).status_code == 200
    await harness.command("help")
    assert harness.slack.calls_to("views.publish") == []


async def test_query_string_never_reaches_page_or_logs(harness: Harness, caplog: Any) -> None:
    async with harness.browser() as browser:
        url = await callback_url(harness, browser)
        code = parse_qs(urlparse(url).query)["code"][0]
        page = await browser.get(url)
    assert code not in page.text
    assert code not in caplog.text


async def test_choosing_the_notice_channel_on_the_app_home(harness: Harness) -> None:
    harness.slack.add_user("U3", admin=True)  # settings are for admins by default
    harness.slack.add_channel("C0CHOSEN", "chosen")
    response = await harness.click(
        ids.SET_NOTIFY_CHANNEL,
        None,
        user="U3",
        view=slack_requests.home_view(team_id=TEAM),
        action_type="conversations_select",
        action_fields={"selected_conversation": "C0CHOSEN"},
    )
    assert response.status_code == 200
    (publish,) = await harness.slack.wait_for("views.publish")
    assert "Notices and the daily digest go to <#C0CHOSEN>" in blocks_text(publish.args["view"])
    assert await harness.rows("SELECT notify_channel FROM workspaces") == [("C0CHOSEN",)]


async def test_unconfigured_network_names_the_variables(
    database_url: str, slack: Any, linkedin: Any, clock: Any
) -> None:
    env = bot_env(database_url, slack, linkedin)
    del env["LINKEDIN_CLIENT_ID"], env["LINKEDIN_CLIENT_SECRET"]
    async with running_bot(env, slack, linkedin, clock) as h:
        payload = await h.command("connect linkedin")
    assert "LinkedIn is not configured yet" in payload["text"]
    assert "LINKEDIN_CLIENT_SECRET" in payload["text"]


async def test_two_sign_ins_in_one_browser_both_finish(harness: Harness) -> None:
    harness.linkedin.add_account(*ACME)
    harness.linkedin.add_account(*OTHER)
    first, second = (
        link_from(await harness.command("connect linkedin")),
        link_from(await harness.command("connect linkedin")),
    )
    async with harness.browser() as browser:
        callbacks = []
        for link, account in ((first, ACME), (second, OTHER)):
            harness.linkedin.login_as(account[0])
            start = await browser.get(link, follow_redirects=False)
            at_provider = await browser.get(start.headers["location"], follow_redirects=False)
            callbacks.append(at_provider.headers["location"])
        pages = [await browser.get(url) for url in callbacks]
    assert [page.status_code for page in pages] == [200, 200]
    names = sorted(s.name for s in await harness.services.sources.list(TEAM))
    assert names == ["Acme Corp", "Someone Else"]


async def test_digest_hour_is_local_to_the_digest_timezone(
    database_url: str, slack: Any, linkedin: Any, clock: Any
) -> None:
    env = {**bot_env(database_url, slack, linkedin), "DIGEST_TIMEZONE": "America/New_York"}
    async with running_bot(env, slack, linkedin, clock) as h:
        await connect(h)
        h.clock.advance(timedelta(days=61))
        await h.scan()
        h.clock.set(h.clock.now().replace(hour=9))  # 09:00 UTC is 04:00 in New York
        assert await h.digest_due() == 0
        h.clock.set(h.clock.now().replace(hour=14))  # 09:00 in New York (EST, UTC-5)
        assert await h.digest_due() == 1


async def test_a_revoked_source_gets_the_expiry_notice_not_a_warning(harness: Harness) -> None:
    await connect(harness)
    harness.linkedin.revoke_tokens(ACME[0])
    harness.clock.advance(timedelta(days=56))  # 4 days left on a token that no longer works
    report = await harness.scan()
    assert (report.notices_queued, report.warnings_queued) == (1, 0)


async def test_the_scan_forgets_connect_attempts_a_day_after_they_expired(
    harness: Harness,
) -> None:
    await harness.command("connect linkedin")
    harness.clock.advance(timedelta(hours=23))
    await harness.scan()
    assert await harness.rows("SELECT count(*) FROM connect_attempts") == [(1,)]
    harness.clock.advance(timedelta(hours=2))
    await harness.scan()
    assert await harness.rows("SELECT count(*) FROM connect_attempts") == [(0,)]
