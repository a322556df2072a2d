"""The App Home tab: the control panel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot import ids
from bot.blocks import Block
from bot.blocks.base import (
    actions,
    button,
    channel_link,
    context,
    divider,
    escape,
    header,
    mention,
    plain,
    section,
)
from bot.blocks.sources import as_listing, source_list_blocks
from bot.blocks.texts import HOME_MORE_HINT
from bot.domain import DeliveryProblem, Listing, SourceInfo
from bot.networks import Network

MAX_HOME_BLOCKS = 100
MAX_PROBLEMS = 5
TRY_AGAIN = "Try again"
SETTINGS_BUTTON = "Settings"


@dataclass(frozen=True)
class HomeSettings:
    notify_channel: str | None
    digest_hour: int
    digest_timezone: str
    weekdays_only: bool = False
    warning_days: tuple[int, ...] = ()
    network_channels: Mapping[str, str] = field(default_factory=dict)  # network title -> id


def home_view(
    sources: Sequence[SourceInfo] | Listing,
    networks: Sequence[Network],
    settings: HomeSettings,
    now: datetime,
    problems: Sequence[DeliveryProblem] = (),
) -> dict[str, Any]:
    listing = as_listing(sources)
    blocks: list[Block] = [header("Sources")]
    blocks.extend(problem_blocks(problems))
    if listing.broken:
        noun = "source has" if listing.broken == 1 else "sources have"
        blocks.append(
            section(
                f":lock: *{listing.broken} {noun} stopped working.* Imports from them have "
                "stopped until someone reconnects them below."
            )
        )
    elif listing.total:
        blocks.append(section(f":white_check_mark: All {listing.total} sources are working."))
    else:
        blocks.append(section("No sources yet. Connect your team's first account below."))

    blocks.append(_connect_actions(networks))
    blocks.append(divider())
    tail = _settings_blocks(settings)
    budget = MAX_HOME_BLOCKS - len(blocks) - len(tail)
    blocks.extend(source_list_blocks(listing, now, budget, HOME_MORE_HINT))
    blocks.extend(tail)
    return {"type": "home", "blocks": blocks}


def problem_blocks(problems: Sequence[DeliveryProblem]) -> list[Block]:
    """What the bot could not deliver, said where a person looks, with a way to try again."""
    if not problems:
        return []
    lines = [f":warning: {problem_sentence(problem)}" for problem in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        lines.append(f"…and {len(problems) - MAX_PROBLEMS} more.")
    return [
        section("\n".join(lines)),
        actions(button(TRY_AGAIN, ids.RETRY_DELIVERIES, value="retry"), block_id="deliveries"),
    ]


def problem_sentence(problem: DeliveryProblem) -> str:
    where = problem.where or "Slack"
    if where.startswith(("C", "G")):
        where = channel_link(where)
    elif where.startswith(("U", "W")):
        where = mention(where)
    else:
        where = escape(where)
    return f"{problem.what} can't be posted to {where}: {escape(problem.reason)}."


def _connect_actions(networks: Sequence[Network]) -> Block:
    configured = [network for network in networks if network.configured]
    if not configured:
        return context(
            "No network is configured yet: the operator sets `&lt;NETWORK&gt;_CLIENT_ID` and "
            "`&lt;NETWORK&gt;_CLIENT_SECRET`, e.g. `LINKEDIN_CLIENT_ID`."
        )
    return actions(
        *(
            button(
                f"Connect {network.title}",
                f"{ids.CONNECT_NETWORK}:{network.name}",
                value=network.name,
            )
            for network in configured
        ),
        block_id="connect",
    )


def _settings_blocks(settings: HomeSettings) -> list[Block]:
    where = (
        f"Notices and the daily digest go to {channel_link(settings.notify_channel)}."
        if settings.notify_channel
        else ":warning: No channel is set for notices and the digest yet. Choose one:"
    )
    select: dict[str, Any] = {
        "type": "conversations_select",
        "action_id": ids.SET_NOTIFY_CHANNEL,
        "placeholder": plain("Choose a channel", 150),
        "filter": {"include": ["public", "private"], "exclude_bot_users": True},
    }
    if settings.notify_channel:
        select["initial_conversation"] = settings.notify_channel
    digest = f"Daily digest at {settings.digest_hour:02d}:00 {settings.digest_timezone}"
    details = [
        f"{title} notices go to {channel_link(channel)}."
        for title, channel in sorted(settings.network_channels.items())
    ]
    if settings.warning_days:
        details.append(f"Warnings {_days(settings.warning_days)} before a source expires.")
    details.append(digest + (" on weekdays." if settings.weekdays_only else "."))
    return [
        divider(),
        actions(button(SETTINGS_BUTTON, ids.OPEN_SETTINGS, value="settings"), block_id="open"),
        section(where, select, block_id="settings"),
        context(*details[-10:]),
    ]


def _days(days: Sequence[int]) -> str:
    """(7, 1) -> '7 days and 1 day'."""
    words = [f"{day} day{'s' if day != 1 else ''}" for day in days]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
