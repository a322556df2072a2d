"""A source's history (`/sources history`, the App Home's History buttons): its events newest
first in the viewer's time zone, a page at a time, token reads without flooding anything."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from api_support import OTHER_TEAM, add_sources, append_event, new_key
from conftest import TEAM, Harness, blocks_text
from fakes import slack_requests
from openapi_check import checked_api
from test_loop import ACME, OTHER, connect, expire_acme

from bot import ids
from bot.services.events import EventType
from bot.services.history import PAGE_SIZE


async def open_history(h: Harness, text: str, user: str = "U1") -> dict[str, Any]:
    """Run `/sources history <text>`; return the modal it opened."""
    before = len(h.slack.successful_calls("views.open"))
    body, _ = slack_requests.slash_command(
        text=f"history {text}", user_id=user, response_url=h.slack.response_url(f"h-{before}")
    )
    assert (await h.send(body)).status_code == 200
    opened = (await h.slack.wait_for("views.open", before + 1))[-1]
    return dict(opened.response["view"]) | {"sent": opened.args["view"]}


def entries(view: dict[str, Any]) -> list[str]:
    """The history lines of a modal, in order (the sections after the divider)."""
    blocks = view["blocks"]
    start = next(i for i, block in enumerate(blocks) if block["type"] == "divider") + 1
    return [block["text"]["text"] for block in blocks[start:] if block["type"] == "section"]


def page_button(view: dict[str, Any], action_id: str) -> dict[str, Any] | None:
    for block in view["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return dict(element)
    return None


async def turn(h: Harness, view: dict[str, Any], action_id: str) -> dict[str, Any]:
    """Click Older or Newer in an open history modal; return the modal as updated."""
    button = page_button(view, action_id)
    assert button is not None, f"no {action_id} button"
    before = len(h.slack.successful_calls("views.update"))
    response = await h.click(action_id, button["value"], view=view, block_id="history_pages")
    assert response.status_code == 200
    updated = (await h.slack.wait_for("views.update", before + 1))[-1]
    assert updated.args["view_id"] == view["id"]
    return dict(updated.response["view"])


async def test_history_tells_the_sources_life_newest_first_in_the_viewers_time_zone(
    harness: Harness,
) -> None:
    harness.slack.add_user("U1", tz="Asia/Tokyo")
    notice = await expire_acme(harness)  # connected by U1 on 28 Nov, expired 61 days later
    harness.linkedin.add_account(*OTHER)
    for account in ("urn-other", "urn-acme"):  # the wrong login first, then the right one
        harness.linkedin.login_as(account)
        link = await harness.reconnect_link(notice, user="U2")
        async with harness.browser() as browser:
            await browser.get(link)

    view = await open_history(harness, "Acme Corp")

    assert view["title"]["text"] == "History"
    assert "times in Asia/Tokyo" in blocks_text(view)
    assert "*LinkedIn · Acme Corp* — valid until" in view["blocks"][0]["text"]["text"]
    # 28 Nov 08:00 UTC is 17:00 in Tokyo; the expiry and restore came 61 days later, in the
    # new year (so the connection's line says its year).
    assert entries(view) == [
        "*Thu 28 Jan 17:00* · :white_check_mark: Restored by <@U2> as *Acme Corp*",
        "*Thu 28 Jan 17:00* · :warning: <@U2> signed in as *Someone Else*, a login that "
        "does not reach it; nothing changed",
        "*Thu 28 Jan 17:00* · :lock: Expired: LinkedIn connection expired on 27 Jan",
        "*Sat 28 Nov 2026 17:00* · :link: Connected by <@U1> as *Acme Corp*",
    ]
    assert page_button(view, ids.HISTORY_OLDER) is None  # one page holds it all
    assert page_button(view, ids.HISTORY_NEWER) is None


async def test_history_is_in_utc_when_slack_does_not_know_the_viewer(harness: Harness) -> None:
    await connect(harness)
    view = await open_history(harness, "acme", user="U9")  # no such user at the fake Slack
    assert "times in UTC" in blocks_text(view)
    assert entries(view) == ["*Sat 28 Nov 08:00* · :link: Connected by <@U1> as *Acme Corp*"]


async def test_history_pages_older_and_newer_without_gaps_or_repeats(harness: Harness) -> None:
    (source_id,) = await add_sources(harness, {"account_id": "urn-acme", "name": "Acme Corp"})
    total = 2 * PAGE_SIZE + 5
    for number in range(total):
        harness.clock.advance(timedelta(minutes=1))
        await append_event(harness, EventType.EXPIRED, source_id, {"reason": f"reason {number}"})

    first = await open_history(harness, str(source_id))
    second = await turn(harness, first, ids.HISTORY_OLDER)
    third = await turn(harness, second, ids.HISTORY_OLDER)
    back = await turn(harness, third, ids.HISTORY_NEWER)

    def reasons(view: dict[str, Any]) -> list[int]:
        return [int(line.rsplit(" ", 1)[1]) for line in entries(view) if "reason" in line]

    newest_first = list(reversed(range(total)))
    assert reasons(first) == newest_first[:PAGE_SIZE]
    assert reasons(second) == newest_first[PAGE_SIZE : 2 * PAGE_SIZE]
    assert reasons(third) == newest_first[2 * PAGE_SIZE :]
    assert entries(third)[-1].endswith("Connected by the command line")  # its import
    assert reasons(back) == reasons(second)
    assert page_button(first, ids.HISTORY_NEWER) is None
    assert page_button(third, ids.HISTORY_OLDER) is None
    assert page_button(back, ids.HISTORY_NEWER) and page_button(back, ids.HISTORY_OLDER)
    assert json.loads(back["private_metadata"]) == {"source": source_id, "tz": "UTC"}


async def test_the_workflows_events_and_unknown_ones_are_shown(harness: Harness) -> None:
    (source_id,) = await add_sources(harness, {"account_id": "urn-acme", "name": "Acme Corp"})
    until = (harness.clock.now() + timedelta(days=3)).isoformat()
    for kind, payload, actor in (
        ("source.claimed", {"by": "U5"}, "U5"),
        ("source.snoozed", {"until": until}, "U6"),
        ("source.escalated", {"to": "admins"}, "scan"),
        ("source.mystery", {"note": "<!channel> & more", "nested": {"x": 1}}, "U7"),
    ):
        harness.clock.advance(timedelta(minutes=1))
        await append_event(harness, kind, source_id, payload, actor=actor)  # type: ignore[arg-type]

    lines = [line.split(" · ", 1)[1] for line in entries(await open_history(harness, "acme"))]

    assert lines == [
        ":grey_question: `source.mystery` by <@U7> (note: &lt;!channel&gt; &amp; more)",
        ":mega: Escalated: still broken long after its notice (to: admins)",
        ":zzz: Snoozed by <@U6> until 1 Dec",
        ":raising_hand: <@U5> took it on",
        ":link: Connected by the command line",
    ]


async def test_token_reads_show_at_most_hourly_per_key_and_reach_no_webhook_or_feed(
    harness: Harness,
) -> None:
    (source_id,) = await add_sources(harness, {"account_id": "urn-acme", "name": "Acme Corp"})
    await harness.services.webhooks.add(TEAM, "https://hooks.example.test/all")  # every event
    key = await new_key(harness)
    other = await new_key(harness, name="scripts")
    async with checked_api(harness, key) as api, checked_api(harness, other) as scripts:
        for minutes in (0, 10, 30, 61, 125):
            harness.clock.set(harness.clock.now().replace(minute=0) + timedelta(minutes=minutes))
            assert (await api.post(f"/api/v1/sources/{source_id}/token")).status_code == 200
        assert (await scripts.post(f"/api/v1/sources/{source_id}/token")).status_code == 200
        harness.clock.advance(timedelta(minutes=5))
        feed = (await api.get("/api/v1/events")).json()["events"]

    reads = await harness.rows(
        "SELECT actor, created_at FROM events WHERE type = 'source.token_read' ORDER BY id"
    )
    assert [actor for actor, _ in reads] == ["api-key:platform"] * 3 + ["api-key:scripts"]
    assert [event["type"] for event in feed] == ["source.connected"]  # its import; no reads
    assert await harness.rows("SELECT count(*) FROM outbox WHERE kind = 'webhook'") == [(0,)]

    lines = [line.split(" · ", 1)[1] for line in entries(await open_history(harness, "Acme"))]
    assert lines == [
        ":key: Token read by the API (key “scripts”)",
        ":key: Token read by the API (key “platform”) (3 times since Sat 28 Nov 08:00)",
        ":link: Connected by the command line",
    ]
    await append_event(harness, EventType.EXPIRED, source_id, {"reason": "gone"})
    assert await harness.rows("SELECT count(*) FROM outbox WHERE kind = 'webhook'") == [(1,)]


async def test_a_name_several_sources_share_asks_which(harness: Harness) -> None:
    await add_sources(
        harness,
        {"account_id": "a10", "name": "Acme 10"},
        {"account_id": "a2", "name": "Acme 2"},
        {"account_id": "b", "name": "Beta"},
    )
    payload = await harness.command("history acme")
    assert payload["response_type"] == "ephemeral"
    assert payload["text"] == "2 sources match “acme”. Whose history?"
    buttons = [
        block["accessory"]
        for block in payload["blocks"]
        if block.get("accessory", {}).get("action_id") == ids.SOURCE_HISTORY
    ]
    names = [block["text"]["text"] for block in payload["blocks"] if block.get("accessory")]
    assert "Acme 2*" in names[0] and "Acme 10*" in names[1]  # natural order

    response = await harness.click(
        ids.SOURCE_HISTORY,
        buttons[1]["value"],
        channel_id="C1",
        message_ts="1.0",
        response_url=harness.slack.response_url("which"),
    )
    assert response.status_code == 200
    (opened,) = await harness.slack.wait_for("views.open")
    assert "*LinkedIn · Acme 10*" in blocks_text(opened.args["view"])


async def test_history_lookups_that_find_nothing(harness: Harness) -> None:
    await add_sources(harness, {"account_id": "a", "name": "Acme Corp"})
    assert (
        "No source matches “Zeta &lt;b&gt;”" in (await harness.command("history Zeta <b>"))["text"]
    )
    assert "No source matches “9999”" in (await harness.command("history 9999"))["text"]
    assert "Whose history?" in (await harness.command("history"))["text"]
    # A network's name first narrows to it; "LinkedIn · Acme Corp" as shown is found too.
    view = await open_history(harness, "LinkedIn · Acme Corp")
    assert "*LinkedIn · Acme Corp*" in blocks_text(view)
    assert harness.slack.violations == []


async def test_the_app_home_has_a_history_button_per_source(harness: Harness) -> None:
    await expire_acme(harness)
    await connect(harness, OTHER)
    body, _ = slack_requests.app_home_opened(user_id="U3", team_id=TEAM)
    assert (await harness.send(body)).status_code == 200
    (publish,) = await harness.slack.wait_for("views.publish")
    home = publish.args["view"]
    history_buttons = [
        element
        for block in home["blocks"]
        for element in [block.get("accessory", {}), *block.get("elements", [])]
        if element.get("action_id") == ids.SOURCE_HISTORY
    ]
    sources = {s.name: s.id for s in await harness.services.sources.list(TEAM)}
    assert sorted(b["value"] for b in history_buttons) == sorted(
        str(sources[name]) for name in (ACME[1], OTHER[1])
    )

    response = await harness.click(
        ids.SOURCE_HISTORY, str(sources[ACME[1]]), view=slack_requests.home_view(team_id=TEAM)
    )
    assert response.status_code == 200
    (opened,) = await harness.slack.wait_for("views.open")
    assert ":lock: Expired" in blocks_text(opened.args["view"])


async def test_history_of_a_source_removed_meanwhile_says_so(harness: Harness) -> None:
    (source_id,) = await add_sources(harness, {"account_id": "a", "name": "Acme Corp"})
    await open_history(harness, "Acme Corp")
    await harness.services.sources.remove(source_id, "cli")
    response = await harness.click(
        ids.SOURCE_HISTORY, str(source_id), view=slack_requests.home_view(team_id=TEAM)
    )
    assert response.status_code == 200
    gone = (await harness.slack.wait_for("views.open", 2))[-1]
    assert "no longer exists" in blocks_text(gone.args["view"])


async def test_another_workspaces_source_has_no_history_here(harness: Harness) -> None:
    (theirs,) = await add_sources(
        harness, {"account_id": "x", "name": "Their Corp"}, team=OTHER_TEAM
    )
    await append_event(harness, EventType.EXPIRED, theirs, {"reason": "secret"}, team=OTHER_TEAM)
    assert "No source matches" in (await harness.command(f"history {theirs}"))["text"]
    assert "No source matches" in (await harness.command("history Their Corp"))["text"]
    response = await harness.click(
        ids.SOURCE_HISTORY, str(theirs), view=slack_requests.home_view(team_id=TEAM)
    )
    assert response.status_code == 200
    (gone,) = await harness.slack.wait_for("views.open")
    assert "no longer exists" in blocks_text(gone.args["view"])
    assert "secret" not in blocks_text(gone.args["view"])
