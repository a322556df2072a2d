"""One login for many sources: one reconnect restores every page the login manages that needs
a person (each with its own page token, each confirmed in its notice's thread), "Reconnect
all N", and a new connect offering the pages it manages that are not sources yet."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx2
import pytest
from conftest import CHANNEL, TEAM, Harness, blocks_text, link_from, reconnect_buttons
from fakes import slack_requests
from test_connect_networks import (
    connect,
    credential_ids,
    import_source,
    newest_credential,
    notices,
    replies_to,
    scan,
    source,
)

from bot import ids
from bot.config import Settings
from bot.domain import Identity, Page, TokenSet
from bot.networks import load_catalogue
from bot.services.logins import Handout, Login

PAGES = [("pg-1", "Acme Bakery"), ("pg-2", "Acme Cafe"), ("pg-3", "Acme Diner")]
FAY = ("100042", "Fay Book")
GUS = ("100077", "Gus Manager")


async def three_expired_pages(h: Harness, fake: Any) -> tuple[list[int], dict[str, Any]]:
    """Three Facebook pages of Fay's, with their page tokens, revoked at Facebook and found
    dead by one scan: one notice lists them all."""
    fake.add_account(*FAY)
    for page in PAGES:
        fake.add_page(FAY[0], *page)
    tokens = fake.issue_tokens(FAY[0])
    ids_ = [
        await import_source(
            h, "facebook", *page, {**tokens, "access_token": tokens["page_tokens"][page[0]]}, "page"
        )
        for page in PAGES
    ]
    fake.revoke(FAY[0])
    h.clock.advance(timedelta(days=1))
    report = await scan(h)
    assert report.notices_queued == 1, report.summary()
    return ids_, notices(h)[-1]


async def click_for_link(
    h: Harness, notice: dict[str, Any], action_id: str, value: str, user: str = "U2"
) -> str:
    """Click a button of the notice as ``user``; return the private link they get."""
    before = len(h.slack.successful_calls("response_url"))
    response = await h.click(
        action_id,
        value,
        user=user,
        channel_id=CHANNEL,
        message_ts=notice["ts"],
        response_url=h.slack.response_url(f"click-{before}"),
    )
    assert response.status_code == 200
    calls = await h.slack.wait_for("response_url", before + 1)
    return link_from(calls[-1].args)


async def follow(h: Harness, link: str) -> httpx2.Response:
    async with h.browser() as browser:
        page = await browser.get(link)
    await h.drain()
    return page


def reconnect_all_button(notice: dict[str, Any]) -> dict[str, Any]:
    (button,) = [
        element
        for block in notice["blocks"]
        for element in block.get("elements", [])
        if element.get("action_id", "").startswith(ids.RECONNECT_ALL)
    ]
    return dict(button)


@pytest.mark.parametrize("how", ["reconnect", "reconnect_all"])
async def test_one_facebook_login_restores_three_pages_with_their_own_tokens(
    network_bot: Any, how: str
) -> None:
    async with network_bot("facebook") as (h, fake):
        source_ids, notice = await three_expired_pages(h, fake)
        assert reconnect_all_button(notice)["text"]["text"] == "Reconnect all 3 Facebook"
        fake.add_account(*GUS)
        for page in PAGES:
            fake.add_page(GUS[0], *page)
        fake.login_as(GUS[0])

        if how == "reconnect":
            first = reconnect_buttons(notice)[0]
            link = await click_for_link(h, notice, ids.RECONNECT_SOURCE, first["value"])
        else:
            button = reconnect_all_button(notice)
            link = await click_for_link(h, notice, button["action_id"], button["value"])
        page = await follow(h, link)

        assert page.status_code == 200, page.text
        assert "The same sign-in also reconnected" in page.text
        user_token = fake.issued_access_tokens(GUS[0])[-1]
        page_tokens = fake.page_tokens(GUS[0], user_token)
        stored = [await newest_credential(h, source_id) for source_id in source_ids]
        assert stored == [(page_tokens[page_id], None, None) for page_id, _ in PAGES]
        assert len({access for access, _, _ in stored}) == 3
        for source_id in source_ids:
            restored = await source(h, source_id)
            assert (restored.status, restored.connected_by, restored.connected_as) == (
                "active",
                "U2",
                "Gus Manager",
            )
        replies = replies_to(h, notice["ts"])
        assert sorted(reply["text"].split(" reconnected by")[0] for reply in replies) == [
            f"Facebook · {name}" for _, name in PAGES
        ]
        assert all("reconnected by <@U2> (signed in as Gus Manager)" in r["text"] for r in replies)
        updated = h.slack.messages[(CHANNEL, notice["ts"])]
        assert "All reconnected" in blocks_text(updated)
        events = await h.rows("SELECT type, source_id FROM events WHERE type = 'source.restored'")
        assert sorted(source_id for _, source_id in events) == source_ids


async def test_reconnect_all_with_a_login_that_manages_none_of_them_changes_nothing(
    network_bot: Any,
) -> None:
    async with network_bot("facebook") as (h, fake):
        _, notice = await three_expired_pages(h, fake)
        fake.add_account("200002", "Dee Stranger")
        fake.add_page("200002", "pg-other", "Dee's Diner")
        fake.login_as("200002")
        before = await credential_ids(h)
        button = reconnect_all_button(notice)

        page = await follow(h, await click_for_link(h, notice, button["action_id"], "facebook"))

        assert page.status_code == 409
        assert "manages none of them" in page.text and "Dee Stranger" in page.text
        assert await credential_ids(h) == before
        (reply,) = replies_to(h, notice["ts"])
        assert "reaches none of the Facebook sources" in blocks_text(reply)
        assert "(it reaches: *Dee's Diner*)" in blocks_text(reply)


async def test_a_page_reconnect_also_restores_the_pages_sibling_but_not_healthy_ones(
    network_bot: Any,
) -> None:
    async with network_bot("facebook") as (h, fake):
        source_ids, notice = await three_expired_pages(h, fake)
        fake.add_account(*GUS)
        fake.add_page(GUS[0], *PAGES[0])
        fake.add_page(GUS[0], *PAGES[1])  # not the third
        fake.login_as(GUS[0])
        first = reconnect_buttons(notice)[0]
        page = await follow(
            h, await click_for_link(h, notice, ids.RECONNECT_SOURCE, first["value"])
        )
        assert page.status_code == 200
        statuses = [(await source(h, source_id)).status for source_id in source_ids]
        assert statuses[:2] == ["active", "active"] and statuses[2] in ("expired", "revoked")
        assert len(replies_to(h, notice["ts"])) == 2
        # Reconnecting again with the same login finds nothing else to restore.
        credentials = await credential_ids(h)
        fake.add_page(GUS[0], *PAGES[2])
        third = reconnect_buttons(notice)[2]
        page = await follow(
            h, await click_for_link(h, notice, ids.RECONNECT_SOURCE, third["value"])
        )
        assert page.status_code == 200 and "also reconnected" not in page.text
        assert len(await credential_ids(h)) == len(credentials) + 1


async def choose_in_dm(h: Harness, user: str = "U1", opens: bool = True) -> dict[str, Any]:
    """Click the DM's "Choose ..." button; return the modal it opened (or, when it should not
    open one, the ephemeral answer)."""
    dm = next(
        c
        for c in reversed(h.slack.successful_calls("chat.postMessage"))
        if c.args["channel"] == user and "Choose" in blocks_text(c.args)
    )
    (button,) = [b["accessory"] for b in dm.args["blocks"] if "accessory" in b]
    assert button["action_id"] == ids.CHOOSE_PAGES
    opened = len(h.slack.successful_calls("views.open"))
    answered = len(h.slack.successful_calls("response_url"))
    response = await h.click(
        ids.CHOOSE_PAGES,
        button["value"],
        user=user,
        channel_id=f"D{user}",
        message_ts=dm.response["ts"],
        response_url=h.slack.response_url(f"choose-{opened}-{answered}"),
    )
    assert response.status_code == 200
    if opens:
        return dict((await h.slack.wait_for("views.open", opened + 1))[-1].args["view"])
    return dict((await h.slack.wait_for("response_url", answered + 1))[-1].args)


async def submit_pages(
    h: Harness, view: dict[str, Any], ticked: list[str], user: str = "U1"
) -> dict[str, Any]:
    """Submit the pages modal with the pages named ``ticked``; return the bot's answer."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        options = block["element"]["options"]
        values[block["block_id"]] = {
            "pages": {
                "type": "checkboxes",
                "selected_options": [o for o in options if o["text"]["text"] in ticked],
            }
        }
    body, _ = slack_requests.view_submission(view, values, user_id=user)
    response = await h.send(body)
    assert response.status_code == 200
    return dict(response.json()) if response.content else {}


async def test_connecting_facebook_offers_the_pages_it_manages_that_are_not_sources(
    network_bot: Any,
) -> None:
    async with network_bot("facebook") as (h, fake):
        fake.add_account(*FAY)
        for page in PAGES:
            fake.add_page(FAY[0], *page)
        tokens = fake.issue_tokens(FAY[0])
        known = {**tokens, "access_token": tokens["page_tokens"]["pg-1"]}
        await import_source(h, "facebook", *PAGES[0], known, "page")  # already a source

        page = await connect(h, "facebook")
        await h.drain()

        assert page.status_code == 200
        assert "It also manages 2 more" in page.text and "choose which to add in Slack" in page.text
        modal = await choose_in_dm(h)
        assert modal["title"]["text"] == "Add sources"
        (group,) = [block for block in modal["blocks"] if block["type"] == "input"]
        assert [o["text"]["text"] for o in group["element"]["initial_options"]] == [
            "Acme Cafe",
            "Acme Diner",
        ]

        answer = await submit_pages(h, modal, ["Acme Diner"])

        assert answer["response_action"] == "update"
        assert "Added 1 Facebook page: *Acme Diner*" in blocks_text(answer["view"])
        names = {s.name: s for s in await h.services.sources.list(TEAM)}
        assert set(names) == {"Fay Book", "Acme Bakery", "Acme Diner"}
        diner = names["Acme Diner"]
        assert (diner.kind, diner.connected_by, diner.connected_as) == ("page", "U1", "Fay Book")
        user_token = fake.issued_access_tokens(FAY[0])[-1]
        access, refresh, _ = await newest_credential(h, diner.id)
        assert (access, refresh) == (fake.page_tokens(FAY[0], user_token)["pg-3"], None)
        assert await h.rows("SELECT count(*) FROM page_offers") == [(0,)]

        told = await choose_in_dm(h, opens=False)  # the offer is used up
        assert "already made or has expired" in told["text"]
        assert len(h.slack.successful_calls("views.open")) == 1


async def test_nothing_ticked_is_asked_again_and_an_offer_nobody_takes_is_forgotten(
    network_bot: Any,
) -> None:
    async with network_bot("facebook") as (h, fake):
        fake.add_account(*FAY)
        fake.add_page(FAY[0], *PAGES[0])
        await connect(h, "facebook")
        await h.drain()
        modal = await choose_in_dm(h)

        answer = await submit_pages(h, modal, [])
        assert answer["response_action"] == "errors"
        assert answer["errors"] == {"pages:0": "Tick at least one, or press Cancel."}
        assert await h.rows("SELECT count(*) FROM page_offers") == [(1,)]
        (tokens,) = (await h.rows("SELECT tokens FROM page_offers"))[0]
        assert fake.issued_access_tokens(FAY[0])[-1] not in tokens  # encrypted

        h.clock.advance(timedelta(hours=25))
        await h.scan()
        assert await h.rows("SELECT count(*) FROM page_offers") == [(0,)]
        gone = await submit_pages(h, modal, ["Acme Bakery"])
        assert "already made or has expired" in blocks_text(gone["view"])


async def test_linkedin_organizations_are_offered_when_asked_for(network_bot: Any) -> None:
    async with network_bot("linkedin") as (h, fake):
        fake.add_account("member-ada", "Ada Admin")
        fake.add_organization("member-ada", "2414183", "Acme Corp")
        fake.add_organization("member-ada", "999", "Acme Labs")
        fake.login_as("member-ada")

        plain = await connect(h, "linkedin")  # without the word: no organizations asked
        assert "also manages" not in plain.text
        assert fake.authorize_requests[-1]["scope"] == "openid profile"

        page = await connect(h, "linkedin organizations")
        assert "It also manages 2 more" in page.text
        assert fake.authorize_requests[-1]["scope"].split() == [
            "openid",
            "profile",
            "rw_organization_admin",
        ]
        await h.drain()
        answer = await submit_pages(h, await choose_in_dm(h), ["Acme Corp", "Acme Labs"])
        assert "Added 2 LinkedIn organizations" in blocks_text(answer["view"])
        kinds = {s.name: s.kind for s in await h.services.sources.list(TEAM)}
        assert kinds == {
            "Ada Admin": "account",
            "Acme Corp": "organization",
            "Acme Labs": "organization",
        }


async def test_youtube_offers_the_other_channels_of_the_google_account(network_bot: Any) -> None:
    async with network_bot("youtube") as (h, fake):
        fake.add_account("g-brand", "Brand Manager", channel=False)
        fake.add_channel("g-brand", "UCone", "Acme TV")
        fake.add_channel("g-brand", "UCtwo", "Acme Kids")
        page = await connect(h, "youtube")
        assert "It also manages 1 more that is not a source yet" in page.text
        await h.drain()
        answer = await submit_pages(h, await choose_in_dm(h), ["Acme Kids"])
        assert "Added 1 YouTube channel" in blocks_text(answer["view"])
        by_name = {s.name: s for s in await h.services.sources.list(TEAM)}
        assert by_name["Acme Kids"].kind == "channel"
        # Google's refresh tokens are not spent by a refresh: both channels renew by themselves.
        _, refresh_one, _ = await newest_credential(h, by_name["Acme TV"].id)
        _, refresh_two, _ = await newest_credential(h, by_name["Acme Kids"].id)
        assert refresh_one and refresh_one == refresh_two
        assert by_name["Acme Kids"].renews_at is not None


def test_a_single_use_refresh_token_goes_to_one_source_only() -> None:
    catalogue = load_catalogue(Settings.from_env({}))
    tokens = TokenSet("access", "refresh", None, None)
    pages = (Page("org-1", "One"), Page("org-2", "Two"), Page("fb-page", "Page", "page-token"))
    for name, shared in (("linkedin", False), ("youtube", True)):
        handout = Handout(Login(catalogue[name], Identity("me", "Me"), tokens, pages))
        given = [
            handout.tokens_for("account", "me"),
            handout.tokens_for("organization", "org-1"),
            handout.tokens_for("organization", "org-2"),
        ]
        assert [t.access_token for t in given] == ["access"] * 3
        refreshes = [t.refresh_token for t in given]
        assert refreshes == (["refresh"] * 3 if shared else ["refresh", None, None]), name
    facebook = Handout(Login(catalogue["facebook"], Identity("me", "Me"), tokens, pages))
    assert facebook.tokens_for("page", "fb-page") == TokenSet("page-token", None, None, None)
